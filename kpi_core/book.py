"""A CSM's book of business and a lead's team view, for the App Home; scored by the one health function.

Book: the customers (on `as_of`) a person owns, each with health score and band, the 4-week trend of the
score, MRR of `as_of`'s month, and the upcoming renewal; worst first. Team view: per owner, customers per
band and the MRR of their customers at risk (any churn-risk rule fired, as `/atrisk` says).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, select

from kpi_core.config import KpiConfig
from kpi_core.health import BANDS, AccountHealth, score_accounts, score_where
from kpi_core.risk import at_risk
from kpi_core.types import Scope
from storage.models import Account
from storage.snapshots import has_snapshot, snapshot_of

TREND_DAYS = 28
FLAT_POINTS = 2.0
"""A score within this many points of its value 4 weeks earlier counts as flat (→)."""
RENEWAL_SOON_DAYS = 60


@dataclass(frozen=True)
class BookEntry:
    health: AccountHealth
    score_before: float | None  # the score TREND_DAYS earlier (None: no score then)
    mrr: float | None  # MRR of as_of's month (None: no revenue data)
    renewal_date: dt.date | None  # the next renewal on or after as_of

    @property
    def trend(self) -> str:
        """"up", "down", "flat", or "new" (no score 4 weeks ago, or none now)."""
        now, before = self.health.score, self.score_before
        if now is None or before is None:
            return "new"
        if now - before >= FLAT_POINTS:
            return "up"
        if before - now >= FLAT_POINTS:
            return "down"
        return "flat"

    def renews_soon(self, as_of: dt.date) -> bool:
        return self.renewal_date is not None and (self.renewal_date - as_of).days <= RENEWAL_SOON_DAYS


@dataclass(frozen=True)
class OwnerSummary:
    owner: str | None  # None: accounts without an owner
    bands: dict[str, int]  # green, yellow, red, unscored
    customers: int
    at_risk: int
    at_risk_mrr: float


def _mrr(h: AccountHealth) -> float | None:
    for c in h.components:
        if c.name == "revenue":
            value = c.facts.get("mrr_now")
            return None if value is None else float(value)
    return None


def _renewal(h: AccountHealth, as_of: dt.date) -> dt.date | None:
    for c in h.components:
        if c.name == "lifecycle" and c.facts.get("days_to_renewal") is not None:
            return as_of + dt.timedelta(days=int(c.facts["days_to_renewal"]))
    return None


def worst_first(entry: BookEntry) -> tuple:
    """Lowest score first, unscored accounts last, then by name and id."""
    score = entry.health.score
    return (score is None, score if score is not None else 0.0, entry.health.account.name.lower(),
            entry.health.account.id)


def book_of_business(conn: Connection, owner: str, as_of: dt.date, config: KpiConfig) -> list[BookEntry]:
    """The owner's customers on `as_of`, worst first.

    The score TREND_DAYS before comes from that day's stored snapshot when there is one (an account without a
    row then had no score), else from a second scoring pass.
    """
    now = score_accounts(conn, as_of, config, Scope(owner=owner))
    if not now:
        return []
    day = as_of - dt.timedelta(days=TREND_DAYS)
    if has_snapshot(conn, day):
        owned = select(Account.account_id).where(Account.owner_slack_id == owner)
        before = {account: row.score for account, row in snapshot_of(conn, day, owned).items()}
    else:
        before = {h.account.id: h.score for h in score_where(conn, day, config, [Account.owner_slack_id == owner])}
    entries = [BookEntry(h, before.get(h.account.id), _mrr(h), _renewal(h, as_of)) for h in now]
    return sorted(entries, key=worst_first)


def team_view(conn: Connection, as_of: dt.date, config: KpiConfig) -> list[OwnerSummary]:
    """Per owner (most at-risk MRR first, then most red), customers per band and at-risk MRR."""
    scored = score_accounts(conn, as_of, config)
    risky = at_risk(conn, as_of, config)
    by_owner: dict[str | None, dict] = {}
    for h in scored:
        row = by_owner.setdefault(h.owner, {"bands": dict.fromkeys((*BANDS, "unscored"), 0), "n": 0,
                                            "risk": 0, "mrr": 0.0})
        row["bands"][h.band or "unscored"] += 1
        row["n"] += 1
    for item in risky:
        row = by_owner.get(item.health.owner)
        if row is None:
            continue
        row["risk"] += 1
        row["mrr"] += _mrr(item.health) or 0.0
    out = [OwnerSummary(owner, r["bands"], r["n"], r["risk"], round(r["mrr"], 2)) for owner, r in by_owner.items()]
    return sorted(out, key=lambda s: (-s.at_risk_mrr, -s.bands["red"], s.owner is None, s.owner or ""))


def account_owner(conn: Connection, account_id: str) -> str | None:
    """The Slack user id owning an account (None: no owner, or no such account)."""
    return conn.execute(select(Account.owner_slack_id).where(Account.account_id == account_id)).scalar()
