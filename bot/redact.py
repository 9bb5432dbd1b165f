"""Keeping money from people (and channels) that may not see it: refuse money KPIs, blank MRR in health."""

from __future__ import annotations

from dataclasses import replace

from bot.access import money_kpi_ids
from kpi_core.answers import Answer, AtRiskAnswer, HealthAnswer, OverviewAnswer
from kpi_core.catalog import catalog
from kpi_core.commands import SHORTCUTS, split_command
from kpi_core.health import AccountHealth, ComponentScore
from kpi_core.risk import AtRisk
from kpi_core.types import UserError

HIDDEN = "figures hidden (revenue figures are limited)"


def money_kpi_asked(text: str) -> str | None:
    """The id of the money KPI `text` asks for (`/mrr`, `/kpi nrr ...`), else None (also for unreadable text:
    the normal path explains those)."""
    try:
        head, words = split_command(text)
    except UserError:
        return None
    kpi = head if head in SHORTCUTS else None
    if head == "kpi" and words and words[0].lower() not in {"list", "catalog", "help"}:
        try:
            kpi = catalog().get(words[0]).id
        except UserError:
            return None
    return kpi if kpi in money_kpi_ids() else None


def _component(c: ComponentScore) -> ComponentScore:
    if c.name != "revenue":
        return c
    return replace(c, detail=HIDDEN, facts={})


def health_without_money(h: AccountHealth) -> AccountHealth:
    """The card with the revenue component's amounts and any revenue driver replaced (its score stays)."""
    drivers = tuple(HIDDEN if d.startswith("revenue:") else d for d in h.drivers)
    return replace(h, components=tuple(_component(c) for c in h.components), drivers=drivers)


def at_risk_without_money(item: AtRisk) -> AtRisk:
    """An at-risk customer with its health card's amounts and the MRR at stake of its rules left out."""
    return AtRisk(health_without_money(item.health), tuple(r.without_money() for r in item.rules))


def without_money(answer: Answer) -> Answer:
    if isinstance(answer, AtRiskAnswer):
        return replace(answer, accounts=tuple(at_risk_without_money(a) for a in answer.accounts))
    if isinstance(answer, HealthAnswer):
        return replace(answer, health=health_without_money(answer.health))
    if isinstance(answer, OverviewAnswer):
        lowest = tuple(health_without_money(h) for h in answer.overview.lowest)
        return replace(answer, overview=replace(answer.overview, lowest=lowest))
    return answer
