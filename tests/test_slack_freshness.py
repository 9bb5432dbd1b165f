"""Freshness in Slack answers and `/kpi status`, at the wire (signed requests to the running app, answers read
from the Slack stand-in), on SQLite and Postgres."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert

from storage.db import head_revision
from storage.freshness import record_load
from storage.models import SourceRun
from tests.kpi_helpers import account, load, survey
from tests.slack_stack import _answer_text, running_stack


@pytest.fixture
def stack(store, monkeypatch):
    monkeypatch.delenv("CSBOT_SOURCES", raising=False)
    monkeypatch.delenv("CSBOT_IMPORT_STALE_AFTER", raising=False)
    monkeypatch.setenv("CSBOT_NOW", "2026-11-30T12:00:00Z")
    load(store, accounts=[account("acme", name="Acme Corp", customer="2025-02-01")],
         surveys=[survey("r1", "acme", "nps", 10, "2026-11-10T10:00:00")])
    with store.begin() as conn:
        record_load(conn, table="accounts", source="import", loaded_at=dt.datetime(2026, 11, 1), rows=1)
        record_load(conn, table="surveys", source="warehouse", loaded_at=dt.datetime(2026, 11, 28, 4, 2), rows=1)
        conn.execute(insert(SourceRun).values(
            source="warehouse", state="ok", started_at=dt.datetime(2026, 11, 28, 4, 2),
            finished_at=dt.datetime(2026, 11, 28, 4, 3), rows=1))
        conn.execute(insert(SourceRun).values(
            source="warehouse", state="failed", started_at=dt.datetime(2026, 11, 30, 4, 0),
            finished_at=dt.datetime(2026, 11, 30, 4, 1), error="warehouse:surveys: the SELECT failed: timeout"))
    with running_stack(store) as stack:
        yield stack


def test_an_answer_says_how_fresh_its_data_is_and_warns_when_stale_or_failed(stack) -> None:
    status, _, name, _ = stack.command("/nps", "2026-11")
    assert status == 200
    text = _answer_text(stack.answer(name))
    # nps reads the surveys table only (loaded by warehouse); times in UTC (CONFIG)
    assert "Data as of Sat 28 Nov 04:02, warehouse" in text and "import" not in text
    assert ":warning: *Stale data:* stale: surveys was last loaded Sat 28 Nov 04:02" in text
    assert ":x: *warehouse failed to sync at Mon 30 Nov 04:01: warehouse:surveys: the SELECT failed: timeout*" in text


def test_kpi_status_lists_sources_loads_and_schema(stack) -> None:
    status, _, name, _ = stack.command("/kpi", "status")
    assert status == 200
    message = stack.answer(name)
    assert message["response_type"] == "ephemeral"
    text = _answer_text(message)
    assert "warehouse (no longer in the sources file): FAILED Mon 30 Nov 2026 04:01: warehouse:surveys: the " \
           "SELECT failed: timeout; last success Sat 28 Nov 2026 04:02" in text
    assert "surveys: 1 row from warehouse, Sat 28 Nov 2026 04:02 (2 days ago)" in text
    assert f"Schema version: {head_revision()}" in text


def test_a_shared_answer_keeps_its_freshness_words(stack) -> None:
    import json

    _, _, name, _ = stack.command("/nps", "2026-11")
    share = next(e for b in stack.answer(name)["blocks"] if b["type"] == "actions" for e in b["elements"])
    status, _ = stack.click(share["action_id"], share["value"])
    assert status == 200
    blocks = stack.api.wait_for("chat.postMessage")[0].params["blocks"]
    text = json.dumps(blocks)
    assert "Data as of Sat 28 Nov 04:02, warehouse" in text and "Stale data" in text
    assert "Shared by" in json.dumps(blocks[-1])
