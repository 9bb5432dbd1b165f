"""Slack Block Kit rendering (bot/render/blocks.py), tested as data: real kpi_core answers in, Slack JSON out."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.render.blocks import (
    PICK_ACCOUNT_ACTION,
    SHARE_ACTION,
    ambiguous_blocks,
    answer_blocks,
    answer_text,
    apology_blocks,
    blocks_json,
    clip,
    error_blocks,
    escape,
    shared_blocks,
)
from kpi_core.answers import AtRiskAnswer, CatalogAnswer, HealthAnswer, KpiAnswer, OverviewAnswer
from kpi_core.catalog import KpiDef, catalog
from kpi_core.health import AccountHealth, ComponentScore, HealthOverview
from kpi_core.periods import ACCEPTED_FORMS, Period
from kpi_core.risk import AtRisk, FiredRule
from kpi_core.types import AccountRef, AmbiguousAccountError, KpiResult, Measure, PreviousValue, Scope

AS_OF = dt.date(2026, 10, 14)
EVIL = "<!channel> & co"
EVIL_ESCAPED = "&lt;!channel&gt; &amp; co"
Q3 = Period(dt.date(2026, 7, 1), dt.date(2026, 9, 30), "last quarter (Q3 2026)", "quarter")
Q2 = Period(dt.date(2026, 4, 1), dt.date(2026, 6, 30), "Q2 2026", "quarter")


# ------------------------------------------------------------------------------------------------ builders


def kpi_result(value: float | None = 42.0, previous: float | None = 38.0, *, unit: str = "score",
               higher_is_better: bool = True, reason: str | None = None, scope: Scope = Scope(),
               breakdown: dict[str, Any] | None = None, name: str = "NPS") -> KpiResult:
    return KpiResult(
        kpi="nps", name=name, unit=unit, higher_is_better=higher_is_better, period=Q3, scope=scope, value=value,
        sample=0 if value is None else 120, sample_label="responses",
        breakdown={"promoters": 60, "passives": 36, "detractors": 24} if breakdown is None else breakdown,
        reason=reason, previous=PreviousValue(previous, Q2),
        formula="% promoters (9-10) - % detractors (0-6), score >= 9 & <= 10",
    )


def component(name: str, score: float | None, weight: float, detail: str) -> ComponentScore:
    return ComponentScore(name, score, weight, detail, {})


def account_health(name: str = "Acme Corp", account_id: str = "A-001", score: float | None = 53.0,
                   band: str | None = "yellow", owner: str | None = "U0OWNER", *, detail: str = "usage down 40%",
                   trend: tuple = ()) -> AccountHealth:
    return AccountHealth(
        account=AccountRef(account_id, name), owner=owner, segment="enterprise", as_of=AS_OF, score=score, band=band,
        components=(
            component("engagement", 30.0, 0.3125, detail),
            component("sentiment", 70.0, 0.25, "NPS 40 from 10 responses (2 detractors)"),
            component("support", 60.0, 0.25, "2 open tickets"),
            component("revenue", None, 0.0, "no MRR in the last 3 months"),
            component("lifecycle", 50.0, 0.1875, "renews in 30 days (2026-11-13)"),
        ),
        missing=("revenue",),
        drivers=(f"engagement: {detail}", "support: 2 open tickets"),
        trend=trend,
    )


def health_answer(**kw: Any) -> HealthAnswer:
    trend = tuple(zip((AS_OF - dt.timedelta(weeks=w) for w in (3, 2, 1, 0)), (71.0, 68.0, 60.0, 53.0), strict=True))
    return HealthAnswer("/health", account_health(trend=trend, **kw))


def overview_answer(name: str = "Acme Corp") -> OverviewAnswer:
    lowest = tuple(account_health(f"{name} {i}", f"A-{i:03d}", 10.0 + i, "red") for i in range(10))
    overview = HealthOverview(AS_OF, 61.4, 240, {"green": 120, "yellow": 80, "red": 30, "unscored": 10}, lowest)
    return OverviewAnswer("/health", overview, Scope(segment="enterprise"))


def at_risk_answer(n: int, name: str = "Acme Corp", rule_text: str = "health is red (21)") -> AtRiskAnswer:
    accounts = tuple(
        AtRisk(account_health(f"{name} {i}", f"A-{i:04d}", 20.0, "red", owner=f"U{i:06d}"),
               (FiredRule("red_band", rule_text),
                FiredRule("detractor", "a detractor NPS response in the last 30 days")))
        for i in range(n)
    )
    return AtRiskAnswer("/atrisk", AS_OF, Scope(), accounts)


def catalog_answer(focus: str | None = None) -> CatalogAnswer:
    kpis = tuple(catalog().all())
    return CatalogAnswer("/kpi list", kpis, catalog().get(focus) if focus else None)


def all_answers(name: str = "Acme Corp") -> dict[str, Any]:
    account = AccountRef("A-001", name)
    return {
        "kpi": KpiAnswer("/nps", kpi_result(scope=Scope(account=account, owner="U0OWNER"))),
        "kpi_no_data": KpiAnswer("/nps", kpi_result(None, 38.0, reason="no NPS responses in this period")),
        "health": health_answer(name=name),
        "overview": overview_answer(name),
        "at_risk": at_risk_answer(3, name),
        "at_risk_none": AtRiskAnswer("/atrisk", AS_OF, Scope(), ()),
        "catalog": catalog_answer(),
        "catalog_focus": catalog_answer("nps"),
    }


# -------------------------------------------------------------------------------- what Slack accepts, as data

TEXT_TYPES = {"plain_text", "mrkdwn"}


def _text(obj: dict, limit: int, plain_only: bool = False) -> str:
    assert obj["type"] in ({"plain_text"} if plain_only else TEXT_TYPES), obj
    assert isinstance(obj["text"], str) and obj["text"], obj
    assert len(obj["text"]) <= limit, (len(obj["text"]), obj["text"][:80])
    return obj["text"]


def check_slack_json(blocks: list[Block]) -> list[dict]:
    """The JSON of `blocks`, checked against Slack's Block Kit rules for the block types we use."""
    assert len(blocks) <= 50
    data = blocks_json(blocks)
    assert json.loads(json.dumps(data)) == data
    for raw in data:
        assert Block.parse(raw).to_dict() == raw  # slack_sdk reads back exactly what we send
        kind = raw["type"]
        if kind == "header":
            _text(raw["text"], 150, plain_only=True)
        elif kind == "section":
            assert "text" in raw or "fields" in raw
            if "text" in raw:
                _text(raw["text"], 3000)
            fields = raw.get("fields", [])
            assert len(fields) <= 10
            for f in fields:
                _text(f, 2000)
        elif kind == "context":
            assert 1 <= len(raw["elements"]) <= 10
            for e in raw["elements"]:
                _text(e, 3000)
        elif kind == "actions":
            assert 1 <= len(raw["elements"]) <= 25
            ids = [e["action_id"] for e in raw["elements"]]
            assert len(set(ids)) == len(ids)
            for e in raw["elements"]:
                assert e["type"] == "button"
                _text(e["text"], 75, plain_only=True)
                assert 0 < len(e["action_id"]) <= 255
                assert len(e["value"]) <= 2000
        else:
            pytest.fail(f"unexpected block type {kind}")
    return data


def texts(data: list[dict], kinds: set[str] | None = None) -> list[str]:
    """Every text in the JSON blocks (of the given block types)."""
    out = []
    for raw in data:
        if kinds and raw["type"] not in kinds:
            continue
        if "text" in raw:
            out.append(raw["text"]["text"])
        out.extend(f["text"] for f in raw.get("fields", []))
        for e in raw.get("elements", []):
            out.append(e["text"]["text"] if e["type"] == "button" else e["text"])
    return out


def joined(data: list[dict], kinds: set[str] | None = None) -> str:
    return "\n".join(texts(data, kinds))


def buttons(data: list[dict]) -> list[dict]:
    return [e for raw in data if raw["type"] == "actions" for e in raw["elements"]]


# -------------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("key", list(all_answers()))
def test_every_answer_renders_as_slack_json(key):
    answer = all_answers()[key]
    data = check_slack_json(answer_blocks(answer, share_value='{"t":"/nps","d":"2026-10-14"}'))
    assert data[0]["type"] == "header"
    check_slack_json(shared_blocks(answer, "U123"))
    assert answer_text(answer)


def test_kpi_answer_shows_value_period_delta_sample_breakdown_and_formula():
    answer = KpiAnswer("/nps", kpi_result(42.0, 38.0, scope=Scope(segment="smb")))
    data = check_slack_json(answer_blocks(answer))
    assert data[0]["text"]["text"] == "NPS"
    main = data[1]["text"]["text"]
    assert "*42.0*" in main
    assert "last quarter (Q3 2026) (2026-07-01 – 2026-09-30)" in main
    assert "▲ +4.0" in main and "38.0 in Q2 2026 (2026-04-01 – 2026-06-30)" in main
    assert "Sample: 120 responses" in main
    assert [f["text"] for f in data[2]["fields"]] == ["*promoters*\n60", "*passives*\n36", "*detractors*\n24"]
    context = data[-1]["elements"][0]["text"]
    assert "score &gt;= 9 &amp; &lt;= 10" in context and "segment smb" in context


def test_money_and_percent_values():
    money = check_slack_json(answer_blocks(KpiAnswer("/mrr", kpi_result(1234.0, 1000.0, unit="money"))))
    assert "*$1,234.00*" in money[1]["text"]["text"] and "▲ +$234.00" in money[1]["text"]["text"]
    pct = check_slack_json(answer_blocks(KpiAnswer("/churn", kpi_result(4.25, 5.0, unit="%"))))
    assert "*4.2%*" in pct[1]["text"]["text"] or "*4.3%*" in pct[1]["text"]["text"]
    assert "▼ -0.8 pts" in pct[1]["text"]["text"]


@pytest.mark.parametrize(("value", "previous", "higher_is_better", "arrow", "emoji"), [
    (42.0, 38.0, True, "▲ +4.0", ":large_green_circle:"),
    (34.0, 38.0, True, "▼ -4.0", ":red_circle:"),
    (42.0, 38.0, False, "▲ +4.0", ":red_circle:"),
    (34.0, 38.0, False, "▼ -4.0", ":large_green_circle:"),
])
def test_delta_arrow_and_good_or_bad_colour(value, previous, higher_is_better, arrow, emoji):
    data = check_slack_json(answer_blocks(KpiAnswer("/x", kpi_result(value, previous,
                                                                     higher_is_better=higher_is_better))))
    line = next(ln for ln in data[1]["text"]["text"].splitlines() if " vs " in ln)
    assert line.startswith(f"{emoji} *{arrow}*")
    other = ":red_circle:" if emoji == ":large_green_circle:" else ":large_green_circle:"
    assert other not in line


def test_no_change_and_no_comparison():
    same = check_slack_json(answer_blocks(KpiAnswer("/x", kpi_result(38.0, 38.0))))
    assert "▶ no change" in same[1]["text"]["text"]
    assert ":red_circle:" not in same[1]["text"]["text"] and ":large_green_circle:" not in same[1]["text"]["text"]
    no_prev = check_slack_json(answer_blocks(KpiAnswer("/x", kpi_result(42.0, None))))
    assert "No comparison (no data in the previous period)" in no_prev[1]["text"]["text"]
    assert "▲" not in no_prev[1]["text"]["text"]


def test_no_data_shows_the_reason():
    answer = KpiAnswer("/nps", kpi_result(None, 38.0, reason="no NPS responses from <@U9> & others"))
    data = check_slack_json(answer_blocks(answer))
    main = data[1]["text"]["text"]
    assert main.splitlines()[0] == "No data: no NPS responses from &lt;@U9&gt; &amp; others"
    assert "Sample: 0 responses" in main
    assert "no data this period" in main
    assert answer_text(answer) == "NPS, last quarter (Q3 2026): no data"


def test_answer_text_is_a_short_notification():
    assert answer_text(KpiAnswer("/nps", kpi_result(42.0, 38.0))) == "NPS, last quarter (Q3 2026): 42.0 (▲ +4.0)"
    assert answer_text(health_answer()) == "Health of Acme Corp: 53/100 (yellow)"
    assert answer_text(at_risk_answer(3)) == "3 customers at risk"
    assert answer_text(at_risk_answer(0)) == "No customer at risk"
    long = KpiAnswer("/x", kpi_result(name="N" * 5000))
    assert len(answer_text(long)) <= 300


def test_breakdown_fields_stay_within_ten():
    answer = KpiAnswer("/x", kpi_result(breakdown={f"part_{i}": i for i in range(25)}))
    data = check_slack_json(answer_blocks(answer))
    fields = data[2]["fields"]
    assert len(fields) == 10
    assert fields[0]["text"] == "*part 0*\n0" and fields[-1]["text"] == "_…and 16 more_"


def test_health_card():
    data = check_slack_json(answer_blocks(health_answer()))
    all_text = joined(data)
    assert data[0]["text"]["text"] == "Health of Acme Corp"
    assert "*53/100*" in data[1]["text"]["text"] and ":large_yellow_circle: *YELLOW*" in data[1]["text"]["text"]
    fields = [raw for raw in data if raw.get("fields")][0]["fields"]
    assert fields[0]["text"] == "*engagement*: 30 (weight 31%)\nusage down 40%"
    assert "*revenue*: missing (weight 0%)" in fields[3]["text"]
    # each driver with its component's score, so a rising but low component is not read as "pulling it down"
    assert "*Costing it the most points:*\n• engagement 30/100: usage down 40%\n• support 60/100: 2 open tickets" \
        in all_text
    assert "No data for: revenue" in all_text
    assert "71 → 68 → 60 → 53" in all_text
    # the owner is mentioned in the context line and nowhere else
    assert "<@U0OWNER>" in joined(data, {"context"})
    assert "U0OWNER" not in joined(data, {"header", "section"})


@pytest.mark.parametrize(("band", "emoji"), [("green", ":large_green_circle:"), ("yellow", ":large_yellow_circle:"),
                                             ("red", ":red_circle:"), (None, ":white_circle:")])
def test_health_band_colour(band, emoji):
    data = check_slack_json(answer_blocks(health_answer(band=band, score=None if band is None else 50.0)))
    assert emoji in data[1]["text"]["text"]


def test_health_owner_that_is_not_a_user_id_is_not_a_mention():
    data = check_slack_json(answer_blocks(health_answer(owner="<!here>")))
    assert "&lt;!here&gt;" in joined(data) and "<!here>" not in json.dumps(data)


def test_overview_lists_bands_and_ten_lowest():
    data = check_slack_json(answer_blocks(overview_answer()))
    all_text = joined(data)
    assert "*Mean health 61.4* over 240 customers" in all_text
    assert ":large_green_circle: green 120" in all_text and ":red_circle: red 30" in all_text
    assert "unscored 10" in all_text
    assert "*10 lowest customers*" in all_text
    assert "1. *Acme Corp 0* — 10 :red_circle: red — engagement: usage down 40%" in all_text
    assert "10. *Acme Corp 9* — 19" in all_text
    assert "segment enterprise" in joined(data, {"context"})


def test_at_risk_one_section_per_account_with_rules_and_owner():
    data = check_slack_json(answer_blocks(at_risk_answer(3)))
    sections = [raw["text"]["text"] for raw in data if raw["type"] == "section"]
    assert len(sections) == 3
    assert sections[0].splitlines() == [
        ":red_circle: *Acme Corp 0* (`A-0000`) — 20/100 red",
        "• health is red (21)",
        "• a detractor NPS response in the last 30 days",
        "Owner: <@U000000>",
    ]
    assert data[0]["text"]["text"] == "3 customers at risk, worst first"


def test_at_risk_stays_within_50_blocks_with_500_accounts():
    answer = at_risk_answer(500, name="Very Long Name " * 20, rule_text="fell a lot " * 400)
    for blocks in (answer_blocks(answer, share_value="v"), shared_blocks(answer, "U123")):
        data = check_slack_json(blocks)
        sections = [raw for raw in data if raw["type"] == "section"]
        assert len(sections) == 20
        assert all(s["text"]["text"].endswith(f"Owner: <@U{i:06d}>") for i, s in enumerate(sections))
        assert "…and 480 more at risk" in joined(data, {"context"})


def test_no_customer_at_risk():
    data = check_slack_json(answer_blocks(at_risk_answer(0)))
    assert data[0]["text"]["text"] == "No customer at risk"


def test_full_catalog_fits_and_lists_every_kpi():
    answer = catalog_answer()
    data = check_slack_json(answer_blocks(answer, share_value="v"))
    all_text = joined(data)
    for k in answer.kpis:
        assert f"`{k.id}` — *{escape(k.name)}* — {escape(k.formula)}" in all_text
    assert len([raw for raw in data if raw["type"] == "section"]) >= 2  # 27 formulas do not fit in 3000 chars


def test_huge_catalog_stays_within_limits():
    real = catalog().all()[0]
    kpis = tuple(KpiDef(f"kpi_{i}", f"KPI {i}", "x" * 2500, real.unit, True, (), "rows", real.compute)
                 for i in range(300))
    data = check_slack_json(answer_blocks(CatalogAnswer("/kpi list", kpis), share_value="v"))
    assert "more lines not shown" in joined(data, {"context"})


def test_catalog_focus_is_one_kpis_help():
    k = catalog().get("nps")
    data = check_slack_json(answer_blocks(catalog_answer("nps")))
    assert data[0]["text"]["text"] == escape(k.name)
    assert f"*Formula:* {escape(k.formula)}" in data[1]["text"]["text"]
    assert "Higher is better" in data[1]["text"]["text"]


def test_share_button_only_with_share_value():
    answer = all_answers()["kpi"]
    with_share = check_slack_json(answer_blocks(answer, share_value='{"t":"/nps acme","d":"2026-10-14"}'))
    assert [(b["action_id"], b["value"], b["text"]["text"]) for b in buttons(with_share)] == [
        (SHARE_ACTION, '{"t":"/nps acme","d":"2026-10-14"}', "Share in channel")]
    assert buttons(check_slack_json(answer_blocks(answer))) == []


def test_share_value_too_long_for_a_button_leaves_the_answer_without_it():
    data = check_slack_json(answer_blocks(all_answers()["kpi"], share_value="x" * 2001))
    assert buttons(data) == []
    assert "cannot be shared" in joined(data, {"context"})


@pytest.mark.parametrize("key", list(all_answers()))
def test_shared_blocks_name_the_sharer_and_have_no_button(key):
    data = check_slack_json(shared_blocks(all_answers()[key], "U123"))
    assert buttons(data) == []
    assert "Shared by <@U123>" in joined(data, {"context"})
    assert texts(data)[:2] == texts(blocks_json(answer_blocks(all_answers()[key])))[:2]


@pytest.mark.parametrize("key", list(all_answers()))
def test_data_text_is_escaped_everywhere(key):
    answer = all_answers(EVIL)[key]
    for data in (blocks_json(answer_blocks(answer, share_value="v")), blocks_json(shared_blocks(answer, "U123"))):
        dumped = json.dumps(data, ensure_ascii=False)
        assert "<!channel>" not in dumped
        # the only raw "<" left are mentions we built ourselves
        assert re.findall(r"<[^@]", dumped) == []
        if key not in {"kpi_no_data", "catalog", "catalog_focus", "at_risk_none"}:
            assert EVIL_ESCAPED in dumped
    assert "<!channel>" not in answer_text(answer)


def test_account_name_escaped_in_header_and_notification():
    answer = health_answer(name=EVIL)
    data = check_slack_json(answer_blocks(answer))
    assert data[0]["text"]["text"] == f"Health of {EVIL_ESCAPED}"
    assert answer_text(answer) == f"Health of {EVIL_ESCAPED}: 53/100 (yellow)"


def test_escape():
    assert escape("<!channel> & co") == "&lt;!channel&gt; &amp; co"
    assert escape("a &amp; b") == "a &amp;amp; b"
    assert escape("plain *bold* `code`") == "plain *bold* `code`"


def test_clip_never_cuts_an_entity_or_a_mention():
    assert clip("abc", 3) == "abc"
    assert clip("x" * 10, 5) == "xxxx…"
    assert clip("ab &amp; cd", 6) == "ab …"
    assert clip("ab <@U123> cd", 8) == "ab …"
    assert clip("ab &amp; cd", 10) == "ab &amp; …"


def test_error_blocks_show_message_and_usage_safely_truncated():
    data = check_slack_json(error_blocks("No account matches '<!here>'.", ACCEPTED_FORMS))
    assert data[0]["text"]["text"] == ":warning: No account matches '&lt;!here&gt;'."
    assert data[1]["text"]["text"].startswith("```\nAccepted periods")
    long_usage = "\n".join(f"  form {i}: " + "y" * 150 for i in range(400)) + "\n" + "z" * 9000
    data = check_slack_json(error_blocks("bad <period>\n" + "w" * 7000, long_usage))
    assert len(data) <= 50
    usage = [raw["text"]["text"] for raw in data if raw["text"]["text"].startswith("```")]
    assert usage and all(u.endswith("```") and u.count("```") == 2 for u in usage)
    assert "more in `/kpi help`" in usage[-1]
    assert error_blocks("plain")[0].text.text == ":warning: plain"
    assert len(error_blocks("plain")) == 1


def test_error_usage_cannot_close_our_code_block():
    data = check_slack_json(error_blocks("bad", "use ```this``` & <that>"))
    assert data[1]["text"]["text"] == "```\nuse this &amp; &lt;that&gt;\n```"


def test_error_usage_in_a_code_block_has_no_literal_backticks():
    data = check_slack_json(error_blocks("bad", "Usage: `/nps [period]`, `/kpi list`"))
    assert data[1]["text"]["text"] == "```\nUsage: /nps [period], /kpi list\n```"


def test_ambiguous_blocks_one_button_per_candidate():
    candidates = [AccountRef("A-001", "Acme Corp"), AccountRef("A-002", "Acme Labs"), AccountRef("A-003", EVIL)]
    error = AmbiguousAccountError("acme", candidates)
    values = [f'{{"t":"/health \\"A-00{i}\\"","d":"2026-10-14"}}' for i in (1, 2, 3)]
    data = check_slack_json(ambiguous_blocks(error, values))
    assert "Which one did you mean?" in data[0]["text"]["text"]
    assert [(b["action_id"], b["value"], b["text"]["text"]) for b in buttons(data)] == [
        (f"{PICK_ACCOUNT_ACTION}_0", values[0], "Acme Corp (A-001)"),
        (f"{PICK_ACCOUNT_ACTION}_1", values[1], "Acme Labs (A-002)"),
        (f"{PICK_ACCOUNT_ACTION}_2", values[2], f"{EVIL_ESCAPED} (A-003)"),
    ]
    assert "<!channel>" not in json.dumps(data)


def test_ambiguous_blocks_limits_and_mismatch():
    error = AmbiguousAccountError("a", [AccountRef(f"A-{i}", "N" * 200) for i in range(3)])
    with pytest.raises(ValueError):
        ambiguous_blocks(error, ["v1"])
    data = check_slack_json(ambiguous_blocks(error, ["v", "x" * 2001, "w"]))
    assert [b["action_id"] for b in buttons(data)] == [f"{PICK_ACCOUNT_ACTION}_0", f"{PICK_ACCOUNT_ACTION}_2"]
    assert "type the account id" in joined(data, {"context"})
    assert "`A-1`" in data[0]["text"]["text"]


def test_apology_carries_the_request_id():
    data = check_slack_json(apology_blocks("abc123def456"))
    assert "Something went wrong on our side" in data[0]["text"]["text"]
    assert "`abc123def456`" in data[0]["text"]["text"]


def test_real_measure_reason_flows_through():
    measure = Measure(None, 0, {}, "no revenue data for September 2026")
    result = kpi_result(measure.value, None, reason=measure.reason, breakdown=measure.breakdown)
    data = check_slack_json(answer_blocks(KpiAnswer("/mrr", result)))
    assert data[1]["text"]["text"].startswith("No data: no revenue data for September 2026")
    assert all(raw["type"] != "section" or "fields" not in raw for raw in data)
