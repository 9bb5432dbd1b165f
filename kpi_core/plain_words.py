"""Questions in plain words -> the command language, deterministically; never a guess.

"how is acme doing?" -> `/health acme`, "what's our nps last quarter?" -> `/nps last quarter`, "who is at
risk?" -> `/atrisk`, "mrr by segment this year" -> `/mrr this year by segment`, "nps last quarter for
enterprise" -> `/nps last quarter segment:enterprise` (a known segment; otherwise the words name an account).
Text that already is a command (with or without the slash) goes through as it is. Anything else gets no
command, only the closest commands to offer as buttons.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select

from kpi_core.catalog import catalog
from kpi_core.commands import COMMANDS, SHORTCUTS
from kpi_core.periods import _MAX_PHRASE_WORDS, _match
from storage.models import Account

MAX_SUGGESTIONS = 3
FILLER = {"what", "what's", "whats", "what're", "is", "was", "are", "were", "our", "the", "my", "show", "me",
          "tell", "give", "current", "currently", "please", "how", "much", "many", "did", "do", "we", "have",
          "csbot", "a", "an", "us", "about", "whats's", "get", "see", "it", "its", "it's", "and", "now"}
PREPOSITIONS = {"for", "in", "at", "of", "on"}
BREAKDOWNS = {"segment", "owner", "feature", "month", "week"}
ME = {"me", "mine", "my accounts", "my book", "my customers"}
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_HEALTH = re.compile(r"^(?:how(?:'s| is| are)|hows)\s+(?P<who>.+?)\s+(?:doing|going|looking)$", re.I)
_HEALTH_OF = re.compile(r"^(?:what(?:'s| is)\s+)?(?:the\s+)?health\s+(?:score\s+)?(?:of|for)\s+(?P<who>.+)$", re.I)
_AT_RISK = re.compile(r"^(?:who(?:'s| is| are)|which\s+(?:customers|accounts)\s+are|what\s+is|"
                      r"any(?:one|\s+customers|\s+accounts)?)\s+at[- ]risk(?P<rest>.*)$", re.I)
EXAMPLES = ("/health ACCOUNT", "/atrisk", "/kpi list", "/nps last-quarter", "/mrr this-month", "/churn last-quarter")


@dataclass(frozen=True)
class Understood:
    """`command` to answer, or None with `suggestions` (commands to offer as buttons)."""

    command: str | None
    suggestions: tuple[str, ...] = ()


def known_segments(conn: Connection) -> set[str]:
    """Segment names in the store, lower-cased."""
    rows = conn.execute(select(Account.segment).where(Account.segment.is_not(None)).distinct())
    return {r[0].lower() for r in rows if r[0]}


def clean(text: str) -> str:
    """Without mentions of the bot, curly quotes, surrounding spaces and trailing ?!. punctuation."""
    text = _MENTION.sub(" ", text).replace("’", "'").replace("‘", "'")
    return re.sub(r"\s+", " ", text).strip().rstrip("?!.").strip()


def _kpi_at(words: list[str], i: int) -> tuple[str, int] | None:
    """(KPI id, words used) when a KPI is named at `i`: its id, an alias, or its full name."""
    names = {k.name.lower(): k.id for k in catalog().all()}
    for length in (4, 3, 2):
        phrase = " ".join(words[i:i + length]).lower()
        if phrase in names:
            return names[phrase], length
    word = words[i].lower().rstrip(",")
    if word in catalog() and word not in FILLER:
        return catalog().get(word).id, 1
    return None


def _period_at(words: list[str], i: int) -> int:
    """How many words from `i` make a period (0: none)."""
    for length in range(min(_MAX_PHRASE_WORDS, len(words) - i), 0, -1):
        if _match(" ".join(words[i:i + length])) is not None:
            return length
    return 0


def _target(words: list[str], segments: set[str]) -> list[str]:
    """The words after "for"/"in": a known segment, my own accounts, or an account."""
    phrase = " ".join(words)
    low = phrase.lower()
    if low in segments:
        return [f"segment:{phrase}"]
    if low in ME:
        return ["mine"]
    return [f'"{phrase}"'] if " " in phrase else [phrase]


def _scope_words(words: list[str], segments: set[str]) -> list[str] | None:
    """Period, scope and breakdown words of a KPI question in command order; None when a word is not
    understood (it would be a guess)."""
    period: list[str] = []
    breakdown: list[str] = []
    scope: list[str] = []
    target: list[str] | None = None
    i = 0
    while i < len(words):
        low = words[i].lower()
        if n := _period_at(words, i):
            period = words[i:i + n]
            i += n
        elif low == "by" and i + 1 < len(words) and words[i + 1].lower() in BREAKDOWNS:
            breakdown = ["by", words[i + 1].lower()]
            i += 2
        elif low in PREPOSITIONS and i + 1 < len(words) and _period_at(words, i + 1):
            i += 1  # "in Q3 2026", "for last quarter": the period follows
        elif low in PREPOSITIONS and target is None and i + 1 < len(words):
            j = i + 1
            while j < len(words) and not _period_at(words, j) and words[j].lower() != "by" and not (
                    words[j].lower() in PREPOSITIONS and j + 1 < len(words) and _period_at(words, j + 1)):
                j += 1
            target = _target(words[i + 1:j], segments)
            i = j
        elif ":" in low or low in {"mine"}:
            scope.append(words[i])
            i += 1
        elif low in FILLER:
            i += 1
        else:
            return None
    return [*period, *scope, *(target or []), *breakdown]


def understand(text: str, segments: Iterable[str] = ()) -> Understood:
    """The command a question maps to, or the closest commands (see the module docstring)."""
    segs = {s.lower() for s in segments}
    said = clean(text)
    if not said:
        return Understood(None, EXAMPLES[:MAX_SUGGESTIONS])
    words = said.split()
    head = words[0].lstrip("/").lower()
    if said.startswith("/"):
        return Understood(said) if head in COMMANDS else Understood(None, suggest(said))
    if m := _HEALTH.match(said) or _HEALTH_OF.match(said):
        who = m.group("who")
        return Understood(f"/health {'mine' if who.lower() in ME | {'my accounts'} else who}")
    if m := _AT_RISK.match(said):
        rest = _scope_words(m.group("rest").split(), segs)
        if rest is not None:
            return Understood(" ".join(["/atrisk", *rest]).strip())
    for i in range(len(words)):
        if words[i].lower() in FILLER:
            continue
        found = _kpi_at(words, i)
        if found is None:
            break  # the first word that is neither filler nor a KPI: not a KPI question
        kpi, used = found
        rest = _scope_words(words[:i] + words[i + used:], segs)
        if rest is None:
            break
        command = f"/{kpi}" if kpi in SHORTCUTS else f"/kpi {kpi}"
        return Understood(" ".join([command, *rest]))
    if head in COMMANDS:  # the command language without the slash: "health acme", "nps acme"
        return Understood("/" + said)
    if head in catalog():
        return Understood("/kpi " + said)
    return Understood(None, suggest(said))


def suggest(said: str) -> tuple[str, ...]:
    """The commands closest to what was said: KPIs named like its words first, then the common commands."""
    ids = {k.id: k.id for k in catalog().all()}
    for k in catalog().all():
        for alias in k.aliases:
            ids[alias] = k.id
    found: list[str] = []
    for word in said.lower().replace("?", " ").split():
        if word in FILLER or word in PREPOSITIONS or len(word) < 3:
            continue
        for close in difflib.get_close_matches(word, list(ids), n=1, cutoff=0.6):
            kpi = ids[close]
            command = f"/{kpi}" if kpi in SHORTCUTS else f"/kpi {kpi}"
            if command not in found:
                found.append(command)
    if "risk" in said.lower() and "/atrisk" not in found:
        found.append("/atrisk")
    for example in ("/kpi list", "/atrisk", "/health"):
        if example not in found:
            found.append(example)
    return tuple(found[:MAX_SUGGESTIONS])
