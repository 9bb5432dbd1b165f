"""Activity KPIs (adoption, stickiness, time_on_platform, fcr, resolution_time, repeat_purchase,
purchase_frequency): expected values worked out by hand. Runs on SQLite and Postgres."""

import pytest

from kpi_core.config import HealthConfig, KpiConfig
from kpi_core.engine import list_kpis
from kpi_core.types import UserError
from tests.kpi_helpers import account, ask, invoice, load, ticket, usage

BERLIN = KpiConfig("Europe/Berlin", 1.0, HealthConfig({}, 70, 40))
NEW_YORK = KpiConfig("America/New_York", 1.0, HealthConfig({}, 70, 40))
MARCH = ("2026-03-01", "2026-03-31")


@pytest.fixture
def two_accounts(store):
    load(store, accounts=[
        account("a", customer="2025-01-01", segment="smb", owner_slack_id="U1"),
        account("b", customer="2025-01-01", segment="ent"),
    ])
    return store


def test_catalog_entries():
    by_id = {k.id: k for k in list_kpis()}
    for kid in ("adoption", "stickiness", "time_on_platform"):
        assert by_id[kid].uses_feature and by_id[kid].family == "usage"
    for kid in ("fcr", "resolution_time"):
        assert not by_id[kid].uses_feature and by_id[kid].family == "support"
    for kid in ("repeat_purchase", "purchase_frequency"):
        assert not by_id[kid].uses_feature and by_id[kid].family == "purchases"
    assert by_id["resolution_time"].higher_is_better is False
    assert by_id["resolution_time"].unit == "hours"
    assert by_id["time_on_platform"].unit == "minutes per user"
    assert by_id["purchase_frequency"].unit == "per account"


# ------------------------------------------------------------------------------------------------ stickiness


def test_stickiness_quiet_day_counts_as_zero(two_accounts):
    load(two_accounts, usage=[
        usage("a", "x", "2026-03-01T09:00:00"),
        usage("a", "x", "2026-03-01T17:00:00"),  # x twice on day 1: once that day
        usage("a", "y", "2026-03-01T10:00:00"),
        usage("a", "x", "2026-03-02T10:00:00"),
        # 2026-03-03: nobody
        usage("a", "z", "2026-03-04T00:00:00"),  # the day after the period: out
    ])
    r = ask(two_accounts, "stickiness", "2026-03-01", "2026-03-03")
    # daily active users 2, 1, 0 -> mean 1; period active users {x, y} = 2 -> 100 x 1 / 2 = 50
    assert r.value == 50.0
    assert r.sample == 2
    assert r.breakdown == {"mean_daily_active_users": 1.0, "period_active_users": 2, "days": 3}


def test_stickiness_user_is_account_and_user_pair(two_accounts):
    load(two_accounts, usage=[
        usage("a", "u1", "2026-03-01T10:00:00"),
        usage("b", "u1", "2026-03-01T11:00:00"),  # same user id, other account: another user
        usage("a", "u1", "2026-03-02T10:00:00"),
    ])
    r = ask(two_accounts, "stickiness", "2026-03-01", "2026-03-02")
    # triples (a,u1,1) (b,u1,1) (a,u1,2) = 3 over 2 days -> mean 1.5; users (a,u1) (b,u1) = 2 -> 75
    # (collapsing to user ids would give 2 / 2 / 1 = 100)
    assert (r.value, r.sample) == (75.0, 2)


def test_stickiness_reporting_time_zone_moves_event_to_other_day(two_accounts):
    # New York is on EDT (UTC-4) from 8 March 2026.
    # 2026-03-10T15:00Z = 10 March 11:00 local; 2026-03-11T02:00Z = 10 March 22:00 local.
    load(two_accounts, usage=[
        usage("a", "x", "2026-03-10T15:00:00"),
        usage("a", "x", "2026-03-11T02:00:00"),
    ])
    utc = ask(two_accounts, "stickiness", "2026-03-10", "2026-03-11")
    ny = ask(two_accounts, "stickiness", "2026-03-10", "2026-03-11", config=NEW_YORK)
    # UTC: x on 10th and 11th -> 2 user-days / 2 days / 1 user = 100
    assert utc.value == 100.0
    # New York: both on the 10th -> 1 user-day / 2 days / 1 user = 50
    assert ny.value == 50.0


def test_stickiness_dst_change_inside_period(two_accounts):
    # Berlin switches CET (+01:00) -> CEST (+02:00) at 2026-03-29T01:00Z.
    # Period 29-30 March in Berlin = [2026-03-28T23:00Z, 2026-03-30T22:00Z).
    load(two_accounts, usage=[
        usage("a", "x", "2026-03-28T23:30:00"),  # 29 March 00:30 CET -> day 29
        usage("a", "x", "2026-03-29T22:30:00"),  # 30 March 00:30 CEST -> day 30 (23:30 on the 29th at +01:00)
        usage("a", "y", "2026-03-29T21:30:00"),  # 29 March 23:30 CEST -> day 29
        usage("a", "y", "2026-03-30T22:30:00"),  # 31 March 00:30 CEST: out of the period
    ])
    r = ask(two_accounts, "stickiness", "2026-03-29", "2026-03-30", config=BERLIN)
    # user-days (x,29) (x,30) (y,29) = 3 over 2 days -> 1.5; users 2 -> 100 x 1.5 / 2 = 75
    assert r.value == 75.0
    assert r.breakdown == {"mean_daily_active_users": 1.5, "period_active_users": 2, "days": 2}


def test_stickiness_feature_scope(two_accounts):
    load(two_accounts, usage=[
        usage("a", "x", "2026-03-01T10:00:00", feature="reports"),
        usage("a", "y", "2026-03-01T10:00:00", feature="export"),
        usage("a", "x", "2026-03-02T10:00:00", feature="export"),
    ])
    # reports only: (x, day 1) -> 1 user-day / 2 days / 1 user = 50
    assert ask(two_accounts, "stickiness", "2026-03-01", "2026-03-02", feature="reports").value == 50.0
    # export: (y,1) (x,2) -> 2 / 2 / 2 users = 50; all: (x,1) (y,1) (x,2) -> 3 / 2 / 2 = 75
    assert ask(two_accounts, "stickiness", "2026-03-01", "2026-03-02", feature="export").value == 50.0
    assert ask(two_accounts, "stickiness", "2026-03-01", "2026-03-02").value == 75.0


def test_stickiness_one_row_and_previous_period(two_accounts):
    load(two_accounts, usage=[
        usage("a", "x", "2026-03-05T10:00:00"),  # the period (one day): 1 / 1 / 1 = 100
        usage("a", "x", "2026-03-04T10:00:00"),  # the previous day (previous period): 100
        usage("a", "y", "2026-03-04T11:00:00"),
    ])
    r = ask(two_accounts, "stickiness", "2026-03-05", "2026-03-05")
    assert (r.value, r.sample) == (100.0, 1)
    assert r.previous.period.start.isoformat() == "2026-03-04"
    assert r.previous.value == 100.0  # 2 users that day / 1 day / 2 users
    assert r.delta == 0.0


# ------------------------------------------------------------------------------------------------ adoption


@pytest.fixture
def adoption_data(store):
    load(store, accounts=[
        account("a", customer="2025-01-01", segment="smb"),
        account("b", customer="2025-01-01", segment="ent"),
        account("c", customer="2025-01-01", churned="2026-03-15", segment="smb"),  # churned: not at end
        account("d", customer="2025-01-01", segment="smb"),
        account("e"),  # prospect, never a customer
        account("f", customer="2025-01-01", churned="2026-04-01", segment="ent"),  # still a customer on 31 March
    ], usage=[
        usage("a", "u", "2026-03-10T10:00:00", feature="reports"),
        usage("b", "u", "2026-03-10T10:00:00", feature="export"),
        usage("c", "u", "2026-03-10T10:00:00", feature="reports"),
        usage("d", "u", "2026-04-01T00:00:00", feature="reports"),  # after the period
        usage("e", "u", "2026-03-10T10:00:00", feature="reports"),
        usage("f", "u", "2026-03-31T23:59:00", feature="reports"),
    ])
    return store


def test_adoption_denominator_is_customers_at_end(adoption_data):
    r = ask(adoption_data, "adoption", *MARCH)
    # customers at end: a, b, d, f (c churned 15 March, e never a customer) = 4; used: a, b, f = 3 -> 75
    assert r.value == 75.0
    assert r.sample == 4
    assert r.breakdown == {"active_customers": 3, "customers": 4}


def test_adoption_feature_scope(adoption_data):
    r = ask(adoption_data, "adoption", *MARCH, feature="reports")
    # customers at end 4; used "reports" in March: a, f -> 50
    assert (r.value, r.sample) == (50.0, 4)
    assert ask(adoption_data, "adoption", *MARCH, feature="nothing").value == 0.0


def test_adoption_scopes(adoption_data):
    # segment smb at end: a, d -> a used -> 50
    assert ask(adoption_data, "adoption", *MARCH, segment="smb").value == 50.0
    assert ask(adoption_data, "adoption", *MARCH, account_id="b").value == 100.0
    r = ask(adoption_data, "adoption", *MARCH, account_id="c")  # churned before the end
    assert r.value is None and r.reason == "no customers at the end of the period"


# ----------------------------------------------------------------------------------------- time on platform


def test_time_on_platform_null_duration_user_still_counts(two_accounts):
    load(two_accounts, usage=[
        usage("a", "x", "2026-03-01T10:00:00", duration=600),
        usage("a", "x", "2026-03-02T10:00:00", duration=300),
        usage("a", "y", "2026-03-02T10:00:00", duration=None),  # contributes 0 s, y is active
        usage("b", "x", "2026-03-03T10:00:00", duration=1200),  # another user than (a, x)
        usage("b", "x", "2026-04-01T00:00:00", duration=9999),  # after the period
    ])
    r = ask(two_accounts, "time_on_platform", *MARCH)
    # (600 + 300 + 0 + 1200) s = 2100 s = 35 min over 3 users -> 11.6667
    assert r.value == pytest.approx(35 / 3, abs=1e-4)
    assert r.sample == 3
    assert r.breakdown == {"total_minutes": 35.0, "active_users": 3}
    # account a only: 900 s = 15 min over 2 users = 7.5
    assert ask(two_accounts, "time_on_platform", *MARCH, account_id="a").value == 7.5


def test_time_on_platform_only_null_durations_is_zero(two_accounts):
    load(two_accounts, usage=[usage("a", "x", "2026-03-01T10:00:00")])
    r = ask(two_accounts, "time_on_platform", *MARCH)
    assert (r.value, r.sample) == (0.0, 1)


# ---------------------------------------------------------------------------------------------------- fcr


def test_fcr(two_accounts):
    load(two_accounts, tickets=[
        ticket("1", "a", "2026-03-02T09:00:00", "2026-03-02T10:00:00", contacts=1),  # first contact
        ticket("2", "a", "2026-03-03T09:00:00", "2026-03-04T10:00:00", contacts=3),
        ticket("3", "b", "2026-03-03T09:00:00", "2026-03-04T10:00:00", contacts=None),  # left out
        ticket("4", "b", "2026-03-05T09:00:00", None, contacts=1),  # unresolved: out
        ticket("5", "b", "2026-02-20T09:00:00", "2026-03-01T08:00:00", contacts=1),  # opened before: in
        ticket("6", "b", "2026-03-30T09:00:00", "2026-04-01T08:00:00", contacts=1),  # resolved after: out
    ])
    r = ask(two_accounts, "fcr", *MARCH)
    # tickets 1, 2, 5 -> first contact 1 and 5 -> 100 x 2 / 3
    assert r.value == pytest.approx(200 / 3, abs=1e-4)
    assert r.sample == 3
    assert r.breakdown == {"first_contact": 2, "resolved": 3}
    assert ask(two_accounts, "fcr", *MARCH, segment="ent").value == 100.0  # ticket 5 only
    assert ask(two_accounts, "fcr", *MARCH, account_id="a").value == 50.0  # tickets 1, 2


def test_fcr_only_null_contacts_is_no_data(two_accounts):
    load(two_accounts, tickets=[ticket("1", "a", "2026-03-02T09:00:00", "2026-03-02T10:00:00")])
    r = ask(two_accounts, "fcr", *MARCH)
    assert r.value is None and r.sample == 0
    assert r.reason == "no resolved tickets with a contact count in this period"


def test_feature_scope_rejected_for_support_kpis(two_accounts):
    with pytest.raises(UserError):
        ask(two_accounts, "fcr", *MARCH, feature="reports")


# ---------------------------------------------------------------------------------------------- resolution


def test_resolution_time_median_odd_and_even(two_accounts):
    load(two_accounts, tickets=[
        ticket("1", "a", "2026-03-02T08:00:00", "2026-03-02T10:00:00"),  # 2 h
        ticket("2", "a", "2026-03-02T08:00:00", "2026-03-02T18:00:00"),  # 10 h
        ticket("3", "b", "2026-03-02T08:00:00", "2026-03-02T13:00:00"),  # 5 h
    ])
    r = ask(two_accounts, "resolution_time", *MARCH)
    assert (r.value, r.sample) == (5.0, 3)  # 2, 5, 10 -> 5
    load(two_accounts, tickets=[ticket("4", "b", "2026-03-03T08:00:00", "2026-03-03T15:00:00")])  # 7 h
    r = ask(two_accounts, "resolution_time", *MARCH)
    assert (r.value, r.sample) == (6.0, 4)  # 2, 5, 7, 10 -> (5 + 7) / 2
    assert ask(two_accounts, "resolution_time", *MARCH, segment="ent").value == 6.0  # 5, 7
    assert ask(two_accounts, "resolution_time", *MARCH, account_id="a").value == 6.0  # 2, 10


def test_resolution_time_period_boundaries(two_accounts):
    load(two_accounts, tickets=[
        ticket("1", "a", "2026-03-31T20:59:00", "2026-03-31T23:59:00"),  # 3 h, 23:59 on the last day: in
        ticket("2", "a", "2026-03-31T00:00:00", "2026-04-01T00:00:00"),  # 24 h, 00:00 the day after: out
        ticket("3", "a", "2026-02-28T00:00:00", "2026-02-28T23:59:59"),  # before the period: out
        # 2026-04-01T00:30+02:00 = 2026-03-31T22:30Z: in (opened 22:30Z - 1 h = 1 h)
        ticket("4", "b", "2026-03-31T21:30:00", "2026-04-01T00:30:00+02:00"),
        # 2026-03-31T23:30-02:00 = 2026-04-01T01:30Z: out
        ticket("5", "b", "2026-03-31T20:00:00", "2026-03-31T23:30:00-02:00"),
    ])
    r = ask(two_accounts, "resolution_time", *MARCH)
    assert (r.value, r.sample) == (2.0, 2)  # 1 h and 3 h -> 2


def test_resolution_time_one_row_and_empty(two_accounts):
    r = ask(two_accounts, "resolution_time", *MARCH)
    assert r.value is None and r.sample == 0 and r.reason == "no resolved tickets in this period"
    load(two_accounts, tickets=[ticket("1", "a", "2026-03-02T08:00:00", "2026-03-02T09:30:00")])
    assert ask(two_accounts, "resolution_time", *MARCH).value == 1.5


# ------------------------------------------------------------------------------------------------ purchases


@pytest.fixture
def invoices(two_accounts):
    load(two_accounts, accounts=[account("c", segment="ent")], invoices=[
        invoice("1", "a", "2026-03-05", 100),
        invoice("2", "a", "2026-03-31", 100),  # last day: in
        invoice("3", "b", "2026-03-10", 50),
        invoice("4", "b", "2026-04-01", 50),  # the day after: out
        invoice("5", "c", "2026-02-28", 10),  # the day before: out (previous period)
        invoice("6", "c", "2026-02-01", 10),
    ])
    return two_accounts


def test_repeat_purchase(invoices):
    r = ask(invoices, "repeat_purchase", *MARCH)
    # invoiced in March: a (2), b (1) -> repeat a -> 100 x 1 / 2 = 50
    assert (r.value, r.sample) == (50.0, 2)
    assert r.breakdown == {"repeat_accounts": 1, "invoiced_accounts": 2}
    assert ask(invoices, "repeat_purchase", *MARCH, account_id="a").value == 100.0
    assert ask(invoices, "repeat_purchase", *MARCH, segment="ent").value == 0.0  # b only (1 invoice)
    # previous period 29 Jan - 28 Feb: c has 2 -> 100
    assert r.previous.value == 100.0
    assert r.delta == -50.0


def test_purchase_frequency(invoices):
    r = ask(invoices, "purchase_frequency", *MARCH)
    # 3 invoices (1, 2, 3) over 2 accounts = 1.5
    assert (r.value, r.sample) == (1.5, 2)
    assert r.breakdown == {"invoices": 3, "invoiced_accounts": 2}
    assert r.previous.value == 2.0  # c: 2 invoices / 1 account
    assert ask(invoices, "purchase_frequency", *MARCH, segment="ent").value == 1.0


def test_purchases_one_row(two_accounts):
    load(two_accounts, invoices=[invoice("1", "a", "2026-03-05", 100)])
    assert ask(two_accounts, "repeat_purchase", *MARCH).value == 0.0  # 0 of 1
    assert ask(two_accounts, "purchase_frequency", *MARCH).value == 1.0


# ---------------------------------------------------------------------------------------------------- empty


@pytest.mark.parametrize(("kpi", "reason"), [
    ("adoption", "no customers at the end of the period"),
    ("stickiness", "no usage events in this period"),
    ("time_on_platform", "no usage events in this period"),
    ("fcr", "no resolved tickets with a contact count in this period"),
    ("resolution_time", "no resolved tickets in this period"),
    ("repeat_purchase", "no invoices in this period"),
    ("purchase_frequency", "no invoices in this period"),
])
def test_empty_is_no_data_with_reason(store, kpi, reason):
    r = ask(store, kpi, *MARCH)
    assert r.value is None
    assert r.sample == 0
    assert r.reason == reason
    assert r.previous.value is None


def test_usage_kpis_no_events_with_customers(two_accounts):
    # customers but no usage: adoption is a real 0, the per-user KPIs have no data
    assert ask(two_accounts, "adoption", *MARCH).value == 0.0
    r = ask(two_accounts, "stickiness", *MARCH, feature="reports")
    assert r.value is None and r.reason.startswith("no usage events in this period")


def test_stickiness_time_zone_not_taken_from_an_earlier_query(two_accounts):
    # Same events as above, asked in the other order: New York first (50), then UTC (100). Guards against a
    # compiled statement being reused with another zone's UTC offset.
    load(two_accounts, usage=[
        usage("a", "x", "2026-03-10T15:00:00"),
        usage("a", "x", "2026-03-11T02:00:00"),
    ])
    assert ask(two_accounts, "stickiness", "2026-03-10", "2026-03-11", config=NEW_YORK).value == 50.0
    assert ask(two_accounts, "stickiness", "2026-03-10", "2026-03-11").value == 100.0
    # Berlin in winter (+01:00), then in summer (+02:00), same SQL shape (no DST change inside either period).
    # Summer: 2026-07-01T10:00Z -> 1 July; 2026-07-01T22:30Z -> 2 July 00:30 CEST (1 July 23:30 at +01:00).
    load(two_accounts, usage=[
        usage("a", "s", "2026-01-01T10:00:00"),
        usage("a", "s", "2026-07-01T10:00:00"),
        usage("a", "s", "2026-07-01T22:30:00"),
    ])
    assert ask(two_accounts, "stickiness", "2026-01-01", "2026-01-02", config=BERLIN).value == 50.0  # 1 / 2 / 1
    assert ask(two_accounts, "stickiness", "2026-07-01", "2026-07-02", config=BERLIN).value == 100.0  # 2 / 2 / 1
