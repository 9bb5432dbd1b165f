"""Row provenance (which source wrote which row) and table loads (freshness records), on both engines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine

from storage.freshness import record_load, table_loads
from storage.importer import import_paths
from storage.provenance import claim_rows, owned_keys, release_rows, row_key


def test_first_claim_releases_nothing_and_records_every_key(store: Engine) -> None:
    with store.begin() as conn:
        keys = [("A1", dt.date(2026, 1, 1), "core"), ("A2", "2026-01-01", "x")]
        assert claim_rows(conn, "stripe", "revenue", keys) == []
        assert owned_keys(conn, "stripe", "revenue") == {("A1", "2026-01-01", "core"), ("A2", "2026-01-01", "x")}


def test_second_claim_hands_back_only_the_keys_no_longer_provided(store: Engine) -> None:
    with store.begin() as conn:
        claim_rows(conn, "stripe", "invoices", [("in_1",), ("in_2",), ("in_3",)])
        gone = claim_rows(conn, "stripe", "invoices", [("in_2",), ("in_3",), ("in_4",)])
        assert gone == [("in_1",)]
        assert owned_keys(conn, "stripe", "invoices") == {("in_2",), ("in_3",), ("in_4",)}
        assert claim_rows(conn, "stripe", "invoices", []) == [("in_2",), ("in_3",), ("in_4",)]
        assert owned_keys(conn, "stripe", "invoices") == set()


def test_sources_and_tables_are_kept_apart(store: Engine) -> None:
    with store.begin() as conn:
        claim_rows(conn, "stripe", "invoices", [("in_1",)])
        claim_rows(conn, "warehouse", "invoices", [("in_9",)])
        claim_rows(conn, "stripe", "accounts", [("in_1",)])
        assert claim_rows(conn, "warehouse", "invoices", []) == [("in_9",)]
        assert owned_keys(conn, "stripe", "invoices") == {("in_1",)}
        assert owned_keys(conn, "stripe", "accounts") == {("in_1",)}


def test_release_forgets_keys_and_a_rolled_back_claim_leaves_nothing(store: Engine) -> None:
    with store.begin() as conn:
        claim_rows(conn, "crm", "accounts", [("A1",), ("A2",)])
        release_rows(conn, "crm", "accounts", [("A1",)])
        assert owned_keys(conn, "crm", "accounts") == {("A2",)}
    conn = store.connect()
    tx = conn.begin()
    claim_rows(conn, "crm", "accounts", [("A3",)])
    tx.rollback()
    conn.close()
    with store.connect() as conn:
        assert owned_keys(conn, "crm", "accounts") == {("A2",)}


def test_row_key_joins_parts_as_text() -> None:
    assert row_key(("A1", dt.date(2026, 2, 1), "core")) == "A1\x1f2026-02-01\x1fcore"


def test_record_load_upserts_one_row_per_table_and_source_in_utc(store: Engine) -> None:
    berlin_noon = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    with store.begin() as conn:
        record_load(conn, table="usage", source="warehouse", loaded_at=berlin_noon, rows=10)
        record_load(conn, table="usage", source="warehouse", loaded_at=dt.datetime(2026, 11, 30, 13), rows=3,
                    detail="sync 7")
        record_load(conn, table="accounts", source="import", loaded_at=dt.datetime(2026, 11, 29), rows=2)
    with store.connect() as conn:
        loads = table_loads(conn)
    assert [(x.table, x.source, x.loaded_at, x.rows, x.detail) for x in loads] == [
        ("accounts", "import", dt.datetime(2026, 11, 29), 2, None),
        ("usage", "warehouse", dt.datetime(2026, 11, 30, 13), 3, "sync 7"),
    ]
    assert berlin_noon.astimezone(dt.UTC).hour == 11


def test_csv_import_records_each_table_load(store: Engine, tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text("account_id,name,signed_up_at\nA1,Acme,2026-01-05\nA2,Beta,2026-02-01\n")
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    import_paths(store, [tmp_path])
    with store.connect() as conn:
        (load,) = table_loads(conn)
    assert (load.table, load.source, load.rows) == ("accounts", "import", 2)
    assert load.detail == str((tmp_path / "accounts.csv").resolve())
    assert before <= load.loaded_at <= dt.datetime.now(dt.UTC).replace(tzinfo=None)
