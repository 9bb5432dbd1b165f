"""Breakdowns: one KPI split `by segment|owner|feature` (a value per group) or `by month|week` (a series).

Every group's value is the KPI asked with that group's scope alone. A KPI that declares `grouped` (its own
aggregates grouped in SQL) answers all groups in one query per period; the others are asked once per group
through `engine.query`, so a breakdown always composes with the KPI's own query builder.

`series(...)` (the `by month|week` answer) is also what a chart of a KPI over time should use; a KPI that declares
`over_periods` answers all its periods (and their previous ones) in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace

from sqlalchemy import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from kpi_core.catalog import KpiDef, catalog
from kpi_core.config import KpiConfig
from kpi_core.context import QueryContext
from kpi_core.engine import query, query_over
from kpi_core.periods import Period, split_period
from kpi_core.scope_values import known_values
from kpi_core.types import KpiRequest, Scope, UserError
from storage.models import Account

DIMENSIONS = ("segment", "owner", "feature")
SERIES = ("month", "week")
GROUP_COLUMNS: dict[str, ColumnElement] = {"segment": Account.segment, "owner": Account.owner_slack_id}


@dataclass(frozen=True)
class Group:
    """One group of a breakdown: its key (a segment, owner id, feature, or a period's label) and its values."""

    key: str
    value: float | None
    sample: int
    previous: float | None
    reason: str | None = None
    period: Period | None = None  # by month/week: the piece of the period this group covers

    @property
    def delta(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return round(self.value - self.previous, 4)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _connection(engine: Engine | Connection):
    return nullcontext(engine) if isinstance(engine, Connection) else engine.connect()


def breakdown(engine: Engine | Connection, request: KpiRequest, by: str, config: KpiConfig) -> list[Group]:
    """The groups of `request` broken down `by` a dimension or over time (see the module doc)."""
    kdef = catalog().get(request.kpi)
    if by in SERIES:
        if by == "week" and kdef.month_based:
            raise UserError(f"{kdef.id} is month-based (it compares whole months), so it has no weekly series; "
                            f"use `by month`.")
        pieces = split_period(request.period, by, whole_first=kdef.month_based)
        return series(engine, kdef.id, request.scope, pieces, config)
    if by not in DIMENSIONS:
        raise UserError(f"I cannot break down by {by}; use segment, owner, feature, month or week.")
    if by == "feature" and not kdef.uses_feature:
        users = ", ".join(k.id for k in catalog().all() if k.uses_feature)
        raise UserError(f"`by feature` splits usage KPIs only ({users}); {kdef.id} does not use features.")
    with _connection(engine) as conn:
        keys = _keys(conn, request.scope, by)
        if kdef.grouped is not None and by in GROUP_COLUMNS and keys:
            groups = _grouped(conn, kdef, request, by, keys, config)
        else:
            groups = [_one_query_per_group(conn, request, by, key, config) for key in keys]
    return _sorted(groups, kdef.higher_is_better)


def _keys(conn: Connection, scope: Scope, by: str) -> list[str]:
    """The values to group by: those that exist, or only the one the scope already names."""
    chosen = getattr(scope, by)
    if chosen:
        return [chosen]
    return [v.value for v in known_values(conn, by)]


def _grouped(conn: Connection, kdef: KpiDef, request: KpiRequest, by: str, keys: list[str],
             config: KpiConfig) -> list[Group]:
    """All groups in one grouped query per period (this one and the previous)."""
    ctx = QueryContext(request.period, request.scope, config)
    column = GROUP_COLUMNS[by]
    current = kdef.grouped(conn, ctx, column, keys)
    previous = kdef.grouped(conn, ctx.with_period(request.period.previous()), column, keys)
    return [Group(key, _rounded(current[key].value), current[key].sample, _rounded(previous[key].value),
                  current[key].reason) for key in keys]


def _one_query_per_group(conn: Connection, request: KpiRequest, by: str, key: str, config: KpiConfig) -> Group:
    result = query(conn, replace(request, scope=replace(request.scope, **{by: key})), config)
    previous = result.previous.value if result.previous else None
    return Group(key, result.value, result.sample, previous, result.reason)


def _sorted(groups: list[Group], higher_is_better: bool) -> list[Group]:
    """Best first (by the KPI's direction), groups without data last, ties by key."""
    sign = -1 if higher_is_better else 1
    return sorted(groups, key=lambda g: (g.value is None, sign * (g.value or 0.0), g.key.casefold()))


def series(engine: Engine | Connection, kpi: str, scope: Scope, periods: Sequence[Period],
           config: KpiConfig) -> list[Group]:
    """The KPI for each of `periods` (in order), each with its own previous period: a chart's data.

    A KPI with `over_periods` computes all of them and their previous periods in one statement."""
    if periods and catalog().get(kpi).over_periods is not None:
        both = query_over(engine, kpi, [*periods, *(p.previous() for p in periods)], scope, config)
        return [Group(p.label, m.value, m.sample, prev.value, m.reason, p)
                for p, m, prev in zip(periods, both[:len(periods)], both[len(periods):], strict=True)]
    with _connection(engine) as conn:
        out = []
        for piece in periods:
            result = query(conn, KpiRequest(kpi, piece, scope), config)
            previous = result.previous.value if result.previous else None
            out.append(Group(piece.label, result.value, result.sample, previous, result.reason, piece))
    return out
