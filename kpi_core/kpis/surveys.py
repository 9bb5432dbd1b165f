"""Survey KPIs: NPS, CSAT, the CSAT-based satisfaction index, CES."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from kpi_core.catalog import KpiDef
from kpi_core.context import QueryContext
from kpi_core.sqlfuncs import count_if, ratio
from kpi_core.types import Measure
from storage.models import Survey


def _responses(conn: Connection, ctx: QueryContext, kind: str, *columns):
    """One row of aggregates over the `kind` responses of the period and scope."""
    query = select(func.count().label("n"), *columns).where(
        Survey.survey == kind, ctx.in_period(Survey.responded_at), *ctx.scope_filter(Survey.account_id)
    )
    return conn.execute(query).one()


def _no_responses(kind: str) -> str:
    return f"no {kind.upper()} responses in this period"


def nps(conn: Connection, ctx: QueryContext) -> Measure:
    row = _responses(
        conn,
        ctx,
        "nps",
        count_if(Survey.score >= 9).label("promoters"),
        count_if(Survey.score <= 6).label("detractors"),
    )
    promoters, detractors = int(row.promoters or 0), int(row.detractors or 0)
    breakdown = {"promoters": promoters, "passives": row.n - promoters - detractors, "detractors": detractors}
    value = ratio(promoters - detractors, row.n, 100)
    return Measure(value, row.n, breakdown, None if row.n else _no_responses("nps"))


def csat(conn: Connection, ctx: QueryContext) -> Measure:
    row = _responses(conn, ctx, "csat", count_if(Survey.score >= 4).label("satisfied"))
    satisfied = int(row.satisfied or 0)
    breakdown = {"satisfied": satisfied, "not_satisfied": row.n - satisfied}
    return Measure(ratio(satisfied, row.n, 100), row.n, breakdown, None if row.n else _no_responses("csat"))


def csi(conn: Connection, ctx: QueryContext) -> Measure:
    row = _responses(conn, ctx, "csat", func.avg(Survey.score).label("mean"))
    if not row.n:
        return Measure(None, 0, {}, _no_responses("csat"))
    mean = float(row.mean)
    return Measure(100 * (mean - 1) / 4, row.n, {"mean_csat": round(mean, 4)})


def ces(conn: Connection, ctx: QueryContext) -> Measure:
    row = _responses(conn, ctx, "ces", func.avg(Survey.score).label("mean"))
    if not row.n:
        return Measure(None, 0, {}, _no_responses("ces"))
    return Measure(float(row.mean), row.n, {})


KPIS = [
    KpiDef(
        "nps", "Net Promoter Score",
        "100 x (promoters - detractors) / responses over NPS responses (promoter 9-10, passive 7-8, detractor 0-6)",
        "score", True, ("surveys",), "responses", nps, family="sentiment",
    ),
    KpiDef(
        "csat", "Customer Satisfaction", "100 x CSAT responses scoring 4 or 5 / CSAT responses",
        "%", True, ("surveys",), "responses", csat, family="sentiment",
    ),
    KpiDef(
        "csi", "Satisfaction index (ACSI-style 0-100)", "100 x (mean CSAT score - 1) / 4",
        "index", True, ("surveys",), "responses", csi, family="sentiment",
    ),
    KpiDef(
        "ces", "Customer Effort Score", "mean CES score (1-5, higher = easier)",
        "score 1-5", True, ("surveys",), "responses", ces, family="sentiment",
    ),
]
