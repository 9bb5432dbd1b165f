"""`csbot sync`, `csbot status` and `csbot ask --json` freshness as a user runs them (subprocesses), with a
SQLite warehouse, on a SQLite and a Postgres store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storage.db import head_revision
from tests.sources_helpers import make_warehouse
from tests.test_cli import run

T0 = "2026-11-30T04:02:00Z"  # 05:02 in Berlin


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def warehouse(tmp_path: Path):
    yield from make_warehouse("sqlite", tmp_path)


def write_sources(tmp_path: Path, wh, tickets_column: str = "t.priority") -> Path:
    path = tmp_path / "sources.yml"
    path.write_text(
        "sources:\n"
        "  warehouse:\n"
        "    kind: sql\n"
        "    url: ${WH_URL}\n"
        "    tables:\n"
        "      accounts: SELECT id AS account_id, company AS name, created AS signed_up_at"
        f" FROM {wh.t('crm.accounts')}\n"
        "      tickets: |\n"
        f"        SELECT CAST(t.id AS TEXT) AS ticket_id, o.external_id AS account_id, t.created_at AS opened_at,\n"
        f"               t.solved_at AS resolved_at, {tickets_column} AS priority\n"
        f"        FROM {wh.t('zendesk.ticket')} t JOIN {wh.t('zendesk.organization')} o ON o.id = t.organization_id\n")
    return path


def seed(wh) -> None:
    wh.insert("crm.accounts", [{"id": "A1", "company": "Acme", "created": "2026-01-05", "segment": None,
                                "owner_email": None}])
    wh.insert("zendesk.organization", [{"id": 11, "name": "Acme", "external_id": "A1"}])
    wh.insert("zendesk.ticket", [{"id": 5, "organization_id": 11, "created_at": "2026-11-02 09:00:00",
                                  "status": "solved", "priority": "low", "solved_at": "2026-11-02 10:00:00",
                                  "_fivetran_synced": "2026-11-03 00:00:00"}])


def env(sources: Path, wh, now: str = T0) -> dict[str, str]:
    config = sources.parent / "csbot.yml"
    config.write_text("reporting_timezone: Europe/Berlin\n")
    return {"CSBOT_SOURCES": str(sources), "WH_URL": wh.url, "CSBOT_NOW": now, "CSBOT_CONFIG": str(config)}


def test_sync_status_and_fresh_answers(db: str, warehouse, tmp_path: Path) -> None:
    seed(warehouse)
    sources = write_sources(tmp_path, warehouse)
    dry = run(["sync", "--dry-run", "--db", db], env(sources, warehouse))
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[:3] == ["warehouse: would change (dry run, nothing written)",
                                           "  accounts: 1 added, 0 changed, 0 removed",
                                           "  tickets: 1 added, 0 changed, 0 removed"]
    synced = run(["sync", "--db", db], env(sources, warehouse))
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout.splitlines()[:3] == ["warehouse: changed", "  accounts: 1 added, 0 changed, 0 removed",
                                              "  tickets: 1 added, 0 changed, 0 removed"]
    again = run(["sync", "warehouse", "--db", db], env(sources, warehouse, "2026-11-30T06:00:00Z"))
    assert again.stdout.splitlines()[1:3] == ["  accounts: 0 added, 0 changed, 0 removed",
                                              "  tickets: 0 added, 0 changed, 0 removed"]

    fresh = run(["ask", "/kpi fcr 2026-11", "--json", "--db", db], env(sources, warehouse, "2026-12-01T00:00:00Z"))
    assert fresh.returncode == 0, fresh.stderr
    answer = json.loads(fresh.stdout)
    # fcr reads tickets (and accounts): the older of their last loads is the 06:00 sync of both
    assert (answer["data_as_of"], answer["stale"]) == ("2026-11-30T06:00:00Z", False)
    stale = run(["ask", "/kpi fcr 2026-11", "--json", "--db", db], env(sources, warehouse, "2026-12-01T18:01:00Z"))
    assert (json.loads(stale.stdout)["data_as_of"], json.loads(stale.stdout)["stale"]) == (
        "2026-11-30T06:00:00Z", True)
    words = run(["ask", "/kpi fcr 2026-11", "--db", db], env(sources, warehouse, "2026-12-01T18:01:00Z"))
    assert "data as of Mon 30 Nov 07:00, warehouse" in words.stdout
    assert "Warning: stale: tickets was last loaded Mon 30 Nov 07:00" in words.stdout

    broken = write_sources(tmp_path, warehouse, "t.no_such_column")
    failed = run(["sync", "--db", db], env(broken, warehouse, "2026-12-01T05:00:00Z"))
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[:2] == ["warehouse: failed; nothing was written",
                                              "  warehouse:tickets: the SELECT failed: no such column: "
                                              "t.no_such_column"]
    status = run(["status", "--db", db], env(broken, warehouse, "2026-12-01T06:00:00Z"))
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[:3] == [
        "Times in Europe/Berlin.", "Sources:",
        "  warehouse (sql, daily at 05:00): FAILED Tue 01 Dec 2026 06:00: warehouse:tickets: the SELECT failed: "
        "no such column: t.no_such_column; last success Mon 30 Nov 2026 07:00"]
    assert "  tickets: 1 row from warehouse, Mon 30 Nov 2026 07:00 (24 h ago)" in lines
    assert lines[-2:] == ["Owner e-mails: all resolved", f"Schema version: {head_revision()}"]


def test_sync_names_unknown_sources_and_file_problems(tmp_path: Path, warehouse) -> None:
    db = f"sqlite:///{tmp_path}/store.db"
    sources = write_sources(tmp_path, warehouse)
    unknown = run(["sync", "crm", "--db", db], env(sources, warehouse))
    assert unknown.returncode == 1 and "unknown source crm; the sources are: warehouse" in unknown.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text("sources:\n  w:\n    kind: sql\n")
    result = run(["sync", "--db", db], {"CSBOT_SOURCES": str(bad)})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "csbot: the sources file (CSBOT_SOURCES) has problems; nothing was synced:",
        f"  {bad}: w: url: missing; give the SQLAlchemy URL of the database to read, e.g. url: ${{WAREHOUSE_URL}}",
        f"  {bad}: w: tables: missing; map data-contract tables (accounts, revenue, invoices, surveys, tickets, "
        "usage, costs) to one SELECT each"]
    none = run(["sync", "--db", db], {})
    assert none.returncode == 1 and "no sources: set CSBOT_SOURCES" in none.stderr


def test_the_implicit_stripe_source_reports_an_unreachable_api_and_writes_nothing(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a local port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    db = f"sqlite:///{tmp_path}/store.db"
    result = run(["sync", "--db", db], {"STRIPE_API_KEY": "rk_test_123", "CSBOT_STRIPE_API_BASE": closed})
    assert result.returncode == 1
    assert result.stderr.startswith("stripe: failed; nothing was written")
    assert "rk_test_123" not in result.stderr + result.stdout
    status = run(["status", "--db", db], {"STRIPE_API_KEY": "rk_test_123"})
    assert "  stripe (stripe, daily at 05:00): FAILED" in status.stdout


def test_kpi_status_in_the_terminal_is_csbot_status(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/store.db"
    (tmp_path / "accounts.csv").write_text("account_id,name,signed_up_at\nA1,Acme,2026-01-05\n")
    assert run(["import", str(tmp_path / "accounts.csv"), "--db", db]).returncode == 0
    now = {"CSBOT_NOW": "2026-12-01T06:00:00Z"}
    status = run(["status", "--db", db], now)
    asked = run(["ask", "/kpi   STATUS", "--db", db], now)
    assert asked.returncode == 0 and asked.stdout == status.stdout
    assert "  accounts: 1 row from import" in asked.stdout.splitlines()[3]
    as_json = json.loads(run(["ask", "/kpi status", "--json", "--db", db], now).stdout)
    assert as_json == {"command": "/kpi", "status": status.stdout.splitlines()}


def test_imported_owner_emails_without_a_slack_token_are_listed(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/store.db"
    (tmp_path / "accounts.csv").write_text("account_id,name,signed_up_at,owner_email\n"
                                           "A1,Acme,2026-01-05,Ann@Example.com\nA2,Beta,2026-01-05,ann@example.com\n")
    imported = run(["import", str(tmp_path / "accounts.csv"), "--db", db])
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines()[-1] == (
        "  unresolved owner e-mail: ann@example.com (2 accounts); set SLACK_BOT_TOKEN to resolve owner e-mails")
    status = run(["status", "--db", db])
    assert status.stdout.splitlines()[-3:-1] == ["Owner e-mails matching no Slack user:",
                                                 "  ann@example.com (2 accounts)"]


def test_serve_stops_at_start_listing_every_sources_file_problem(tmp_path: Path) -> None:
    bad = tmp_path / "sources.yml"
    bad.write_text("sources:\n  w:\n    kind: sql\n    tables: {orders: SELECT 1}\n")
    result = run(["serve", "--db", f"sqlite:///{tmp_path}/x.db"],
                 {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "a" * 32, "CSBOT_SOURCES": str(bad)})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "csbot: the sources file (CSBOT_SOURCES) has problems; fix them and start again:",
        f"  {bad}: w: url: missing; give the SQLAlchemy URL of the database to read, e.g. url: ${{WAREHOUSE_URL}}",
        f"  {bad}: w: tables: orders: not a data-contract table; use accounts, revenue, invoices, surveys, tickets, "
        "usage, costs"]
