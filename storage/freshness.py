"""Table loads: when each data-contract table was last loaded, and by what (`import` or a source name).

Written by every write path in the same transaction as the rows (`record_load`); read by freshness
reporting (`table_loads`). Table names are the data-contract ones (`accounts`, `usage`, ...).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import TableLoad

__all__ = ["Load", "record_load", "table_loads"]


@dataclass(frozen=True)
class Load:
    """The last successful load of one table by one source (`loaded_at` naive UTC)."""

    table: str
    source: str
    loaded_at: dt.datetime
    rows: int
    detail: str | None


def record_load(
    conn: Connection, *, table: str, source: str, loaded_at: dt.datetime, rows: int, detail: str | None = None
) -> None:
    """Upsert the (table, source) load record; `loaded_at` is stored as naive UTC."""
    if loaded_at.tzinfo is not None:
        loaded_at = loaded_at.astimezone(dt.UTC).replace(tzinfo=None)
    values = {"table_name": table, "source": source, "loaded_at": loaded_at, "rows": rows, "detail": detail}
    dialect = conn.dialect.name
    if dialect in {"postgresql", "sqlite"}:
        module = postgresql if dialect == "postgresql" else sqlite
        stmt = module.insert(TableLoad).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[TableLoad.table_name, TableLoad.source],
            set_={"loaded_at": loaded_at, "rows": rows, "detail": detail},
        )
        conn.execute(stmt)
        return
    done = conn.execute(
        update(TableLoad)
        .where(TableLoad.table_name == table, TableLoad.source == source)
        .values(loaded_at=loaded_at, rows=rows, detail=detail)
    )
    if not done.rowcount:
        conn.execute(TableLoad.__table__.insert().values(**values))


def table_loads(conn: Connection) -> list[Load]:
    """Every recorded load, by table then source."""
    rows = conn.execute(select(TableLoad).order_by(TableLoad.table_name, TableLoad.source))
    return [Load(r.table_name, r.source, r.loaded_at, r.rows, r.detail) for r in rows]
