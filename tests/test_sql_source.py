"""Kind `sql` end to end (shared/spec/sources.md): a warehouse (SQLite file or Postgres schemas) with
Fivetran-style Zendesk and Segment tables, synced into the store on SQLite and Postgres."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from storage.freshness import table_loads
from storage.importer import import_paths
from storage.models import Account, Revenue, SourceRun, Ticket, UsageDay, UsageEvent
from storage.sources_file import parse_sources
from storage.sync import last_runs, sync_source
from storage.sync_report import SyncError
from tests.sources_helpers import Warehouse, make_warehouse

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 30, 5, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse(request, tmp_path: Path):
    if request.param == "postgres":
        request.getfixturevalue("postgres_schema")  # skips or fails like the store when Postgres is down
    yield from make_warehouse(request.param, tmp_path)


def sources_yaml(wh: Warehouse, name: str = "warehouse", *, accounts: bool = True, tickets: bool = True,
                 usage: bool = True, extra: str = "") -> str:
    tables = []
    if accounts:
        tables.append(f"      accounts: SELECT id AS account_id, company AS name, created AS signed_up_at, "
                      f"segment FROM {wh.t('crm.accounts')}")
    if tickets:
        tables.append(
            "      tickets: |\n"
            "        SELECT CAST(t.id AS VARCHAR(32)) AS ticket_id, o.external_id AS account_id,\n"
            "               t.created_at AS opened_at, t.solved_at AS resolved_at, t.priority\n"
            f"        FROM {wh.t('zendesk.ticket')} t JOIN {wh.t('zendesk.organization')} o"
            " ON o.id = t.organization_id")
    if usage:
        tables.append(
            "      usage: |\n"
            "        SELECT context_group_id AS account_id, user_id, timestamp AS occurred_at, event AS feature\n"
            f"        FROM {wh.t('segment.tracks')} WHERE received_at >= :since")
    body = "\n".join(tables)
    return f"sources:\n  {name}:\n    kind: sql\n    url: ${{WH_URL}}\n    tables:\n{body}\n{extra}"


def source_of(wh: Warehouse, **kwargs):
    return parse_sources(sources_yaml(wh, **kwargs), {"WH_URL": wh.url})[0]


def seed(wh: Warehouse) -> None:
    wh.insert("crm.accounts", [
        {"id": "A1", "company": "Acme", "created": dt.date(2026, 1, 5), "segment": "smb", "owner_email": None},
        {"id": "A2", "company": "Beta", "created": dt.date(2026, 2, 1), "segment": "enterprise",
         "owner_email": None},
    ])
    wh.insert("zendesk.organization", [{"id": 11, "name": "Acme Inc", "external_id": "A1"},
                                       {"id": 12, "name": "Beta GmbH", "external_id": "A2"}])
    wh.insert("zendesk.ticket", [
        {"id": 101, "organization_id": 11, "created_at": dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
         "status": "solved", "priority": "High", "solved_at": dt.datetime(2026, 11, 2, 13, 30, tzinfo=UTC),
         "_fivetran_synced": dt.datetime(2026, 11, 3, tzinfo=UTC)},
        {"id": 102, "organization_id": 12, "created_at": dt.datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
         "status": "open", "priority": None, "solved_at": None,
         "_fivetran_synced": dt.datetime(2026, 11, 21, tzinfo=UTC)},
    ])
    wh.insert("segment.tracks", [
        track("e1", "A1", "u1", "export", dt.datetime(2026, 11, 28, 10, 0), dt.datetime(2026, 11, 28, 10, 1)),
        track("e2", "A1", "u2", "report", dt.datetime(2026, 11, 28, 23, 30), dt.datetime(2026, 11, 28, 23, 31)),
        track("e3", "A2", "u9", "export", dt.datetime(2026, 11, 29, 7, 0), dt.datetime(2026, 11, 29, 7, 5)),
    ])


def track(id_: str, account: str, user: str, event: str, at: dt.datetime, received: dt.datetime) -> dict:
    return {"id": id_, "user_id": user, "context_group_id": account, "event": event,
            "timestamp": at.replace(tzinfo=UTC), "received_at": received.replace(tzinfo=UTC)}


def rows(store: Engine, *columns) -> list[tuple]:
    with store.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*columns).order_by(*columns))]


def test_first_sync_reads_every_table_and_records_loads_and_the_run(store: Engine, warehouse: Warehouse) -> None:
    seed(warehouse)
    report = sync_source(store, source_of(warehouse), now=T0)
    assert {t: (c.added, c.changed, c.removed) for t, c in report.tables.items()} == {
        "accounts": (2, 0, 0), "tickets": (2, 0, 0), "usage": (3, 0, 0)}
    assert rows(store, Account.account_id, Account.name, Account.segment, Account.signed_up_at) == [
        ("A1", "Acme", "smb", dt.date(2026, 1, 5)), ("A2", "Beta", "enterprise", dt.date(2026, 2, 1))]
    assert rows(store, Ticket.ticket_id, Ticket.account_id, Ticket.opened_at, Ticket.resolved_at,
                Ticket.priority) == [
        ("101", "A1", dt.datetime(2026, 11, 2, 9), dt.datetime(2026, 11, 2, 13, 30), "high"),
        ("102", "A2", dt.datetime(2026, 11, 20, 8), None, None)]
    assert rows(store, UsageEvent.account_id, UsageEvent.user_id, UsageEvent.occurred_at, UsageEvent.feature) == [
        ("A1", "u1", dt.datetime(2026, 11, 28, 10), "export"),
        ("A1", "u2", dt.datetime(2026, 11, 28, 23, 30), "report"),
        ("A2", "u9", dt.datetime(2026, 11, 29, 7), "export")]
    with store.connect() as conn:
        loads = {(ld.table, ld.source): (ld.loaded_at, ld.rows) for ld in table_loads(conn)}
        runs = last_runs(conn)
    naive = T0.replace(tzinfo=None)
    assert loads == {("accounts", "warehouse"): (naive, 2), ("tickets", "warehouse"): (naive, 2),
                     ("usage", "warehouse"): (naive, 3)}
    assert runs["warehouse"]["last"].state == "ok" and runs["warehouse"]["last"].started_at == naive


def test_second_sync_with_nothing_new_changes_nothing(store: Engine, warehouse: Warehouse) -> None:
    seed(warehouse)
    source = source_of(warehouse)
    sync_source(store, source, now=T0)
    before = rows(store, UsageEvent.id, UsageEvent.account_id, UsageEvent.occurred_at)
    report = sync_source(store, source, now=T0 + dt.timedelta(days=1))
    assert {t: (c.added, c.changed, c.removed) for t, c in report.tables.items()} == {
        "accounts": (0, 0, 0), "tickets": (0, 0, 0), "usage": (0, 0, 0)}
    assert rows(store, UsageEvent.id, UsageEvent.account_id, UsageEvent.occurred_at) == before


def test_since_reads_late_rows_within_the_overlap_and_merges_them_into_their_slices(
        store: Engine, warehouse: Warehouse) -> None:
    seed(warehouse)
    # an event early on 11-28, loaded at once: outside the second run's window (received_at >= 11-28 05:00)
    warehouse.insert("segment.tracks", [
        track("e0", "A1", "u5", "search", dt.datetime(2026, 11, 28, 0, 30), dt.datetime(2026, 11, 28, 0, 31))])
    source = source_of(warehouse)  # overlap 3d: second run at T0+1d reads received_at >= T0-2d = 11-28 05:00
    assert sync_source(store, source, now=T0).tables["usage"].added == 4
    # a late event of 11-28 (A1's slice) loaded after the first sync, and one loaded long ago that the
    # window no longer reaches (received 11-20): only the first is read
    warehouse.insert("segment.tracks", [
        track("e4", "A1", "u3", "export", dt.datetime(2026, 11, 28, 12, 0), dt.datetime(2026, 11, 30, 6, 0)),
        track("e5", "A2", "u8", "export", dt.datetime(2026, 11, 19, 12, 0), dt.datetime(2026, 11, 20, 0, 0)),
    ])
    report = sync_source(store, source, now=T0 + dt.timedelta(days=1))
    # the window re-reads e1, e2 (kept once), adds e4, and leaves e0 (before the window) alone
    assert (report.tables["usage"].added, report.tables["usage"].removed) == (1, 0)
    assert rows(store, UsageEvent.account_id, UsageEvent.user_id, UsageEvent.occurred_at) == [
        ("A1", "u1", dt.datetime(2026, 11, 28, 10)), ("A1", "u2", dt.datetime(2026, 11, 28, 23, 30)),
        ("A1", "u3", dt.datetime(2026, 11, 28, 12)), ("A1", "u5", dt.datetime(2026, 11, 28, 0, 30)),
        ("A2", "u9", dt.datetime(2026, 11, 29, 7))]


def test_a_whole_usage_table_replaces_its_slices_and_removes_the_ones_it_no_longer_returns(
        store: Engine, warehouse: Warehouse) -> None:
    seed(warehouse)
    whole = parse_sources(sources_yaml(warehouse).replace(" WHERE received_at >= :since", ""),
                          {"WH_URL": warehouse.url})[0]
    sync_source(store, whole, now=T0)
    warehouse.run(f"DELETE FROM {warehouse.t('segment.tracks')} WHERE id IN ('e2', 'e3')")
    warehouse.insert("segment.tracks", [
        track("e4", "A1", "u1", "export", dt.datetime(2026, 11, 28, 10, 0), dt.datetime(2026, 11, 30, 6, 0))])
    report = sync_source(store, whole, now=T0 + dt.timedelta(days=1))
    # A1 on 11-28 now holds e1 and e4 (an identical event: both kept); A2's 11-29 slice is gone
    assert (report.tables["usage"].added, report.tables["usage"].removed) == (2, 3)
    assert rows(store, UsageEvent.account_id, UsageEvent.user_id, UsageEvent.occurred_at) == [
        ("A1", "u1", dt.datetime(2026, 11, 28, 10)), ("A1", "u1", dt.datetime(2026, 11, 28, 10))]


def test_since_is_bound_to_the_previous_successful_start_minus_overlap(store: Engine,
                                                                       warehouse: Warehouse) -> None:
    seed(warehouse)
    source = parse_sources(sources_yaml(warehouse, extra="    overlap: 1h\n"), {"WH_URL": warehouse.url})[0]
    # first sync: :since is 1970-01-01, every track is read
    assert sync_source(store, source, now=T0).tables["usage"].added == 3
    # the row received at 04:59 is before 05:00 - 1h? no: 04:59 >= 04:00, read; 03:59 is not
    warehouse.insert("segment.tracks", [
        track("e6", "A2", "u1", "report", dt.datetime(2026, 11, 30, 3, 0), dt.datetime(2026, 11, 30, 4, 59)),
        track("e7", "A2", "u2", "report", dt.datetime(2026, 11, 27, 3, 0), dt.datetime(2026, 11, 30, 3, 59)),
    ])
    sync_source(store, source, now=T0 + dt.timedelta(hours=2))
    assert ("A2", "u1") in rows(store, UsageEvent.account_id, UsageEvent.user_id)
    assert ("A2", "u2") not in rows(store, UsageEvent.account_id, UsageEvent.user_id)


def test_whole_table_sync_removes_only_rows_this_source_stopped_returning(
        store: Engine, warehouse: Warehouse, tmp_path: Path) -> None:
    seed(warehouse)
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "tickets.csv").write_text("ticket_id,account_id,opened_at\nT-CSV,A1,2026-11-01T00:00:00Z\n")
    source = source_of(warehouse)
    sync_source(store, source, now=T0)
    import_paths(store, [tmp_path / "csv"])
    warehouse.run(f"DELETE FROM {warehouse.t('zendesk.ticket')} WHERE id = 102")
    report = sync_source(store, source, now=T0 + dt.timedelta(days=1))
    assert (report.tables["tickets"].added, report.tables["tickets"].changed,
            report.tables["tickets"].removed) == (0, 0, 1)
    assert rows(store, Ticket.ticket_id) == [("101",), ("T-CSV",)]


def test_a_changed_row_is_counted_as_changed(store: Engine, warehouse: Warehouse) -> None:
    seed(warehouse)
    source = source_of(warehouse)
    sync_source(store, source, now=T0)
    warehouse.run(f"UPDATE {warehouse.t('crm.accounts')} SET segment = 'mid-market' WHERE id = 'A2'")
    report = sync_source(store, source, now=T0 + dt.timedelta(days=1))
    assert (report.tables["accounts"].added, report.tables["accounts"].changed) == (0, 1)
    assert rows(store, Account.account_id, Account.segment) == [("A1", "smb"), ("A2", "mid-market")]


def snapshot(store: Engine) -> dict:
    return {m.__tablename__: rows(store, *m.__table__.columns) for m in (Account, Ticket, UsageEvent, SourceRun)
            if m is not SourceRun} | {"runs": rows(store, SourceRun.source, SourceRun.state)}


def test_a_failing_select_writes_nothing_and_the_failure_is_recorded(store: Engine, warehouse: Warehouse) -> None:
    seed(warehouse)
    source = source_of(warehouse)
    sync_source(store, source, now=T0)
    warehouse.insert("crm.accounts", [{"id": "A3", "company": "Gamma", "created": dt.date(2026, 3, 1),
                                       "segment": None, "owner_email": None}])
    broken = parse_sources(sources_yaml(warehouse).replace("t.priority", "t.no_such_column"),
                           {"WH_URL": warehouse.url})[0]
    before = rows(store, Account.account_id)
    with pytest.raises(SyncError) as caught:
        sync_source(store, broken, now=T0 + dt.timedelta(days=1))
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("warehouse:tickets: the SELECT failed: ")
    assert "no_such_column" in caught.value.problems[0]
    assert rows(store, Account.account_id) == before  # A3 was read but not written
    with store.connect() as conn:
        last = last_runs(conn)["warehouse"]
    assert last["last"].state == "failed" and "no_such_column" in last["last"].error
    assert last["ok"].started_at == T0.replace(tzinfo=None)  # :since still counts from the last good run


def test_invalid_rows_are_reported_like_csv_import_and_nothing_is_written(store: Engine,
                                                                         warehouse: Warehouse) -> None:
    seed(warehouse)
    warehouse.insert("zendesk.ticket", [
        {"id": 103, "organization_id": 11, "created_at": dt.datetime(2026, 11, 5, 9, 0, tzinfo=UTC),
         "status": "open", "priority": "sky-high", "solved_at": dt.datetime(2026, 11, 4, tzinfo=UTC),
         "_fivetran_synced": dt.datetime(2026, 11, 6, tzinfo=UTC)}])
    warehouse.insert("zendesk.organization", [{"id": 13, "name": "Ghost", "external_id": "A404"}])
    warehouse.insert("zendesk.ticket", [
        {"id": 104, "organization_id": 13, "created_at": dt.datetime(2026, 11, 5, 9, 0, tzinfo=UTC),
         "status": "open", "priority": None, "solved_at": None,
         "_fivetran_synced": dt.datetime(2026, 11, 6, tzinfo=UTC)}])
    source = parse_sources(sources_yaml(warehouse).replace("FROM", "FROM", 1).replace(
        "o ON o.id = t.organization_id", "o ON o.id = t.organization_id ORDER BY t.id"),
        {"WH_URL": warehouse.url})[0]
    with pytest.raises(SyncError) as caught:
        sync_source(store, source, now=T0)
    sep = "T" if warehouse.kind == "postgresql" else " "  # aware datetime from Postgres, text from SQLite
    assert caught.value.problems == [
        "warehouse:tickets:row 3: priority: 'sky-high' is not a priority; use low, normal, high or urgent",
        f"warehouse:tickets:row 3: resolved_at: '2026-11-04{sep}00:00:00+00:00' is before opened_at "
        f"'2026-11-05{sep}09:00:00+00:00'; it must not be",
        "warehouse:tickets:row 4: account_id: 'A404' is not a known account; add it to the accounts of a "
        "source or an import, or fix the id",
    ]
    assert rows(store, Account.account_id) == []
    with store.connect() as conn:
        assert table_loads(conn) == []


def test_a_select_missing_a_required_column_is_named(store: Engine, warehouse: Warehouse) -> None:
    source = parse_sources(
        f"sources:\n  warehouse:\n    kind: sql\n    url: ${{WH_URL}}\n    tables:\n"
        f"      accounts: SELECT id AS account_id, company AS nme FROM {warehouse.t('crm.accounts')}\n",
        {"WH_URL": warehouse.url})[0]
    with pytest.raises(SyncError) as caught:
        sync_source(store, source, now=T0)
    assert caught.value.problems == [
        "warehouse:accounts: name: required column is missing from the SELECT; rename 'nme' to name",
        "warehouse:accounts: signed_up_at: required column is missing from the SELECT; add it (columns: "
        "account_id, name, segment, owner_slack_id, owner_email, signed_up_at, became_customer_at, "
        "first_value_at, churned_at, acquisition_source, renewal_date)",
    ]


def test_an_unreachable_database_is_named(store: Engine, tmp_path: Path) -> None:
    source = parse_sources(
        "sources:\n  wh:\n    kind: sql\n    url: postgresql://nobody@127.0.0.1:1/none\n    tables:\n"
        "      accounts: SELECT 1\n", {})[0]
    with pytest.raises(SyncError) as caught:
        sync_source(store, source, now=T0)
    assert caught.value.problems[0].startswith("wh: cannot connect: ")


def test_dry_run_reports_and_writes_nothing(store: Engine, warehouse: Warehouse) -> None:
    seed(warehouse)
    report = sync_source(store, source_of(warehouse), now=T0, dry_run=True)
    assert report.dry_run and report.tables["accounts"].added == 2
    assert rows(store, Account.account_id) == []
    assert rows(store, SourceRun.id) == []


def test_two_sources_own_their_columns_and_neither_blanks_the_other(
        store: Engine, warehouse: Warehouse, tmp_path: Path) -> None:
    # CSV import brings owners and MRR; the CRM source brings names and segments; the billing source MRR
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "accounts.csv").write_text(
        "account_id,name,owner_slack_id,signed_up_at\nA1,Old name,U01,2026-01-05\nA2,Beta,U02,2026-02-01\n")
    (tmp_path / "csv" / "revenue.csv").write_text("account_id,month,mrr\nA1,2026-10,100\n")
    import_paths(store, [tmp_path / "csv"])
    seed(warehouse)
    warehouse.insert("billing.mrr", [{"account": "A1", "month": dt.date(2026, 11, 1), "mrr": "250.50"}])
    crm = source_of(warehouse, name="crm", tickets=False, usage=False)
    billing = parse_sources(
        f"sources:\n  billing:\n    kind: sql\n    url: ${{WH_URL}}\n    tables:\n"
        f"      revenue: SELECT account AS account_id, month, mrr FROM {warehouse.t('billing.mrr')}\n",
        {"WH_URL": warehouse.url})[0]
    sync_source(store, crm, now=T0)
    sync_source(store, billing, now=T0)
    sync_source(store, crm, now=T0 + dt.timedelta(hours=1))
    assert rows(store, Account.account_id, Account.name, Account.segment, Account.owner_slack_id) == [
        ("A1", "Acme", "smb", "U01"), ("A2", "Beta", "enterprise", "U02")]
    assert rows(store, Revenue.account_id, Revenue.month, Revenue.product, Revenue.mrr) == [
        ("A1", dt.date(2026, 10, 1), "core", Decimal("100.00")),
        ("A1", dt.date(2026, 11, 1), "core", Decimal("250.50"))]


def test_two_sources_writing_one_column_are_warned_about(store: Engine, warehouse: Warehouse) -> None:
    seed(warehouse)
    crm = source_of(warehouse, name="crm", tickets=False, usage=False)
    other = parse_sources(
        f"sources:\n  hr:\n    kind: sql\n    url: ${{WH_URL}}\n    tables:\n"
        f"      accounts: SELECT id AS account_id, company AS name, created AS signed_up_at"
        f" FROM {warehouse.t('crm.accounts')}\n", {"WH_URL": warehouse.url})[0]
    assert sync_source(store, crm, now=T0).notes == []
    notes = sync_source(store, other, now=T0).notes
    assert notes == [
        f"warning: hr:accounts: {column}: also written by source crm; give each column one source (leave it out "
        "of one of them), or they overwrite each other at every sync" for column in ("name", "signed_up_at")]


def test_the_source_database_is_used_read_only(store: Engine, warehouse: Warehouse) -> None:
    seed(warehouse)
    writer = parse_sources(
        f"sources:\n  warehouse:\n    kind: sql\n    url: ${{WH_URL}}\n    tables:\n"
        f"      accounts: DELETE FROM {warehouse.t('crm.accounts')} RETURNING id AS account_id, company AS name,"
        " created AS signed_up_at\n", {"WH_URL": warehouse.url})[0]
    with pytest.raises(SyncError) as caught:
        sync_source(store, writer, now=T0)
    assert caught.value.problems[0].startswith("warehouse:accounts: the SELECT failed: ")
    assert "read-only" in caught.value.problems[0] or "readonly" in caught.value.problems[0]
    with warehouse.engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {warehouse.t('crm.accounts')}").scalar() == 2


def test_an_unexpected_error_is_recorded_and_named(store: Engine, warehouse: Warehouse, monkeypatch) -> None:
    import storage.sync as sync_module

    seed(warehouse)

    def broken_write(*args, **kwargs):
        raise RuntimeError("disk full\nmore detail")

    monkeypatch.setattr(sync_module, "_write", broken_write)
    with pytest.raises(SyncError) as caught:
        sync_source(store, source_of(warehouse), now=T0)
    assert caught.value.problems == ["warehouse: RuntimeError: disk full (nothing was written; see the log)"]
    with store.connect() as conn:
        assert last_runs(conn)["warehouse"]["last"].error == caught.value.problems[0]


def test_a_sync_leaves_the_usage_rollups_matching_its_rows(store: Engine, warehouse: Warehouse) -> None:
    """Synced usage reaches the day rollups the KPIs read (storage/rollups.py: the engine's write hook)."""
    seed(warehouse)
    source = source_of(warehouse)
    sync_source(store, source, now=T0)
    warehouse.insert("segment.tracks", [
        track("e4", "A1", "u3", "export", dt.datetime(2026, 11, 28, 12, 0), dt.datetime(2026, 11, 30, 6, 0))])
    sync_source(store, source, now=T0 + dt.timedelta(days=1))
    raw = rows(store, UsageEvent.account_id, UsageEvent.user_id, UsageEvent.occurred_at)
    expected: dict[tuple[str, dt.date], set[str]] = {}
    for account, user, at in raw:
        expected.setdefault((account, at.date()), set()).add(user)
    events = {key: sum(1 for a, _, at in raw if (a, at.date()) == key) for key in expected}
    assert rows(store, UsageDay.account_id, UsageDay.day, UsageDay.events, UsageDay.users) == sorted(
        (a, d, events[(a, d)], len(users)) for (a, d), users in expected.items())
