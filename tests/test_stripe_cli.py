"""`csbot sync stripe` as a user runs it (a subprocess) against the Stripe stand-in, on SQLite and Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.db import make_engine
from storage.models import Account, Revenue
from tests.stripe_wire import scenario
from tests.stripe_wire.builders import Seed
from tests.stripe_wire.fake_stripe_api import FakeStripe
from tests.test_cli import run

KEY = "sk_test_csbot"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    server = FakeStripe(KEY).start()
    scenario.seed(Seed(server))
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return request.getfixturevalue("pg_url")


def _env(fake: FakeStripe, tmp_path: Path, rates: str = "{eur: 1.08, JPY: 0.0067}", key: str = KEY) -> dict:
    config = tmp_path / "kpi.yml"
    config.write_text(f"currency: usd\ncurrency_rates: {rates}\n")
    return {"STRIPE_API_KEY": key, "CSBOT_STRIPE_API_BASE": fake.url, "CSBOT_CONFIG": str(config),
            "CSBOT_NOW": "2026-03-15T12:00:00Z"}


def _mrr(db_url: str) -> dict:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Revenue.month, func.sum(Revenue.mrr)).group_by(Revenue.month)).all()
            accounts = conn.scalar(select(func.count()).select_from(Account))
    finally:
        engine.dispose()
    return {m.strftime("%Y-%m"): f"{v:.2f}" for m, v in rows} | {"accounts": accounts}


def test_sync_stripe_then_again_changes_nothing(fake, tmp_path, db_url):
    env = _env(fake, tmp_path)
    first = run(["sync", "stripe", "--db", db_url], env)
    assert first.returncode == 0, first.stderr
    assert f"  revenue: {len(scenario.REVENUE)} added, 0 changed, 0 removed" in first.stdout.splitlines()
    assert _mrr(db_url) == scenario.MRR_BY_MONTH | {"accounts": len(scenario.ACCOUNTS)}
    second = run(["sync", "stripe", "--db", db_url], env)
    assert second.returncode == 0, second.stderr
    lines = second.stdout.splitlines()
    assert "  revenue: 0 added, 0 changed, 0 removed" in lines
    assert "  accounts: 0 added, 0 changed, 0 removed" in lines
    assert "  invoices: 0 added, 0 changed, 0 removed" in lines


def test_dry_run_writes_nothing(fake, tmp_path):
    db = f"sqlite:///{tmp_path}/store.db"
    result = run(["sync", "stripe", "--dry-run", "--db", db], _env(fake, tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("stripe: would change (dry run, nothing written)")
    assert _mrr(db) == {"accounts": 0}


def test_wrong_key_is_one_line_and_nothing_is_written(fake, tmp_path):
    db = f"sqlite:///{tmp_path}/store.db"
    result = run(["sync", "stripe", "--db", db], _env(fake, tmp_path, key="sk_test_wrong"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "stripe: failed; nothing was written",
        "  stripe: STRIPE_API_KEY was refused by Stripe (401): check the key, e.g. a restricted key copied whole "
        "from the dashboard"]
    assert "sk_test_wrong" not in result.stderr + result.stdout
    assert _mrr(db) == {"accounts": 0}


def test_missing_rate_names_the_currency_and_nothing_is_written(fake, tmp_path):
    db = f"sqlite:///{tmp_path}/store.db"
    result = run(["sync", "stripe", "--db", db], _env(fake, tmp_path, rates="{eur: 1.08}"))
    assert result.returncode == 1
    assert "no rate for JPY" in result.stderr and "in_jpy" in result.stderr
    assert _mrr(db) == {"accounts": 0}


def test_missing_key_and_unknown_source(tmp_path):
    db = f"sqlite:///{tmp_path}/store.db"
    missing = run(["sync", "stripe", "--db", db])  # no key: no implicit stripe source
    assert missing.returncode == 1
    assert "unknown source stripe; the sources are: none (set CSBOT_SOURCES or STRIPE_API_KEY)" in missing.stderr
    unknown = run(["sync", "hubspot", "--db", db], {"STRIPE_API_KEY": KEY})
    assert unknown.returncode == 1
    assert "unknown source hubspot; the sources are: stripe" in unknown.stderr
