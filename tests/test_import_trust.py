"""Imports never lose or mix data silently: only the header's columns are written, rows go only on request
(`replace`, `delete_accounts`), demo data and a team's data never share a store, a missing store is not
created, and owner_slack_id must be a Slack user id. Every test runs on SQLite and Postgres."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from storage.db import StoreMissingError, make_engine, open_existing_store, open_store
from storage.importer import CsvImportError, holds_demo_data, import_paths
from storage.models import Account, Survey, UsageEvent
from storage.removal import RemovalCancelled, RemovalPlan, delete_accounts
from tests.test_import import snapshot, table_rows, write_files

FULL = ("account_id,name,segment,owner_slack_id,signed_up_at,became_customer_at\n"
        "A1,Acme,enterprise,U0ANA,2026-01-05,2026-01-10\n"
        "A2,Beta,smb,U0BOB,2026-01-06,2026-02-01\n")
SURVEYS = "response_id,account_id,survey,score,responded_at\nr1,A2,nps,9,2026-03-01T10:00:00Z\n"
USAGE = "account_id,user_id,occurred_at,feature\nA1,u1,2026-03-01T10:00:00Z,api\nA2,u2,2026-03-02T10:00:00Z,api\n"


def imp(store, tmp_path: Path, files: dict[str, str], **kwargs):
    folder = tmp_path / uuid.uuid4().hex[:8]
    return import_paths(store, write_files(folder, files), **kwargs)


def accounts(store):
    with store.connect() as conn:
        return {r.account_id: r for r in conn.execute(select(Account))}


def test_three_column_reimport_keeps_segment_owner_and_lifecycle(store, tmp_path):
    imp(store, tmp_path, {"accounts.csv": FULL})
    imp(store, tmp_path, {"accounts.csv": "account_id,name,signed_up_at\nA1,Acme Corp,2026-01-05\n"})
    a1 = accounts(store)["A1"]
    assert (a1.name, a1.segment, a1.owner_slack_id, a1.became_customer_at) == (
        "Acme Corp", "enterprise", "U0ANA", dt.date(2026, 1, 10))


def test_an_empty_cell_in_a_present_column_clears(store, tmp_path):
    imp(store, tmp_path, {"accounts.csv": FULL})
    imp(store, tmp_path, {"accounts.csv": "account_id,name,segment,signed_up_at\nA1,Acme,,2026-01-05\n"})
    got = accounts(store)
    assert got["A1"].segment is None and got["A1"].owner_slack_id == "U0ANA"
    assert got["A2"].segment == "smb"  # not in the file: untouched


def test_new_rows_get_absent_columns_empty(store, tmp_path):
    imp(store, tmp_path, {"accounts.csv": FULL})
    imp(store, tmp_path, {"accounts.csv": "account_id,name,signed_up_at\nA3,Gamma,2026-03-01\n"})
    a3 = accounts(store)["A3"]
    assert (a3.segment, a3.became_customer_at) == (None, None)


def test_rules_judge_a_row_with_the_stored_values_of_absent_columns(store, tmp_path):
    imp(store, tmp_path, {"accounts.csv": FULL})
    before = snapshot(store)
    with pytest.raises(CsvImportError) as caught:
        imp(store, tmp_path, {"accounts.csv": "account_id,name,signed_up_at,churned_at\n"
                                              "A1,Acme,2026-01-05,2026-01-08\n"  # before the stored conversion
                                              "A9,New,2026-01-05,2026-02-01\n"})  # new: no conversion at all
    problems = caught.value.problems
    assert any("accounts.csv:2: churned_at: 2026-01-08 is not after became_customer_at 2026-01-10" in p
               for p in problems)
    assert any(p.startswith("accounts.csv:3: churned_at: is set but became_customer_at is empty") for p in problems)
    assert snapshot(store) == before
    # a churn date after the stored conversion is fine
    imp(store, tmp_path, {"accounts.csv": "account_id,name,signed_up_at,churned_at\nA1,Acme,2026-01-05,2026-06-01\n"})
    assert accounts(store)["A1"].churned_at == dt.date(2026, 6, 1)


def test_replace_deletes_absent_accounts_with_their_data_after_confirmation(store, tmp_path):
    imp(store, tmp_path, {"accounts.csv": FULL, "surveys.csv": SURVEYS, "usage.csv": USAGE})
    seen: list[RemovalPlan] = []

    def yes(plan: RemovalPlan) -> bool:
        seen.append(plan)
        return True

    imp(store, tmp_path, {"accounts.csv": "account_id,name,signed_up_at\nA1,Acme,2026-01-05\n"}, replace=True,
        confirm=yes)
    assert list(accounts(store)) == ["A1"]
    assert table_rows(store, Survey) == []
    assert [(r[0], r[1]) for r in table_rows(store, UsageEvent, skip=("id",))] == [("A1", "u1")]
    [plan] = seen
    assert plan.rows == {"accounts": 1} and plan.dependants["surveys"] == 1 and plan.dependants["usage"] == 1
    assert plan.describe() == ("This deletes 1 account (A2) and with them 1 survey response, 1 usage event.")


def test_refused_replace_changes_nothing(store, tmp_path):
    imp(store, tmp_path, {"accounts.csv": FULL, "surveys.csv": SURVEYS})
    before = snapshot(store)
    with pytest.raises(RemovalCancelled):
        imp(store, tmp_path, {"accounts.csv": "account_id,name,signed_up_at\nA1,Renamed,2026-01-05\n"},
            replace=True, confirm=lambda plan: False)
    assert snapshot(store) == before  # not even the rename of A1
    with pytest.raises(RemovalCancelled):  # no confirmation callback: never delete
        imp(store, tmp_path, {"accounts.csv": "account_id,name,signed_up_at\nA1,Acme,2026-01-05\n"}, replace=True)
    assert snapshot(store) == before


def test_replace_with_nothing_to_delete_needs_no_confirmation(store, tmp_path):
    imp(store, tmp_path, {"accounts.csv": FULL})
    imp(store, tmp_path, {"accounts.csv": FULL}, replace=True)  # would raise without a confirm if it deleted
    assert sorted(accounts(store)) == ["A1", "A2"]


def test_replace_usage_keeps_only_the_file(store, tmp_path):
    imp(store, tmp_path, {"accounts.csv": FULL, "usage.csv": USAGE})
    imp(store, tmp_path, {"usage.csv": "account_id,user_id,occurred_at\nA2,u9,2026-04-01T10:00:00Z\n"},
        replace=True, confirm=lambda plan: plan.rows == {"usage": 2})
    assert [(r[0], r[1]) for r in table_rows(store, UsageEvent, skip=("id",))] == [("A2", "u9")]


def test_delete_accounts(store, tmp_path):
    imp(store, tmp_path, {"accounts.csv": FULL, "surveys.csv": SURVEYS})
    with store.begin() as conn, pytest.raises(ValueError, match="no account with id 'nope'"):
        delete_accounts(conn, ["A2", "nope"], lambda plan: True)
    assert sorted(accounts(store)) == ["A1", "A2"]
    with store.begin() as conn:
        plan = delete_accounts(conn, ["A2"], lambda plan: True)
    assert plan.dependants["surveys"] == 1
    assert list(accounts(store)) == ["A1"] and table_rows(store, Survey) == []


def test_demo_data_and_team_data_never_mix(store, tmp_path):
    imp(store, tmp_path, {"accounts.csv": FULL}, demo=True)
    with store.connect() as conn:
        assert holds_demo_data(conn)
    with pytest.raises(CsvImportError, match="holds csbot's demo data.*Start clean"):
        imp(store, tmp_path, {"accounts.csv": FULL})
    imp(store, tmp_path, {"accounts.csv": FULL}, demo=True)  # the demo data may be loaded again


def test_team_store_refuses_the_demo_data(store, tmp_path):
    imp(store, tmp_path, {"accounts.csv": FULL})
    with pytest.raises(CsvImportError, match="holds your own data"):
        imp(store, tmp_path, {"accounts.csv": FULL}, demo=True)


def test_owner_must_be_a_slack_user_id(store, tmp_path):
    with pytest.raises(CsvImportError) as caught:
        imp(store, tmp_path, {"accounts.csv": "account_id,name,owner_slack_id,signed_up_at\n"
                                              "A1,Acme,jane@example.com,2026-01-05\nA2,Beta,jane,2026-01-05\n"
                                              "A3,Gamma,W0GRID1,2026-01-05\n"})
    first, second = caught.value.problems
    assert first.startswith("accounts.csv:2: owner_slack_id: 'jane@example.com' is an e-mail address")
    assert "owner_email" in first
    assert second.startswith("accounts.csv:3: owner_slack_id: 'jane' is not a Slack user id")


def test_missing_sqlite_store_is_an_error_and_not_created(tmp_path):
    path = tmp_path / "nothing-here.db"
    with pytest.raises(StoreMissingError, match="No csbot store at sqlite:///.*nothing-here.db: run `csbot import`"):
        open_existing_store(f"sqlite:///{path}")
    assert not path.exists()


def test_missing_postgres_store_is_an_error_and_nothing_is_created(pg_url):
    with pytest.raises(StoreMissingError, match="No csbot store at postgresql"):
        open_existing_store(pg_url)
    engine = make_engine(pg_url)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_existing_stores_open_on_both_engines(tmp_path, pg_url):
    for url in (f"sqlite:///{tmp_path}/made.db", pg_url):
        open_store(url).dispose()
        engine = open_existing_store(url)
        try:
            assert inspect(engine).has_table("accounts")
        finally:
            engine.dispose()
