"""storage.subscriptions on SQLite and Postgres: subscribe/unsubscribe, the unique delivery key under
concurrency, compare-and-set take-overs, failure bookkeeping, listing, and record_alerts' dry run."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from storage import subscriptions as subs
from tests.jobs_helpers import CREATED, TEAM, digest_sub, risk_sub, utc


def test_subscribe_creates_then_updates_the_channels_one_subscription(store):
    first = digest_sub(store, kpis=["nps", "mrr"])
    assert (first.kind, first.weekday, first.at_time, first.timezone, first.kpis, first.cadence) == (
        "digest", 0, "09:00", "Europe/Berlin", ("nps", "mrr"), "week")
    assert (first.created_at, first.schedule_since, first.active, first.status) == (CREATED, CREATED, True, "ok")
    later = utc("2026-01-02T08:00:00")
    same = digest_sub(store, kpis=["churn"], created=later)  # only the KPIs change: the schedule stands
    assert same.id == first.id and same.kpis == ("churn",) and same.schedule_since == CREATED
    moved = digest_sub(store, weekday=4, at="16:30", created=later)
    assert moved.id == first.id and (moved.weekday, moved.at_time, moved.schedule_since) == (4, "16:30", later)
    assert moved.kpis is None and moved.created_at == CREATED
    risk = risk_sub(store, "C0DIGEST1")  # another kind in the same channel is another subscription
    assert risk.id != first.id and risk.weekday is None
    assert [s.kind for s in subs.active_subscriptions(store)] == ["digest", "risk"]
    assert [s.id for s in subs.active_subscriptions(store, "risk")] == [risk.id]


@pytest.mark.parametrize("changes,message", [
    ({"at_time": "9:00"}, "HH:MM"), ({"at_time": "24:00"}, "HH:MM"), ({"timezone": "Mars/Olympus"}, "IANA"),
    ({"weekday": 7}, "weekday"), ({"kind": "weekly"}, "kind"), ({"cadence": "day"}, "cadence"),
])
def test_subscribe_rejects_a_bad_schedule(store, changes, message):
    values = {"team_id": TEAM, "channel_id": "C1", "kind": "digest", "at_time": "09:00", "timezone": "UTC",
              "now": CREATED, "weekday": 0, **changes}
    with pytest.raises(ValueError, match=message):
        subs.subscribe(store, **values)
    assert subs.active_subscriptions(store) == []


def test_unsubscribe_keeps_history_and_resubscribe_restarts(store):
    sub = digest_sub(store)
    assert subs.unsubscribe(store, team_id=TEAM, channel_id="C0DIGEST1", kind="digest")
    assert not subs.unsubscribe(store, team_id=TEAM, channel_id="C0DIGEST1", kind="digest")
    assert subs.active_subscriptions(store) == [] and subs.list_subscriptions(store) == []
    (inactive,) = subs.list_subscriptions(store, include_inactive=True)
    assert inactive.subscription.active is False
    assert subs.find_subscription(store, "C0DIGEST1", "digest").id == sub.id
    back = digest_sub(store, created=utc("2026-02-01T00:00:00"))
    assert back.id == sub.id and back.active and back.schedule_since == utc("2026-02-01T00:00:00")


def _claim(store, key, who, now=CREATED, sub_id=None):
    return subs.claim_delivery(store, key, channel_id="C1", kind="digest", period_key=key.split(":")[-1],
                               claimed_by=who, now=now, subscription_id=sub_id, scheduled_for=now)


def test_a_key_is_claimed_once(store):
    assert _claim(store, "digest:-:2026-W01", "a")
    assert not _claim(store, "digest:-:2026-W01", "b")
    row = subs.get_delivery(store, "digest:-:2026-W01")
    assert (row.state, row.claimed_by, row.claimed_at, row.attempts) == ("claimed", "a", CREATED, 0)
    assert not subs.record_skipped(store, "digest:-:2026-W01", channel_id="C1", kind="digest",
                                   period_key="2026-W01", reason="late", now=CREATED)


def test_concurrent_claims_have_exactly_one_winner(store):
    wins: list[str] = []
    barrier = threading.Barrier(8)

    def claim(who: str) -> None:
        barrier.wait()
        if _claim(store, "digest:-:2026-W02", who):
            wins.append(who)

    threads = [threading.Thread(target=claim, args=(f"p{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(wins) == 1
    assert subs.get_delivery(store, "digest:-:2026-W02").claimed_by == wins[0]


def test_take_over_is_compare_and_set(store):
    _claim(store, "k:1:x", "dead")
    later = CREATED + dt.timedelta(minutes=5)
    assert not subs.take_over_delivery(store, "k:1:x", from_state="claimed", from_claimed_by="other",
                                       claimed_by="me", now=later)
    assert subs.take_over_delivery(store, "k:1:x", from_state="claimed", from_claimed_by="dead", claimed_by="me",
                                   now=later, delayed=True)
    assert not subs.take_over_delivery(store, "k:1:x", from_state="claimed", from_claimed_by="dead",
                                       claimed_by="you", now=later)
    row = subs.get_delivery(store, "k:1:x")
    assert (row.claimed_by, row.claimed_at, row.delayed) == ("me", later, True)
    subs.mark_failed(store, "k:1:x", error="boom", now=later, retry_at=later + dt.timedelta(seconds=30))
    row = subs.get_delivery(store, "k:1:x")
    assert (row.state, row.attempts, row.final) == ("failed", 1, False)
    assert subs.take_over_delivery(store, "k:1:x", from_state="failed", claimed_by="me", now=later)
    subs.mark_failed(store, "k:1:x", error="boom again", now=later)
    row = subs.get_delivery(store, "k:1:x")
    assert (row.attempts, row.retry_at, row.final, row.error) == (2, None, True, "boom again")


def test_failing_is_reported_once_and_cleared_by_a_post(store):
    sub = digest_sub(store)
    assert subs.mark_subscription_failing(store, sub.id, error="channel_not_found", now=CREATED)
    assert not subs.mark_subscription_failing(store, sub.id, error="not_in_channel", now=CREATED)
    row = subs.get_subscription(store, sub.id)
    assert (row.status, row.failure, row.failed_at) == ("failing", "not_in_channel", CREATED)
    assert subs.mark_subscription_ok(store, sub.id) and not subs.mark_subscription_ok(store, sub.id)


def test_list_shows_the_last_run_and_the_last_post(store):
    sub = digest_sub(store)
    assert subs.list_subscriptions(store, TEAM, "C0DIGEST1")[0].last_delivery is None
    w1, w2 = utc("2026-01-05T08:00:00"), utc("2026-01-12T08:00:00")
    _claim(store, f"digest:{sub.id}:2026-W01", "a", w1, sub.id)
    subs.mark_posted(store, f"digest:{sub.id}:2026-W01", message_ts="1.2", now=w1)
    _claim(store, f"digest:{sub.id}:2026-W02", "a", w2, sub.id)
    subs.mark_failed(store, f"digest:{sub.id}:2026-W02", error="channel_not_found", now=w2)
    (status,) = subs.list_subscriptions(store, TEAM, "C0DIGEST1")
    assert status.last_delivery.period_key == "2026-W02" and status.last_delivery.state == "failed"
    assert status.last_posted.period_key == "2026-W01" and status.last_posted.message_ts == "1.2"
    assert subs.list_subscriptions(store, "T0OTHER", "C0DIGEST1") == []


def test_record_alerts_dry_run_keeps_nothing(store):
    sub = risk_sub(store)
    finding = subs.RuleFinding("acme", "red_band", "health is red (30)", 70.0)
    kwargs = {"subscription_id": sub.id, "channel_id": sub.channel_id, "today": dt.date(2026, 1, 5),
              "findings": [finding], "batch": "risk:1:2026-01-05", "claimed_by": "me", "now": CREATED}
    (plan,) = subs.record_alerts(store, **kwargs, dry_run=True)
    assert (plan.account_id, plan.reason, plan.repeat) == ("acme", "new", False)
    assert subs.account_alerts(store, sub.id, "acme", open_only=False) == []
    assert subs.get_delivery(store, plan.delivery_key) is None
    (real,) = subs.record_alerts(store, **kwargs)
    assert subs.get_delivery(store, real.delivery_key).state == "claimed"
    assert subs.record_alerts(store, **kwargs) == []  # the same scan again decides nothing new
