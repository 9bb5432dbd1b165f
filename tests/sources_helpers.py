"""Warehouses standing in for a team's: a SQLite file and a Postgres schema, with Fivetran-style tables.

Zendesk (Fivetran): `ticket` (id, organization_id, created_at, status, priority, solved_at,
_fivetran_synced) and `organization` (id, name, external_id). Segment: `tracks` (id, user_id,
context_group_id, event, timestamp, received_at). A CRM export: `accounts` (id, company, created).
On SQLite the schemas are name prefixes (`zendesk_ticket`); on Postgres real schemas.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from tests.conftest import PG_URL, _admin

DDL = {
    "crm.accounts": "(id TEXT, company TEXT, created DATE, segment TEXT, owner_email TEXT)",
    "zendesk.organization": "(id BIGINT, name TEXT, external_id TEXT)",
    "zendesk.ticket": "(id BIGINT, organization_id BIGINT, created_at {ts}, status TEXT, priority TEXT, "
                      "solved_at {ts}, _fivetran_synced {ts})",
    "segment.tracks": "(id TEXT, user_id TEXT, context_group_id TEXT, event TEXT, timestamp {ts}, "
                      "received_at {ts})",
    "billing.mrr": "(account TEXT, month DATE, mrr NUMERIC(14, 2))",
}


@dataclass
class Warehouse:
    """A warehouse database and how SELECTs name its tables (`t("zendesk.ticket")`)."""

    url: str
    engine: Engine
    kind: str
    prefix: str

    def t(self, name: str) -> str:
        schema, table = name.split(".")
        return f"{schema}_{table}" if self.kind == "sqlite" else f"{self.prefix}{schema}.{table}"

    def run(self, sql: str, rows: list[dict] | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(sql), rows or {})

    def insert(self, name: str, rows: list[dict]) -> None:
        columns = list(rows[0])
        self.run(f"INSERT INTO {self.t(name)} ({', '.join(columns)}) VALUES "
                 f"({', '.join(':' + c for c in columns)})", rows)


def make_warehouse(kind: str, tmp_path: Path) -> Iterator[Warehouse]:
    if kind == "sqlite":
        path = tmp_path / "warehouse.db"
        url = f"sqlite:///{path}"
        wh = Warehouse(url, create_engine(url), "sqlite", "")
        for name, ddl in DDL.items():
            wh.run(f"CREATE TABLE {wh.t(name)} {ddl.format(ts='TIMESTAMP')}")
        yield wh
        wh.engine.dispose()
        return
    prefix = f"wh{uuid.uuid4().hex[:8]}_"
    with _admin() as conn:
        for schema in ("crm", "zendesk", "segment", "billing"):
            conn.execute(text(f'CREATE SCHEMA "{prefix}{schema}"'))
    wh = Warehouse(PG_URL, create_engine(PG_URL), "postgresql", prefix)
    for name, ddl in DDL.items():
        wh.run(f"CREATE TABLE {wh.t(name)} {ddl.format(ts='TIMESTAMPTZ')}")
    try:
        yield wh
    finally:
        wh.engine.dispose()
        with _admin() as conn:
            for schema in ("crm", "zendesk", "segment", "billing"):
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{prefix}{schema}" CASCADE'))
