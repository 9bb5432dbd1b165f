"""Engine creation and schema upgrades (Alembic), identical on SQLite and Postgres."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect

from storage import timeouts
from storage.rollups import install_write_hook

DEFAULT_DATABASE_URL = "sqlite:///csbot.db"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def database_url(explicit: str | None = None) -> str:
    """The database URL: `--db`, else CSBOT_DATABASE_URL, else the embedded SQLite file."""
    url = explicit or os.environ.get("CSBOT_DATABASE_URL") or DEFAULT_DATABASE_URL
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def connect_timeout() -> int:
    """CSBOT_DB_CONNECT_TIMEOUT (declared in bot/settings.py): seconds to wait for a database connection."""
    raw = os.environ.get("CSBOT_DB_CONNECT_TIMEOUT", "").strip() or "5"
    try:
        return max(1, int(float(raw)))
    except ValueError:
        return 5


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """Create an engine for `url` (see `database_url`) with the pragmas csbot relies on, statement timeouts
    (`storage.timeouts.statement_timeout`) and, on Postgres, bounded waits for a hung server."""
    resolved = database_url(url)
    wait = connect_timeout()
    if resolved.startswith("sqlite"):
        engine = create_engine(resolved, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        connect_args = {"connect_timeout": wait, **kwargs.pop("connect_args", {})}
        kwargs.setdefault("pool_timeout", wait)
        engine = create_engine(resolved, connect_args=connect_args, **kwargs)
    timeouts.install(engine, connect_timeout=wait)
    install_write_hook(engine)
    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest migration this code knows (what `upgrade` brings a store to)."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (creates it on an empty database)."""
    command.upgrade(alembic_config(engine), "head")


def open_store(url: str | None = None) -> Engine:
    """An engine whose schema is up to date: what every command uses."""
    engine = make_engine(url)
    upgrade(engine)
    return engine


def has_data(engine: Engine) -> bool:
    """True when the accounts table exists and holds at least one row."""
    if not inspect(engine).has_table("accounts"):
        return False
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT 1 FROM accounts LIMIT 1").first() is not None


class StoreMissingError(Exception):
    """The store a command reads does not exist (nothing was created)."""


def missing_store_message(url: str | None = None) -> str:
    from sqlalchemy.engine import make_url

    shown = make_url(database_url(url)).render_as_string(hide_password=True)
    return f"No csbot store at {shown}: run `csbot import` first, or check --db / CSBOT_DATABASE_URL."


def open_existing_store(url: str | None = None) -> Engine:
    """`open_store` for commands that only read a store: StoreMissingError when there is none, and then no
    file or schema is created (a SQLite file that does not exist is not touched at all)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(database_url(url))
    path = parsed.database or ""
    is_file = parsed.get_backend_name() == "sqlite" and path not in ("", ":memory:") and not path.startswith("file:")
    if is_file and not Path(path).exists():
        raise StoreMissingError(missing_store_message(url))
    engine = make_engine(url)
    try:
        present = inspect(engine).has_table("accounts")
    except Exception:
        engine.dispose()
        raise
    if not present:
        engine.dispose()
        raise StoreMissingError(missing_store_message(url))
    upgrade(engine)
    return engine
