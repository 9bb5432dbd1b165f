"""The KPI catalog: every KPI declared once, as data, and validated as a whole at start-up."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.sql.elements import ColumnElement

from kpi_core.context import QueryContext
from kpi_core.periods import Period
from kpi_core.types import Measure, UnknownKpiError
from storage.models import Base

UNITS = {
    "score": "",
    "%": "%",
    "index": "",
    "score 1-5": "",
    "count": "",
    "money": "",
    "days": " days",
    "hours": " hours",
    "minutes per user": " min/user",
    "per account": " per account",
}


@dataclass(frozen=True)
class KpiDef:
    """One KPI: what it is called, how it is defined in one line, and the query that computes it."""

    id: str
    name: str
    formula: str
    unit: str
    higher_is_better: bool
    tables: tuple[str, ...]
    sample_label: str
    compute: Callable[[Connection, QueryContext], Measure]
    aliases: tuple[str, ...] = ()
    uses_feature: bool = False
    family: str = ""
    month_based: bool = False  # computed over whole months (end month vs start month): a series is monthly
    sampled: bool = True  # a rate or average over its sample (False: a count or a sum, never "too few")
    grouped: Callable[[Connection, QueryContext, ColumnElement, list[str]], dict[str, Measure]] | None = None
    """One grouped query: a Measure per key of the group column (kpi_core.breakdowns); None = one query a group."""
    over_periods: Callable[[Connection, QueryContext, list[Period]], list[Measure]] | None = None
    """One statement for several periods (any, even overlapping): a Measure per period, equal to `compute` over it
    with the context's scope and settings (the context's own period is ignored); None = one `compute` a period."""


def _all_definitions() -> list[KpiDef]:
    from kpi_core.kpis import ALL_KPIS

    return list(ALL_KPIS)


class Catalog:
    def __init__(self, definitions: list[KpiDef]):
        problems = validate(definitions)
        if problems:
            raise RuntimeError("KPI catalog is invalid:\n  " + "\n  ".join(problems))
        self._by_id = {k.id: k for k in definitions}
        self._names = {k.id: k for k in definitions} | {a: k for k in definitions for a in k.aliases}

    def get(self, name: str) -> KpiDef:
        key = name.strip().lower().replace("-", "_")
        if key in self._names:
            return self._names[key]
        close = difflib.get_close_matches(key, list(self._names), n=3, cutoff=0.6)
        raise UnknownKpiError(name, list(dict.fromkeys(self._names[c].id for c in close)))

    def __contains__(self, name: str) -> bool:
        return name.strip().lower().replace("-", "_") in self._names

    def all(self) -> list[KpiDef]:
        return list(self._by_id.values())


def validate(definitions: list[KpiDef]) -> list[str]:
    """Every problem of the catalog at once (not only the first)."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    tables = set(Base.metadata.tables)
    for k in definitions:
        for name in (k.id, *k.aliases):
            if name in seen:
                problems.append(f"{k.id}: name '{name}' is already used by {seen[name]}")
            seen[name] = k.id
        if not k.id.isidentifier() or k.id != k.id.lower():
            problems.append(f"{k.id}: id must be lower_snake_case")
        if k.unit not in UNITS:
            problems.append(f"{k.id}: unknown unit '{k.unit}' (use one of {', '.join(UNITS)})")
        if not k.formula or "\n" in k.formula:
            problems.append(f"{k.id}: formula must be one line")
        if not k.name:
            problems.append(f"{k.id}: missing name")
        for t in k.tables:
            if t not in tables:
                problems.append(f"{k.id}: needs unknown table '{t}'")
        if not callable(k.compute):
            problems.append(f"{k.id}: compute is not callable")
    return problems


_catalog: Catalog | None = None


def catalog() -> Catalog:
    """The validated catalog (built once)."""
    global _catalog
    if _catalog is None:
        _catalog = Catalog(_all_definitions())
    return _catalog
