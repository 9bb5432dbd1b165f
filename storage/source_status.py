"""What `csbot status` and `/kpi status` show: sources and their runs, table loads, unresolved owners, schema."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from storage.freshness import Load, table_loads
from storage.owner_emails import unresolved_emails
from storage.sources_file import SourceDef
from storage.sync import RunRecord, last_runs

__all__ = ["SourceStatus", "StoreStatus", "store_status"]


@dataclass(frozen=True)
class SourceStatus:
    name: str
    kind: str  # "" for a source no longer in the sources file
    schedule: str
    last: RunRecord | None
    last_ok: RunRecord | None


@dataclass(frozen=True)
class StoreStatus:
    sources: tuple[SourceStatus, ...]
    loads: tuple[Load, ...]
    unresolved_owners: tuple[tuple[str, int], ...]
    schema_version: str | None


def store_status(conn: Connection, sources: Sequence[SourceDef]) -> StoreStatus:
    runs = last_runs(conn)
    listed = [SourceStatus(s.name, s.kind, s.schedule, runs.get(s.name, {}).get("last"),
                           runs.get(s.name, {}).get("ok")) for s in sources]
    names = {s.name for s in sources}
    listed += [SourceStatus(name, "", "", r.get("last"), r.get("ok")) for name, r in sorted(runs.items())
               if name not in names]
    version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return StoreStatus(tuple(listed), tuple(table_loads(conn)), tuple(unresolved_emails(conn)), version)
