"""Finding the account a person means: exact id, exact name, part of a name, then a typo-tolerant match
(rapidfuzz, with capped lengths, so hostile text costs milliseconds)."""

from __future__ import annotations

from rapidfuzz import fuzz, process
from sqlalchemy import Connection, func, select

from kpi_core.types import AccountRef, AmbiguousAccountError, UnknownAccountError
from storage.models import Account

MAX_CANDIDATES = 5
FUZZY_CUTOFF = 0.75
CLEAR_LEAD = 0.08
MAX_MATCH_CHARS = 100  # longer queries are not typo-matched; longer names are compared by their start
MAX_MATCH_WORDS = 8


def _refs(rows) -> list[AccountRef]:
    return [AccountRef(r.account_id, r.name) for r in rows]


def _one_or_ambiguous(text: str, found: list[AccountRef]) -> AccountRef | None:
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise AmbiguousAccountError(text, found[:MAX_CANDIDATES])
    return None


def _choices(names: list[str], query: str) -> tuple[list[str], list[int]]:
    """What a query is compared with, casefolded and capped: each name, and its leading words in about as many
    words as the query (so 'acme crop' still finds 'Acme Corp' and 'acme' finds 'Acme Corporation International');
    with the index of the name each choice belongs to."""
    capped = [name.casefold()[:MAX_MATCH_CHARS] for name in names]
    choices, owners = list(capped), list(range(len(capped)))
    words = len(query.split())
    for n in range(max(1, words - 1), min(MAX_MATCH_WORDS, words + 1) + 1):
        for i, name in enumerate(capped):
            parts = name.split(maxsplit=n)
            if len(parts) > n:
                choices.append(" ".join(parts[:n]))
                owners.append(i)
    return choices, owners


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
    """Typo-tolerant fallback (rapidfuzz, bounded): names whose similarity clears the cutoff; a clear winner or
    a question. A query longer than any name we compare with cannot be a typo of one: it matches nothing."""
    if len(query) > MAX_MATCH_CHARS:
        raise UnknownAccountError(text)
    refs = [AccountRef(r.account_id, r.name) for r in conn.execute(select(Account.account_id, Account.name)).all()]
    choices, owners = _choices([r.name for r in refs], query)
    best: dict[int, float] = {}
    for _choice, score, index in process.extract(query, choices, scorer=fuzz.ratio, limit=None,
                                                 score_cutoff=FUZZY_CUTOFF * 100):
        owner = owners[index]
        best[owner] = max(best.get(owner, 0.0), score / 100)
    scored = [(score, refs[i]) for i, score in best.items()]
    if not scored:
        raise UnknownAccountError(text)
    scored.sort(key=lambda item: (-item[0], item[1].name))
    if len(scored) == 1 or scored[0][0] - scored[1][0] >= CLEAR_LEAD:
        return scored[0][1]
    raise AmbiguousAccountError(text, [ref for _, ref in scored[:MAX_CANDIDATES]])
