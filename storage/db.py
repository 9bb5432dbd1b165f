"""Engine creation and schema upgrades (Alembic), identical on SQLite and Postgres."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect

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


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """Create an engine for `url` (see `database_url`) with the pragmas csbot relies on."""
    resolved = database_url(url)
    if resolved.startswith("sqlite"):
        engine = create_engine(resolved, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(resolved, pool_pre_ping=True, **kwargs)
    install_write_hook(engine)
    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


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
