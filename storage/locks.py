"""The few SQL statements the bot's process plumbing needs (health check, the scheduler's leader lock).

Kept here so that `bot/` holds no SQL: the leader lock is a Postgres session-level advisory lock keyed by
the store's schema, so two csbot stores in one database never block each other.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

__all__ = ["current_schema", "ping", "try_advisory_lock"]


def ping(conn: Connection) -> None:
    """A round trip to the database (raises when it does not answer)."""
    conn.execute(text("SELECT 1"))


def current_schema(conn: Connection) -> str:
    """The schema this connection works in (`public` when the server names none)."""
    return conn.execute(text("SELECT current_schema()")).scalar() or "public"


def try_advisory_lock(conn: Connection, lock_class: int, key: int) -> bool:
    """Take the session-level advisory lock (lock_class, key) if free; held until the session ends."""
    return bool(conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": lock_class, "b": key}).scalar())
