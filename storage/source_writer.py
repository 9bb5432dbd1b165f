"""Write validated rows of one data-contract table, touching only the columns their producer gave.

    changes = write_table(conn, spec, present, rows, source="warehouse", whole=True)

Shared by every sync (sql, hubspot) and meant for CSV import too (import: `present` = the header's columns).
- `rows` are value lists in `spec.columns` order, as `RowPlan.parse` returns them (already validated).
- Only the columns in `present` (plus the key) are written: a new row gets NULL (or the column default)
  for the others, an existing row keeps them. So a CRM never blanks MRR and Stripe never blanks owners.
- Keyed tables are upserted on their key; rows whose written columns already hold these values are left
  alone and not counted, so a second sync with nothing new changes nothing.
- usage, whole table: the rows replace the (account_id, UTC day) slices they cover (a slice whose stored
  rows already equal the new ones is left alone). usage from `:since`: merged into the slices they cover
  (each distinct event kept max(stored, new) times), because a `:since` window holds only part of the
  slices at its edge: replacing them would delete the rows before the window.
- `whole=True` (a SELECT without `:since`): rows (usage: slices) this source wrote before and no longer
  returns are removed; rows written by import or other sources never are (storage/provenance.py).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from storage.csv_rules import FileSpec
from storage.provenance import claim_rows, owned_keys
from storage.sync_report import TableChanges

__all__ = ["write_table"]

_BATCH = 500


def write_table(
    conn: Connection,
    spec: FileSpec,
    present: Sequence[str],
    rows: list[list[Any]],
    *,
    source: str,
    whole: bool,
) -> TableChanges:
    """Write `rows` of `spec.table` (see the module doc); returns what was added, changed and removed."""
    if spec.key:
        changes = _write_keyed(conn, spec, present, rows, source, whole)
    else:
        changes = _write_usage(conn, spec, rows, source, whole)
    return changes


# --- keyed tables --------------------------------------------------------------------------------


def _write_keyed(
    conn: Connection, spec: FileSpec, present: Sequence[str], rows: list[list[Any]], source: str, whole: bool
) -> TableChanges:
    table = spec.table
    names = spec.names
    key_at = [names.index(k) for k in spec.key]
    columns = [n for n in names if n in set(present) | set(spec.key)]
    at = [names.index(n) for n in columns]
    value_columns = [n for n in columns if n not in spec.key]
    changes = TableChanges()
    to_write: list[dict[str, Any]] = []
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        keys = [tuple(r[i] for i in key_at) for r in batch]
        stored = _stored(conn, spec, columns, keys)
        for row, key in zip(batch, keys, strict=True):
            values = {n: row[i] for n, i in zip(columns, at, strict=True)}
            before = stored.get(key)
            if before is None:
                changes.added += 1
                to_write.append(values)
            elif any(not _same(before[n], values[n]) for n in value_columns):
                changes.changed += 1
                to_write.append(values)
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = module.insert(table)
    update = {n: stmt.excluded[n] for n in value_columns}
    stmt = stmt.on_conflict_do_update(index_elements=list(spec.key), set_=update) if update else (
        stmt.on_conflict_do_nothing(index_elements=list(spec.key)))
    for start in range(0, len(to_write), _BATCH):
        conn.execute(stmt, to_write[start : start + _BATCH])
    keys_now = [tuple(_key_text(r[i]) for i in key_at) for r in rows]
    if whole:
        gone = claim_rows(conn, source, spec.kind, keys_now)
        changes.removed = _delete_keys(conn, spec, gone)
    else:
        claim_rows(conn, source, spec.kind, owned_keys(conn, source, spec.kind) | set(keys_now))
    return changes


def _stored(conn: Connection, spec: FileSpec, columns: list[str], keys: list[tuple]) -> dict[tuple, dict]:
    table = spec.table
    key_cols = [table.c[k] for k in spec.key]
    where = key_cols[0].in_([k[0] for k in keys]) if len(key_cols) == 1 else tuple_(*key_cols).in_(keys)
    out: dict[tuple, dict] = {}
    for row in conn.execute(select(*[table.c[n] for n in columns]).where(where)).mappings():
        out[tuple(row[k] for k in spec.key)] = dict(row)
    return out


def _same(stored: Any, new: Any) -> bool:
    if stored is None or new is None:
        return stored is None and new is None
    return stored == new


def _key_text(value: Any) -> str:
    """A key part as provenance stores it (months and dates as ISO dates)."""
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _delete_keys(conn: Connection, spec: FileSpec, keys: list[tuple[str, ...]]) -> int:
    """Delete the rows with these (text) keys; returns how many there were."""
    table = spec.table
    removed = 0
    for start in range(0, len(keys), _BATCH):
        chunk = keys[start : start + _BATCH]
        conditions = []
        for key in chunk:
            parts = [table.c[k] == _typed(table.c[k], v) for k, v in zip(spec.key, key, strict=True)]
            conditions.append(and_(*parts))
        removed += conn.execute(delete(table).where(or_(*conditions))).rowcount or 0
    return removed


def _typed(column: Any, text: str) -> Any:
    python_type = column.type.python_type
    if python_type is dt.date:
        return dt.date.fromisoformat(text)
    return text


# --- usage: (account, UTC day) slices ------------------------------------------------------------


def _write_usage(conn: Connection, spec: FileSpec, rows: list[list[Any]], source: str, whole: bool) -> TableChanges:
    """Whole table: each slice returned replaces the stored one (unless equal); slices this source wrote
    before and no longer returns are removed. `:since` rows: merged into their slices (see `_merge`)."""
    table = spec.table
    names = spec.names
    changes = TableChanges()
    new_by_slice: dict[tuple[str, dt.date], list[tuple]] = defaultdict(list)
    for row in rows:
        values = tuple(row)
        new_by_slice[(values[0], values[2].date())].append(values)
    slices = sorted(new_by_slice)
    for start in range(0, len(slices), _BATCH):
        chunk = slices[start : start + _BATCH]
        stored = _stored_slices(conn, table, names, chunk)
        doomed: list[int] = []
        fresh: list[tuple] = []
        for piece in chunk:
            old = stored.get(piece, [])
            new = new_by_slice[piece]
            if whole:
                if Counter(r[1:] for r in old) != Counter(new):
                    doomed.extend(r[0] for r in old)
                    fresh.extend(new)
            else:
                fresh.extend(_merge(old, new))
        changes.removed += _delete_ids(conn, table, doomed)
        if fresh:
            conn.execute(insert(table), [dict(zip(names, r, strict=True)) for r in fresh])
            changes.added += len(fresh)
    slice_keys = [(account, day.isoformat()) for account, day in slices]
    if whole:
        gone = claim_rows(conn, source, "usage", slice_keys)
        changes.removed += _delete_slices(conn, table, [(a, dt.date.fromisoformat(d)) for a, d in gone])
    else:
        claim_rows(conn, source, "usage", owned_keys(conn, source, "usage") | set(slice_keys))
    return changes


def _merge(old: list[tuple], new: list[tuple]) -> list[tuple]:
    """The rows of `new` a slice still lacks: each distinct event kept as many times as the larger of its
    stored and new counts. A `:since` window re-reads part of a slice (it starts mid-day, or filters on
    load time): re-read rows are not doubled, late rows are added, and rows outside the window stay."""
    have = Counter(r[1:] for r in old)
    out: list[tuple] = []
    for event, count in Counter(new).items():
        out.extend([event] * max(0, count - have[event]))
    return out


def _stored_slices(conn: Connection, table: Any, names: tuple[str, ...],
                   chunk: list[tuple[str, dt.date]]) -> dict[tuple[str, dt.date], list[tuple]]:
    """The stored rows (id first) of the slices in `chunk`: one indexed range read per chunk."""
    wanted = set(chunk)
    accounts = sorted({a for a, _ in chunk})
    low = dt.datetime.combine(min(d for _, d in chunk), dt.time())
    high = dt.datetime.combine(max(d for _, d in chunk), dt.time()) + dt.timedelta(days=1)
    stmt = select(table.c.id, *[table.c[n] for n in names]).where(
        table.c.account_id.in_(accounts), table.c.occurred_at >= low, table.c.occurred_at < high)
    out: dict[tuple[str, dt.date], list[tuple]] = defaultdict(list)
    for row in conn.execute(stmt):
        values = tuple(row)
        piece = (values[1], values[3].date())
        if piece in wanted:
            out[piece].append(values)
    return out


def _delete_ids(conn: Connection, table: Any, ids: list[int]) -> int:
    removed = 0
    for start in range(0, len(ids), 5_000):
        removed += conn.execute(delete(table).where(table.c.id.in_(ids[start : start + 5_000]))).rowcount or 0
    return removed


def _slice_condition(table: Any, piece: tuple[str, dt.date]) -> Any:
    start = dt.datetime.combine(piece[1], dt.time())
    return and_(table.c.account_id == piece[0], table.c.occurred_at >= start,
                table.c.occurred_at < start + dt.timedelta(days=1))


def _delete_slices(conn: Connection, table: Any, pieces: list[tuple[str, dt.date]]) -> int:
    removed = 0
    for start in range(0, len(pieces), _BATCH):
        chunk = pieces[start : start + _BATCH]
        removed += conn.execute(delete(table).where(or_(*[_slice_condition(table, p) for p in chunk]))).rowcount or 0
    return removed
