"""Kind `sql`: run a source's SELECTs against its database, read-only (shared/spec/sources.md).

Each SELECT's rows are returned as they come (`TableRows`); validation and writing are the caller's.
A SELECT that uses `:since` reads only new rows (upserted); one without it is the whole table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from storage.db import database_url
from storage.sources_file import SourceDef
from storage.sync import TableRows
from storage.sync_report import SyncError

__all__ = ["read_sql_source", "uses_since"]


def uses_since(select: str) -> bool:
    """True when the SELECT has a `:since` parameter."""
    return "since" in text(select).compile().params


def _first_line(exc: Exception) -> str:
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else exc.__class__.__name__


def _read_only(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only = ON")
    cursor.close()


def read_sql_source(source: SourceDef, since: dt.datetime, env: Mapping[str, str],
                    reporting_tz: str = "UTC") -> list[TableRows]:
    """Run every SELECT of `source` in one read-only transaction; SyncError names what failed."""
    try:
        engine = create_engine(database_url(source.url))
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise SyncError([f"{source.name}: url: cannot use it ({_first_line(exc)}); install the database "
                         "driver or fix the URL"]) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _read_only)
    out: list[TableRows] = []
    try:
        try:
            conn = engine.connect()
        except SQLAlchemyError as exc:
            raise SyncError([f"{source.name}: cannot connect: {_first_line(exc)}"]) from None
        with conn:
            if engine.dialect.name == "postgresql":
                conn = conn.execution_options(postgresql_readonly=True)
            with conn.begin() as transaction:
                if engine.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")  # timestamptz values and :since in UTC
                for table, select in source.tables.items():
                    statement = text(select)
                    whole = not uses_since(select)
                    params = {} if whole else {"since": _since_value(engine.dialect.name, since)}
                    try:
                        result = conn.execute(statement, params)
                        columns = tuple(result.keys())
                        rows = [tuple(r) for r in result]
                    except SQLAlchemyError as exc:
                        raise SyncError([f"{source.name}:{table}: the SELECT failed: {_first_line(exc)}"]) from None
                    out.append(TableRows(table, columns, rows, whole))
                transaction.rollback()
    finally:
        engine.dispose()
    return out


def _since_value(dialect: str, since: dt.datetime) -> object:
    """`since` (naive UTC) as the database compares it best: text on SQLite, an aware time elsewhere."""
    if dialect == "sqlite":
        return since.isoformat(" ")
    return since.replace(tzinfo=dt.UTC)
