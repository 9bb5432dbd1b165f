"""Number formats shared by every renderer (terminal, Slack blocks): values with units, deltas, plain numbers."""

from __future__ import annotations

from typing import Any

from kpi_core.types import KpiResult


def format_value(value: float | None, unit: str) -> str:
    """A KPI value with its unit, as people read it ("42.0%", "$12,345.00", "3.2 days")."""
    if value is None:
        return "no data"
    if unit == "money":
        return f"${value:,.2f}"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "count":
        return f"{value:,.0f}"
    if unit in {"score", "index"}:
        return f"{value:.1f}"
    if unit == "score 1-5":
        return f"{value:.2f} / 5"
    return f"{value:,.1f} {unit}"


def format_delta(result: KpiResult) -> tuple[str, str]:
    """('▲ +4.0', 'green') style: arrow, signed difference and whether the move is good."""
    delta = result.delta
    if delta is None:
        return "no comparison", "dim"
    if abs(delta) < 1e-9:
        return "▶ no change", "dim"
    arrow = "▲" if delta > 0 else "▼"
    good = (delta > 0) == result.higher_is_better
    unit = result.unit
    shown = f"{delta:+,.2f}" if unit == "money" else f"{delta:+,.1f}"
    if unit == "%":
        shown += " pts"
    return f"{arrow} {shown}", "green" if good else "red"


def format_number(value: Any) -> str:
    """A breakdown number: floats with 2 decimals, ints with thousands separators, anything else as is."""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
