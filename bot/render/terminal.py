"""Answers as readable terminal output (rich): a card or table per answer, arrows for deltas, band colours."""

from __future__ import annotations

import re

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.render.formats import (
    DRIVERS_TITLE,
    driver_lines,
    format_delta,
    format_score,
    format_value,
    group_change,
    percent_shares,
    too_few_note,
)
from bot.render.formats import format_number as _num
from bot.render.movements import is_scalar, movement_lines
from kpi_core.answers import (
    Answer,
    AtRiskAnswer,
    CatalogAnswer,
    HealthAnswer,
    KpiAnswer,
    OverviewAnswer,
    ValuesAnswer,
)
from kpi_core.breakdowns import Group as KpiGroup
from kpi_core.digest import DigestContent
from kpi_core.health import AccountHealth
from kpi_core.types import KpiResult

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")


def plain_mentions(text: str) -> str:
    """Slack mentions for the terminal: `<@U123|jane>` -> "@jane" (the name when known), `<@U123>` -> "@U123"."""
    return _MENTION.sub(lambda m: f"@{m.group(2) or m.group(1)}", text)


BAND_STYLE = {"green": "bold green", "yellow": "bold yellow", "red": "bold red", None: "dim"}


def _kpi(result: KpiResult) -> RenderableType:
    value = Text(format_value(result.value, result.unit), style="bold")
    if result.too_few and result.value is not None:
        value.append(f" {too_few_note(result)}", style="dim")
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
    grid.add_row("Scope", plain_mentions(result.scope.describe()))
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
        ("no score" if h.score is None else f"{format_score(h.score)}/100", "bold"),
        "  ",
        ((h.band or "unscored").upper(), BAND_STYLE.get(h.band, "dim")),
    )
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("Component")
    table.add_column("Score", justify="right")
    table.add_column("Weight", justify="right")
    table.add_column("What it says")
    for c, share in zip(h.components, percent_shares([c.weight for c in h.components]), strict=True):
        score = format_score(c.score, "missing")
        table.add_row(c.name, score, f"{share}%", c.detail)
    parts: list[RenderableType] = [head]
    if h.status_note:
        parts.append(Text(h.status_note, style="bold yellow"))
    if h.status in ("customer", "trial"):
        parts.append(table)
    if h.drivers:
        parts.append(Text(f"{DRIVERS_TITLE}: " + "; ".join(driver_lines(h)), style="yellow"))
    if h.missing:
        parts.append(Text("No data for: " + ", ".join(h.missing) + " (left out, others re-weighted)", style="dim"))
    for note in h.left_out:
        parts.append(Text("Left out: " + note, style="dim"))
    if h.trend:
        parts.append(Text("Trend: " + "  ".join(
            f"{day.strftime('%d %b')}: {format_score(v, '-')}" for day, v in h.trend)))
    owner = f"Owner @{h.owner}" if h.owner else "No owner"
    parts.append(Text(f"{owner} · segment {h.segment or '-'}", style="dim"))
    return Panel(Group(*parts), title=title, title_align="left")


def _overview(answer: OverviewAnswer) -> RenderableType:
    o = answer.overview
    bands = Text.assemble(
        *[(f"{name} {o.bands.get(name, 0)}   ", BAND_STYLE[name]) for name in ("green", "yellow", "red")]
    )
    table = Table(title="10 lowest customers", box=None, header_style="bold")
    for col in ("Account", "Score", "Band", DRIVERS_TITLE, "Owner"):
        table.add_column(col)
    for h in o.lowest:
        table.add_row(h.account.name, format_score(h.score, "-"),
                      Text(h.band or "-", style=BAND_STYLE.get(h.band, "dim")), "; ".join(h.drivers[:2]),
                      h.owner or "-")
    mean = "no data" if o.mean is None else f"{o.mean:.1f}"
    head = Text(f"Mean health {mean} over {o.customers:,} customers ({plain_mentions(answer.scope.describe())})",
                style="bold")
    return Panel(Group(head, bands, table), title=f"Health as of {o.as_of.isoformat()}", title_align="left")


def _at_risk(answer: AtRiskAnswer) -> RenderableType:
    if not answer.accounts:
        return Panel(f"No customer is at risk as of {answer.as_of.isoformat()} "
                     f"({plain_mentions(answer.scope.describe())}).",
                     title="At risk", title_align="left")
    table = Table(box=None, header_style="bold")
    for col in ("Account", "Score", "Why", "Owner"):
        table.add_column(col)
    for a in answer.accounts:
        h = a.health
        table.add_row(Text(h.account.name, style=BAND_STYLE.get(h.band, "")),
                      format_score(h.score, "-"), "\n".join(r.text for r in a.rules),
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


def _group_key(by: str | None, key: str) -> str:
    return f"@{key}" if by == "owner" else key


def _groups(answer: KpiAnswer) -> RenderableType:
    r = answer.result
    table = Table(box=None, header_style="bold", title=f"{r.name} by {answer.by}")
    table.add_column((answer.by or "group").capitalize())
    for col in ("Value", "Sample", "vs previous"):
        table.add_column(col, justify="right")
    groups: tuple[KpiGroup, ...] = answer.groups or ()
    for g in groups:
        change = group_change(g.delta, g.previous, g.sample, r.unit, r.min_sample)
        table.add_row(_group_key(answer.by, g.key), format_value(g.value, r.unit) if g.value is not None
                      else f"no data ({g.reason})" if g.reason else "no data",
                      f"{g.sample:,}", change)
    table.add_row(Text("Total", style="bold"), Text(format_value(r.value, r.unit), style="bold"),
                  f"{r.sample:,}", "")
    return Group(_kpi(r), table)


def _values(answer: ValuesAnswer) -> RenderableType:
    plural = {"segment": "Segments", "owner": "Owners", "feature": "Features"}[answer.dimension]
    if not answer.values:
        return Panel(f"No {plural.lower()} in the store yet.", title=plural, title_align="left")
    table = Table(box=None, header_style="bold")
    table.add_column(answer.dimension.capitalize())
    table.add_column("Accounts", justify="right")
    for v in answer.values:
        table.add_row(_group_key(answer.dimension, v.value), f"{v.accounts:,}")
    return Panel(table, title=plural, title_align="left")


def render_digest(content: DigestContent) -> RenderableType:
    """The digest as `/digest preview` shows it, for the terminal (`csbot demo`)."""
    lines: list[RenderableType] = []
    p = content.period
    for r in content.results:
        own = "" if (r.period.start, r.period.end) == (p.start, p.end) else f"  [{r.period.label}, month-based]"
        if r.value is None:
            lines.append(Text(f"{r.name}: no data" + (f" ({r.reason})" if r.reason else "") + own, style="dim"))
            continue
        delta, mood = format_delta(r)
        lines.append(Text.assemble((f"{r.name}: ", "bold"), format_value(r.value, r.unit), "  ",
                                   (delta, mood if mood != "dim" else "dim"), f"  · {r.sample:,} {r.sample_label}",
                                   own))
    unit = content.cadence
    lines.append(Text(f"Newly at risk this {unit}: {len(content.newly_at_risk)}", style="bold"))
    for a in content.newly_at_risk[:10]:
        owner = f"@{a.health.owner}" if a.health.owner else "no owner"
        lines.append(Text(f"  {a.health.account.name} ({format_score(a.health.score)}, {a.health.band}) - "
                          + "; ".join(rule.text for rule in a.rules) + f" - {owner}"))
    lines.append(Text(f"Renewals in the next 30 days: {len(content.renewals)}", style="bold"))
    for d in content.renewals[:10]:
        lines.append(Text(f"  {d.renewal_date.isoformat()} {d.account.name} - "
                          f"{'no MRR' if d.mrr is None else format_value(d.mrr, 'money') + ' MRR'} - {d.band or '-'}"))
    lines.append(Text(f"Biggest health moves this {unit}: {len(content.movers)}", style="bold"))
    for m in content.movers:
        lines.append(Text(f"  {m.change:+.1f} {m.account.name} ({m.before:.1f} -> {m.after:.1f})"))
    return Panel(Group(*lines), title=content.title, title_align="left")


def render(answer: Answer) -> RenderableType:
    if isinstance(answer, ValuesAnswer):
        return _values(answer)
    if isinstance(answer, KpiAnswer):
        return _groups(answer) if answer.groups is not None else _kpi(answer.result)
    if isinstance(answer, HealthAnswer):
        return _health(answer.health)
    if isinstance(answer, OverviewAnswer):
        return _overview(answer)
    if isinstance(answer, AtRiskAnswer):
        return _at_risk(answer)
    if isinstance(answer, CatalogAnswer):
        return _catalog(answer)
    raise TypeError(f"cannot render {answer!r}")
