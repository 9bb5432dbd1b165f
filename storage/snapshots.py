"""Health snapshots: each customer's score, band, components and fired risk rules, one row per account and day.

A day's snapshot is written exactly once: `write_snapshots` inserts every row of the day in one transaction and
does nothing when the day already has rows (and when another process wrote them first, the primary key
(snapshot_date, account_id) rejects the second writer's whole transaction). Rows are never updated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from storage.models import Account, HealthSnapshot

COMPONENT_COLUMNS = ("engagement", "sentiment", "support", "revenue", "lifecycle")
SOURCES = ("daily", "backfill")


@dataclass(frozen=True)
class SnapshotRow:
    """One account's health on one day, as stored."""

    snapshot_date: dt.date
    account_id: str
    score: float | None
    band: str | None
    components: dict[str, float | None] = field(default_factory=dict)
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class SnapshotPair:
    """A stored snapshot with what the backtest needs of its account: segment and churn date (today's values)."""

    row: SnapshotRow
    segment: str | None
    churned_at: dt.date | None
    renewal_date: dt.date | None


def _to_row(r) -> SnapshotRow:
    return SnapshotRow(
        r.snapshot_date, r.account_id, r.score, r.band,
        {c: getattr(r, c) for c in COMPONENT_COLUMNS},
        tuple(x for x in (r.rules or "").split(",") if x),
    )


def has_snapshot(conn: Connection, day: dt.date) -> bool:
    return conn.execute(
        select(HealthSnapshot.account_id).where(HealthSnapshot.snapshot_date == day).limit(1)
    ).first() is not None


def write_snapshots(engine: Engine, day: dt.date, rows: Sequence[SnapshotRow], source: str,
                    now: dt.datetime | None = None) -> bool:
    """Store the snapshot of `day` unless it exists already; True when this call wrote it.

    All rows in one transaction; an empty list still counts as nothing to write (False).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    if not rows:
        return False
    created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
    values = [
        {"snapshot_date": day, "account_id": r.account_id, "score": r.score, "band": r.band,
         **{c: r.components.get(c) for c in COMPONENT_COLUMNS}, "rules": ",".join(r.rules),
         "source": source, "created_at": created}
        for r in rows
    ]
    try:
        with engine.begin() as conn:
            if has_snapshot(conn, day):
                return False
            conn.execute(insert(HealthSnapshot), values)
    except IntegrityError:
        return False  # another process wrote this day first
    return True


def stored_scores(conn: Connection, account_id: str, days: Iterable[dt.date]) -> dict[dt.date, float | None]:
    """Score of one account on each of `days` that has a stored row for it."""
    days = list(days)
    if not days:
        return {}
    rows = conn.execute(
        select(HealthSnapshot.snapshot_date, HealthSnapshot.score).where(
            HealthSnapshot.account_id == account_id, HealthSnapshot.snapshot_date.in_(days))
    )
    return {r.snapshot_date: r.score for r in rows}


def snapshot_of(conn: Connection, day: dt.date, account_ids=None) -> dict[str, SnapshotRow]:
    """The stored rows of `day` by account id (only `account_ids` when given: a list or a SELECT of ids)."""
    query = select(HealthSnapshot).where(HealthSnapshot.snapshot_date == day)
    if account_ids is not None:
        query = query.where(HealthSnapshot.account_id.in_(account_ids))
    return {r.account_id: _to_row(r) for r in conn.execute(query)}


def snapshot_pairs(conn: Connection, days: Sequence[dt.date]) -> list[SnapshotPair]:
    """Every stored row of `days`, with its account's segment, churn and renewal dates, by day then account."""
    if not days:
        return []
    query = (
        select(HealthSnapshot, Account.segment, Account.churned_at, Account.renewal_date)
        .join(Account, Account.account_id == HealthSnapshot.account_id)
        .where(HealthSnapshot.snapshot_date.in_(list(days)))
        .order_by(HealthSnapshot.snapshot_date, HealthSnapshot.account_id)
    )
    out = []
    for r in conn.execute(query):
        out.append(SnapshotPair(_to_row(r), r.segment, r.churned_at, r.renewal_date))
    return out


def dismissed_alerts(conn: Connection) -> list[tuple[str, dt.date]]:
    """(account id, UTC date it was marked) of every churn-risk alert people marked "Not a risk"."""
    from storage.models import RiskAlert

    rows = conn.execute(
        select(RiskAlert.account_id, RiskAlert.acted_at, RiskAlert.last_seen).where(RiskAlert.state == "dismissed")
    )
    return [(r.account_id, r.acted_at.date() if r.acted_at else r.last_seen) for r in rows]


def churn_dates(conn: Connection, account_ids: Iterable[str]) -> dict[str, dt.date | None]:
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    rows = conn.execute(select(Account.account_id, Account.churned_at).where(Account.account_id.in_(ids)))
    return {r.account_id: r.churned_at for r in rows}
