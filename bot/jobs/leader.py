"""One scheduler per database: leader election so that two `csbot serve` processes never both post.

- Postgres: `pg_try_advisory_lock` on a connection of its own, kept open for as long as we lead. The lock
  belongs to that session, so a process that dies (even by SIGKILL) or loses its connection loses the lock
  at once and a standby takes over. The lock key is derived from the schema, so two csbot stores in two
  schemas of one database do not block each other.
- SQLite: an exclusive file lock on `<database file>.scheduler.lock` (released by the OS when the process
  dies). An in-memory database has no other process to compete with: always the leader.

`try_acquire` never blocks; callers retry (every 15 s in the scheduler) for fail-over.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import zlib
from typing import Protocol

from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from storage.locks import current_schema, ping, try_advisory_lock

log = logging.getLogger("csbot.leader")

LOCK_CLASS = 0x43534254  # "CSBT": the first of the two int4 keys of pg_try_advisory_lock


class Leader(Protocol):
    def try_acquire(self) -> bool:
        """Become the leader if nobody is; True when this process leads (now or already)."""

    def is_leader(self) -> bool:
        """True while the lock is still held (checks the lock's connection on Postgres)."""

    def release(self) -> None: ...

    def describe(self) -> str: ...


def _int4(value: int) -> int:
    return value - (1 << 32) if value >= (1 << 31) else value


class PostgresLeader:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._schema: str | None = None

    def describe(self) -> str:
        return f"Postgres advisory lock ({LOCK_CLASS}, schema {self._schema or 'of the connection'})"

    def try_acquire(self) -> bool:
        with self._lock:
            if self._conn is not None and self._alive():
                return True
            conn = None
            try:
                conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                self._schema = current_schema(conn)
                key = _int4(zlib.crc32(self._schema.encode()))
                got = try_advisory_lock(conn, LOCK_CLASS, key)
            except DBAPIError as exc:
                log.warning("could not try the scheduler lock: %s", exc.__class__.__name__)
                if conn is not None:
                    conn.close()
                return False
            if got:
                self._conn = conn
                return True
            conn.close()
            return False

    def _alive(self) -> bool:
        assert self._conn is not None
        try:
            ping(self._conn)
            return True
        except DBAPIError:
            log.warning("lost the connection holding the scheduler lock: no longer the leader")
            with contextlib.suppress(SQLAlchemyError):  # a dead connection may refuse even to close cleanly
                self._conn.close()
            self._conn = None
            return False

    def is_leader(self) -> bool:
        with self._lock:
            return self._conn is not None and self._alive()

    def release(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            with contextlib.suppress(SQLAlchemyError):
                self._conn.close()  # ends the session: Postgres drops its advisory locks
            self._conn = None


class FileLeader:
    def __init__(self, path: str):
        self.path = path
        self._lock = FileLock(path, thread_local=False)
        self._held = False
        self._mutex = threading.Lock()

    def describe(self) -> str:
        return f"file lock {self.path}"

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._held:
                return True
            try:
                self._lock.acquire(timeout=0)
            except Timeout:
                return False
            self._held = True
            return True

    def is_leader(self) -> bool:
        with self._mutex:
            return self._held and self._lock.is_locked

    def release(self) -> None:
        with self._mutex:
            if self._held:
                self._lock.release(force=True)
                self._held = False


class LocalLeader:
    """An in-memory SQLite store: only this process can see it, so it always leads."""

    def describe(self) -> str:
        return "in-process (in-memory database)"

    def try_acquire(self) -> bool:
        return True

    def is_leader(self) -> bool:
        return True

    def release(self) -> None:
        pass


def make_leader(engine: Engine) -> Leader:
    if engine.dialect.name == "postgresql":
        return PostgresLeader(engine)
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        return FileLeader(f"{database}.scheduler.lock")
    return LocalLeader()
