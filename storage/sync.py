"""Run one source of the sources file: read, validate, write in one transaction, record the run.

    report = sync_source(engine, source, now=now, reporting_tz="Europe/Berlin")   # SyncError on failure

- Every kind produces data-contract rows (`storage.source_rows` validates them like CSV import), and
  `storage.source_writer` writes them: only the columns the source returned, whole-table removal of the
  source's own rows only.
- One transaction per source: any problem writes nothing and raises `SyncError` naming it
  (`warehouse:usage: ...`); the failed run is recorded (`source_runs`) so `csbot status`, the digest
  and the scheduler can say so.
- `:since` = the start of the source's previous successful run minus its `overlap` (UTC), or
  1970-01-01T00:00:00Z on the first run.
- Scheduled runs first `claim_run` a key in its own committed transaction: of two replicas that fire
  the same run, one syncs and the other skips.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage.csv_rules import KINDS, file_specs
from storage.freshness import record_load
from storage.models import Account, SourceRun
from storage.source_rows import validate_rows
from storage.source_writer import write_table
from storage.sources_file import SourceDef
from storage.sync_report import SyncError, SyncReport

__all__ = ["EPOCH", "RunRecord", "TableRows", "claim_run", "last_runs", "ran_since", "since_for", "sync_source",
           "take_over_run"]

EPOCH = dt.datetime(1970, 1, 1)

log = logging.getLogger("csbot.sync")


@dataclass(frozen=True)
class TableRows:
    """What a source returned for one table: its column names, its rows, and whether it is the whole table."""

    table: str
    columns: tuple[str, ...]
    rows: list[Any]
    whole: bool
    notes: tuple[str, ...] = ()  # for the report, e.g. rows the source left out and why


@dataclass(frozen=True)
class RunRecord:
    """One recorded sync run (times naive UTC)."""

    source: str
    state: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    rows: int | None
    error: str | None


Reader = Callable[[SourceDef, dt.datetime, Mapping[str, str], str], list[TableRows]]
"""(source, :since as naive UTC, environment, reporting time zone) -> what the source returned."""


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def since_for(conn: Connection, source: SourceDef) -> dt.datetime:
    """The `:since` bound (naive UTC) of `source`'s next run."""
    last = conn.scalar(select(func.max(SourceRun.started_at)).where(
        SourceRun.source == source.name, SourceRun.state == "ok"))
    return max(EPOCH, last - source.overlap) if last is not None else EPOCH


def claim_run(engine: Engine, source: str, run_key: str, *, now: dt.datetime, claimed_by: str) -> int | None:
    """Record a scheduled run as started under `run_key`; None when another process already has it."""
    try:
        with engine.begin() as conn:
            return conn.execute(insert(SourceRun).values(
                source=source, run_key=run_key, state="running", started_at=_naive_utc(now),
                claimed_by=claimed_by).returning(SourceRun.id)).scalar_one()
    except IntegrityError:
        return None


def take_over_run(engine: Engine, run_key: str, *, now: dt.datetime, claimed_by: str,
                  older_than: dt.timedelta) -> int | None:
    """Take over a scheduled run left 'running' (its process stopped) since before `now - older_than`;
    its id, or None when there is none such (finished, or still young)."""
    now = _naive_utc(now)
    with engine.begin() as conn:
        row = conn.execute(select(SourceRun.id, SourceRun.claimed_by).where(
            SourceRun.run_key == run_key, SourceRun.state == "running",
            SourceRun.started_at < now - older_than)).first()
        if row is None:
            return None
        done = conn.execute(update(SourceRun).where(SourceRun.id == row.id, SourceRun.state == "running",
                                                    SourceRun.claimed_by == row.claimed_by)
                            .values(claimed_by=claimed_by, started_at=now))
        return row.id if done.rowcount else None


def ran_since(engine: Engine, source: str, at: dt.datetime) -> bool:
    """True when a run of `source` (scheduled or manual, in any state) started at or after `at`."""
    with engine.connect() as conn:
        return conn.scalar(select(SourceRun.id).where(SourceRun.source == source,
                                                      SourceRun.started_at >= _naive_utc(at)).limit(1)) is not None


def last_runs(conn: Connection) -> dict[str, dict[str, RunRecord]]:
    """Per source: its last finished run (`last`) and its last successful one (`ok`), where there are any."""
    out: dict[str, dict[str, RunRecord]] = {}
    rows = conn.execute(select(SourceRun).where(SourceRun.state != "running").order_by(SourceRun.started_at,
                                                                                       SourceRun.id))
    for r in rows:
        record = RunRecord(r.source, r.state, r.started_at, r.finished_at, r.rows, r.error)
        seen = out.setdefault(r.source, {})
        seen["last"] = record
        if r.state == "ok":
            seen["ok"] = record
    return out


def sync_source(
    engine: Engine,
    source: SourceDef,
    *,
    now: dt.datetime,
    reporting_tz: str = "UTC",
    dry_run: bool = False,
    run_id: int | None = None,
    env: Mapping[str, str] | None = None,
    currency: str = "usd",
    currency_rates: Mapping[str, Decimal] | None = None,
) -> SyncReport:
    """Sync `source` into the store (module doc); `run_id` is the claimed run of a scheduled sync.

    `currency` and `currency_rates` (the KPI settings') are the Stripe kind's reporting currency and rates.

    Any other error (the store refusing a write, a driver bug) is recorded and raised as a SyncError too.
    """
    env = os.environ if env is None else env
    started = time.monotonic()
    now = _naive_utc(now)
    try:
        if source.kind == "stripe":
            report = _sync_stripe(engine, source, now, env, dry_run, currency, dict(currency_rates or {}))
        else:
            with engine.connect() as conn:
                since = since_for(conn, source)
            reader = _reader(source.kind)
            tables = reader(source, since, env, reporting_tz)
            report = _write(engine, source, tables, now, reporting_tz, dry_run, run_id, started)
    except SyncError as exc:
        if not dry_run:
            _record_failure(engine, source.name, now, run_id, str(exc), started)
        raise
    except Exception as exc:
        log.exception("sync of %s failed unexpectedly", source.name)
        lines = str(exc).strip().splitlines()
        error = SyncError([f"{source.name}: {exc.__class__.__name__}: {lines[0] if lines else 'unexpected error'}"
                           " (nothing was written; see the log)"])
        if not dry_run:
            try:
                _record_failure(engine, source.name, now, run_id, str(error), started)
            except Exception:
                log.exception("the failed sync of %s could not be recorded either", source.name)
        raise error from exc
    report.seconds = time.monotonic() - started
    if source.kind == "stripe" and not dry_run:
        _record_success(engine, source.name, now, run_id, report, started)
    return report


def _reader(kind: str) -> Reader:
    if kind == "sql":
        from storage.sql_source import read_sql_source

        return read_sql_source
    if kind == "hubspot":
        from storage.hubspot_source import read_hubspot_source

        return read_hubspot_source
    raise SyncError([f"unknown source kind {kind!r}"])


def _sync_stripe(engine: Engine, source: SourceDef, now: dt.datetime, env: Mapping[str, str], dry_run: bool,
                 currency: str, currency_rates: dict[str, Decimal]) -> SyncReport:
    """The `stripe` kind: storage/stripe_sync (shared/spec/stripe.md) does the work, in its own transaction."""
    from storage import stripe_sync

    api_key = (env.get("STRIPE_API_KEY") or "").strip()
    if not api_key:
        raise SyncError([f"{source.name}: STRIPE_API_KEY is not set; set it to a restricted read-only key"])
    options = dict(source.options)
    return stripe_sync.sync_stripe(
        engine, api_key=api_key, api_base=options.get("api_base") or env.get("CSBOT_STRIPE_API_BASE") or None,
        now=now.replace(tzinfo=dt.UTC), currency=currency, currency_rates=currency_rates, dry_run=dry_run,
        source=source.name)


def _write(engine: Engine, source: SourceDef, tables: list[TableRows], now: dt.datetime, reporting_tz: str,
           dry_run: bool, run_id: int | None, started: float) -> SyncReport:
    specs = file_specs(ZoneInfo(reporting_tz))
    report = SyncReport(source.name, dry_run=dry_run)
    order = {kind: i for i, kind in enumerate(KINDS)}
    tables = sorted(tables, key=lambda t: order[t.table])
    with engine.connect() as conn, conn.begin() as transaction:
        if conn.dialect.name == "sqlite" and not conn.connection.driver_connection.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # a real transaction from the first read (see importer)
        known = set(conn.scalars(select(Account.account_id)))
        problems: list[str] = []
        validated = []
        for t in tables:
            checked = validate_rows(f"{source.name}:{t.table}", specs[t.table], t.columns, t.rows, known)
            problems.extend(checked.problems)
            if checked.total_problems > len(checked.problems):
                problems.append(f"{source.name}:{t.table}: ... and "
                                f"{checked.total_problems - len(checked.problems)} more problems")
            report.notes.extend(f"warning: {w}" for w in checked.warnings)
            report.notes.extend(t.notes)
            validated.append((t, checked))
        if problems:
            transaction.rollback()
            raise SyncError(problems)
        report.notes.extend(_shared_columns(conn, source.name, validated))
        total = 0
        for t, checked in validated:
            changes = write_table(conn, checked.spec, checked.present, checked.rows, source=source.name,
                                  whole=t.whole)
            report.tables[t.table] = changes
            total += len(checked.rows)
            run = f"run {run_id}" if run_id else "csbot sync"
            record_load(conn, table=t.table, source=source.name, loaded_at=now, rows=len(checked.rows),
                        detail=f"{run}; {_COLUMNS}{','.join(checked.present)}")
        if dry_run:
            transaction.rollback()
            return report
        report.seconds = time.monotonic() - started
        _finish_run(conn, source.name, now, run_id, "ok", total, "\n".join(report.lines()), None, started)
    return report


_COLUMNS = "columns: "
"""How a sync's table load records the columns it wrote (in `table_loads.detail`)."""


def _shared_columns(conn: Connection, source: str, validated: list) -> list[str]:
    """Warnings for columns another source also writes: each column should have one owning source."""
    from storage.freshness import table_loads

    notes = []
    for t, checked in validated:
        mine = set(checked.present) - set(checked.spec.key)
        for load in table_loads(conn):
            if load.table != t.table or load.source in (source, "import") or _COLUMNS not in (load.detail or ""):
                continue
            theirs = set((load.detail or "").split(_COLUMNS, 1)[1].split(","))
            for column in sorted(mine & theirs):
                notes.append(f"warning: {source}:{t.table}: {column}: also written by source {load.source}; "
                             "give each column one source (leave it out of one of them), or they overwrite each "
                             "other at every sync")
    return notes


def _finish_run(conn: Connection, source: str, now: dt.datetime, run_id: int | None, state: str,
                rows: int | None, report: str | None, error: str | None, started: float) -> None:
    """Record how a run ended; `now` is its start on the injected clock, so the end is `now` + time taken."""
    finished = now + dt.timedelta(seconds=time.monotonic() - started)
    values = {"state": state, "finished_at": finished, "rows": rows, "report": report, "error": error}
    if run_id is not None:
        conn.execute(update(SourceRun).where(SourceRun.id == run_id).values(**values))
    else:
        conn.execute(insert(SourceRun).values(source=source, started_at=now, **values))


def _record_failure(engine: Engine, source: str, now: dt.datetime, run_id: int | None, error: str,
                    started: float) -> None:
    with engine.begin() as conn:
        _finish_run(conn, source, now, run_id, "failed", None, None, error, started)


def _record_success(engine: Engine, source: str, now: dt.datetime, run_id: int | None, report: SyncReport,
                    started: float) -> None:
    rows = sum(c.added + c.changed for c in report.tables.values())
    with engine.begin() as conn:
        _finish_run(conn, source, now, run_id, "ok", rows, "\n".join(report.lines()), None, started)
