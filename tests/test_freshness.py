"""Freshness (kpi_core/freshness.py; sources.md): data_as_of, stale and failed sources, on SQLite and Postgres,
and how answers and digests show it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert

from bot.render.freshness_blocks import answer_freshness_blocks, digest_freshness_blocks
from kpi_core.freshness import Failure, Freshness, FreshnessPolicy, answer_tables, freshness
from storage.freshness import record_load
from storage.models import SourceRun

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
BERLIN = ZoneInfo("Europe/Berlin")


def load(store: Engine, table: str, source: str, hours_ago: float) -> None:
    with store.begin() as conn:
        record_load(conn, table=table, source=source, loaded_at=NOW - hours_ago * H, rows=1)


def run(store: Engine, source: str, state: str, hours_ago: float, error: str | None = None) -> None:
    at = (NOW - hours_ago * H).replace(tzinfo=None)
    with store.begin() as conn:
        conn.execute(insert(SourceRun).values(source=source, state=state, started_at=at, finished_at=at,
                                              error=error))


def test_nothing_loaded_is_not_stale_and_has_no_time(store: Engine) -> None:
    with store.connect() as conn:
        fresh = freshness(conn, ["accounts", "surveys"], NOW, FreshnessPolicy())
    assert fresh.as_json() == {"data_as_of": None, "stale": False}
    assert fresh.words(BERLIN) == ""


def test_data_as_of_is_the_least_recently_loaded_table_read(store: Engine) -> None:
    load(store, "accounts", "warehouse", 2)
    load(store, "surveys", "warehouse", 5)
    load(store, "usage", "warehouse", 40)  # not read below
    with store.connect() as conn:
        fresh = freshness(conn, ["accounts", "surveys"], NOW, FreshnessPolicy())
    assert fresh.as_json() == {"data_as_of": "2026-11-30T07:00:00Z", "stale": False}
    assert fresh.words(BERLIN) == "data as of Mon 30 Nov 08:00, warehouse"


def test_a_table_goes_stale_after_its_sources_threshold(store: Engine) -> None:
    load(store, "surveys", "warehouse", 36.5)
    load(store, "accounts", "crm", 1)
    with store.connect() as conn:
        default = freshness(conn, ["accounts", "surveys"], NOW, FreshnessPolicy())
        relaxed = freshness(conn, ["accounts", "surveys"], NOW, FreshnessPolicy({"warehouse": dt.timedelta(days=2)}))
        exactly = freshness(conn, ["surveys"], NOW - 0.5 * H, FreshnessPolicy())  # 36 h old: not older than 36 h
    assert default.as_json() == {"data_as_of": "2026-11-28T23:30:00Z", "stale": True}
    assert default.stale_tables == (("surveys", dt.datetime(2026, 11, 28, 23, 30)),)
    assert default.sources == ("crm", "warehouse")
    assert relaxed.stale is False and relaxed.stale_tables == ()
    assert exactly.stale is False


def test_imported_tables_go_stale_only_when_the_settings_say_so(store: Engine) -> None:
    load(store, "surveys", "import", 24 * 30)
    with store.connect() as conn:
        assert freshness(conn, ["surveys"], NOW, FreshnessPolicy()).stale is False
        assert freshness(conn, ["surveys"], NOW, FreshnessPolicy(import_after=dt.timedelta(days=7))).stale is True


def test_the_newest_load_of_a_table_counts_whoever_made_it(store: Engine) -> None:
    load(store, "accounts", "import", 24 * 10)
    load(store, "accounts", "crm", 3)
    with store.connect() as conn:
        fresh = freshness(conn, ["accounts"], NOW, FreshnessPolicy(import_after=dt.timedelta(days=1)))
    assert fresh.as_json() == {"data_as_of": "2026-11-30T09:00:00Z", "stale": False}
    assert fresh.sources == ("crm", "import")


def test_a_source_whose_last_run_failed_is_listed_with_its_error(store: Engine) -> None:
    load(store, "usage", "warehouse", 30)
    run(store, "warehouse", "ok", 30)
    run(store, "warehouse", "failed", 6, "warehouse:usage: the SELECT failed: relation does not exist")
    run(store, "crm", "ok", 6)
    run(store, "crm", "failed", 5, "crm: cannot connect")  # feeds no table read here, but has succeeded: not listed
    run(store, "billing", "failed", 4, "billing: bad key")  # never succeeded: listed
    with store.connect() as conn:
        fresh = freshness(conn, ["usage"], NOW, FreshnessPolicy())
    assert [(f.source, f.error) for f in fresh.failures] == [
        ("billing", "billing: bad key"),
        ("warehouse", "warehouse:usage: the SELECT failed: relation does not exist")]
    assert fresh.warnings(BERLIN) == [
        "billing failed to sync at Mon 30 Nov 09:00: billing: bad key",
        "warehouse failed to sync at Mon 30 Nov 07:00: warehouse:usage: the SELECT failed: relation does not exist"]


def test_answers_read_the_tables_of_their_kpi() -> None:
    from kpi_core.answers import CatalogAnswer, KpiAnswer
    from kpi_core.types import Scope

    class R:  # the only fields answer_tables reads
        kpi = "stickiness"
        scope = Scope()

    class BySegment(R):
        scope = Scope(segment="smb")

    assert answer_tables(KpiAnswer("/kpi stickiness", R())) == ("usage",)  # type: ignore[arg-type]
    assert answer_tables(KpiAnswer("/kpi stickiness segment:smb", BySegment())) == (  # type: ignore[arg-type]
        "usage", "accounts")
    assert answer_tables(CatalogAnswer("/kpi list", ())) == ()


def texts(blocks) -> list[str]:
    out = []
    for b in blocks:
        d = b.to_dict()
        out.append(d["text"]["text"] if "text" in d else d["elements"][0]["text"])
    return out


def test_slack_words_warnings_and_digest_top() -> None:
    fresh = Freshness(dt.datetime(2026, 11, 28, 23, 30), True, ("warehouse", "import"),
                      (("usage", dt.datetime(2026, 11, 28, 23, 30)),),
                      (Failure("warehouse", dt.datetime(2026, 11, 30, 4, 2), "warehouse:usage: boom\nmore"),))
    assert texts(answer_freshness_blocks(fresh, BERLIN)) == [
        "Data as of Sun 29 Nov 00:30, warehouse + import",
        ":warning: *Stale data:* stale: usage was last loaded Sun 29 Nov 00:30",
        ":x: *warehouse failed to sync at Mon 30 Nov 05:02: warehouse:usage: boom*",
    ]
    assert texts(digest_freshness_blocks(fresh, BERLIN)) == [
        ":x: *warehouse failed to sync at Mon 30 Nov 05:02: warehouse:usage: boom*\n"
        "The numbers below are from the last successful load, not refreshed.",
        ":warning: *Stale data:* stale: usage was last loaded Sun 29 Nov 00:30",
        "Data as of Sun 29 Nov 00:30, warehouse + import",
    ]
    assert answer_freshness_blocks(Freshness(), BERLIN) == []


def test_value_lists_read_accounts_or_usage() -> None:
    from kpi_core.answers import ValuesAnswer
    from kpi_core.freshness import answer_tables

    assert answer_tables(ValuesAnswer("/kpi", "segment", ())) == ("accounts",)
    assert answer_tables(ValuesAnswer("/kpi", "owner", ())) == ("accounts",)
    assert answer_tables(ValuesAnswer("/kpi", "feature", ())) == ("usage",)
