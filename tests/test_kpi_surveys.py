"""Survey KPIs (nps, csat, csi, ces): expected values worked out by hand. Runs on SQLite and Postgres."""

import pytest

from kpi_core.config import HealthConfig, KpiConfig
from tests.kpi_helpers import account, ask, load, survey

BERLIN = KpiConfig("Europe/Berlin", 1.0, HealthConfig({}, 70, 40))


@pytest.fixture
def two_accounts(store):
    load(store, accounts=[account("a", segment="smb", owner_slack_id="U1"), account("b", segment="ent")])
    return store


def test_nps_counts_promoters_passives_detractors(two_accounts):
    load(two_accounts, surveys=[
        survey("1", "a", "nps", 10, "2026-03-01T10:00:00"),  # promoter
        survey("2", "a", "nps", 9, "2026-03-02T10:00:00"),   # promoter
        survey("3", "b", "nps", 8, "2026-03-03T10:00:00"),   # passive
        survey("4", "b", "nps", 7, "2026-03-04T10:00:00"),   # passive
        survey("5", "b", "nps", 6, "2026-03-05T10:00:00"),   # detractor (6 is the top detractor score)
        survey("6", "b", "csat", 1, "2026-03-05T10:00:00"),  # another survey: ignored
    ])
    r = ask(two_accounts, "nps", "2026-03-01", "2026-03-31")
    # 100 x (2 promoters - 1 detractor) / 5 responses = 20
    assert r.value == 20.0
    assert r.sample == 5
    assert r.breakdown == {"promoters": 2, "passives": 2, "detractors": 1}


def test_nps_all_detractors_is_minus_100_and_one_row(two_accounts):
    load(two_accounts, surveys=[survey("1", "a", "nps", 0, "2026-03-01T00:00:00")])
    r = ask(two_accounts, "nps", "2026-03-01", "2026-03-01")
    assert r.value == -100.0  # 100 x (0 - 1) / 1
    assert r.sample == 1


def test_nps_empty_is_no_data_with_reason(two_accounts):
    r = ask(two_accounts, "nps", "2026-03-01", "2026-03-31")
    assert r.value is None
    assert r.sample == 0
    assert "no NPS responses" in r.reason


def test_nps_period_boundaries_in_utc(two_accounts):
    load(two_accounts, surveys=[
        survey("1", "a", "nps", 10, "2026-02-28T23:59:59"),  # day before start: out
        survey("2", "a", "nps", 10, "2026-03-01T00:00:00"),  # first instant: in
        survey("3", "a", "nps", 0, "2026-03-31T23:59:00"),   # 23:59 on the last day: in
        survey("4", "a", "nps", 0, "2026-04-01T00:00:00"),   # 00:00 the day after: out
    ])
    r = ask(two_accounts, "nps", "2026-03-01", "2026-03-31")
    assert (r.value, r.sample) == (0.0, 2)  # 1 promoter, 1 detractor -> 100 x 0 / 2


def test_nps_offset_moves_response_across_midnight(two_accounts):
    # 2026-03-31T23:30:00-02:00 is 2026-04-01T01:30Z: outside March in UTC.
    # 2026-04-01T00:30:00+02:00 is 2026-03-31T22:30Z: inside March in UTC.
    load(two_accounts, surveys=[
        survey("1", "a", "nps", 10, "2026-03-31T23:30:00-02:00"),
        survey("2", "a", "nps", 0, "2026-04-01T00:30:00+02:00"),
    ])
    r = ask(two_accounts, "nps", "2026-03-01", "2026-03-31")
    assert (r.value, r.sample) == (-100.0, 1)


def test_reporting_time_zone_moves_the_day(two_accounts):
    # Stored 2026-03-31T22:30Z = 2026-04-01 00:30 in Berlin (CEST, +02:00 after 29 March): April there.
    # Stored 2026-02-28T23:30Z = 2026-03-01 00:30 in Berlin (CET, +01:00): March there.
    load(two_accounts, surveys=[
        survey("1", "a", "nps", 10, "2026-03-31T22:30:00"),
        survey("2", "a", "nps", 0, "2026-02-28T23:30:00"),
    ])
    utc = ask(two_accounts, "nps", "2026-03-01", "2026-03-31")
    berlin = ask(two_accounts, "nps", "2026-03-01", "2026-03-31", config=BERLIN)
    assert (utc.value, utc.sample) == (100.0, 1)
    assert (berlin.value, berlin.sample) == (-100.0, 1)


def test_nps_scopes(two_accounts):
    load(two_accounts, surveys=[
        survey("1", "a", "nps", 10, "2026-03-01T10:00:00"),
        survey("2", "b", "nps", 3, "2026-03-01T10:00:00"),
        survey("3", "b", "nps", 10, "2026-03-01T11:00:00"),
    ])
    assert ask(two_accounts, "nps", "2026-03-01", "2026-03-31", account_id="a").value == 100.0
    assert ask(two_accounts, "nps", "2026-03-01", "2026-03-31", segment="ent").value == 0.0  # (1-1)/2
    assert ask(two_accounts, "nps", "2026-03-01", "2026-03-31", owner="U1").sample == 1
    assert ask(two_accounts, "nps", "2026-03-01", "2026-03-31", segment="nope").value is None


def test_nps_previous_period_and_delta(two_accounts):
    load(two_accounts, surveys=[
        survey("1", "a", "nps", 10, "2026-02-10T10:00:00"),  # previous 31 days (Jan 29 - Feb 28): 100
        survey("2", "a", "nps", 10, "2026-03-10T10:00:00"),  # March: 1 promoter, 1 detractor = 0
        survey("3", "a", "nps", 2, "2026-03-11T10:00:00"),
    ])
    r = ask(two_accounts, "nps", "2026-03-01", "2026-03-31")
    assert r.previous.period.start.isoformat() == "2026-01-29"
    assert r.previous.value == 100.0
    assert r.delta == -100.0


def test_csat_seed_example_50_of_100(two_accounts):
    rows = [survey(str(i), "a", "csat", 5 if i < 50 else 2, "2026-03-05T10:00:00") for i in range(100)]
    load(two_accounts, surveys=rows)
    r = ask(two_accounts, "csat", "2026-03-01", "2026-03-31")
    assert (r.value, r.sample) == (50.0, 100)


def test_csat_counts_4_as_satisfied_and_3_not(two_accounts):
    load(two_accounts, surveys=[
        survey("1", "a", "csat", 4, "2026-03-05T10:00:00"),
        survey("2", "a", "csat", 3, "2026-03-05T10:00:00"),
        survey("3", "a", "csat", 5, "2026-03-05T10:00:00"),
    ])
    r = ask(two_accounts, "csat", "2026-03-01", "2026-03-31")
    assert r.value == pytest.approx(200 / 3, abs=1e-4)  # 2 of 3
    assert r.breakdown == {"satisfied": 2, "not_satisfied": 1}


def test_csi_and_ces(two_accounts):
    load(two_accounts, surveys=[
        survey("1", "a", "csat", 5, "2026-03-05T10:00:00"),
        survey("2", "a", "csat", 2, "2026-03-05T10:00:00"),  # mean csat 3.5 -> 100 x 2.5 / 4 = 62.5
        survey("3", "a", "ces", 4, "2026-03-05T10:00:00"),
        survey("4", "b", "ces", 1, "2026-03-05T10:00:00"),   # mean ces 2.5
    ])
    assert ask(two_accounts, "csi", "2026-03-01", "2026-03-31").value == 62.5
    ces = ask(two_accounts, "ces", "2026-03-01", "2026-03-31")
    assert (ces.value, ces.sample) == (2.5, 2)


def test_csi_ces_csat_empty(two_accounts):
    for kpi in ("csi", "ces", "csat"):
        r = ask(two_accounts, kpi, "2026-03-01", "2026-03-31")
        assert r.value is None and r.reason
