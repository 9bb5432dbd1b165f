"""Churn risk (kpi_core.risk): each rule fires alone on crafted data, and not just below its threshold.

Runs on SQLite and Postgres. As of AS_OF = 2026-03-31 (UTC); default health weights (engagement .30,
sentiment .20, support .15, revenue .20, lifecycle .15), re-scaled over the components with data.
Sentiment = (NPS + 100) / 2 when only NPS responses exist; lifecycle = mean of the renewal part
(50 + 50 x days left / 90 within 90 days) and the time-to-value part (100 when reached).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event

from kpi_core.config import HealthConfig, KpiConfig
from kpi_core.risk import (
    RULE_IDS,
    AtRisk,
    at_risk,
    detractor_rule,
    health_drop_rule,
    renewal_rule,
    usage_drop_rule,
)
from kpi_core.stored_health import forget
from kpi_core.types import Scope
from tests.kpi_helpers import UTC_CONFIG, account, d, load, survey, usage

AS_OF = d("2026-03-31")


def day(days_back: int) -> str:
    return (AS_OF - dt.timedelta(days=days_back)).isoformat()


def at(days_back: int, time: str = "10:00:00") -> str:
    return f"{day(days_back)}T{time}"


def customer(account_id: str, **extra) -> dict:
    return account(account_id, signed="2025-01-01", customer="2025-01-01", **extra)


def nps(account_id: str, scores: list[int], days_back: int, prefix: str = "") -> list[dict]:
    return [survey(f"{account_id}{prefix}-{days_back}-{i}", account_id, "nps", s, at(days_back))
            for i, s in enumerate(scores)]


def risky(store, config: KpiConfig = UTC_CONFIG, scope: Scope = Scope()) -> dict[str, AtRisk]:
    with store.connect() as conn:
        return {r.health.account.id: r for r in at_risk(conn, AS_OF, config, scope)}


def rule_ids(item: AtRisk) -> list[str]:
    return [r.id for r in item.rules]


# ------------------------------------------------------------------------------------------------- red band


def test_red_band_fires_below_the_yellow_threshold_only(store):
    # sentiment only: NPS (1 - 1) / 2 = 0 -> 50, the same 14 days ago (responses 60 days old)
    load(store, accounts=[customer("s")], surveys=nps("s", [10, 0], 60))
    red_at_50 = KpiConfig("UTC", 1.0, HealthConfig({}, 70, 50.1))
    found = risky(store, red_at_50)
    assert rule_ids(found["s"]) == ["red_band"]
    assert found["s"].rules[0].text == "health is red (50)"
    assert risky(store, KpiConfig("UTC", 1.0, HealthConfig({}, 70, 50))) == {}  # 50 is yellow: no rule


# ---------------------------------------------------------------------------------------------- health drop


@pytest.mark.parametrize("promoters,fires", [(3, True), (2, False)])
def test_health_drop_over_14_days(store, promoters, fires):
    # Responses 185 days old count 14 days ago (171 days back then) but not now (outside 180 days).
    # now: 10 and 0 (40 days old, outside the detractor window) -> NPS 0 -> 50
    # 14 days ago with `promoters` promoters and 8 - promoters passives on top:
    #   3 -> 100 x (4 - 1) / 10 = 30 -> 65: fell 15 points (fires)
    #   2 -> 100 x (3 - 1) / 10 = 20 -> 60: fell 10 points (does not)
    old = [10] * promoters + [8] * (8 - promoters)
    load(store, accounts=[customer("h")], surveys=nps("h", [10, 0], 40) + nps("h", old, 185))
    found = risky(store)
    if fires:
        assert rule_ids(found["h"]) == ["health_drop"]
        assert found["h"].rules[0].text == "health fell 15 points in 14 days (65 -> 50)"
        assert found["h"].health.score == 50.0
    else:
        assert found == {}


def test_health_drop_rule_threshold():
    assert health_drop_rule(55.0, 70.0).text == "health fell 15 points in 14 days (70 -> 55)"
    assert health_drop_rule(55.1, 70.0) is None          # 14.9 points
    assert health_drop_rule(53.0, 71.0).text == "health fell 18 points in 14 days (71 -> 53)"
    assert health_drop_rule(40.2, 55.2) is not None      # 15.0 despite float noise (55.2 - 40.2 = 15.000000000000004)
    assert health_drop_rule(40.3, 55.2) is None
    assert health_drop_rule(None, 80.0) is None and health_drop_rule(50.0, None) is None
    assert health_drop_rule(80.0, 60.0) is None          # a rise


# ------------------------------------------------------------------------------------------------ detractor


@pytest.mark.parametrize("score,when,fires", [
    (6, at(29, "00:00:00"), True),    # 6 is a detractor; as_of - 29 is the first day of the 30
    (0, at(0, "23:59:59"), True),
    (7, at(29, "00:00:00"), False),   # 7 is a passive
    (6, at(30, "23:59:59"), False),   # 31 days ago
])
def test_detractor_in_the_last_30_days(store, score, when, fires):
    # 9 promoters 60 days ago + the response: NPS 80 -> 90 (or 90 -> 95 with a 7); lifecycle 100
    # score = (.2 x 90 + .15 x 100) / .35 = 94.3: green, and the same 14 days ago: no other rule
    load(store, accounts=[customer("p", first_value_at="2025-02-01")],
         surveys=nps("p", [10] * 9, 60) + [survey("x", "p", "nps", score, when)])
    found = risky(store)
    if fires:
        assert rule_ids(found["p"]) == ["detractor"]
        assert found["p"].rules[0].text == (
            f"a detractor NPS response in the last 30 days (score {score}, on {when[:10]})")
        assert found["p"].health.band == "green"
    else:
        assert found == {}


def test_detractor_rule_words():
    assert detractor_rule(0) is None
    assert detractor_rule(2, 3, d("2026-03-20")).text == (
        "2 detractor NPS responses in the last 30 days (lowest 3, latest 2026-03-20)")


# ----------------------------------------------------------------------------------------------- usage drop


@pytest.mark.parametrize("recent_users,fires", [(50, True), (51, False)])
def test_active_users_down_half(store, recent_users, fires):
    # previous 30 days: 100 users, 1 event each (45 days ago); last 30 days: `recent_users` of them, 2 events each
    # 50 users: down 50% (fires); 51: down 49% (does not).
    # engagement: trend 100 (100 or 102 events vs 100), breadth 50/100 or 51/100 -> 75 or 75.5: green;
    # 14 days ago the score was 0 (nothing in its last 30 days), so no drop either
    rows = [usage("u", f"p{i}", at(45)) for i in range(100)]
    rows += [usage("u", f"p{i}", at(5, t)) for i in range(recent_users) for t in ("10:00:00", "11:00:00")]
    load(store, accounts=[customer("u")], usage=rows)
    found = risky(store)
    if fires:
        assert rule_ids(found["u"]) == ["usage_drop"]
        assert found["u"].rules[0].text == "active users down 50% vs the previous 30 days (100 -> 50)"
        assert found["u"].health.score == 75.0
    else:
        assert found == {}


def test_usage_drop_needs_users_in_the_previous_window(store):
    # users only in the last 30 days, and users only 70 days ago (not in the previous 30 days)
    load(store, accounts=[customer("new", first_value_at="2025-02-01"), customer("old", first_value_at="2025-02-01")],
         usage=[usage("new", "a", at(3)), usage("old", "a", at(70)), usage("old", "b", at(70))])
    found = risky(store)
    assert "new" not in found
    assert rule_ids(found["old"]) == ["red_band"]  # engagement 0, lifecycle 100: (0 + 15) / .45 = 33.3


def test_usage_drop_rule_threshold():
    assert usage_drop_rule(1, 2).text == "active users down 50% vs the previous 30 days (2 -> 1)"
    assert usage_drop_rule(50, 100) is not None
    assert usage_drop_rule(51, 100) is None  # 49%
    assert usage_drop_rule(0, 3) is not None
    assert usage_drop_rule(5, 0) is None and usage_drop_rule(0, 0) is None


# -------------------------------------------------------------------------------------------------- renewal


@pytest.mark.parametrize("days_left,fires,score", [
    # sentiment 50 (NPS 0); lifecycle = (renewal part + ttv 100) / 2; score = (.2 x 50 + .15 x lifecycle) / .35
    (60, True, 67.9),   # renewal 50 + 50 x 60/90 = 83.33 -> lifecycle 91.67 -> (10 + 13.75) / .35 = 67.86
    (0, True, 60.7),    # renewal day: 50 -> lifecycle 75 -> (10 + 11.25) / .35 = 60.71
    (61, False, 68.0),  # 83.89 -> 91.94 -> 67.98: yellow but 61 days away
    (-1, False, 71.4),  # renewal date passed: no renewal part; lifecycle 100 -> 71.4
])
def test_renewal_within_60_days_and_not_green(store, days_left, fires, score):
    load(store, accounts=[customer("r", renewal_date=day(-days_left), first_value_at="2025-02-01")],
         surveys=nps("r", [10, 0], 60))
    found = risky(store)
    if fires:
        assert rule_ids(found["r"]) == ["renewal_not_green"]
        when = "today" if days_left == 0 else f"in {days_left} days"
        assert found["r"].rules[0].text == f"renews {when} ({day(-days_left)}) and health is yellow ({score:g})"
        assert found["r"].health.score == score
    else:
        assert found == {}


def test_renewal_soon_but_green_is_not_at_risk(store):
    # sentiment 100 (one promoter), renewal in 30 days: lifecycle (66.67 + 100) / 2 = 83.3
    # score (.2 x 100 + .15 x 83.33) / .35 = 92.9: green
    load(store, accounts=[customer("g", renewal_date=day(-30), first_value_at="2025-02-01")],
         surveys=nps("g", [10], 60))
    assert risky(store) == {}


def test_renewal_rule_threshold():
    assert renewal_rule(60, AS_OF, "red", 20.0).text == "renews in 60 days (2026-05-30) and health is red (20)"
    assert renewal_rule(1, AS_OF, "yellow", 50.0).text == "renews in 1 day (2026-04-01) and health is yellow (50)"
    assert renewal_rule(61, AS_OF, "yellow", 50.0) is None
    assert renewal_rule(10, AS_OF, "green", 90.0) is None
    assert renewal_rule(-1, AS_OF, "red", 10.0) is None
    assert renewal_rule(None, AS_OF, "red", 10.0) is None


# ------------------------------------------------------------------------------- customers, order and scope


@pytest.fixture
def three_red(store):
    """A: NPS -40 -> 30, one detractor 3 days ago (red + detractor); B: NPS -60 -> 20; C: NPS -80 -> 10."""
    load(store, accounts=[
        customer("a", segment="ent", owner_slack_id="U1"),
        customer("b", segment="smb", owner_slack_id="U2"),
        customer("c", segment="ent", owner_slack_id="U2"),
    ], surveys=[
        *nps("a", [10, 8, 0, 0], 60), *nps("a", [5], 3),  # 14 days ago: 100 x (1 - 2) / 4 = -25 -> 37.5 (no drop)
        *nps("b", [0, 0, 0, 8, 8], 60),                   # 100 x (0 - 3) / 5 = -60 -> 20
        *nps("c", [0, 0, 0, 0, 8], 60),                   # 100 x (0 - 4) / 5 = -80 -> 10
    ])
    return store


def test_worst_first_most_rules_then_lowest_score(three_red):
    with three_red.connect() as conn:
        found = at_risk(conn, AS_OF, UTC_CONFIG)
    assert [(r.health.account.id, r.health.score, rule_ids(r)) for r in found] == [
        ("a", 30.0, ["red_band", "detractor"]),
        ("c", 10.0, ["red_band"]),
        ("b", 20.0, ["red_band"]),
    ]
    assert found[0].rules[1].text == "a detractor NPS response in the last 30 days (score 5, on 2026-03-28)"
    assert found[0].health.owner == "U1"
    assert {r.id for item in found for r in item.rules} <= set(RULE_IDS)


def test_scope_by_segment_and_owner(three_red):
    assert list(risky(three_red, scope=Scope(segment="ent"))) == ["a", "c"]
    assert list(risky(three_red, scope=Scope(owner="U2"))) == ["c", "b"]
    assert risky(three_red, scope=Scope(segment="nope")) == {}


def test_non_customers_are_never_at_risk(store):
    red = nps("x", [0, 0], 5)  # NPS -100 -> 0, and recent detractors
    load(store, accounts=[
        account("gone", signed="2025-01-01", customer="2025-01-01", churned="2026-03-01", renewal_date=day(-10)),
        account("prospect", signed="2026-01-01"),
        account("later", signed="2025-01-01", customer="2026-04-01"),
        customer("x"),
    ], surveys=[
        *red, *nps("gone", [0, 0], 5), *nps("prospect", [0, 0], 5), *nps("later", [0, 0], 5),
    ])
    found = risky(store)
    assert list(found) == ["x"]
    assert rule_ids(found["x"]) == ["red_band", "detractor"]
    assert found["x"].rules[1].text.startswith("2 detractor NPS responses in the last 30 days (lowest 0")


def test_at_risk_uses_a_fixed_number_of_queries(store):
    def count_queries() -> int:
        statements: list[str] = []
        forget()  # as a new process: no copy of the scoring in memory
        with store.connect() as conn:
            event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
            at_risk(conn, AS_OF, UTC_CONFIG)
        return len(statements)

    load(store, accounts=[customer("a0")], surveys=nps("a0", [0], 3))
    first = count_queries()
    ids = [f"b{i}" for i in range(20)]
    load(store, accounts=[customer(a) for a in ids], surveys=[s for a in ids for s in nps(a, [0], 3)],
         usage=[usage(a, "u", at(40)) for a in ids])
    # 8 for the health now, 8 for 14 days ago (5 scoring queries; the stored scoring: accounts to score, stored
    # rows, accounts in scope; one more each on Postgres: whether the transaction has writes), 1 detractors,
    # 1 cancellations
    assert count_queries() == first == (18 if store.dialect.name == "sqlite" else 20)
