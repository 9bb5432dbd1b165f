"""The App Home tab ("My accounts") as Block Kit: a pure function from the viewer's book to a `home` view.

Top: data freshness. Then the book, worst first: per account one section (score and band, 4-week trend
arrow, MRR, renewal date, highlighted within 60 days) and, when an alert is open, its rules with the same
Acknowledge / Snooze / Not a risk buttons as the channel warning (or who did what). Paged so that a view
never passes Slack's 100-block Home limit. A lead also gets the team view; everyone gets Settings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from slack_sdk.models.blocks import ActionsBlock, Block, DividerBlock, SectionBlock
from slack_sdk.models.views import View

from bot.render.blocks import (
    BAND_EMOJI,
    UNSCORED_EMOJI,
    _button,
    _context,
    _header,
    _section,
    _sections,
    clip,
    escape,
    mention,
)
from bot.render.digest_blocks import (
    ACK_ACTION,
    DISMISS_ACTION,
    SNOOZE_ACTION,
    SNOOZE_DAYS,
    AlertState,
    _state_block,
)
from bot.render.formats import format_value
from kpi_core.book import BookEntry, OwnerSummary
from storage.subscriptions import AlertRow, SubscriptionRow

HOME_MAX_BLOCKS = 100
FIXED_BLOCKS_MAX = 22  # header, freshness, summary, paging, team view (<= 6), settings (<= 6), dividers
ACCOUNT_BLOCKS_MAX = 2  # the account's section and, with an open alert, its buttons (or state)
PAGE_BLOCKS = HOME_MAX_BLOCKS - FIXED_BLOCKS_MAX
PAGE_PREV_ACTION = "home_page_prev"
PAGE_NEXT_ACTION = "home_page_next"
PERSONAL_ALERTS_ACTION = "home_personal_alerts"
TREND_ARROWS = {"up": "↑", "down": "↓", "flat": "→", "new": "·"}
NAME_MAX = 80
TEAM_SECTIONS_MAX = 3


@dataclass(frozen=True)
class HomeModel:
    """Everything the Home shows, computed before rendering."""

    user: str
    as_of: dt.date
    data_as_of: dt.datetime | None  # aware UTC: the least recently loaded table health reads (kpi_core.freshness)
    book: Sequence[BookEntry]
    alerts: dict[str, list[AlertRow]] = field(default_factory=dict)
    money: bool = True
    team: Sequence[OwnerSummary] | None = None  # leads only
    personal: SubscriptionRow | None = None  # the viewer's personal alert subscription, active or not
    managed: Sequence[SubscriptionRow] = ()
    page: int = 1
    freshness_warnings: Sequence[str] = ()  # stale tables, failed sources


def _alert_state(row: AlertRow) -> AlertState | None:
    if row.state == "open" or not row.acted_by or row.acted_at is None:
        return None
    return AlertState(row.state, row.acted_by, row.acted_at, row.snoozed_until, row.reason)


def _account_blocks(entry: BookEntry, alerts: list[AlertRow], as_of: dt.date, money: bool) -> list[Block]:
    h = entry.health
    score = "–" if h.score is None else f"{h.score:.0f}"
    band = h.band or "unscored"
    parts = [f"{TREND_ARROWS[entry.trend]} {_trend_words(entry)}"]
    if money:
        parts.append("MRR " + ("–" if entry.mrr is None else format_value(entry.mrr, "money")))
    if entry.renewal_date is not None:
        days = (entry.renewal_date - as_of).days
        when = f"renews {entry.renewal_date.isoformat()}"
        parts.append(f":date: *{when} (in {days} day{'s' if days != 1 else ''})*" if entry.renews_soon(as_of)
                     else when)
    lines = [f"{BAND_EMOJI.get(h.band or '', UNSCORED_EMOJI)} *{clip(escape(h.account.name), NAME_MAX)}* "
             f"— {score}/100 {band} · " + " · ".join(parts)]
    if alerts:
        lines.append(":rotating_light: " + "; ".join(escape(a.rule_text or a.rule_id) for a in alerts))
    blocks: list[Block] = [_section(clip("\n".join(lines), 3000))]
    if alerts:
        state = _alert_state(alerts[0])
        if state is None:
            value = str(alerts[0].id)
            blocks.append(ActionsBlock(elements=[
                _button("Acknowledge", ACK_ACTION, value, "primary"),
                _button(f"Snooze {SNOOZE_DAYS} days", SNOOZE_ACTION, value),
                _button("Not a risk", DISMISS_ACTION, value),
            ]))
        else:
            blocks.append(_state_block(state))
    return blocks


def _trend_words(entry: BookEntry) -> str:
    if entry.trend == "new":
        return "no score 4 weeks ago" if entry.health.score is not None else "no score"
    delta = entry.health.score - entry.score_before  # type: ignore[operator]
    return f"{delta:+.0f} in 4 weeks"


def paginate(model: HomeModel) -> list[list[Block]]:
    """The book's blocks split into pages of at most PAGE_BLOCKS blocks (an account never split)."""
    pages: list[list[Block]] = [[]]
    for entry in model.book:
        blocks = _account_blocks(entry, model.alerts.get(entry.health.account.id, []), model.as_of, model.money)
        if len(pages[-1]) + len(blocks) > PAGE_BLOCKS:
            pages.append([])
        pages[-1].extend(blocks)
    return pages


def _freshness(model: HomeModel) -> str:
    loaded = ("no data loaded yet" if model.data_as_of is None
              else f"data loaded {model.data_as_of.strftime('%Y-%m-%d %H:%M')} UTC")
    warnings = "".join(f"\n:warning: {w}" for w in model.freshness_warnings)
    return f":arrows_counterclockwise: Scores as of {model.as_of.isoformat()} · {loaded}{warnings}"


def _summary(model: HomeModel) -> str:
    bands = dict.fromkeys(("red", "yellow", "green", "unscored"), 0)
    for e in model.book:
        bands[e.health.band or "unscored"] += 1
    at_risk = sum(1 for e in model.book if e.health.account.id in model.alerts)
    counts = "   ".join(f"{BAND_EMOJI.get(b, UNSCORED_EMOJI)} {b} {n}" for b, n in bands.items()
                          if n or b != "unscored")
    n = len(model.book)
    return f"*{n} account{'s' if n != 1 else ''}*, worst first · {at_risk} with an open alert\n{counts}"


def _paging(page: int, pages: int) -> list[Block]:
    if pages <= 1:
        return []
    buttons = []
    if page > 1:
        buttons.append(_button("Previous page", PAGE_PREV_ACTION, str(page - 1)))
    if page < pages:
        buttons.append(_button("Next page", PAGE_NEXT_ACTION, str(page + 1)))
    return [_context(f"Page {page} of {pages}"), ActionsBlock(elements=buttons)]


def _team(team: Sequence[OwnerSummary], money: bool) -> list[Block]:
    lines = []
    for s in team:
        who = mention(s.owner) if s.owner else "No owner"
        bands = " ".join(f"{BAND_EMOJI[b]} {s.bands.get(b, 0)}" for b in ("red", "yellow", "green"))
        risk = f"{s.at_risk} at risk" + (f" ({format_value(s.at_risk_mrr, 'money')} MRR)" if money else "")
        lines.append(f"{who} — {s.customers} customer{'s' if s.customers != 1 else ''} — {bands} — {risk}")
    if not lines:
        lines = ["No customers yet."]
    return [DividerBlock(), _header("Team"), *_sections(lines, TEAM_SECTIONS_MAX)]


def _settings(model: HomeModel) -> list[Block]:
    p = model.personal
    if p is not None and p.active:
        text = (f"*Personal churn-risk DMs: on* (daily at {p.at_time} {escape(p.timezone)}), about the accounts "
                "you own.")
        button = _button("Turn off", PERSONAL_ALERTS_ACTION, "off")
    else:
        text = "*Personal churn-risk DMs: off.* Turn them on to get a DM when one of your accounts becomes at risk."
        button = _button("Turn on", PERSONAL_ALERTS_ACTION, "on", "primary")
    managed = [f"• <#{escape(s.channel_id)}>: {'digest' if s.kind == 'digest' else 'churn-risk warnings'}"
               + (" (:warning: failing)" if s.status == "failing" else "") for s in model.managed]
    lines = ["*Channel subscriptions you manage*", *(managed or ["None. `/digest subscribe` or `/atrisk subscribe` "
                                                               "in a channel starts one."])]
    return [DividerBlock(), _header("Settings"), SectionBlock(text={"type": "mrkdwn", "text": text},
                                                              accessory=button),
            *_sections(lines, 2)]


def home_view(model: HomeModel) -> dict:
    """The Home tab for `model.page` (clamped to the pages there are), as a views.publish `view`."""
    pages = paginate(model)
    page = min(max(model.page, 1), len(pages))
    blocks: list[Block] = [_header("My accounts"), _context(_freshness(model))]
    if model.book:
        blocks.append(_section(_summary(model)))
        blocks.append(DividerBlock())
        blocks.extend(pages[page - 1])
        blocks.extend(_paging(page, len(pages)))
    else:
        blocks.append(_section(f"You own no customer accounts as of {model.as_of.isoformat()}. Accounts list their "
                               f"owner in `owner_slack_id` ({mention(model.user)} for you)."))
    if not model.money:
        blocks.append(_context("MRR is hidden: revenue figures are limited to the people in CSBOT_REVENUE_VIEWERS."))
    if model.team is not None:
        blocks.extend(_team(model.team, model.money))
    blocks.extend(_settings(model))
    if len(blocks) > HOME_MAX_BLOCKS:  # by construction this cannot happen; fail loudly in tests if it does
        raise ValueError(f"the Home view has {len(blocks)} blocks; Slack allows {HOME_MAX_BLOCKS}")
    return View(type="home", blocks=blocks, private_metadata=str(page)).to_dict()
