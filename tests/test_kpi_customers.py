"""Customer KPIs (retention, churn, customers, new_customers, trial_conversion, referrals, ttv): expected values
worked out by hand. Runs on SQLite and Postgres.

Unless said otherwise the period is March 2026 (2026-03-01..2026-03-31): customers at start are the customers on
2026-02-28, customers at end those on 2026-03-31. Its previous period (a 31-day range) is 2026-01-29..2026-02-28.
"""

import pytest

from kpi_core.config import HealthConfig, KpiConfig
from kpi_core.engine import explain, list_kpis
from kpi_core.types import KpiRequest
from tests.kpi_helpers import UTC_CONFIG, account, ask, load, period

MARCH = ("2026-03-01", "2026-03-31")
BERLIN = KpiConfig("Europe/Berlin", 1.0, HealthConfig({}, 70, 40))


def customer(account_id: str, since: str = "2025-06-01", churned: str | None = None, **extra):
    """An account that became a customer on `since` (signed up 2025-01-01 unless `signed` is given)."""
    return account(account_id, customer=since, churned=churned, **extra)


def trial(account_id: str, signed: str, customer: str | None = None, **extra):
    """An account that signed up on `signed` and converted on `customer` (None = never)."""
    return account(account_id, signed=signed, customer=customer, **extra)


# ------------------------------------------------------------------------------------------- retention and churn


def test_seed_example_100_customers_10_churned_is_90_percent_retention(store):
    # 100 customers since 2025-06-01; 10 of them churn on 2026-03-15 (inside March).
    load(store, accounts=[customer(f"c{i:03}", churned="2026-03-15" if i < 10 else None) for i in range(100)])
    r = ask(store, "retention", *MARCH)
    # 100 x (100 at start - 10 lost) / 100 = 90
    assert (r.value, r.sample, r.sample_label) == (90.0, 100, "customers at start")
    assert r.breakdown == {"at_start": 100, "lost": 10, "new": 0, "new_and_lost": 0, "at_end": 90}
    c = ask(store, "churn", *MARCH)
    assert (c.value, c.sample) == (10.0, 100)  # 100 x 10 / 100
    assert ask(store, "customers", *MARCH).value == 90.0  # 100 - 10 lost


@pytest.fixture
def boundaries(store):
    load(store, accounts=[
        customer("new_on_start", since="2026-03-01"),       # new; not at start (2026-03-01 > 2026-02-28); at end
        customer("day_before", since="2026-02-28"),         # at start (became on 2026-02-28 <= 2026-02-28); at end
        customer("churn_on_start", churned="2026-03-01"),   # at start (churned 03-01 > 02-28); lost; not at end
        customer("churn_after_end", churned="2026-04-01"),  # at start; not lost (04-01 outside March); at end
        customer("churn_on_end", churned="2026-03-31"),     # at start; lost; not at end (03-31 > 03-31 is false)
        customer("join_and_leave", since="2026-03-05", churned="2026-03-20"),  # new; not at start so not lost
        customer("churned_before", churned="2026-02-28"),   # not at start (02-28 > 02-28 is false); not lost
        customer("future", since="2026-04-01"),             # nothing in March
        trial("trial_only", signed="2026-03-10"),           # never a customer
    ])
    return store


def test_start_and_end_boundaries(boundaries):
    # at start: day_before, churn_on_start, churn_after_end, churn_on_end = 4
    # lost: churn_on_start, churn_on_end = 2
    # new: new_on_start, join_and_leave = 2 (join_and_leave also churned in March: new_and_lost = 1)
    # at end: new_on_start, day_before, churn_after_end = 3 (= 4 - 2 + 2 - 1)
    flow = {"at_start": 4, "lost": 2, "new": 2, "new_and_lost": 1, "at_end": 3}
    r = ask(boundaries, "retention", *MARCH)
    assert (r.value, r.sample, r.breakdown) == (50.0, 4, flow)  # 100 x (4 - 2) / 4
    c = ask(boundaries, "churn", *MARCH)
    assert (c.value, c.sample, c.breakdown) == (50.0, 4, flow)  # 100 x 2 / 4
    n = ask(boundaries, "customers", *MARCH)
    assert (n.value, n.sample, n.sample_label) == (3.0, 3, "customers at end")
    assert n.breakdown["counted"] == "accounts that are customers on 2026-03-31"
    new = ask(boundaries, "new_customers", *MARCH)
    assert (new.value, new.sample, new.breakdown["new_and_lost"]) == (2.0, 2, 1)


def test_dates_are_calendar_days_whatever_the_reporting_time_zone(boundaries):
    # Account dates are DATEs: the reporting time zone must not move them.
    assert ask(boundaries, "retention", *MARCH, config=BERLIN).value == 50.0
    assert ask(boundaries, "customers", *MARCH, config=BERLIN).value == 3.0


def test_one_account_churning_in_the_period(store):
    load(store, accounts=[customer("a", churned="2026-03-10")])
    assert ask(store, "retention", *MARCH).value == 0.0  # 100 x (1 - 1) / 1
    c = ask(store, "churn", *MARCH)
    assert (c.value, c.sample) == (100.0, 1)  # 100 x 1 / 1
    assert ask(store, "customers", *MARCH).value == 0.0


def test_one_day_period(store):
    # Period 2026-03-10 alone: at start = customers on 2026-03-09.
    load(store, accounts=[customer("a", churned="2026-03-10"), customer("b"), customer("c", since="2026-03-10")])
    r = ask(store, "churn", "2026-03-10", "2026-03-10")
    assert (r.value, r.sample) == (50.0, 2)  # a and b at start, a lost: 100 x 1 / 2
    assert ask(store, "customers", "2026-03-10", "2026-03-10").value == 2.0  # b and c
    assert ask(store, "new_customers", "2026-03-10", "2026-03-10").value == 1.0  # c


# --------------------------------------------------------------------------------------------------- empty data


def test_empty_store_ratios_are_no_data_counts_are_zero(store):
    for kpi, reason in [
        ("retention", "no customers at the start of the period (on 2026-02-28)"),
        ("churn", "no customers at the start of the period (on 2026-02-28)"),
        ("trial_conversion", "no sign-ups in this period"),
        ("referrals", "no new customers in this period"),
        ("ttv", "no account reached first value in this period"),
    ]:
        r = ask(store, kpi, *MARCH)
        assert (r.value, r.sample, r.reason) == (None, 0, reason), kpi
    for kpi, counted in [
        ("customers", "accounts that are customers on 2026-03-31"),
        ("new_customers", "accounts that became customers from 2026-03-01 to 2026-03-31"),
    ]:
        r = ask(store, kpi, *MARCH)
        assert (r.value, r.sample, r.reason) == (0.0, 0, None), kpi  # a count of zero is data
        assert r.breakdown["counted"] == counted


def test_no_customers_at_start_but_new_ones(store):
    # Only a customer who joined in March: retention has no base (None), but the counts are known.
    load(store, accounts=[customer("a", since="2026-03-02")])
    assert ask(store, "retention", *MARCH).value is None
    assert ask(store, "churn", *MARCH).reason.startswith("no customers at the start")
    assert ask(store, "customers", *MARCH).value == 1.0
    assert ask(store, "new_customers", *MARCH).value == 1.0


# ------------------------------------------------------------------------------------------------ time to value


def test_ttv_even_count_is_mean_of_middle_two(store):
    load(store, accounts=[
        trial("a", "2026-03-01", first_value_at="2026-03-04"),  # 3 days
        trial("b", "2026-03-01", first_value_at="2026-03-10"),  # 9 days
        trial("c", "2026-03-01", first_value_at="2026-03-06"),  # 5 days
        trial("d", "2026-03-01", first_value_at="2026-03-08"),  # 7 days
        trial("early", "2026-01-01", first_value_at="2026-02-28"),  # value before March: out
        trial("late", "2026-03-01", first_value_at="2026-04-01"),   # value after March: out
        trial("never", "2026-03-01"),                              # no first value: out
    ])
    r = ask(store, "ttv", *MARCH)
    # sorted 3, 5, 7, 9 -> (5 + 7) / 2 = 6
    assert (r.value, r.sample, r.sample_label) == (6.0, 4, "accounts reaching value")
    assert r.breakdown == {"fastest_days": 3.0, "slowest_days": 9.0}


def test_ttv_ties(store):
    load(store, accounts=[
        trial("a", "2026-03-01", first_value_at="2026-03-05"),  # 4
        trial("b", "2026-03-02", first_value_at="2026-03-06"),  # 4
        trial("c", "2026-03-03", first_value_at="2026-03-07"),  # 4
        trial("d", "2026-03-01", first_value_at="2026-03-11"),  # 10
    ])
    assert ask(store, "ttv", *MARCH).value == 4.0  # 4, 4, 4, 10 -> (4 + 4) / 2


def test_ttv_odd_count_and_month_crossing(store):
    load(store, accounts=[
        trial("a", "2026-03-01", first_value_at="2026-03-31"),  # 30
        trial("b", "2026-02-20", first_value_at="2026-03-02"),  # 8 days left in February + 2 = 10
        customer("c", since="2026-03-05", signed="2026-03-05", first_value_at="2026-03-06"),  # 1 (customer too)
    ])
    r = ask(store, "ttv", *MARCH)
    assert (r.value, r.sample) == (10.0, 3)  # sorted 1, 10, 30 -> 10
    assert r.breakdown == {"fastest_days": 1.0, "slowest_days": 30.0}


# ----------------------------------------------------------------------------------------------- trial conversion


def test_trial_conversion_counts_conversions_after_the_period(store):
    load(store, accounts=[
        trial("a", "2026-03-01", customer="2026-03-10"),  # signed on the first day, converted in March
        trial("b", "2026-03-31", customer="2026-05-01"),  # signed on the last day, converted after March: counts
        trial("c", "2026-03-15"),                          # not converted
        trial("d", "2026-03-20"),                          # not converted
        trial("e", "2026-02-28", customer="2026-03-05"),  # signed before March: not a March sign-up
        trial("f", "2026-04-01", customer="2026-04-02"),  # signed after March
    ])
    r = ask(store, "trial_conversion", *MARCH)
    # 100 x 2 converted (a, b) / 4 sign-ups (a, b, c, d) = 50
    assert (r.value, r.sample, r.sample_label) == (50.0, 4, "sign-ups")
    assert r.breakdown == {"converted": 2, "not_converted": 2, "converted_after_period": 1}


def test_trial_conversion_one_row(store):
    load(store, accounts=[trial("a", "2026-03-31", customer="2026-03-31")])
    assert ask(store, "trial_conversion", *MARCH).value == 100.0  # 1 / 1


# ------------------------------------------------------------------------------------------------------ referrals


def test_referral_share_of_new_customers(store):
    load(store, accounts=[
        customer("r1", since="2026-03-01", acquisition_source="referral"),
        customer("r2", since="2026-03-31", acquisition_source="Referral"),  # case does not matter
        customer("o1", since="2026-03-10", acquisition_source="organic"),
        customer("n1", since="2026-03-10"),                                   # no source: not a referral
        customer("old", since="2026-02-28", acquisition_source="referral"),  # not new in March
        trial("t", "2026-03-10", acquisition_source="referral"),              # not a customer
    ])
    r = ask(store, "referrals", *MARCH)
    # 100 x 2 referral (r1, r2) / 4 new (r1, r2, o1, n1) = 50
    assert (r.value, r.sample, r.sample_label) == (50.0, 4, "new customers")
    assert r.breakdown == {"referral": 2, "other": 2}
    assert ask(store, "new_customers", *MARCH).breakdown["referral"] == 2


# --------------------------------------------------------------------------------------------------------- scopes


def test_scopes(store):
    load(store, accounts=[
        customer("a", segment="smb", owner_slack_id="U1", churned="2026-03-10"),
        customer("b", segment="smb", owner_slack_id="U2"),
        customer("c", segment="ent", owner_slack_id="U1"),
        customer("d", segment="ent", owner_slack_id="U2", since="2026-03-05", acquisition_source="referral"),
        trial("e", "2026-03-05", segment="ent", owner_slack_id="U2", first_value_at="2026-03-07"),
    ])
    # smb: a, b at start; a lost -> retention 100 x 1 / 2 = 50
    assert ask(store, "retention", *MARCH, segment="smb").value == 50.0
    # ent: c at start, none lost -> 100; d new (referral); c, d at end
    assert ask(store, "retention", *MARCH, segment="ent").value == 100.0
    assert ask(store, "customers", *MARCH, segment="ent").value == 2.0
    assert ask(store, "referrals", *MARCH, segment="ent").value == 100.0
    # owner U1: a, c at start, a lost -> churn 50; owner U2: sign-ups e only (d signed 2025) -> 0 converted of 1
    assert ask(store, "churn", *MARCH, owner="U1").value == 50.0
    assert ask(store, "trial_conversion", *MARCH, owner="U2").value == 0.0
    assert ask(store, "ttv", *MARCH, owner="U2").value == 2.0  # e: 03-05 -> 03-07
    assert ask(store, "ttv", *MARCH, owner="U1").value is None
    # one account
    assert ask(store, "churn", *MARCH, account_id="a").value == 100.0
    assert ask(store, "customers", *MARCH, account_id="a").value == 0.0
    assert ask(store, "customers", *MARCH, account_id="b").value == 1.0
    # segment and owner together: ent + U2 -> d only, new in March
    assert ask(store, "new_customers", *MARCH, segment="ent", owner="U2").value == 1.0
    # nothing in scope
    assert ask(store, "retention", *MARCH, segment="nope").value is None
    assert ask(store, "customers", *MARCH, segment="nope").value == 0.0


# ------------------------------------------------------------------------------------------------ previous period


def test_previous_period_and_delta(store):
    load(store, accounts=[
        customer("a", churned="2026-02-10"),  # lost in the previous period (2026-01-29..2026-02-28)
        customer("b", churned="2026-03-15"),  # lost in March
        customer("c"),
        customer("d"),
    ])
    r = ask(store, "retention", *MARCH)
    # March: at start (02-28) b, c, d = 3; lost b -> 100 x 2 / 3 = 66.6667
    assert r.value == 66.6667
    # previous: at start (01-28) a, b, c, d = 4; lost a -> 100 x 3 / 4 = 75
    assert r.previous.period.start.isoformat() == "2026-01-29"
    assert r.previous.value == 75.0
    assert r.delta == -8.3333
    c = ask(store, "churn", *MARCH)
    assert (c.value, c.previous.value) == (33.3333, 25.0)
    n = ask(store, "customers", *MARCH)
    assert (n.value, n.previous.value) == (2.0, 3.0)  # c, d on 03-31; b, c, d on 02-28


# -------------------------------------------------------------------------------------------------------- catalog


def test_catalog_entries():
    defs = {k.id: k for k in list_kpis() if k.family == "customers"}
    assert set(defs) == {"retention", "churn", "customers", "new_customers", "trial_conversion", "referrals", "ttv"}
    assert {k for k, v in defs.items() if not v.higher_is_better} == {"churn", "ttv"}
    assert {v.unit for v in defs.values()} == {"%", "count", "days"}
    assert defs["ttv"].unit == "days" and defs["customers"].unit == "count" and defs["churn"].unit == "%"


def test_each_kpi_is_one_sql_statement(boundaries):
    for kpi in ("retention", "churn", "customers", "new_customers", "trial_conversion", "referrals", "ttv"):
        request = KpiRequest(kpi, period(*MARCH))
        assert len(explain(boundaries, request, UTC_CONFIG)) == 1, kpi
