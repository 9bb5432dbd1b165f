"""Exactly once, also when Slack errs after accepting: a post of unknown outcome is never repeated before a
history check has answered; the chart is shared once per delivery; runs missed during an outage leave a row.
With the Slack stand-in's fault injection, on SQLite and Postgres."""

from __future__ import annotations

import datetime as dt

from bot.jobs import scheduler
from bot.jobs.posting import CHECK_RETRIES
from bot.listeners.subscriptions import _status_line
from storage import subscriptions as subs
from tests.jobs_helpers import OWNER, FakeChannels, SetClock, digest_sub, make_ctx, utc
from tests.kpi_helpers import account, load, revenue
from tests.slack_wire import FakeSlackApi

MONDAY = "2026-01-05T08:00:00"  # Monday 09:00 Europe/Berlin


def _actions(outcomes) -> list[str]:
    return [o.action for o in outcomes]


def test_500_after_posting_and_an_unreadable_history_leave_it_unconfirmed_never_posted_twice(store, api, channels):
    sub = digest_sub(store)
    key = f"digest:{sub.id}:2026-W01"
    api.fail_after_next("chat.postMessage", 500)  # posted, but the answer says 500
    api.fail_next("conversations.history", status=500, times=CHECK_RETRIES)
    clock = SetClock(utc(MONDAY))
    ctx = make_ctx(store, api, clock)
    assert _actions(scheduler.tick(ctx)) == ["unconfirmed"]
    assert len(api.calls("chat.postMessage")) == 1 and len(api.calls("conversations.history")) == CHECK_RETRIES
    row = subs.get_delivery(store, key)
    assert row.state == "unconfirmed" and row.retry_at == utc(MONDAY) + dt.timedelta(seconds=30)
    clock.advance(seconds=20)
    assert scheduler.tick(ctx) == []  # not before its check is due, and never a post meanwhile
    clock.advance(seconds=11)
    assert _actions(scheduler.tick(ctx)) == ["recovered"]  # history answers now: it is there
    (message,) = channels.in_channel("C0DIGEST1")
    assert len(api.calls("chat.postMessage")) == 1
    row = subs.get_delivery(store, key)
    assert (row.state, row.message_ts) == ("posted", message["ts"])


def test_posted_again_only_when_the_check_says_it_is_absent(store, api, channels):
    sub = digest_sub(store)
    api.fail_next("chat.postMessage", status=500)  # not posted, but the poster cannot know
    api.fail_next("conversations.history", status=502, times=CHECK_RETRIES)
    clock = SetClock(utc(MONDAY))
    ctx = make_ctx(store, api, clock)
    assert _actions(scheduler.tick(ctx)) == ["unconfirmed"]
    assert channels.in_channel("C0DIGEST1") == []
    clock.advance(minutes=1)
    assert _actions(scheduler.tick(ctx)) == ["posted"]
    assert channels.keys("C0DIGEST1") == [f"digest:{sub.id}:2026-W01"]


def test_still_unconfirmed_when_the_window_ends_becomes_unknown_and_the_subscriber_is_told_once(store, api,
                                                                                                 channels):
    sub = digest_sub(store)
    key = f"digest:{sub.id}:2026-W01"
    api.fail_after_next("chat.postMessage", 500)
    api.fail_next("conversations.history", status=500, times=10_000)  # history never readable
    clock = SetClock(utc(MONDAY))
    ctx = make_ctx(store, api, clock)
    actions = []
    while clock.now <= utc(MONDAY) + dt.timedelta(hours=8):
        actions += _actions(scheduler.tick(ctx))
        clock.advance(minutes=10)
    assert actions[-1] == "unknown" and set(actions[:-1]) == {"unconfirmed"}
    assert subs.get_delivery(store, key).state == "unknown"
    assert len(channels.in_channel("C0DIGEST1")) == 1  # the one Slack accepted; never a second
    (dm,) = channels.in_channel("D" + OWNER[1:])
    assert "cannot tell" in dm["text"] and "<#C0DIGEST1>" in dm["text"] and "2026-W01" in dm["text"]
    (status,) = subs.list_subscriptions(store, channel_id="C0DIGEST1")
    assert "unknown" in _status_line(status)


def _chart_data(store):
    load(store, accounts=[account("acme", customer="2025-01-01")],
         revenue=[revenue("acme", f"2025-{m:02d}", 100 + 10 * m) for m in range(1, 13)])


def test_a_5xx_after_the_chart_was_shared_does_not_share_it_again(store, api, channels):
    _chart_data(store)
    digest_sub(store)
    api.fail_after_next("files.completeUploadExternal", 500)
    assert _actions(scheduler.tick(make_ctx(store, api, SetClock(utc(MONDAY))))) == ["posted"]
    assert len(api.calls("files.completeUploadExternal")) == 1
    assert len(api.calls("chat.postMessage")) == 1


def test_a_retried_delivery_does_not_upload_its_chart_again(store, api, channels):
    _chart_data(store)
    sub = digest_sub(store)
    api.fail_next("chat.postMessage", status=503, times=3)  # the first try and its two look-and-retry rounds
    clock = SetClock(utc(MONDAY))
    ctx = make_ctx(store, api, clock)
    assert _actions(scheduler.tick(ctx)) == ["retrying"]
    clock.advance(seconds=31)
    assert _actions(scheduler.tick(ctx)) == ["posted"]
    assert len(api.calls("files.getUploadURLExternal")) == 1
    assert len(api.calls("files.completeUploadExternal")) == 1
    assert subs.get_delivery(store, f"digest:{sub.id}:2026-W01").chart_file_id is not None


def test_runs_missed_during_an_outage_are_recorded_and_listed(store, api, channels):
    sub = digest_sub(store)
    clock = SetClock(utc(MONDAY))
    ctx = make_ctx(store, api, clock)
    assert _actions(scheduler.tick(ctx)) == ["posted"]
    clock.set("2026-01-26T08:00:30")  # down for three weeks; back just after the fourth Monday's run
    outcomes = scheduler.tick(ctx)
    assert [(o.key, o.action) for o in outcomes] == [
        (f"digest:{sub.id}:2026-W02", "skipped"), (f"digest:{sub.id}:2026-W03", "skipped"),
        (f"digest:{sub.id}:2026-W04", "posted")]
    reason = "skipped: csbot was down from 2026-01-05 08:00 to 2026-01-26 08:00 UTC"
    assert all(o.detail.startswith(reason) for o in outcomes[:2])
    assert channels.keys("C0DIGEST1") == [f"digest:{sub.id}:2026-W01", f"digest:{sub.id}:2026-W04"]
    (status,) = subs.list_subscriptions(store, channel_id="C0DIGEST1")
    listed = _status_line(status)
    assert "Last run 2026-W04: posted" in listed
    assert f"Run 2026-W03: {reason}" in listed and f"Run 2026-W02: {reason}" in listed
    clock.advance(seconds=30)
    assert scheduler.tick(ctx) == []  # recorded once


def test_a_warning_slack_accepted_with_a_500_is_not_posted_again(store, api, channels):
    from tests.test_risk_alerts import Scans, acme, day, umbrella

    scans = Scans(store, api, channels)
    scans.at_risk[day(0)] = [acme()(day(0)), umbrella()(day(0))]
    api.fail_after_next("chat.postMessage", 500)  # acme's warning lands, its answer is a 500
    api.fail_next("conversations.history", status=500, times=CHECK_RETRIES)
    (outcome,) = scheduler.tick(scans.ctx)
    assert outcome.action == "unconfirmed"
    assert sorted(scans.accounts(scans.posted())) == ["Acme Corp", "Umbrella Corp"]
    alert_keys = [d.key for d in subs.batch_deliveries(store, outcome.key)]
    assert sorted(subs.get_delivery(store, k).state for k in alert_keys) == ["posted", "unconfirmed"]
    scans.clock.advance(seconds=31)
    (outcome,) = scheduler.tick(scans.ctx)  # history readable again: found, recorded, not reposted
    assert outcome.action in {"posted", "recovered"}
    assert sorted(scans.accounts(scans.posted())) == ["Acme Corp", "Umbrella Corp"]
    assert {subs.get_delivery(store, k).state for k in alert_keys} == {"posted"}
    scans.clock.advance(minutes=10)
    assert scheduler.tick(scans.ctx) == []


def test_digest_list_in_slack_shows_the_runs_missed_while_csbot_was_down(store):
    from tests.slack_stack import Stack, _answer_text, _stack

    sub = subs.subscribe(store, team_id="T0TEST001", channel_id="C0TEST001", kind="digest", weekday=0,
                         at_time="09:00", timezone="Europe/Berlin", now=utc("2026-01-01T12:00:00"),
                         created_by=OWNER)
    with FakeSlackApi() as jobs_api:
        FakeChannels(jobs_api)
        clock = SetClock(utc(MONDAY))
        ctx = make_ctx(store, jobs_api, clock)
        scheduler.tick(ctx)
        clock.set("2026-01-19T08:00:30")
        scheduler.tick(ctx)
    with FakeSlackApi() as api:
        server, thread, base = _stack(store, api)
        try:
            stack = Stack(f"{base}/slack/events", api, store)
            _, _, name, _ = stack.command("/digest", "list")
            text = _answer_text(stack.answer(name))
        finally:
            server.close()
            thread.join(timeout=5)
    assert f"digest:{sub.id}" not in text  # periods, not internal keys
    assert "Last run 2026-W03: posted" in text
    assert "Run 2026-W02: skipped: csbot was down from 2026-01-05 08:00 to 2026-01-19 08:00 UTC" in text
