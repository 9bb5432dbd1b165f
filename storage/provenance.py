"""Row provenance: which source wrote which keyed row, so a sync removes only rows it wrote itself.

A source (`stripe`, a name from the sources file) that reads a whole table calls `claim_rows` with the
keys of every row it returns, inside the transaction that writes them. The keys it had claimed before
and returns no longer are handed back: the caller deletes those rows and nothing else. Rows written by
CSV import or by another source are never claimed by this source, so they are never removed by it.

    gone = claim_rows(conn, "stripe", "invoices", [("in_1",), ("in_2",)])   # -> [("in_0",)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, delete, insert, select

from storage.models import SourceRow

__all__ = ["KEY_SEPARATOR", "claim_rows", "owned_keys", "release_rows", "row_key"]

KEY_SEPARATOR = "\x1f"
"""Joins the parts of a composite natural key (a character no id or date contains)."""

_BATCH = 5_000


def row_key(parts: Sequence[object]) -> str:
    """The stored form of a natural key: its parts as text, joined by KEY_SEPARATOR."""
    return KEY_SEPARATOR.join(str(part) for part in parts)


def _parts(key: str) -> tuple[str, ...]:
    return tuple(key.split(KEY_SEPARATOR))


def owned_keys(conn: Connection, source: str, table: str) -> set[tuple[str, ...]]:
    """The natural keys (as text parts) of the rows of `table` that `source` wrote and still owns."""
    stmt = select(SourceRow.row_key).where(SourceRow.source == source, SourceRow.table_name == table)
    return {_parts(key) for key in conn.scalars(stmt)}


def claim_rows(
    conn: Connection, source: str, table: str, keys: Iterable[Sequence[object]]
) -> list[tuple[str, ...]]:
    """Record that `source` now provides exactly `keys` of `table`; return the keys it no longer provides.

    The returned keys are released (no longer owned by `source`); deleting their rows is the caller's job.
    """
    current = {row_key(k) for k in keys}
    before = set(conn.scalars(
        select(SourceRow.row_key).where(SourceRow.source == source, SourceRow.table_name == table)
    ))
    gone = sorted(before - current)
    added = sorted(current - before)
    _delete_keys(conn, source, table, gone)
    for start in range(0, len(added), _BATCH):
        conn.execute(
            insert(SourceRow),
            [{"source": source, "table_name": table, "row_key": k} for k in added[start : start + _BATCH]],
        )
    return [_parts(k) for k in gone]


def release_rows(conn: Connection, source: str, table: str, keys: Iterable[Sequence[object]]) -> None:
    """Forget that `source` wrote these rows of `table` (e.g. when they were deleted)."""
    _delete_keys(conn, source, table, [row_key(k) for k in keys])


def _delete_keys(conn: Connection, source: str, table: str, keys: list[str]) -> None:
    for start in range(0, len(keys), _BATCH):
        conn.execute(
            delete(SourceRow).where(
                SourceRow.source == source,
                SourceRow.table_name == table,
                SourceRow.row_key.in_(keys[start : start + _BATCH]),
            )
        )
