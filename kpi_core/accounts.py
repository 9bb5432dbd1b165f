"""Finding the account a person means: exact id, exact name, part of a name, then a typo-tolerant match."""

from __future__ import annotations

import difflib

from sqlalchemy import Connection, func, select

from kpi_core.types import AccountRef, AmbiguousAccountError, UnknownAccountError
from storage.models import Account

MAX_CANDIDATES = 5
FUZZY_CUTOFF = 0.75
CLEAR_LEAD = 0.08


def _refs(rows) -> list[AccountRef]:
    return [AccountRef(r.account_id, r.name) for r in rows]


def _one_or_ambiguous(text: str, found: list[AccountRef]) -> AccountRef | None:
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise AmbiguousAccountError(text, found[:MAX_CANDIDATES])
    return None


def _similarity(query: str, name: str) -> float:
    """How close `query` is to `name` or to its leading words (so 'acme crop' still finds 'Acme Corp')."""
    name = name.casefold()
    scores = [difflib.SequenceMatcher(None, query, name).ratio()]
    words = name.split()
    for n in range(1, len(words) + 1):
        scores.append(difflib.SequenceMatcher(None, query, " ".join(words[:n])).ratio())
    return max(scores)


def find_account(conn: Connection, text: str) -> AccountRef:
    """The one account `text` names; AmbiguousAccountError lists close candidates, UnknownAccountError none."""
    text = text.strip()
    query = text.casefold()
    if not query:
        raise UnknownAccountError(text)
    by_id = conn.execute(select(Account.account_id, Account.name).where(Account.account_id == text)).all()
    if by_id:
        return _refs(by_id)[0]
    lowered = func.lower(Account.name)
    for condition in (lowered == query, lowered.startswith(query, autoescape=True),
                      lowered.contains(query, autoescape=True)):
        rows = conn.execute(
            select(Account.account_id, Account.name).where(condition).order_by(Account.name).limit(10)
        ).all()
        if (found := _one_or_ambiguous(text, _refs(rows))) is not None:
            return found
    return _fuzzy(conn, text, query)


def _fuzzy(conn: Connection, text: str, query: str) -> AccountRef:
    """Typo-tolerant fallback: names whose similarity clears the cutoff; a clear winner or a question."""
    scored: list[tuple[float, AccountRef]] = []
    for row in conn.execute(select(Account.account_id, Account.name)):
        score = _similarity(query, row.name)
        if score >= FUZZY_CUTOFF:
            scored.append((score, AccountRef(row.account_id, row.name)))
    if not scored:
        raise UnknownAccountError(text)
    scored.sort(key=lambda item: (-item[0], item[1].name))
    if len(scored) == 1 or scored[0][0] - scored[1][0] >= CLEAR_LEAD:
        return scored[0][1]
    raise AmbiguousAccountError(text, [ref for _, ref in scored[:MAX_CANDIDATES]])
