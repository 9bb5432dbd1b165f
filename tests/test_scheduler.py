"""When digests and risk scans run: cron instants in the subscriber's time zone (DST included), the tick on a
clock the test sets (on SQLite and Postgres), missed runs within and beyond the grace window, and the
scheduler as real processes on one Postgres (two of them; one killed with SIGKILL mid-run)."""

from __future__ import annotations

import datetime as dt
import signal
import threading

import pytest
from sqlalchemy import text

from bot.jobs import scheduler
from bot.jobs.leader import FileLeader, PostgresLeader, make_leader
from bot.render.digest_blocks import LATE_NOTE
from kpi_core.digest import last_complete_period
from storage import subscriptions as subs
from storage.db import make_engine, upgrade
from tests.jobs_helpers import (
    CREATED,
    Proc,
    SetClock,
    digest_sub,
    make_ctx,
    risk_sub,
    utc,
    wait_until,
)
from tests.kpi_helpers import account, load, revenue
from tests.slack_wire import FakeSlackApi

# --------------------------------------------------------------------------------------- cron instants


def _sub(weekday: int | None = 0, at: str = "09:00", tz: str = "Europe/Berlin", kind: str = "digest",
         cadence: str = "week") -> subs.SubscriptionRow:
    return subs.SubscriptionRow(1, "T", "C", kind, weekday, at, tz, None, cadence, "U", CREATED, CREATED, True,
                                "ok", None, None)


def _times(sub: subs.SubscriptionRow, start: str, end: str) -> list[str]:
    return [t.isoformat() for t in scheduler.fire_times(sub, utc(start), utc(end))]


def test_monday_0900_berlin_is_0800_utc_in_winter_and_0700_utc_in_summer():
    assert _times(_sub(), "2026-01-01T00:00:00", "2026-01-31T23:59:59") == [
        "2026-01-05T08:00:00+00:00", "2026-01-12T08:00:00+00:00", "2026-01-19T08:00:00+00:00",
        "2026-01-26T08:00:00+00:00"]
    assert _times(_sub(), "2026-07-01T00:00:00", "2026-07-31T23:59:59") == [
        "2026-07-06T07:00:00+00:00", "2026-07-13T07:00:00+00:00", "2026-07-20T07:00:00+00:00",
        "2026-07-27T07:00:00+00:00"]


def test_across_the_dst_changes():
    # Clocks go forward on Sunday 2026-03-29 and back on Sunday 2026-10-25 in Berlin.
    assert _times(_sub(), "2026-03-20T00:00:00", "2026-04-01T00:00:00") == [
        "2026-03-23T08:00:00+00:00", "2026-03-30T07:00:00+00:00"]
    assert _times(_sub(), "2026-10-18T00:00:00", "2026-10-28T00:00:00") == [
        "2026-10-19T07:00:00+00:00", "2026-10-26T08:00:00+00:00"]
    # Sunday 09:00 on the change days themselves
    assert _times(_sub(weekday=6), "2026-03-28T00:00:00", "2026-03-30T00:00:00") == ["2026-03-29T07:00:00+00:00"]
    assert _times(_sub(weekday=6), "2026-10-24T00:00:00", "2026-10-26T00:00:00") == ["2026-10-25T08:00:00+00:00"]


def test_new_york_and_a_daily_scan():
    assert _times(_sub(tz="America/New_York", at="08:30"), "2026-03-01T00:00:00", "2026-03-17T00:00:00") == [
        "2026-03-02T13:30:00+00:00", "2026-03-09T12:30:00+00:00", "2026-03-16T12:30:00+00:00"]
    daily = _sub(weekday=None, kind="risk", tz="Europe/Berlin")
    assert _times(daily, "2026-03-28T00:00:00", "2026-03-31T00:00:00") == [
        "2026-03-28T08:00:00+00:00", "2026-03-29T07:00:00+00:00", "2026-03-30T07:00:00+00:00"]


def test_a_time_repeated_by_the_dst_change_gives_one_run_that_day():
    # 02:30 happens twice in Berlin on 2026-10-25; whatever instants the trigger gives, the key is per day.
    daily = _sub(weekday=None, kind="risk", at="02:30")
    times = scheduler.fire_times(daily, utc("2026-10-24T12:00:00"), utc("2026-10-26T12:00:00"))
    days = {t.astimezone(dt.timezone(dt.timedelta(hours=1))).date() for t in times}
    assert len(times) >= 2 and days == {dt.date(2026, 10, 25), dt.date(2026, 10, 26)}
    keys = {scheduler.due_run(daily, t).key for t in times}
    assert keys == {"risk:1:2026-10-25", "risk:1:2026-10-26"}


def test_monthly_digest_on_the_first_monday():
    monthly = _sub(cadence="month")
    assert _times(monthly, "2026-01-01T00:00:00", "2026-03-31T00:00:00") == [
        "2026-01-05T08:00:00+00:00", "2026-02-02T08:00:00+00:00", "2026-03-02T08:00:00+00:00"]
    assert scheduler.due_run(monthly, utc("2026-02-02T08:00:00")).key == "digest:1:2026-01"


def test_due_run_keys_and_schedule_start():
    weekly = _sub()
    due = scheduler.due_run(weekly, utc("2026-01-05T08:00:00"))
    assert due.key == "digest:1:2026-W01" and due.fire_time == utc("2026-01-05T08:00:00")
    assert due.local_day == dt.date(2026, 1, 5)
    assert last_complete_period(due.local_day, "week").start == dt.date(2025, 12, 29)
    assert scheduler.due_run(weekly, utc("2026-01-05T07:59:59")) is None  # Dec 29 is before the subscription
    assert scheduler.due_run(weekly, utc("2026-01-11T23:00:00")).key == "digest:1:2026-W01"


# ------------------------------------------------------------------------------------------------ tick


def _delivery(store, key):
    return subs.get_delivery(store, key)


def test_tick_posts_at_the_instant_and_only_once(store, api, channels):
    sub = digest_sub(store)
    clock = SetClock(utc("2026-01-05T07:59:59"))
    ctx = make_ctx(store, api, clock)
    assert scheduler.tick(ctx) == []
    assert channels.in_channel("C0DIGEST1") == []
    clock.set("2026-01-05T08:00:00")
    (outcome,) = scheduler.tick(ctx)
    assert (outcome.key, outcome.action, outcome.delayed) == (f"digest:{sub.id}:2026-W01", "posted", False)
    clock.set("2026-01-05T08:00:30")
    assert scheduler.tick(ctx) == []
    (message,) = channels.in_channel("C0DIGEST1")
    assert message["metadata"] == {"event_type": "csbot_delivery",
                                   "event_payload": {"key": f"digest:{sub.id}:2026-W01"}}
    assert "Weekly digest" in message["text"] and "2025-12-29" in message["text"]
    row = _delivery(store, outcome.key)
    assert (row.state, row.message_ts, row.delayed, row.claimed_by) == ("posted", message["ts"], False, "test:1:live")
    assert row.scheduled_for == utc("2026-01-05T08:00:00")
    assert len(api.calls("chat.postMessage")) == 1
    # the next Monday is another period
    clock.set("2026-01-12T08:00:01")
    assert [o.key for o in scheduler.tick(ctx)] == [f"digest:{sub.id}:2026-W02"]


def test_summer_instant_is_0700_utc(store, api, channels):
    digest_sub(store, created=utc("2026-07-01T00:00:00"))
    clock = SetClock(utc("2026-07-06T06:59:59"))
    ctx = make_ctx(store, api, clock)
    assert scheduler.tick(ctx) == []
    clock.set("2026-07-06T07:00:00")
    assert [o.action for o in scheduler.tick(ctx)] == ["posted"]


def test_missed_run_within_grace_is_posted_once_marked_delayed(store, api, channels):
    sub = digest_sub(store)
    clock = SetClock(utc("2026-01-05T11:00:00"))  # three hours late: the bot was down at 08:00 UTC
    ctx = make_ctx(store, api, clock)
    (outcome,) = scheduler.tick(ctx)
    assert (outcome.action, outcome.delayed) == ("posted", True)
    clock.advance(seconds=30)
    assert scheduler.tick(ctx) == []
    (message,) = channels.in_channel("C0DIGEST1")
    assert LATE_NOTE in str(message["blocks"])
    assert _delivery(store, f"digest:{sub.id}:2026-W01").delayed is True


def test_a_run_two_minutes_late_is_not_marked_delayed(store, api, channels):
    digest_sub(store)
    ctx = make_ctx(store, api, SetClock(utc("2026-01-05T08:01:59")))
    (outcome,) = scheduler.tick(ctx)
    assert outcome.delayed is False
    assert LATE_NOTE not in str(channels.in_channel("C0DIGEST1")[0]["blocks"])


def test_missed_run_beyond_grace_is_skipped_and_shown(store, api, channels):
    digest_sub(store)
    clock = SetClock(utc("2026-01-05T14:00:01"))  # 6 h and 1 s late
    ctx = make_ctx(store, api, clock)
    (outcome,) = scheduler.tick(ctx)
    assert outcome.action == "skipped"
    assert scheduler.tick(ctx) == []
    assert channels.in_channel("C0DIGEST1") == [] and api.calls("chat.postMessage") == []
    (status,) = subs.list_subscriptions(store, channel_id="C0DIGEST1")
    assert status.last_delivery.state == "skipped" and "grace window" in status.last_delivery.error
    assert status.last_posted is None
    # a shorter grace window
    other = digest_sub(store, "C0DIGEST2")
    short = make_ctx(store, api, SetClock(utc("2026-01-05T09:00:01")), grace=dt.timedelta(hours=1))
    assert [(o.key, o.action) for o in scheduler.tick(short)] == [(f"digest:{other.id}:2026-W01", "skipped")]


def test_subscribing_after_the_time_does_not_post_that_run(store, api, channels):
    digest_sub(store, created=utc("2026-01-05T08:30:00"))
    ctx = make_ctx(store, api, SetClock(utc("2026-01-05T08:31:00")))
    assert scheduler.tick(ctx) == []
    ctx = make_ctx(store, api, SetClock(utc("2026-01-12T08:00:00")))
    assert [o.action for o in scheduler.tick(ctx)] == ["posted"]


def test_changing_the_schedule_keeps_one_digest_per_week(store, api, channels):
    sub = digest_sub(store)
    ctx = make_ctx(store, api, SetClock(utc("2026-01-05T08:00:00")))
    assert [o.action for o in scheduler.tick(ctx)] == ["posted"]
    digest_sub(store, weekday=2, created=utc("2026-01-06T10:00:00"))  # now Wednesdays: same week's period
    ctx = make_ctx(store, api, SetClock(utc("2026-01-07T08:00:00")))
    assert scheduler.tick(ctx) == []
    assert channels.keys("C0DIGEST1") == [f"digest:{sub.id}:2026-W01"]


def test_unsubscribed_channels_get_nothing(store, api, channels):
    digest_sub(store)
    assert subs.unsubscribe(store, team_id="T0TEST001", channel_id="C0DIGEST1", kind="digest")
    assert scheduler.tick(make_ctx(store, api, SetClock(utc("2026-01-05T08:00:00")))) == []


def test_two_contexts_racing_post_once(store, api, channels):
    """Two processes' ticks at the same instant (even without the leader lock): the unique key decides."""
    digest_sub(store)
    clock = SetClock(utc("2026-01-05T08:00:00"))
    first, second = make_ctx(store, api, clock, identity="a:1:x"), make_ctx(store, api, clock, identity="b:2:y")
    outcomes = scheduler.tick(first) + scheduler.tick(second)
    assert [o.action for o in outcomes] == ["posted"]
    assert len(channels.in_channel("C0DIGEST1")) == 1


def test_a_claim_left_by_a_dead_process_is_recovered_without_reposting(store, api, channels):
    """The dead process got its post to Slack but died before recording it: found by its metadata key."""
    sub = digest_sub(store)
    key = f"digest:{sub.id}:2026-W01"
    at = utc("2026-01-05T08:00:00")
    assert subs.claim_delivery(store, key, channel_id="C0DIGEST1", kind="digest", period_key="2026-W01",
                               claimed_by="dead:99:x", now=at, subscription_id=sub.id, scheduled_for=at)
    posted = make_ctx(store, api, SetClock(at)).client.chat_postMessage(
        channel="C0DIGEST1", text="the digest", metadata={"event_type": "csbot_delivery",
                                                            "event_payload": {"key": key}})
    (outcome,) = scheduler.tick(make_ctx(store, api, SetClock(utc("2026-01-05T08:03:00"))))
    assert outcome.action == "recovered"
    assert len(channels.in_channel("C0DIGEST1")) == 1
    row = _delivery(store, key)
    assert (row.state, row.message_ts) == ("posted", posted["ts"])


def test_a_claim_left_before_posting_is_posted_by_the_next_leader(store, api, channels):
    sub = digest_sub(store)
    key = f"digest:{sub.id}:2026-W01"
    at = utc("2026-01-05T08:00:00")
    subs.claim_delivery(store, key, channel_id="C0DIGEST1", kind="digest", period_key="2026-W01",
                        claimed_by="dead:99:x", now=at, subscription_id=sub.id, scheduled_for=at)
    (outcome,) = scheduler.tick(make_ctx(store, api, SetClock(utc("2026-01-05T08:05:00"))))
    assert outcome.action == "posted" and outcome.delayed is True
    assert channels.keys("C0DIGEST1") == [key]
    assert len(api.calls("conversations.history")) == 1


def test_a_process_that_lost_the_lock_does_not_post(store, api, channels):
    sub = digest_sub(store)
    key = f"digest:{sub.id}:2026-W01"
    deposed = make_ctx(store, api, SetClock(utc("2026-01-05T08:00:00")), still_leader=lambda: False)
    assert scheduler.tick(deposed) == []
    assert channels.in_channel("C0DIGEST1") == [] and _delivery(store, key).state == "claimed"
    leader = make_ctx(store, api, SetClock(utc("2026-01-05T08:00:20")), identity="new:2:z")
    assert [o.action for o in scheduler.tick(leader)] == ["posted"]
    assert channels.keys("C0DIGEST1") == [key]


def test_the_service_keeps_one_cron_job_per_subscription(store, api, channels):
    from bot.jobs.leader import LocalLeader

    sub = digest_sub(store)
    ctx = make_ctx(store, api, SetClock(utc("2025-06-01T00:00:00")))  # before the subscription: nothing is due
    service = scheduler.SchedulerService(ctx, LocalLeader(), tick_seconds=3600, leader_seconds=3600,
                                         sync_seconds=3600)
    service.start()
    try:
        job = wait_until(lambda: service._scheduler.get_job(f"sub-{sub.id}"), 10, "the subscription's cron job")
        expected = scheduler.cron_trigger(sub).get_next_fire_time(None, dt.datetime.now(dt.UTC))
        assert job.next_run_time == expected and job.next_run_time.tzinfo.key == "Europe/Berlin"
        assert (job.next_run_time.weekday(), job.next_run_time.hour) == (0, 9)
        digest_sub(store, weekday=3, at="17:45", created=utc("2025-06-01T00:00:00"))
        service._sync()
        job = service._scheduler.get_job(f"sub-{sub.id}")
        assert (job.next_run_time.weekday(), job.next_run_time.hour, job.next_run_time.minute) == (3, 17, 45)
        subs.unsubscribe(store, team_id="T0TEST001", channel_id="C0DIGEST1", kind="digest")
        service._sync()
        assert service._scheduler.get_job(f"sub-{sub.id}") is None
        assert api.calls("chat.postMessage") == []
    finally:
        service.stop()


def test_stopping_while_the_leader_job_syncs_does_not_hang(store, api, channels):
    """APScheduler's shutdown waits for running jobs while holding its job-store lock: a sync that adds cron
    jobs meanwhile must not wait for that lock (it would hang for ever)."""
    from bot.jobs.leader import LocalLeader

    for i in range(30):
        digest_sub(store, f"C0MANY{i:03d}")
    for _ in range(5):
        ctx = make_ctx(store, api, SetClock(utc("2025-06-01T00:00:00")))
        service = scheduler.SchedulerService(ctx, LocalLeader(), tick_seconds=3600, leader_seconds=3600,
                                             sync_seconds=3600)
        service.start()
        stopper = threading.Thread(target=service.stop, daemon=True)
        stopper.start()  # at once: usually while the leader job is adding the cron jobs
        stopper.join(20)
        assert not stopper.is_alive(), "SchedulerService.stop() hung"


# ------------------------------------------------------------------------------------------------ leader


def test_file_leader_is_exclusive_and_released(tmp_path):
    path = str(tmp_path / "csbot.db.scheduler.lock")
    a, b = FileLeader(path), FileLeader(path)
    assert a.try_acquire() and a.try_acquire() and a.is_leader()
    assert not b.try_acquire() and not b.is_leader()
    a.release()
    assert b.try_acquire() and not a.try_acquire()
    b.release()
    assert isinstance(make_leader(make_engine(f"sqlite:///{tmp_path}/x.db")), FileLeader)


def test_postgres_leader_is_exclusive_per_schema_and_fails_over(pg_url, postgres_schema):
    from tests.conftest import _drop_schema, _postgres_schema_engine

    engine_a, engine_b = make_engine(pg_url), make_engine(pg_url)
    elsewhere = _postgres_schema_engine(f"{postgres_schema}_other")  # another csbot store in the same database
    try:
        a, b, c = PostgresLeader(engine_a), PostgresLeader(engine_b), PostgresLeader(elsewhere)
        assert isinstance(make_leader(engine_a), PostgresLeader)
        assert a.try_acquire() and a.is_leader()
        assert not b.try_acquire()
        assert c.try_acquire()  # not blocked by the other schema's scheduler
        c.release()
        with engine_b.connect() as conn:  # the holder's session dies (as with SIGKILL): the lock goes with it
            pid = a._conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        assert not a.is_leader()
        wait_until(b.try_acquire, 10, "the standby to take the lock")
        assert not a.try_acquire()
        b.release()
    finally:
        engine_a.dispose()
        engine_b.dispose()
        elsewhere.dispose()
        _drop_schema(f"{postgres_schema}_other")


# ------------------------------------------------------------------------------------- real processes


NOW = "2026-01-05T08:00:05Z"  # five seconds after Monday 09:00 Europe/Berlin


@pytest.fixture
def procs():
    started: list[Proc] = []
    yield started
    for proc in started:
        proc.kill(signal.SIGKILL)
        proc.stop(5)


def _env(pg_url: str, api: FakeSlackApi, **extra: str) -> dict[str, str]:
    return {"CSBOT_DATABASE_URL": pg_url, "CSBOT_SLACK_API_URL": api.base_url, "SLACK_BOT_TOKEN": "xoxb-test-token",
            "CSBOT_NOW": NOW, "CSBOT_SCHEDULER_TICK_SECONDS": "0.5", "CSBOT_LOG_LEVEL": "INFO",
            "CSBOT_AS_OF": "", "CSBOT_CONFIG": "", **extra}


def _store(pg_url: str, chart_data: bool = False):
    engine = make_engine(pg_url)
    upgrade(engine)
    if chart_data:  # one customer with MRR: the digest has a chart to upload before its message
        load(engine, accounts=[account("acme", customer="2025-01-01")],
             revenue=[revenue("acme", f"2025-{m:02d}", 100 + m) for m in range(1, 13)])
    return engine


def _states(engine) -> dict[str, str]:
    return {s.subscription.channel_id: (s.last_delivery.state if s.last_delivery else None)
            for s in subs.list_subscriptions(engine)}


def test_two_scheduler_processes_post_each_digest_once(pg_url, api, channels, procs, tmp_path):
    engine = _store(pg_url)
    try:
        wanted = [digest_sub(engine, f"C0PROC00{i}") for i in range(1, 4)]
        env = _env(pg_url, api)
        procs.extend(Proc(["scheduler"], env, tmp_path / f"sched-{n}.log") for n in "ab")
        wait_until(lambda: set(_states(engine).values()) == {"posted"}, 60, "all three digests posted")
        leaders = wait_until(lambda: [p for p in procs if "now the scheduler leader" in p.output()], 30, "a leader")
        assert len(leaders) == 1
        (standby,) = [p for p in procs if p is not leaders[0]]
        wait_until(lambda: "standing by" in standby.output(), 30, "the other process to stand by")
        # the leader stops: the standby takes over, ticks, and finds nothing left to post
        assert leaders[0].stop() == 0
        wait_until(lambda: "first tick as the leader: 0 run(s)" in standby.output(), 30, "the standby's first tick")
        for sub in wanted:
            assert channels.keys(sub.channel_id) == [f"digest:{sub.id}:2026-W01"]
        assert len(api.calls("chat.postMessage")) == 3
    finally:
        engine.dispose()


def test_sigkill_after_slack_received_the_post_then_restart_posts_nothing_twice(pg_url, api, channels, procs,
                                                                                tmp_path):
    engine = _store(pg_url)
    try:
        sub = digest_sub(engine)
        key = f"digest:{sub.id}:2026-W01"
        api.delay_next("chat.postMessage", 60)  # Slack stores the post but its answer never arrives
        first = Proc(["scheduler"], _env(pg_url, api), tmp_path / "first.log")
        procs.append(first)
        api.wait_for("chat.postMessage", timeout=60)
        first.kill(signal.SIGKILL)
        first.popen.wait(10)
        assert subs.get_delivery(engine, key).state == "claimed"
        assert len(channels.in_channel(sub.channel_id)) == 1
        second = Proc(["scheduler"], _env(pg_url, api), tmp_path / "second.log")
        procs.append(second)
        wait_until(lambda: subs.get_delivery(engine, key).state == "posted", 60, "the restarted process")
        assert channels.keys(sub.channel_id) == [key]
        assert len(api.calls("chat.postMessage")) == 1
        assert subs.get_delivery(engine, key).message_ts == channels.in_channel(sub.channel_id)[0]["ts"]
        assert "recovering it" in second.output()
    finally:
        engine.dispose()


def test_sigkill_before_posting_then_restart_posts_it_once(pg_url, api, channels, procs, tmp_path):
    engine = _store(pg_url, chart_data=True)
    try:
        sub = digest_sub(engine)
        key = f"digest:{sub.id}:2026-W01"
        api.delay_next("files.getUploadURLExternal", 60)  # the chart goes up before the message
        first = Proc(["scheduler"], _env(pg_url, api), tmp_path / "first.log")
        procs.append(first)
        api.wait_for("files.getUploadURLExternal", timeout=60)
        first.kill(signal.SIGKILL)
        first.popen.wait(10)
        assert subs.get_delivery(engine, key).state == "claimed"
        assert channels.in_channel(sub.channel_id) == []
        second = Proc(["scheduler"], _env(pg_url, api), tmp_path / "second.log")
        procs.append(second)
        wait_until(lambda: subs.get_delivery(engine, key).state == "posted", 60, "the restarted process")
        assert channels.keys(sub.channel_id) == [key]
        assert len(api.calls("chat.postMessage")) == 1
        assert len(api.calls("files.completeUploadExternal")) == 1  # the chart, by the second process
    finally:
        engine.dispose()


def test_risk_scan_subscription_runs_daily(store, api, channels):
    from tests.jobs_helpers import ScriptedRisk, risky

    sub = risk_sub(store)
    find = ScriptedRisk(lambda day: [risky("acme", 30.0, ["red_band"], as_of=day)])
    clock = SetClock(utc("2026-01-05T09:00:00"))
    ctx = make_ctx(store, api, clock, find_at_risk=find)
    (outcome,) = scheduler.tick(ctx)
    assert outcome.key == f"risk:{sub.id}:2026-01-05" and outcome.action == "posted"
    assert find.asked == [dt.date(2026, 1, 5)]
    clock.set("2026-01-06T09:00:00")
    assert [o.key for o in scheduler.tick(ctx)] == [f"risk:{sub.id}:2026-01-06"]
    assert len(channels.in_channel("C0RISK001")) == 1  # the same account the next day: no second warning


def _serve_env(db_url: str, api: FakeSlackApi, **extra: str) -> dict[str, str]:
    return {"CSBOT_DATABASE_URL": db_url, "CSBOT_SLACK_API_URL": api.base_url, "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef", "SLACK_APP_TOKEN": "", "CSBOT_NOW": NOW,
            "CSBOT_SCHEDULER_TICK_SECONDS": "0.5", "CSBOT_LOG_LEVEL": "INFO", "CSBOT_AS_OF": "", "CSBOT_CONFIG": "",
            **extra}


@pytest.mark.parametrize("switch", ["on", "off"])
def test_serve_runs_the_scheduler_unless_switched_off(tmp_path, api, channels, procs, switch):
    db_url = f"sqlite:///{tmp_path}/serve.db"
    engine = make_engine(db_url)
    upgrade(engine)
    sub = digest_sub(engine)
    engine.dispose()
    proc = Proc(["serve", "--port", "0"], _serve_env(db_url, api, CSBOT_SCHEDULER=switch), tmp_path / "serve.log")
    procs.append(proc)
    wait_until(lambda: "listening on port" in proc.output(), 60, "csbot serve to listen")
    if switch == "on":
        wait_until(lambda: channels.keys(sub.channel_id), 60, "the digest from csbot serve")
        assert channels.keys(sub.channel_id) == [f"digest:{sub.id}:2026-W01"]
        assert f"file lock {tmp_path}/serve.db.scheduler.lock" in proc.output()
    assert proc.stop() == 0
    if switch == "on":
        assert "scheduler stopped; leadership released" in proc.output()
    else:
        assert "scheduler started" not in proc.output() and channels.in_channel(sub.channel_id) == []
