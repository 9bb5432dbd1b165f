"""Portable SQL building blocks (SQLite and Postgres) for the KPI queries.

Datetimes are stored as naive UTC. A period is a range of local dates in the reporting time zone,
so filters use the UTC instants of its local midnights, and per-day grouping maps each UTC
timestamp to its local date with the UTC offset in force at that instant (DST-exact).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Subquery, case, func, literal, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date, DateTime, Float, TypeEngine

from kpi_core.periods import Period


def local_midnight_utc(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The naive-UTC instant at which `day` starts in `tz`."""
    local = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def utc_bounds(start: dt.date, end: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00 local, end+1 00:00 local) as naive UTC: `ts >= lo AND ts < hi` selects the period."""
    return local_midnight_utc(start, tz), local_midnight_utc(end + dt.timedelta(days=1), tz)


class _ShiftedDate(FunctionElement):
    """The date of `timestamp + seconds` (seconds a constant)."""

    type = Date()
    inherit_cache = True


@compiles(_ShiftedDate, "sqlite")
def _shifted_date_sqlite(element, compiler, **kw):
    col, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return f"date({col}, CAST({seconds} AS TEXT) || ' seconds')"


@compiles(_ShiftedDate, "postgresql")
def _shifted_date_pg(element, compiler, **kw):
    col, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST({col} + CAST({seconds} AS INTEGER) * INTERVAL '1 second' AS DATE)"


def _offset_segments(lo: dt.datetime, hi: dt.datetime, tz: ZoneInfo) -> list[tuple[dt.datetime, int]]:
    """[(segment end in naive UTC, UTC offset in seconds)] covering [lo, hi), split where the offset changes.

    Scans day by day and pins each change to the hour (zone changes happen on whole hours in the
    IANA zones in use, and never twice within one day).
    """

    def offset_at(t: dt.datetime) -> int:
        return int(t.replace(tzinfo=dt.UTC).astimezone(tz).utcoffset().total_seconds())

    segments: list[tuple[dt.datetime, int]] = []
    current = offset_at(lo)
    t = lo
    while t < hi:
        day_end = min(t + dt.timedelta(days=1), hi)
        if offset_at(day_end - dt.timedelta(microseconds=1)) != current:
            hour = t
            while offset_at(hour) == current:
                hour += dt.timedelta(hours=1)
            segments.append((hour, current))
            current = offset_at(hour)
            t = hour
            continue
        t = day_end
    segments.append((hi, current))
    return segments


def local_date(column: ColumnElement, lo: dt.datetime, hi: dt.datetime, tz: ZoneInfo) -> ColumnElement:
    """The local date (in `tz`) of a naive-UTC timestamp column, exact for timestamps in [lo, hi)."""
    segments = _offset_segments(lo, hi, tz)
    if len(segments) == 1:
        return _ShiftedDate(column, literal(segments[0][1], Integer))
    whens = [(column < end, _ShiftedDate(column, literal(off, Integer))) for end, off in segments[:-1]]
    return case(*whens, else_=_ShiftedDate(column, literal(segments[-1][1], Integer)))


class days_between(FunctionElement):
    """Days from `earlier` to `later` (two DATE columns), as a number."""

    type = Float()
    inherit_cache = True


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"(julianday({later}) - julianday({earlier}))"


@compiles(days_between, "postgresql")
def _days_between_pg(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(({later} - {earlier}) AS DOUBLE PRECISION)"


class hours_between(FunctionElement):
    """Hours from `earlier` to `later` (two TIMESTAMP columns), as a number."""

    type = Float()
    inherit_cache = True


@compiles(hours_between, "sqlite")
def _hours_between_sqlite(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 24.0)"


@compiles(hours_between, "postgresql")
def _hours_between_pg(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 3600.0)"


def median_and_count(values):
    """SELECT (median, count) over a subquery/CTE `values` with one numeric column `x`.

    Portable median: the mean of the middle one or two rows by ROW_NUMBER (no percentile_cont on SQLite).
    """
    ranked = select(
        values.c.x.label("x"),
        func.row_number().over(order_by=values.c.x).label("rn"),
        func.count().over().label("n"),
    ).subquery("ranked")
    middle = ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2])
    return select(
        func.avg(case((middle, ranked.c.x))).label("median"),
        func.count().label("n"),
    ).select_from(ranked)


def median_and_count_by(values):
    """SELECT (key, median, n, low, high) per `key` over a subquery `values` with columns `key` and `x`: the
    grouped form of `median_and_count` (the middle rows ranked within each key), plus the min and max."""
    ranked = select(
        values.c.key.label("key"),
        values.c.x.label("x"),
        func.row_number().over(partition_by=values.c.key, order_by=values.c.x).label("rn"),
        func.count().over(partition_by=values.c.key).label("n"),
    ).subquery("ranked")
    middle = ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2])
    return select(
        ranked.c.key,
        func.avg(case((middle, ranked.c.x))).label("median"),
        func.count().label("n"),
        func.min(ranked.c.x).label("low"),
        func.max(ranked.c.x).label("high"),
    ).group_by(ranked.c.key)


def constant_rows(name: str, columns: dict[str, TypeEngine], rows: Sequence[Sequence]) -> Subquery:
    """A small table of constants, one SELECT of typed literals per row joined by UNION ALL (SQLite has no column
    names on a VALUES list); the typed binds keep Postgres from reading them as text."""
    selects = [select(*(literal(v, t).label(c) for (c, t), v in zip(columns.items(), row, strict=True)))
               for row in rows]
    return (union_all(*selects) if len(selects) > 1 else selects[0]).subquery(name)


def utc_period_bounds(periods: Sequence[Period], tz: ZoneInfo) -> Subquery:
    """Table (idx, lo, hi): the naive-UTC [lo, hi) of each period's local dates, idx = its position in `periods`."""
    rows = [(i, *utc_bounds(p.start, p.end, tz)) for i, p in enumerate(periods)]
    return constant_rows("period_bounds", {"idx": Integer(), "lo": DateTime(), "hi": DateTime()}, rows)


def count_if(condition: ColumnElement) -> ColumnElement:
    """SUM(CASE WHEN condition THEN 1 ELSE 0 END): how many rows meet `condition` (NULL over no rows)."""
    return func.sum(case((condition, 1), else_=0))


def ratio(numerator: float | int | None, denominator: float | int | None, scale: float = 1.0) -> float | None:
    """numerator / denominator x scale, or None (no data) when the denominator is 0 or missing."""
    if not denominator or numerator is None:
        return None
    return float(numerator) * scale / float(denominator)
