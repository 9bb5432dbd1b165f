"""Activity KPIs: product usage (adoption, stickiness, time on platform), support (fcr, resolution time)
and purchases (repeat purchase rate, purchase frequency).

Every measure is one SQL query computed in the database. Usage KPIs read the usage rollups (per local day,
and per user and local month with a bitmask of active days: kpi_core/usage_rollups.py), never usage_events;
a user is the pair (account_id, user_id).
"""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import Connection, Select, and_, bindparam, exists, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Date, Integer

from kpi_core.catalog import KpiDef
from kpi_core.context import QueryContext, Shape, customer_on, in_utc_range
from kpi_core.periods import Period
from kpi_core.sqlfuncs import (
    constant_rows,
    count_if,
    hours_between,
    median_and_count,
    median_and_count_by,
    ratio,
    utc_period_bounds,
)
from kpi_core.statements import built_once
from kpi_core.types import Measure
from kpi_core.usage_rollups import day_table, fresh, period_totals
from storage.models import Account, Invoice, Ticket

# ------------------------------------------------------------------------------------------------ usage


def _no_usage(ctx: QueryContext) -> str:
    if ctx.scope.feature:
        return f"no usage events in this period for feature {ctx.scope.feature}"
    return "no usage events in this period"


def adoption(conn: Connection, ctx: QueryContext) -> Measure:
    fresh(conn, ctx.config)
    days, feature = day_table(ctx.scope.feature)
    used = exists().where(days.account_id == Account.account_id, days.day >= ctx.start, days.day <= ctx.end,
                          *feature)
    query = select(
        func.count().label("customers"),
        func.coalesce(count_if(used), 0).label("adopters"),
    ).where(customer_on(ctx.end), *ctx.account_conditions())
    row = conn.execute(query).one()
    customers, adopters = int(row.customers), int(row.adopters)
    breakdown = {"active_customers": adopters, "customers": customers}
    reason = None if customers else "no customers at the end of the period"
    return Measure(ratio(adopters, customers, 100), customers, breakdown, reason)


def _day_totals(conn: Connection, ctx: QueryContext):
    """One row over the period in scope: summed daily active users, seconds, and the period's distinct users."""
    return conn.execute(period_totals(ctx.start, ctx.end, ctx.scope.feature, ctx.scope_filter)).one()


def stickiness(conn: Connection, ctx: QueryContext) -> Measure:
    fresh(conn, ctx.config)
    row = _day_totals(conn, ctx)
    user_days, users_n = int(row.user_days or 0), int(row.users or 0)
    days = (ctx.end - ctx.start).days + 1
    mean_daily = user_days / days
    breakdown = {"mean_daily_active_users": round(mean_daily, 4), "period_active_users": users_n, "days": days}
    if not users_n:
        return Measure(None, 0, breakdown, _no_usage(ctx))
    return Measure(ratio(mean_daily, users_n, 100), users_n, breakdown)


def time_on_platform(conn: Connection, ctx: QueryContext) -> Measure:
    fresh(conn, ctx.config)
    row = _day_totals(conn, ctx)
    users_n, seconds = int(row.users), float(row.seconds)
    breakdown = {"total_minutes": round(seconds / 60, 4), "active_users": users_n}
    if not users_n:
        return Measure(None, 0, breakdown, _no_usage(ctx))
    return Measure(ratio(seconds / 60, users_n), users_n, breakdown)


# ---------------------------------------------------------------------------------------------- support
# Support and purchase statements are built once per shape (kpi_core.statements) with bound values: :lo and :hi
# (the period in naive UTC, QueryContext.utc_params) or :start and :end (its dates); a breakdown's keys are :keys.

START, END, KEYS = bindparam("start"), bindparam("end"), bindparam("keys", expanding=True)


def _fcr_columns() -> list:
    return [func.count().label("resolved"), func.coalesce(count_if(Ticket.contacts == 1), 0).label("first_contact")]


def _fcr_conditions(shape: Shape) -> list[ColumnElement]:
    return [in_utc_range(Ticket.resolved_at), Ticket.contacts.is_not(None), *shape.scope_filter(Ticket.account_id)]


@built_once
def _fcr_statement(shape: Shape) -> Select:
    """One row (resolved, first_contact) over tickets resolved in [:lo, :hi) in scope."""
    return select(*_fcr_columns()).where(*_fcr_conditions(shape))


@built_once
def _fcr_by_statement(shape: Shape, group: ColumnElement) -> Select:
    """`_fcr_statement` with one row per value of `group` in :keys."""
    return (select(group.label("key"), *_fcr_columns())
            .join_from(Ticket, Account, Account.account_id == Ticket.account_id)
            .where(*_fcr_conditions(shape), group.in_(KEYS)).group_by(group))


def _fcr_measure(resolved: int, first: int) -> Measure:
    breakdown = {"first_contact": first, "resolved": resolved}
    reason = None if resolved else "no resolved tickets with a contact count in this period"
    return Measure(ratio(first, resolved, 100), resolved, breakdown, reason)


def fcr(conn: Connection, ctx: QueryContext) -> Measure:
    row = conn.execute(_fcr_statement(ctx.shape), ctx.params(**ctx.utc_params())).one()
    return _fcr_measure(int(row.resolved), int(row.first_contact))


def fcr_grouped(conn: Connection, ctx: QueryContext, group: ColumnElement, keys: list[str]) -> dict[str, Measure]:
    """fcr for each value of `group` (a column of accounts), in one GROUP BY query."""
    rows = conn.execute(_fcr_by_statement(ctx.shape, group), ctx.params(keys=keys, **ctx.utc_params()))
    found = {row.key: (int(row.resolved), int(row.first_contact)) for row in rows}
    return {key: _fcr_measure(*found.get(key, (0, 0))) for key in keys}


@built_once
def _resolution_statement(shape: Shape) -> Select:
    """One row (median, n) of hours to resolve over tickets resolved in [:lo, :hi) in scope."""
    values = (
        select(hours_between(Ticket.resolved_at, Ticket.opened_at).label("x"))
        .where(in_utc_range(Ticket.resolved_at), *shape.scope_filter(Ticket.account_id))
        .subquery("resolution_hours")
    )
    return median_and_count(values)


@built_once
def _resolution_by_statement(shape: Shape, group: ColumnElement) -> Select:
    """`_resolution_statement` per value of `group` in :keys (medians ranked within each)."""
    values = (
        select(group.label("key"), hours_between(Ticket.resolved_at, Ticket.opened_at).label("x"))
        .join_from(Ticket, Account, Account.account_id == Ticket.account_id)
        .where(in_utc_range(Ticket.resolved_at), *shape.scope_filter(Ticket.account_id), group.in_(KEYS))
        .subquery("resolution_hours")
    )
    return median_and_count_by(values)


def resolution_time(conn: Connection, ctx: QueryContext) -> Measure:
    row = conn.execute(_resolution_statement(ctx.shape), ctx.params(**ctx.utc_params())).one()
    return _resolution_measure(int(row.n), row.median)


def _resolution_measure(n: int, median) -> Measure:
    if not n:
        return Measure(None, 0, {"resolved": 0}, "no resolved tickets in this period")
    return Measure(float(median), n, {"resolved": n})


def _resolution_grouped(conn: Connection, ctx: QueryContext, group: ColumnElement,
                        keys: list[str]) -> dict[str, Measure]:
    """resolution_time for each value of `group`: medians ranked within each group, in one query."""
    rows = conn.execute(_resolution_by_statement(ctx.shape, group), ctx.params(keys=keys, **ctx.utc_params()))
    found = {row.key: (int(row.n), row.median) for row in rows}
    return {key: _resolution_measure(*found.get(key, (0, None))) for key in keys}


# -------------------------------------------------------------------------------------------- purchases


@built_once
def _invoices_statement(shape: Shape, group: ColumnElement | None) -> Select:
    """Accounts invoiced in [:start, :end], those with 2+ invoices, and the invoice count; one row, or with `group`
    (a column of accounts) one row per value in :keys (labelled `key`)."""
    columns = [Invoice.account_id]
    per_account = select(func.count().label("n"), *([group.label("key")] if group is not None else [])).where(
        Invoice.issued_at >= START, Invoice.issued_at <= END, *shape.scope_filter(Invoice.account_id))
    if group is not None:
        per_account = per_account.join_from(Invoice, Account, Account.account_id == Invoice.account_id).where(
            group.in_(KEYS))
        columns.append(group)
    per_account = per_account.group_by(*columns).subquery("per_account")
    aggregates = [
        func.count().label("accounts"),
        func.coalesce(count_if(per_account.c.n >= 2), 0).label("repeat"),
        func.coalesce(func.sum(per_account.c.n), 0).label("invoices"),
    ]
    if group is None:
        return select(*aggregates).select_from(per_account)
    return select(per_account.c.key, *aggregates).group_by(per_account.c.key)


def _invoices_per_account(conn: Connection, ctx: QueryContext, group: ColumnElement | None = None,
                          keys: list[str] | None = None):
    """The rows of `_invoices_statement` for the period: one row, or with `group` one per key of `keys`."""
    statement = _invoices_statement(ctx.shape, group)
    params = ctx.params(start=ctx.start, end=ctx.end, **({} if group is None else {"keys": keys}))
    if group is None:
        return conn.execute(statement, params).one()
    rows = conn.execute(statement, params)
    found = {row.key: row for row in rows}
    empty = SimpleNamespace(accounts=0, repeat=0, invoices=0)
    return {key: found.get(key, empty) for key in keys}


def _repeat_measure(row) -> Measure:
    accounts, repeat = int(row.accounts), int(row.repeat)
    breakdown = {"repeat_accounts": repeat, "invoiced_accounts": accounts}
    reason = None if accounts else "no invoices in this period"
    return Measure(ratio(repeat, accounts, 100), accounts, breakdown, reason)


def repeat_purchase(conn: Connection, ctx: QueryContext) -> Measure:
    return _repeat_measure(_invoices_per_account(conn, ctx))


def _frequency_measure(row) -> Measure:
    accounts, invoices = int(row.accounts), int(row.invoices)
    breakdown = {"invoices": invoices, "invoiced_accounts": accounts}
    reason = None if accounts else "no invoices in this period"
    return Measure(ratio(invoices, accounts), accounts, breakdown, reason)


def purchase_frequency(conn: Connection, ctx: QueryContext) -> Measure:
    return _frequency_measure(_invoices_per_account(conn, ctx))


def _purchases_grouped(measure):
    """A KpiDef.grouped function for a purchase KPI: one GROUP BY over the per-account invoice counts."""

    def grouped(conn: Connection, ctx: QueryContext, group: ColumnElement, keys: list[str]) -> dict[str, Measure]:
        return {key: measure(row) for key, row in _invoices_per_account(conn, ctx, group, keys).items()}

    return grouped


# ------------------------------------------------------------------------------------- several periods


def _fcr_over(conn: Connection, ctx: QueryContext, periods: list[Period]) -> list[Measure]:
    """fcr of each of `periods` in one query: the tickets joined to the periods' UTC bounds, grouped by period."""
    bounds = utc_period_bounds(periods, ctx.config.tz)
    span = ctx.with_period(_span(periods))
    query = (select(bounds.c.idx, *_fcr_columns())
             .join_from(Ticket, bounds, and_(Ticket.resolved_at >= bounds.c.lo, Ticket.resolved_at < bounds.c.hi))
             .where(span.in_period(Ticket.resolved_at), Ticket.contacts.is_not(None),
                    *span.scope_filter(Ticket.account_id))
             .group_by(bounds.c.idx))
    found = {row.idx: (int(row.resolved), int(row.first_contact)) for row in conn.execute(query)}
    return [_fcr_measure(*found.get(i, (0, 0))) for i in range(len(periods))]


def _resolution_over(conn: Connection, ctx: QueryContext, periods: list[Period]) -> list[Measure]:
    """resolution_time of each of `periods` in one query: medians ranked within each period."""
    bounds = utc_period_bounds(periods, ctx.config.tz)
    span = ctx.with_period(_span(periods))
    values = (
        select(bounds.c.idx.label("key"), hours_between(Ticket.resolved_at, Ticket.opened_at).label("x"))
        .join_from(Ticket, bounds, and_(Ticket.resolved_at >= bounds.c.lo, Ticket.resolved_at < bounds.c.hi))
        .where(span.in_period(Ticket.resolved_at), *ctx.scope_filter(Ticket.account_id))
        .subquery("resolution_hours")
    )
    found = {row.key: (int(row.n), row.median) for row in conn.execute(median_and_count_by(values))}
    return [_resolution_measure(*found.get(i, (0, None))) for i in range(len(periods))]


def _purchases_over(measure):
    """A KpiDef.over_periods function for a purchase KPI: per period and account the invoice count (invoices
    joined to a table of the periods' days), then the aggregates of `_invoices_per_account` grouped by period."""

    def over_periods(conn: Connection, ctx: QueryContext, periods: list[Period]) -> list[Measure]:
        days = constant_rows("period_days", {"idx": Integer(), "first": Date(), "last": Date()},
                             [(i, p.start, p.end) for i, p in enumerate(periods)])
        span = _span(periods)
        per_account = (
            select(days.c.idx, func.count().label("n"))
            .join_from(Invoice, days, Invoice.issued_at.between(days.c.first, days.c.last))
            .where(Invoice.issued_at.between(span.start, span.end), *ctx.scope_filter(Invoice.account_id))
            .group_by(days.c.idx, Invoice.account_id)
            .subquery("per_account")
        )
        rows = conn.execute(select(
            per_account.c.idx,
            func.count().label("accounts"),
            func.coalesce(count_if(per_account.c.n >= 2), 0).label("repeat"),
            func.coalesce(func.sum(per_account.c.n), 0).label("invoices"),
        ).group_by(per_account.c.idx))
        found = {row.idx: row for row in rows}
        empty = SimpleNamespace(accounts=0, repeat=0, invoices=0)
        return [measure(found.get(i, empty)) for i in range(len(periods))]

    return over_periods


def _span(periods: list[Period]) -> Period:
    """From the first start to the last end of `periods` (to narrow a scan to them)."""
    return Period(min(p.start for p in periods), max(p.end for p in periods), "span", "range")


KPIS = [
    KpiDef(
        "adoption", "Product adoption",
        "100 x customers at end with a usage event in the period (of the feature, if given) / customers at end",
        "%", True, ("accounts", "usage_events"), "customers", adoption, uses_feature=True, family="usage",
    ),
    KpiDef(
        "stickiness", "Stickiness (DAU/MAU)",
        "100 x mean over the period's days of distinct active users that day / distinct users active in the period",
        "%", True, ("usage_events",), "active users", stickiness, uses_feature=True, family="usage",
    ),
    KpiDef(
        "time_on_platform", "Average time on platform",
        "sum of usage duration_seconds in the period / 60 / distinct users active in the period",
        "minutes per user", True, ("usage_events",), "active users", time_on_platform,
        uses_feature=True, family="usage",
    ),
    KpiDef(
        "fcr", "First-contact resolution",
        "100 x tickets resolved in the period with contacts = 1 / tickets resolved in the period (empty contacts out)",
        "%", True, ("tickets",), "resolved tickets", fcr, family="support", grouped=fcr_grouped,
        over_periods=_fcr_over,
    ),
    KpiDef(
        "resolution_time", "Median resolution time",
        "median hours from opened_at to resolved_at over tickets resolved in the period",
        "hours", False, ("tickets",), "resolved tickets", resolution_time, family="support",
        grouped=_resolution_grouped,
        over_periods=_resolution_over,
    ),
    KpiDef(
        "repeat_purchase", "Repeat purchase rate",
        "100 x accounts with 2+ invoices in the period / accounts with 1+ invoice in the period",
        "%", True, ("invoices",), "invoiced accounts", repeat_purchase, family="purchases",
        grouped=_purchases_grouped(_repeat_measure),
        over_periods=_purchases_over(_repeat_measure),
    ),
    KpiDef(
        "purchase_frequency", "Purchase frequency",
        "invoices in the period / distinct accounts invoiced in the period",
        "per account", True, ("invoices",), "invoiced accounts", purchase_frequency, family="purchases",
        grouped=_purchases_grouped(_frequency_measure),
        over_periods=_purchases_over(_frequency_measure),
    ),
]
