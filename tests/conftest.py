"""Shared fixtures: every test that takes `store` runs on SQLite and on Postgres.

Postgres: 127.0.0.1:5432, user postgres, database test (override with CSBOT_TEST_PG_URL).
Each test run works in a schema of its own, dropped at the end, so runs never collide.
Outside CI an unreachable Postgres skips the Postgres half; with CI=true it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from storage.db import make_engine, upgrade
from storage.models import Base
from tests.jobs_helpers import FakeChannels
from tests.slack_wire import FakeSlackApi

PG_URL = os.environ.get("CSBOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@contextmanager
def _admin() -> Iterator[Connection]:
    """A transaction on the Postgres test database, outside any test schema."""
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            yield conn
    finally:
        admin.dispose()


def _postgres_schema_engine(schema: str) -> Engine:
    with _admin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})


def _drop_schema(schema: str) -> None:
    with _admin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def _drop_schemas(prefix: str) -> None:
    """Drop every schema this test run created (they all start with the run's prefix)."""
    with _admin() as conn:
        names = conn.execute(
            text("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :p"),
            {"p": prefix.replace("_", r"\_") + "%"},
        ).scalars().all()
        for name in names:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A fresh Postgres schema name for this test run (skips or fails when Postgres is down)."""
    schema = f"csbot_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        probe = create_engine(PG_URL)
        with probe.connect():
            pass
        probe.dispose()
    except OperationalError as exc:
        if IN_CI:
            pytest.fail(f"Postgres at {PG_URL} is unreachable in CI: {exc}")
        pytest.skip(f"Postgres at {PG_URL} is unreachable: {exc}")
    yield schema
    _drop_schemas(schema)


def _new_engine(backend: str, tmp_path_factory, request) -> Engine:
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "csbot.db"
        return make_engine(f"sqlite:///{path}")
    schema = request.getfixturevalue("postgres_schema")
    return _postgres_schema_engine(f"{schema}_{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def store_engine(request, tmp_path_factory) -> Iterator[Engine]:
    """A migrated store per backend, shared by the session (emptied after each test by `store`)."""
    engine = _new_engine(request.param, tmp_path_factory, request)
    upgrade(engine)
    yield engine
    engine.dispose()


def clear_store(engine: Engine) -> None:
    """Delete every row of every csbot table (children first)."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def store(store_engine: Engine) -> Iterator[Engine]:
    """An empty, migrated store on SQLite or Postgres; emptied again after the test."""
    clear_store(store_engine)
    yield store_engine
    clear_store(store_engine)


@pytest.fixture
def pg_url(postgres_schema) -> str:
    """Connection URL of a fresh, empty Postgres schema (for tests that spawn processes)."""
    schema = f"{postgres_schema}_{uuid.uuid4().hex[:6]}"
    engine = _postgres_schema_engine(schema)
    engine.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture
def api() -> Iterator[FakeSlackApi]:
    """The Slack Web API stand-in on loopback (a fresh one per test)."""
    with FakeSlackApi() as fake:
        yield fake


@pytest.fixture
def channels(api: FakeSlackApi) -> FakeChannels:
    """What the jobs posted to each channel of `api`."""
    return FakeChannels(api)
