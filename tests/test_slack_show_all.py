"""/atrisk past 20 accounts offers "Show all": the whole list as a CSV file sent by direct message, at the wire
(the real app over HTTP on loopback, the Slack stand-in), on SQLite and Postgres."""

from __future__ import annotations

import csv
import io

import pytest

from tests.kpi_helpers import account, load, survey
from tests.slack_stack import Stack, _answer_text, _stack, running_stack
from tests.slack_wire import FakeSlackApi


@pytest.fixture
def stack(store):
    # 25 customers, each with a detractor NPS response in the last 30 days: every one is at risk
    load(store, accounts=[account(f"a{i:02d}", name=f"Account {i:02d}", customer="2025-02-01") for i in range(25)],
         surveys=[survey(f"r{i}", f"a{i:02d}", "nps", 2, "2026-11-10T10:00:00") for i in range(25)])
    with running_stack(store) as stack:
        yield stack


def test_show_all_sends_the_whole_list_as_a_csv_by_dm(stack):
    _, _, name, _ = stack.command("/atrisk", "")
    answer = stack.answer(name)
    assert "25 customers at risk" in _answer_text(answer) and "Show all" in _answer_text(answer)
    show_all = next(e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]
                    if e["action_id"] == "show_all_at_risk")
    status, confirm = stack.click(show_all["action_id"], show_all["value"])
    assert status == 200
    assert "Sent you all 25 as a CSV file" in stack.answer(confirm)["text"]
    opened = stack.api.calls("conversations.open")
    assert [c.params["users"] for c in opened] == ["U0TEST001"]
    completed = stack.api.wait_for("files.completeUploadExternal")[0]
    assert completed.params["channel_id"].startswith("D")
    [content] = stack.api.uploads.values()
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    assert len(rows) == 25 and {r["account_id"] for r in rows} == {f"a{i:02d}" for i in range(25)}
    assert all("detractor" in r["rules"].split(" | ") for r in rows)


def test_twenty_or_fewer_have_no_show_all(store):
    load(store, accounts=[account("a1", customer="2025-02-01")],
         surveys=[survey("r1", "a1", "nps", 2, "2026-11-10T10:00:00")])
    with FakeSlackApi() as api:
        server, thread, base = _stack(store, api)
        try:
            s = Stack(f"{base}/slack/events", api, store)
            _, _, name, _ = s.command("/atrisk", "")
            assert "show_all_at_risk" not in _answer_text(s.answer(name))
        finally:
            server.close()
            thread.join(timeout=5)
