"""The digest, risk warnings and chart as Slack data (bot/render/digest_blocks.py, bot/render/chart.py): pure."""

from __future__ import annotations

import datetime as dt
import json
import re
import struct
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.models.blocks import Block, DividerBlock

from bot.render.blocks import blocks_json
from bot.render.chart import compact, digest_chart
from bot.render.digest_blocks import (
    ACK_ACTION,
    DISMISS_ACTION,
    LATE_NOTE,
    SNOOZE_ACTION,
    AlertState,
    digest_blocks,
    digest_text,
    not_a_risk_modal,
    risk_alert_blocks,
    risk_alert_text,
)
from kpi_core.digest import DigestContent, Mover, RenewalDue
from kpi_core.periods import Period
from kpi_core.risk import AtRisk, FiredRule
from kpi_core.types import AccountRef, PreviousValue, Scope
from tests.test_render_blocks import EVIL, EVIL_ESCAPED, account_health, buttons, check_slack_json, joined, kpi_result

WEEK = Period(dt.date(2026, 11, 16), dt.date(2026, 11, 22), "week 47 of 2026", "week")
PREV = Period(dt.date(2026, 11, 9), dt.date(2026, 11, 15), "week 46 of 2026", "week")
TODAY = dt.date(2026, 11, 23)
AT = dt.datetime(2026, 11, 23, 10, 15)


# ------------------------------------------------------------------------------------------------ builders


def result(kpi="nps", name="NPS", value=42.0, previous=38.0, unit="score", **kw):
    r = kpi_result(value, previous, unit=unit, name=name, **kw)
    return replace(r, kpi=kpi, period=WEEK, previous=PreviousValue(previous, PREV))


def risky(i: int, name: str = "Acme", rule_text: str = "health is red (21)") -> AtRisk:
    return AtRisk(account_health(f"{name} {i}", f"A-{i:04d}", 21.0, "red", owner=f"U{i:06d}"),
                  (FiredRule("red_band", rule_text),
                   FiredRule("detractor", "a detractor NPS response in the last 30 days (score 3, on 2026-11-18)")))


def renewal(i: int, name: str = "Acme") -> RenewalDue:
    return RenewalDue(AccountRef(f"R-{i:04d}", f"{name} {i}"), f"U{i:06d}", TODAY + dt.timedelta(days=i % 31),
                      1200.0 + i, "yellow")


def series(n: int = 12, start: float = 10.0):
    return tuple((WEEK.end - dt.timedelta(weeks=n - 1 - i), start + i) for i in range(n))


def content(at_risk=3, renewals=3, movers=2, name="Acme", rule_text="health is red (21)", results=None,
            chart=None) -> DigestContent:
    results = results if results is not None else (
        result("customers", "Customer count", 82.0, 80.0, "count"),
        result("mrr", "Monthly recurring revenue", 236667.67, 230000.0, "money"),
        result("churn", "Customer churn rate", 2.5, 3.8, "%", higher_is_better=False),
        result("nps", "Net Promoter Score", None, 38.0, reason="no NPS responses in this period"),
    )
    return DigestContent(
        title="Weekly digest: week 47 of 2026 (2026-11-16 – 2026-11-22)",
        period=WEEK,
        cadence="week",
        results=tuple(results),
        series=chart if chart is not None else {"customers": series(), "mrr": series(start=230000.0)},
        newly_at_risk=tuple(risky(i, name, rule_text) for i in range(at_risk)),
        renewals=tuple(renewal(i, name) for i in range(renewals)),
        movers=tuple(Mover(AccountRef(f"M-{i}", f"{name} mover {i}"), f"U{i:06d}", 70.0, 70.0 - 10 + i * 3)
                     for i in range(movers)),
        today=TODAY,
    )


def check(blocks: list[Block]) -> list[dict]:
    """Slack's limits (dividers aside, which carry no text), as checked for every other answer."""
    assert len(blocks) <= 50
    check_slack_json([b for b in blocks if not isinstance(b, DividerBlock)])
    return blocks_json(blocks)


def sections(data: list[dict]) -> list[str]:
    return [raw["text"]["text"] for raw in data if raw["type"] == "section"]


# -------------------------------------------------------------------------------------------------- digest


def test_digest_shows_each_kpi_with_value_delta_and_sample():
    data = check(digest_blocks(content()))
    assert data[0] == {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                                  "text": "Weekly digest: week 47 of 2026 (2026-11-16 – 2026-11-22)"}}
    lines = sections(data)[0].splitlines()
    assert lines == [
        ":large_green_circle: *Customer count*: *82* ▲ +2.0 (was 80) · 120 responses",
        ":large_green_circle: *Monthly recurring revenue*: *$236,667.67* ▲ +$6,667.67 (was $230,000.00)"
        " · 120 responses",
        ":large_green_circle: *Customer churn rate*: *2.5%* ▼ -1.3 pts (was 3.8%) · 120 responses",
        ":white_circle: *Net Promoter Score*: no data — no NPS responses in this period",
    ]
    assert "each compared with the week before · Scope: all accounts" in joined(data, {"context"})
    assert LATE_NOTE not in json.dumps(data, ensure_ascii=False)


def test_delayed_digest_says_it_is_late():
    data = check(digest_blocks(content(), delayed=True))
    assert "posted late: the bot was down at the scheduled time" in joined(data, {"context"})
    assert data[0]["type"] == "header"


def test_digest_lists_accounts_with_owner_mentions():
    data = check(digest_blocks(content()))
    text = joined(data, {"section"})
    assert "*:rotating_light: Newly at risk (3)*" in text
    assert ("• *Acme 0* — 21/100 :red_circle: red — <@U000000> — health is red (21); a detractor NPS response in "
            "the last 30 days (score 3, on 2026-11-18)") in text
    assert "*:calendar: Renewals in the next 30 days (3)*" in text
    assert "• 2026-11-23 (today) *Acme 0* — $1,200.00 MRR — :large_yellow_circle: yellow — <@U000000>" in text
    assert "• 2026-11-24 (tomorrow) *Acme 1*" in text and "• 2026-11-25 (in 2 days) *Acme 2*" in text
    assert "• :arrow_down: *-10.0* *Acme mover 0* 70.0 → 60.0 — <@U000000>" in text
    assert "• :arrow_down: *-7.0* *Acme mover 1* 70.0 → 63.0 — <@U000001>" in text
    assert "more" not in text


def test_empty_lists_say_none():
    data = check(digest_blocks(content(0, 0, 0)))
    text = joined(data, {"section"})
    assert "*:rotating_light: Newly at risk:* none this week" in text
    assert "*:calendar: Renewals in the next 30 days:* none" in text
    assert "no change this week" in text


def test_300_accounts_at_risk_and_300_renewals_stay_within_slack_limits():
    huge = content(300, 300, 5, name="Very Long Account Name " * 12, rule_text="health fell a lot " * 300)
    data = check(digest_blocks(huge, delayed=True))
    assert len(data) <= 50
    assert all(len(s) <= 3000 for s in sections(data))
    text = joined(data, {"section"})
    assert "Newly at risk (300)" in text and "_…and 290 more (`/atrisk` lists them all)_" in text
    assert "Renewals in the next 30 days (300)" in text and "_…and 290 more renewals_" in text
    # each shown account keeps its owner mention even when its line is clipped
    for i in range(10):
        assert f"<@U{i:06d}>" in text
    assert "<@U000010>" not in text.split("Renewals in")[0]


def test_many_kpis_with_long_names_stay_within_limits():
    results = [result(f"k{i}", "Name " * 200, reason="why " * 300, value=None) for i in range(60)]
    data = check(digest_blocks(content(300, 300, 5, results=results), delayed=True))
    assert len(data) <= 50
    assert "more lines not shown" in joined(data, {"context"})


def test_data_text_is_escaped_everywhere():
    evil = content(2, 2, 2, name=EVIL, rule_text=EVIL,
                   results=[result("nps", EVIL, None, 3.0, reason=EVIL), result("csat", EVIL, 4.0, 3.0)])
    evil = replace(evil, title=f"Weekly digest: {EVIL}", scope=Scope(segment=EVIL, owner="U0OWNER"))
    data = check(digest_blocks(evil, delayed=True))
    dumped = json.dumps(data, ensure_ascii=False)
    assert "<!channel>" not in dumped and EVIL_ESCAPED in dumped
    assert re.findall(r"<[^@]", dumped) == []  # the only raw "<" are mentions built from user ids
    assert "<!channel>" not in digest_text(evil)


def test_owner_that_is_not_a_user_id_is_not_a_mention():
    c = content(1, 1, 1)
    c = replace(c, renewals=(replace(c.renewals[0], owner="<!here>"),))
    dumped = json.dumps(check(digest_blocks(c)), ensure_ascii=False)
    assert "<!here>" not in dumped and "&lt;!here&gt;" in dumped


def test_digest_text_is_a_short_notification():
    text = digest_text(content())
    assert text.startswith("Weekly digest: week 47 of 2026 (2026-11-16 – 2026-11-22). Customer count 82, ")
    assert text.endswith("3 newly at risk, 3 renewals in the next 30 days")
    assert digest_text(content(1, 1)).endswith("1 newly at risk, 1 renewal in the next 30 days")
    long = content(results=[result("x", "N" * 5000)])
    assert len(digest_text(long)) <= 300


# ------------------------------------------------------------------------------------------- risk warnings


def test_risk_alert_names_the_account_rules_and_owner_with_three_buttons():
    item = risky(7)
    data = check(risk_alert_blocks(item, alert_value="alert-42"))
    first = sections(data)[0].splitlines()
    assert first == [":rotating_light: *Acme 7* (`A-0007`) is at risk — 21/100 :red_circle: red",
                     "<@U000007>, this account needs a look"]
    assert sections(data)[1].splitlines() == [
        "*Why:*", "• health is red (21)",
        "• a detractor NPS response in the last 30 days (score 3, on 2026-11-18)"]
    assert [(b["action_id"], b["value"], b["text"]["text"]) for b in buttons(data)] == [
        (ACK_ACTION, "alert-42", "Acknowledge"), (SNOOZE_ACTION, "alert-42", "Snooze 7 days"),
        (DISMISS_ACTION, "alert-42", "Not a risk")]
    assert "Worse since the last alert" not in json.dumps(data)
    assert risk_alert_text(item) == ("At risk: Acme 7 (21/100, red): health is red (21); a detractor NPS response "
                                     "in the last 30 days (score 3, on 2026-11-18)")


def test_repeat_alert_says_it_got_worse():
    data = check(risk_alert_blocks(risky(1), alert_value="v", repeat=True))
    assert "Worse since the last alert" in joined(data, {"context"})


@pytest.mark.parametrize(("state", "line"), [
    (AlertState("acknowledged", "U0BOSS", AT), ":white_check_mark: Acknowledged by <@U0BOSS> on 2026-11-23 10:15 UTC"),
    (AlertState("acknowledged", "U0BOSS", dt.datetime(2026, 11, 23, 11, 15, tzinfo=ZoneInfo("Europe/Berlin"))),
     ":white_check_mark: Acknowledged by <@U0BOSS> on 2026-11-23 10:15 UTC"),
    (AlertState("snoozed", "U0BOSS", AT, until=dt.date(2026, 11, 30)), ":zzz: Snoozed by <@U0BOSS> until 2026-11-30"),
    (AlertState("snoozed", "U0BOSS", AT), ":zzz: Snoozed by <@U0BOSS> until 2026-11-30"),
    (AlertState("dismissed", "U0BOSS", AT, reason=f"planned migration {EVIL}"),
     f":no_entry_sign: Marked not a risk by <@U0BOSS>: planned migration {EVIL_ESCAPED}"),
    (AlertState("dismissed", "U0BOSS", AT), ":no_entry_sign: Marked not a risk by <@U0BOSS>"),
])
def test_alert_state_replaces_the_buttons(state, line):
    data = check(risk_alert_blocks(risky(1), alert_value="v", state=state))
    assert buttons(data) == []
    state_block = next(raw for raw in data if raw["type"] == "context" and "by <@U0BOSS>" in json.dumps(raw))
    texts = [e["text"] for e in state_block["elements"]]
    assert texts[0] == line
    if state.action != "acknowledged":
        assert texts[1] == "on 2026-11-23 10:15 UTC"
    assert "<!channel>" not in json.dumps(data)


def test_alert_edge_cases():
    with pytest.raises(ValueError, match="unknown alert action"):
        AlertState("ignored", "U1", AT)
    with pytest.raises(ValueError, match="button value"):
        risk_alert_blocks(risky(1), alert_value="x" * 2001)
    no_owner = AtRisk(account_health(EVIL, "A-1", None, None, owner=None), (FiredRule("detractor", EVIL * 400),))
    data = check(risk_alert_blocks(no_owner, alert_value="v", state=AlertState("dismissed", "U1", AT, "x" * 5000)))
    dumped = json.dumps(data, ensure_ascii=False)
    assert "No owner on record" in dumped and "<!channel>" not in dumped and "–/100 :white_circle: unscored" in dumped
    assert len(risk_alert_text(no_owner)) <= 300 and "<!channel>" not in risk_alert_text(no_owner)
    huge = AtRisk(account_health(EVIL * 80, EVIL * 20, owner="U0OWNER"), (FiredRule("detractor", EVIL * 400),))
    first = sections(check(risk_alert_blocks(huge, alert_value="v")))[0]
    assert first.endswith("\n<@U0OWNER>, this account needs a look")


def test_not_a_risk_modal_asks_for_a_required_reason():
    view = not_a_risk_modal("alert-42")
    assert json.loads(json.dumps(view)) == view
    assert view["type"] == "modal" and view["callback_id"] == "risk_dismiss_reason"
    assert view["private_metadata"] == "alert-42"
    assert len(view["title"]["text"]) <= 24 and view["submit"]["text"] and view["close"]["text"]
    [block] = view["blocks"]
    assert block["type"] == "input" and block["block_id"] == "reason" and block.get("optional") is False
    element = block["element"]
    assert (element["type"], element["action_id"], element["max_length"]) == ("plain_text_input", "reason", 500)
    with pytest.raises(ValueError):
        not_a_risk_modal("x" * 3001)


# --------------------------------------------------------------------------------------------------- chart


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_chart_is_a_png_of_preview_size(n):
    chart = {f"k{i}": series(start=10.0 ** i) for i in range(n)}
    results = [result(f"k{i}", f"KPI number {i}", unit=("money", "%", "count", "score", "days", "index")[i])
               for i in range(n)]
    png = digest_chart(content(results=results, chart=chart))
    assert png is not None and png.startswith(b"\x89PNG")
    assert png_size(png) == (1200, 675)
    assert 10_000 < len(png) < 1_000_000


def test_chart_with_gaps_and_a_single_point():
    points = tuple((day, None if i % 3 else float(i)) for i, (day, _) in enumerate(series()))
    single = tuple((day, 5.0 if i == 11 else None) for i, (day, _) in enumerate(series()))
    png = digest_chart(content(chart={"customers": points, "mrr": single}))
    assert png is not None and png_size(png) == (1200, 675)


def test_chart_is_none_without_data():
    assert digest_chart(content(chart={})) is None
    empty = tuple((day, None) for day, _ in series())
    assert digest_chart(content(chart={"customers": empty, "mrr": empty})) is None


def test_chart_is_deterministic():
    assert digest_chart(content()) == digest_chart(content())


@pytest.mark.parametrize(("value", "unit", "text"), [
    (236667.67, "money", "$236.7k"), (1_500_000, "money", "$1.5M"), (950, "money", "$950"), (98.76, "%", "98.8%"),
    (82, "count", "82"), (12_345, "count", "12.3k"), (28.57, "score", "28.6"), (-3.0, "money", "-$3"),
])
def test_compact_numbers(value, unit, text):
    assert compact(value, unit) == text
