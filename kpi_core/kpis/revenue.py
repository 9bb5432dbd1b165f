"""Revenue KPIs: MRR, NRR, GRR, expansion rate, ARPA, CAC, retention cost, CLV.

Terms (kpis.md, "Shared terms"):
- MRR of month m = sum of `revenue.mrr` rows of month m (`revenue.month` is the 1st of the month); an account
  without a row for a month has MRR 0 that month.
- Start month = the month containing `start - 1 day`; end month = the month containing `end`. So March 1-31 compares
  February with March, and a mid-month range such as March 10-20 compares March with March.
- Revenue cohort = accounts (in scope) with MRR > 0 in the start month.
- Cost of a period = for each `costs` month, amount x (days of that month inside the period / days in that month).

All sums run in the database (NUMERIC on Postgres); values become floats only at the end. Costs are recorded for
the whole company, never per account or segment, so cac, retention_cost and clv (which subtracts CAC) are "no data"
when the question is narrowed to an account, segment or owner rather than a company cost spread over a part of it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    case,
    distinct,
    func,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Date, Float, Integer, Numeric

from kpi_core.catalog import KpiDef
from kpi_core.context import ONE_DAY, QueryContext, Shape, customer_on
from kpi_core.periods import Period
from kpi_core.sqlfuncs import constant_rows, count_if, ratio
from kpi_core.statements import built_once
from kpi_core.types import Measure
from storage.models import Account, Cost, Money, Revenue

MAX_LIFETIME_MONTHS = 120.0
COSTS_NOT_SCOPED = "costs are not recorded per account or segment, so this cannot be narrowed to a scope"


# ----------------------------------------------------------------------------------------------------- months


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def start_month(ctx: QueryContext) -> dt.date:
    """The month containing the day before the period (the revenue cohort is taken there)."""
    return month_start(ctx.start - ONE_DAY)


def end_month(ctx: QueryContext) -> dt.date:
    """The month containing the period's last day."""
    return month_start(ctx.end)


def month_name(month: dt.date) -> str:
    return f"{calendar.month_name[month.month]} {month.year}"


def twelve_months_ending(end: dt.date) -> tuple[dt.date, dt.date]:
    """The CLV window [end - 12 months + 1 day, end]: from the day after the same date one year earlier.

    29 February has no date one year earlier; 28 February is used (as month arithmetic clamps), so 2024-02-29 gives
    2023-03-01..2024-02-29. Examples: 2026-03-31 -> 2025-04-01..2026-03-31; 2026-03-15 -> 2025-03-16..2026-03-15.
    """
    try:
        year_before = end.replace(year=end.year - 1)
    except ValueError:  # 29 February
        year_before = end.replace(year=end.year - 1, day=28)
    return year_before + ONE_DAY, end


# ---------------------------------------------------------------------------------------------- SQL helpers

# Statements are built once per shape (kpi_core.statements) with bound values: :first and :last (the start and end
# months), :months (both, distinct, expanding), :start, :end and :before (a range and the day before it); a
# breakdown's group values are the expanding :keys.
FIRST, LAST = bindparam("first"), bindparam("last")
MONTHS, KEYS = bindparam("months", expanding=True), bindparam("keys", expanding=True)
START, END, BEFORE = bindparam("start"), bindparam("end"), bindparam("before")


def _month_params(ctx: QueryContext, **values) -> dict:
    """The start and end months of the period as :first, :last and :months."""
    first, last = start_month(ctx), end_month(ctx)
    return ctx.params(first=first, last=last, months=sorted({first, last}), **values)



def _cents(expr):
    """Round an MRR sum to cents in SQL, so that float sums on SQLite compare exactly (0.1 + 0.2 vs 0.3)."""
    return func.round(expr, literal_column("2"), type_=Money)


def _mrr_in(month):
    return func.sum(case((Revenue.month == month, Revenue.mrr), else_=0))


def _per_account_mrr(shape: Shape, group: ColumnElement | None = None):
    """Subquery (account_id, start_mrr, end_mrr) over the accounts in scope with a revenue row in either month;
    with `group` (a column of accounts) also its value as `key`, for the accounts whose value is in :keys."""
    query = select(
        Revenue.account_id.label("account_id"),
        _cents(_mrr_in(FIRST)).label("start_mrr"),
        _cents(_mrr_in(LAST)).label("end_mrr"),
    ).where(Revenue.month.in_(MONTHS), *shape.scope_filter(Revenue.account_id))
    if group is None:
        return query.group_by(Revenue.account_id).subquery("per_account")
    return (query.add_columns(group.label("key"))
            .join_from(Revenue, Account, Account.account_id == Revenue.account_id)
            .where(group.in_(KEYS))
            .group_by(Revenue.account_id, group)
            .subquery("per_account"))


def _money(value) -> float:
    return round(float(value or 0), 2)


def _no_cohort(ctx: QueryContext) -> str:
    return f"no accounts with MRR in {month_name(start_month(ctx))} (the month before the period starts)"


# ------------------------------------------------------------------------------------------------- MRR, ARPA


def mrr(conn: Connection, ctx: QueryContext) -> Measure:
    """MRR of the end month over the accounts in scope.

    No revenue row at all for the end month (any account) means the month is not loaded: no data. When the month is
    loaded, a scope whose accounts have no rows there has MRR 0; a scope matching no account at all is no data.
    """
    last = end_month(ctx)
    return _mrr_measure(ctx, last, conn.execute(_mrr_statement(ctx.shape), ctx.params(last=last)).one())


@built_once
def _mrr_statement(shape: Shape) -> Select:
    """One row (rows, mrr, paying[, accounts_in_scope]) over the revenue rows of :last."""
    in_scope = and_(*shape.scope_filter(Revenue.account_id)) if shape.scoped else true()
    columns = [
        func.count().label("rows"),
        func.sum(case((in_scope, Revenue.mrr), else_=0)).label("mrr"),
        func.count(distinct(case((and_(in_scope, Revenue.mrr > 0), Revenue.account_id)))).label("paying"),
    ]
    if shape.scoped:
        accounts = select(func.count()).select_from(Account).where(*shape.account_conditions()).scalar_subquery()
        columns.append(accounts.label("accounts_in_scope"))
    return select(*columns).where(Revenue.month == LAST)


def _mrr_over(conn: Connection, ctx: QueryContext, periods: list[Period]) -> list[Measure]:
    """`mrr` of each of `periods` in one query grouped by month over their end months."""
    lasts = [end_month(ctx.with_period(p)) for p in periods]
    in_scope = and_(*ctx.scope_filter(Revenue.account_id)) if ctx.scoped else true()
    columns = [
        Revenue.month,
        func.count().label("rows"),
        func.sum(case((in_scope, Revenue.mrr), else_=0)).label("mrr"),
        func.count(distinct(case((and_(in_scope, Revenue.mrr > 0), Revenue.account_id)))).label("paying"),
    ]
    if ctx.scoped:
        accounts = select(func.count()).select_from(Account).where(*ctx.account_conditions()).scalar_subquery()
        columns.append(accounts.label("accounts_in_scope"))
    query = select(*columns).where(Revenue.month.in_(sorted(set(lasts)))).group_by(Revenue.month)
    found = {row.month: row for row in conn.execute(query)}
    return [_mrr_measure(ctx, last, found.get(last)) for last in lasts]


def _mrr_measure(ctx: QueryContext, last: dt.date, row) -> Measure:
    """The Measure `mrr` builds from its row (None: no revenue row that month)."""
    paying = int(row.paying or 0) if row is not None else 0
    breakdown = {"month": last.strftime("%Y-%m"), "paying_accounts": paying}
    if row is None or not row.rows:
        return Measure(None, 0, breakdown, f"no revenue data for {month_name(last)}")
    if ctx.scoped and not row.accounts_in_scope:
        return Measure(None, 0, breakdown, f"no accounts match {ctx.scope.describe()}")
    return Measure(_money(row.mrr), paying, breakdown)


@dataclass(frozen=True)
class _Arpa:
    mrr: float
    paying: int
    month: dt.date

    @property
    def value(self) -> float | None:
        return ratio(self.mrr, self.paying)

    @property
    def reason(self) -> str | None:
        return None if self.paying else f"no accounts with MRR above 0 in {month_name(self.month)}"


@built_once
def _arpa_statement(shape: Shape) -> Select:
    """One row (n, mrr) over the accounts in scope with MRR above 0 in :last."""
    paying = (
        select(Revenue.account_id, _cents(func.sum(Revenue.mrr)).label("mrr"))
        .where(Revenue.month == LAST, *shape.scope_filter(Revenue.account_id))
        .group_by(Revenue.account_id)
        .having(func.sum(Revenue.mrr) > 0)
        .subquery("paying")
    )
    return select(func.count().label("n"), func.sum(paying.c.mrr).label("mrr"))


@built_once
def _arpa_by_statement(shape: Shape, group: ColumnElement) -> Select:
    """`_arpa_statement` with one row per value of `group` in :keys."""
    paying = (
        select(Revenue.account_id, group.label("key"), _cents(func.sum(Revenue.mrr)).label("mrr"))
        .join_from(Revenue, Account, Account.account_id == Revenue.account_id)
        .where(Revenue.month == LAST, *shape.scope_filter(Revenue.account_id), group.in_(KEYS))
        .group_by(Revenue.account_id, group)
        .having(func.sum(Revenue.mrr) > 0)
        .subquery("paying")
    )
    return select(paying.c.key, func.count().label("n"), func.sum(paying.c.mrr).label("mrr")).group_by(paying.c.key)


def _arpa(conn: Connection, ctx: QueryContext) -> _Arpa:
    """MRR of the end month over the accounts in scope with MRR > 0 there (zero-MRR accounts left out)."""
    last = end_month(ctx)
    row = conn.execute(_arpa_statement(ctx.shape), ctx.params(last=last)).one()
    return _Arpa(float(row.mrr or 0), int(row.n), last)


def _arpa_measure(a: _Arpa) -> Measure:
    breakdown = {"month": a.month.strftime("%Y-%m"), "mrr": _money(a.mrr), "paying_accounts": a.paying}
    return Measure(a.value, a.paying, breakdown, a.reason)


def arpa(conn: Connection, ctx: QueryContext) -> Measure:
    return _arpa_measure(_arpa(conn, ctx))


def _arpa_grouped(conn: Connection, ctx: QueryContext, group: ColumnElement, keys: list[str]) -> dict[str, Measure]:
    """arpa for each value of `group` (a column of accounts), in one query."""
    last = end_month(ctx)
    rows = conn.execute(_arpa_by_statement(ctx.shape, group), ctx.params(last=last, keys=keys))
    found = {row.key: _Arpa(float(row.mrr or 0), int(row.n), last) for row in rows}
    return {key: _arpa_measure(found.get(key, _Arpa(0.0, 0, last))) for key in keys}


def _arpa_over(conn: Connection, ctx: QueryContext, periods: list[Period]) -> list[Measure]:
    """arpa of each of `periods` in one query grouped by month over their end months."""
    lasts = [end_month(ctx.with_period(p)) for p in periods]
    paying = (
        select(Revenue.month, Revenue.account_id, _cents(func.sum(Revenue.mrr)).label("mrr"))
        .where(Revenue.month.in_(sorted(set(lasts))), *ctx.scope_filter(Revenue.account_id))
        .group_by(Revenue.month, Revenue.account_id)
        .having(func.sum(Revenue.mrr) > 0)
        .subquery("paying")
    )
    rows = conn.execute(select(paying.c.month, func.count().label("n"), func.sum(paying.c.mrr).label("mrr"))
                        .group_by(paying.c.month))
    found = {row.month: _Arpa(float(row.mrr or 0), int(row.n), row.month) for row in rows}
    return [_arpa_measure(found.get(last, _Arpa(0.0, 0, last))) for last in lasts]


# ---------------------------------------------------------------------------------------------- NRR, GRR


def _cohort_columns(p) -> list:
    s, e = p.c.start_mrr, p.c.end_mrr
    return [
        func.count().label("accounts"),
        func.sum(s).label("start_mrr"),
        func.sum(e).label("end_mrr"),
        func.sum(case((e < s, e), else_=s)).label("retained_mrr"),
        func.sum(case((e > s, e - s), else_=0)).label("expansion_mrr"),
        func.sum(case((and_(e < s, e > 0), s - e), else_=0)).label("contraction_mrr"),
        func.sum(case((e == 0, s), else_=0)).label("churned_mrr"),
    ]


@built_once
def _cohort_statement(shape: Shape) -> Select:
    """One row of `_cohort_columns` over the revenue cohort of :first."""
    p = _per_account_mrr(shape)
    return select(*_cohort_columns(p)).where(p.c.start_mrr > 0)


@built_once
def _cohort_by_statement(shape: Shape, group: ColumnElement) -> Select:
    """`_cohort_statement` with one row per value of `group` in :keys."""
    p = _per_account_mrr(shape, group)
    return select(p.c.key, *_cohort_columns(p)).where(p.c.start_mrr > 0).group_by(p.c.key)


def _cohort(conn: Connection, ctx: QueryContext):
    """One row over the revenue cohort: size, start/end MRR, retained (min per account) and the movement parts."""
    return conn.execute(_cohort_statement(ctx.shape), _month_params(ctx)).one()


_EMPTY_COHORT = SimpleNamespace(accounts=0, start_mrr=None, end_mrr=None, retained_mrr=None, expansion_mrr=None,
                                contraction_mrr=None, churned_mrr=None)


def _cohort_grouped(measure: Callable[[QueryContext, object], Measure]):
    """A KpiDef.grouped function for a cohort KPI (nrr, grr): the cohort rows of every group in one query."""

    def grouped(conn: Connection, ctx: QueryContext, group: ColumnElement, keys: list[str]) -> dict[str, Measure]:
        rows = conn.execute(_cohort_by_statement(ctx.shape, group), _month_params(ctx, keys=keys))
        found = {row.key: row for row in rows}
        return {key: measure(ctx, found.get(key, _EMPTY_COHORT)) for key in keys}

    return grouped


def _cohorts_over(conn: Connection, ctx: QueryContext, periods: list[Period]) -> list:
    """`_cohort` of each of `periods` in one query: per period and account the start- and end-month MRR (revenue
    joined to a table of the periods' months), then the cohort columns grouped by period."""
    months = constant_rows("period_months", {"idx": Integer(), "first": Date(), "last": Date()},
                           [(i, start_month(c), end_month(c)) for i, c in enumerate(map(ctx.with_period, periods))])
    first, last = months.c.first, months.c.last
    p = (
        select(
            months.c.idx,
            Revenue.account_id.label("account_id"),
            _cents(func.sum(case((Revenue.month == first, Revenue.mrr), else_=0))).label("start_mrr"),
            _cents(func.sum(case((Revenue.month == last, Revenue.mrr), else_=0))).label("end_mrr"),
        )
        .join_from(Revenue, months, or_(Revenue.month == first, Revenue.month == last))
        .where(*ctx.scope_filter(Revenue.account_id))
        .group_by(months.c.idx, Revenue.account_id)
        .subquery("per_account")
    )
    rows = conn.execute(select(p.c.idx, *_cohort_columns(p)).where(p.c.start_mrr > 0).group_by(p.c.idx))
    found = {row.idx: row for row in rows}
    return [found.get(i, _EMPTY_COHORT) for i in range(len(periods))]


def _cohort_over_periods(measure: Callable[[QueryContext, object], Measure]):
    """A KpiDef.over_periods function for a cohort KPI (nrr, grr)."""

    def over_periods(conn: Connection, ctx: QueryContext, periods: list[Period]) -> list[Measure]:
        rows = _cohorts_over(conn, ctx, periods)
        return [measure(ctx.with_period(p), row) for p, row in zip(periods, rows, strict=True)]

    return over_periods


def _cohort_breakdown(row) -> dict:
    return {
        "cohort_accounts": int(row.accounts),
        "start_mrr": _money(row.start_mrr),
        "end_mrr": _money(row.end_mrr),
        "expansion_mrr": _money(row.expansion_mrr),
        "contraction_mrr": _money(row.contraction_mrr),
        "churned_mrr": _money(row.churned_mrr),
    }


def _nrr(ctx: QueryContext, row) -> Measure:
    reason = None if row.accounts else _no_cohort(ctx)
    return Measure(ratio(row.end_mrr, row.start_mrr, 100), int(row.accounts), _cohort_breakdown(row), reason)


def nrr(conn: Connection, ctx: QueryContext) -> Measure:
    return _nrr(ctx, _cohort(conn, ctx))


def _grr(ctx: QueryContext, row) -> Measure:
    reason = None if row.accounts else _no_cohort(ctx)
    breakdown = _cohort_breakdown(row) | {"retained_mrr": _money(row.retained_mrr)}
    return Measure(ratio(row.retained_mrr, row.start_mrr, 100), int(row.accounts), breakdown, reason)


def grr(conn: Connection, ctx: QueryContext) -> Measure:
    return _grr(ctx, _cohort(conn, ctx))


@built_once
def _expansion_statement(shape: Shape) -> Select:
    """One row (accounts, upsold, cross_sold, expanded) over the revenue cohort of :first."""
    per_product = (
        select(
            Revenue.account_id.label("account_id"),
            _cents(_mrr_in(FIRST)).label("start_mrr"),
            _cents(_mrr_in(LAST)).label("end_mrr"),
        )
        .where(Revenue.month.in_(MONTHS), *shape.scope_filter(Revenue.account_id))
        .group_by(Revenue.account_id, Revenue.product)
        .subquery("per_product")
    )
    new_product = and_(per_product.c.end_mrr > 0, per_product.c.start_mrr == 0)
    per_account = (
        select(
            _cents(func.sum(per_product.c.start_mrr)).label("start_mrr"),
            _cents(func.sum(per_product.c.end_mrr)).label("end_mrr"),
            func.max(case((new_product, 1), else_=0)).label("cross_sold"),
        )
        .group_by(per_product.c.account_id)
        .subquery("per_account")
    )
    upsold = per_account.c.end_mrr > per_account.c.start_mrr
    cross_sold = per_account.c.cross_sold == 1
    return select(
        func.count().label("accounts"),
        count_if(upsold).label("upsold"),
        count_if(cross_sold).label("cross_sold"),
        count_if(or_(upsold, cross_sold)).label("expanded"),
    ).where(per_account.c.start_mrr > 0)


def expansion(conn: Connection, ctx: QueryContext) -> Measure:
    """Cohort accounts that upsold (total MRR up) or cross-sold (a product paid in the end month, unpaid in the start
    month, even when the total fell) / cohort size."""
    row = conn.execute(_expansion_statement(ctx.shape), _month_params(ctx)).one()
    n = int(row.accounts)
    breakdown = {
        "cohort_accounts": n,
        "expanded": int(row.expanded or 0),
        "upsold": int(row.upsold or 0),
        "cross_sold": int(row.cross_sold or 0),
    }
    return Measure(ratio(row.expanded or 0, n, 100), n, breakdown, None if n else _no_cohort(ctx))


# -------------------------------------------------------------------------------------- costs and customers


def _months_overlapping(start: dt.date, end: dt.date) -> list[tuple[dt.date, int, int]]:
    """[(month, days of it inside [start, end], days in the month)] for every month the range touches."""
    out = []
    month = month_start(start)
    while month <= end:
        days_in_month = calendar.monthrange(month.year, month.month)[1]
        last_day = month.replace(day=days_in_month)
        inside = (min(last_day, end) - max(month, start)).days + 1
        out.append((month, inside, days_in_month))
        month = last_day + ONE_DAY
    return out


def _prorated_cost(months: int):
    """Scalar subqueries (cost of a range of `months` months of :category, number of cost rows overlapping it).

    Month i of the range is :cost_month_i, weighted by days inside / days in month in SQL: amount * :cost_inside_i /
    :cost_days_i, the days a NUMERIC such as 31.0 (it keeps NUMERIC on Postgres and forces real division on SQLite,
    where a whole amount is stored as an integer). `_cost_params` gives the values.
    """
    month = [bindparam(f"cost_month_{i}") for i in range(months)]
    weighted = case(
        *[
            (Cost.month == month[i],
             Cost.amount * bindparam(f"cost_inside_{i}", type_=Integer) / bindparam(f"cost_days_{i}", type_=Numeric))
            for i in range(months)
        ],
        else_=0,
    )
    where = (Cost.category == bindparam("category"), Cost.month.in_(month))
    total = select(type_coerce(func.sum(weighted), Float)).where(*where).scalar_subquery()
    rows = select(func.count()).select_from(Cost).where(*where).scalar_subquery()
    return total, rows


def _cost_params(category: str, start: dt.date, end: dt.date) -> tuple[int, dict]:
    """The number of months of [start, end] (the shape of `_prorated_cost`) and its values for `category`."""
    months = _months_overlapping(start, end)
    values: dict = {"category": category}
    for i, (month, inside, days) in enumerate(months):
        values |= {f"cost_month_{i}": month, f"cost_inside_{i}": inside, f"cost_days_{i}": Decimal(f"{days}.0")}
    return len(months), values


@dataclass(frozen=True)
class _Facts:
    """Customers and cost of one range: customers on start - 1 day, lost and new in the range, prorated cost."""

    at_start: int
    lost: int
    new: int
    cost: float
    cost_rows: int


@built_once
def _facts_statement(shape: Shape, months: int) -> Select:
    """One row of `_Facts` for [:start, :end] (a range of `months` months) and :category."""
    at_start = customer_on(BEFORE)
    cost, cost_rows = _prorated_cost(months)
    return select(
        count_if(at_start).label("at_start"),
        count_if(and_(at_start, Account.churned_at <= END)).label("lost"),
        count_if(Account.became_customer_at.between(START, END)).label("new"),
        cost.label("cost"),
        cost_rows.label("cost_rows"),
    ).where(*shape.account_conditions())


def _facts(conn: Connection, ctx: QueryContext, category: str, start: dt.date, end: dt.date) -> _Facts:
    """One query: customer counts over the accounts table (kpis.md terms) and the prorated cost of `category`."""
    months, costs = _cost_params(category, start, end)
    statement = _facts_statement(ctx.shape, months)
    row = conn.execute(statement, ctx.params(start=start, end=end, before=start - ONE_DAY, **costs)).one()
    return _Facts(int(row.at_start or 0), int(row.lost or 0), int(row.new or 0), float(row.cost or 0),
                  int(row.cost_rows or 0))


def _scoped_cost_kpi() -> Measure:
    return Measure(None, 0, {}, COSTS_NOT_SCOPED)


def cac(conn: Connection, ctx: QueryContext) -> Measure:
    if ctx.scoped:
        return _scoped_cost_kpi()
    f = _facts(conn, ctx, "acquisition", ctx.start, ctx.end)
    breakdown = {"acquisition_cost": _money(f.cost), "new_customers": f.new}
    if not f.cost_rows:
        return Measure(None, f.new, breakdown, "no acquisition cost data for this period")
    if not f.new:
        return Measure(None, 0, breakdown, "no new customers in this period")
    return Measure(f.cost / f.new, f.new, breakdown)


def retention_cost(conn: Connection, ctx: QueryContext) -> Measure:
    if ctx.scoped:
        return _scoped_cost_kpi()
    f = _facts(conn, ctx, "retention", ctx.start, ctx.end)
    breakdown = {"retention_cost": _money(f.cost), "customers_at_start": f.at_start}
    if not f.cost_rows:
        return Measure(None, f.at_start, breakdown, "no retention cost data for this period")
    if not f.at_start:
        reason = f"no customers at the start of the period (on {(ctx.start - ONE_DAY).isoformat()})"
        return Measure(None, 0, breakdown, reason)
    return Measure(f.cost / f.at_start, f.at_start, breakdown)


# --------------------------------------------------------------------------------------------------------- CLV


def lifetime_months(monthly_churn: float) -> float:
    """1 / monthly churn, capped at 120 months (also when nobody churned)."""
    if monthly_churn <= 0:
        return MAX_LIFETIME_MONTHS
    return min(1 / monthly_churn, MAX_LIFETIME_MONTHS)


def clv_value(arpa_monthly: float, gross_margin: float, monthly_churn: float, acquisition_cost: float) -> float:
    """CLV = monthly ARPA x gross margin x lifetime in months - CAC."""
    return arpa_monthly * gross_margin * lifetime_months(monthly_churn) - acquisition_cost


def clv(conn: Connection, ctx: QueryContext) -> Measure:
    """ARPA (end month) x gross margin x lifetime months - CAC, churn and CAC over the 12 months ending at `end`."""
    if ctx.scoped:
        return _scoped_cost_kpi()
    first, last = twelve_months_ending(ctx.end)
    window = f"{first.isoformat()} to {last.isoformat()}"
    a = _arpa(conn, ctx)
    f = _facts(conn, ctx, "acquisition", first, last)
    margin = ctx.config.gross_margin
    breakdown: dict = {"arpa": None if a.value is None else round(a.value, 2), "gross_margin": margin,
                       "monthly_churn": None, "lifetime_months": None, "cac": None, "window": window}
    if a.value is None:
        return Measure(None, 0, breakdown, a.reason)
    if not f.at_start:
        day_before = (first - ONE_DAY).isoformat()
        reason = f"no customers at the start of the last 12 months (on {day_before}) to compute churn"
        return Measure(None, a.paying, breakdown, reason)
    monthly_churn = f.lost / f.at_start / 12
    breakdown |= {"monthly_churn": round(monthly_churn, 6), "lifetime_months": round(lifetime_months(monthly_churn), 2)}
    if not f.cost_rows:
        return Measure(None, a.paying, breakdown, f"no acquisition cost data for the last 12 months ({window})")
    if not f.new:
        return Measure(None, a.paying, breakdown, "no new customers in the last 12 months to compute CAC")
    acquisition_cost = f.cost / f.new
    breakdown["cac"] = round(acquisition_cost, 2)
    return Measure(clv_value(a.value, margin, monthly_churn, acquisition_cost), a.paying, breakdown)


KPIS = [
    KpiDef(
        "mrr", "Monthly recurring revenue", "sum of MRR of the month containing the period's last day",
        "money", True, ("revenue",), "paying accounts", mrr, family="revenue", month_based=True,
        sampled=False,
        over_periods=_mrr_over,
    ),
    KpiDef(
        "nrr", "Net revenue retention",
        "100 x cohort MRR in the end month / cohort MRR in the start month; cohort = accounts with MRR > 0 in the "
        "start month (the month of the day before the period), end month = month of the last day",
        "%", True, ("revenue",), "cohort accounts", nrr, family="revenue", month_based=True,
        grouped=_cohort_grouped(_nrr),
        over_periods=_cohort_over_periods(_nrr),
    ),
    KpiDef(
        "grr", "Gross revenue retention",
        "100 x sum over cohort accounts of min(end-month MRR, start-month MRR) / cohort MRR in the start month",
        "%", True, ("revenue",), "cohort accounts", grr, family="revenue", month_based=True,
        grouped=_cohort_grouped(_grr),
        over_periods=_cohort_over_periods(_grr),
    ),
    KpiDef(
        "expansion", "Upsell and cross-sell rate",
        "100 x cohort accounts whose MRR rose or that pay for a product in the end month they did not pay for in the "
        "start month / cohort accounts",
        "%", True, ("revenue",), "cohort accounts", expansion, family="revenue", month_based=True,
    ),
    KpiDef(
        "arpa", "Average revenue per account",
        "MRR of the end month / accounts with MRR > 0 in the end month",
        "money", True, ("revenue",), "paying accounts", arpa, aliases=("arpu", "arpc"), family="revenue",
        month_based=True, grouped=_arpa_grouped,
        over_periods=_arpa_over,
    ),
    KpiDef(
        "cac", "Customer acquisition cost",
        "acquisition cost of the period (monthly costs prorated by days) / new customers; company-wide only",
        "money", False, ("costs", "accounts"), "new customers", cac, family="revenue",
    ),
    KpiDef(
        "retention_cost", "Customer retention cost",
        "retention cost of the period (monthly costs prorated by days) / customers at start; company-wide only",
        "money", False, ("costs", "accounts"), "customers at start", retention_cost, family="revenue",
    ),
    KpiDef(
        "clv", "Customer lifetime value",
        "ARPA x gross margin x min(1 / monthly churn, 120) - CAC; churn = lost / customers at start / 12 and CAC "
        "over the 12 months ending on the period's last day; company-wide only",
        "money", True, ("revenue", "costs", "accounts"), "paying accounts", clv, family="revenue",
        month_based=True,
    ),
]
