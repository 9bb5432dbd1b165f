"""Answers as Slack Block Kit: pure functions from kpi_core answers to `slack_sdk.models.blocks` blocks.

Nothing here talks to Slack, a database or the clock. Every text that comes from data (account names, details,
rule texts, reasons, formulas, what the user typed) goes through `escape`, so an account called "<!channel>"
pings nobody; only the mentions built here from a user id (`<@U123>`) stay raw. Slack's limits are respected by
construction (and checked by `to_dict()`, which runs slack_sdk's validators): at most 50 blocks a message,
3000 characters a section text, 10 fields a section (2000 characters each), 150 characters a header,
75 characters a button text and 2000 a button value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.render.formats import (
    DRIVERS_TITLE,
    driver_lines,
    format_delta,
    format_number,
    format_score,
    format_value,
    group_change,
    percent_shares,
    too_few_note,
)
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
from kpi_core.catalog import KpiDef
from kpi_core.health import AccountHealth, HealthOverview
from kpi_core.risk import AtRisk
from kpi_core.types import AmbiguousAccountError, KpiResult, Scope

SHARE_ACTION = "share_answer"
SHOW_ALL_ACTION = "show_all_at_risk"
PICK_ACCOUNT_ACTION = "pick_account"

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks)
MAX_BLOCKS = 50
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
MAX_FIELDS = 10
HEADER_TEXT_MAX = 150
CONTEXT_TEXT_MAX = 3000
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
ACTIONS_MAX_ELEMENTS = 25

AT_RISK_SHOWN = 20
USAGE_SECTIONS_MAX = 5
CATALOG_SECTIONS_MAX = 40
NOTIFICATION_TEXT_MAX = 300
ELLIPSIS = "…"

BAND_EMOJI = {"green": ":large_green_circle:", "yellow": ":large_yellow_circle:", "red": ":red_circle:"}
UNSCORED_EMOJI = ":white_circle:"
MOVE_EMOJI = {"green": ":large_green_circle:", "red": ":red_circle:"}

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


# --------------------------------------------------------------------------------------------------- text


def escape(text: str) -> str:
    """Slack mrkdwn escaping: & < > become entities, so data can never form a mention, link or command."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_FORMATTING = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})


def literal(text: str) -> str:
    """Data shown in mrkdwn: escaped, and Slack's formatting characters (* _ ~ `) replaced by look-alikes
    (∗ ˍ ∼ ˋ), so a name like `*Acme*` or `_beta_` shows as typed instead of turning bold, italic or code."""
    return escape(text).translate(_FORMATTING)


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending with "…" when cut, never inside an entity or <...>."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    lt = cut.rfind("<")
    if lt != -1 and ">" not in cut[lt:]:
        cut = cut[:lt]
    return cut + ELLIPSIS


def mention(user_id: str | None) -> str:
    """`<@U123>` for a Slack user id; anything else is shown escaped, never as a mention."""
    if not user_id:
        return "nobody"
    if _USER_ID.match(user_id):
        return f"<@{user_id}>"
    return escape(user_id)


def pack_lines(lines: Iterable[str], limit: int = SECTION_TEXT_MAX) -> list[str]:
    """Lines joined into as few texts as possible, each at most `limit` characters (a longer line is clipped)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = clip(line, limit)
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks


def _score(score: float | None) -> str:
    return format_score(score)


def _band(band: str | None) -> str:
    return f"{BAND_EMOJI.get(band or '', UNSCORED_EMOJI)} {band or 'unscored'}"


def _scope(scope: Scope) -> str:
    """The scope in words, data escaped, owner as a mention."""
    parts = []
    if scope.account:
        parts.append(f"{literal(scope.account.name)} ({literal(scope.account.id)})")
    if scope.segment:
        parts.append(f"segment {literal(scope.segment)}")
    if scope.owner:
        parts.append(f"owner {mention(scope.owner)}")
    if scope.feature:
        parts.append(f"feature {literal(scope.feature)}")
    return ", ".join(parts) if parts else "all accounts"


# ------------------------------------------------------------------------------------------------- blocks


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=clip(escape(text), HEADER_TEXT_MAX), emoji=True))


def _section(mrkdwn: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(mrkdwn, SECTION_TEXT_MAX)))


def _sections(lines: Iterable[str], max_sections: int = MAX_BLOCKS) -> list[Block]:
    """Lines packed into sections of at most 3000 characters; past `max_sections`, a note says what was left."""
    lines = list(lines)
    chunks = pack_lines(lines)
    if len(chunks) <= max_sections:
        return [_section(c) for c in chunks]
    kept = chunks[: max_sections - 1]
    shown = sum(c.count("\n") + 1 for c in kept)
    return [_section(c) for c in kept] + [_context(f"…and {len(lines) - shown} more lines not shown.")]


def _fields(texts: Sequence[str]) -> SectionBlock:
    """A section of up to 10 fields; past 9 items the tenth says how many more there are."""
    if len(texts) > MAX_FIELDS:
        texts = [*texts[: MAX_FIELDS - 1], f"_…and {len(texts) - MAX_FIELDS + 1} more_"]
    return SectionBlock(fields=[MarkdownTextObject(text=clip(t, FIELD_TEXT_MAX)) for t in texts])


def _context(mrkdwn: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(mrkdwn, CONTEXT_TEXT_MAX))])


def _button(text: str, action_id: str, value: str, style: str | None = None) -> ButtonElement:
    return ButtonElement(text=PlainTextObject(text=clip(text, BUTTON_TEXT_MAX), emoji=True), action_id=action_id,
                         value=value, style=style)


# ------------------------------------------------------------------------------------------------ answers


def _delta_line(r: KpiResult) -> str:
    prev = r.previous
    if prev is None:
        return "No comparison: there is no previous period for this one."
    was = f"{format_value(prev.value, r.unit)} in {escape(prev.period.describe())}"
    delta, mood = format_delta(r)
    if r.delta is None:
        why = "no data this period" if r.value is None else "no data in the previous period"
        return f"No comparison ({why}); previous: {was}"
    emoji = MOVE_EMOJI.get(mood, UNSCORED_EMOJI)
    return f"{emoji} *{delta}* vs {was}"


def _kpi(r: KpiResult) -> list[Block]:
    if r.value is None:
        head = f"No data: {escape(r.reason or 'nothing to count in this period')}"
    else:
        head = f"*{format_value(r.value, r.unit)}*" + (f" {too_few_note(r)}" if r.too_few else "")
    lines = [
        head,
        escape(r.period.describe()) + (" _(cut at today)_" if r.period.truncated else ""),
        _delta_line(r),
        f"Sample: {r.sample:,} {escape(r.sample_label)}",
    ]
    if r.value is not None and r.reason:
        lines.append(f"Note: {escape(r.reason)}")
    blocks: list[Block] = [_header(r.name), _section("\n".join(lines))]
    scalars = {k: v for k, v in r.breakdown.items() if is_scalar(v)}
    if scalars:
        blocks.append(_fields([f"*{escape(k.replace('_', ' '))}*\n{escape(format_number(v))}"
                               for k, v in scalars.items()]))
    if r.kpi == "mrr_movements" and r.value is not None:
        blocks.extend(_sections(movement_lines(r.breakdown, esc=escape), 3))
    blocks.append(_context(f"`{escape(r.kpi)}` = {escape(r.formula)} · Scope: {_scope(r.scope)}"))
    return blocks


def trend_line(h: AccountHealth) -> str:
    """The weekly trend as a text sparkline: "71 → 68 → 60 → 53" ("–" for a week without a score)."""
    return " → ".join(_score(value) for _, value in h.trend)


def _health(h: AccountHealth) -> list[Block]:
    score = "No score (no data for any component)" if h.score is None else f"*{format_score(h.score)}/100*"
    blocks: list[Block] = [
        _header(f"Health of {h.account.name}"),
        _section(f"{score}  {BAND_EMOJI.get(h.band or '', UNSCORED_EMOJI)} *{(h.band or 'unscored').upper()}*"
                 f"  ·  as of {h.as_of.isoformat()}"),
    ]
    if h.status_note:
        blocks.append(_section(f"*{escape(h.status_note)}*"))
    if h.components and h.status in ("customer", "trial"):
        shares = percent_shares([c.weight for c in h.components])
        blocks.append(_fields([
            f"*{literal(c.name)}*: {format_score(c.score, 'missing')}"
            f" (weight {share}%)\n{escape(c.detail)}"
            for c, share in zip(h.components, shares, strict=True)
        ]))
    if h.drivers:
        blocks.extend(_sections([f"*{DRIVERS_TITLE}:*", *(f"• {escape(d)}" for d in driver_lines(h))], 3))
    notes = []
    if h.missing:
        notes.append(f"No data for: {escape(', '.join(h.missing))} (left out, the other weights scaled up)")
    notes.extend(f"Left out: {escape(note)}" for note in h.left_out)
    if h.trend:
        first, last = h.trend[0][0], h.trend[-1][0]
        notes.append(f"Trend, weekly ({first.isoformat()} to {last.isoformat()}): {trend_line(h)}")
    if notes:
        blocks.append(_section("\n".join(notes)))
    owner = f"Owner {mention(h.owner)}" if h.owner else "No owner"
    blocks.append(_context(f"{owner} · segment {literal(h.segment or '–')} · account `{literal(h.account.id)}`"))
    return blocks


def _overview(o: HealthOverview, scope: Scope) -> list[Block]:
    mean = "no data" if o.mean is None else f"{o.mean:.1f}"
    bands = "   ".join(f"{BAND_EMOJI[b]} {b} {o.bands.get(b, 0):,}" for b in ("green", "yellow", "red"))
    if o.bands.get("unscored"):
        bands += f"   {UNSCORED_EMOJI} unscored {o.bands['unscored']:,}"
    blocks: list[Block] = [
        _header("Customer health"),
        _section(f"*Mean health {mean}* over {o.customers:,} customers\n{bands}"),
    ]
    if o.lowest:
        lines = [f"*{len(o.lowest)} lowest customers*"]
        for i, h in enumerate(o.lowest, 1):
            driver = f" — {escape(h.drivers[0])}" if h.drivers else ""
            lines.append(f"{i}. *{literal(h.account.name)}* — {_score(h.score)} {_band(h.band)}{driver}")
        blocks.extend(_sections(lines, 3))
    blocks.append(_context(f"As of {o.as_of.isoformat()} · Scope: {_scope(scope)}"))
    return blocks


def _at_risk_section(a: AtRisk) -> SectionBlock:
    h = a.health
    lines = [
        f"{BAND_EMOJI.get(h.band or '', UNSCORED_EMOJI)} *{literal(h.account.name)}* (`{literal(h.account.id)}`)"
        f" — {_score(h.score)}/100 {h.band or 'unscored'}",
        *(f"• {escape(rule.text)}" for rule in a.rules),
        f"Owner: {mention(h.owner)}",
    ]
    text = "\n".join(lines)
    if len(text) > SECTION_TEXT_MAX:  # keep the owner line whatever the rules say
        head = clip("\n".join(lines[:-1]), SECTION_TEXT_MAX - len(lines[-1]) - 1)
        text = f"{head}\n{lines[-1]}"
    return _section(text)


def _at_risk(answer: AtRiskAnswer) -> list[Block]:
    where = f"As of {answer.as_of.isoformat()} · Scope: {_scope(answer.scope)}"
    if not answer.accounts:
        return [_header("No customer at risk"), _section("No rule fired for any customer."), _context(where)]
    n = len(answer.accounts)
    blocks: list[Block] = [_header(f"{n} customer{'s' if n != 1 else ''} at risk, worst first")]
    blocks.extend(_at_risk_section(a) for a in answer.accounts[:AT_RISK_SHOWN])
    if n > AT_RISK_SHOWN:
        blocks.append(_context(f"…and {n - AT_RISK_SHOWN} more at risk: *Show all* sends you the full list as a "
                               "CSV file in a direct message."))
    blocks.append(_context(where))
    return blocks


def _show_all_button(answer: Answer, request_value: str) -> ActionsBlock | None:
    """/atrisk past AT_RISK_SHOWN accounts: a "Show all" button (the whole list as a CSV file, sent by DM)."""
    if not isinstance(answer, AtRiskAnswer) or len(answer.accounts) <= AT_RISK_SHOWN:
        return None
    if len(request_value) > BUTTON_VALUE_MAX:
        return None
    return ActionsBlock(elements=[_button(f"Show all {len(answer.accounts)}", SHOW_ALL_ACTION, request_value)])


def _catalog(answer: CatalogAnswer) -> list[Block]:
    k: KpiDef | None = answer.focus
    if k is not None:
        aliases = f" (also {', '.join(f'`{escape(a)}`' for a in k.aliases)})" if k.aliases else ""
        return [
            _header(k.name),
            _section(f"`/kpi {escape(k.id)}`{aliases}\n*Formula:* {escape(k.formula)}\n"
                     f"*Unit:* {escape(k.unit)}. Higher is {'better' if k.higher_is_better else 'worse'}.\n"
                     f"*Counts:* {escape(k.sample_label)}"),
            _context(f"Ask it: `/kpi {escape(k.id)} [period] [account | segment:NAME | owner:@user]`"),
        ]
    lines = [f"`{escape(d.id)}` — *{escape(d.name)}* — {escape(d.formula)}" for d in answer.kpis]
    return [
        _header(f"KPI catalog ({len(answer.kpis)})"),
        *_sections(lines, CATALOG_SECTIONS_MAX),
        _context("`/kpi help &lt;id&gt;` explains one KPI; `/kpi &lt;id&gt; [period] [scope]` asks it."),
    ]


GROUPS_SHOWN = 40
VALUES_SHOWN = 60


def _group_key(by: str | None, key: str) -> str:
    return mention(key) if by == "owner" else escape(key)


def _groups(answer: KpiAnswer) -> list[Block]:
    """The total's card, then one line per group (best first), "and N more" past GROUPS_SHOWN."""
    r = answer.result
    groups = answer.groups or ()
    lines = [f"*{escape(r.name)} by {escape(answer.by or '')}*"]
    for g in groups[:GROUPS_SHOWN]:
        value = format_value(g.value, r.unit) if g.value is not None else "no data"
        change = group_change(g.delta, g.previous, g.sample, r.unit, r.min_sample)
        lines.append(f"• {_group_key(answer.by, g.key)}: *{value}* (n={g.sample:,}) {change}")
    if len(groups) > GROUPS_SHOWN:
        lines.append(f"…and {len(groups) - GROUPS_SHOWN} more (`csbot ask --json` lists them all)")
    if not groups:
        lines.append(f"No {escape(answer.by or '')} values in the store to group by.")
    return [*_kpi(r), *_sections(lines, 5)]


def _values(answer: ValuesAnswer) -> list[Block]:
    plural = {"segment": "Segments", "owner": "Owners", "feature": "Features"}[answer.dimension]
    if not answer.values:
        return [_header(plural), _section(f"No {plural.lower()} in the store yet.")]
    lines = [f"• {_group_key(answer.dimension, v.value)}: {v.accounts:,} account{'s' if v.accounts != 1 else ''}"
             for v in answer.values[:VALUES_SHOWN]]
    if len(answer.values) > VALUES_SHOWN:
        lines.append(f"…and {len(answer.values) - VALUES_SHOWN} more")
    return [_header(plural), *_sections(lines, 5),
            _context(f"Use one as a scope, e.g. `/kpi nps {answer.dimension}:…`")]


def _body(answer: Answer) -> list[Block]:
    if isinstance(answer, ValuesAnswer):
        return _values(answer)
    if isinstance(answer, KpiAnswer):
        return _groups(answer) if answer.groups is not None else _kpi(answer.result)
    if isinstance(answer, HealthAnswer):
        return _health(answer.health)
    if isinstance(answer, OverviewAnswer):
        return _overview(answer.overview, answer.scope)
    if isinstance(answer, AtRiskAnswer):
        return _at_risk(answer)
    if isinstance(answer, CatalogAnswer):
        return _catalog(answer)
    raise TypeError(f"cannot render {answer!r}")


def answer_blocks(answer: Answer, *, share_value: str | None = None) -> list[Block]:
    """The answer for the asker; with `share_value`, a "Share in channel" button carrying it.

    A `share_value` longer than Slack's 2000 characters cannot ride on a button: the answer is still shown,
    without the button and with a line saying it cannot be shared.
    """
    blocks = _body(answer)
    show_all = _show_all_button(answer, share_value) if share_value is not None else None
    if show_all is not None:
        blocks.append(show_all)
    if share_value is not None:
        if len(share_value) <= BUTTON_VALUE_MAX:
            blocks.append(ActionsBlock(elements=[_button("Share in channel", SHARE_ACTION, share_value, "primary")]))
        else:
            blocks.append(_context("This answer cannot be shared from here (the question is too long)."))
    return blocks


def shared_blocks(answer: Answer, shared_by: str) -> list[Block]:
    """The same answer for the channel: who shared it, and no share button."""
    return [*_body(answer), _context(f"Shared by {mention(shared_by)}")]


def _notification(answer: Answer) -> str:
    if isinstance(answer, ValuesAnswer):
        return f"{len(answer.values)} {answer.dimension}{'s' if len(answer.values) != 1 else ''}"
    if isinstance(answer, KpiAnswer):
        r = answer.result
        text = f"{r.name}, {r.period.label}: {format_value(r.value, r.unit)}"
        delta, _ = format_delta(r)
        return text + (f" ({delta})" if r.delta is not None else "")
    if isinstance(answer, HealthAnswer):
        h = answer.health
        score = "no score" if h.score is None else f"{format_score(h.score)}/100"
        return f"Health of {h.account.name}: {score} ({h.band or 'unscored'})"
    if isinstance(answer, OverviewAnswer):
        o = answer.overview
        mean = "no data" if o.mean is None else f"{o.mean:.1f}"
        return (f"Customer health: mean {mean} over {o.customers:,} customers "
                f"({', '.join(f'{b} {o.bands.get(b, 0)}' for b in ('green', 'yellow', 'red'))})")
    if isinstance(answer, AtRiskAnswer):
        n = len(answer.accounts)
        return f"{n} customer{'s' if n != 1 else ''} at risk" if n else "No customer at risk"
    if isinstance(answer, CatalogAnswer):
        if answer.focus:
            return f"{answer.focus.name}: {answer.focus.formula}"
        return f"KPI catalog: {len(answer.kpis)} KPIs"
    raise TypeError(f"cannot render {answer!r}")


def answer_text(answer: Answer) -> str:
    """Short fallback/notification text ("NPS, last quarter (Q3 2026): 42.0 (▲ +4.0)"), escaped for mrkdwn."""
    return clip(escape(_notification(answer)), NOTIFICATION_TEXT_MAX)


# ------------------------------------------------------------------------------------------- other replies


def error_blocks(message: str, usage: str | None = None) -> list[Block]:
    """A user error: what went wrong (as is, escaped) and, when given, the accepted forms."""
    lines = escape(message).splitlines() or [""]
    blocks = _sections([f":warning: {lines[0]}", *lines[1:]], USAGE_SECTIONS_MAX)
    if usage:
        # In a code block, one per section (a fence never spans two sections); backticks removed.
        lines = escape(usage.replace("`", "")).splitlines()  # inline backticks would show literally
        chunks = pack_lines(lines, SECTION_TEXT_MAX - len("```\n\n```"))
        if len(chunks) > USAGE_SECTIONS_MAX:
            chunks = chunks[:USAGE_SECTIONS_MAX]
            chunks[-1] = clip(chunks[-1] + "\n" + ELLIPSIS + " (more in `/kpi help`)",
                              SECTION_TEXT_MAX - len("```\n\n```"))
        blocks.extend(_section(f"```\n{chunk}\n```") for chunk in chunks)
    return blocks


def ambiguous_blocks(error: AmbiguousAccountError, values: list[str]) -> list[Block]:
    """"Which one did you mean?" and one button per candidate, `values[i]` on the i-th (action_id pick_account_i).

    A candidate whose value exceeds Slack's 2000 characters gets no button; it stays listed with its id to type.
    """
    if len(values) != len(error.candidates):
        raise ValueError(f"{len(error.candidates)} candidates but {len(values)} button values")
    listed = [f"• {literal(c.name)} (`{literal(c.id)}`)" for c in error.candidates]
    blocks: list[Block] = [*_sections([f"'{literal(error.text)}' matches several accounts. *Which one did you mean?*",
                                      *listed], 3)]
    buttons = [_button(escape(f"{c.name} ({c.id})"), f"{PICK_ACCOUNT_ACTION}_{i}", value)
               for i, (c, value) in enumerate(zip(error.candidates, values, strict=True))
               if len(value) <= BUTTON_VALUE_MAX]
    room = MAX_BLOCKS - len(blocks) - 1
    for start in range(0, min(len(buttons), room * ACTIONS_MAX_ELEMENTS), ACTIONS_MAX_ELEMENTS):
        blocks.append(ActionsBlock(elements=buttons[start:start + ACTIONS_MAX_ELEMENTS]))
    if len(buttons) < len(values):
        blocks.append(_context("Or type the account id of the one you mean."))
    return blocks


def apology_blocks(request_id: str) -> list[Block]:
    return [_section(f":warning: Something went wrong on our side, sorry. It has been logged; if you ask for help, "
                     f"give this reference: `{escape(request_id)}`.")]


def blocks_json(blocks: list[Block]) -> list[dict[str, Any]]:
    """The blocks as Slack's JSON (slack_sdk validates each block's limits here)."""
    return [b.to_dict() for b in blocks]
