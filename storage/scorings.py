"""Stored health scorings (table `health_scorings`): rows of (settings, as_of, account) with the JSON body of the
account's health, the rollup token it was scored under and the data version read before scoring.

A row is current when its token is the rollups' token and its account has no change (`account_changes`) after
its version. kpi_core/stored_health.py decides what to score; this module only reads and writes rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, delete, func, or_, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import Account, account_changes, health_scorings
from storage.rollups import _caller_has_writes

MAX_SETS = 16
"""(settings, as_of) scorings kept; the least recently written are dropped beyond this (a 10k-account set is
about 15 MB)."""

_s = health_scorings.c


def _current_row(settings: str, as_of: dt.date, token: str):
    return and_(_s.settings == settings, _s.as_of == as_of, _s.account_id == Account.account_id, _s.token == token)


def to_score(conn: Connection, settings: str, as_of: dt.date, token: str,
             among: Sequence[str] | None = None) -> list[str]:
    """Ids of accounts (of `among`, when given) whose stored row is missing, of another token, or older than a
    change of the account."""
    change = account_changes.c
    query = (
        select(Account.account_id)
        .outerjoin(health_scorings, _current_row(settings, as_of, token))
        .outerjoin(account_changes, change.account_id == Account.account_id)
        .where(or_(_s.account_id.is_(None), change.version > _s.version))
    )
    if among is not None:
        query = query.where(Account.account_id.in_(among))
    return list(conn.scalars(query))


@dataclass(frozen=True)
class Changed:
    """An account written after a given data version, as the store has it now."""

    account_id: str
    exists: bool  # False: deleted since
    stale: bool  # its stored row (of the settings, date and token asked) is missing or older than the write
    body: str | None  # the stored row's body when it is current


def changed_since(conn: Connection, settings: str, as_of: dt.date, token: str, version: int) -> list[Changed]:
    """Every account written after data version `version`, with its stored row when current (one statement)."""
    change = account_changes.c
    query = (
        select(change.account_id, change.version.label("changed"), Account.account_id.label("existing"), _s.body,
               _s.version)
        .outerjoin(Account, Account.account_id == change.account_id)
        .outerjoin(health_scorings, and_(_s.settings == settings, _s.as_of == as_of, _s.token == token,
                                         _s.account_id == change.account_id))
        .where(change.version > version)
    )
    out = []
    for r in conn.execute(query):
        current = r.body is not None and r.version >= r.changed
        out.append(Changed(r.account_id, r.existing is not None, not current, r.body if current else None))
    return out


def stored_bodies(conn: Connection, settings: str, as_of: dt.date, token: str,
                  among: Sequence[str] | None = None) -> list[tuple[str, str | None]]:
    """(account id, stored body or None) of every account (of `among`, when given), ordered by account id in the
    database's collation. Stale rows are included: the caller replaces them with what it scores anew."""
    query = (
        select(Account.account_id, _s.body)
        .outerjoin(health_scorings, _current_row(settings, as_of, token))
        .order_by(Account.account_id)
    )
    if among is not None:
        query = query.where(Account.account_id.in_(among))
    return [(r.account_id, r.body) for r in conn.execute(query)]


def account_order(conn: Connection) -> list[str]:
    """Every account id, ordered in the database's collation."""
    return list(conn.scalars(select(Account.account_id).order_by(Account.account_id)))


def store(engine: Engine, settings: str, as_of: dt.date, token: str, version: int,
          bodies: Sequence[tuple[str, str]], new_set: bool = True) -> None:
    """Upsert (account id, body) rows of (settings, as_of) at `version`; with `new_set` (rows of a set this
    process did not have yet), then drop the least recently written sets beyond MAX_SETS."""
    if not bodies:
        return
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [{"settings": settings, "as_of": as_of, "account_id": a, "token": token, "version": version,
             "written_at": now, "body": b} for a, b in bodies]
    with engine.begin() as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(health_scorings)
        stmt = stmt.on_conflict_do_update(
            index_elements=["settings", "as_of", "account_id"],
            set_={c: stmt.excluded[c] for c in ("token", "version", "written_at", "body")},
        )
        conn.execute(stmt, rows)
        if new_set:
            _prune(conn)


def _prune(conn: Connection) -> None:
    sets = select(_s.settings, _s.as_of, func.max(_s.written_at).label("w")).group_by(_s.settings, _s.as_of)
    old = [(r.settings, r.as_of) for r in conn.execute(sets.order_by(text("w DESC")).offset(MAX_SETS))]
    if old:
        conn.execute(delete(health_scorings).where(tuple_(_s.settings, _s.as_of).in_(old)))


def has_uncommitted_writes(conn: Connection) -> bool:
    """Whether `conn`'s transaction has written anything not yet committed (such data must not be stored)."""
    if conn.dialect.name == "sqlite":
        return _caller_has_writes(conn)
    return bool(conn.scalar(text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")))
