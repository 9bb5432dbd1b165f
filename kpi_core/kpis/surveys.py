"""Survey KPIs: NPS, CSAT, the CSAT-based satisfaction index, CES."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from sqlalchemy import Connection, Select, and_, bindparam, func, select
from sqlalchemy.sql.elements import ColumnElement

from kpi_core.catalog import KpiDef
from kpi_core.context import QueryContext, Shape, in_utc_range
from kpi_core.periods import Period
from kpi_core.sqlfuncs import count_if, ratio, utc_period_bounds
from kpi_core.statements import built_once
from kpi_core.types import Measure
from storage.models import Account, Survey

Columns = Callable[[], list]
"""A KPI's own aggregates over the responses (`_nps_columns`...)."""


@built_once
def _responses_statement(shape: Shape, columns: Columns) -> Select:
    """One row of aggregates over the :kind responses in [:lo, :hi) and the scope; built once per shape."""
    return select(func.count().label("n"), *columns()).where(
        Survey.survey == bindparam("kind"), in_utc_range(Survey.responded_at), *shape.scope_filter(Survey.account_id)
    )


@built_once
def _responses_by_statement(shape: Shape, columns: Columns, group: ColumnElement) -> Select:
    """`_responses_statement` with one row per value of `group` in :keys."""
    return (
        select(group.label("key"), func.count().label("n"), *columns())
        .join_from(Survey, Account, Account.account_id == Survey.account_id)
        .where(Survey.survey == bindparam("kind"), in_utc_range(Survey.responded_at),
               *shape.scope_filter(Survey.account_id), group.in_(bindparam("keys", expanding=True)))
        .group_by(group)
    )


def _responses(conn: Connection, ctx: QueryContext, kind: str, columns: Columns):
    """One row of aggregates over the `kind` responses of the period and scope."""
    return conn.execute(_responses_statement(ctx.shape, columns), ctx.params(kind=kind, **ctx.utc_params())).one()


def _responses_by(conn: Connection, ctx: QueryContext, group: ColumnElement, keys: list[str], kind: str,
                  columns: Columns) -> dict[str, object]:
    """The aggregates of `_responses`, one row per value of `group` (a column of accounts) in ONE query.

    Keys without responses get a row of zero responses, so each measure is built exactly as for one scope.
    """
    statement = _responses_by_statement(ctx.shape, columns, group)
    found = {row.key: row for row in conn.execute(statement, ctx.params(kind=kind, keys=keys, **ctx.utc_params()))}
    empty = SimpleNamespace(n=0, **{c.name: None for c in columns()})
    return {key: found.get(key, empty) for key in keys}


def _grouped(kind: str, columns: Columns, measure: Callable[[object], Measure]):
    """A KpiDef.grouped function: the KPI's own aggregates grouped, each row turned into its Measure."""

    def grouped(conn: Connection, ctx: QueryContext, group: ColumnElement, keys: list[str]) -> dict[str, Measure]:
        rows = _responses_by(conn, ctx, group, keys, kind, columns)
        return {key: measure(row) for key, row in rows.items()}

    return grouped


def _responses_over(conn: Connection, ctx: QueryContext, periods: list[Period], kind: str, *columns) -> list:
    """The aggregates of `_responses` for each of `periods` in ONE query: the responses joined to a table of the
    periods' UTC bounds (so periods may overlap), grouped by period; a period without responses gets zero."""
    bounds = utc_period_bounds(periods, ctx.config.tz)
    query = (
        select(bounds.c.idx, func.count().label("n"), *columns)
        .join_from(Survey, bounds, and_(Survey.responded_at >= bounds.c.lo, Survey.responded_at < bounds.c.hi))
        .where(Survey.survey == kind, ctx.in_period(Survey.responded_at, min(p.start for p in periods),
                                                    max(p.end for p in periods)),
               *ctx.scope_filter(Survey.account_id))
        .group_by(bounds.c.idx)
    )
    found = {row.idx: row for row in conn.execute(query)}
    empty = SimpleNamespace(n=0, **{c.name: None for c in columns})
    return [found.get(i, empty) for i in range(len(periods))]


def _over_periods(kind: str, columns: Callable[[], list], measure: Callable[[object], Measure]):
    """A KpiDef.over_periods function: the KPI's own aggregates per period, each row turned into its Measure."""

    def over_periods(conn: Connection, ctx: QueryContext, periods: list[Period]) -> list[Measure]:
        return [measure(row) for row in _responses_over(conn, ctx, periods, kind, *columns())]

    return over_periods


def _no_responses(kind: str) -> str:
    return f"no {kind.upper()} responses in this period"


def _nps_columns() -> list:
    return [count_if(Survey.score >= 9).label("promoters"), count_if(Survey.score <= 6).label("detractors")]


def _nps_measure(row) -> Measure:
    promoters, detractors = int(row.promoters or 0), int(row.detractors or 0)
    breakdown = {"promoters": promoters, "passives": row.n - promoters - detractors, "detractors": detractors}
    value = ratio(promoters - detractors, row.n, 100)
    return Measure(value, row.n, breakdown, None if row.n else _no_responses("nps"))


def nps(conn: Connection, ctx: QueryContext) -> Measure:
    return _nps_measure(_responses(conn, ctx, "nps", _nps_columns))


def _csat_columns() -> list:
    return [count_if(Survey.score >= 4).label("satisfied")]


def _csat_measure(row) -> Measure:
    satisfied = int(row.satisfied or 0)
    breakdown = {"satisfied": satisfied, "not_satisfied": row.n - satisfied}
    return Measure(ratio(satisfied, row.n, 100), row.n, breakdown, None if row.n else _no_responses("csat"))


def csat(conn: Connection, ctx: QueryContext) -> Measure:
    return _csat_measure(_responses(conn, ctx, "csat", _csat_columns))


def _mean_columns() -> list:
    return [func.avg(Survey.score).label("mean")]


def _csi_measure(row) -> Measure:
    if not row.n:
        return Measure(None, 0, {}, _no_responses("csat"))
    mean = float(row.mean)
    return Measure(100 * (mean - 1) / 4, row.n, {"mean_csat": round(mean, 4)})


def csi(conn: Connection, ctx: QueryContext) -> Measure:
    return _csi_measure(_responses(conn, ctx, "csat", _mean_columns))


def _ces_measure(row) -> Measure:
    if not row.n:
        return Measure(None, 0, {}, _no_responses("ces"))
    return Measure(float(row.mean), row.n, {})


def ces(conn: Connection, ctx: QueryContext) -> Measure:
    return _ces_measure(_responses(conn, ctx, "ces", _mean_columns))


KPIS = [
    KpiDef(
        "nps", "Net Promoter Score",
        "100 x (promoters - detractors) / responses over NPS responses (promoter 9-10, passive 7-8, detractor 0-6)",
        "score", True, ("surveys",), "responses", nps, family="sentiment",
        grouped=_grouped("nps", _nps_columns, _nps_measure),
        over_periods=_over_periods("nps", _nps_columns, _nps_measure),
    ),
    KpiDef(
        "csat", "Customer Satisfaction", "100 x CSAT responses scoring 4 or 5 / CSAT responses",
        "%", True, ("surveys",), "responses", csat, family="sentiment",
        grouped=_grouped("csat", _csat_columns, _csat_measure),
        over_periods=_over_periods("csat", _csat_columns, _csat_measure),
    ),
    KpiDef(
        "csi", "Satisfaction index (ACSI-style 0-100)", "100 x (mean CSAT score - 1) / 4",
        "index", True, ("surveys",), "responses", csi, family="sentiment",
        grouped=_grouped("csat", _mean_columns, _csi_measure),
        over_periods=_over_periods("csat", _mean_columns, _csi_measure),
    ),
    KpiDef(
        "ces", "Customer Effort Score", "mean CES score (1-5, higher = easier)",
        "score 1-5", True, ("surveys",), "responses", ces, family="sentiment",
        grouped=_grouped("ces", _mean_columns, _ces_measure),
        over_periods=_over_periods("ces", _mean_columns, _ces_measure),
    ),
]
