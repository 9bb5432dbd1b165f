"""The backtest report in words (terminal and Slack share these lines) and as a chart (PNG, Agg, no pyplot)."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from kpi_core.backtest import BANDS, BacktestReport, Flagged

BAND_COLORS = {"red": "#E01E5A", "yellow": "#ECB22E", "green": "#2EB67D"}
WIDTH_IN, HEIGHT_IN, DPI = 12.0, 6.75, 100  # 1200 x 675 px, like the digest chart
TITLE_SIZE, LABEL_SIZE, TICK_SIZE = 24, 20, 17


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _auc(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _flag_line(name: str, f: Flagged) -> str:
    return (f"{name}: {f.flagged} flagged, {f.churned} churned; precision {_pct(f.precision)}, "
            f"recall {_pct(f.recall)}")


def summary_line(r: BacktestReport) -> str:
    ci = f" (95% interval {r.auc_ci[0]:.2f}-{r.auc_ci[1]:.2f})" if r.auc_ci else ""
    return (f"AUC {_auc(r.auc)}{ci} over {r.pairs:,} (date, account) pairs with {r.churned:,} churned within "
            f"{r.horizon_days} days ({r.churned_accounts:,} accounts); 0.5 = no better than chance, 1 = every "
            "churner scored below every other.")


def report_sections(r: BacktestReport) -> list[tuple[str, list[str]]]:
    """(title, lines) per part of the report, in reading order."""
    first, last = (r.snapshots[0].isoformat(), r.snapshots[-1].isoformat()) if r.snapshots else ("–", "–")
    head = [summary_line(r), f"{len(r.snapshots)} snapshot dates from {first} to {last}."]
    if r.unscored:
        head.append(f"{r.unscored} pair(s) had no score (no data) and are left out of the AUCs.")
    if warning := r.too_little_history():
        head.insert(0, warning)
    bands = [f"{b}: {_pct(v.rate)} churned ({v.churned} of {v.pairs})" for b, v in r.bands.items()]
    bands.append(f"base rate {_pct(r.base_rate)}; red lift {'–' if r.red_lift is None else f'{r.red_lift:.1f}x'}")
    components = [f"{n}: AUC {_auc(v)}" for n, v in r.components.items()]
    segments = [f"{s}: AUC {_auc(v['auc'])} ({v['churned']} churned of {v['pairs']})" for s, v in r.segments.items()]
    rules = [_flag_line("at risk (any rule)", r.at_risk)] + [_flag_line(k, v) for k, v in r.rules.items()]
    if r.dismissed is not None:
        rules.append(f"marked \"Not a risk\": {r.dismissed.alerts} alert(s), {r.dismissed.churned} of those accounts "
                     f"churned within {r.horizon_days} days")
    renewals = [f"{band}: {v['renewed']} renewed, {v['churned']} churned"
                for band, v in sorted((r.renewals.by_band if r.renewals else {}).items())]
    if not renewals:
        renewals = ["no renewal date in the range had a snapshot 60-90 days before it (renewal_date holds only "
                    "the next renewal)"]
    return [
        ("Does health predict churn?", head),
        ("Churn rate by band", bands),
        ("Which components carry signal", components),
        ("By segment", segments),
        ("At-risk flag and rules", rules),
        ("Renewals by band 60-90 days before", renewals),
    ]


def report_text(r: BacktestReport) -> str:
    out = []
    for title, lines in report_sections(r):
        out.append(title)
        out.extend(f"  {line}" for line in lines)
    return "\n".join(out)


def backtest_chart(r: BacktestReport) -> bytes:
    """Churn rate within the horizon by band, per snapshot date (one line per band), as a PNG."""
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    dates = sorted(r.by_date)
    for band in BANDS:
        xs, ys = [], []
        for day in dates:
            rate = r.by_date[day][band]
            if rate.rate is not None:
                xs.append(day)
                ys.append(100 * rate.rate)
        if xs:
            total = r.bands[band]
            ax.plot(xs, ys, marker="o", linewidth=3, color=BAND_COLORS[band],
                    label=f"{band}: {_pct(total.rate)} of {total.pairs:,} pairs")
    ax.set_title(f"Churned within {r.horizon_days} days, by health band (AUC {_auc(r.auc)})", fontsize=TITLE_SIZE)
    ax.set_ylabel("% churned", fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(alpha=0.3)
    if dates:
        ax.legend(fontsize=LABEL_SIZE - 2, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def backtest_blocks(r: BacktestReport) -> list:
    """`/health backtest` as Block Kit: a header, then one section per part of the report (Slack's limits kept:
    at most 50 blocks, 3000 characters a section, data escaped)."""
    from slack_sdk.models.blocks import ContextBlock, HeaderBlock, MarkdownTextObject, PlainTextObject, SectionBlock

    from bot.render.blocks import MAX_BLOCKS, SECTION_TEXT_MAX, clip, escape, pack_lines

    blocks: list = [HeaderBlock(text=PlainTextObject(text="Does health predict churn? (renewal litmus test)"))]
    for title, lines in report_sections(r):
        for chunk in pack_lines([f"*{title}*", *(f"• {escape(line)}" for line in lines)], SECTION_TEXT_MAX):
            blocks.append(SectionBlock(text=MarkdownTextObject(text=chunk)))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(
        "Lower score = riskier. `csbot backtest --scores-out pairs.csv` writes every (date, account) pair so "
        "anyone can recompute these numbers; `csbot tune-health` suggests weights.", 3000))]))
    return blocks[:MAX_BLOCKS]
