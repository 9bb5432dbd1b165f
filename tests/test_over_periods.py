"""`over_periods`: a KPI over several periods in one statement equals its `compute` over each period alone, on
SQLite and Postgres, in UTC and in reporting time zones either side of it (the digest's history uses it)."""

from __future__ import annotations

import datetime as dt

import pytest

from kpi_core.breakdowns import series
from kpi_core.catalog import catalog
from kpi_core.config import HealthConfig, KpiConfig
from kpi_core.context import QueryContext
from kpi_core.digest import SERIES_PERIODS, _history, build_digest, kpi_period, last_complete_period
from kpi_core.engine import PERIODS_PER_STATEMENT, query, query_over
from kpi_core.periods import Period, parse_period, split_period
from kpi_core.types import AccountRef, KpiRequest, Scope
from tests.kpi_helpers import account, d, invoice, load, revenue, survey, ticket
from tests.test_digest import StatementCounter

TODAY = d("2026-11-23")  # weekly digest: week 47 (16-22 November); monthly: October 2026
OVER = sorted(k.id for k in catalog().all() if k.over_periods is not None)
# Los Angeles leaves summer time on 1 November 2026 (inside the weekly history), Auckland enters it on 27 September.
ZONES = ("UTC", "America/Los_Angeles", "Pacific/Auckland")
SCOPES = (Scope(), Scope(segment="smb"), Scope(account=AccountRef("b1", "B1")), Scope(segment="none-such"))


def _config(tz: str) -> KpiConfig:
    return KpiConfig(tz, 1.0, HealthConfig({}, 70, 40))


@pytest.fixture
def data(store):
    load(store, accounts=[
        account("b1", segment="smb", customer="2025-06-01", acquisition_source="referral", signed="2025-05-01",
                first_value_at="2025-12-01"),
        account("b2", segment="smb", customer="2026-09-07", signed="2026-08-31",  # customer on the history's 1st day
                first_value_at="2026-09-13"),
        account("b3", segment="enterprise", customer="2025-06-01", churned="2026-10-11"),  # a Sunday: week end
        account("b4", segment="enterprise", customer="2026-10-12", churned="2026-10-18", signed="2026-10-12",
                first_value_at="2026-10-12"),  # new and lost in one week
        account("b5", customer="2026-03-01", churned="2026-08-31", acquisition_source=" Referral ",
                signed="2026-02-15", first_value_at="2026-02-20"),
        account("b6", segment="smb", customer="2026-11-22", signed="2026-09-13", first_value_at="2026-09-07"),
        account("b7", segment="smb", signed="2026-09-07"),  # a trial that never converted
        account("b8", segment="smb", signed="2026-10-18", customer="2026-11-30", first_value_at="2026-10-18"),
    ], tickets=[ticket(*t) for t in [
        ("k1", "b1", "2026-10-01T10:00:00", "2026-10-05T06:30:00", 1),  # 4 October in Los Angeles
        ("k2", "b2", "2026-10-04T09:00:00", "2026-10-04T11:30:00", 2),  # 5 October in Auckland
        ("k3", "b1", "2026-10-20T09:00:00", "2026-10-21T10:00:00", 1),
        ("k4", "b3", "2026-10-19T09:00:00", "2026-10-21T09:00:00", None),  # no contact count: out of fcr
        ("k5", "b2", "2026-10-20T09:00:00", "2026-10-22T09:00:00", 1),
        ("k6", "b6", "2026-11-01T00:00:00", "2026-11-02T07:30:00", 3),  # after Los Angeles summer time
        ("k7", "b1", "2026-11-20T09:00:00", None, None),  # open
        ("k8", "b2", "2026-05-30T09:00:00", "2026-05-31T23:59:59", 1),
    ]], invoices=[invoice(*i) for i in [
        ("i1", "b1", "2026-09-07", 100), ("i2", "b1", "2026-09-13", 100), ("i3", "b2", "2026-09-13", 50),
        ("i4", "b2", "2026-09-14", 50), ("i5", "b3", "2026-10-31", 70), ("i6", "b3", "2026-11-01", 70),
        ("i7", "b6", "2026-11-22", 20), ("i8", "b1", "2026-03-31", 10), ("i9", "b1", "2026-04-01", 10),
    ]], revenue=[revenue(a, m, v, *p) for a, m, v, *p in [
        ("b1", "2025-11", 100), ("b1", "2025-12", 100), ("b1", "2026-01", 110), ("b1", "2026-03", 120),
        ("b1", "2026-04", 120), ("b1", "2026-05", 130), ("b1", "2026-06", 130), ("b1", "2026-07", 90),
        ("b1", "2026-08", 90), ("b1", "2026-09", 95.55), ("b1", "2026-10", 95.55), ("b1", "2026-11", 100),
        ("b1", "2026-10", 10.1, "addon"),
        ("b3", "2025-12", 200), ("b3", "2026-01", 200), ("b3", "2026-03", 250), ("b3", "2026-09", 250),
        ("b3", "2026-10", 0),
        ("b5", "2026-03", 40), ("b5", "2026-04", 40), ("b5", "2026-08", 45.25),
        ("b2", "2026-09", 60.3), ("b2", "2026-10", 70.2),
        # no row at all in February 2026: an empty month (mrr has no data, March's nrr no cohort)
    ]], surveys=[survey(f"s{i}", a, kind, score, at) for i, (a, kind, score, at) in enumerate([
        ("b1", "nps", 10, "2026-10-05T06:30:00"),  # Monday 00:00-ish: 4 Oct 23:30 in Los Angeles
        ("b2", "nps", 3, "2026-10-04T11:30:00"),  # Sunday UTC; Monday 5 Oct 00:30 in Auckland
        ("b3", "nps", 8, "2026-11-02T07:30:00"),  # after summer time: 1 Nov 23:30 in Los Angeles
        ("b1", "nps", 9, "2026-11-16T00:00:00"),  # exactly midnight UTC
        ("b2", "nps", 0, "2026-09-07T10:00:00"),
        ("b1", "nps", 7, "2026-05-31T23:59:59"),
        ("b3", "nps", 10, "2026-06-01T00:00:00"),
        ("b1", "csat", 5, "2026-10-31T23:30:00"),  # month end in UTC; 1 November in Auckland
        ("b2", "csat", 2, "2026-11-01T03:00:00"),  # 31 October in Los Angeles
        ("b3", "csat", 4, "2026-09-20T12:00:00"),
        ("b1", "csat", 3, "2026-03-15T12:00:00"),
        ("b1", "ces", 4, "2026-10-20T12:00:00"), ("b2", "ces", 2, "2026-10-21T12:00:00"),
        # no response at all from 21 September to 4 October: empty weeks
    ])])
    return store


def _chain(kpi: str, cadence: str) -> list[Period]:
    return _history(kpi_period(kpi, last_complete_period(TODAY, cadence), TODAY), SERIES_PERIODS)


def test_the_digests_charted_kpis_have_the_grouped_path():
    assert {"customers", "mrr", "nrr", "churn"} <= set(OVER)


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("cadence", ["week", "month"])
def test_over_periods_equals_compute_per_period(data, tz, cadence):
    config = _config(tz)
    with data.connect() as conn:
        for kpi in OVER:
            kdef, periods = catalog().get(kpi), _chain(kpi, cadence)
            for scope in SCOPES if tz == "UTC" else SCOPES[:2]:  # the zone matters to the bounds, not the scope
                ctx = QueryContext(periods[0], scope, config)
                expected = [kdef.compute(conn, ctx.with_period(p)) for p in periods]
                assert kdef.over_periods(conn, ctx, periods) == expected, (kpi, scope)


@pytest.mark.parametrize("tz", ZONES)
def test_overlapping_and_partial_periods(data, tz):
    """The pieces of a `by week` series and each one's previous period overlap; each is still exact."""
    cut = Period(d("2026-09-02"), d("2026-10-14"), "2 September to 14 October", "range")
    pieces = split_period(cut, "week")
    periods = [*pieces, *(p.previous() for p in pieces), Period(d("2026-10-05"), d("2026-10-05"), "day", "day")]
    with data.connect() as conn:
        for kpi in OVER:
            kdef = catalog().get(kpi)
            ctx = QueryContext(periods[0], Scope(), _config(tz))
            assert kdef.over_periods(conn, ctx, periods) == [kdef.compute(conn, ctx.with_period(p)) for p in periods]


def test_one_statement_whatever_the_number_of_periods(data):
    for kpi in OVER:
        for n in (1, 12, 30):
            with StatementCounter(data) as counter:
                query_over(data, kpi, _history(_chain(kpi, "week")[0], n), Scope(), _config("Pacific/Auckland"))
            assert counter.count == 1, (kpi, n)


def test_many_periods_take_one_statement_per_chunk(data):
    """Ten years by week (a series and its previous periods) must not exceed SQLite's compound SELECT limit."""
    days = [Period(d("2026-01-01") + dt.timedelta(days=i), d("2026-01-01") + dt.timedelta(days=i), "day", "day")
            for i in range(2 * PERIODS_PER_STATEMENT + 101)]
    config = _config("America/Los_Angeles")
    for kpi in ("customers", "nps"):
        with StatementCounter(data) as counter:
            measures = query_over(data, kpi, days, Scope(), config)
        assert counter.count == 3
        ctx, kdef = QueryContext(days[0], Scope(), config), catalog().get(kpi)
        with data.connect() as conn:
            expected = [kdef.compute(conn, ctx.with_period(p)) for p in days]
        assert [m.value for m in measures] == [None if m.value is None else round(m.value, 4) for m in expected]


@pytest.mark.parametrize("tz", ["UTC", "America/Los_Angeles"])
@pytest.mark.parametrize("cadence", ["week", "month"])
def test_digest_series_is_what_the_engine_answers_for_each_period(data, tz, cadence):
    config = _config(tz)
    kpis = ["customers", "mrr", "nrr", "churn", "nps", "csat"]
    for scope in (Scope(), Scope(segment="smb")):
        content = build_digest(data, TODAY, config, kpis, cadence, scope)
        assert list(content.series) == kpis[:4]
        for kpi, points in content.series.items():
            chain = _chain(kpi, cadence)
            expected = [query(data, KpiRequest(kpi, p, scope), config).value for p in reversed(chain)]
            assert points == tuple(zip([p.end for p in reversed(chain)], expected, strict=True)), kpi


@pytest.mark.parametrize(("tz", "text"), [
    ("UTC", "this-quarter"),  # cut at today
    ("Pacific/Auckland", "2026-02-10..2026-06-20"),  # pieces cut at both ends
])
def test_by_month_and_week_series_is_one_statement_and_one_query_per_piece(data, tz, text):
    config, scope = _config(tz), Scope(segment="smb")
    period = parse_period(text, TODAY)
    for kpi in OVER:
        kdef = catalog().get(kpi)
        for by in ("month",) if kdef.month_based else ("month", "week"):
            pieces = split_period(period, by, whole_first=kdef.month_based)
            with StatementCounter(data) as counter:
                groups = series(data, kpi, scope, pieces, config)
            assert counter.count == 1, (kpi, by)
            for g, p in zip(groups, pieces, strict=True):
                r = query(data, KpiRequest(kpi, p, scope), config)
                assert (g.key, g.value, g.sample, g.previous, g.reason, g.period) == (
                    p.label, r.value, r.sample, r.previous.value, r.reason, p), (kpi, by, p)
