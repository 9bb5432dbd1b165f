"""Scheduled source syncs (bot/jobs/sync_job.py): the daily instant in the reporting time zone, once per run
however many replicas tick, failures told to the subscribed channels, and digests that say their sources
failed; on SQLite and Postgres stores, with a SQLite warehouse."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from bot.jobs import scheduler
from bot.jobs.digest_job import build_message
from bot.jobs.sync_job import due_sync
from kpi_core.config import HealthConfig, KpiConfig
from storage.models import Account, SourceRun
from storage.sources_file import parse_sources
from tests.jobs_helpers import SetClock, digest_sub, make_ctx, risk_sub, utc
from tests.sources_helpers import make_warehouse

BERLIN = KpiConfig("Europe/Berlin", 1.0, HealthConfig({}, 70, 40))


@pytest.fixture
def warehouse(tmp_path: Path):
    yield from make_warehouse("sqlite", tmp_path)


def source(wh, column: str = "company") -> tuple:
    text = ("sources:\n  warehouse:\n    kind: sql\n    url: ${WH_URL}\n    tables:\n"
            f"      accounts: SELECT id AS account_id, {column} AS name, created AS signed_up_at"
            f" FROM {wh.t('crm.accounts')}\n")
    return tuple(parse_sources(text, {"WH_URL": wh.url}))


def runs(store: Engine) -> list[tuple]:
    with store.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(SourceRun.source, SourceRun.run_key, SourceRun.state, SourceRun.claimed_by).order_by(SourceRun.id))]


def test_the_daily_instant_is_in_the_reporting_time_zone() -> None:
    (src,) = parse_sources("sources:\n  s:\n    kind: stripe\n    schedule: \"05:00\"\n", {})
    berlin = ZoneInfo("Europe/Berlin")
    assert due_sync(src, berlin, utc("2026-01-10T03:59:00")) == utc("2026-01-09T04:00:00")  # winter: UTC+1
    assert due_sync(src, berlin, utc("2026-01-10T04:00:00")) == utc("2026-01-10T04:00:00")
    assert due_sync(src, berlin, utc("2026-07-10T03:00:00")) == utc("2026-07-10T03:00:00")  # summer: UTC+2


def test_two_replicas_ticking_sync_each_run_once(store: Engine, api, channels, warehouse) -> None:
    warehouse.insert("crm.accounts", [{"id": "A1", "company": "Acme", "created": "2026-01-05", "segment": None,
                                       "owner_email": None}])
    clock = SetClock(utc("2026-01-10T04:00:00"))
    first = make_ctx(store, api, clock, identity="a:1:x", config=BERLIN, sources=source(warehouse))
    second = make_ctx(store, api, clock, identity="b:2:y", config=BERLIN, sources=source(warehouse))
    outcomes = scheduler.tick(first) + scheduler.tick(second)
    assert [(o.key, o.action) for o in outcomes] == [("sync:warehouse", "synced")]
    clock.advance(minutes=30)
    assert scheduler.tick(second) == [] and scheduler.tick(first) == []
    clock.set("2026-01-11T04:00:30")
    assert [o.action for o in scheduler.tick(second)] == ["synced"]
    assert runs(store) == [("warehouse", "sync:warehouse:2026-01-10T04:00Z", "ok", "a:1:x"),
                           ("warehouse", "sync:warehouse:2026-01-11T04:00Z", "ok", "b:2:y")]
    with store.connect() as conn:
        assert conn.scalars(select(Account.name)).all() == ["Acme"]
    assert channels.messages == {}  # nothing to tell anyone


def test_a_manual_sync_after_the_instant_stands_for_that_run(store: Engine, api, warehouse) -> None:
    from storage.sync import sync_source

    (src,) = source(warehouse)
    sync_source(store, src, now=utc("2026-01-10T04:30:00"))
    ctx = make_ctx(store, api, SetClock(utc("2026-01-10T05:00:00")), config=BERLIN, sources=(src,))
    assert scheduler.tick(ctx) == []
    assert [r[2] for r in runs(store)] == ["ok"]


def test_a_failed_sync_keeps_the_data_tells_the_subscribers_and_the_digest_says_so(
        store: Engine, api, channels, warehouse) -> None:
    warehouse.insert("crm.accounts", [{"id": "A1", "company": "Acme", "created": "2026-01-05", "segment": None,
                                       "owner_email": None}])
    digest_sub(store, "C0DIGEST1", at="09:00", created=utc("2026-01-11T03:00:00"))
    risk_sub(store, "C0RISK001", at="09:00", created=utc("2026-01-11T03:00:00"))
    clock = SetClock(utc("2026-01-10T04:00:00"))
    scheduler.tick(make_ctx(store, api, clock, config=BERLIN, sources=source(warehouse)))
    clock.set("2026-01-11T04:00:00")
    broken = make_ctx(store, api, clock, config=BERLIN, sources=source(warehouse, "no_such_column"))
    outcomes = scheduler.tick(broken)
    assert [(o.key, o.action) for o in outcomes] == [("sync:warehouse", "failed")]
    assert outcomes[0].detail == "warehouse:accounts: the SELECT failed: no such column: no_such_column"
    for channel in ("C0DIGEST1", "C0RISK001"):
        (message,) = channels.in_channel(channel)
        assert message["text"].startswith(":x: The scheduled sync of *warehouse* failed at 2026-01-11 04:00 UTC; "
                                          "nothing was written and the previous data stays.")
        assert "warehouse:accounts: the SELECT failed: no such column: no_such_column" in message["text"]
    with store.connect() as conn:
        assert conn.scalars(select(Account.name)).all() == ["Acme"]
    assert [r[2] for r in runs(store)] == ["ok", "failed"]
    assert scheduler.tick(broken) == []  # that run is done: told once, not again at every tick

    message = build_message(store, BERLIN, None, dt.date(2026, 1, 11))
    blocks = json.dumps(message.blocks)
    top = message.blocks[1]["text"]["text"]
    assert top.startswith(":x: *warehouse failed to sync at Sun 11 Jan 05:00: warehouse:accounts: the SELECT "
                          "failed: no such column: no_such_column*")
    assert "The numbers below are from the last successful load, not refreshed." in top
    assert "Data as of Sat 10 Jan 05:00, warehouse" in blocks
    assert message.text.startswith("Data sync failed; numbers not refreshed. ")


def test_a_run_left_running_by_a_stopped_process_is_run_again_after_an_hour(store: Engine, api, warehouse) -> None:
    from storage.sync import claim_run

    warehouse.insert("crm.accounts", [{"id": "A1", "company": "Acme", "created": "2026-01-05", "segment": None,
                                       "owner_email": None}])
    claim_run(store, "warehouse", "sync:warehouse:2026-01-10T04:00Z", now=utc("2026-01-10T04:00:00"),
              claimed_by="dead:1:x")
    clock = SetClock(utc("2026-01-10T04:30:00"))
    ctx = make_ctx(store, api, clock, identity="live:2:y", config=BERLIN, sources=source(warehouse))
    assert scheduler.tick(ctx) == []  # half an hour: it may still be running
    clock.set("2026-01-10T05:00:01")
    assert [o.action for o in scheduler.tick(ctx)] == ["synced"]
    assert runs(store) == [("warehouse", "sync:warehouse:2026-01-10T04:00Z", "ok", "live:2:y")]
    assert scheduler.tick(ctx) == []


def test_the_scheduler_refuses_to_start_with_a_broken_sources_file(store: Engine, api, tmp_path: Path) -> None:
    from bot.jobs.context import JobContext
    from kpi_core.types import UserError
    from tests.jobs_helpers import client_for

    bad = tmp_path / "sources.yml"
    bad.write_text("sources:\n  w:\n    kind: sql\n    url: ${NOPE}\n    tables: {accounts: SELECT 1}\n")
    with pytest.raises(UserError) as caught:
        JobContext.from_env(store, client_for(api), BERLIN, {"CSBOT_SOURCES": str(bad)})
    assert str(caught.value) == (f"the sources file (CSBOT_SOURCES) has problems:\n  {bad}: w: url: environment "
                                 "variable NOPE is not set")
    good = JobContext.from_env(store, client_for(api), BERLIN, {"STRIPE_API_KEY": "rk_1"})
    assert [s.name for s in good.sources] == ["stripe"]


# ------------------------------------------------------------------------------------- real processes


def test_two_scheduler_processes_sync_each_run_once(pg_url, api, channels, tmp_path: Path, warehouse) -> None:
    """Two `csbot scheduler` processes on one Postgres store, pinned just after 05:00 Berlin: one sync."""
    from storage.db import make_engine, upgrade
    from tests.jobs_helpers import Proc, wait_until

    warehouse.insert("crm.accounts", [{"id": "A1", "company": "Acme", "created": "2026-01-05", "segment": None,
                                       "owner_email": None}])
    (tmp_path / "sources.yml").write_text(
        "sources:\n  warehouse:\n    kind: sql\n    url: ${WH_URL}\n    tables:\n"
        "      accounts: SELECT id AS account_id, company AS name, created AS signed_up_at FROM crm_accounts\n")
    (tmp_path / "csbot.yml").write_text("reporting_timezone: Europe/Berlin\n")
    engine = make_engine(pg_url)
    upgrade(engine)
    env = {"CSBOT_DATABASE_URL": pg_url, "CSBOT_SLACK_API_URL": api.base_url, "SLACK_BOT_TOKEN": "xoxb-test-token",
           "CSBOT_NOW": "2026-01-10T04:00:05Z", "CSBOT_SCHEDULER_TICK_SECONDS": "0.5", "CSBOT_LOG_LEVEL": "INFO",
           "CSBOT_AS_OF": "", "CSBOT_CONFIG": str(tmp_path / "csbot.yml"),
           "CSBOT_SOURCES": str(tmp_path / "sources.yml"), "WH_URL": warehouse.url}
    procs = [Proc(["scheduler"], env, tmp_path / f"sched-{n}.log") for n in "ab"]
    try:
        wait_until(lambda: [r for r in runs(engine) if r[2] == "ok"], 60, "the sync to run")
        wait_until(lambda: all("now the scheduler leader" in p.output() or "standing by" in p.output()
                               for p in procs), 30, "both processes to settle")
        leader = next(p for p in procs if "now the scheduler leader" in p.output())
        assert leader.stop() == 0  # the other one takes over, ticks at the same pinned instant: nothing to sync
        (other,) = [p for p in procs if p is not leader]
        wait_until(lambda: "first tick as the leader" in other.output(), 30, "the standby's first tick")
        assert [r[:3] for r in runs(engine)] == [("warehouse", "sync:warehouse:2026-01-10T04:00Z", "ok")]
        with engine.connect() as conn:
            assert conn.scalars(select(Account.name)).all() == ["Acme"]
    finally:
        for proc in procs:
            proc.kill()
            proc.stop(5)
        engine.dispose()


def test_a_scheduled_sync_scores_todays_health_for_the_next_question(store: Engine, api, warehouse) -> None:
    from storage.models import health_scorings

    warehouse.insert("crm.accounts", [{"id": "A1", "company": "Acme", "created": "2026-01-05", "segment": None,
                                       "owner_email": None}])
    clock = SetClock(utc("2026-01-10T23:30:00"))  # 00:30 on January 11 in Berlin
    ctx = make_ctx(store, api, clock, config=BERLIN, sources=source(warehouse))
    with store.begin() as conn:
        conn.execute(health_scorings.delete())
    assert [o.action for o in scheduler.tick(ctx)] == ["synced"]
    with store.connect() as conn:
        stored = conn.execute(select(health_scorings.c.account_id, health_scorings.c.as_of)).all()
    assert ("A1", dt.date(2026, 1, 11)) in [tuple(r) for r in stored]
