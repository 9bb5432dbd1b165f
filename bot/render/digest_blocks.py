"""The digest and the churn-risk warnings as Slack Block Kit: pure functions from kpi_core content to blocks.

Nothing here talks to Slack, a database or the clock. Data text (account names, rule texts, reasons) is escaped
with `escape`; only mentions built from user ids stay raw. Whatever the number of accounts, a digest keeps to
Slack's limits: at most 10 accounts per list (then "…and N more"), every line clipped, every section at most
3000 characters and the message at most 50 blocks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    DividerBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from bot.render.blocks import (
    BAND_EMOJI,
    BUTTON_VALUE_MAX,
    MAX_BLOCKS,
    MOVE_EMOJI,
    NOTIFICATION_TEXT_MAX,
    UNSCORED_EMOJI,
    _button,
    _context,
    _header,
    _scope,
    _section,
    _sections,
    clip,
    escape,
    literal,
    mention,
)
from bot.render.formats import format_delta, format_score, format_value
from bot.render.movements import movement_lines
from kpi_core.digest import DigestContent, Mover, RenewalDue
from kpi_core.periods import Period
from kpi_core.risk import AtRisk
from kpi_core.types import KpiResult

ACK_ACTION = "risk_ack"
SNOOZE_ACTION = "risk_snooze"
DISMISS_ACTION = "risk_dismiss"
DISMISS_CALLBACK = "risk_dismiss_reason"
REASON_BLOCK = "reason"
REASON_ACTION = "reason"
REASON_MAX = 500
PRIVATE_METADATA_MAX = 3000
SNOOZE_DAYS = 7

LIST_SHOWN = 10  # accounts per digest list
LINE_MAX = 280  # one account line, so that a title and LIST_SHOWN lines always fit one 3000-character section
NAME_MAX = 80  # an account name in a list line, so that the owner mention after it always fits in LINE_MAX
KPI_SECTIONS_MAX = 5
LIST_SECTIONS_MAX = 2
LATE_NOTE = ":hourglass: posted late: the bot was down at the scheduled time"

STATE_WORDS = {"acknowledged": "Acknowledged", "snoozed": "Snoozed", "dismissed": "Marked not a risk"}
STATE_EMOJI = {"acknowledged": ":white_check_mark:", "snoozed": ":zzz:", "dismissed": ":no_entry_sign:"}


@dataclass(frozen=True)
class AlertState:
    """What someone did with a risk warning (recorded by the scheduler, shown in place of the buttons)."""

    action: str  # "acknowledged" | "snoozed" | "dismissed"
    by: str  # Slack user id
    at: dt.datetime  # aware, or naive UTC
    until: dt.date | None = None  # snoozed until
    reason: str | None = None  # why it is not a risk

    def __post_init__(self) -> None:
        if self.action not in STATE_WORDS:
            raise ValueError(f"unknown alert action {self.action!r}; expected one of {', '.join(STATE_WORDS)}")


# ----------------------------------------------------------------------------------------------- pieces


def _score(score: float | None) -> str:
    return format_score(score)


def _band(band: str | None) -> str:
    return f"{BAND_EMOJI.get(band or '', UNSCORED_EMOJI)} {band or 'unscored'}"


def _utc(at: dt.datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC)
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _name(name: str) -> str:
    return clip(literal(name), NAME_MAX)


def _days(n: int) -> str:
    if n == 0:
        return "today"
    return "tomorrow" if n == 1 else f"in {n} days"


def _listed(title: str, lines: Sequence[str], total: int, more: str) -> list[Block]:
    """A titled list of at most LIST_SHOWN clipped lines, then how many more there are."""
    shown = [clip(line, LINE_MAX) for line in lines[:LIST_SHOWN]]
    if total > len(shown):
        shown.append(f"_…and {total - len(shown)} more {more}_")
    return _sections([title, *shown], LIST_SECTIONS_MAX)


# ------------------------------------------------------------------------------------------------- digest


def _own_period(r: KpiResult, digest_period: Period | None) -> str:
    """" · _October 2026 vs September 2026_" when the KPI is shown over another period than the digest's."""
    if digest_period is None or (r.period.start, r.period.end) == (digest_period.start, digest_period.end):
        return ""
    before = f" vs {escape(r.previous.period.label)}" if r.previous else ""
    return f" · _{escape(r.period.label)}{before} (month-based)_"


def kpi_line(r: KpiResult, digest_period: Period | None = None) -> str:
    """One KPI: "<emoji> *NPS*: *42.0* ▲ +4.0 (was 38.0) · 120 responses" ("no data" with the reason); a KPI
    shown over its own period (a month-based KPI in a weekly digest) says which."""
    name = escape(r.name)
    if r.value is None:
        why = f" — {escape(r.reason)}" if r.reason else ""
        return f"{UNSCORED_EMOJI} *{name}*: no data{why}{_own_period(r, digest_period)}"
    delta, mood = format_delta(r)
    if r.delta is None:
        move = "(no comparison)"
    else:
        was = format_value(r.previous.value, r.unit) if r.previous else "–"
        move = f"{delta} (was {was})"
    emoji = MOVE_EMOJI.get(mood, UNSCORED_EMOJI)
    return (f"{emoji} *{name}*: *{format_value(r.value, r.unit)}* {move} · {r.sample:,} {escape(r.sample_label)}"
            f"{_own_period(r, digest_period)}")


def at_risk_line(a: AtRisk) -> str:
    h = a.health
    rules = "; ".join(escape(rule.text) for rule in a.rules)
    return (f"• *{_name(h.account.name)}* — {_score(h.score)}/100 {_band(h.band)} — {mention(h.owner)}"
            f" — {rules}")


def renewal_line(r: RenewalDue, today: dt.date | None) -> str:
    when = r.renewal_date.isoformat()
    if today is not None:
        when += f" ({_days((r.renewal_date - today).days)})"
    mrr = "no MRR" if r.mrr is None else f"{format_value(r.mrr, 'money')} MRR"
    return f"• {when} *{_name(r.account.name)}* — {mrr} — {_band(r.band)} — {mention(r.owner)}"


def mover_line(m: Mover) -> str:
    arrow = ":arrow_up:" if m.change > 0 else ":arrow_down:"
    return (f"• {arrow} *{m.change:+.1f}* *{_name(m.account.name)}* {m.before:.1f} → {m.after:.1f}"
            f" — {mention(m.owner)}")


def digest_blocks(content: DigestContent, *, delayed: bool = False) -> list[Block]:
    """The digest message: KPIs with deltas, newly at risk, renewals of the next 30 days, top movers, and the last
    month's MRR movements with the top accounts of each.

    `delayed`: the scheduled time was missed (the bot was down) and the digest is posted late.
    """
    unit = content.cadence
    p = content.period
    blocks: list[Block] = [
        _header(content.title),
        _context(f"{escape(p.describe())}, each compared with the {unit} before · Scope: {_scope(content.scope)}"),
    ]
    if delayed:
        blocks.append(_context(LATE_NOTE))
    if content.results:
        blocks.extend(_sections([kpi_line(r, p) for r in content.results], KPI_SECTIONS_MAX))
    else:
        blocks.append(_section("No KPIs chosen for this digest."))
    blocks.append(DividerBlock())

    n = len(content.newly_at_risk)
    if n:
        blocks.extend(_listed(f"*:rotating_light: Newly at risk ({n})*",
                              [at_risk_line(a) for a in content.newly_at_risk[:LIST_SHOWN]], n,
                              "(`/atrisk` lists them all)"))
    else:
        blocks.append(_section(f"*:rotating_light: Newly at risk:* none this {unit}"))

    n = len(content.renewals)
    if n:
        blocks.extend(_listed(f"*:calendar: Renewals in the next 30 days ({n})*",
                              [renewal_line(r, content.today) for r in content.renewals[:LIST_SHOWN]], n,
                              "renewals"))
    else:
        blocks.append(_section("*:calendar: Renewals in the next 30 days:* none"))

    if content.movers:
        blocks.extend(_listed(f"*:chart_with_upwards_trend: Biggest health moves this {unit}*",
                              [mover_line(m) for m in content.movers[:LIST_SHOWN]], len(content.movers), "moves"))
    else:
        blocks.append(_section(f"*:chart_with_upwards_trend: Biggest health moves:* no change this {unit}"))

    m = content.movements
    if m is not None and m.value is not None and content.movements_period is not None:
        b = m.breakdown
        head = (f"*:moneybag: MRR movements, {escape(content.movements_period.describe())}*: net {m.value:+,.2f}"
                f" ({b['start_mrr']:,.2f} → {b['end_mrr']:,.2f})")
        blocks.extend(_sections([head, *(f"• {line}" for line in movement_lines(b, mrkdwn=True, esc=escape))], 2))

    if len(blocks) > MAX_BLOCKS:  # cannot happen with the caps above; kept as a last guard
        blocks = [*blocks[: MAX_BLOCKS - 1], _context("…the rest of the digest did not fit in one message.")]
    return blocks


def digest_text(content: DigestContent) -> str:
    """Fallback/notification text: the title, the first KPIs and the list sizes (escaped, at most 300 chars)."""
    kpis = ", ".join(f"{r.name} {format_value(r.value, r.unit)}" for r in content.results[:4])
    n = len(content.renewals)
    counts = f"{len(content.newly_at_risk)} newly at risk, {n} renewal{'' if n == 1 else 's'} in the next 30 days"
    text = f"{content.title}. {kpis}; {counts}" if kpis else f"{content.title}. {counts}"
    return clip(escape(text), NOTIFICATION_TEXT_MAX)


# ------------------------------------------------------------------------------------------ risk warnings


def _state_line(state: AlertState) -> str:
    """"Acknowledged by <@U1> on 2026-11-22 10:15 UTC", "Snoozed by <@U1> until 2026-11-29",
    "Marked not a risk by <@U1>: <reason>" (each after an emoji)."""
    words = f"{STATE_EMOJI[state.action]} {STATE_WORDS[state.action]} by {mention(state.by)}"
    if state.action == "acknowledged":
        return f"{words} on {_utc(state.at)}"
    if state.action == "snoozed":
        until = state.until or (state.at.date() + dt.timedelta(days=SNOOZE_DAYS))
        return f"{words} until {until.isoformat()}"
    reason = (state.reason or "").strip()
    return f"{words}: {escape(clip(reason, REASON_MAX))}" if reason else words


def _state_block(state: AlertState) -> ContextBlock:
    """The state line, and when it happened for the states whose line does not say it."""
    elements = [MarkdownTextObject(text=_state_line(state))]
    if state.action != "acknowledged":
        elements.append(MarkdownTextObject(text=f"on {_utc(state.at)}"))
    return ContextBlock(elements=elements)


def risk_alert_blocks(item: AtRisk, *, alert_value: str, state: AlertState | None = None,
                      repeat: bool = False) -> list[Block]:
    """One churn-risk warning: the account, its score and band, the owner mentioned, each fired rule with its
    numbers; Acknowledge / Snooze 7 days / Not a risk buttons (value `alert_value`) until someone acts, then a
    line saying who did what and when. `repeat`: a warning for an account warned about before, now worse.
    """
    if len(alert_value) > BUTTON_VALUE_MAX:
        raise ValueError(f"alert_value is {len(alert_value)} characters; a button value holds {BUTTON_VALUE_MAX}")
    h = item.health
    owner = f"{mention(h.owner)}, this account needs a look" if h.owner else "No owner on record: it needs a look"
    blocks: list[Block] = [
        _section(f":rotating_light: *{clip(literal(h.account.name), 2 * NAME_MAX)}* "
                 f"(`{clip(literal(h.account.id), NAME_MAX)}`) is at risk — "
                 f"{_score(h.score)}/100 {_band(h.band)}\n{owner}"),
        *_sections(["*Why:*", *(f"• {escape(rule.text)}" for rule in item.rules)], 3),
    ]
    if repeat:
        blocks.append(_context(":arrow_down: Worse since the last alert"))
    if state is None:
        blocks.append(ActionsBlock(elements=[
            _button("Acknowledge", ACK_ACTION, alert_value, "primary"),
            _button(f"Snooze {SNOOZE_DAYS} days", SNOOZE_ACTION, alert_value),
            _button("Not a risk", DISMISS_ACTION, alert_value),
        ]))
    else:
        blocks.append(_state_block(state))
    blocks.append(_context(f"As of {h.as_of.isoformat()} · segment {literal(h.segment or '–')}"))
    return blocks


def risk_alert_text(item: AtRisk) -> str:
    """Fallback/notification text: "At risk: Acme Corp (32/100, red): health is red (32); …" (escaped, clipped)."""
    h = item.health
    rules = "; ".join(rule.text for rule in item.rules)
    return clip(escape(f"At risk: {h.account.name} ({_score(h.score)}/100, {h.band or 'unscored'}): {rules}"),
                NOTIFICATION_TEXT_MAX)


def not_a_risk_modal(alert_value: str) -> dict:
    """The views.open modal asking why an account is not a risk; `alert_value` rides in private_metadata."""
    if len(alert_value) > PRIVATE_METADATA_MAX:
        raise ValueError(f"alert_value is {len(alert_value)} characters; private_metadata holds "
                         f"{PRIVATE_METADATA_MAX}")
    view = View(
        type="modal",
        callback_id=DISMISS_CALLBACK,
        private_metadata=alert_value,
        title="Not a risk",
        submit="Save",
        close="Cancel",
        blocks=[InputBlock(
            block_id=REASON_BLOCK,
            label="Why is this account not at risk?",
            element=PlainTextInputElement(action_id=REASON_ACTION, multiline=True, max_length=REASON_MAX,
                                          placeholder="e.g. usage dropped for a planned migration"),
            optional=False,
        )],
    )
    return view.to_dict()


def with_alert_state(message_blocks: list[dict], state: AlertState) -> list[dict]:
    """A posted warning's blocks with its buttons replaced by the state line (who did what, and when)."""
    kept = [b for b in message_blocks if b.get("type") != "actions"]
    kept = [b for b in kept if b.get("block_id") != "alert_state"]
    state_block = _state_block(state).to_dict()
    state_block["block_id"] = "alert_state"
    return [*kept, state_block]
