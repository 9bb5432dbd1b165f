"""The one place scope values are resolved: `segment:`, `owner:` and `feature:` against the values in the store.

- A value matches the stored one case-insensitively (`segment:Enterprise` finds `enterprise`); the stored
  spelling is what the query filters on.
- A value nobody has is a user error listing the known values, closest first.
- `known_values(conn, dimension)` lists the values with how many accounts have each (`/kpi segments`...).
- `period_typo(text)` tells when a word meant as a period was misspelt (`lst-quarter` -> `last-quarter`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, distinct, func, select

from kpi_core.types import AccountRef, Scope, UnknownAccountError, UserError
from storage.models import Account, UsageEvent

DIMENSIONS = ("segment", "owner", "feature")
PLURALS = {"segment": "segments", "owner": "owners", "feature": "features"}
EXAMPLES = {"segment": "segment:enterprise", "owner": "owner:@jane", "feature": "feature:api"}
LISTED = 12  # known values spelled out in an error; the rest are counted
PERIOD_TYPO_CUTOFF = 0.75

PERIOD_WORDS = (
    "today", "yesterday", "this-week", "last-week", "this-month", "last-month", "this-quarter", "last-quarter",
    "this-year", "last-year", "ytd", "last-7d", "last-30d", "last-90d", "january", "february", "march", "april",
    "june", "july", "august", "september", "october", "november", "december",
)


@dataclass(frozen=True)
class ValueCount:
    """One value of a dimension and the number of accounts that have it (for features: accounts using it)."""

    value: str
    accounts: int


class UnknownScopeValueError(UserError):
    def __init__(self, dimension: str, typed: str, known: list[str]):
        self.dimension = dimension
        self.typed = typed
        self.known = known
        plural = PLURALS[dimension]
        where = f"`/kpi {plural}` lists them with their account counts"
        shown = ", ".join(_show(dimension, v) for v in known[:LISTED])
        more = f" and {len(known) - LISTED} more" if len(known) > LISTED else ""
        if dimension == "owner":
            message = f"{_show('owner', typed)} owns no account, so there is nothing to narrow to."
        else:
            message = f"No {dimension} '{typed}'."
        if known:
            message += f" Known {plural}: {shown}{more} ({where})."
        else:
            message += f" The store has no {plural} at all ({where})."
        super().__init__(message)


def _show(dimension: str, value: str) -> str:
    return f"@{value}" if dimension == "owner" else value


def closest_first(typed: str, values: list[str]) -> list[str]:
    """`values` sorted by similarity to `typed` (most similar first, then alphabetically)."""
    query = typed.casefold()

    def score(value: str) -> float:
        return difflib.SequenceMatcher(None, query, value.casefold()).ratio()

    return sorted(values, key=lambda v: (-score(v), v.casefold()))


def _dimension_query(dimension: str):
    """SELECT (value, accounts) for one dimension, grouped by value, NULL and blank values left out."""
    if dimension == "segment":
        column = Account.segment
        return select(column.label("value"), func.count().label("accounts")).where(
            column.is_not(None), column != "").group_by(column)
    if dimension == "owner":
        column = Account.owner_slack_id
        return select(column.label("value"), func.count().label("accounts")).where(
            column.is_not(None), column != "").group_by(column)
    if dimension == "feature":
        column = UsageEvent.feature
        return select(column.label("value"), func.count(distinct(UsageEvent.account_id)).label("accounts")).where(
            column.is_not(None), column != "").group_by(column)
    raise ValueError(f"unknown scope dimension {dimension!r}")


def known_values(conn: Connection, dimension: str) -> list[ValueCount]:
    """Every value of `dimension` in the store with its account count, most accounts first."""
    rows = conn.execute(_dimension_query(dimension)).all()
    counted = [ValueCount(str(r.value), int(r.accounts)) for r in rows]
    return sorted(counted, key=lambda v: (-v.accounts, v.value.casefold()))


_COLUMNS = {"segment": Account.segment, "owner": Account.owner_slack_id, "feature": UsageEvent.feature}


def _matches(conn: Connection, dimension: str, typed: str) -> list[str]:
    """Stored spellings equal to `typed` ignoring case (the exact spelling alone when it is stored).

    The exact test stops at the first row (indexed for segments and owners); only a value typed in another case
    scans for its spellings, and only an unknown value lists them all (with counts) for the error.
    """
    column = _COLUMNS[dimension]
    if conn.scalar(select(column).where(column == typed).limit(1)) is not None:
        return [typed]
    if dimension == "owner":  # Slack ids are exact
        return []
    found = conn.scalars(select(column).where(func.lower(column) == typed.lower()).distinct()).all()
    return sorted(v for v in found if v)


def resolve(conn: Connection, dimension: str, typed: str) -> str:
    """The stored spelling of `typed` for `dimension`; UnknownScopeValueError (closest known first) if none."""
    found = _matches(conn, dimension, typed)  # owner ids are matched as typed (upper-cased by the parser)
    if found:
        exact = [v for v in found if v == typed]
        if exact or len(found) == 1:
            return (exact or found)[0]
        raise UserError(f"'{typed}' matches several {PLURALS[dimension]} that differ only in case: "
                        f"{', '.join(found)}. Type one exactly as written.")
    known = [v.value for v in known_values(conn, dimension)]
    raise UnknownScopeValueError(dimension, typed, closest_first(typed, known))


def period_typo(words: list[str]) -> str | None:
    """The period spelling `words` most likely meant (`lst quarter` -> `last-quarter`), or None."""
    text = "-".join(w.lower() for w in words)
    if not text or len(text) < 3:
        return None
    close = difflib.get_close_matches(text, PERIOD_WORDS, n=1, cutoff=PERIOD_TYPO_CUTOFF)
    return close[0] if close else None


def period_similarity(words: list[str], period: str) -> float:
    return difflib.SequenceMatcher(None, "-".join(w.lower() for w in words), period).ratio()


def name_similarity(text: str, name: str) -> float:
    """How close `text` is to an account name or its leading words (the account side of the typo check)."""
    query, name = text.casefold(), name.casefold()
    scores = [difflib.SequenceMatcher(None, query, name).ratio()]
    words = name.split()
    for n in range(1, len(words) + 1):
        scores.append(difflib.SequenceMatcher(None, query, " ".join(words[:n])).ratio())
    return max(scores)


class PeriodTypoError(UserError):
    def __init__(self, typed: str, meant: str):
        self.typed = typed
        self.meant = meant
        super().__init__(f"'{typed}' is not a period I can read, and no account is called that. "
                         f"Did you mean `{meant}`?")


def _typo_in(words: list[str]) -> tuple[str, str] | None:
    """(typed, meant) for the whole phrase or its first misspelt word, or None."""
    candidates = [words] + ([[w] for w in words] if len(words) > 1 else [])
    for phrase in candidates:
        if meant := period_typo(phrase):
            return " ".join(phrase), meant
    return None


def raise_if_period_typo(words: list[str]) -> None:
    """PeriodTypoError when `words` (or one of them) is a misspelt period."""
    if found := _typo_in(words):
        raise PeriodTypoError(*found)


def resolve_scope_words(conn: Connection, rest: list[str], segment: str | None, owner: str | None,
                        feature: str | None, find_account: Callable[[Connection, str], AccountRef]) -> Scope:
    """A Scope from what the parser found: every value resolved against the store, or a user error.

    The words left over name an account; when they are closer to a period than to the account they would
    find (or find none), they are reported as a period typo instead.
    """
    account = None
    if rest:
        text = " ".join(rest)
        typo = _typo_in(rest)
        try:
            account = find_account(conn, text)
        except UnknownAccountError:
            if typo:
                raise PeriodTypoError(*typo) from None
            raise
        if typo and account.id != text and period_similarity(typo[0].split(), typo[1]) > name_similarity(
                typo[0], account.name):
            raise PeriodTypoError(*typo)
    return Scope(
        account,
        resolve(conn, "segment", segment) if segment else None,
        resolve(conn, "owner", owner) if owner else None,
        resolve(conn, "feature", feature) if feature else None,
    )
