"""`by segment|owner|feature|month|week`: one value per group, each equal to the KPI asked with that scope
alone; survey KPIs answer every group in one grouped query per period."""

import datetime as dt

import pytest
from sqlalchemy import event

from bot.render.blocks import answer_blocks
from bot.render.json_out import answer_to_json
from bot.render.terminal import render
from kpi_core.answers import ask
from kpi_core.breakdowns import breakdown
from kpi_core.engine import query
from kpi_core.periods import parse_period, split_period
from kpi_core.types import KpiRequest, Scope, UserError
from tests.kpi_helpers import UTC_CONFIG, account, invoice, load, revenue, survey, ticket, usage
from tests.test_render_blocks import check_slack_json

TODAY = dt.date(2026, 11, 22)
Q3 = parse_period("2026-Q3", TODAY)


@pytest.fixture
def data(store):
    load(store, accounts=[
        account("a1", segment="enterprise", owner_slack_id="U1", customer="2025-02-01", first_value_at="2026-09-01"),
        account("a2", segment="enterprise", owner_slack_id="U2", customer="2025-02-01", churned="2026-08-15",
                first_value_at="2026-07-20"),
        account("a3", segment="smb", owner_slack_id="U1", customer="2025-02-01", first_value_at="2026-08-20"),
        account("a4", customer="2025-02-01"),
    ], surveys=[
        survey("r1", "a1", "nps", 10, "2026-07-05T10:00:00"),
        survey("r2", "a1", "nps", 9, "2026-08-05T10:00:00"),
        survey("r3", "a2", "nps", 3, "2026-07-06T10:00:00"),
        survey("r4", "a3", "nps", 8, "2026-09-06T10:00:00"),
        survey("r5", "a4", "nps", 10, "2026-09-07T10:00:00"),
        survey("r6", "a3", "nps", 10, "2026-05-07T10:00:00"),  # Q2: the previous period
    ], usage=[
        usage("a1", "u1", "2026-07-05T10:00:00", feature="api"),
        usage("a3", "u3", "2026-08-05T10:00:00", feature="reports"),
    ], tickets=[
        ticket("t1", "a1", "2026-07-01T10:00:00", "2026-07-02T10:00:00", contacts=1),
        ticket("t2", "a2", "2026-07-03T10:00:00", "2026-07-05T10:00:00", contacts=3),
        ticket("t3", "a3", "2026-08-01T10:00:00", "2026-08-01T12:00:00", contacts=1),
        ticket("t4", "a1", "2026-06-01T10:00:00", "2026-06-02T10:00:00", contacts=2),
    ], invoices=[
        invoice("i1", "a1", "2026-07-15", 100), invoice("i2", "a1", "2026-08-15", 100),
        invoice("i3", "a3", "2026-09-15", 50),
    ], revenue=[
        revenue("a1", "2026-06", 100), revenue("a1", "2026-07", 100), revenue("a1", "2026-08", 150),
        revenue("a1", "2026-09", 150), revenue("a3", "2026-07", 50), revenue("a3", "2026-09", 60),
    ])
    return store


def _alone(store, kpi, period, **scope):
    return query(store, KpiRequest(kpi, period, Scope(**scope)), UTC_CONFIG)


def _rows(groups):
    return [(g.key, g.value, g.sample, g.previous) for g in groups]


def test_nps_by_segment_worked_by_hand(data):
    groups = breakdown(data, KpiRequest("nps", Q3), "segment", UTC_CONFIG)
    # enterprise: a1 10, 9 (promoters), a2 3 (detractor) -> 100 x (2 - 1) / 3; Q2 had none -> previous None
    # smb: a3 8 (passive) -> 0; Q2: a3 10 -> 100
    assert _rows(groups) == [("enterprise", 33.3333, 3, None), ("smb", 0.0, 1, 100.0)]
    for g in groups:
        alone = _alone(data, "nps", Q3, segment=g.key)
        assert (g.value, g.sample, g.previous) == (alone.value, alone.sample, alone.previous.value)


def test_nps_by_owner_and_within_a_scope(data):
    groups = breakdown(data, KpiRequest("nps", Q3), "owner", UTC_CONFIG)
    # U1: a1 (10, 9) + a3 (8) -> 100 x 2 / 3; U2: a2 (3) -> -100
    assert _rows(groups) == [("U1", 66.6667, 3, 100.0), ("U2", -100.0, 1, None)]
    within = breakdown(data, KpiRequest("nps", Q3, Scope(owner="U1")), "segment", UTC_CONFIG)
    # owner U1 only: enterprise = a1 (2 promoters) -> 100; smb = a3 (passive) -> 0
    assert _rows(within) == [("enterprise", 100.0, 2, None), ("smb", 0.0, 1, 100.0)]
    for g in within:
        alone = _alone(data, "nps", Q3, owner="U1", segment=g.key)
        assert (g.value, g.sample) == (alone.value, alone.sample)


def test_survey_breakdown_is_one_grouped_query_per_period(data):
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "surveys" in statement:
            statements.append(statement)

    event.listen(data, "before_cursor_execute", capture)
    try:
        breakdown(data, KpiRequest("nps", Q3), "segment", UTC_CONFIG)
    finally:
        event.remove(data, "before_cursor_execute", capture)
    assert len(statements) == 2 and all("GROUP BY" in s for s in statements)


def test_churn_by_segment_each_group_equals_its_scope_alone(data):
    groups = breakdown(data, KpiRequest("churn", Q3), "segment", UTC_CONFIG)
    # lower is better, so smb (0 of 1 lost) comes before enterprise (a2 of a1, a2 lost: 50%)
    assert [(g.key, g.value, g.sample) for g in groups] == [("smb", 0.0, 1), ("enterprise", 50.0, 2)]
    for g in groups:
        assert g.value == _alone(data, "churn", Q3, segment=g.key).value


def test_fcr_by_segment_worked_by_hand(data):
    groups = breakdown(data, KpiRequest("fcr", Q3), "segment", UTC_CONFIG)
    # enterprise: t1 (1 contact) and t2 (3) resolved in Q3 -> 50%; smb: t3 (1) -> 100%
    # previous (Q2): enterprise t4 (2 contacts) -> 0%; smb none
    assert _rows(groups) == [("smb", 100.0, 1, None), ("enterprise", 50.0, 2, 0.0)]


def test_medians_by_segment_worked_by_hand(data):
    hours = breakdown(data, KpiRequest("resolution_time", Q3), "segment", UTC_CONFIG)
    # enterprise: t1 24 h, t2 48 h -> median 36 (previous: t4 24 h); smb: t3 2 h. Lower is better: smb first
    assert _rows(hours) == [("smb", 2.0, 1, None), ("enterprise", 36.0, 2, 24.0)]
    days = breakdown(data, KpiRequest("ttv", Q3), "segment", UTC_CONFIG)
    # signed up 2025-01-01; enterprise a1 608 days, a2 565 -> 586.5; smb a3 596
    assert [(g.key, g.value, g.sample) for g in days] == [("enterprise", 586.5, 2), ("smb", 596.0, 1)]


def test_adoption_by_feature(data):
    groups = breakdown(data, KpiRequest("adoption", Q3), "feature", UTC_CONFIG)
    # customers on 30 Sep: a1, a3, a4 (a2 churned); api used by a1, reports by a3 -> 1 of 3 each
    assert [(g.key, g.value, g.sample) for g in groups] == [("api", 33.3333, 3), ("reports", 33.3333, 3)]
    with pytest.raises(UserError, match="splits usage KPIs only"):
        breakdown(data, KpiRequest("nps", Q3), "feature", UTC_CONFIG)


def test_mrr_by_month_is_the_monthly_series(data):
    groups = breakdown(data, KpiRequest("mrr", Q3), "month", UTC_CONFIG)
    # July: 100 + 50; August: 150 (a3 has no row); September: 150 + 60; June (July's previous): 100
    assert _rows(groups) == [("July 2026", 150.0, 2, 100.0), ("August 2026", 150.0, 1, 150.0),
                             ("September 2026", 210.0, 2, 150.0)]
    with pytest.raises(UserError, match="month-based"):
        breakdown(data, KpiRequest("nrr", Q3), "week", UTC_CONFIG)


def test_nrr_by_segment_worked_by_hand(data):
    period = parse_period("2026-07-10..2026-09-30", TODAY)  # July (month of 9 July) against September
    groups = breakdown(data, KpiRequest("nrr", period), "segment", UTC_CONFIG)
    # enterprise: a1 100 -> 150 = 150%; smb: a3 50 -> 60 = 120%
    assert [(g.key, g.value, g.sample) for g in groups] == [("enterprise", 150.0, 1), ("smb", 120.0, 1)]


def test_month_based_series_takes_whole_months(data):
    period = parse_period("2026-07-10..2026-09-30", TODAY)
    groups = breakdown(data, KpiRequest("nrr", period), "month", UTC_CONFIG)
    assert [(g.period.start, g.period.end) for g in groups][0] == (dt.date(2026, 7, 1), dt.date(2026, 7, 31))
    # July against June: cohort a1 (100 in June) -> 100 in July: 100%
    assert groups[0].value == 100.0


def test_nps_by_week_series_covers_the_period(data):
    groups = breakdown(data, KpiRequest("nps", parse_period("2026-07", TODAY)), "week", UTC_CONFIG)
    spans = [(g.period.start.isoformat(), g.period.end.isoformat()) for g in groups]
    assert spans == [("2026-07-01", "2026-07-05"), ("2026-07-06", "2026-07-12"), ("2026-07-13", "2026-07-19"),
                     ("2026-07-20", "2026-07-26"), ("2026-07-27", "2026-07-31")]
    # week 1 (to 5 July): r1 10 -> 100; week 2: r3 3 -> -100; later weeks: no responses
    assert [g.value for g in groups] == [100.0, -100.0, None, None, None]


def test_split_period_weeks_and_months():
    pieces = split_period(parse_period("2026-Q3", TODAY), "month")
    assert [p.label for p in pieces] == ["July 2026", "August 2026", "September 2026"]
    friday = dt.date(2026, 11, 20)
    cut = split_period(parse_period("this-month", friday), "week")  # 1-20 November, cut at today
    assert [(p.start.day, p.end.day, p.kind) for p in cut] == [(1, 1, "range"), (2, 8, "week"), (9, 15, "week"),
                                                              (16, 20, "week")]
    assert cut[-1].truncated and not cut[1].truncated


def test_parse_and_answer_with_json_groups_and_renderers(data):
    answer = ask(data, "/kpi nps 2026-Q3 by segment", TODAY, UTC_CONFIG)
    out = answer_to_json(answer)
    assert out["value"] == 40.0  # total: 5 responses, 3 promoters, 1 detractor
    assert out["by"] == "segment"
    assert [(g["key"], g["value"], g["sample"], g["previous"]) for g in out["groups"]] == [
        ("enterprise", 33.3333, 3, None), ("smb", 0.0, 1, 100.0)]
    check_slack_json(answer_blocks(answer, share_value="x"))
    assert render(answer) is not None
    with pytest.raises(UserError, match="cannot read `by region`. Break a KPI down with `by segment`"):
        ask(data, "/nps 2026-Q3 by region", TODAY, UTC_CONFIG)
    with pytest.raises(UserError, match="One breakdown at a time"):
        ask(data, "/nps 2026-Q3 by segment by owner", TODAY, UTC_CONFIG)
    assert answer_to_json(ask(data, "/nps 2026-Q3", TODAY, UTC_CONFIG)).get("groups") is None


def test_an_account_name_with_by_in_it_is_still_an_account(store):
    load(store, accounts=[account("sbm", name="Stand by Me", customer="2025-02-01")])
    answer = ask(store, "/kpi customers 2026-Q3 stand by me", TODAY, UTC_CONFIG)
    assert answer.result.scope.account.id == "sbm" and answer.groups is None


def test_many_groups_stay_within_block_kit_limits(store):
    load(store, accounts=[account(f"a{i}", segment=f"seg{i:03d}") for i in range(120)],
         surveys=[survey(f"r{i}", f"a{i}", "nps", i % 11, "2026-07-05T10:00:00") for i in range(120)])
    answer = ask(store, "/nps 2026-Q3 by segment", TODAY, UTC_CONFIG)
    assert len(answer.groups) == 120
    data = check_slack_json(answer_blocks(answer))
    assert "and 80 more" in str(data)


@pytest.mark.parametrize("by", ["segment", "owner"])
def test_every_kpi_every_group_equals_its_scope_alone(data, by):
    from kpi_core.catalog import catalog

    period = parse_period("2026-07-10..2026-09-30", TODAY)
    for kdef in catalog().all():
        groups = breakdown(data, KpiRequest(kdef.id, period), by, UTC_CONFIG)
        assert [g.key for g in groups] and {g.key for g in groups} == ({"enterprise", "smb"} if by == "segment"
                                                                        else {"U1", "U2"}), kdef.id
        for g in groups:
            alone = _alone(data, kdef.id, period, **{by: g.key})
            assert (g.value, g.sample, g.previous, g.reason) == (
                alone.value, alone.sample, alone.previous.value, alone.reason), (kdef.id, g.key)


def test_customer_kpis_break_down_in_one_grouped_query_per_period(data):
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(data, "before_cursor_execute", capture)
    try:
        breakdown(data, KpiRequest("churn", Q3), "owner", UTC_CONFIG)
    finally:
        event.remove(data, "before_cursor_execute", capture)
    grouped = [s for s in statements if "GROUP BY" in s and "accounts" in s]
    # the owner list (one GROUP BY over accounts) and the churn counts of this period and the previous one
    assert len(grouped) == 3 and len(statements) == 3
