"""The trust fixes in Slack, at the wire (real app over HTTP on loopback, the Slack stand-in), SQLite and
Postgres: breakdowns, value lists, unknown scope values and period typos as ephemeral explanations."""

from __future__ import annotations

import json

import pytest

from tests.kpi_helpers import account, load, survey
from tests.slack_stack import running_stack


@pytest.fixture
def stack(store):
    load(store, accounts=[
        account("a1", segment="enterprise", owner_slack_id="U0ANA", customer="2025-02-01"),
        account("a2", segment="smb", owner_slack_id="U0BOB", customer="2025-02-01"),
    ], surveys=[survey("r1", "a1", "nps", 10, "2026-08-05T10:00:00"),
                survey("r2", "a2", "nps", 3, "2026-08-06T10:00:00")])
    with running_stack(store) as stack:
        yield stack


def _texts(message: dict) -> str:
    """Every section and context text of a message, as Slack shows them (not JSON-escaped)."""
    out = []
    for b in message.get("blocks", []):
        if b.get("text"):
            out.append(b["text"]["text"])
        out.extend(e.get("text", "") for e in b.get("elements", []) if isinstance(e.get("text"), str))
        out.extend(f["text"] for f in b.get("fields", []))
    return "\n".join(out)


def _ask(stack, command, text):
    status, _, name, _ = stack.command(command, text)
    assert status == 200
    return stack.answer(name)


def test_breakdown_and_value_lists_in_slack(stack):
    answer = _ask(stack, "/kpi", "nps 2026-Q3 by segment")
    text = _texts(answer)
    # enterprise: one promoter -> 100; smb: one detractor -> -100; both below 10 responses
    assert "• enterprise: *100.0* (n=1) (n=1, too few to compare)" in text
    assert "• smb: *-100.0* (n=1)" in text
    owners = _texts(_ask(stack, "/kpi", "owners"))
    assert "<@U0ANA>: 1 account" in owners and "<@U0BOB>: 1 account" in owners


def test_unknown_values_and_typos_are_explained_not_answered(stack):
    unknown = _texts(_ask(stack, "/nps", "segment:enterprize"))
    assert "No segment 'enterprize'. Known segments: enterprise, smb" in unknown
    typo = _ask(stack, "/nps", "lst-quarter")
    assert "Did you mean `last-quarter`?" in _texts(typo)
    code_blocks = [b["text"]["text"] for b in typo["blocks"] if b["type"] == "section"
                   and b["text"]["text"].startswith("```")]
    assert code_blocks and all("`" not in c.strip("`") for c in code_blocks)
    assert "response_type" not in typo or typo["response_type"] == "ephemeral"
    assert json.dumps(typo).count("share_answer") == 0
