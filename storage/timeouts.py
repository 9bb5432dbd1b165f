"""Bounded database work: a statement timeout for answers, and a hung database noticed instead of waited for.

- `statement_timeout(seconds)` (a context manager) limits every statement run inside it, in this thread:
  Postgres gets `SET LOCAL statement_timeout` at the start of each transaction, SQLite a progress handler
  that interrupts a statement running past its deadline. `is_timeout(exc)` recognises the error.
- A database that accepts connections and answers nothing (hung, or a stalled network) would block a
  thread for ever: Postgres connections get libpq's `connect_timeout`, the pool a checkout timeout, a
  checkout ping under a deadline, and a watchdog that shuts the socket of a statement still unanswered
  well past its deadline (the driver then fails it as a lost connection, and the pool replaces it).
  `is_unreachable(exc)` recognises all of these, so callers can say "the database is not answering".
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, event, exc

log = logging.getLogger("csbot.storage.timeouts")

HANG_GRACE = 3.0
"""Seconds past a statement's own timeout after which the database is taken as not answering."""

_limit: contextvars.ContextVar[float | None] = contextvars.ContextVar("csbot_statement_timeout", default=None)


@contextlib.contextmanager
def statement_timeout(seconds: float | None) -> Iterator[None]:
    """Limit each statement run in this block (this thread) to `seconds`; None: no limit."""
    token = _limit.set(seconds)
    try:
        yield
    finally:
        _limit.reset(token)


def current_timeout() -> float | None:
    return _limit.get()


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, exc.DBAPIError) and current.orig is not None:
            yield current.orig
        current = current.__cause__ or current.__context__


def is_timeout(error: BaseException) -> bool:
    """A statement stopped by its statement timeout (Postgres query_canceled, SQLite interrupted)."""
    for e in _chain(error):
        if getattr(e, "sqlstate", None) == "57014":
            return True
        if isinstance(e, sqlite3.OperationalError) and "interrupted" in str(e):
            return True
    return False


def is_unreachable(error: BaseException) -> bool:
    """The database did not answer: no connection in time, or a connection lost or shut as hung."""
    if is_timeout(error):
        return False
    for e in _chain(error):
        if isinstance(e, exc.TimeoutError | exc.DisconnectionError):
            return True
        if isinstance(e, exc.DBAPIError) and e.connection_invalidated:
            return True
        if type(e).__module__.startswith("psycopg") and type(e).__name__ in {"OperationalError", "ConnectionTimeout"}:
            return True
    return False


class _Watchdog:
    """Shuts the socket of a Postgres statement (or checkout ping) still unanswered after its deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, tuple[Any, float]] = {}
        self._thread: threading.Thread | None = None

    def watch(self, dbapi_conn: Any, seconds: float) -> None:
        with self._lock:
            self._running[id(dbapi_conn)] = (dbapi_conn, time.monotonic() + seconds)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="csbot-db-watchdog", daemon=True)
                self._thread.start()

    def done(self, dbapi_conn: Any) -> None:
        with self._lock:
            self._running.pop(id(dbapi_conn), None)

    def _loop(self) -> None:
        while True:
            time.sleep(0.2)
            now = time.monotonic()
            with self._lock:
                late = [conn for conn, deadline in self._running.values() if deadline < now]
                for conn in late:
                    self._running.pop(id(conn), None)
            for conn in late:
                _shut(conn)


def _shut(dbapi_conn: Any) -> None:
    """Shut a psycopg connection's socket down: the blocked read ends with 'connection lost'."""
    try:
        fd = dbapi_conn.pgconn.socket
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()
        log.error("the database did not answer in time: dropped a hung connection")
    except Exception as error:  # already closed, or not a socket connection
        log.debug("could not shut a hung connection: %r", error)


def install(engine: Engine, *, connect_timeout: float) -> None:
    """Add statement timeouts (both engines) and hang detection (Postgres) to `engine`."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "before_cursor_execute", _sqlite_progress)
        event.listen(engine, "checkin", _sqlite_clear)
        return
    watchdog = _Watchdog()

    @event.listens_for(engine, "checkout")
    def ping(dbapi_conn, _record, _proxy) -> None:
        """The pool's pre-ping, under a deadline (SQLAlchemy's own would wait for ever on a hung server)."""
        watchdog.watch(dbapi_conn, connect_timeout)
        try:
            was_autocommit = dbapi_conn.autocommit
            dbapi_conn.autocommit = True  # as SQLAlchemy's own ping: leave no transaction open
            try:
                cursor = dbapi_conn.cursor()
                try:
                    cursor.execute("SELECT 1")
                finally:
                    cursor.close()
            finally:
                dbapi_conn.autocommit = was_autocommit
        except Exception as error:
            raise exc.DisconnectionError(f"the pooled connection did not answer: {error}") from error
        finally:
            watchdog.done(dbapi_conn)

    @event.listens_for(engine, "begin")
    def limit_transaction(conn) -> None:
        seconds = _limit.get()
        if seconds is not None:
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}")

    @event.listens_for(engine, "before_cursor_execute")
    def start(conn, _cursor, _statement, _params, _context, _many) -> None:
        seconds = _limit.get()
        if seconds is not None:
            watchdog.watch(conn.connection.dbapi_connection, seconds + HANG_GRACE)

    def finish(conn, *_args) -> None:
        watchdog.done(conn.connection.dbapi_connection)

    def failed(context) -> None:
        if context.connection is not None and context.connection.connection is not None:
            with contextlib.suppress(Exception):
                watchdog.done(context.connection.connection.dbapi_connection)

    event.listen(engine, "after_cursor_execute", finish)
    event.listen(engine, "handle_error", failed)


def _sqlite_progress(conn, _cursor, _statement, _params, _context, _many) -> None:
    dbapi_conn = conn.connection.dbapi_connection
    seconds = _limit.get()
    if seconds is None:
        dbapi_conn.set_progress_handler(None, 0)
        return
    deadline = time.monotonic() + seconds
    dbapi_conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)


def _sqlite_clear(dbapi_conn, _record) -> None:
    if dbapi_conn is not None:
        with contextlib.suppress(Exception):
            dbapi_conn.set_progress_handler(None, 0)
