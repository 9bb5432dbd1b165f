"""Getting scheduled posts into Slack: retries that never double-post, permanent errors that are reported
(subscription failing, subscriber told, shown in the list), the chart never costing the digest, and the
`csbot digest` / `csbot scan-risk` commands. At the wire, against the Slack stand-in; SQLite and Postgres."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys

import pytest

from bot.jobs import scheduler
from bot.jobs.posting import failure_text
from storage import subscriptions as subs
from storage.db import make_engine, upgrade
from tests.jobs_helpers import (
    OWNER,
    ROOT,
    SetClock,
    client_for,
    digest_sub,
    make_ctx,
    risk_sub,
    utc,
)
from tests.kpi_helpers import account, load, revenue, survey

MONDAY = "2026-01-05T08:00:00"  # Monday 09:00 Europe/Berlin


def _tick(store, api, at: str = MONDAY, **kw):
    return scheduler.tick(make_ctx(store, api, SetClock(utc(at)), **kw))


def _only_delivery(store, channel="C0DIGEST1"):
    (status,) = subs.list_subscriptions(store, channel_id=channel)
    return status


# ----------------------------------------------------------------------------------------- retries


def test_429_then_200_posts_once(store, api, channels):
    sub = digest_sub(store)
    api.fail_next("chat.postMessage", status=429, retry_after=0)
    assert [o.action for o in _tick(store, api)] == ["posted"]
    assert [c.status for c in api.calls("chat.postMessage")] == [429, 200]
    assert channels.keys("C0DIGEST1") == [f"digest:{sub.id}:2026-W01"]
    assert _only_delivery(store).last_posted.state == "posted"


def test_500_then_200_looks_in_the_channel_before_posting_again(store, api, channels):
    digest_sub(store)
    api.fail_next("chat.postMessage", status=500)
    assert [o.action for o in _tick(store, api)] == ["posted"]
    assert [c.status for c in api.calls("chat.postMessage")] == [500, 200]
    assert len(api.calls("conversations.history")) == 1
    assert len(channels.in_channel("C0DIGEST1")) == 1


def test_an_answer_that_never_comes_is_not_posted_twice(store, api, channels):
    """Slack stored the post but the answer timed out: the history check finds it; no second post."""
    sub = digest_sub(store)
    api.delay_next("chat.postMessage", 4)
    outcomes = scheduler.tick(make_ctx(store, api, SetClock(utc(MONDAY)), client=client_for(api, timeout=1)))
    assert [o.action for o in outcomes] == ["recovered"]
    assert len(api.calls("chat.postMessage")) == 1
    (message,) = channels.in_channel("C0DIGEST1")
    assert subs.get_delivery(store, f"digest:{sub.id}:2026-W01").message_ts == message["ts"]


def test_a_transient_error_is_retried_with_back_off_and_posted_once(store, api, channels):
    sub = digest_sub(store)
    key = f"digest:{sub.id}:2026-W01"
    api.fail_next("chat.postMessage", status=503, times=3)  # the first try and its two look-and-retry rounds
    (outcome,) = _tick(store, api)
    assert outcome.action == "retrying"
    row = subs.get_delivery(store, key)
    assert (row.state, row.attempts, row.retry_at) == ("failed", 1, utc(MONDAY) + dt.timedelta(seconds=30))
    assert _tick(store, api, "2026-01-05T08:00:20") == []  # not yet
    assert [o.action for o in _tick(store, api, "2026-01-05T08:00:31")] == ["posted"]
    assert channels.keys("C0DIGEST1") == [key]
    assert subs.get_subscription(store, sub.id).status == "ok"


def test_still_failing_when_the_grace_window_ends_gives_up_loudly(store, api, channels):
    sub = digest_sub(store)
    channels.broken["C0DIGEST1"] = "fatal_error"  # every post there, for hours (the DM works)
    clock = SetClock(utc(MONDAY))
    ctx = make_ctx(store, api, clock)
    actions = []
    while clock.now <= utc(MONDAY) + dt.timedelta(hours=7):
        actions += [o.action for o in scheduler.tick(ctx)]
        clock.advance(minutes=10)
    assert actions[-1] == "failed" and set(actions[:-1]) == {"retrying"}
    assert 5 <= len(actions) <= 20  # 30 s, 1, 2, 4, 8, 16, 30, 30 ... minutes
    row = subs.get_delivery(store, f"digest:{sub.id}:2026-W01")
    assert row.state == "failed" and row.retry_at is None and "fatal_error" in row.error
    sub = subs.get_subscription(store, sub.id)
    assert sub.status == "failing" and "fatal_error" in sub.failure
    (dm,) = channels.in_channel("D" + OWNER[1:])
    assert "<#C0DIGEST1>" in dm["text"] and "fatal_error" in dm["text"]
    assert channels.in_channel("C0DIGEST1") == []


# ---------------------------------------------------------------------------------- permanent errors


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived", "invalid_auth"])
def test_permanent_errors_mark_the_subscription_failing_and_tell_the_subscriber(store, api, channels, error):
    sub = digest_sub(store)
    api.fail_next("chat.postMessage", error=error)
    (outcome,) = _tick(store, api)
    assert outcome.action == "failed" and error in outcome.detail
    (opened,) = api.calls("conversations.open")
    assert opened.params["users"] == OWNER
    (dm,) = channels.in_channel("D" + OWNER[1:])
    assert dm["text"] == failure_text(sub, error)
    assert "<#C0DIGEST1>" in dm["text"] and "/digest subscribe" in dm["text"]
    status = _only_delivery(store)
    assert status.subscription.status == "failing" and error in status.subscription.failure
    assert status.subscription.failed_at == utc(MONDAY)
    assert status.last_delivery.state == "failed" and status.last_posted is None
    # final for this week: no retry, no second message to the subscriber
    assert _tick(store, api, "2026-01-05T09:00:00") == []
    assert len(api.calls("conversations.open")) == 1
    assert channels.in_channel("C0DIGEST1") == []


def test_channel_not_found_dm_says_how_to_fix_it(store, api, channels):
    sub = digest_sub(store)
    api.fail_next("chat.postMessage", error="channel_not_found")
    _tick(store, api)
    (dm,) = channels.in_channel("D" + OWNER[1:])
    assert "/invite @csbot" in dm["text"] and "no longer exists" in dm["text"]
    assert subs.get_subscription(store, sub.id).status == "failing"


def test_a_failing_subscription_recovers_when_a_later_post_works(store, api, channels):
    sub = digest_sub(store)
    api.fail_next("chat.postMessage", error="not_in_channel")
    _tick(store, api)
    assert subs.get_subscription(store, sub.id).status == "failing"
    assert [o.action for o in _tick(store, api, "2026-01-12T08:00:00")] == ["posted"]  # the bot was invited
    row = subs.get_subscription(store, sub.id)
    assert (row.status, row.failure, row.failed_at) == ("ok", None, None)


def test_resubscribing_clears_the_failure(store, api, channels):
    sub = digest_sub(store)
    api.fail_next("chat.postMessage", error="is_archived")
    _tick(store, api)
    again = digest_sub(store, created=utc("2026-01-06T10:00:00"), created_by="U0OTHER01")
    assert again.id == sub.id and again.status == "ok" and again.created_by == "U0OTHER01"


def test_when_the_dm_fails_too_it_is_logged_and_still_shown(store, api, channels, caplog):
    digest_sub(store)
    api.fail_next("chat.postMessage", error="channel_not_found")
    api.fail_next("conversations.open", error="user_not_found")
    with caplog.at_level(logging.ERROR, logger="csbot.jobs"):
        _tick(store, api)
    assert any("telling U0SUBSCR1 failed too (user_not_found)" in r.getMessage() for r in caplog.records)
    assert _only_delivery(store).subscription.status == "failing"


def test_a_risk_subscription_fails_the_same_way(store, api, channels):
    from tests.jobs_helpers import ScriptedRisk, risky

    sub = risk_sub(store)
    find = ScriptedRisk(lambda day: [risky("acme", 30.0, ["red_band"], as_of=day),
                                     risky("umbrella", 35.0, ["red_band"], as_of=day)])
    api.fail_next("chat.postMessage", error="channel_not_found")
    (outcome,) = _tick(store, api, "2026-01-05T09:00:00", find_at_risk=find)
    assert outcome.action == "failed"
    assert len(api.calls("chat.postMessage")) == 2  # the failed warning, then the DM: the second not tried
    assert subs.get_subscription(store, sub.id).status == "failing"
    assert "churn-risk warnings" in channels.in_channel("D" + OWNER[1:])[0]["text"]


# -------------------------------------------------------------------------------------------- chart


def _chart_data(store):
    load(store, accounts=[account("acme", customer="2025-01-01")],
         revenue=[revenue("acme", f"2025-{m:02d}", 100 + 10 * m) for m in range(1, 13)])


def test_the_chart_goes_up_before_the_digest(store, api, channels):
    _chart_data(store)
    digest_sub(store)
    assert [o.action for o in _tick(store, api)] == ["posted"]
    (complete,) = api.calls("files.completeUploadExternal")
    assert complete.params["channel_id"] == "C0DIGEST1"
    (upload_id,) = api.uploads
    assert api.uploads[upload_id][:8] == b"\x89PNG\r\n\x1a\n"
    post = api.calls("chat.postMessage")[0]
    assert complete.at <= post.at


def test_a_chart_that_cannot_be_uploaded_does_not_cost_the_digest(store, api, channels, caplog):
    _chart_data(store)
    sub = digest_sub(store)
    api.fail_next("files.getUploadURLExternal", error="not_allowed_token_type")
    with caplog.at_level(logging.WARNING, logger="csbot.jobs.digest"):
        assert [o.action for o in _tick(store, api)] == ["posted"]
    assert any("could not be uploaded" in r.getMessage() for r in caplog.records)
    assert api.calls("files.completeUploadExternal") == []
    assert channels.keys("C0DIGEST1") == [f"digest:{sub.id}:2026-W01"]


# ---------------------------------------------------------------------------------------------- CLI


def _csbot(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    import os

    full = {**os.environ, "CSBOT_CONFIG": "", "CSBOT_NOW": "", **env}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def sqlite_url(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.db"
    engine = make_engine(url)
    upgrade(engine)
    load(engine, accounts=[account("acme", customer="2025-01-01", owner_slack_id="U0OWNER01")],
         revenue=[revenue("acme", f"2025-{m:02d}", 100) for m in range(1, 13)],
         surveys=[survey("r1", "acme", "nps", 2, "2026-01-03T10:00:00")])
    yield url
    engine.dispose()


def test_digest_dry_run_prints_text_and_blocks_and_posts_nothing(sqlite_url, api):
    done = _csbot(["digest", "--channel", "C0CLI0001", "--dry-run"],
                  {"CSBOT_DATABASE_URL": sqlite_url, "CSBOT_AS_OF": "2026-01-05", "SLACK_BOT_TOKEN": "",
                   "CSBOT_SLACK_API_URL": api.base_url})
    assert done.returncode == 0, done.stderr
    first, rest = done.stdout.split("\n", 1)
    assert first.startswith("Weekly digest: week 1 of 2026")
    blocks = json.loads(rest)
    assert blocks[0]["type"] == "header"
    assert api.calls() == []


def test_digest_now_posts_under_a_manual_key(sqlite_url, api, channels):
    env = {"CSBOT_DATABASE_URL": sqlite_url, "CSBOT_AS_OF": "2026-01-05", "SLACK_BOT_TOKEN": "xoxb-test-token",
           "CSBOT_SLACK_API_URL": api.base_url}
    done = _csbot(["digest", "--channel", "C0CLI0001"], env)
    assert done.returncode == 0, done.stderr
    (key,) = channels.keys("C0CLI0001")
    assert key.startswith("digest:-:manual-")
    assert f"ts {channels.in_channel('C0CLI0001')[0]['ts']}" in done.stdout
    api.fail_next("chat.postMessage", error="channel_not_found")
    failed = _csbot(["digest", "--channel", "C0CLI0001"], env)
    assert failed.returncode == 1 and "channel_not_found" in failed.stderr


def test_digest_needs_the_bot_token_to_post(sqlite_url, api):
    done = _csbot(["digest", "--channel", "C0CLI0001"], {"CSBOT_DATABASE_URL": sqlite_url, "SLACK_BOT_TOKEN": "",
                                                         "CSBOT_SLACK_API_URL": api.base_url})
    assert done.returncode == 2 and "SLACK_BOT_TOKEN is not set" in done.stderr
    assert "Traceback" not in done.stderr


def test_scan_risk_now_and_dry_run(sqlite_url, api, channels):
    env = {"CSBOT_DATABASE_URL": sqlite_url, "CSBOT_AS_OF": "2026-01-05", "SLACK_BOT_TOKEN": "xoxb-test-token",
           "CSBOT_SLACK_API_URL": api.base_url}
    none = _csbot(["scan-risk", "--dry-run"], env)
    assert none.returncode == 0, none.stderr
    assert "No /atrisk subscription" in none.stdout and "Acme (acme)" in none.stdout
    engine = make_engine(sqlite_url)
    risk_sub(engine)
    engine.dispose()
    dry = _csbot(["scan-risk", "--dry-run"], env)
    assert "C0RISK001: 1 at risk on 2026-01-05; would warn about 1" in dry.stdout, dry.stderr
    assert api.calls("chat.postMessage") == []
    done = _csbot(["scan-risk"], env)
    assert done.returncode == 0, done.stderr
    assert "1 warning(s) posted" in done.stdout
    (warning,) = channels.in_channel("C0RISK001")
    assert "<@U0OWNER01>" in json.dumps(warning["blocks"]) and "detractor" in warning["text"]
    again = _csbot(["scan-risk"], env)
    assert "0 warning(s) posted" in again.stdout
    assert len(channels.in_channel("C0RISK001")) == 1
