"""Health score (kpi_core.health and the `health` KPI): expected values worked out by hand.

Every test runs on SQLite and Postgres. Unless said otherwise the score is taken as of AS_OF = 2026-03-31
(UTC), so the windows are:
  last 30 days      [2026-03-02, 2026-03-31]   (as_of - 29 .. as_of)
  previous 30 days  [2026-01-31, 2026-03-01]   (as_of - 59 .. as_of - 30)
  seats             users active in [2026-01-01, 2026-03-31]  (as_of - 89 .. as_of)
  sentiment         [2025-10-03, 2026-03-31]   (as_of - 179 .. as_of)
  revenue months    2025-12 (m-3) .. 2026-03 (m0)
Default weights (defaults.yml): engagement .30, sentiment .20, support .15, revenue .20, lifecycle .15.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event

from kpi_core.config import DEFAULTS_FILE, HealthConfig, KpiConfig, load_config
from kpi_core.health import (
    HEALTH_HELP,
    AccountHealth,
    account_health,
    engagement_score,
    health_overview,
    revenue_score,
    score_accounts,
    sentiment_score,
    support_score,
)
from kpi_core.stored_health import forget
from kpi_core.types import AccountRef, Scope, UnknownAccountError
from tests.kpi_helpers import UTC_CONFIG, account, ask, d, load, revenue, survey, ticket, usage

AS_OF = d("2026-03-31")
BERLIN = KpiConfig("Europe/Berlin", 1.0, HealthConfig({}, 70, 40))


def day(days_back: int) -> str:
    """The ISO date `days_back` days before AS_OF."""
    return (AS_OF - dt.timedelta(days=days_back)).isoformat()


def at(days_back: int, time: str = "10:00:00") -> str:
    return f"{day(days_back)}T{time}"


def customer(account_id: str, **extra) -> dict:
    return account(account_id, signed="2025-01-01", customer="2025-01-01", **extra)


def events(account_id: str, user: str, days_back: int, n: int) -> list[dict]:
    return [usage(account_id, user, at(days_back)) for _ in range(n)]


def scored(store, config: KpiConfig = UTC_CONFIG, as_of: dt.date = AS_OF, **kw) -> dict[str, AccountHealth]:
    with store.connect() as conn:
        return {h.account.id: h for h in score_accounts(conn, as_of, config, **kw)}


def one(store, account_id: str, config: KpiConfig = UTC_CONFIG, with_trend: bool = False) -> AccountHealth:
    with store.connect() as conn:
        return account_health(conn, account_id, AS_OF, config, with_trend=with_trend)


def comp(health: AccountHealth, name: str):
    return health.component(name)


def assert_monotonic(values: list[float], *, increasing: bool) -> None:
    pairs = list(zip(values, values[1:], strict=False))
    if increasing:
        assert all(b >= a for a, b in pairs), values
    else:
        assert all(b <= a for a, b in pairs), values


# ------------------------------------------------------------------------------------------------ engagement


def test_engagement_hand_worked_and_words(store):
    load(store, accounts=[customer("a")], usage=[
        # previous 30 days: 5 users x 24 events = 120 events
        *[e for u in ("u1", "u2", "u3", "u4", "u5") for e in events("a", u, 45, 24)],
        # last 30 days: 30 + 20 + 15 = 65 events by 3 of those users
        *events("a", "u1", 10, 30), *events("a", "u2", 10, 20), *events("a", "u3", 11, 15),
        usage("a", "u9", at(-1)),  # the day after as_of: ignored
    ])
    h = one(store, "a")
    e = comp(h, "engagement")
    # trend = 100 x 65/120 = 54.1667; breadth = 100 x 3/5 = 60; 0.5 x 54.1667 + 0.5 x 60 = 57.083 -> 57.1
    assert e.score == 57.1
    assert e.facts["events_recent"] == 65 and e.facts["events_previous"] == 120
    assert e.facts["users_recent"] == 3 and e.facts["seats"] == 5
    assert "usage down 46% vs the previous 30 days (120 -> 65 events)" in e.detail
    assert "3 of 5 seats active" in e.detail
    # engagement is the only component with data: weight 1, score = engagement, yellow
    assert (h.score, h.band, e.weight) == (57.1, "yellow", 1.0)
    assert h.missing == ("sentiment", "support", "revenue", "lifecycle")


def test_engagement_zero_recent_usage_is_zero_not_missing(store):
    load(store, accounts=[customer("quiet"), customer("never")], usage=[
        *events("quiet", "u1", 70, 3),  # active 70 days ago (a seat), nothing in the last 60 days
    ])
    h = scored(store)
    assert comp(h["quiet"], "engagement").score == 0.0  # trend 0 (no events at all), breadth 0/1
    assert "no usage in the last 60 days" in comp(h["quiet"], "engagement").detail
    assert h["quiet"].score == 0.0 and h["quiet"].band == "red"
    assert comp(h["never"], "engagement").score is None  # no usage event ever: missing
    assert h["never"].score is None and h["never"].band is None
    # usage long ago (outside every window) still counts as "has usage": 0, not missing
    load(store, accounts=[customer("old")], usage=events("old", "u1", 400, 1))
    assert comp(scored(store)["old"], "engagement").score == 0.0


@pytest.mark.parametrize("previous", [1, 10, 40])
@pytest.mark.parametrize("new_users", [False, True], ids=["same-users", "new-users"])
def test_more_recent_usage_never_lowers_engagement(store, previous, new_users):
    """Accounts with the same history and 0, 1, 2, ... events in the last 30 days: scores never go down."""
    sizes = [0, 1, 2, 3, max(1, previous // 2), previous, previous + 1, 2 * previous, 5 * previous]
    sizes = sorted(set(sizes))
    rows, accounts = [], []
    for n in sizes:
        aid = f"a{n}"
        accounts.append(customer(aid))
        rows += [usage(aid, f"u{i % 4}", at(40)) for i in range(previous)]  # previous 30 days
        rows += [usage(aid, (f"n{i}" if new_users else f"u{i % 4}"), at(5)) for i in range(n)]
    load(store, accounts=accounts, usage=rows)
    h = scored(store)
    values = [comp(h[f"a{n}"], "engagement").score for n in sizes]
    assert_monotonic(values, increasing=True)
    assert values[0] == 0.0 and values[-1] > values[0]


def test_engagement_curve_is_monotonic_in_each_argument():
    grid = range(0, 12)
    for ep in grid:
        for seats in range(1, 8):
            for ur in range(0, seats + 1):
                assert_monotonic([engagement_score(er, ep, ur, seats) for er in grid], increasing=True)
            assert_monotonic([engagement_score(5, ep, ur, seats) for ur in range(seats + 1)], increasing=True)


def test_engagement_window_edges_follow_reporting_time_zone(store):
    # 2026-03-01T23:30Z is 2026-03-02 00:30 in Berlin: "last 30 days" there, "previous 30 days" in UTC.
    load(store, accounts=[customer("a")], usage=[usage("a", "u1", "2026-03-01T23:30:00")])
    utc = comp(one(store, "a"), "engagement").facts
    berlin = comp(one(store, "a", BERLIN), "engagement").facts
    assert (utc["events_recent"], utc["events_previous"]) == (0, 1)
    assert (berlin["events_recent"], berlin["events_previous"]) == (1, 0)


# ------------------------------------------------------------------------------------------------- sentiment


def test_sentiment_hand_worked(store):
    load(store, accounts=[customer("a")], surveys=[
        survey("1", "a", "nps", 10, at(10)), survey("2", "a", "nps", 9, at(100)), survey("3", "a", "nps", 3, at(179)),
        survey("4", "a", "csat", 5, at(1)), survey("5", "a", "csat", 4, at(2)),
        survey("6", "a", "csat", 2, at(3)), survey("7", "a", "csat", 1, at(4)),
        survey("8", "a", "nps", 0, at(180, "23:59:59")),  # as_of - 180: outside the 180 days
        survey("9", "a", "ces", 1, at(1)),                 # CES is not part of sentiment
    ])
    s = comp(one(store, "a"), "sentiment")
    # NPS = 100 x (2 - 1) / 3 = 33.33 -> (33.33 + 100) / 2 = 66.67; CSAT = 100 x 2/4 = 50
    # sentiment = (66.67 + 50) / 2 = 58.33 -> 58.3
    assert s.score == 58.3
    assert s.facts["nps"] == 33.3 and s.facts["csat_pct"] == 50.0 and s.facts["nps_responses"] == 3
    assert s.detail == "NPS 33 from 3 responses (1 detractor), CSAT 50% from 4 responses in the last 180 days"


@pytest.mark.parametrize("promoters,passives", [(0, 0), (1, 0), (3, 2), (10, 5)])
@pytest.mark.parametrize("with_csat", [False, True])
def test_more_detractors_never_raise_sentiment(store, promoters, passives, with_csat):
    counts = [0, 1, 2, 3, 5, 8]
    rows, accounts = [], []
    for k in counts:
        aid = f"a{k}"
        accounts.append(customer(aid))
        scores = [10] * promoters + [7] * passives + [4 if k % 2 else 0] * k
        rows += [survey(f"{aid}-{i}", aid, "nps", sc, at(20 + i)) for i, sc in enumerate(scores)]
        if with_csat:
            rows.append(survey(f"{aid}-c", aid, "csat", 5, at(3)))
    load(store, accounts=accounts, surveys=rows)
    h = scored(store)
    values = [comp(h[f"a{k}"], "sentiment").score for k in counts]
    values = [v for v in values if v is not None]  # 0 responses of any kind: missing
    assert_monotonic(values, increasing=False)


def test_sentiment_curve_never_rises_with_a_detractor():
    for n in range(0, 10):
        for p in range(0, n + 1):
            for det in range(0, n - p + 1):
                for cn, sat in ((0, 0), (4, 3)):
                    before = sentiment_score(n, p, det, cn, sat)
                    after = sentiment_score(n + 1, p, det + 1, cn, sat)
                    assert before is None or after <= before


# --------------------------------------------------------------------------------------------------- support


def test_support_hand_worked(store):
    load(store, accounts=[customer("a")], tickets=[
        ticket("t1", "a", at(3)),                                       # open, 3 days old
        ticket("t2", "a", at(21)),                                      # open, more than 7 days: open + slow
        ticket("t3", "a", at(58), at(54)),                              # resolved in 96h within 90 days: slow
        ticket("t4", "a", at(11), at(11, "11:00:00"), priority="urgent"),  # escalation of the last 30 days
        ticket("t5", "a", at(30), at(29), priority="normal"),          # 24h, normal: nothing
        ticket("t6", "a", at(300), at(290)),                            # slow but long ago: nothing
        ticket("t7", "a", at(5), at(-2)),                               # resolved after as_of: open at as_of
    ])
    s = comp(one(store, "a"), "support")
    # open = t1, t2, t7 = 3; slow = t2 (open > 7 days) + t3 (96h) = 2; escalations = t4 = 1
    # 100 - 10 x 3 - 15 x 2 - 20 x 1 = 20
    assert s.score == 20.0
    assert s.facts == {"open": 3, "open_over_7_days": 1, "resolved_over_72h": 1, "escalations": 1}
    assert s.detail == ("3 open tickets (1 open more than 7 days), 1 ticket resolved slower than 72h in the "
                        "last 90 days, 1 urgent/high ticket in the last 30 days")


def test_support_thresholds_72h_and_7_days(store):
    load(store, accounts=[customer("a"), customer("b"), customer("c")], tickets=[
        ticket("a1", "a", at(20, "10:00:00"), at(17, "10:00:00")),    # exactly 72h: not slow
        ticket("b1", "b", at(20, "10:00:00"), at(17, "10:00:01")),    # just over 72h: slow
        ticket("c1", "c", at(7, "23:00:00")),                          # opened on as_of - 7: open more than 7 days
        ticket("c2", "c", at(6, "00:00:00")),                          # opened on as_of - 6: not yet
    ])
    h = scored(store)
    assert comp(h["a"], "support").score == 100.0
    assert comp(h["b"], "support").score == 85.0
    assert comp(h["c"], "support").facts["open_over_7_days"] == 1
    assert comp(h["c"], "support").score == 100 - 20 - 15  # two open, one of them slow


def test_support_missing_only_without_any_ticket(store):
    load(store, accounts=[customer("none"), customer("old")], tickets=[ticket("t", "old", at(500), at(499))])
    h = scored(store)
    assert comp(h["none"], "support").score is None and "support" in h["none"].missing
    assert comp(h["old"], "support").score == 100.0
    assert comp(h["old"], "support").detail == "no open, slow or escalated tickets"


@pytest.mark.parametrize("kind", ["open", "open_slow", "resolved_slow", "escalation"])
def test_more_tickets_never_raise_support(store, kind):
    counts = [0, 1, 2, 3, 5, 8, 12]
    rows, accounts = [], []
    for k in counts:
        aid = f"a{k}"
        accounts.append(customer(aid))
        rows.append(ticket(f"{aid}-base", aid, at(40), at(40, "11:00:00")))  # a quick old ticket: history exists
        for i in range(k):
            tid = f"{aid}-{i}"
            rows.append({
                "open": ticket(tid, aid, at(2)),
                "open_slow": ticket(tid, aid, at(20)),
                "resolved_slow": ticket(tid, aid, at(30), at(20)),
                "escalation": ticket(tid, aid, at(4), at(4, "12:00:00"), priority="high"),
            }[kind])
    load(store, accounts=accounts, tickets=rows)
    h = scored(store)
    values = [comp(h[f"a{k}"], "support").score for k in counts]
    assert_monotonic(values, increasing=False)
    assert values[0] == 100.0 and values[-1] == 0.0


def test_support_curve_monotonic():
    for a in range(6):
        for b in range(6):
            assert_monotonic([support_score(a, b, e) for e in range(6)], increasing=False)
            assert_monotonic([support_score(a, e, b) for e in range(6)], increasing=False)
            assert_monotonic([support_score(e, a, b) for e in range(6)], increasing=False)


# --------------------------------------------------------------------------------------------------- revenue


def test_revenue_hand_worked(store):
    load(store, accounts=[customer("a"), customer("b")], revenue=[
        revenue("a", "2025-11", 5000),  # m-4: outside the window
        revenue("a", "2025-12", 1000), revenue("a", "2026-01", 1200), revenue("a", "2026-02", 1000),
        revenue("a", "2026-03", 500), revenue("a", "2026-03", 300, product="addon"),  # m0 = 800 over 2 products
        revenue("b", "2026-02", 0),    # only zero MRR: missing
    ])
    h = scored(store)
    r = comp(h["a"], "revenue")
    # g = 800/1000 = 0.8 -> trend 75 + 125 x (0.8 - 1) = 50; drawdown from the peak 1200 = 400/1200 = 1/3
    # revenue = 50 - 50/3 = 33.33 -> 33.3
    assert r.score == 33.3
    assert r.detail == "MRR down 20% over 3 months (1,000 -> 800); 33% below its 3-month peak (1,200)"
    assert r.facts["mrr_now"] == 800.0 and r.facts["mrr_peak"] == 1200.0
    assert comp(h["b"], "revenue").score is None


@pytest.mark.parametrize("start,middle", [(100, 100), (1000, 1500), (1000, 0), (0, 400)])
def test_mrr_growth_never_lowers_revenue(store, start, middle):
    ends = [0, 50, 100, 400, 900, 1000, 1100, 1200, 1500, 5000]
    rows, accounts = [], []
    for end in ends:
        aid = f"a{end}"
        accounts.append(customer(aid))
        rows += [revenue(aid, "2025-12", start), revenue(aid, "2026-01", middle), revenue(aid, "2026-02", middle)]
        rows.append(revenue(aid, "2026-03", end))
    load(store, accounts=accounts, revenue=rows)
    h = scored(store)
    values = [comp(h[f"a{end}"], "revenue").score for end in ends]
    values = [v for v in values if v is not None]
    assert_monotonic(values, increasing=True)
    assert values[-1] == 100.0


def test_revenue_curve_points():
    assert revenue_score(1000, 1000, 1000) == 75.0   # flat
    assert revenue_score(1000, 1200, 1200) == 100.0  # +20%
    assert revenue_score(1000, 400, 1000) == 0.0     # -60%: 75 - 75 = 0, and drawdown
    assert revenue_score(0, 500, 500) == 100.0       # new MRR
    assert revenue_score(0, 0, 300) == 0.0           # all gone


# ------------------------------------------------------------------------------------------------- lifecycle


def test_lifecycle_hand_worked(store):
    load(store, accounts=[
        customer("soon", renewal_date=day(-45), first_value_at="2025-02-01"),
        customer("far", renewal_date="2026-12-31"),  # ttv not reached after 454 days as a customer
        account("new", signed="2026-03-01", customer="2026-03-15", renewal_date="2027-03-15"),
        customer("nothing"),
        customer("passed", renewal_date="2026-01-01"),  # renewal date in the past: only ttv (not reached)
    ])
    h = scored(store)
    # renews in 45 days: 50 + 50 x 45/90 = 75; ttv reached = 100 -> 87.5
    assert comp(h["soon"], "lifecycle").score == 87.5
    assert comp(h["soon"], "lifecycle").detail == "renews in 45 days (2026-05-15); time to value reached on 2025-02-01"
    # renewal more than 90 days away = 100; ttv not reached after the first 30 days = 0 -> 50
    assert comp(h["far"], "lifecycle").score == 50.0
    assert "time to value not reached after 454 days as a customer" in comp(h["far"], "lifecycle").detail
    # customer for 16 days: onboarding, ttv part 50 -> (100 + 50) / 2 = 75
    assert comp(h["new"], "lifecycle").score == 75.0
    assert comp(h["nothing"], "lifecycle").score is None
    assert comp(h["passed"], "lifecycle").score == 0.0
    assert comp(h["passed"], "lifecycle").facts["days_to_renewal"] is None


# --------------------------------------------------------------------------------------------- re-weighting


@pytest.fixture
def two_components(store):
    """Engagement 75 and sentiment 50, nothing else."""
    load(store, accounts=[customer("a")], usage=[
        *events("a", "u1", 40, 10), *events("a", "u1", 5, 5),  # trend 100 x 5/10 = 50, breadth 1/1 = 100 -> 75
    ], surveys=[survey("1", "a", "nps", 10, at(60)), survey("2", "a", "nps", 0, at(61))])  # NPS 0 -> 50
    return store


def test_missing_components_are_left_out_and_weights_rescaled(two_components):
    defaults = load_config(DEFAULTS_FILE)
    for config in (defaults, UTC_CONFIG):  # UTC_CONFIG has no weights: the defaults apply
        h = one(two_components, "a", config)
        # weights .30 and .20 scaled to sum 1: .6 and .4 -> .6 x 75 + .4 x 50 = 45 + 20 = 65
        assert h.score == 65.0
        assert h.missing == ("support", "revenue", "lifecycle")
        assert {c.name: c.weight for c in h.components} == {
            "engagement": 0.6, "sentiment": 0.4, "support": 0.0, "revenue": 0.0, "lifecycle": 0.0}
        assert (comp(h, "engagement").score, comp(h, "sentiment").score) == (75.0, 50.0)


def test_custom_weights_from_config(two_components):
    custom = KpiConfig("UTC", 1.0, HealthConfig({"engagement": 1, "sentiment": 4, "revenue": 5}, 70, 40))
    h = one(two_components, "a", custom)
    # engagement 1 and sentiment 4 -> .2 and .8; revenue has weight but no data -> 0.2 x 75 + 0.8 x 50 = 55
    assert h.score == 55.0
    only_engagement = KpiConfig("UTC", 1.0, HealthConfig({"engagement": 1}, 70, 40))
    h = one(two_components, "a", only_engagement)
    assert h.score == 75.0  # sentiment has data but weight 0: not counted, not missing
    assert comp(h, "sentiment").weight == 0.0 and "sentiment" not in h.missing


def test_all_components_hand_worked(store):
    load(store, accounts=[customer("a", renewal_date=day(-45), first_value_at="2025-02-01")],
         usage=[*events("a", "u1", 40, 10), *events("a", "u1", 5, 5)],                       # engagement 75
         surveys=[survey("1", "a", "nps", 10, at(60)), survey("2", "a", "nps", 0, at(61)),
                  survey("3", "a", "csat", 4, at(60))],                                        # (50 + 100) / 2 = 75
         tickets=[ticket("t1", "a", at(20), priority="urgent")],                               # 100-10-15-20 = 55
         revenue=[revenue("a", "2025-12", 1000), revenue("a", "2026-03", 800)],                # 50 - 50 x .2 = 40
         )
    h = one(store, "a")
    assert [c.score for c in h.components] == [75.0, 75.0, 55.0, 40.0, 87.5]  # lifecycle as in the test above
    # .3 x 75 + .2 x 75 + .15 x 55 + .2 x 40 + .15 x 87.5 = 22.5 + 15 + 8.25 + 8 + 13.125 = 66.875 -> 66.9
    assert (h.score, h.band, h.missing) == (66.9, "yellow", ())


# ----------------------------------------------------------------------------------------------------- bands


def test_band_thresholds_on_health_config():
    config = HealthConfig({}, 70, 40)
    assert [config.band(s) for s in (70, 69.9, 40, 39.9)] == ["green", "yellow", "yellow", "red"]
    stricter = HealthConfig({}, 80, 50)
    assert [stricter.band(s) for s in (70, 69.9, 40, 39.9)] == ["yellow", "yellow", "red", "red"]


def test_bands_at_thresholds_from_data(store):
    # engagement-only accounts; breadth = 100 with one seat, 50 with one of two seats active
    load(store, accounts=[customer(a) for a in ("s70", "s69_9", "s40", "s39_9")], usage=[
        *events("s70", "u1", 40, 10), *events("s70", "u1", 5, 4),          # 0.5 x 40 + 0.5 x 100 = 70
        *events("s69_9", "u1", 40, 1000), *events("s69_9", "u1", 5, 398),  # 0.5 x 39.8 + 50 = 69.9
        *events("s40", "u1", 40, 5), *events("s40", "u2", 40, 5), *events("s40", "u1", 5, 3),  # 15 + 25 = 40
        *events("s39_9", "u1", 40, 500), *events("s39_9", "u2", 40, 500),
        *events("s39_9", "u1", 5, 298),                                     # 0.5 x 29.8 + 25 = 39.9
    ])
    custom = KpiConfig("UTC", 1.0, HealthConfig({"engagement": 1.0}, 70, 40))
    h = scored(store, custom)
    assert [(h[a].score, h[a].band) for a in ("s70", "s69_9", "s40", "s39_9")] == [
        (70.0, "green"), (69.9, "yellow"), (40.0, "yellow"), (39.9, "red")]
    other = KpiConfig("UTC", 1.0, HealthConfig({"engagement": 1.0}, 69.9, 39.9))
    h = scored(store, other)
    assert [h[a].band for a in ("s70", "s69_9", "s40", "s39_9")] == ["green", "green", "yellow", "yellow"]


# --------------------------------------------------------------------------------------------------- drivers


def test_drivers_name_the_weakest_components_in_words(store):
    load(store, accounts=[customer("a", first_value_at="2025-02-01")],
         usage=[*events("a", "u1", 45, 120), *events("a", "u1", 3, 30), *events("a", "u2", 70, 1)],
         surveys=[survey("1", "a", "nps", 2, at(60)), survey("2", "a", "nps", 10, at(61))],
         tickets=[ticket("t", "a", at(100), at(99))],
         revenue=[revenue("a", "2025-12", 100), revenue("a", "2026-03", 100)])
    h = one(store, "a")
    # engagement: trend 100 x 30/120 = 25, breadth 1/2 = 50 -> 37.5, pull .3 x 62.5 = 18.75
    # sentiment: NPS 0 -> 50, pull .2 x 50 = 10; revenue flat 75, pull .2 x 25 = 5
    # support 100 and lifecycle 100 (ttv reached, no renewal date): pull 0, never drivers
    assert [c.score for c in h.components] == [37.5, 50.0, 100.0, 75.0, 100.0]
    assert h.drivers == (
        "engagement: usage down 75% vs the previous 30 days (120 -> 30 events); 1 of 2 seats active in the "
        "last 30 days",
        "sentiment: NPS 0 from 2 responses (1 detractor) in the last 180 days",
        "revenue: MRR flat over 3 months (100 -> 100)",
    )


def test_drivers_leave_out_components_costing_under_a_point(store):
    load(store, accounts=[customer("a", first_value_at="2025-02-01")], tickets=[ticket("t", "a", at(2))])
    h = one(store, "a")
    # support 90 (one open ticket), lifecycle 100: support costs .5 x 10 = 5 points, lifecycle 0
    assert h.score == 95.0
    assert h.drivers == ("support: 1 open ticket",)


# ----------------------------------------------------------------------------------------------------- trend


def test_trend_has_four_weekly_points(store):
    load(store, accounts=[customer("a", renewal_date=day(-45)), customer("b")],
         surveys=[survey("1", "b", "nps", 10, at(3))])
    h = one(store, "a", with_trend=True)
    # lifecycle only: renewal part 50 + 50 x days/90, ttv not reached (customer > 30 days) = 0, mean of both
    # days to renewal 66, 59, 52, 45 -> (50 + 50 x 66/90) / 2 = 43.33, 41.39, 39.44, 37.5
    assert h.trend == (
        (d("2026-03-10"), 43.3), (d("2026-03-17"), 41.4), (d("2026-03-24"), 39.4), (d("2026-03-31"), 37.5))
    # a response 3 days ago: no data at the three earlier points
    assert [p[1] for p in one(store, "b", with_trend=True).trend] == [None, None, None, 100.0]
    assert one(store, "a").trend == ()


# ----------------------------------------------------------------------------------------- accounts and scope


def test_score_accounts_customers_scope_and_order(store):
    load(store, accounts=[
        customer("c1", segment="ent", owner_slack_id="U1"),
        customer("c2", segment="smb", owner_slack_id="U2"),
        account("prospect", signed="2026-01-01"),
        account("gone", signed="2025-01-01", customer="2025-01-01", churned="2026-03-01"),
        account("later", signed="2025-01-01", customer="2026-04-02"),
    ])
    assert list(scored(store)) == ["c1", "c2"]
    assert list(scored(store, customers_only=False)) == ["c1", "c2", "gone", "later", "prospect"]
    assert list(scored(store, scope=Scope(segment="ent"))) == ["c1"]
    assert list(scored(store, scope=Scope(owner="U2"))) == ["c2"]
    assert list(scored(store, scope=Scope(AccountRef("c2", "C2")))) == ["c2"]
    h = scored(store)["c1"]
    assert (h.owner, h.segment, h.account) == ("U1", "ent", AccountRef("c1", "C1"))


def test_account_health_any_account_and_unknown(store):
    load(store, accounts=[account("p", signed="2026-03-01", first_value_at="2026-03-05")])
    h = one(store, "p")  # a prospect: scored all the same when asked for by name
    assert comp(h, "lifecycle").score == 100.0
    with pytest.raises(UnknownAccountError):
        one(store, "nope")


def test_fixed_number_of_queries_whatever_the_number_of_accounts(store):
    def count_queries(n: int) -> int:
        statements: list[str] = []
        forget()  # as a new process: no copy of the scoring in memory
        with store.connect() as conn:
            event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
            assert len(score_accounts(conn, AS_OF, UTC_CONFIG)) == n
        return len(statements)

    def add(ids):
        load(store, accounts=[customer(a, renewal_date=day(-30)) for a in ids],
             usage=[usage(a, "u", at(3)) for a in ids], surveys=[survey(a, a, "nps", 9, at(3)) for a in ids],
             tickets=[ticket(a, a, at(3)) for a in ids], revenue=[revenue(a, "2026-03", 10) for a in ids])

    add(["x0"])
    one_account = count_queries(1)
    add([f"y{i}" for i in range(25)])
    # accounts, usage, surveys, tickets, revenue; the stored scoring (kpi_core/stored_health.py): the accounts
    # to score, every account with its stored row, and the accounts in scope; on Postgres also whether the
    # transaction has writes
    assert count_queries(26) == one_account == (8 if store.dialect.name == "sqlite" else 9)


# ------------------------------------------------------------------------------------- overview and the KPI


@pytest.fixture
def portfolio(store):
    load(store, accounts=[
        customer("g", first_value_at="2025-02-01", segment="ent"),  # lifecycle 100 -> green 100
        customer("y", segment="smb"),                                # sentiment 50 -> yellow
        customer("r", segment="ent", owner_slack_id="U1"),           # engagement 0 -> red
        customer("u", segment="smb"),                                # no data: unscored
        account("gone", signed="2025-01-01", customer="2025-01-01", churned="2026-02-01"),
        account("prospect", signed="2025-06-01", first_value_at="2025-07-01"),
    ], surveys=[
        survey("1", "y", "nps", 10, at(60)), survey("2", "y", "nps", 0, at(61)),
        survey("3", "gone", "nps", 0, at(5)),
    ], usage=events("r", "u1", 70, 2))
    return store


def test_health_overview(portfolio):
    with portfolio.connect() as conn:
        o = health_overview(conn, AS_OF, UTC_CONFIG)
    assert o.mean == 50.0  # (100 + 50 + 0) / 3
    assert o.customers == 4
    assert o.bands == {"green": 1, "yellow": 1, "red": 1, "unscored": 1}
    assert [h.account.id for h in o.lowest] == ["r", "y", "g"]


def test_overview_lists_the_ten_lowest(store):
    ids = [f"c{i:02d}" for i in range(12)]
    # c00 .. c11 with NPS responses: c_i has i promoters and 11 - i detractors (sentiment rises with i)
    rows = [survey(f"{a}-{j}", a, "nps", 10 if j < i else 0, at(50)) for i, a in enumerate(ids) for j in range(11)]
    load(store, accounts=[customer(a) for a in ids], surveys=rows)
    with store.connect() as conn:
        o = health_overview(conn, AS_OF, UTC_CONFIG)
    assert [h.account.id for h in o.lowest] == ids[:10]
    assert o.customers == 12 and sum(o.bands.values()) == 12


def test_health_kpi_mean_and_band_counts(portfolio):
    r = ask(portfolio, "health", "2026-03-01", "2026-03-31")
    assert (r.name, r.unit, r.sample_label) == ("Customer health score", "score", "customers scored")
    assert r.value == 50.0  # (100 + 50 + 0) / 3, customers at the period end only
    assert r.sample == 3
    assert r.breakdown == {"green": 1, "yellow": 1, "red": 1, "unscored": 1}
    ent = ask(portfolio, "health", "2026-03-01", "2026-03-31", segment="ent")
    assert (ent.value, ent.breakdown) == (50.0, {"green": 1, "yellow": 0, "red": 1, "unscored": 0})  # (100 + 0)/2
    assert ask(portfolio, "health", "2026-03-01", "2026-03-31", owner="U1").value == 0.0
    assert ask(portfolio, "health", "2026-03-01", "2026-03-31", account_id="y").value == 50.0
    unscored = ask(portfolio, "health", "2026-03-01", "2026-03-31", account_id="u")
    assert unscored.value is None and unscored.sample == 0 and "no customer has health data" in unscored.reason
    nobody = ask(portfolio, "health", "2026-03-01", "2026-03-31", segment="none")
    assert nobody.value is None and "no customers" in nobody.reason


def test_help_text_documents_curves_and_seats():
    for words in ("engagement", "sentiment", "support", "revenue", "lifecycle", "seats", "scaled", "green"):
        assert words in HEALTH_HELP
    assert "\n" in HEALTH_HELP
