"""KPI family: health. One KPI, the mean health score of the customers at the period end, with band counts.

The score itself (components, curves, re-weighting, bands) lives in kpi_core.health.
"""

from __future__ import annotations

from sqlalchemy import Connection

from kpi_core.catalog import KpiDef
from kpi_core.context import QueryContext
from kpi_core.health import health_overview
from kpi_core.types import Measure


def health(conn: Connection, ctx: QueryContext) -> Measure:
    overview = health_overview(conn, ctx.end, ctx.config, ctx.scope)
    scored = overview.customers - overview.bands["unscored"]
    reason = None
    if not overview.customers:
        reason = f"no customers on {ctx.end.isoformat()}"
    elif not scored:
        reason = f"no customer has health data on {ctx.end.isoformat()}"
    return Measure(overview.mean, scored, dict(overview.bands), reason)


KPIS = [
    KpiDef(
        "health", "Customer health score",
        "mean health score (0-100, weighted engagement, sentiment, support, revenue, lifecycle) of customers at "
        "period end; count per band",
        "score", True, ("accounts", "usage_events", "surveys", "tickets", "revenue"), "customers scored", health,
        family="health",
    ),
]
