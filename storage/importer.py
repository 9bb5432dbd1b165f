"""CSV import (shared/spec/data.md): every file of one call validated and written in one transaction, or none.

    report = import_paths(engine, ["data/"], reporting_tz="Europe/Berlin")

- `paths` are CSV files or folders (a folder = every `*.csv` directly in it). A file's kind is its
  name: accounts.csv, revenue.csv, invoices.csv, surveys.csv, tickets.csv, usage.csv, costs.csv.
  accounts.csv goes first; the `account_id`s of the other files must exist in the store or in the
  accounts.csv of the same import.
- All files of one call are one transaction. Rows are streamed: each file is read in batches, every
  batch is validated and (while no problem has been seen anywhere) written inside that transaction.
  Any problem in any file rolls the whole transaction back at the end, leaving the store exactly as
  it was, and raises `CsvImportError` listing every problem as `file:line: column: what is wrong`.
- Keyed files are upserted on their key (re-import changes nothing); the same key twice in one file
  is an error. Only the columns in the file's header are written: an optional column left out of the
  header keeps the values already stored (new rows get it empty); an empty cell in a column that IS in
  the header clears the stored value. Rows are never removed, except with `replace=True` (rows of the
  imported kinds that the files lack are deleted, accounts with what belongs to them, after `confirm`
  accepts the counts; see storage.removal).
- A store holding csbot's demo data refuses other imports (and a team's store refuses the demo data):
  the two never mix.
- usage.csv has no key. Its import REPLACES every (account_id, UTC day) slice the file covers: rows
  already stored for an account on a UTC calendar day that has at least one row in the file are
  deleted, rows of other slices are kept. Re-importing the same file therefore gives the same rows,
  and two identical rows inside one file are both kept (they are two events). Memory stays flat
  whatever the file size: the slices are worked out by the database from the rows just inserted.
- Every imported file is recorded in `import_runs` (kind, absolute source path, rows, UTC time), and its
  table's load in `table_loads` (source `import`; storage/freshness.py).
- The usage rollups (storage/rollups.py) are brought up to date in `reporting_tz` in the same transaction:
  only the local days of the replaced slices are recomputed (everything when the zone changed).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, func, insert, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite

from storage.csv_rules import BAD, FILE_NAMES, KINDS, FileSpec, RowPlan, file_specs
from storage.freshness import record_load
from storage.models import Account, ImportRun, UsageEvent
from storage.removal import Confirm, RemovalPlan, confirm_and_run, remove_absent, remove_older_usage
from storage.rollups import SQLITE_USAGE_TRIGGERS, install_triggers, sync_rollups

__all__ = ["DEMO_SOURCE", "CsvImportError", "FileSummary", "ImportReport", "holds_demo_data", "import_paths"]

DEMO_SOURCE = "csbot demo data"
"""Prefix of `import_runs.source` for the demo data set (how a store is known to hold it)."""

BATCH_ROWS = 10_000
"""Rows validated and written per batch (one executemany / COPY per batch)."""

SHOWN_PROBLEMS = 50
"""Problems spelled out in `str(CsvImportError)`; the rest are counted."""

KEPT_PROBLEMS = 10_000
"""Problems kept in `CsvImportError.problems` (all are counted): a broken 50-million-row file must not
exhaust memory."""


@dataclass(frozen=True)
class FileSummary:
    """One imported file. `updated` counts rows whose key already existed (usage: always 0, see module doc)."""

    kind: str
    path: str
    rows: int
    inserted: int
    updated: int
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class ImportReport:
    files: tuple[FileSummary, ...]


class CsvImportError(Exception):
    """Import rejected; nothing was written. `problems` lists them (`file:line: column: what is wrong`).

    `total` counts every problem found; `problems` holds the first `KEPT_PROBLEMS` of them.
    """

    def __init__(self, problems: Sequence[str], total: int | None = None) -> None:
        self.problems = list(problems)
        self.total = len(self.problems) if total is None else total
        super().__init__(self.problems, self.total)

    def __str__(self) -> str:
        lines = self.problems[:SHOWN_PROBLEMS]
        more = self.total - len(lines)
        if more > 0:
            lines = [*lines, f"... and {more} more problem{'s' if more != 1 else ''}"]
        return "\n".join(lines)


class _Problems:
    def __init__(self) -> None:
        self.kept: list[str] = []
        self.total = 0

    def add(self, message: str) -> None:
        self.total += 1
        if len(self.kept) < KEPT_PROBLEMS:
            self.kept.append(message)

    def __bool__(self) -> bool:
        return self.total > 0


def holds_demo_data(conn: Connection) -> bool:
    """True when csbot's demo data set was loaded into this store."""
    return conn.scalar(select(func.count()).select_from(ImportRun).where(
        ImportRun.source.startswith(DEMO_SOURCE))) > 0


def _check_no_mixing(conn: Connection, demo: bool) -> None:
    """Demo data and a team's data never share a store."""
    has_accounts = conn.scalar(select(Account.account_id).limit(1)) is not None
    if not has_accounts:
        return
    if not demo and holds_demo_data(conn):
        raise CsvImportError([
            "this store holds csbot's demo data; importing your files would mix them with it. Start clean: import "
            "into another store (`csbot import --db sqlite:///team.db FILES`, or set CSBOT_DATABASE_URL), or delete "
            "this store's file and import again"
        ])
    if demo and not holds_demo_data(conn):
        raise CsvImportError([
            "this store holds your own data; the demo data set goes into a store of its own (`csbot demo` uses "
            "csbot-demo.db; or `csbot demo-data --db sqlite:///csbot-demo.db`)"
        ])


def import_paths(
    engine: Engine, paths: Sequence[str | Path], *, reporting_tz: str = "UTC", progress: bool = False,
    replace: bool = False, confirm: Confirm | None = None, demo: bool = False,
) -> ImportReport:
    """Import CSV files and folders of them into the store, all or nothing (see the module doc).

    `replace`: also delete the stored rows of each imported kind that the files lack, once `confirm` accepts
    the plan (RemovalCancelled otherwise, nothing changed). `demo`: the files are the demo data set.
    """
    try:
        tz = ZoneInfo(reporting_tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise CsvImportError(
            [f"reporting_tz: {reporting_tz!r} is not a known time zone; use an IANA name such as Europe/Berlin"]
        ) from None
    problems = _Problems()
    files = _discover(paths, problems)
    specs = file_specs(tz)
    summaries: list[FileSummary] = []
    with _progress_bar(progress) as bar, engine.connect() as conn, conn.begin() as transaction:
        _begin_sqlite_for_real(conn)
        _check_no_mixing(conn, demo)
        known_accounts = set(conn.scalars(select(Account.account_id)))
        written: dict[str, _Written] = {}
        for kind, path in files:
            summaries.append(_import_file(conn, specs[kind], path, known_accounts, problems, bar, written))
        if problems:
            transaction.rollback()
            raise CsvImportError(problems.kept, problems.total)
        if replace:
            _replace(conn, specs, written, confirm)
        sync_rollups(conn, reporting_tz)  # the usage rollups, in the same transaction (storage/rollups.py)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if summaries:
            source = (lambda path: f"{DEMO_SOURCE}: {path}") if demo else (lambda path: path)
            conn.execute(
                insert(ImportRun),
                [{"kind": s.kind, "source": source(s.path), "rows": s.rows, "imported_at": now} for s in summaries],
            )
        for s in summaries:
            record_load(conn, table=s.kind, source="import", loaded_at=now, rows=s.rows, detail=s.path)
    return ImportReport(tuple(summaries))


@dataclass
class _Written:
    """What one file brought, for the checks and removals after all files are written."""

    plan: RowPlan
    keys: Any  # the file's keys (dict keys of _CrossRowChecks.first_line_of)
    watermark: int | None  # usage: the highest id before this import


def _stored_values(conn: Connection, spec: FileSpec, plan: RowPlan) -> dict[Any, dict[str, Any]] | None:
    """accounts.csv without some lifecycle column: the stored values of those columns, by key, for the rules."""
    absent = sorted(plan.absent & {"signed_up_at", "became_customer_at", "churned_at"})
    if spec.kind != "accounts" or not absent:
        return None
    columns = [spec.table.c[k] for k in spec.key] + [spec.table.c[n] for n in absent]
    return {tuple(row[: len(spec.key)]): dict(zip(absent, row[len(spec.key):], strict=True))
            for row in conn.execute(select(*columns))}


def _replace(conn: Connection, specs: dict[str, FileSpec], written: dict[str, _Written],
             confirm: Confirm | None) -> None:
    plan = RemovalPlan()
    deletions = []
    for kind in sorted(written, key=lambda k: k == "accounts"):  # accounts last: their cascade comes after
        spec, info = specs[kind], written[kind]
        if spec.key:
            deletions.append(remove_absent(conn, kind, spec.table, spec.key, info.keys, plan))
        else:
            deletions.append(remove_older_usage(conn, info.watermark, plan))
    confirm_and_run(plan, deletions, confirm)


# --- finding the files ---------------------------------------------------------------------------


def _discover(paths: Sequence[str | Path], problems: _Problems) -> list[tuple[str, Path]]:
    """(kind, absolute path) of every file to import, in import order; problems for the rest."""
    if not paths:
        problems.add("no files given; pass CSV files or folders of them")
    found: dict[str, Path] = {}
    accepted = ", ".join(FILE_NAMES)
    for given in paths:
        path = Path(given)
        if path.is_dir():
            candidates = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
            if not candidates:
                problems.add(f"{path}: no .csv files in this folder (expected some of {accepted})")
        elif path.is_file():
            candidates = [path]
        else:
            problems.add(f"{path}: no such file or folder")
            continue
        for candidate in candidates:
            kind = candidate.stem.lower() if candidate.suffix.lower() == ".csv" else ""
            if kind not in KINDS:
                problems.add(f"{candidate.name}: unknown file name; name each file after what it holds: {accepted}")
                continue
            resolved = candidate.resolve()
            if kind in found and found[kind] != resolved:
                problems.add(
                    f"{candidate.name}: given twice ({found[kind]} and {resolved}); import one {kind}.csv at a time"
                )
            found.setdefault(kind, resolved)
    return [(kind, found[kind]) for kind in KINDS if kind in found]


# --- one file ------------------------------------------------------------------------------------


def _import_file(
    conn: Connection, spec: FileSpec, path: Path, known_accounts: set[str], problems: _Problems, bar: Any,
    written_files: dict[str, _Written],
) -> FileSummary:
    """Validate one file row by row; write it in batches while no problem has been seen anywhere."""
    name = path.name
    size = path.stat().st_size
    task = bar.add_task(name, total=size) if bar is not None else None
    rows = written = 0
    warnings: tuple[str, ...] = ()
    writer = _KeyedWriter(conn, spec) if spec.key else _usage_writer(conn, size)
    with path.open("rb", buffering=0) as raw, writer:
        reader = csv.reader(io.TextIOWrapper(io.BufferedReader(raw, 1 << 20), encoding="utf-8-sig", newline=""))
        previous = 0  # physical line where the last record read ended
        try:
            header = next(reader, None)
            if header is None:
                problems.add(f"{name}:1: the file is empty; it needs a header row: {','.join(spec.names)}")
                return FileSummary(spec.kind, str(path), 0, 0, 0, ())
            plan = RowPlan(spec, header)
            if isinstance(writer, _KeyedWriter):
                writer.only(plan.present)
                plan.stored = _stored_values(conn, spec, plan)
            for column, what in plan.header_problems:
                problems.add(f"{name}:1: {column}: {what}")
            warnings = tuple(f"{name}:1: {column}: {what}" for column, what in plan.warnings)
            checks = _CrossRowChecks(spec, plan, known_accounts)
            batch: list[list[Any]] = []
            previous = reader.line_num
            for cells in reader:
                line, previous = previous + 1, reader.line_num
                if not cells:
                    continue
                values, row_problems = plan.parse(cells)
                if row_problems and not any(c.strip() for c in cells):
                    continue  # a row of empty cells, as spreadsheets leave behind
                rows += 1
                checks.check(values, line, row_problems)
                if row_problems:
                    for column, what in row_problems:
                        problems.add(f"{name}:{line}: {column}: {what}" if column else f"{name}:{line}: {what}")
                elif not problems.total:
                    batch.append(values)
                    if len(batch) >= BATCH_ROWS:
                        writer.write(batch)
                        written += len(batch)
                        batch = []
                        if task is not None:
                            bar.update(task, completed=raw.tell())
            if batch and not problems.total:
                writer.write(batch)
                written += len(batch)
        except UnicodeDecodeError:
            bad_line, byte = _first_undecodable_line(path)
            problems.add(f"{name}:{bad_line}: the file is not UTF-8 text (byte {byte}); save it as CSV UTF-8")
        except csv.Error as exc:
            problems.add(f"{name}:{previous + 1}: {exc}; check for an unbalanced double quote")
        finally:
            if task is not None:
                bar.update(task, completed=size)
    if problems:
        return FileSummary(spec.kind, str(path), rows, 0, 0, warnings)
    watermark = getattr(writer, "watermark", None)
    inserted, updated = writer.finish(written)
    written_files[spec.kind] = _Written(plan, checks.first_line_of.keys(), watermark)
    return FileSummary(spec.kind, str(path), rows, inserted, updated, warnings)


class _CrossRowChecks:
    """What one row cannot tell alone: a key seen before in the file, an account_id nobody knows."""

    def __init__(self, spec: FileSpec, plan: RowPlan, known_accounts: set[str]) -> None:
        self.spec = spec
        self.is_accounts = spec.kind == "accounts"
        self.account_at = plan.index["account_id"] if self.is_accounts or spec.references_accounts else None
        self.known_accounts = known_accounts
        self.key_at = [plan.index[k] for k in spec.key]
        self.key_label = ", ".join(spec.key)
        self.first_line_of: dict[tuple, int] = {}

    def check(self, values: list[Any], line: int, problems: list[tuple[str, str]]) -> None:
        if self.account_at is not None:
            account = values[self.account_at]
            if account is BAD:
                pass
            elif self.is_accounts:
                self.known_accounts.add(account)
            elif account not in self.known_accounts:
                problems.append(
                    ("account_id", f"{account!r} is not a known account; add it to accounts.csv or fix the id")
                )
        if self.key_at:
            key = tuple(values[k] for k in self.key_at)
            if all(v is not BAD for v in key):
                first = self.first_line_of.setdefault(key, line)
                if first != line:
                    shown = ", ".join(repr(_show(v)) for v in key)
                    problems.append((self.key_label, f"{shown} is on lines {first} and {line}; keep one row per key"))


def _first_undecodable_line(path: Path) -> tuple[int, str]:
    """The physical line number and the byte (hex) of the first invalid UTF-8 in `path`."""
    with path.open("rb") as f:
        for number, data in enumerate(f, start=1):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, f"0x{data[exc.start]:02x}"
    return 1, "?"


def _show(value: Any) -> Any:
    """A key value as the file writes it (months are stored as their first day)."""
    return value.strftime("%Y-%m") if isinstance(value, dt.date) else value


@contextlib.contextmanager
def _progress_bar(enabled: bool) -> Iterator[Any]:
    """A rich progress display (one bar per file, in bytes) when asked for and stderr is a terminal."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, TimeRemainingColumn(), console=console) as bar:
        yield bar


# --- writing -------------------------------------------------------------------------------------


def _begin_sqlite_for_real(conn: Connection) -> None:
    """Make the SQLite transaction real from the start.

    Python's sqlite3 module only opens a transaction before INSERT/UPDATE/DELETE, so reads before the
    first write and DDL (the usage writer may drop and rebuild indexes) would run outside of it.
    BEGIN IMMEDIATE also takes the write lock up front (waiting up to the engine's busy timeout).
    """
    if conn.dialect.name == "sqlite" and not conn.connection.driver_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class _Writer(contextlib.ExitStack):
    """Writes validated batches of one file; used as a context manager around the whole file."""

    def write(self, batch: list[list[Any]]) -> None:
        raise NotImplementedError

    def finish(self, written: int) -> tuple[int, int]:
        """After the file (and the context) ended without problems: (inserted, updated)."""
        raise NotImplementedError


class _KeyedWriter(_Writer):
    """Upsert (INSERT ... ON CONFLICT (key) DO UPDATE) in batches; counts come from the table size."""

    def __init__(self, conn: Connection, spec: FileSpec) -> None:
        super().__init__()
        self.conn = conn
        self.names = spec.names
        self.table = spec.table
        self.key = spec.key
        self.only(spec.names)
        self.before: int | None = None

    def only(self, present: Sequence[str]) -> None:
        """Write over stored rows only the columns in the file's header (new rows get every column)."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(self.table)
        update = {n: stmt.excluded[n] for n in present if n not in self.key}
        if update:
            self.stmt = stmt.on_conflict_do_update(index_elements=list(self.key), set_=update)
        else:
            self.stmt = stmt.on_conflict_do_nothing(index_elements=list(self.key))

    def _count(self) -> int:
        return self.conn.scalar(select(func.count()).select_from(self.table))

    def write(self, batch: list[list[Any]]) -> None:
        if self.before is None:
            self.before = self._count()
        self.conn.execute(self.stmt, [dict(zip(self.names, values, strict=True)) for values in batch])

    def finish(self, written: int) -> tuple[int, int]:
        if self.before is None:
            return 0, 0
        inserted = self._count() - self.before
        return inserted, written - inserted


_USAGE = UsageEvent.__table__
_USAGE_COLUMNS = "account_id, user_id, occurred_at, feature, duration_seconds"
_USAGE_BYTES_PER_ROW = 64
"""A low guess of the size of one usage.csv row, to estimate a file's rows from its size."""
_REBUILD_MIN_ROWS = 100_000
"""SQLite rebuilds the usage indexes (see `_SqliteUsageWriter.start`) only for files of at least this many rows."""
_ANALYZE_MIN_ROWS = 100_000
"""Postgres refreshes the usage statistics before replacing slices after at least this many new rows."""


class _UsageWriter(_Writer):
    """Append usage rows; `finish` deletes the older rows of every (account_id, UTC day) slice touched.

    Rows inserted by this import are the ones with an id above `watermark` (ids only grow), so the
    replaced slices are computed in SQL from them, however many there are.
    """

    def __init__(self, conn: Connection, file_bytes: int) -> None:
        super().__init__()
        self.conn = conn
        self.file_bytes = file_bytes
        self.watermark: int | None = None  # set before the first row is written

    def start(self) -> None:
        self.watermark = self.conn.scalar(select(func.coalesce(func.max(_USAGE.c.id), 0)))

    def write(self, batch: list[list[Any]]) -> None:
        if self.watermark is None:
            self.start()
        self.insert(batch)

    def insert(self, batch: list[list[Any]]) -> None:
        raise NotImplementedError


class _SqliteUsageWriter(_UsageWriter):
    """executemany in batches; the slices to replace go to a temporary table, and the older rows are
    deleted in bounded steps (SQLite keeps the rowids a DELETE will remove in memory)."""

    OLD_ROWS_PER_STEP = 500_000
    SLICES_PER_STEP = 20_000

    def __init__(self, conn: Connection, file_bytes: int) -> None:
        super().__init__(conn, file_bytes)
        self.dropped_indexes: list[Any] = []

    def start(self) -> None:
        super().start()
        # Growing two indexes row by row costs SQLite 3-4 times what rebuilding them costs: when the
        # table holds fewer than twice the rows the file (at least) brings, drop them now and rebuild
        # them in `finish`, in the same transaction (readers keep their indexed snapshot meanwhile).
        expected = self.file_bytes // _USAGE_BYTES_PER_ROW
        if expected >= _REBUILD_MIN_ROWS and self._rows_up_to(2 * expected) < 2 * expected:
            present = {ix["name"] for ix in inspect(self.conn).get_indexes(_USAGE.name)}
            self.dropped_indexes = [ix for ix in _USAGE.indexes if ix.name in present]
            for index in self.dropped_indexes:
                index.drop(self.conn)
            for trigger in SQLITE_USAGE_TRIGGERS:  # the slices are marked dirty in `finish`, once each
                self.conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")

    def finish(self, written: int) -> tuple[int, int]:
        mark = self.watermark
        if mark is None:
            return written, 0
        sql = self.conn.exec_driver_sql
        sql("DROP TABLE IF EXISTS temp.csbot_import_slices")
        sql(
            "CREATE TEMP TABLE csbot_import_slices"
            " (account_id TEXT NOT NULL, day TEXT NOT NULL, UNIQUE (account_id, day))"
        )
        sql(
            "INSERT INTO temp.csbot_import_slices (account_id, day)"
            " SELECT DISTINCT account_id, date(occurred_at) FROM usage_events NOT INDEXED WHERE id > ?",
            (mark,),
        )
        if self.dropped_indexes:  # one pass over the older rows, in id ranges, each looked up in the slices
            for low in range(0, mark, self.OLD_ROWS_PER_STEP):
                sql(
                    "DELETE FROM usage_events WHERE id > ? AND id <= ? AND EXISTS (SELECT 1 FROM"
                    " temp.csbot_import_slices AS s WHERE s.account_id = usage_events.account_id"
                    " AND s.day = date(usage_events.occurred_at))",
                    (low, min(low + self.OLD_ROWS_PER_STEP, mark)),
                )
            for index in self.dropped_indexes:
                index.create(self.conn)
            sql("INSERT OR IGNORE INTO rollup_dirty (account_id, day)"
                " SELECT account_id, day FROM temp.csbot_import_slices")
            install_triggers(self.conn)
        else:  # few new slices in a big table: find their older rows through the (account_id, time) index
            slices = self.conn.scalar(text("SELECT coalesce(max(rowid), 0) FROM temp.csbot_import_slices"))
            for low in range(0, slices, self.SLICES_PER_STEP):
                sql(
                    "DELETE FROM usage_events WHERE id IN (SELECT u.id FROM temp.csbot_import_slices AS s"
                    " JOIN usage_events AS u ON u.account_id = s.account_id"
                    " AND u.occurred_at >= s.day AND u.occurred_at < date(s.day, '+1 day')"
                    " WHERE s.rowid > ? AND s.rowid <= ? AND u.id <= ?)",
                    (low, low + self.SLICES_PER_STEP, mark),
                )
        sql("DROP TABLE temp.csbot_import_slices")
        return written, 0

    def _rows_up_to(self, limit: int) -> int:
        """The table's row count, counting no further than `limit` (a big table is not scanned)."""
        return self.conn.scalar(select(func.count()).select_from(select(_USAGE.c.id).limit(limit).subquery()))

    def insert(self, batch: list[list[Any]]) -> None:
        # Datetimes in SQLAlchemy's SQLite storage format ('YYYY-MM-DD HH:MM:SS.ffffff').
        rows = [(a, u, t.isoformat(" ", "microseconds"), f, d) for a, u, t, f, d in batch]
        self.conn.exec_driver_sql(f"INSERT INTO usage_events ({_USAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?)", rows)


class _PostgresUsageWriter(_UsageWriter):
    """COPY ... FROM STDIN, one COPY for the whole file: the server works while Python parses."""

    delete_sql = (
        "DELETE FROM usage_events AS u USING ("
        " SELECT DISTINCT account_id, date_trunc('day', occurred_at) AS day"
        " FROM usage_events WHERE id > %(mark)s) AS s"
        " WHERE u.id <= %(mark)s AND u.account_id = s.account_id"
        " AND date_trunc('day', u.occurred_at) = s.day"  # lets a big re-import hash-join
        " AND u.occurred_at >= s.day AND u.occurred_at < s.day + interval '1 day'"  # lets a small one use the index
    )

    def __init__(self, conn: Connection, file_bytes: int) -> None:
        super().__init__(conn, file_bytes)
        self.copy: Any = None

    def start(self) -> None:
        # One usage import at a time (readers are not blocked): the watermark must stay below every
        # id inserted meanwhile.
        self.conn.exec_driver_sql("LOCK TABLE usage_events IN SHARE ROW EXCLUSIVE MODE")
        super().start()
        cursor = self.enter_context(self.conn.connection.driver_connection.cursor())
        self.copy = self.enter_context(cursor.copy(f"COPY usage_events ({_USAGE_COLUMNS}) FROM STDIN"))

    def insert(self, batch: list[list[Any]]) -> None:
        write_row = self.copy.write_row
        for values in batch:
            write_row(values)

    def finish(self, written: int) -> tuple[int, int]:
        if self.watermark is None:
            return written, 0
        if written >= _ANALYZE_MIN_ROWS:  # fresh statistics, or the planner guesses the slice join badly
            self.conn.exec_driver_sql("ANALYZE usage_events")
        self.conn.exec_driver_sql(self.delete_sql, {"mark": self.watermark})
        return written, 0


def _usage_writer(conn: Connection, file_bytes: int) -> _UsageWriter:
    if conn.dialect.name == "postgresql":
        return _PostgresUsageWriter(conn, file_bytes)
    return _SqliteUsageWriter(conn, file_bytes)
