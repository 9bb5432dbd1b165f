"""Health of every account as of a date, kept in the store and re-scored account by account (issue 10).

`scored_all` answers from `health_scorings` (storage/scorings.py): rows whose token is the rollups' and whose
account has no recorded change since they were scored are read back; every other account (new, changed, or
all of them the first time or after a rollup rebuild) is scored with the usual queries and its row upserted.
So the first question of a (settings, as_of) scores everyone once, and each later one, in any process or
replica, costs reading the stored rows plus scoring the accounts written since (storage/account_changes.py).
The result is exactly what scoring everyone now gives: each account's health depends only on its own rows,
the date, the settings (all in the key) and, for past dates, whether any account has a time-to-value date
(in the key too).

A connection holding uncommitted writes is scored directly and nothing is stored (its data may roll back).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from kpi_core.config import KpiConfig
from kpi_core.health import AccountHealth, ComponentScore, _score, renewal_known
from kpi_core.types import AccountRef
from storage.models import Account
from storage.rollups import RollupStamp
from storage.scorings import account_order, changed_since, has_uncommitted_writes, store, stored_bodies, to_score

log = logging.getLogger(__name__)

_CODE = hashlib.sha1(b"".join(
    (Path(__file__).parent / name).read_bytes() for name in ("health.py", "stored_health.py", "config.py")
)).hexdigest()
"""Scoring code fingerprint: a csbot upgrade that changes how health is scored never reads older rows."""


def settings_key(config: KpiConfig, as_of: dt.date, today: dt.date | None, ttv_in_store: bool) -> str:
    """Digest of everything besides an account's own rows that its health depends on."""
    known = renewal_known(as_of, today)
    parts = repr((_CODE, repr(config), known, ttv_in_store if not known else None))
    return hashlib.sha1(parts.encode()).hexdigest()


def encode(h: AccountHealth) -> str:
    """An account's health (without trend) as compact JSON."""
    return json.dumps([
        h.account.id, h.account.name, h.owner, h.segment, h.score, h.band,
        [[c.name, c.score, c.weight, c.detail, c.facts] for c in h.components],
        h.missing, h.drivers, h.status, h.left_out, h.status_note,
    ], separators=(",", ":"))


def decode(body: str, as_of: dt.date) -> AccountHealth:
    a, name, owner, segment, score, band, comps, missing, drivers, status, left_out, note = json.loads(body)
    return AccountHealth(
        AccountRef(a, name), owner, segment, as_of, score, band,
        tuple(ComponentScore(*c) for c in comps), tuple(missing), tuple(drivers),
        (), status, tuple(left_out), note,
    )


def _ttv_in_store(conn: Connection, as_of: dt.date) -> bool:
    found = select(Account.account_id).where(Account.first_value_at <= as_of).limit(1)
    return conn.execute(found).first() is not None


FULL_SHARE = 0.3
"""Above this share of the accounts to score, everyone is scored (one plan for all beats a long id list)."""


@dataclass
class _Live:
    """One process's current copy of a (settings, as_of, token) scoring: as of data version `version`."""

    version: int
    order: list[str]
    health: dict[str, AccountHealth]

    def result(self) -> list[AccountHealth]:
        return [self.health[a] for a in self.order if a in self.health]


_LIVE: OrderedDict[tuple, _Live] = OrderedDict()
_LIVE_MAX = 8
_LOCK = threading.Lock()


def forget() -> None:
    """Drop this process's copies (the next scoring reads the store back, as a new process would)."""
    with _LOCK:
        _LIVE.clear()


def _rescore(conn: Connection, as_of: dt.date, config: KpiConfig, stamp: RollupStamp, today: dt.date | None,
             key: str, ids: list[str], accounts: int, new_set: bool) -> dict[str, AccountHealth]:
    """Score `ids` (everyone when they are most of the `accounts`) and store the rows; by account id."""
    if not ids:
        return {}
    fresh = _score(conn, as_of, config, [], today, None if len(ids) > FULL_SHARE * accounts else ids)
    try:
        store(conn.engine, key, as_of, stamp.token, stamp.version, [(h.account.id, encode(h)) for h in fresh],
              new_set)
    except SQLAlchemyError as exc:  # storing is an optimisation: the answer stands, the next one re-scores
        log.warning("health scoring of %s not stored (%s); it will be scored again", as_of, type(exc).__name__)
    return {h.account.id: h for h in fresh}


def scored_all(conn: Connection, as_of: dt.date, config: KpiConfig, stamp: RollupStamp,
               today: dt.date | None = None) -> list[AccountHealth]:
    """Health as of `as_of` of every account in the store, ordered by account id (see the module doc).

    `stamp`: the rollups' stamp read (and brought up to date) before this call. A process keeps its copy and
    brings it up to date with the accounts changed since (their stored rows when another process stored them).
    """
    if has_uncommitted_writes(conn):
        return _score(conn, as_of, config, [], today)
    ttv = not renewal_known(as_of, today) and _ttv_in_store(conn, as_of)
    key = settings_key(config, as_of, today, ttv)
    ident = (key, as_of, stamp.token)
    with _LOCK:
        live = _LIVE.get(ident)
    if live is not None and live.version == stamp.version:
        return live.result()
    if live is None:
        stale = to_score(conn, key, as_of, stamp.token)
        rows = stored_bodies(conn, key, as_of, stamp.token)
        fresh = _rescore(conn, as_of, config, stamp, today, key, stale, len(rows), new_set=True)
        health = {a: fresh.get(a) or decode(body, as_of) for a, body in rows if a in fresh or body is not None}
        live = _Live(stamp.version, [a for a, _ in rows], health)
    else:
        changed = changed_since(conn, key, as_of, stamp.token, live.version)
        stale = [c.account_id for c in changed if c.exists and c.stale]
        fresh = _rescore(conn, as_of, config, stamp, today, key, stale, len(live.order), new_set=False)
        health = dict(live.health)
        for c in changed:
            health.pop(c.account_id, None)
            if c.exists and not c.stale:  # another process scored it since: its stored row is current
                health[c.account_id] = decode(c.body, as_of)
        health.update(fresh)
        added = any(a not in live.health for a in health)
        order = account_order(conn) if added else live.order
        live = _Live(stamp.version, order, health)
    with _LOCK:
        _LIVE[ident] = live
        _LIVE.move_to_end(ident)
        while len(_LIVE) > _LIVE_MAX:
            _LIVE.popitem(last=False)
    return live.result()
