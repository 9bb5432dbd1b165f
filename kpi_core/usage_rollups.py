"""Reading the usage rollups (storage/rollups.py): fresh rollups first, then distinct users over any day range.

A user is the pair (account_id, user_id), so the distinct users of several accounts are the sum of each
account's. Distinct users over [start, end] = pairs with a month row in the range's months whose `day_mask`
meets the range's days of that month (full months inside the range need no bit test).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Select, and_, case, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from kpi_core.config import KpiConfig
from kpi_core.types import UserError
from storage.models import UsageDay, UsageFeatureDay, UsageFeatureUserMonth, UsagePeriod, UsageUserMonth
from storage.rollups import RollupStamp, RollupZoneError, ensure_fresh, full_month_mask, month_mask, months_between


def fresh(conn: Connection, config: KpiConfig) -> RollupStamp:
    """The rollups, up to date in the reporting time zone (a user error when they must be rebuilt first)."""
    try:
        return ensure_fresh(conn, config.reporting_timezone)
    except RollupZoneError as exc:
        raise UserError(str(exc)) from None


def day_table(feature: str | None):
    """usage_days, or usage_feature_days narrowed to `feature` (with its extra condition)."""
    if feature:
        return UsageFeatureDay, [UsageFeatureDay.feature == feature]
    return UsageDay, []


def month_table(feature: str | None):
    if feature:
        return UsageFeatureUserMonth, [UsageFeatureUserMonth.feature == feature]
    return UsageUserMonth, []


def meets(table, start: dt.date, end: dt.date) -> ColumnElement:
    """A month row of `table` has an active day in [start, end] (conditions on month and day_mask)."""
    months = months_between(start, end)
    parts: list[ColumnElement] = []
    partial = [m for m in months if month_mask(m, start, end) != full_month_mask(m)]
    whole = [m for m in months if m not in partial]
    if whole:
        parts.append(and_(table.month >= whole[0], table.month <= whole[-1]))
    for m in partial:
        parts.append(and_(table.month == m, table.day_mask.op("&")(literal(month_mask(m, start, end))) != 0))
    return parts[0] if len(parts) == 1 else or_(*parts)


def month_range(table, start: dt.date, end: dt.date) -> list[ColumnElement]:
    months = months_between(start, end)
    return [table.month >= months[0], table.month <= months[-1]]


def period_users(start: dt.date, end: dt.date, feature: str | None, scope) -> Select:
    """SELECT count of distinct users active in [start, end] (`scope(column)`: conditions on account_id).

    One month: its rows that meet the range. More: the (account, user) pairs of those rows, grouped.
    """
    table, conds = month_table(feature)
    where = [*conds, *month_range(table, start, end), meets(table, start, end), *scope(table.account_id)]
    if len(months_between(start, end)) == 1:
        return select(func.count()).where(*where)
    pairs = select(table.account_id, table.user_id).where(*where).group_by(table.account_id, table.user_id)
    return select(func.count()).select_from(pairs.subquery("period_users"))


def window_flag(table, start: dt.date, end: dt.date) -> ColumnElement:
    """1 when a month row has an active day in [start, end], else 0 (for MAX over a user's months)."""
    whens = [(table.month == m, literal(month_mask(m, start, end))) for m in months_between(start, end)]
    mask = case(*whens, else_=literal(0))
    return case((table.day_mask.op("&")(mask) != 0, 1), else_=0)


def calendar_unit(start: dt.date, end: dt.date) -> str | None:
    """'month', 'quarter' or 'year' when [start, end] is exactly one such calendar period, else None."""
    if start.day != 1:
        return None
    following = end + dt.timedelta(days=1)
    if following.day != 1:
        return None
    months = (following.year - start.year) * 12 + following.month - start.month
    if months == 1:
        return "month"
    if months == 3 and start.month % 3 == 1:
        return "quarter"
    if months == 12 and start.month == 1:
        return "year"
    return None


def period_totals(start: dt.date, end: dt.date, feature: str | None, scope) -> Select:
    """One row (user_days, seconds, users) over [start, end] in scope (`scope(column)`: conditions on account_id).

    A whole calendar month, quarter or year without a feature reads usage_periods (one row per account);
    anything else sums usage_days / usage_feature_days and counts users from the monthly day masks.
    """
    unit = None if feature else calendar_unit(start, end)
    if unit:
        p = UsagePeriod
        return select(
            func.coalesce(func.sum(p.user_days), 0).label("user_days"),
            func.coalesce(func.sum(p.seconds), 0).label("seconds"),
            func.coalesce(func.sum(p.users), 0).label("users"),
        ).where(p.kind == unit, p.start == start, *scope(p.account_id))
    days, conds = day_table(feature)
    return select(
        func.coalesce(func.sum(days.users), 0).label("user_days"),
        func.coalesce(func.sum(days.seconds), 0).label("seconds"),
        period_users(start, end, feature, scope).scalar_subquery().label("users"),
    ).where(days.day >= start, days.day <= end, *conds, *scope(days.account_id))
