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
    if result.too_few:
        return f"{delta:+,.1f} {too_few_note(result)}", "dim"  # no arrow, no colour: not a real move
    if abs(delta) < 1e-9:
        return "▶ no change", "dim"
    arrow = "▲" if delta > 0 else "▼"
    good = (delta > 0) == result.higher_is_better
    unit = result.unit
    shown = f"{'+' if delta > 0 else '-'}${abs(delta):,.2f}" if unit == "money" else f"{delta:+,.1f}"
    if unit == "%":
        shown += " pts"
    return f"{arrow} {shown}", "green" if good else "red"


def format_change(delta: float, unit: str) -> str:
    """A signed change in the KPI's unit: "+$1,234.50", "-2.5 pts" (percent), "+4.0"."""
    if unit == "money":
        return f"{'+' if delta > 0 else '-'}${abs(delta):,.2f}"
    return f"{delta:+,.1f}" + (" pts" if unit == "%" else "")


def group_change(delta: float | None, previous: float | None, sample: int, unit: str, min_sample: int) -> str:
    """A breakdown group's change against its previous period, or why there is none to read."""
    if 0 < sample < min_sample:
        return f"(n={sample:,}, too few to compare)"
    if delta is None:
        return "no comparison"
    return f"{format_change(delta, unit)} (was {format_value(previous, unit)})"


def too_few_note(result: KpiResult) -> str:
    """"(n=3, too few to compare)": the sample below the KPI setting min_sample that makes a change meaningless."""
    samples = [result.sample]
    if result.previous is not None and result.previous.sample is not None and result.previous.value is not None:
        samples.append(result.previous.sample)
    small = min(n for n in samples if n > 0)
    return f"(n={small:,}, too few to compare)"


def format_score(score: float | None, none: str = "–") -> str:
    """A health score as precise as its band: 70 -> "70", 69.9 -> "69.9" (never "70" for a yellow 69.9)."""
    if score is None:
        return none
    return f"{score:.1f}".removesuffix(".0")


DRIVERS_TITLE = "Costing it the most points"


def driver_lines(health) -> list[str]:
    """The health drivers with their component's score: "engagement 38/100: usage up 5% ..." (a component
    can cost points by its level while its trend is up, so the score says why it is listed)."""
    scores = {c.name: c.score for c in health.components}
    out = []
    for driver in health.drivers:
        name, sep, detail = driver.partition(": ")
        score = scores.get(name)
        out.append(f"{name} {format_score(score)}/100: {detail}" if sep and score is not None else driver)
    return out


def percent_shares(weights: list[float]) -> list[int]:
    """Whole percentages of `weights` that add up to exactly 100 (largest remainder), all 0 when they sum to 0."""
    total = sum(weights)
    if total <= 0:
        return [0] * len(weights)
    exact = [100 * w / total for w in weights]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[: 100 - sum(shares)]:
        shares[i] += 1
    return shares


def format_number(value: Any) -> str:
    """A breakdown number: floats with 2 decimals, ints with thousands separators, anything else as is."""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def rows_text(n: int) -> str:
    """"1 row", "2,000 rows"."""
    return f"{n:,} row" if n == 1 else f"{n:,} rows"
