"""Usage rollups: answers read from them equal answers computed from raw events, on random data, for every
usage KPI, scope and period, in UTC and DST zones, on SQLite and Postgres; kept fresh by every write path."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, text

import storage.rollups as rollups
from kpi_core.config import HealthConfig, KpiConfig
from kpi_core.context import QueryContext
from kpi_core.health import score_accounts
from kpi_core.periods import Period
from kpi_core.scoring_cache import SCORING_CACHE
from kpi_core.types import AccountRef, Scope, UserError
from storage.importer import import_paths
from storage.models import ROLLUP_TABLES, UsageEvent
from storage.rollups import month_mask, rebuild_rollups
from tests import usage_reference as raw
from tests.kpi_helpers import account, ask, d, load, survey, usage

ZONES = ("UTC", "Europe/Berlin", "America/New_York")
FEATURES = (None, "x", "y", "z")


def config_in(zone: str) -> KpiConfig:
    return KpiConfig(zone, 1.0, HealthConfig({}, 70, 40))


def random_store(store, seed: int, events: int = 700) -> None:
    rng = random.Random(seed)
    accounts = []
    for i in range(7):
        customer = rng.choice([None, "2025-11-01", "2026-02-15", "2026-03-20"])
        churned = "2026-04-02" if customer == "2025-11-01" and i % 3 == 0 else None
        accounts.append(account(f"a{i}", signed="2025-10-01", customer=customer, churned=churned,
                                segment=rng.choice(["s1", "s2", None]), owner_slack_id=rng.choice(["U1", "U2"])))
    start = dt.datetime(2025, 12, 20)
    rows = []
    for _ in range(events):
        # Many events near local midnights and around the DST changes (March 8 and 29, 2026).
        base = start + dt.timedelta(days=rng.randrange(150))
        if rng.random() < 0.3:
            base = dt.datetime(2026, 3, rng.choice([7, 8, 9, 28, 29, 30, 31]))
        at = base + dt.timedelta(hours=rng.choice([0, 1, 4, 5, 22, 23, rng.randrange(24)]), minutes=rng.randrange(60))
        rows.append(usage(f"a{rng.randrange(7)}", f"u{rng.randrange(6)}", at.isoformat(), rng.choice(FEATURES),
                          rng.choice([None, 0, 30, 600])))
    load(store, accounts=accounts, usage=rows)


PERIODS = [
    ("2026-03-01", "2026-03-31", "month"),
    ("2026-01-01", "2026-03-31", "quarter"),
    ("2026-01-01", "2026-12-31", "year"),
    ("2026-03-23", "2026-03-29", "week"),
    ("2026-02-20", "2026-04-03", "range"),
    ("2026-03-29", "2026-03-29", "day"),
    ("2026-03-02", "2026-03-30", "range"),
    ("2025-12-31", "2026-01-01", "range"),
]
SCOPES = [
    {}, {"account_id": "a1"}, {"segment": "s1"}, {"owner": "U2"}, {"feature": "x"},
    {"feature": "y", "segment": "s2"}, {"feature": "nope"},
]


def _scope(kw: dict) -> Scope:
    acc = kw.get("account_id")
    return Scope(AccountRef(acc, acc) if acc else None, kw.get("segment"), kw.get("owner"), kw.get("feature"))


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("seed", [1, 2])
def test_usage_kpis_equal_raw_events(store, zone, seed):
    random_store(store, seed)
    config = config_in(zone)
    for start, end, kind in PERIODS:
        the_period = Period(d(start), d(end), f"{start}..{end}", kind)
        for kw in SCOPES:
            ctx = QueryContext(the_period, _scope(kw), config)
            with store.connect() as conn:
                customers, adopters = raw.adoption(conn, ctx)
                user_days, users = raw.user_days_and_users(conn, ctx)
                seconds = raw.seconds(conn, ctx)
            where = f"{zone} {start}..{end} {kw}"
            adoption = ask(store, "adoption", start, end, config=config, the_period=the_period, **kw)
            assert adoption.breakdown == {"active_customers": adopters, "customers": customers}, where
            sticky = ask(store, "stickiness", start, end, config=config, the_period=the_period, **kw)
            days = (d(end) - d(start)).days + 1
            assert sticky.breakdown["period_active_users"] == users, where
            assert sticky.breakdown["mean_daily_active_users"] == round(user_days / days, 4), where
            expected = None if not users else round(100 * user_days / days / users, 4)
            assert sticky.value == expected, where
            top = ask(store, "time_on_platform", start, end, config=config, the_period=the_period, **kw)
            assert top.breakdown == {"total_minutes": round(seconds / 60, 4), "active_users": users}, where
            assert top.value == (None if not users else round(seconds / 60 / users, 4)), where


@pytest.mark.parametrize("zone", ZONES)
def test_health_usage_inputs_equal_raw_events(store, zone):
    random_store(store, 3, events=900)
    config = config_in(zone)
    for as_of in ("2026-03-29", "2026-03-31", "2026-04-30", "2026-05-20", "2026-01-01"):
        day = d(as_of)
        with store.connect() as conn:
            expected = raw.health_usage(conn, day, ZoneInfo(zone))
            with_usage = raw.has_usage(conn, day, ZoneInfo(zone))
            scored = score_accounts(conn, day, config, customers_only=False)
        assert len(scored) == 7
        compared = 0
        for h in scored:
            facts = h.component("engagement").facts
            if h.status in ("not_signed_up", "churned"):  # not there on that day: no score, no facts (point in time)
                assert facts == {} and h.score is None, (zone, as_of, h.account.id)
                continue
            compared += 1
            got = (facts["events_recent"], facts["events_previous"], facts["users_recent"],
                   facts["users_previous"], facts["seats"])
            assert got == expected.get(h.account.id, (0, 0, 0, 0, 0)), (zone, as_of, h.account.id)
            assert ("engagement" not in h.missing) == (h.account.id in with_usage), (zone, as_of, h.account.id)
        assert compared >= 3, (zone, as_of)  # most random accounts are there on every date


def rollup_rows(store) -> dict[str, list[tuple]]:
    with store.connect() as conn:
        return {m.__tablename__: sorted(tuple(r) for r in conn.execute(select(m))) for m in ROLLUP_TABLES}


def rebuilt_rows(store, zone: str) -> dict[str, list[tuple]]:
    with store.begin() as conn:
        rebuild_rollups(conn, zone)
    return rollup_rows(store)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_incremental_refresh_equals_full_rebuild(store, zone):
    random_store(store, 4)
    config = config_in(zone)
    ask(store, "stickiness", "2026-03-01", "2026-03-31", config=config)  # built in `zone`
    rng = random.Random(9)
    with store.begin() as conn:  # through SQLAlchemy: refreshed before this commit
        conn.execute(text("DELETE FROM usage_events WHERE id % 5 = 0"))
        conn.execute(insert(UsageEvent), [
            usage("a2", f"n{i}", f"2026-03-{rng.randrange(1, 31):02d}T{rng.randrange(24):02d}:30:00", "x", 5)
            for i in range(40)
        ])
    with store.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM rollup_dirty")) == 0
    refreshed = rollup_rows(store)
    assert refreshed == rebuilt_rows(store, zone)
    assert refreshed["usage_days"]


def test_writes_outside_sqlalchemy_are_marked_and_refreshed_by_the_next_reader(store):
    random_store(store, 5, events=200)
    config = config_in("Europe/Berlin")
    before = ask(store, "time_on_platform", "2026-03-01", "2026-03-31", config=config)
    with store.connect() as conn:  # the DBAPI connection directly: only the database's triggers see this
        raw_conn = conn.connection.driver_connection
        cur = raw_conn.cursor()
        cur.execute("DELETE FROM usage_events WHERE account_id = 'a3'")
        cur.execute("UPDATE usage_events SET duration_seconds = 7 WHERE account_id = 'a4'")
        raw_conn.commit()
    with store.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM rollup_dirty")) > 0
    after = ask(store, "time_on_platform", "2026-03-01", "2026-03-31", config=config)
    with store.connect() as conn:
        ctx = QueryContext(after.period, Scope(), config)
        assert after.breakdown["total_minutes"] == round(raw.seconds(conn, ctx) / 60, 4)
        assert after.breakdown["active_users"] == raw.user_days_and_users(conn, ctx)[1]
    assert after.breakdown != before.breakdown
    assert rollup_rows(store) == rebuilt_rows(store, "Europe/Berlin")


def test_import_keeps_rollups_exact_and_incremental(store, tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "accounts.csv").write_text("account_id,name,signed_up_at\nA,Acme,2026-01-01\nB,Beta,2026-01-01\n")
    (folder / "usage.csv").write_text(
        "account_id,user_id,occurred_at,feature,duration_seconds\n"
        "A,u1,2026-03-01T23:30:00Z,x,60\nA,u2,2026-03-02T00:30:00Z,,\nB,u1,2026-03-02T10:00:00Z,y,30\n"
    )
    import_paths(store, [folder], reporting_tz="Europe/Berlin")
    # Berlin: 23:30Z on March 1 is 00:30 on March 2, so A has two users on March 2 and none on March 1.
    assert rollup_rows(store)["usage_days"] == [
        ("A", d("2026-03-02"), 2, 2, 60), ("B", d("2026-03-02"), 1, 1, 30),
    ]
    again = tmp_path / "two"
    again.mkdir()
    (again / "usage.csv").write_text(  # replaces A's UTC day March 2 only
        "account_id,user_id,occurred_at,feature,duration_seconds\nA,u3,2026-03-02T12:00:00Z,x,5\n"
    )
    import_paths(store, [again], reporting_tz="Europe/Berlin")
    days = rollup_rows(store)["usage_days"]
    assert days == [("A", d("2026-03-02"), 2, 2, 65), ("B", d("2026-03-02"), 1, 1, 30)]
    assert rollup_rows(store) == rebuilt_rows(store, "Europe/Berlin")
    import_paths(store, [again], reporting_tz="UTC")  # a new zone: everything rebuilt in it
    assert rollup_rows(store)["usage_days"] == [
        ("A", d("2026-03-01"), 1, 1, 60), ("A", d("2026-03-02"), 1, 1, 5), ("B", d("2026-03-02"), 1, 1, 30),
    ]


def test_another_zone_is_rebuilt_when_small_and_refused_when_large(store, monkeypatch):
    random_store(store, 6, events=50)
    utc = ask(store, "stickiness", "2026-03-01", "2026-03-31", config=config_in("UTC"))
    berlin = ask(store, "stickiness", "2026-03-01", "2026-03-31", config=config_in("Europe/Berlin"))
    assert utc.breakdown["days"] == berlin.breakdown["days"] == 31
    monkeypatch.setattr(rollups, "AUTO_REBUILD_MAX_EVENTS", 0)
    with pytest.raises(UserError, match="run `csbot rebuild-rollups`"):
        ask(store, "stickiness", "2026-03-01", "2026-03-31", config=config_in("UTC"))
    with store.begin() as conn:
        rebuild_rollups(conn, "UTC")
    assert ask(store, "stickiness", "2026-03-01", "2026-03-31", config=config_in("UTC")) == utc


def test_scoring_is_shared_and_invalidated_by_any_write(store):
    random_store(store, 7, events=100)
    config = config_in("UTC")
    SCORING_CACHE.clear()
    with store.connect() as conn:
        first = score_accounts(conn, d("2026-04-30"), config, customers_only=False)
        hits = SCORING_CACHE.hits
        assert score_accounts(conn, d("2026-04-30"), config, customers_only=False) == first
        assert SCORING_CACHE.hits == hits + 1
    load(store, surveys=[survey("r1", "a0", "nps", 0, "2026-04-29T10:00:00")])
    with store.connect() as conn:
        after = score_accounts(conn, d("2026-04-30"), config, customers_only=False)
    a0 = next(h for h in after if h.account.id == "a0")
    assert a0.component("sentiment").facts["detractors"] == 1
    assert a0 != next(h for h in first if h.account.id == "a0")


@pytest.mark.parametrize(("month", "start", "end", "mask"), [
    ("2026-03-01", "2026-03-05", "2026-03-07", 0b1110000),
    ("2026-03-01", "2026-02-01", "2026-03-01", 0b1),
    ("2026-02-01", "2026-01-15", "2026-12-31", (1 << 28) - 1),  # all 28 days of February
    ("2026-03-01", "2026-03-31", "2026-04-02", 1 << 30),
    ("2026-03-01", "2026-04-01", "2026-04-30", 0),
])
def test_month_mask_hand_worked(month, start, end, mask):
    assert month_mask(d(month), d(start), d(end)) == mask


def test_cli_rebuild_rollups_and_init_db_build_in_the_configured_zone(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from storage.db import make_engine

    root = Path(__file__).resolve().parents[1]
    (tmp_path / "config.yml").write_text("reporting_timezone: Europe/Berlin\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CSBOT_"))}
    env |= {"PYTHONPATH": str(root), "CSBOT_CONFIG": str(tmp_path / "config.yml")}
    url = f"sqlite:///{tmp_path}/x.db"

    def csbot(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.cli", *args, "--db", url], env=env, capture_output=True,
                              text=True, timeout=240)

    assert csbot("init-db").returncode == 0
    engine = make_engine(url)
    load(engine, accounts=[account("a")], usage=[usage("a", "u", "2026-03-01T23:30:00")])  # built in Berlin
    with engine.begin() as conn:
        rebuild_rollups(conn, "UTC")
    result = csbot("rebuild-rollups")
    assert result.returncode == 0 and "rebuilt in Europe/Berlin" in result.stdout, result.stderr
    assert rollup_rows(engine)["usage_days"] == [("a", d("2026-03-02"), 1, 1, 0)]
    engine.dispose()


def test_deleting_an_account_removes_its_rollup_rows(store):
    random_store(store, 8, events=200)
    config = config_in("Europe/Berlin")
    ask(store, "stickiness", "2026-03-01", "2026-03-31", config=config)
    with store.begin() as conn:  # the usage rows go by ON DELETE CASCADE; the triggers mark their slices
        conn.execute(text("DELETE FROM accounts WHERE account_id = 'a1'"))
    rows = rollup_rows(store)
    assert all(row[0] != "a1" and "a1" not in row for table in rows.values() for row in table)
    assert rows == rebuilt_rows(store, "Europe/Berlin")


@pytest.mark.parametrize(("start", "end", "unit"), [
    ("2026-03-01", "2026-03-31", "month"),
    ("2026-02-01", "2026-02-28", "month"),
    ("2026-04-01", "2026-06-30", "quarter"),
    ("2026-01-01", "2026-12-31", "year"),
    ("2026-02-01", "2026-04-30", None),  # three months, not a quarter
    ("2026-03-01", "2026-03-30", None),
    ("2026-03-02", "2026-03-31", None),
    ("2026-01-01", "2026-11-22", None),  # this year to date
])
def test_calendar_unit_hand_worked(start, end, unit):
    from kpi_core.usage_rollups import calendar_unit

    assert calendar_unit(d(start), d(end)) == unit
