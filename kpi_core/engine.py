"""The narrow engine API: query(request) -> result, list_kpis(), explain(request) -> SQL."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import replace

from sqlalchemy import Connection, Engine, event

from kpi_core.catalog import KpiDef, catalog
from kpi_core.config import KpiConfig, load_config
from kpi_core.context import QueryContext
from kpi_core.periods import Period
from kpi_core.types import KpiRequest, KpiResult, Measure, PreviousValue, Scope, UserError

PERIODS_PER_STATEMENT = 200  # the period tables are UNION ALLs; SQLite allows 500 terms in a compound SELECT


def list_kpis() -> list[KpiDef]:
    return catalog().all()


def _check_scope(kdef: KpiDef, request: KpiRequest) -> None:
    if request.scope.feature and not kdef.uses_feature:
        users = ", ".join(k.id for k in list_kpis() if k.uses_feature)
        raise UserError(f"`feature:` narrows usage KPIs only ({users}); {kdef.id} does not use features.")


def query(engine: Engine | Connection, request: KpiRequest, config: KpiConfig | None = None) -> KpiResult:
    """Compute a KPI for the request's period and scope, with the previous period for comparison."""
    kdef = catalog().get(request.kpi)
    _check_scope(kdef, request)
    config = config or load_config()
    ctx = QueryContext(request.period, request.scope, config)
    previous_period = request.period.previous()
    with nullcontext(engine) if isinstance(engine, Connection) else engine.connect() as conn:
        current = kdef.compute(conn, ctx)
        prev = kdef.compute(conn, ctx.with_period(previous_period))
    return KpiResult(
        kpi=kdef.id,
        name=kdef.name,
        unit=kdef.unit,
        higher_is_better=kdef.higher_is_better,
        period=request.period,
        scope=request.scope,
        value=_rounded(current.value),
        sample=current.sample,
        sample_label=kdef.sample_label,
        breakdown=current.breakdown,
        reason=current.reason,
        previous=PreviousValue(_rounded(prev.value), previous_period, prev.sample),
        formula=kdef.formula,
        min_sample=config.min_sample if kdef.sampled else 0,
    )


def query_over(engine: Engine | Connection, kpi: str, periods: Sequence[Period], scope: Scope,
               config: KpiConfig | None = None) -> list[Measure]:
    """The KPI over each of `periods` (no previous periods; values rounded as `query` rounds them): one grouped
    computation (one statement per PERIODS_PER_STATEMENT periods) when the KPI has `over_periods`, else one
    `compute` a period."""
    kdef = catalog().get(kpi)
    if not periods:
        return []
    _check_scope(kdef, KpiRequest(kdef.id, periods[0], scope))
    ctx = QueryContext(periods[0], scope, config or load_config())
    with nullcontext(engine) if isinstance(engine, Connection) else engine.connect() as conn:
        if kdef.over_periods is not None:
            n = PERIODS_PER_STATEMENT
            chunks = [list(periods[i:i + n]) for i in range(0, len(periods), n)]
            measures = [m for chunk in chunks for m in kdef.over_periods(conn, ctx, chunk)]
        else:
            measures = [kdef.compute(conn, ctx.with_period(p)) for p in periods]
    return [replace(m, value=_rounded(m.value)) for m in measures]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def explain(engine: Engine, request: KpiRequest, config: KpiConfig | None = None) -> list[str]:
    """The SQL statements a request runs (for the current period), as the database receives them."""
    statements: list[str] = []
    kdef = catalog().get(request.kpi)
    ctx = QueryContext(request.period, request.scope, config or load_config())

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", capture)
        try:
            kdef.compute(conn, ctx)
        finally:
            event.remove(conn, "before_cursor_execute", capture)
    return statements
