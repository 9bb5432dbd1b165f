"""The digest chart: a PNG of the last periods of up to four KPIs, as small multiples, for files_upload_v2.

Drawn with matplotlib's Agg canvas on a `Figure` of its own (no pyplot, no display, no global state, safe in a
worker thread). Made to be read at the size Slack previews an image in a channel (about 360 px tall): a
1200 x 675 px image with large fonts, thick lines, one panel per KPI titled with its unit, the last value
written next to the last point, and only three dates under each panel.
"""

from __future__ import annotations

import io
import math

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from kpi_core.digest import DigestContent

MAX_PANELS = 4
WIDTH_IN, HEIGHT_IN, DPI = 12.0, 6.75, 100  # 1200 x 675 px
LINE_COLOR = "#1264A3"
LAST_COLOR = "#E01E5A"
TITLE_SIZE = 24
TICK_SIZE = 17
LABEL_SIZE = 22
SUPTITLE_SIZE = 20
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
TITLE_CHARS = 22
UNIT_WORDS = {"money": "$", "count": "", "score": "", "index": "", "score 1-5": "1-5",
              "minutes per user": "min/user", "per account": "per account"}


def compact(value: float, unit: str) -> str:
    """Short numbers for the labels: "$236.7k", "98.8%", "82", "28.6"."""
    sign = "-" if value < 0 else ""
    size = abs(value)
    if unit == "money":
        for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if size >= limit:
                return f"{sign}${size / limit:.1f}{suffix}"
        return f"{sign}${size:,.0f}"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "count":
        return f"{value / 1e3:.1f}k" if size >= 1e4 else f"{value:,.0f}"
    return f"{value:,.1f}"


def _axis(value: float, unit: str) -> str:
    """Axis ticks: like `compact`, without a trailing ".0" ("$240k", "102%")."""
    text = compact(value, unit)
    for end in (".0k", ".0M", ".0B", ".0%"):
        if text.endswith(end):
            return text[: -len(end)] + end[-1]
    return text[:-2] if text.endswith(".0") else text


def _title(kpi: str, name: str, unit: str) -> str:
    """"Customer count", "MRR ($)", "Churn (%)": the name and unit, or the id when that is too long for a panel."""
    shown_unit = UNIT_WORDS.get(unit, unit)

    def with_unit(text: str) -> str:
        return f"{text} ({shown_unit})" if shown_unit else text

    title = with_unit(name)
    if len(title) > TITLE_CHARS:
        title = with_unit(kpi.upper() if len(kpi) <= 4 else kpi.replace("_", " ").capitalize())
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"


def _date_label(day, cadence: str) -> str:
    if cadence == "month":
        return f"{MONTHS[day.month - 1]} {day.year % 100:02d}"
    return f"{day.day} {MONTHS[day.month - 1]}"


def _panels(content: DigestContent) -> list[tuple[str, str, list]]:
    """(title, unit, points) of each series with at least one value, in the digest's order, at most four."""
    by_id = {r.kpi: r for r in content.results}
    out = []
    for kpi, points in content.series.items():
        if not any(v is not None for _, v in points):
            continue
        result = by_id.get(kpi)
        unit = result.unit if result else ""
        title = _title(kpi, result.name if result else kpi, unit)
        if result is not None and result.period.kind == "month" and content.cadence == "week":
            title = f"{title}, monthly"  # a month-based KPI's series is monthly even in a weekly digest
        out.append((title, unit, list(points)))
        if len(out) == MAX_PANELS:
            break
    return out


def digest_chart(content: DigestContent) -> bytes | None:
    """PNG bytes of the digest's series (one panel per KPI, up to four), or None when no series has a value."""
    panels = _panels(content)
    if not panels:
        return None
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    rows, cols = (1, len(panels)) if len(panels) <= 2 else (2, 2)
    n = max(len(points) for _, _, points in panels)
    unit_word = "weeks" if content.cadence == "week" else "months"
    last_day = content.period.end
    fig.suptitle(f"Last {n} {unit_word}, to {last_day.day} {MONTHS[last_day.month - 1]} {last_day.year}",
                 fontsize=SUPTITLE_SIZE, color="#444444")
    for i, (title, unit, points) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        xs = list(range(len(points)))
        ys = [math.nan if v is None else float(v) for _, v in points]
        ax.plot(xs, ys, color=LINE_COLOR, linewidth=4, marker="o", markersize=7, solid_capstyle="round")
        known = [(x, y) for x, y in zip(xs, ys, strict=True) if not math.isnan(y)]
        lx, ly = known[-1]
        ax.plot([lx], [ly], marker="o", markersize=13, color=LAST_COLOR, zorder=3)
        # the last value in the panel's top-right corner, in the colour of the last point; the y range leaves that
        # strip free of data
        ax.text(0.99, 0.98, compact(ly, unit), transform=ax.transAxes, ha="right", va="top", fontsize=LABEL_SIZE,
                fontweight="bold", color=LAST_COLOR)
        low, high = min(y for _, y in known), max(y for _, y in known)
        pad = (high - low) * 0.25 or max(abs(high) * 0.05, 1.0)
        ax.set_ylim(low - pad, high + pad * 2.2)  # a free strip on top for the label
        ax.set_xlim(-0.5, len(points) - 0.5)
        ticks = sorted({0, (len(points) - 1) // 2, len(points) - 1})
        ax.set_xticks(ticks)
        cadence = "month" if title.endswith(", monthly") else content.cadence
        ax.set_xticklabels([_date_label(points[t][0], cadence) for t in ticks])
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos, unit=unit: _axis(v, unit)))
        ax.tick_params(labelsize=TICK_SIZE, length=0)
        ax.set_title(title, fontsize=TITLE_SIZE, fontweight="bold", loc="left")
        ax.grid(axis="y", color="#DDDDDD", linewidth=1)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buf.getvalue()
