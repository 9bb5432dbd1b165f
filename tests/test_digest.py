"""The digest's content (kpi_core/digest.py) on SQLite and Postgres, with small hand-made data."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event

from kpi_core.digest import (
    DEFAULT_DIGEST_KPIS,
    SERIES_PERIODS,
    Mover,
    build_digest,
    kpi_period,
    last_complete_period,
)
from kpi_core.engine import query
from kpi_core.health import score_accounts
from kpi_core.periods import Period
from kpi_core.risk import at_risk
from kpi_core.stored_health import forget
from kpi_core.types import KpiRequest, Scope, UnknownKpiError, UserError
from tests.kpi_helpers import UTC_CONFIG, account, d, load, revenue, survey

TODAY = d("2026-11-23")  # a Monday: the digest covers week 47, 2026-11-16 .. 2026-11-22
WEEK = (d("2026-11-16"), d("2026-11-22"))
CUSTOMER = "2026-01-01"


class StatementCounter:
    def __init__(self, engine):
        self.engine = engine
        self.count = 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args):
        self.count += 1


# ------------------------------------------------------------------------------------------------- periods


@pytest.mark.parametrize(("today", "start", "end", "label"), [
    ("2026-11-23", "2026-11-16", "2026-11-22", "week 47 of 2026"),  # Monday: the week that ended yesterday
    ("2026-11-24", "2026-11-16", "2026-11-22", "week 47 of 2026"),
    ("2026-11-22", "2026-11-09", "2026-11-15", "week 46 of 2026"),  # Sunday: this week is not over
    ("2027-01-04", "2026-12-28", "2027-01-03", "week 53 of 2026"),  # across the year, ISO week numbering
    ("2027-01-01", "2026-12-21", "2026-12-27", "week 52 of 2026"),
])
def test_last_complete_week(today, start, end, label):
    p = last_complete_period(d(today))
    assert (p.start, p.end, p.label, p.kind, p.truncated) == (d(start), d(end), label, "week", False)
    assert p.start.weekday() == 0 and p.end.weekday() == 6
    assert p.previous() == Period(d(start) - dt.timedelta(days=7), d(end) - dt.timedelta(days=7),
                                  p.previous().label, "week")


@pytest.mark.parametrize(("today", "start", "end", "label"), [
    ("2026-12-01", "2026-11-01", "2026-11-30", "November 2026"),  # the 1st: the month that ended yesterday
    ("2026-11-30", "2026-10-01", "2026-10-31", "October 2026"),  # the last day: this month is not over
    ("2027-01-01", "2026-12-01", "2026-12-31", "December 2026"),
    ("2024-03-01", "2024-02-01", "2024-02-29", "February 2024"),
    ("2026-03-31", "2026-02-01", "2026-02-28", "February 2026"),
])
def test_last_complete_month(today, start, end, label):
    p = last_complete_period(d(today), "month")
    assert (p.start, p.end, p.label, p.kind, p.truncated) == (d(start), d(end), label, "month", False)


def test_unknown_cadence_is_an_error():
    with pytest.raises(UserError, match="weekly or monthly"):
        last_complete_period(TODAY, "day")


# ------------------------------------------------------------------------------------------------- values


def _kpi_data():
    accounts = [
        account("a1", customer=CUSTOMER, renewal_date="2027-06-01", first_value_at="2026-02-01"),
        account("a2", customer="2026-09-10"),
        account("a3", customer="2026-10-05", churned="2026-11-18"),
        account("a4", customer="2026-11-17"),
        account("a5", customer="2026-08-20", churned="2026-10-01"),
        account("t1"),
    ]
    rev = [revenue(a, m, v) for a, m, v in [
        ("a1", "2026-08", 100), ("a1", "2026-09", 100), ("a1", "2026-10", 120), ("a1", "2026-11", 150),
        ("a2", "2026-09", 50), ("a2", "2026-10", 50), ("a2", "2026-11", 40),
        ("a3", "2026-10", 80), ("a3", "2026-11", 80), ("a5", "2026-08", 30), ("a5", "2026-09", 30),
    ]]
    surveys = [
        survey("s1", "a1", "nps", 10, "2026-11-17T09:00:00"), survey("s2", "a2", "nps", 3, "2026-11-20T09:00:00"),
        survey("s3", "a1", "nps", 8, "2026-11-10T09:00:00"), survey("s4", "a2", "nps", 9, "2026-10-01T09:00:00"),
        survey("s5", "a1", "csat", 5, "2026-11-21T23:30:00"), survey("s6", "a2", "csat", 2, "2026-11-16T00:10:00"),
        survey("s7", "a3", "csat", 4, "2026-11-12T12:00:00"),
    ]
    return accounts, rev, surveys


def test_values_are_what_the_engine_answers_for_the_same_kpi_and_period(store):
    accounts, rev, surveys = _kpi_data()
    load(store, accounts=accounts, revenue=rev, surveys=surveys)
    content = build_digest(store, TODAY, UTC_CONFIG)
    period = content.period
    assert (period.start, period.end) == WEEK and content.cadence == "week"
    assert content.title == "Weekly digest: week 47 of 2026 (2026-11-16 – 2026-11-22)"
    assert [r.kpi for r in content.results] == list(DEFAULT_DIGEST_KPIS)
    for r in content.results:
        assert r == query(store, KpiRequest(r.kpi, kpi_period(r.kpi, period, TODAY)), UTC_CONFIG), r.kpi
    by_id = {r.kpi: r for r in content.results}
    # month-based KPIs never show a week-over-week change: the latest complete month against the one before
    for kpi in ("mrr", "nrr"):
        assert (by_id[kpi].period.label, by_id[kpi].previous.period.label) == ("October 2026", "September 2026")
    assert by_id["customers"].period == period
    assert by_id["customers"].value == 3 and by_id["customers"].delta == 0  # a4 joined, a3 left
    assert by_id["nps"].value == 0.0 and by_id["nps"].previous.value == 0.0  # 1 promoter 1 detractor; 1 passive
    assert by_id["health"].value is not None

    # the chart's history: the first four KPIs (health is never charted), 12 weeks ending with this one
    assert list(content.series) == ["customers", "mrr", "nrr", "churn"]
    periods = [period]
    while len(periods) < SERIES_PERIODS:
        periods.append(periods[-1].previous())
    periods.reverse()
    months = [last_complete_period(TODAY, "month")]
    while len(months) < SERIES_PERIODS:
        months.append(months[-1].previous())
    months.reverse()
    for kpi, points in content.series.items():
        chain = months if kpi in ("mrr", "nrr") else periods  # a month-based KPI's series is monthly
        assert [day for day, _ in points] == [p.end for p in chain]
        assert [v for _, v in points] == [query(store, KpiRequest(kpi, p), UTC_CONFIG).value for p in chain], kpi
    assert [v for _, v in content.series["customers"]][-4:] == [3, 3, 3, 3]
    assert content.series["customers"][0] == (d("2026-09-06"), 2.0)  # a1 and a5 (a2 joined 2026-09-10)


def test_a_connection_works_like_an_engine_and_no_kpis_means_the_defaults(store):
    accounts, rev, surveys = _kpi_data()
    load(store, accounts=accounts, revenue=rev, surveys=surveys)
    with store.connect() as conn:
        on_conn = build_digest(conn, TODAY, UTC_CONFIG, kpis=())
    assert on_conn == build_digest(store, TODAY, UTC_CONFIG)


def test_monthly_digest_covers_the_last_month_and_twelve_month_ends(store):
    accounts, rev, surveys = _kpi_data()
    load(store, accounts=accounts, revenue=rev, surveys=surveys)
    content = build_digest(store, d("2026-12-01"), UTC_CONFIG, ["mrr", "health", "nps"], cadence="month")
    assert (content.period.start, content.period.end, content.cadence) == (d("2026-11-01"), d("2026-11-30"), "month")
    assert content.title == "Monthly digest: November 2026 (2026-11-01 – 2026-11-30)"
    assert list(content.series) == ["mrr", "nps"]
    ends = [day for day, _ in content.series["mrr"]]
    assert ends[0] == d("2025-12-31") and ends[-1] == d("2026-11-30") and len(ends) == 12
    assert [v for _, v in content.series["mrr"]][-4:] == [130.0, 180.0, 250.0, 270.0]
    for r in content.results:
        assert r == query(store, KpiRequest(r.kpi, content.period), UTC_CONFIG)


def test_kpi_ids_are_checked_before_any_query_and_aliases_resolved(store):
    with StatementCounter(store) as counter, pytest.raises(UnknownKpiError) as err:
        build_digest(store, TODAY, UTC_CONFIG, ["nps", "nope"])
    assert err.value.name == "nope" and counter.count == 0
    content = build_digest(store, TODAY, UTC_CONFIG, ["arpu", "ARPA", "nps"])
    assert [r.kpi for r in content.results] == ["arpa", "nps"]


def test_bad_cadence_and_feature_scope_are_user_errors(store):
    with pytest.raises(UserError, match="weekly or monthly"):
        build_digest(store, TODAY, UTC_CONFIG, cadence="quarter")
    with pytest.raises(UserError, match="feature"):
        build_digest(store, TODAY, UTC_CONFIG, scope=Scope(feature="reports"))


def test_query_count_does_not_grow_with_accounts(store):
    accounts, rev, surveys = _kpi_data()
    load(store, accounts=accounts, revenue=rev, surveys=surveys)
    forget()  # both digests built as a new process would (kpi_core/stored_health.py keeps copies in memory)
    with StatementCounter(store) as few:
        build_digest(store, TODAY, UTC_CONFIG)
    more = [account(f"x{i:02d}", customer="2026-05-01", renewal_date="2026-12-01") for i in range(40)]
    load(store, accounts=more, revenue=[revenue(f"x{i:02d}", "2026-11", 10 + i) for i in range(40)],
         surveys=[survey(f"xs{i}", f"x{i:02d}", "nps", i % 11, "2026-11-19T10:00:00") for i in range(40)])
    forget()
    with StatementCounter(store) as many:
        content = build_digest(store, TODAY, UTC_CONFIG)
    assert len(content.renewals) == 40 and len(content.movers) == 5
    assert many.count == few.count <= 120


def test_history_costs_five_engine_queries_per_charted_kpi_without_over_periods(store, monkeypatch):
    """A KPI without `over_periods` asks the engine once per two periods (each query computes its period and the
    one before), so 12 points take 6 calls, one the digest's own; one with it (mrr) only asks for its own result."""
    import kpi_core.digest as digest_module

    asked = []

    def counting_query(engine, request, config=None):
        asked.append((request.kpi, request.period.end))
        return query(engine, request, config)

    monkeypatch.setattr(digest_module, "query", counting_query)
    build_digest(store, TODAY, UTC_CONFIG, ["health", "adoption", "mrr"])
    assert len(asked) == 3 + 5 and len(set(asked)) == len(asked)
    assert sorted(end for kpi, end in asked if kpi == "adoption") == [WEEK[1] - dt.timedelta(weeks=w)
                                                                 for w in (10, 8, 6, 4, 2, 0)]
    assert [kpi for kpi, _ in asked].count("mrr") == 1


# ------------------------------------------------------------------------------------------------ at risk


def test_newly_at_risk_leaves_out_accounts_already_at_risk_before_the_period(store):
    load(store, accounts=[
        account("old", name="Old Trouble", customer=CUSTOMER, owner_slack_id="U0OLD"),
        account("new", name="New Trouble", customer=CUSTOMER, owner_slack_id="U0NEW"),
        account("fine", name="Fine", customer=CUSTOMER),
        account("gone", name="Gone", customer=CUSTOMER, churned="2026-11-20"),
    ], surveys=[
        survey("r1", "old", "nps", 3, "2026-11-10T10:00:00"),  # a detractor before the period: at risk since
        survey("r2", "new", "nps", 2, "2026-11-18T10:00:00"),  # a detractor during the period
        survey("r3", "fine", "nps", 10, "2026-11-18T10:00:00"),
        survey("r4", "gone", "nps", 1, "2026-11-17T10:00:00"),  # churned before the period end: not a customer
    ])
    with store.connect() as conn:
        at_end = {a.health.account.id for a in at_risk(conn, WEEK[1], UTC_CONFIG)}
        before = {a.health.account.id for a in at_risk(conn, WEEK[0] - dt.timedelta(days=1), UTC_CONFIG)}
    assert at_end == {"old", "new"} and before == {"old"}
    content = build_digest(store, TODAY, UTC_CONFIG, ["customers"])
    assert [a.health.account.id for a in content.newly_at_risk] == ["new"]
    fired = content.newly_at_risk[0]
    assert fired.health.owner == "U0NEW"
    assert {r.id for r in fired.rules} == {"red_band", "detractor"}
    assert "score 2, on 2026-11-18" in next(r.text for r in fired.rules if r.id == "detractor")


def test_newly_at_risk_respects_the_scope(store):
    load(store, accounts=[
        account("n1", customer=CUSTOMER, segment="smb"), account("n2", customer=CUSTOMER, segment="enterprise"),
    ], surveys=[survey("q1", "n1", "nps", 2, "2026-11-18T10:00:00"),
                survey("q2", "n2", "nps", 2, "2026-11-18T10:00:00")])
    content = build_digest(store, TODAY, UTC_CONFIG, ["customers"], scope=Scope(segment="enterprise"))
    assert [a.health.account.id for a in content.newly_at_risk] == ["n2"]


# ----------------------------------------------------------------------------------------------- renewals


def test_renewals_in_the_next_30_days_inclusive(store):
    load(store, accounts=[
        account("r_today", name="Renews Today", customer=CUSTOMER, renewal_date="2026-11-23", owner_slack_id="U1",
                segment="smb"),
        account("r_30", name="Renews In 30", customer=CUSTOMER, renewal_date="2026-12-23", first_value_at="2026-02-01",
                segment="enterprise"),
        account("r_10b", name="B Renews In 10", customer=CUSTOMER, renewal_date="2026-12-03", segment="smb"),
        account("r_10a", name="A Renews In 10", customer=CUSTOMER, renewal_date="2026-12-03", segment="smb"),
        account("r_fresh", name="Fresh", customer="2026-11-23", renewal_date="2026-12-10", segment="enterprise"),
        account("r_31", customer=CUSTOMER, renewal_date="2026-12-24"),
        account("r_past", customer=CUSTOMER, renewal_date="2026-11-22"),
        account("r_churned", customer=CUSTOMER, churned="2026-11-01", renewal_date="2026-12-01"),
        account("r_trial", renewal_date="2026-12-01"),
        account("r_none", customer=CUSTOMER),
    ], revenue=[
        revenue("r_today", "2026-11", 100), revenue("r_today", "2026-11", "50.25", product="analytics"),
        revenue("r_today", "2026-10", 999), revenue("r_30", "2026-12", 500),
    ])
    content = build_digest(store, TODAY, UTC_CONFIG, ["customers"])
    assert [(r.account.id, r.renewal_date) for r in content.renewals] == [
        ("r_today", d("2026-11-23")), ("r_10a", d("2026-12-03")), ("r_10b", d("2026-12-03")),
        ("r_fresh", d("2026-12-10")), ("r_30", d("2026-12-23"))]
    first, last = content.renewals[0], content.renewals[-1]
    assert (first.account.name, first.owner, first.mrr) == ("Renews Today", "U1", 150.25)  # the period end's month
    assert last.mrr is None  # no November revenue (December's is not the digest's month)
    # the band is the health band at the period end: r_30 has lifecycle only, renews in 31 days and reached
    # value -> (50 + 50 x 31/90 + 100) / 2 = 83.6 -> green; r_fresh was not a customer then -> None
    with store.connect() as conn:
        bands = {h.account.id: h.band for h in score_accounts(conn, WEEK[1], UTC_CONFIG)}
    assert [r.band for r in content.renewals] == [bands["r_today"], bands["r_10a"], bands["r_10b"], None, "green"]
    assert "r_fresh" not in bands and bands["r_10a"] == "red"  # renews in 11 days, never reached value
    scoped = build_digest(store, TODAY, UTC_CONFIG, ["customers"], scope=Scope(segment="smb"))
    assert [r.account.id for r in scoped.renewals] == ["r_today", "r_10a", "r_10b"]


# ------------------------------------------------------------------------------------------------- movers


def _sentiment(prefix, account_id, kind, scores, at):
    return [survey(f"{prefix}{i}", account_id, kind, s, at) for i, s in enumerate(scores)]


def test_movers_are_the_five_biggest_health_changes_either_way(store):
    before, during = "2026-11-01T10:00:00", "2026-11-18T10:00:00"
    names = {"up75": "Up 75", "alpha": "Alpha", "beta": "Beta", "down25": "Down 25", "up10": "Up 10",
             "down5": "Down 5", "same": "Same"}
    load(store, accounts=[
        *(account(k, name=v, customer=CUSTOMER, owner_slack_id=f"U{k.upper()}") for k, v in names.items()),
        account("newbie", name="Newbie", customer="2026-11-18"),
    ], surveys=[
        *_sentiment("a", "up75", "nps", [0], before), *_sentiment("b", "up75", "nps", [10, 10, 10], during),
        *_sentiment("c", "alpha", "nps", [10], before), *_sentiment("d", "alpha", "nps", [0], during),
        *_sentiment("e", "beta", "csat", [5], before), *_sentiment("f", "beta", "csat", [2], during),
        *_sentiment("g", "down25", "nps", [10], before), *_sentiment("h", "down25", "nps", [7], during),
        *_sentiment("i", "up10", "csat", [5, 5, 1, 1, 1], before), *_sentiment("j", "up10", "csat", [5], during),
        *_sentiment("k", "down5", "csat", [5] * 19, before), *_sentiment("l", "down5", "csat", [1], during),
        *_sentiment("m", "same", "nps", [10], before),
        *_sentiment("n", "newbie", "nps", [0], before), *_sentiment("o", "newbie", "nps", [10] * 3, during),
    ])
    content = build_digest(store, TODAY, UTC_CONFIG, ["customers"])
    assert [(m.account.id, m.before, m.after, m.change) for m in content.movers] == [
        ("up75", 0.0, 75.0, 75.0),
        ("alpha", 100.0, 50.0, -50.0),  # tie on the size of the move: by name
        ("beta", 100.0, 50.0, -50.0),
        ("down25", 100.0, 75.0, -25.0),
        ("up10", 40.0, 50.0, 10.0),
    ]  # down5 (-5) is sixth; same (0) did not move; newbie was not a customer before the period
    assert content.movers[0] == Mover(content.movers[0].account, "UUP75", 0.0, 75.0)
