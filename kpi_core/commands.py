"""The command language shared by Slack and the terminal: text -> a typed command.

`/kpi <id> [period] [scope]`, the shortcuts `/nps /csat /churn /nrr /mrr`, `/health [account] [as-of]`,
`/atrisk [segment:X] [owner:@user]`, `/kpi list`, `/kpi help [id]`. Scope words come in any order after
the KPI: a period, `segment:NAME`, `owner:@user`, `feature:NAME`, and the rest is an account.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from dataclasses import dataclass, field

from sqlalchemy import Connection

from kpi_core.accounts import find_account
from kpi_core.catalog import catalog
from kpi_core.periods import ACCEPTED_FORMS, Period, extract_period, parse_period
from kpi_core.scope_values import DIMENSIONS, EXAMPLES, PLURALS, raise_if_period_typo, resolve_scope_words
from kpi_core.types import KpiRequest, Scope, UnknownAccountError, UserError

SHORTCUTS = ("nps", "csat", "churn", "nrr", "mrr")
COMMANDS = ("kpi", *SHORTCUTS, "health", "atrisk", "digest")
DEFAULT_PERIOD = "last-30d"
MAX_TEXT = 500

BREAKDOWNS = ("segment", "owner", "feature", "month", "week")
VALUE_LISTS = {PLURALS[d]: d for d in DIMENSIONS}

USAGE = {
    "kpi": "`/kpi <id> [period] [account | segment:NAME | owner:@user | feature:NAME] "
    "[by segment|owner|feature|month|week]`, `/kpi list`, `/kpi help [id]`, "
    "`/kpi segments`, `/kpi owners`, `/kpi features` (the values that exist)",
    "health": "`/health [account] [as-of date or period]` (e.g. `/health acme`, `/health acme 2026-10-31`), "
    "`/health backtest`",
    "atrisk": "`/atrisk [segment:NAME] [owner:@user | mine]`, `/atrisk subscribe [me]`, `/atrisk unsubscribe [me]`",
    "digest": "`/digest preview`, `/digest subscribe [day] [HH:MM] [time zone] [kpi ids...]`, "
    "`/digest unsubscribe`, `/digest list`",
}
for _shortcut in SHORTCUTS:
    USAGE[_shortcut] = f"`/{_shortcut} [period] [account | segment:NAME | owner:@user] [by segment|owner|month|week]`"
USAGE["mrr"] += ", `/mrr movements [period] [scope]`"


@dataclass(frozen=True)
class KpiCommand:
    command: str
    request: KpiRequest
    by: str | None = None  # a breakdown: one of BREAKDOWNS


@dataclass(frozen=True)
class ValuesCommand:
    """`/kpi segments|owners|features`: the values that exist, with their account counts."""

    command: str
    dimension: str


@dataclass(frozen=True)
class CatalogCommand:
    command: str
    kpi: str | None = None  # None: list every KPI; an id: help for that KPI


@dataclass(frozen=True)
class HealthCommand:
    command: str
    as_of: dt.date
    scope: Scope = field(default_factory=Scope)  # with an account: one account's card
    today: dt.date | None = None  # the day asked on: an earlier `as_of` is scored point in time
    backtest: bool = False  # `/health backtest`: the litmus test, answered by the bot


@dataclass(frozen=True)
class AtRiskCommand:
    command: str
    as_of: dt.date
    scope: Scope = field(default_factory=Scope)
    verb: str | None = None  # "subscribe" / "unsubscribe", handled by the bot


@dataclass(frozen=True)
class DigestCommand:
    command: str
    verb: str
    args: tuple[str, ...] = ()


Command = KpiCommand | CatalogCommand | HealthCommand | AtRiskCommand | DigestCommand | ValuesCommand

_MENTION = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$")
_USER_ID = re.compile(r"^@?([UW][A-Z0-9]{2,})$")


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # unbalanced quotes: take the words as they are
        return text.split()


def _owner(value: str) -> str:
    value = value.strip()
    if m := _MENTION.match(value):
        return m.group(1)
    if m := _USER_ID.match(value.upper()):
        return m.group(1)
    raise UserError(
        f"`owner:{value}` is not a Slack user. Mention the person (`owner:@jane`) or give their user id "
        "(`owner:U0123ABCD`)."
    )


def split_command(text: str) -> tuple[str, list[str]]:
    """('nps', ['last-quarter', 'acme']) from '/nps last-quarter acme'; text without a command means /kpi."""
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise UserError(f"That command is {len(text)} characters long; keep it under {MAX_TEXT}.")
    words = _words(text)
    if not words:
        raise UserError("Type a command, e.g. `/nps last-quarter` or `/kpi list`.")
    head = words[0].lstrip("/").lower()
    if head in COMMANDS:
        return head, words[1:]
    if words[0].startswith("/"):
        raise UserError(
            f"There is no command `{words[0]}`. Commands: " + ", ".join(f"`/{c}`" for c in COMMANDS) + "."
        )
    return "kpi", words


@dataclass
class _Parsed:
    period: Period | None = None
    segment: str | None = None
    owner: str | None = None
    feature: str | None = None
    by: str | None = None
    rest: list[str] = field(default_factory=list)


BREAKDOWN_HELP = ("Break a KPI down with `by segment`, `by owner`, `by feature`, `by month` or `by week`, e.g. "
                  "`/kpi nps last-quarter by segment`.")


def _take_breakdown(words: list[str]) -> tuple[str | None, list[str]]:
    """(`segment`, other words) from [..., 'by', 'segment', ...]. A `by` not followed by a dimension stays a word
    (account names may contain it); if no account matches, the parser says how to break down instead."""
    lowered = [w.lower() for w in words]
    found = [i for i, w in enumerate(lowered) if w == "by" and i + 1 < len(words) and lowered[i + 1] in BREAKDOWNS]
    if not found:
        return None, words
    if len(found) > 1:
        raise UserError("One breakdown at a time, e.g. `/kpi nps last-quarter by segment`.")
    at = found[0]
    return lowered[at + 1], words[:at] + words[at + 2:]


def _parse_scope_words(words: list[str], today: dt.date, allow_by: bool = False) -> _Parsed:
    parsed = _Parsed()
    if allow_by:
        parsed.by, words = _take_breakdown(words)
    plain: list[str] = []
    for word in words:
        key, sep, value = word.partition(":")
        key = key.lower()
        if sep and key in {"segment", "owner", "feature"}:
            if not value:
                raise UserError(f"`{word}` needs a value, e.g. `{EXAMPLES[key]}`. "
                                f"`/kpi {PLURALS[key]}` lists the {PLURALS[key]} there are.")
            value = _owner(value) if key == "owner" else value
            current = getattr(parsed, key)
            if current is not None and current.casefold() != value.casefold():
                raise UserError(
                    f"Two {PLURALS[key]} given (`{key}:{current}` and `{key}:{value}`); give one. To compare "
                    f"them side by side, break the KPI down: e.g. `/kpi nps last-quarter by {key}`."
                )
            setattr(parsed, key, value)
        else:
            plain.append(word)
    parsed.period, parsed.rest = extract_period(plain, today)
    return parsed


def _scope(conn: Connection, parsed: _Parsed) -> Scope:
    """The scope with every value resolved against the store (one place: kpi_core.scope_values)."""
    return resolve_scope_words(conn, parsed.rest, parsed.segment, parsed.owner, parsed.feature, find_account)


def parse_command(conn: Connection, text: str, today: dt.date) -> Command:
    """Read one command; raises UserError (with what to type instead) for anything it cannot use."""
    head, words = split_command(text)
    command = f"/{head}"
    if head == "digest":
        return DigestCommand(command, (words[0].lower() if words else "preview"), tuple(words[1:]))
    if head == "kpi":
        if not words:
            raise UserError(f"Which KPI? Usage: {USAGE['kpi']}. Type `/kpi list` for the catalog.")
        first = words[0].lower()
        if first in {"list", "catalog"}:
            return CatalogCommand(command)
        if first == "help":
            return CatalogCommand(command, catalog().get(words[1]).id if len(words) > 1 else None)
        if first in VALUE_LISTS and len(words) == 1:
            return ValuesCommand(command, VALUE_LISTS[first])
        kpi = catalog().get(words[0]).id
        return _kpi_command(conn, command, kpi, words[1:], today)
    if head == "mrr" and words and words[0].lower() == "movements":
        return _kpi_command(conn, command, "mrr_movements", words[1:], today)
    if head in SHORTCUTS:
        return _kpi_command(conn, command, head, words, today)
    if head == "atrisk" and words and words[0].lower() in {"subscribe", "unsubscribe"}:
        return AtRiskCommand(command, today, Scope(), words[0].lower())
    if head == "health" and len(words) == 1 and words[0].lower() == "backtest":
        return HealthCommand(command, today, Scope(), today, backtest=True)
    parsed = _parse_scope_words(words, today)
    as_of = parsed.period.end if parsed.period else today
    if head == "health":
        if parsed.feature:
            raise UserError(f"`feature:` does not apply to /health. Usage: {USAGE['health']}")
        return HealthCommand(command, as_of, _scope(conn, parsed), today)
    if parsed.rest or parsed.feature:
        raise_if_period_typo(parsed.rest)
        raise UserError(f"`/atrisk` takes only a segment and an owner. Usage: {USAGE['atrisk']}")
    return AtRiskCommand(command, as_of, _scope(conn, parsed))


def _kpi_command(conn: Connection, command: str, kpi: str, words: list[str], today: dt.date) -> KpiCommand:
    parsed = _parse_scope_words(words, today, allow_by=True)
    period = parsed.period or parse_period(DEFAULT_PERIOD, today)
    try:
        scope = _scope(conn, parsed)
    except UnknownAccountError:
        if "by" in (w.lower() for w in parsed.rest):
            raise UserError(f"I cannot read `{' '.join(parsed.rest)}`. {BREAKDOWN_HELP}") from None
        raise
    return KpiCommand(command, KpiRequest(kpi, period, scope), parsed.by)


def help_text(command: str | None = None) -> str:
    """Accepted forms of one command (or all of them), for error answers and `help`."""
    if command and command.lstrip("/") in USAGE:
        return f"Usage: {USAGE[command.lstrip('/')]}\n{WHERE_TO_LOOK}\n{ACCEPTED_FORMS}"
    lines = [f"/{name}: {usage}" for name, usage in USAGE.items()]
    return "\n".join(lines) + f"\n{WHERE_TO_LOOK}\n{ACCEPTED_FORMS}"  # ACCEPTED_FORMS has its own heading


WHERE_TO_LOOK = (
    "Where to look values up: `/kpi list` (KPI ids), `/kpi segments`, `/kpi owners`, `/kpi features` "
    "(scope values with account counts); accounts by id or part of their name (`/health acme`)."
)
