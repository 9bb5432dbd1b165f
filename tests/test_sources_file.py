"""The sources file (storage/sources_file.py): parsing, ${VAR} expansion, every problem listed at once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from storage.sources_file import SourcesFileError, load_sources, parse_duration, parse_sources

GOOD = """
sources:
  warehouse:
    kind: sql
    url: ${WAREHOUSE_URL}
    schedule: "06:30"
    overlap: 2d
    stale_after: 12h
    tables:
      accounts: SELECT id AS account_id, company AS name, created AS signed_up_at FROM crm.accounts
      usage: |
        SELECT org_id AS account_id, user_id, ts AS occurred_at FROM segment.tracks WHERE _loaded_at >= :since
  crm:
    kind: hubspot
    properties:
      account_id: csbot_account_id
      name: name
      segment: industry
  billing:
    kind: stripe
"""


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(SourcesFileError) as caught:
        parse_sources(text, env or {}, label="s.yml")
    return caught.value.problems


def test_a_good_file_gives_its_sources_in_file_order_with_defaults() -> None:
    warehouse, crm, billing = parse_sources(GOOD, {"WAREHOUSE_URL": "postgresql://wh/db"})
    assert (warehouse.name, warehouse.kind, warehouse.url) == ("warehouse", "sql", "postgresql://wh/db")
    assert (warehouse.schedule, warehouse.overlap, warehouse.stale_after) == (
        "06:30", dt.timedelta(days=2), dt.timedelta(hours=12))
    assert list(warehouse.tables) == ["accounts", "usage"]
    assert warehouse.tables["usage"].endswith(">= :since")
    assert (crm.kind, crm.properties, crm.schedule, crm.overlap, crm.stale_after) == (
        "hubspot", {"account_id": "csbot_account_id", "name": "name", "segment": "industry"}, "05:00",
        dt.timedelta(days=3), dt.timedelta(hours=36))
    assert billing.kind == "stripe" and not billing.implicit


def test_every_problem_is_listed_at_once() -> None:
    text = """
sources:
  bad name!:
    kind: sql
    url: ${NOPE}
    tables: {accounts: SELECT 1}
  w2:
    kind: sql
    schedule: "5am"
    overlap: forever
    tables:
      tickets: ""
      orders: SELECT 1
    colour: blue
  c:
    kind: salesforce
  h:
    kind: hubspot
    properties: {owner_slack_id: owner, name: name}
"""
    assert problems(text) == [
        "s.yml: bad name!: the name may hold only letters, digits, '-' and '_' (at most 64)",
        "s.yml: bad name!: url: environment variable NOPE is not set",
        "s.yml: w2: colour: unknown key for kind sql (known: kind, overlap, schedule, stale_after, tables, url)",
        "s.yml: w2: schedule: '5am' is not a time of day; use HH:MM, e.g. \"05:00\"",
        "s.yml: w2: overlap: 'forever' is not a duration; use e.g. 3d, 36h or 90m",
        "s.yml: w2: url: missing; give the SQLAlchemy URL of the database to read, e.g. url: ${WAREHOUSE_URL}",
        "s.yml: w2: tables: tickets: needs one SELECT statement (text)",
        "s.yml: w2: tables: orders: not a data-contract table; use accounts, revenue, invoices, surveys, tickets, "
        "usage, costs",
        "s.yml: c: kind: 'salesforce' is not a source kind; use sql, stripe, hubspot",
        "s.yml: h: properties: owner_slack_id: not an account column a CRM can fill; use account_id, name, segment, "
        "signed_up_at, became_customer_at, churned_at, acquisition_source, renewal_date",
        "s.yml: h: properties: account_id: required; name the company property that holds it",
    ]


def test_not_yaml_and_wrong_shape_are_named() -> None:
    assert problems("sources: [\n")[0].startswith("s.yml: not valid YAML at line 2")
    assert problems("warehouse: {kind: sql}\n") == [
        "s.yml: the file must hold one key, `sources:`, mapping names to sources (see README, Sources)"]


def test_stripe_is_implicit_when_its_key_is_set_and_no_stripe_source_is_declared() -> None:
    text = "sources:\n  wh:\n    kind: sql\n    url: sqlite:///wh.db\n    tables: {accounts: SELECT 1}\n"
    assert [s.name for s in parse_sources(text, {})] == ["wh"]
    found = parse_sources(text, {"STRIPE_API_KEY": "rk_test_1"})
    assert [(s.name, s.kind, s.implicit) for s in found] == [("wh", "sql", False), ("stripe", "stripe", True)]
    declared = parse_sources(GOOD, {"WAREHOUSE_URL": "sqlite://", "STRIPE_API_KEY": "rk_test_1"})
    assert [s.name for s in declared] == ["warehouse", "crm", "billing"]
    assert [s.name for s in load_sources(None, {"STRIPE_API_KEY": "rk"})] == ["stripe"]
    assert load_sources(None, {}) == []


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SourcesFileError) as caught:
        load_sources(tmp_path / "missing.yml", {})
    assert caught.value.problems[0].startswith(f"{tmp_path / 'missing.yml'}: cannot read the sources file")


@pytest.mark.parametrize(("text", "expected"), [
    ("3d", dt.timedelta(days=3)), ("36h", dt.timedelta(hours=36)), ("90m", dt.timedelta(minutes=90)),
    ("1d12h", dt.timedelta(days=1, hours=12)), ("0h", None), ("", None), ("3 days", None), ("h", None)])
def test_durations(text: str, expected: dt.timedelta | None) -> None:
    assert parse_duration(text) == expected


def test_repr_hides_the_url() -> None:
    (source,) = parse_sources("sources:\n  w:\n    kind: sql\n    url: postgresql://u:secret@h/db\n"
                              "    tables: {accounts: SELECT 1}\n", {})
    assert "secret" not in repr(source)
