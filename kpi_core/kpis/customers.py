"""Customer KPIs: retention, churn, customer count, new customers, trial conversion, referrals, time to value.

All of them read the accounts table only. Its lifecycle columns are DATEs (calendar days already), so they are
compared with the period's dates directly; the reporting time zone plays no part here.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from sqlalchemy import Connection, Select, and_, bindparam, func, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Date, Integer

from kpi_core.catalog import KpiDef
from kpi_core.context import ONE_DAY, QueryContext, Shape, customer_on
from kpi_core.periods import Period
from kpi_core.sqlfuncs import constant_rows, count_if, days_between, median_and_count, median_and_count_by, ratio
from kpi_core.statements import built_once
from kpi_core.types import Measure
from storage.models import Account

# Statements are built once per shape (kpi_core.statements), their dates bound: :start and :end (the period), :before
# (the day before it); a breakdown's group values are the expanding :keys.
START, END, BEFORE, KEYS = bindparam("start"), bindparam("end"), bindparam("before"), bindparam("keys", expanding=True)


def _period_params(ctx: QueryContext, **values) -> dict:
    return ctx.params(start=ctx.start, end=ctx.end, before=ctx.start - ONE_DAY, **values)


def _movement_columns() -> list:
    at_start = customer_on(BEFORE)
    churned_in_period = Account.churned_at.between(START, END)
    new = Account.became_customer_at.between(START, END)
    referral = func.lower(func.trim(Account.acquisition_source)) == "referral"
    return [
        count_if(at_start).label("at_start"),
        count_if(and_(at_start, churned_in_period)).label("lost"),
        count_if(new).label("new"),
        count_if(and_(new, churned_in_period)).label("new_and_lost"),
        count_if(and_(new, referral)).label("referral"),
        count_if(customer_on(END)).label("at_end"),
    ]


@built_once
def _movement_statement(shape: Shape) -> Select:
    """One row of movement counts (`_MOVES`) over the accounts in scope."""
    return select(*_movement_columns()).where(*shape.account_conditions())


@built_once
def _movement_by_statement(shape: Shape, group: ColumnElement) -> Select:
    """`_movement_statement` with one row per value of `group` in :keys."""
    return (select(group.label("key"), *_movement_columns())
            .where(*shape.account_conditions(), group.in_(KEYS)).group_by(group))


_MOVES = ("at_start", "lost", "new", "new_and_lost", "referral", "at_end")


def _movement(conn: Connection, ctx: QueryContext):
    """One row: customers at start, lost, new (and how many of those came by referral), new-and-lost, at end.

    at_end = at_start - lost + new - new_and_lost (new customers who also churned within the period).
    """
    row = conn.execute(_movement_statement(ctx.shape), _period_params(ctx)).one()
    return {key: int(value or 0) for key, value in row._mapping.items()}


def _movement_by(conn: Connection, ctx: QueryContext, group: ColumnElement, keys: list[str]) -> dict[str, dict]:
    """`_movement` for each value of `group` (a column of accounts), in one GROUP BY query."""
    rows = conn.execute(_movement_by_statement(ctx.shape, group), _period_params(ctx, keys=keys))
    found = {row.key: {k: int(row._mapping[k] or 0) for k in _MOVES} for row in rows}
    return {key: found.get(key, dict.fromkeys(_MOVES, 0)) for key in keys}


def _grouped(measure: Callable[[QueryContext, dict[str, int]], Measure]):
    """A KpiDef.grouped function for a KPI computed from the movement counts."""

    def grouped(conn: Connection, ctx: QueryContext, group: ColumnElement, keys: list[str]) -> dict[str, Measure]:
        return {key: measure(ctx, m) for key, m in _movement_by(conn, ctx, group, keys).items()}

    return grouped


def _movements_over(conn: Connection, ctx: QueryContext, periods: list[Period]) -> list[dict[str, int]]:
    """`_movement` of each of `periods` in one query: the accounts joined to a table of the periods' days (so
    periods may overlap), the columns of `_movement_columns` computed against those days, grouped by period."""
    days = constant_rows("period_days", {"idx": Integer(), "before": Date(), "first": Date(), "last": Date()},
                         [(i, p.start - ONE_DAY, p.start, p.end) for i, p in enumerate(periods)])
    at_start = customer_on(days.c.before)
    churned_in_period = Account.churned_at.between(days.c.first, days.c.last)
    new = Account.became_customer_at.between(days.c.first, days.c.last)
    referral = func.lower(func.trim(Account.acquisition_source)) == "referral"
    query = (
        select(
            days.c.idx,
            count_if(at_start).label("at_start"),
            count_if(and_(at_start, churned_in_period)).label("lost"),
            count_if(new).label("new"),
            count_if(and_(new, churned_in_period)).label("new_and_lost"),
            count_if(and_(new, referral)).label("referral"),
            count_if(customer_on(days.c.last)).label("at_end"),
        )
        .join_from(Account, days, true())
        .where(*ctx.account_conditions())
        .group_by(days.c.idx)
    )
    found = {row.idx: {k: int(row._mapping[k] or 0) for k in _MOVES} for row in conn.execute(query)}
    return [found.get(i, dict.fromkeys(_MOVES, 0)) for i in range(len(periods))]


def _over_periods(measure: Callable[[QueryContext, dict[str, int]], Measure]):
    """A KpiDef.over_periods function for a KPI computed from the movement counts."""

    def over_periods(conn: Connection, ctx: QueryContext, periods: list[Period]) -> list[Measure]:
        return [measure(ctx.with_period(p), m) for p, m in zip(periods, _movements_over(conn, ctx, periods),
                                                                 strict=True)]

    return over_periods


def _flow(m: dict[str, int]) -> dict[str, int]:
    return {"at_start": m["at_start"], "lost": m["lost"], "new": m["new"], "new_and_lost": m["new_and_lost"],
            "at_end": m["at_end"]}


def _no_customers_at_start(ctx: QueryContext) -> str:
    return f"no customers at the start of the period (on {(ctx.start - ONE_DAY).isoformat()})"


def _retention(ctx: QueryContext, m: dict[str, int]) -> Measure:
    value = ratio(m["at_start"] - m["lost"], m["at_start"], 100)
    return Measure(value, m["at_start"], _flow(m), None if m["at_start"] else _no_customers_at_start(ctx))


def retention(conn: Connection, ctx: QueryContext) -> Measure:
    return _retention(ctx, _movement(conn, ctx))


def _churn(ctx: QueryContext, m: dict[str, int]) -> Measure:
    value = ratio(m["lost"], m["at_start"], 100)
    return Measure(value, m["at_start"], _flow(m), None if m["at_start"] else _no_customers_at_start(ctx))


def churn(conn: Connection, ctx: QueryContext) -> Measure:
    return _churn(ctx, _movement(conn, ctx))


def _customers(ctx: QueryContext, m: dict[str, int]) -> Measure:
    counted = f"accounts that are customers on {ctx.end.isoformat()}"
    return Measure(float(m["at_end"]), m["at_end"], {"counted": counted, **_flow(m)})


def customers(conn: Connection, ctx: QueryContext) -> Measure:
    return _customers(ctx, _movement(conn, ctx))


def _new_customers(ctx: QueryContext, m: dict[str, int]) -> Measure:
    counted = f"accounts that became customers from {ctx.start.isoformat()} to {ctx.end.isoformat()}"
    breakdown = {"counted": counted, "referral": m["referral"], "new_and_lost": m["new_and_lost"]}
    return Measure(float(m["new"]), m["new"], breakdown)


def new_customers(conn: Connection, ctx: QueryContext) -> Measure:
    return _new_customers(ctx, _movement(conn, ctx))


def _referrals(ctx: QueryContext, m: dict[str, int]) -> Measure:
    breakdown = {"referral": m["referral"], "other": m["new"] - m["referral"]}
    reason = None if m["new"] else "no new customers in this period"
    return Measure(ratio(m["referral"], m["new"], 100), m["new"], breakdown, reason)


def referrals(conn: Connection, ctx: QueryContext) -> Measure:
    return _referrals(ctx, _movement(conn, ctx))


def _trial_columns() -> list:
    return [
        func.count().label("sign_ups"),
        count_if(Account.became_customer_at.is_not(None)).label("converted"),
        count_if(Account.became_customer_at > END).label("after_period"),
    ]


@built_once
def _trial_statement(shape: Shape) -> Select:
    """One row (sign_ups, converted, after_period) over accounts signed up in [:start, :end] in scope."""
    return select(*_trial_columns()).where(Account.signed_up_at.between(START, END), *shape.account_conditions())


@built_once
def _trial_by_statement(shape: Shape, group: ColumnElement) -> Select:
    """`_trial_statement` with one row per value of `group` in :keys."""
    return (select(group.label("key"), *_trial_columns())
            .where(Account.signed_up_at.between(START, END), *shape.account_conditions(), group.in_(KEYS))
            .group_by(group))


def trial_conversion(conn: Connection, ctx: QueryContext) -> Measure:
    return _trial_measure(conn.execute(_trial_statement(ctx.shape), _period_params(ctx)).one())


def _trial_grouped(conn: Connection, ctx: QueryContext, group: ColumnElement, keys: list[str]) -> dict[str, Measure]:
    """trial_conversion for each value of `group`, in one GROUP BY query."""
    rows = conn.execute(_trial_by_statement(ctx.shape, group), _period_params(ctx, keys=keys))
    found = {row.key: row for row in rows}
    empty = SimpleNamespace(sign_ups=0, converted=0, after_period=0)
    return {key: _trial_measure(found.get(key, empty)) for key in keys}


def _trial_measure(row) -> Measure:
    sign_ups, converted_n, after = int(row.sign_ups), int(row.converted or 0), int(row.after_period or 0)
    # A later conversion still counts: this period's value can rise as its trials convert.
    breakdown = {"converted": converted_n, "not_converted": sign_ups - converted_n, "converted_after_period": after}
    reason = None if sign_ups else "no sign-ups in this period"
    return Measure(ratio(converted_n, sign_ups, 100), sign_ups, breakdown, reason)


@built_once
def _ttv_statement(shape: Shape) -> Select:
    """One row (median, n, fastest, slowest) of days to first value reached in [:start, :end]."""
    values = (
        select(days_between(Account.first_value_at, Account.signed_up_at).label("x"))
        .where(Account.first_value_at.between(START, END), *shape.account_conditions())
        .subquery("ttv_days")
    )
    median = median_and_count(values).subquery("ttv_median")
    spread = select(func.min(values.c.x).label("fastest"), func.max(values.c.x).label("slowest")).subquery("spread")
    return select(median.c.median, median.c.n, spread.c.fastest, spread.c.slowest).select_from(
        median.join(spread, true())
    )


@built_once
def _ttv_by_statement(shape: Shape, group: ColumnElement) -> Select:
    """`_ttv_statement` per value of `group` in :keys (medians ranked within each)."""
    values = (
        select(group.label("key"), days_between(Account.first_value_at, Account.signed_up_at).label("x"))
        .where(Account.first_value_at.between(START, END), *shape.account_conditions(), group.in_(KEYS))
        .subquery("ttv_days")
    )
    return median_and_count_by(values)


def ttv(conn: Connection, ctx: QueryContext) -> Measure:
    row = conn.execute(_ttv_statement(ctx.shape), _period_params(ctx)).one()
    return _ttv_measure(int(row.n or 0), row.median, row.fastest, row.slowest)


def _ttv_measure(n: int, median, fastest, slowest) -> Measure:
    if not n:
        return Measure(None, 0, {}, "no account reached first value in this period")
    breakdown = {"fastest_days": float(fastest), "slowest_days": float(slowest)}
    return Measure(float(median), n, breakdown)


def _ttv_grouped(conn: Connection, ctx: QueryContext, group: ColumnElement, keys: list[str]) -> dict[str, Measure]:
    """ttv for each value of `group`: medians ranked within each group, in one query."""
    rows = conn.execute(_ttv_by_statement(ctx.shape, group), _period_params(ctx, keys=keys))
    found = {row.key: (int(row.n), row.median, row.low, row.high) for row in rows}
    return {key: _ttv_measure(*found.get(key, (0, None, None, None))) for key in keys}


def _period_days(periods: list[Period]):
    """Table (idx, first, last) of the periods' first and last days."""
    return constant_rows("period_days", {"idx": Integer(), "first": Date(), "last": Date()},
                         [(i, p.start, p.end) for i, p in enumerate(periods)])


def _trial_over(conn: Connection, ctx: QueryContext, periods: list[Period]) -> list[Measure]:
    """trial_conversion of each of `periods` in one query: the accounts joined to the periods' days, grouped by
    period (the columns of `_trial_columns` against those days)."""
    days = _period_days(periods)
    query = (
        select(
            days.c.idx,
            func.count().label("sign_ups"),
            count_if(Account.became_customer_at.is_not(None)).label("converted"),
            count_if(Account.became_customer_at > days.c.last).label("after_period"),
        )
        .join_from(Account, days, Account.signed_up_at.between(days.c.first, days.c.last))
        .where(*ctx.account_conditions())
        .group_by(days.c.idx)
    )
    found = {row.idx: row for row in conn.execute(query)}
    empty = SimpleNamespace(sign_ups=0, converted=0, after_period=0)
    return [_trial_measure(found.get(i, empty)) for i in range(len(periods))]


def _ttv_over(conn: Connection, ctx: QueryContext, periods: list[Period]) -> list[Measure]:
    """ttv of each of `periods` in one query: medians ranked within each period."""
    days = _period_days(periods)
    values = (
        select(days.c.idx.label("key"), days_between(Account.first_value_at, Account.signed_up_at).label("x"))
        .join_from(Account, days, Account.first_value_at.between(days.c.first, days.c.last))
        .where(*ctx.account_conditions())
        .subquery("ttv_days")
    )
    found = {row.key: (int(row.n), row.median, row.low, row.high) for row in conn.execute(median_and_count_by(values))}
    return [_ttv_measure(*found.get(i, (0, None, None, None))) for i in range(len(periods))]


KPIS = [
    KpiDef(
        "retention", "Customer retention rate",
        "100 x (customers at start - lost) / customers at start; at start = customers the day before the period, "
        "lost = those churned in the period",
        "%", True, ("accounts",), "customers at start", retention, family="customers", grouped=_grouped(_retention),
        over_periods=_over_periods(_retention),
    ),
    KpiDef(
        "churn", "Customer churn rate",
        "100 x lost / customers at start; at start = customers the day before the period, lost = those churned in it",
        "%", False, ("accounts",), "customers at start", churn, family="customers", grouped=_grouped(_churn),
        over_periods=_over_periods(_churn),
    ),
    KpiDef(
        "customers", "Customer count",
        "customers on the last day of the period (became customer on or before it, not churned by then)",
        "count", True, ("accounts",), "customers at end", customers, family="customers", sampled=False,
        grouped=_grouped(_customers),
        over_periods=_over_periods(_customers),
    ),
    KpiDef(
        "new_customers", "New customers", "accounts whose became_customer_at is in the period",
        "count", True, ("accounts",), "new customers", new_customers, family="customers", sampled=False,
        grouped=_grouped(_new_customers),
        over_periods=_over_periods(_new_customers),
    ),
    KpiDef(
        "trial_conversion", "Free-trial conversion",
        "100 x accounts signed up in the period that became customers (on any date) / accounts signed up in it",
        "%", True, ("accounts",), "sign-ups", trial_conversion, family="customers", grouped=_trial_grouped,
        over_periods=_trial_over,
    ),
    KpiDef(
        "referrals", "Referral share of new logos",
        "100 x new customers with acquisition_source = referral / new customers (became customer in the period)",
        "%", True, ("accounts",), "new customers", referrals, family="customers", grouped=_grouped(_referrals),
        over_periods=_over_periods(_referrals),
    ),
    KpiDef(
        "ttv", "Time to value",
        "median days from signed_up_at to first_value_at, over accounts whose first_value_at is in the period",
        "days", False, ("accounts",), "accounts reaching value", ttv, family="customers", grouped=_ttv_grouped,
        over_periods=_ttv_over,
    ),
]
