"""Answers as readable terminal output (rich): a card or table per answer, arrows for deltas, band colours."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.render.formats import format_delta, format_value
from bot.render.formats import format_number as _num
from bot.render.movements import is_scalar, movement_lines
from kpi_core.answers import Answer, AtRiskAnswer, CatalogAnswer, HealthAnswer, KpiAnswer, OverviewAnswer
from kpi_core.health import AccountHealth
from kpi_core.types import KpiResult

BAND_STYLE = {"green": "bold green", "yellow": "bold yellow", "red": "bold red", None: "dim"}


def _kpi(result: KpiResult) -> RenderableType:
    value = Text(format_value(result.value, result.unit), style="bold")
    delta_text, delta_style = format_delta(result)
    grid = Table.grid(padding=(0, 2))
    grid.add_row("Value", value)
    grid.add_row("Period", result.period.describe())
    prev = result.previous
    if prev:
        grid.add_row(
            "vs previous",
            Text.assemble((delta_text, delta_style), f"  (was {format_value(prev.value, result.unit)}, "
                                                      f"{prev.period.describe()})"),
        )
    grid.add_row("Scope", result.scope.describe())
    grid.add_row("Sample", f"{result.sample:,} {result.sample_label}")
    if result.reason:
        grid.add_row("Why no data", result.reason)
    scalars = {k: v for k, v in result.breakdown.items() if is_scalar(v)}
    if scalars:
        grid.add_row("Breakdown", ", ".join(f"{k.replace('_', ' ')} {_num(v)}" for k, v in scalars.items()))
    if result.kpi == "mrr_movements" and result.value is not None:
        grid.add_row("Movements", "\n".join(movement_lines(result.breakdown)))
    grid.add_row("Formula", Text(result.formula, style="dim"))
    return Panel(grid, title=f"{result.name} ({result.kpi})", title_align="left")


def _health(h: AccountHealth) -> RenderableType:
    title = f"Health of {h.account.name} ({h.account.id}) as of {h.as_of.isoformat()}"
    head = Text.assemble(
        ("no score" if h.score is None else f"{h.score:.0f}/100", "bold"),
        "  ",
        ((h.band or "unscored").upper(), BAND_STYLE.get(h.band, "dim")),
    )
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("Component")
    table.add_column("Score", justify="right")
    table.add_column("Weight", justify="right")
    table.add_column("What it says")
    for c in h.components:
        score = "missing" if c.score is None else f"{c.score:.0f}"
        table.add_row(c.name, score, f"{c.weight:.0%}", c.detail)
    parts: list[RenderableType] = [head, table]
    if h.drivers:
        parts.append(Text("Pulling it down: " + "; ".join(h.drivers), style="yellow"))
    if h.missing:
        parts.append(Text("No data for: " + ", ".join(h.missing) + " (left out, others re-weighted)", style="dim"))
    if h.trend:
        parts.append(Text("Trend: " + "  ".join(
            f"{day.strftime('%d %b')}: {'-' if v is None else f'{v:.0f}'}" for day, v in h.trend)))
    owner = f"Owner <@{h.owner}>" if h.owner else "No owner"
    parts.append(Text(f"{owner} · segment {h.segment or '-'}", style="dim"))
    return Panel(Group(*parts), title=title, title_align="left")


def _overview(answer: OverviewAnswer) -> RenderableType:
    o = answer.overview
    bands = Text.assemble(
        *[(f"{name} {o.bands.get(name, 0)}   ", BAND_STYLE[name]) for name in ("green", "yellow", "red")]
    )
    table = Table(title="10 lowest customers", box=None, header_style="bold")
    for col in ("Account", "Score", "Band", "Pulling it down", "Owner"):
        table.add_column(col)
    for h in o.lowest:
        table.add_row(h.account.name, "-" if h.score is None else f"{h.score:.0f}",
                      Text(h.band or "-", style=BAND_STYLE.get(h.band, "dim")), "; ".join(h.drivers[:2]),
                      h.owner or "-")
    mean = "no data" if o.mean is None else f"{o.mean:.1f}"
    head = Text(f"Mean health {mean} over {o.customers:,} customers ({answer.scope.describe()})", style="bold")
    return Panel(Group(head, bands, table), title=f"Health as of {o.as_of.isoformat()}", title_align="left")


def _at_risk(answer: AtRiskAnswer) -> RenderableType:
    if not answer.accounts:
        return Panel(f"No customer is at risk as of {answer.as_of.isoformat()} ({answer.scope.describe()}).",
                     title="At risk", title_align="left")
    table = Table(box=None, header_style="bold")
    for col in ("Account", "Score", "Why", "Owner"):
        table.add_column(col)
    for a in answer.accounts:
        h = a.health
        table.add_row(Text(h.account.name, style=BAND_STYLE.get(h.band, "")),
                      "-" if h.score is None else f"{h.score:.0f}", "\n".join(r.text for r in a.rules),
                      h.owner or "-")
    count = len(answer.accounts)
    who = "customer is" if count == 1 else "customers are"
    return Panel(table, title=f"{count} {who} at risk as of {answer.as_of.isoformat()}",
                 title_align="left")


def _catalog(answer: CatalogAnswer) -> RenderableType:
    if answer.focus:
        k = answer.focus
        aliases = f" (also {', '.join(k.aliases)})" if k.aliases else ""
        return Panel(f"{k.formula}\nUnit: {k.unit}. Higher is {'better' if k.higher_is_better else 'worse'}.",
                     title=f"{k.name}: /kpi {k.id}{aliases}", title_align="left")
    table = Table(box=None, header_style="bold")
    for col in ("id", "KPI", "Formula"):
        table.add_column(col)
    for k in answer.kpis:
        table.add_row(k.id, k.name, k.formula)
    return Panel(table, title="KPI catalog", title_align="left")


def render(answer: Answer) -> RenderableType:
    if isinstance(answer, KpiAnswer):
        return _kpi(answer.result)
    if isinstance(answer, HealthAnswer):
        return _health(answer.health)
    if isinstance(answer, OverviewAnswer):
        return _overview(answer)
    if isinstance(answer, AtRiskAnswer):
        return _at_risk(answer)
    if isinstance(answer, CatalogAnswer):
        return _catalog(answer)
    raise TypeError(f"cannot render {answer!r}")
