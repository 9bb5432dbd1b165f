"""Answers as the JSON objects of `csbot ask --json` (commands.md: other programs read these)."""

from __future__ import annotations

from typing import Any

from kpi_core.answers import (
    Answer,
    AtRiskAnswer,
    CatalogAnswer,
    HealthAnswer,
    KpiAnswer,
    OverviewAnswer,
    ValuesAnswer,
)
from kpi_core.breakdowns import Group
from kpi_core.health import AccountHealth
from kpi_core.periods import Period


def _period(period: Period) -> dict[str, str]:
    return {"label": period.label, "start": period.start.isoformat(), "end": period.end.isoformat()}


def _health_core(h: AccountHealth) -> dict[str, Any]:
    return {
        "account": {"id": h.account.id, "name": h.account.name},
        "owner": h.owner,
        "segment": h.segment,
        "value": h.score,
        "band": h.band,
        "components": [
            {"name": c.name, "score": c.score, "weight": c.weight, "detail": c.detail} for c in h.components
        ],
        "missing": list(h.missing),
        "drivers": list(h.drivers),
        "status": h.status,
        "status_note": h.status_note,
        "left_out": list(h.left_out),
    }


def _group(g: Group) -> dict[str, Any]:
    out: dict[str, Any] = {"key": g.key, "value": g.value, "sample": g.sample, "previous": g.previous,
                           "delta": g.delta, "reason": g.reason}
    if g.period is not None:
        out |= {"start": g.period.start.isoformat(), "end": g.period.end.isoformat()}
    return out


def answer_to_json(answer: Answer) -> dict[str, Any]:
    if isinstance(answer, ValuesAnswer):
        return {"command": answer.command, "dimension": answer.dimension,
                "values": [{"value": v.value, "accounts": v.accounts} for v in answer.values]}
    if isinstance(answer, KpiAnswer):
        r = answer.result
        out = {
            "command": answer.command,
            "kpi": r.kpi,
            "name": r.name,
            "value": r.value,
            "unit": r.unit,
            "period": _period(r.period),
            "previous": {
                "value": r.previous.value,
                "start": r.previous.period.start.isoformat(),
                "end": r.previous.period.end.isoformat(),
            }
            if r.previous
            else None,
            "delta": r.delta,
            "scope": r.scope.as_dict(),
            "sample": {"size": r.sample, "label": r.sample_label},
            "breakdown": r.breakdown,
            "reason": r.reason,
            "formula": r.formula,
        }
        if answer.groups is not None:
            out["by"] = answer.by
            out["groups"] = [_group(g) for g in answer.groups]
        return out
    if isinstance(answer, HealthAnswer):
        h = answer.health
        previous = h.trend[-2] if len(h.trend) >= 2 else None
        prev_value = previous[1] if previous else None
        delta = round(h.score - prev_value, 1) if h.score is not None and prev_value is not None else None
        out = {"command": answer.command, "kpi": "health", "unit": "score",
               "period": {"label": f"as of {h.as_of.isoformat()}", "start": h.as_of.isoformat(),
                          "end": h.as_of.isoformat()},
               "previous": {"value": prev_value, "start": previous[0].isoformat(), "end": previous[0].isoformat()}
               if previous else None,
               "delta": delta, "scope": {"account": {"id": h.account.id, "name": h.account.name}}}
        out |= _health_core(h)
        out["trend"] = [{"date": day.isoformat(), "value": value} for day, value in h.trend]
        out["breakdown"] = {c.name: c.score for c in h.components}
        return out
    if isinstance(answer, OverviewAnswer):
        o = answer.overview
        return {
            "command": answer.command,
            "kpi": "health",
            "value": o.mean,
            "unit": "score",
            "period": {"label": f"as of {o.as_of.isoformat()}", "start": o.as_of.isoformat(),
                       "end": o.as_of.isoformat()},
            "previous": None,
            "delta": None,
            "scope": answer.scope.as_dict(),
            "sample": {"size": o.customers, "label": "customers scored"},
            "breakdown": dict(o.bands),
            "lowest": [_health_core(h) for h in o.lowest],
        }
    if isinstance(answer, AtRiskAnswer):
        return {
            "command": answer.command,
            "as_of": answer.as_of.isoformat(),
            "scope": answer.scope.as_dict(),
            "accounts": [
                {
                    "id": a.health.account.id,
                    "name": a.health.account.name,
                    "owner": a.health.owner,
                    "score": a.health.score,
                    "band": a.health.band,
                    "rules": [rule.id for rule in a.rules],
                    "reasons": [rule.text for rule in a.rules],
                }
                for a in answer.accounts
            ],
        }
    if isinstance(answer, CatalogAnswer):
        shown = [answer.focus] if answer.focus else list(answer.kpis)
        return {
            "command": answer.command,
            "kpis": [
                {"id": k.id, "name": k.name, "formula": k.formula, "unit": k.unit, "aliases": list(k.aliases),
                 "higher_is_better": k.higher_is_better}
                for k in shown
            ],
        }
    raise TypeError(f"cannot render {answer!r}")
