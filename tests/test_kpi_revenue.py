"""Revenue KPIs (mrr, nrr, grr, expansion, arpa, cac, retention_cost, clv): expected values worked out by hand.

Every test taking `store` runs on SQLite and Postgres. Unless said otherwise the period is March 2026 as a date
range, so the start month is February (the month of 2026-02-28) and the end month is March.
"""

import datetime as dt

import pytest

from kpi_core.config import HealthConfig, KpiConfig
from kpi_core.kpis.revenue import clv_value, lifetime_months, twelve_months_ending
from kpi_core.periods import Period
from tests.kpi_helpers import account, ask, cost, d, load, revenue

MARCH = ("2026-03-01", "2026-03-31")
MARGIN_80 = KpiConfig("UTC", 0.8, HealthConfig({}, 70, 40))


@pytest.fixture
def accounts(store):
    """Accounts a-g: a, b, c in segment smb (owner U1), the others in ent; all customers since 2025."""
    load(store, accounts=[
        account(x, customer="2025-01-01", segment="smb" if x in "abc" else "ent", owner_slack_id="U1" if x in "abc"
                else "U2")
        for x in "abcdefg"
    ])
    return store


# ------------------------------------------------------------------------------------------------ NRR / GRR


def test_nrr_seed_example_100k_to_110k(accounts):
    load(accounts, revenue=[
        revenue("a", "2026-02", 60000), revenue("b", "2026-02", 40000),  # cohort starts at 100,000
        revenue("a", "2026-03", 70000), revenue("b", "2026-03", 40000),  # the same accounts end at 110,000
    ])
    r = ask(accounts, "nrr", *MARCH)
    assert r.value == 110.0  # 100 x 110,000 / 100,000
    assert r.sample == 2
    assert r.sample_label == "cohort accounts"
    assert r.unit == "%"


@pytest.fixture
def movements(accounts):
    load(accounts, revenue=[
        revenue("a", "2026-01", 999),                               # January: not used for a March period
        revenue("a", "2026-02", 100), revenue("a", "2026-03", 150),  # expansion +50
        revenue("b", "2026-02", 200), revenue("b", "2026-03", 120),  # contraction -80
        revenue("c", "2026-02", 300),                                # no March row: churned, MRR 0
        revenue("d", "2026-02", 400), revenue("d", "2026-03", 0),    # March row of 0: churned too
        revenue("e", "2026-03", 500),                                # new in March: not in the cohort
        revenue("f", "2026-02", 0), revenue("f", "2026-03", 80),     # MRR 0 in February: not in the cohort
        revenue("a", "2026-04", 999),                                # April: not used
    ])
    return accounts


def test_nrr_with_expansion_contraction_churn_and_new_account(movements):
    r = ask(movements, "nrr", *MARCH)
    # cohort a, b, c, d: start 100 + 200 + 300 + 400 = 1000; end 150 + 120 + 0 + 0 = 270 -> 27%
    assert r.value == 27.0
    assert r.sample == 4
    # 1000 + 50 expansion - 80 contraction - (300 + 400) churned = 270
    assert r.breakdown == {"cohort_accounts": 4, "start_mrr": 1000.0, "end_mrr": 270.0, "expansion_mrr": 50.0,
                           "contraction_mrr": 80.0, "churned_mrr": 700.0}


def test_grr_takes_min_per_account(movements):
    r = ask(movements, "grr", *MARCH)
    # min per account: a min(150, 100) = 100, b 120, c 0, d 0 -> 220 / 1000
    assert r.value == 22.0
    assert r.breakdown["retained_mrr"] == 220.0
    assert r.sample == 4


def test_mrr_counts_accounts_outside_the_cohort(movements):
    r = ask(movements, "mrr", *MARCH)
    # March: a 150 + b 120 + d 0 + e 500 + f 80 = 850; paying: a, b, e, f
    assert r.value == 850.0
    assert r.sample == 4
    assert r.breakdown == {"month": "2026-03", "paying_accounts": 4}
    assert r.unit == "money"


def test_grr_never_exceeds_100_while_nrr_does(accounts):
    load(accounts, revenue=[
        revenue("a", "2026-02", 100), revenue("a", "2026-03", 300),
        revenue("b", "2026-02", 100), revenue("b", "2026-03", 50),
    ])
    assert ask(accounts, "nrr", *MARCH).value == 175.0  # 350 / 200
    assert ask(accounts, "grr", *MARCH).value == 75.0   # (100 + 50) / 200: a's growth cannot offset b's loss


def test_cents_compare_exactly(accounts):
    # Float sums on SQLite: 0.10 + 0.20 = 0.30000000000000004 > 0.30. Sums are rounded to cents before comparing.
    load(accounts, revenue=[
        revenue("a", "2026-02", "0.25", "core"), revenue("a", "2026-02", "0.05", "addon"),
        revenue("a", "2026-03", "0.10", "core"), revenue("a", "2026-03", "0.20", "addon"),
    ])
    assert ask(accounts, "nrr", *MARCH).value == 100.0
    assert ask(accounts, "grr", *MARCH).value == 100.0
    r = ask(accounts, "expansion", *MARCH)
    assert r.value == 0.0 and r.breakdown["upsold"] == 0


# ------------------------------------------------------------------------------------------------- expansion


def test_expansion_counts_upsell_and_cross_sell(accounts):
    load(accounts, revenue=[
        # a upsells: 100 -> 120
        revenue("a", "2026-02", 100), revenue("a", "2026-03", 120),
        # b cross-sells although its total falls (200 -> 150): analytics is new in March
        revenue("b", "2026-02", 200), revenue("b", "2026-03", 100), revenue("b", "2026-03", 50, "analytics"),
        # c: analytics had a 0 row in February (= none) and pays 10 in March: cross-sell; total flat 100 -> 100
        revenue("c", "2026-02", 100), revenue("c", "2026-02", 0, "analytics"),
        revenue("c", "2026-03", 90), revenue("c", "2026-03", 10, "analytics"),
        # d flat: not expanded
        revenue("d", "2026-02", 100), revenue("d", "2026-03", 100),
        # e shifts between two products it already had (total 120 -> 120): not expanded
        revenue("e", "2026-02", 100), revenue("e", "2026-02", 20, "addon"),
        revenue("e", "2026-03", 80), revenue("e", "2026-03", 40, "addon"),
        # f churns: not expanded
        revenue("f", "2026-02", 100),
        # g is new in March with two products: not in the cohort
        revenue("g", "2026-03", 100), revenue("g", "2026-03", 100, "analytics"),
    ])
    r = ask(accounts, "expansion", *MARCH)
    # cohort a-f = 6, expanded a, b, c = 3 -> 50%
    assert r.value == 50.0
    assert r.sample == 6
    assert r.breakdown == {"cohort_accounts": 6, "expanded": 3, "upsold": 1, "cross_sold": 2}


# ---------------------------------------------------------------------------------- start and end months


def test_start_and_end_month_of_calendar_and_mid_month_periods(accounts):
    load(accounts, revenue=[
        revenue("a", "2026-01", 100), revenue("a", "2026-02", 200), revenue("a", "2026-03", 300),
    ])
    # March 1-31: start month = February (month of Feb 28), end month = March -> 300 / 200
    assert ask(accounts, "nrr", "2026-03-01", "2026-03-31").value == 150.0
    # March 10-20 (mid-month): the day before is March 9, so both months are March -> 100
    assert ask(accounts, "nrr", "2026-03-10", "2026-03-20").value == 100.0
    assert ask(accounts, "mrr", "2026-03-10", "2026-03-20").value == 300.0
    # Feb 15 - Mar 14: start month = February (Feb 14), end month = March
    assert ask(accounts, "nrr", "2026-02-15", "2026-03-14").value == 150.0
    # Jan 17 - Feb 14: January -> February = 200 / 100
    assert ask(accounts, "nrr", "2026-01-17", "2026-02-14").value == 200.0
    # Feb 1 - Mar 31: January -> March = 300 / 100
    assert ask(accounts, "nrr", "2026-02-01", "2026-03-31").value == 300.0
    # mrr is the end month's: a February period gives February
    assert ask(accounts, "mrr", "2026-02-01", "2026-02-28").value == 200.0


# ------------------------------------------------------------------------------------------------------ ARPA


def test_arpa_ignores_zero_mrr_accounts(accounts):
    load(accounts, revenue=[
        revenue("a", "2026-03", 100), revenue("a", "2026-03", 50, "addon"),  # a pays 150 over two products
        revenue("b", "2026-03", "150.00"),
        revenue("c", "2026-03", 0),                                           # a zero row: not paying
        revenue("d", "2026-02", 999),                                         # February: other month
    ])
    for name in ("arpa", "arpu", "arpc"):
        r = ask(accounts, name, *MARCH)
        assert r.kpi == "arpa"
        assert r.value == 150.0  # (150 + 150 + 0) / 2 paying accounts
        assert r.sample == 2
        assert r.breakdown == {"month": "2026-03", "mrr": 300.0, "paying_accounts": 2}


def test_arpa_with_cents(accounts):
    load(accounts, revenue=[revenue(x, "2026-03", m) for x, m in zip("abc", ("10.00", "10.00", "10.01"), strict=True)])
    assert ask(accounts, "arpa", *MARCH).value == pytest.approx(10.0033, abs=1e-4)  # 30.01 / 3


# ---------------------------------------------------------------------------------------------------- scopes


def test_scopes(movements):
    # segment smb = a, b, c: cohort start 100 + 200 + 300 = 600, end 150 + 120 + 0 = 270 -> 45%
    assert ask(movements, "nrr", *MARCH, segment="smb").value == 45.0
    assert ask(movements, "grr", *MARCH, owner="U1").value == pytest.approx(100 * 220 / 600, abs=1e-4)
    assert ask(movements, "mrr", *MARCH, segment="smb").value == 270.0
    assert ask(movements, "mrr", *MARCH, segment="ent").value == 580.0      # d 0 + e 500 + f 80
    assert ask(movements, "arpa", *MARCH, segment="ent").value == 290.0     # 580 / 2 paying (e, f)
    assert ask(movements, "mrr", *MARCH, account_id="e").value == 500.0
    # e is not in the cohort (nothing in February): no data, not 0
    r = ask(movements, "nrr", *MARCH, account_id="e")
    assert r.value is None and r.reason.startswith("no accounts with MRR in February 2026")


def test_mrr_of_an_account_without_revenue_is_zero_when_the_month_is_loaded(movements):
    r = ask(movements, "mrr", *MARCH, account_id="g")  # others have March rows; g has none: a real 0
    assert (r.value, r.sample, r.reason) == (0.0, 0, None)
    r = ask(movements, "mrr", *MARCH, segment="nope")  # no account at all in that segment
    assert r.value is None and "no accounts match segment nope" in r.reason


# ----------------------------------------------------------------------------------------- empty / one row


def test_empty_data_is_no_data_with_reasons(accounts):
    expected = {
        "mrr": "no revenue data for March 2026",
        "nrr": "no accounts with MRR in February 2026",
        "grr": "no accounts with MRR in February 2026",
        "expansion": "no accounts with MRR in February 2026",
        "arpa": "no accounts with MRR above 0 in March 2026",
        "cac": "no acquisition cost data for this period",
        "retention_cost": "no retention cost data for this period",
        "clv": "no accounts with MRR above 0 in March 2026",
    }
    for kpi, reason in expected.items():
        r = ask(accounts, kpi, *MARCH)
        assert r.value is None, kpi
        assert r.reason.startswith(reason), (kpi, r.reason)
        assert r.previous.value is None


def test_mrr_no_data_when_only_other_months_are_loaded(accounts):
    load(accounts, revenue=[revenue("a", "2026-02", 100)])
    r = ask(accounts, "mrr", *MARCH)
    assert r.value is None and r.reason == "no revenue data for March 2026"
    assert r.previous.value == 100.0  # previous range 2026-01-29..2026-02-28 ends in February


def test_one_row(accounts):
    load(accounts, revenue=[revenue("a", "2026-03", "99.99")])
    assert ask(accounts, "mrr", *MARCH).value == 99.99
    assert ask(accounts, "arpa", *MARCH).value == 99.99
    r = ask(accounts, "nrr", *MARCH)  # nothing in February: no cohort
    assert r.value is None and r.sample == 0


def test_previous_period(accounts):
    load(accounts, revenue=[
        revenue("a", "2026-01", 100), revenue("a", "2026-02", 200), revenue("a", "2026-03", 300),
    ])
    march = Period(d("2026-03-01"), d("2026-03-31"), "March 2026", "month")
    r = ask(accounts, "mrr", *MARCH, the_period=march)
    assert (r.value, r.previous.value, r.delta) == (300.0, 200.0, 100.0)  # previous = February
    r = ask(accounts, "nrr", *MARCH, the_period=march)
    assert (r.value, r.previous.value) == (150.0, 200.0)  # Feb -> Mar; previous Jan -> Feb


# ----------------------------------------------------------------------------------------- CAC, retention cost


@pytest.fixture
def mid_month(store):
    """Period 2026-01-17..2026-02-14: customers on Jan 16 and new customers in it."""
    load(store, accounts=[
        account("a", customer="2025-06-01"),                      # customer at start
        account("b", customer="2025-06-01", churned="2026-01-20"),  # customer at start (lost in the period)
        account("f", customer="2026-01-16"),                      # customer at start (the day before): not new
        account("c", customer="2026-01-17"),                      # new on the first day
        account("d", customer="2026-02-14"),                      # new on the last day
        account("e", customer="2026-02-15"),                      # the day after: not new
        account("g", customer="2025-06-01", churned="2026-01-16"),  # churned the day before: not at start
        account("p"),                                            # prospect, never a customer
    ])
    return store


def test_cost_is_prorated_by_days(mid_month):
    load(mid_month, costs=[
        cost("2025-12", "acquisition", 9999),  # outside
        cost("2026-01", "acquisition", 3100),  # Jan 17-31 = 15 of 31 days -> 1500
        cost("2026-02", "acquisition", 2800),  # Feb 1-14 = 14 of 28 days -> 1400
        cost("2026-03", "acquisition", 9999),  # outside
        cost("2026-01", "retention", 620),     # 15/31 -> 300
        cost("2026-02", "retention", 280),     # 14/28 -> 140
    ])
    r = ask(mid_month, "cac", "2026-01-17", "2026-02-14")
    assert r.value == 1450.0  # (1500 + 1400) / 2 new customers (c, d)
    assert r.breakdown == {"acquisition_cost": 2900.0, "new_customers": 2}
    assert (r.sample, r.sample_label, r.higher_is_better) == (2, "new customers", False)
    r = ask(mid_month, "retention_cost", "2026-01-17", "2026-02-14")
    assert r.value == pytest.approx(440 / 3, abs=1e-4)  # (300 + 140) / 3 customers at start (a, b, f)
    assert r.breakdown == {"retention_cost": 440.0, "customers_at_start": 3}
    assert r.higher_is_better is False


def test_cost_proration_keeps_fractions(mid_month):
    load(mid_month, costs=[cost("2026-01", "acquisition", 100)])  # 100 x 15 / 31 = 48.387096...
    r = ask(mid_month, "cac", "2026-01-17", "2026-02-14")
    assert r.value == pytest.approx(100 * 15 / 31 / 2, abs=1e-4)  # 24.1935 on both engines (no integer division)


def test_cac_reasons(mid_month):
    load(mid_month, costs=[cost("2026-03", "acquisition", 500), cost("2026-03", "retention", 0)])
    # costs recorded for March; nobody became a customer in March
    r = ask(mid_month, "cac", *MARCH)
    assert r.value is None and r.reason == "no new customers in this period"
    # a recorded zero is a zero: 0 / customers at start (a, c, d, e, f on Feb 28 = 5)
    r = ask(mid_month, "retention_cost", *MARCH)
    assert (r.value, r.sample) == (0.0, 5)
    # no acquisition cost rows overlapping January
    r = ask(mid_month, "cac", "2026-01-01", "2026-01-31")
    assert r.value is None and r.reason == "no acquisition cost data for this period"


def test_costs_cannot_be_scoped(mid_month):
    load(mid_month, costs=[cost("2026-01", "acquisition", 3100), cost("2026-01", "retention", 620)])
    for kpi in ("cac", "retention_cost", "clv"):
        for scope in ({"account_id": "a"}, {"segment": "smb"}, {"owner": "U1"}):
            r = ask(mid_month, kpi, "2026-01-17", "2026-02-14", **scope)
            assert r.value is None
            assert r.reason.startswith("costs are not recorded per account or segment")


def test_retention_cost_without_customers_at_start(store):
    load(store, accounts=[account("a", customer="2026-03-05")], costs=[cost("2026-03", "retention", 100)])
    r = ask(store, "retention_cost", *MARCH)
    assert r.value is None and r.reason == "no customers at the start of the period (on 2026-02-28)"


# ------------------------------------------------------------------------------------------------------- CLV


def test_clv_formula_seed_example():
    # Seed: lifetime 5 years, customer value $200 a year, CAC $50. In our monthly terms: ARPA = 200 / 12 a month,
    # lifetime 60 months (monthly churn 1/60), margin 1.0: 200/12 x 60 - 50 = 1000 - 50 = 950.
    # (The seed prints "(5 x $200) - $50 = $750", an arithmetic slip; 750 is what an 80% gross margin gives.)
    assert clv_value(200 / 12, 1.0, 1 / 60, 50) == pytest.approx(950)
    assert clv_value(200 / 12, 0.8, 1 / 60, 50) == pytest.approx(750)  # 1000 x 0.8 - 50


def test_lifetime_is_capped_at_120_months():
    assert lifetime_months(0) == 120      # nobody churned
    assert lifetime_months(0.005) == 120  # 1 / 0.005 = 200 -> capped
    assert lifetime_months(0.1) == pytest.approx(10)
    assert clv_value(100, 1.0, 0, 0) == 12000  # 100 x 120


def test_twelve_month_window():
    assert twelve_months_ending(dt.date(2026, 3, 31)) == (dt.date(2025, 4, 1), dt.date(2026, 3, 31))
    assert twelve_months_ending(dt.date(2026, 3, 15)) == (dt.date(2025, 3, 16), dt.date(2026, 3, 15))
    assert twelve_months_ending(dt.date(2024, 2, 29)) == (dt.date(2023, 3, 1), dt.date(2024, 2, 29))


@pytest.fixture
def clv_data(store):
    """Window for March 2026: 2025-04-01..2026-03-31; customers at its start = customers on 2025-03-31."""
    load(
        store,
        accounts=[
            account("a", customer="2025-01-01"),                        # at start
            account("b", customer="2025-01-01"),                        # at start
            account("c", customer="2025-01-01"),                        # at start
            account("d", customer="2025-01-01", churned="2025-09-15"),  # at start, lost in the window
            account("g", customer="2025-01-01", churned="2025-03-31"),  # churned on 2025-03-31: not at start
            account("e", customer="2025-04-01"),                        # new (first day of the window)
            account("f", customer="2025-10-01"),                        # new
            account("i", customer="2026-03-31"),                        # new (last day of the window)
        ],
        revenue=[
            revenue("a", "2026-03", 100), revenue("b", "2026-03", 200), revenue("c", "2026-03", 0),
            revenue("e", "2026-03", 300),
        ],
        costs=[
            cost("2025-03", "acquisition", 5000),  # before the window
            cost("2025-06", "acquisition", 700),
            cost("2025-10", "acquisition", 500),
            cost("2025-10", "retention", 5000),    # other category
            cost("2026-04", "acquisition", 5000),  # after the window
        ],
    )
    return store


def test_clv_from_data(clv_data):
    r = ask(clv_data, "clv", *MARCH, config=MARGIN_80)
    # ARPA March = (100 + 200 + 300) / 3 paying (c's 0 left out) = 200
    # monthly churn = (1 lost / 4 at start) / 12 = 1/48 -> lifetime 48 months
    # CAC = (700 + 500) / 3 new (e, f, i) = 400
    # CLV = 200 x 0.8 x 48 - 400 = 7680 - 400 = 7280
    assert r.value == 7280.0
    assert r.sample == 3
    assert r.breakdown == {"arpa": 200.0, "gross_margin": 0.8, "monthly_churn": round(1 / 48, 6),
                           "lifetime_months": 48.0, "cac": 400.0, "window": "2025-04-01 to 2026-03-31"}
    assert r.unit == "money"


def test_clv_window_follows_the_period_end_not_its_start(clv_data):
    # A mid-month period ending 2026-03-31 has the same window and the same end month.
    assert ask(clv_data, "clv", "2026-03-20", "2026-03-31", config=MARGIN_80).value == 7280.0


def test_clv_without_new_customers_is_no_data(store):
    load(store, accounts=[account("a", signed="2024-01-01", customer="2024-01-01")],
         revenue=[revenue("a", "2026-03", 100)], costs=[cost("2025-06", "acquisition", 100)])
    r = ask(store, "clv", *MARCH)
    assert r.value is None
    assert r.reason == "no new customers in the last 12 months to compute CAC"
    # nobody churned: lifetime at its cap
    assert r.breakdown["monthly_churn"] == 0 and r.breakdown["lifetime_months"] == 120


def test_clv_without_customers_at_window_start_is_no_data(store):
    load(store, accounts=[account("a", customer="2025-06-01")], revenue=[revenue("a", "2026-03", 100)],
         costs=[cost("2025-06", "acquisition", 100)])
    r = ask(store, "clv", *MARCH)
    assert r.value is None and r.reason.startswith("no customers at the start of the last 12 months (on 2025-03-31)")
