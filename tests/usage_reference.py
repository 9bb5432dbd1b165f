"""The usage KPIs and health's usage inputs computed straight from usage_events (the pre-rollup queries).

Reference for the rollup-vs-raw equality tests only; csbot itself reads the rollups.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, and_, case, exists, func, select

from kpi_core.context import QueryContext, customer_on
from kpi_core.health import RECENT_DAYS, SEAT_DAYS, DayWindows
from kpi_core.sqlfuncs import count_if
from storage.models import Account, UsageEvent


def _conditions(ctx: QueryContext) -> list:
    conds = [ctx.in_period(UsageEvent.occurred_at), *ctx.scope_filter(UsageEvent.account_id)]
    if ctx.scope.feature:
        conds.append(UsageEvent.feature == ctx.scope.feature)
    return conds


def adoption(conn: Connection, ctx: QueryContext) -> tuple[int, int]:
    """(customers at end in scope, those with a usage event in the period)."""
    used = exists().where(UsageEvent.account_id == Account.account_id, *_conditions(ctx))
    row = conn.execute(
        select(func.count(), func.coalesce(count_if(used), 0)).where(customer_on(ctx.end), *ctx.account_conditions())
    ).one()
    return int(row[0]), int(row[1])


def user_days_and_users(conn: Connection, ctx: QueryContext) -> tuple[int, int]:
    """(distinct (user, local day) pairs, distinct users) of the period in scope."""
    events = select(
        UsageEvent.account_id, UsageEvent.user_id, ctx.local_day(UsageEvent.occurred_at).label("day")
    ).where(*_conditions(ctx)).subquery("events")
    daily = select(events.c.account_id, events.c.user_id, events.c.day).distinct().cte("daily")
    users = select(daily.c.account_id, daily.c.user_id).group_by(daily.c.account_id, daily.c.user_id).subquery()
    row = conn.execute(select(
        select(func.count()).select_from(daily).scalar_subquery(),
        select(func.count()).select_from(users).scalar_subquery(),
    )).one()
    return int(row[0] or 0), int(row[1] or 0)


def seconds(conn: Connection, ctx: QueryContext) -> int:
    return int(conn.scalar(select(func.coalesce(func.sum(UsageEvent.duration_seconds), 0)).where(*_conditions(ctx))))


def health_usage(conn: Connection, as_of: dt.date, tz) -> dict[str, tuple[int, int, int, int, int]]:
    """Per account: (events recent, events previous, users recent, users previous, seats)."""
    w = DayWindows(as_of, tz)
    at = UsageEvent.occurred_at
    recent = at >= w.at(RECENT_DAYS - 1)
    previous = and_(at >= w.at(2 * RECENT_DAYS - 1), at < w.at(RECENT_DAYS - 1))
    query = select(
        UsageEvent.account_id,
        count_if(recent), count_if(previous),
        func.count(case((recent, UsageEvent.user_id)).distinct()),
        func.count(case((previous, UsageEvent.user_id)).distinct()),
        func.count(UsageEvent.user_id.distinct()),
    ).where(at >= w.at(max(SEAT_DAYS, 2 * RECENT_DAYS) - 1), at < w.end).group_by(UsageEvent.account_id)
    return {row[0]: tuple(int(v or 0) for v in row[1:]) for row in conn.execute(query)}


def has_usage(conn: Connection, as_of: dt.date, tz) -> set[str]:
    w = DayWindows(as_of, tz)
    return set(conn.scalars(select(UsageEvent.account_id).where(UsageEvent.occurred_at < w.end).distinct()))
