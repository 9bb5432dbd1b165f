"""KPI benchmark (a script, not a test): kpi_core against its own SQL floor and against naive pandas.

    .venv/bin/python bench/kpi_bench.py [--accounts 10000] [--usage-scale 0.31] [--engines sqlite,postgres]
                                        [--runs 5] [--naive-runs 5] [--kpis nps,mrr,...] [--out docs/benchmarks.md]

(`make bench` runs it with the defaults.) Steps:

1. Demo data (storage.demo_data.write_demo_csvs) at `--accounts` accounts, `--seed`, a fixed `--as-of` and
   `--usage-scale`, written under bench/results/ (git-ignored) and reused when already there. It is imported
   (storage.importer.import_paths) into a SQLite file under bench/results/ and into a Postgres schema of its own
   (`--pg-schema`, default csbot_bench, in the database of `--pg-url`), then ANALYZE runs on both. Both stores are
   reused on the next run when their key (data arguments + hash of the generator, importer and schema code) is the
   same; `--reload` rebuilds them.
2. For every KPI of the catalog over `--period` (default last-quarter, read at `--as-of`), the median of `--runs`
   timed runs after one warm-up of:
   a. kpi_core: kpi_core.engine.query(engine, KpiRequest(kpi, period, Scope()), config) (current + previous period);
   b. the SQL floor: the exact statements and parameters query() sent to the DBAPI cursor (captured with a
      before_cursor_execute listener, both periods), replayed on the raw DBAPI cursor; only execute + fetchall is
      timed;
   c. naive pandas: pd.read_sql of every whole table in KpiDef.tables, then the KPI computed in pandas for both
      periods. Where no pandas version is written (health) only the load is timed, a lower bound.
   Each pandas value is checked against kpi_core's value (a mismatch is printed and reported, never hidden).
   Extra measurements explain the gaps: query() on an already open Connection (so pool checkout, pre-ping and
   reset are left out) and, for KPIs that miss the goal, event timestamps and a cProfile of where the Python time goes.
3. A markdown table per engine is printed and written to `--out` (default docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import hashlib
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy
from sqlalchemy import Engine, event, text

from kpi_core.catalog import KpiDef
from kpi_core.config import KpiConfig, load_config
from kpi_core.context import QueryContext
from kpi_core.engine import list_kpis, query
from kpi_core.periods import Period, parse_period
from kpi_core.types import KpiRequest, KpiResult, Scope
from storage.db import make_engine, upgrade
from storage.demo_data import write_demo_csvs
from storage.importer import import_paths

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_OUT = ROOT / "docs" / "benchmarks.md"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
DATA_TABLES = ("accounts", "revenue", "invoices", "surveys", "tickets", "usage_events", "costs")
RATIO_GOAL = 1.3
NAIVE_GOAL = 10.0
# Code whose change makes stored data or stores stale (hashed into their keys).
DATA_CODE = ("storage/demo_data.py",)
STORE_CODE = ("storage/demo_data.py", "storage/importer.py", "storage/csv_rules.py", "storage/models.py")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _code_hash(paths: tuple[str, ...], extra_dirs: tuple[str, ...] = ()) -> str:
    h = hashlib.sha256()
    files = [ROOT / p for p in paths]
    for d in extra_dirs:
        files += sorted((ROOT / d).glob("*.py"))
    for f in files:
        if f.exists():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


# ================================================================================================ data and stores


@dataclass(frozen=True)
class DataSpec:
    accounts: int
    seed: int
    as_of: dt.date
    usage_scale: float

    @property
    def name(self) -> str:
        return f"a{self.accounts}-s{self.seed}-{self.as_of.isoformat()}-u{self.usage_scale:g}"

    def key(self, code: tuple[str, ...], extra_dirs: tuple[str, ...] = ()) -> str:
        return f"{self.name}-{_code_hash(code, extra_dirs)}"


def build_data(spec: DataSpec, reload: bool) -> tuple[Path, dict[str, int]]:
    """The demo CSV folder for `spec` (written unless a complete one with the same key is there) and its row counts."""
    folder = RESULTS / f"data-{spec.name}"
    marker = folder / "complete.json"
    key = spec.key(DATA_CODE)
    if not reload and marker.exists() and json.loads(marker.read_text()).get("key") == key:
        counts = json.loads(marker.read_text())["rows"]
        log(f"reusing demo data {folder.relative_to(ROOT)}")
        return folder, counts
    if folder.exists():
        shutil.rmtree(folder)
    log(f"writing demo data: {spec.accounts} accounts, seed {spec.seed}, as of {spec.as_of}, "
        f"usage_scale {spec.usage_scale:g} -> {folder.relative_to(ROOT)}")
    t0 = time.perf_counter()
    paths = write_demo_csvs(folder, accounts=spec.accounts, seed=spec.seed, as_of=spec.as_of,
                            usage_scale=spec.usage_scale)
    counts = {}
    for path in paths:
        with path.open("rb") as fh:
            counts[path.stem] = sum(1 for _ in fh) - 1
    marker.write_text(json.dumps({"key": key, "rows": counts}, indent=2))
    log(f"demo data written in {time.perf_counter() - t0:.1f} s: {counts}")
    return folder, counts


def _import(engine: Engine, folder: Path) -> float:
    t0 = time.perf_counter()
    import_paths(engine, [folder], reporting_tz="UTC")
    return time.perf_counter() - t0


def sqlite_store(spec: DataSpec, folder: Path, reload: bool) -> tuple[Engine, dict[str, Any]]:
    db = RESULTS / f"kpi_bench-{spec.name}.db"
    marker = db.with_suffix(".json")
    key = spec.key(STORE_CODE, ("storage/migrations/versions",))
    if not reload and db.exists() and marker.exists() and json.loads(marker.read_text()).get("key") == key:
        log(f"reusing SQLite store {db.relative_to(ROOT)}")
        return make_engine(f"sqlite:///{db}"), json.loads(marker.read_text())
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    marker.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    log(f"importing into SQLite {db.relative_to(ROOT)} ...")
    seconds = _import(engine, folder)
    t0 = time.perf_counter()
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    info = {"key": key, "import_seconds": round(seconds, 1), "analyze_seconds": round(time.perf_counter() - t0, 1)}
    marker.write_text(json.dumps(info, indent=2))
    log(f"SQLite import {seconds:.0f} s, ANALYZE {info['analyze_seconds']} s")
    return engine, info


def postgres_store(spec: DataSpec, folder: Path, url: str, schema: str, reload: bool) -> tuple[Engine, dict[str, Any]]:
    key = spec.key(STORE_CODE, ("storage/migrations/versions",))
    admin = make_engine(url)
    with admin.connect() as conn:
        comment = conn.scalar(
            text("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :s"), {"s": schema}
        )
    stored = json.loads(comment) if comment else {}
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    if not reload and stored.get("key") == key:
        admin.dispose()
        log(f"reusing Postgres schema {schema}")
        return engine, stored
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    upgrade(engine)
    log(f"importing into Postgres schema {schema} ...")
    seconds = _import(engine, folder)
    t0 = time.perf_counter()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    info = {"key": key, "import_seconds": round(seconds, 1), "analyze_seconds": round(time.perf_counter() - t0, 1)}
    with admin.begin() as conn:
        conn.exec_driver_sql(f"COMMENT ON SCHEMA \"{schema}\" IS '{json.dumps(info)}'")
    admin.dispose()
    log(f"Postgres import {seconds:.0f} s, VACUUM ANALYZE {info['analyze_seconds']} s")
    return engine, info


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: int(conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()) for t in DATA_TABLES}


# ============================================================================================ naive pandas KPIs

DATE_COLUMNS = {
    "accounts": ["signed_up_at", "became_customer_at", "first_value_at", "churned_at", "renewal_date"],
    "revenue": ["month"],
    "invoices": ["issued_at"],
    "surveys": ["responded_at"],
    "tickets": ["opened_at", "resolved_at"],
    "usage_events": ["occurred_at"],
    "costs": ["month"],
}
MONEY_COLUMNS = {"revenue": ["mrr"], "invoices": ["amount"], "costs": ["amount"]}


def load_tables(engine: Engine, tables: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """pd.read_sql of whole tables, dates parsed (SQLite gives ISO strings), money as float."""
    frames = {}
    with engine.connect() as conn:
        for t in tables:
            parse = {c: {"format": "ISO8601"} for c in DATE_COLUMNS[t]}
            df = pd.read_sql(f"SELECT * FROM {t}", conn, parse_dates=parse)
            for c in MONEY_COLUMNS.get(t, []):
                df[c] = df[c].astype(float)
            frames[t] = df
    return frames


def _ratio(numerator: float, denominator: float, scale: float = 1.0) -> float | None:
    return None if not denominator else float(numerator) * scale / float(denominator)


def _ts(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day)


def _in_period(col: pd.Series, ctx: QueryContext) -> pd.Series:
    lo, hi = ctx.utc_range()
    return (col >= lo) & (col < hi)


def _between(col: pd.Series, start: dt.date, end: dt.date) -> pd.Series:
    return (col >= _ts(start)) & (col <= _ts(end))


def _customer_on(acc: pd.DataFrame, day: dt.date) -> pd.Series:
    d = _ts(day)
    became, churned = acc["became_customer_at"], acc["churned_at"]
    return became.notna() & (became <= d) & (churned.isna() | (churned > d))


def _scores(t: dict[str, pd.DataFrame], ctx: QueryContext, kind: str) -> pd.Series:
    s = t["surveys"]
    return s.loc[(s["survey"] == kind) & _in_period(s["responded_at"], ctx), "score"]


def pd_nps(t, ctx):
    sc = _scores(t, ctx, "nps")
    return _ratio((sc >= 9).sum() - (sc <= 6).sum(), len(sc), 100)


def pd_csat(t, ctx):
    sc = _scores(t, ctx, "csat")
    return _ratio((sc >= 4).sum(), len(sc), 100)


def pd_csi(t, ctx):
    sc = _scores(t, ctx, "csat")
    return None if sc.empty else 100 * (sc.mean() - 1) / 4


def pd_ces(t, ctx):
    sc = _scores(t, ctx, "ces")
    return None if sc.empty else float(sc.mean())


def _movement(t, ctx) -> dict[str, int]:
    acc = t["accounts"]
    one = dt.timedelta(days=1)
    at_start = _customer_on(acc, ctx.start - one)
    churned = _between(acc["churned_at"], ctx.start, ctx.end)
    new = _between(acc["became_customer_at"], ctx.start, ctx.end)
    referral = acc["acquisition_source"].fillna("").str.strip(" ").str.lower() == "referral"
    return {
        "at_start": int(at_start.sum()),
        "lost": int((at_start & churned).sum()),
        "new": int(new.sum()),
        "referral": int((new & referral).sum()),
        "at_end": int(_customer_on(acc, ctx.end).sum()),
    }


def pd_retention(t, ctx):
    m = _movement(t, ctx)
    return _ratio(m["at_start"] - m["lost"], m["at_start"], 100)


def pd_churn(t, ctx):
    m = _movement(t, ctx)
    return _ratio(m["lost"], m["at_start"], 100)


def pd_customers(t, ctx):
    return float(_movement(t, ctx)["at_end"])


def pd_new_customers(t, ctx):
    return float(_movement(t, ctx)["new"])


def pd_referrals(t, ctx):
    m = _movement(t, ctx)
    return _ratio(m["referral"], m["new"], 100)


def pd_trial_conversion(t, ctx):
    acc = t["accounts"]
    signed = _between(acc["signed_up_at"], ctx.start, ctx.end)
    return _ratio((signed & acc["became_customer_at"].notna()).sum(), signed.sum(), 100)


def pd_ttv(t, ctx):
    acc = t["accounts"]
    reached = acc[_between(acc["first_value_at"], ctx.start, ctx.end)]
    days = (reached["first_value_at"] - reached["signed_up_at"]).dt.days
    return None if days.empty else float(days.median())


def _month(day: dt.date) -> pd.Timestamp:
    return _ts(day.replace(day=1))


def pd_mrr(t, ctx):
    rev = t["revenue"]
    rows = rev[rev["month"] == _month(ctx.end)]
    return None if rows.empty else round(float(rows["mrr"].sum()), 2)


def _arpa(t, end: dt.date) -> float | None:
    rev = t["revenue"]
    rows = rev[rev["month"] == _month(end)]
    per = rows.groupby("account_id")["mrr"].sum()
    paying = per[per > 0].round(2)
    return _ratio(paying.sum(), len(paying))


def pd_arpa(t, ctx):
    return _arpa(t, ctx.end)


def _per_account_mrr(t, ctx, by: list[str]) -> pd.DataFrame:
    rev = t["revenue"]
    first, last = _month(ctx.start - dt.timedelta(days=1)), _month(ctx.end)
    rows = rev[rev["month"].isin([first, last])]
    frame = pd.DataFrame({
        **{c: rows[c] for c in by},
        "s": rows["mrr"].where(rows["month"] == first, 0.0),
        "e": rows["mrr"].where(rows["month"] == last, 0.0),
    })
    return frame.groupby(by)[["s", "e"]].sum().round(2)


def pd_nrr(t, ctx):
    per = _per_account_mrr(t, ctx, ["account_id"])
    cohort = per[per["s"] > 0]
    return _ratio(cohort["e"].sum(), cohort["s"].sum(), 100)


def pd_grr(t, ctx):
    per = _per_account_mrr(t, ctx, ["account_id"])
    cohort = per[per["s"] > 0]
    return _ratio(np.minimum(cohort["e"], cohort["s"]).sum(), cohort["s"].sum(), 100)


def pd_expansion(t, ctx):
    per_product = _per_account_mrr(t, ctx, ["account_id", "product"])
    per_product["new_product"] = (per_product["e"] > 0) & (per_product["s"] == 0)
    per = per_product.groupby(level="account_id").agg(s=("s", "sum"), e=("e", "sum"), cross=("new_product", "any"))
    per[["s", "e"]] = per[["s", "e"]].round(2)
    cohort = per[per["s"] > 0]
    return _ratio(((cohort["e"] > cohort["s"]) | cohort["cross"]).sum(), len(cohort), 100)


def _cost(t, category: str, start: dt.date, end: dt.date) -> tuple[float, int]:
    """Cost of [start, end]: each month's amount x days inside / days in the month; and the rows used."""
    costs = t["costs"]
    rows = costs[(costs["category"] == category) & (costs["month"] >= _month(start)) & (costs["month"] <= _ts(end))]
    month_end = rows["month"] + pd.offsets.MonthEnd(0)
    first = rows["month"].where(rows["month"] > _ts(start), _ts(start))
    last = month_end.where(month_end < _ts(end), _ts(end))
    inside = (last - first).dt.days + 1
    return float((rows["amount"] * inside / month_end.dt.day).sum()), len(rows)


def pd_cac(t, ctx):
    cost, rows = _cost(t, "acquisition", ctx.start, ctx.end)
    new = _movement(t, ctx)["new"]
    return None if not rows or not new else cost / new


def pd_retention_cost(t, ctx):
    cost, rows = _cost(t, "retention", ctx.start, ctx.end)
    at_start = _movement(t, ctx)["at_start"]
    return None if not rows or not at_start else cost / at_start


def pd_clv(t, ctx):
    arpa = _arpa(t, ctx.end)
    end = ctx.end
    try:
        year_before = end.replace(year=end.year - 1)
    except ValueError:
        year_before = end.replace(year=end.year - 1, day=28)
    first = year_before + dt.timedelta(days=1)
    acc = t["accounts"]
    at_start = _customer_on(acc, first - dt.timedelta(days=1))
    lost = int((at_start & (acc["churned_at"] <= _ts(end))).sum())
    new = int(_between(acc["became_customer_at"], first, end).sum())
    cost, rows = _cost(t, "acquisition", first, end)
    if arpa is None or not at_start.sum() or not rows or not new:
        return None
    monthly_churn = lost / int(at_start.sum()) / 12
    lifetime = 120.0 if monthly_churn <= 0 else min(1 / monthly_churn, 120.0)
    return arpa * ctx.config.gross_margin * lifetime - cost / new


def _events(t, ctx) -> pd.DataFrame:
    u = t["usage_events"]
    return u[_in_period(u["occurred_at"], ctx)]


def pd_adoption(t, ctx):
    acc = t["accounts"]
    customers = acc.loc[_customer_on(acc, ctx.end), "account_id"]
    active = _events(t, ctx)["account_id"].unique()
    return _ratio(customers.isin(active).sum(), len(customers), 100)


def _local_day(ts: pd.Series, config: KpiConfig) -> pd.Series:
    if config.reporting_timezone == "UTC":
        return ts.dt.floor("D")
    return ts.dt.tz_localize("UTC").dt.tz_convert(config.reporting_timezone).dt.tz_localize(None).dt.floor("D")


def pd_stickiness(t, ctx):
    ev = _events(t, ctx)
    users = len(ev[["account_id", "user_id"]].drop_duplicates())
    days = ev[["account_id", "user_id"]].assign(day=_local_day(ev["occurred_at"], ctx.config))
    user_days = len(days.drop_duplicates())
    return _ratio(user_days / ctx.period.days, users, 100)


def pd_time_on_platform(t, ctx):
    ev = _events(t, ctx)
    users = len(ev[["account_id", "user_id"]].drop_duplicates())
    return _ratio(ev["duration_seconds"].sum() / 60, users)


def pd_fcr(t, ctx):
    tk = t["tickets"]
    resolved = tk[_in_period(tk["resolved_at"], ctx) & tk["contacts"].notna()]
    return _ratio((resolved["contacts"] == 1).sum(), len(resolved), 100)


def pd_resolution_time(t, ctx):
    tk = t["tickets"]
    resolved = tk[_in_period(tk["resolved_at"], ctx)]
    hours = (resolved["resolved_at"] - resolved["opened_at"]).dt.total_seconds() / 3600
    return None if hours.empty else float(hours.median())


def _invoices_per_account(t, ctx) -> pd.Series:
    inv = t["invoices"]
    return inv[_between(inv["issued_at"], ctx.start, ctx.end)].groupby("account_id").size()


def pd_repeat_purchase(t, ctx):
    per = _invoices_per_account(t, ctx)
    return _ratio((per >= 2).sum(), len(per), 100)


def pd_purchase_frequency(t, ctx):
    per = _invoices_per_account(t, ctx)
    return _ratio(per.sum(), len(per))


NAIVE: dict[str, Callable[[dict[str, pd.DataFrame], QueryContext], float | None]] = {
    name[3:]: fn for name, fn in globals().items() if name.startswith("pd_") and callable(fn)
}


# ================================================================================================== measuring


@dataclass
class Result:
    kpi: str
    engine: str
    core_ms: float = 0.0
    core_conn_ms: float = 0.0
    floor_ms: float = 0.0
    naive_ms: float | None = None
    naive_kind: str = ""  # "full" | "load only"
    naive_runs: int = 0
    naive_load_ms: float = 0.0
    runs: int = 0
    statements: int = 0
    value: float | None = None
    previous: float | None = None
    pandas_value: float | None = None
    pandas_previous: float | None = None
    mismatch: str = ""
    profile: dict[str, float] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    cache_misses: int = 0
    slow_ms: float = 2000.0
    slow_plans: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def core_over_floor(self) -> float:
        return self.core_ms / self.floor_ms if self.floor_ms else float("inf")

    @property
    def naive_over_core(self) -> float | None:
        return None if self.naive_ms is None else self.naive_ms / self.core_ms


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def capture_statements(engine: Engine, request: KpiRequest, config: KpiConfig) -> tuple[KpiResult, list[tuple]]:
    """Run query() once (the warm-up) and record every (statement, parameters) it sends to the DBAPI cursor."""
    captured: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        result = query(engine, request, config)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return result, captured


def time_core(engine: Engine, request: KpiRequest, config: KpiConfig) -> float:
    t0 = time.perf_counter()
    query(engine, request, config)
    return time.perf_counter() - t0


def time_core_on_connection(engine: Engine, request: KpiRequest, config: KpiConfig) -> float:
    with engine.connect() as conn:
        t0 = time.perf_counter()
        query(conn, request, config)
        return time.perf_counter() - t0


def time_floor(engine: Engine, statements: list[tuple]) -> float:
    """The captured statements on the raw DBAPI cursor; only execute + fetchall is timed."""
    total = 0.0
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            for statement, parameters in statements:
                t0 = time.perf_counter()
                cursor.execute(statement, parameters)
                cursor.fetchall()
                total += time.perf_counter() - t0
        finally:
            cursor.close()
    return total


def time_naive(engine: Engine, kdef: KpiDef, ctx: QueryContext, prev_ctx: QueryContext):
    """(seconds, load seconds, current, previous, kind): load the KPI's whole tables, then compute both periods."""
    fn = NAIVE.get(kdef.id)
    t0 = time.perf_counter()
    tables = load_tables(engine, kdef.tables)
    loaded = time.perf_counter()
    current = previous = None
    if fn is not None:
        current, previous = fn(tables, ctx), fn(tables, prev_ctx)
    seconds = time.perf_counter() - t0
    del tables
    gc.collect()
    return seconds, loaded - t0, current, previous, "full" if fn else "load only"


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= 2e-4 + 1e-8 * abs(float(b))


DRIVER = "driver"
PROFILE_BUCKETS = (
    (DRIVER, ("sqlite3", "psycopg", "pg_")),
    ("SQLAlchemy statement build/cache key/compile", ("sqlalchemy/sql/",)),
    ("SQLAlchemy execute/result rows", ("sqlalchemy/engine/", "sqlalchemy/pool/", "sqlalchemy/dialects/")),
    ("kpi_core code", ("kpi_core/",)),
)


def profile_core(engine: Engine, request: KpiRequest, config: KpiConfig, calls: int = 5) -> dict[str, float]:
    """Share of query() time (on an open Connection) per bucket, from cProfile (tottime per function)."""
    prof = cProfile.Profile()
    with engine.connect() as conn:
        prof.enable()
        for _ in range(calls):
            query(conn, request, config)
        prof.disable()
    stats = pstats.Stats(prof)
    buckets: dict[str, float] = {name: 0.0 for name, _ in PROFILE_BUCKETS}
    buckets["other (stdlib, builtins)"] = 0.0
    for (filename, _line, funcname), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{filename} {funcname}".replace("\\", "/")
        for name, keys in PROFILE_BUCKETS:
            if any(k in where for k in keys):
                buckets[name] += tottime
                break
        else:
            buckets["other (stdlib, builtins)"] += tottime
    total = sum(buckets.values()) or 1.0
    return {name: value / total for name, value in buckets.items()}


PHASE_BETWEEN = "between statements"  # statement building, fetch + result rows, KPI code, connection handling
PHASE_PREPARE = "execute preparation"  # SQLAlchemy: cache key, compiled-cache lookup, bind parameter processing
PHASE_DRIVER = "driver execute"


def phase_times(engine: Engine, request: KpiRequest, config: KpiConfig, calls: int) -> tuple[dict[str, float], int]:
    """Median ms per query() (on an open Connection) in each phase, from event timestamps.

    before_execute fires once the statement is built; before_cursor_execute once SQLAlchemy has its cache key,
    compiled form and parameters; after_cursor_execute when the DBAPI execute returns.
    """
    marks: list[tuple[str, float]] = []
    misses: list[str] = []

    def before_execute(*_args):
        marks.append(("be", time.perf_counter()))

    def before_cursor(conn, cursor, statement, parameters, context, executemany):
        marks.append(("bce", time.perf_counter()))
        if str(context.cache_hit) != "CacheStats.CACHE_HIT":
            misses.append(statement)

    def after_cursor(*_args):
        marks.append(("ace", time.perf_counter()))

    listeners = (("before_execute", before_execute), ("before_cursor_execute", before_cursor),
                 ("after_cursor_execute", after_cursor))
    names = {("be", "bce"): PHASE_PREPARE, ("bce", "ace"): PHASE_DRIVER}
    samples: list[dict[str, float]] = []
    with engine.connect() as conn:
        for name, fn in listeners:
            event.listen(conn, name, fn)
        try:
            for _ in range(calls):
                marks.clear()
                t0 = time.perf_counter()
                query(conn, request, config)
                points = [("start", t0), *marks, ("end", time.perf_counter())]
                sample = {PHASE_BETWEEN: 0.0, PHASE_PREPARE: 0.0, PHASE_DRIVER: 0.0}
                for (a, ta), (b, tb) in zip(points, points[1:], strict=False):
                    sample[names.get((a, b), PHASE_BETWEEN)] += _ms(tb - ta)
                samples.append(sample)
        finally:
            for name, fn in listeners:
                event.remove(conn, name, fn)
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}, len(misses) // calls


def explain_statements(engine: Engine, statements: list[tuple]) -> list[str]:
    plans = []
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        for statement, parameters in statements:
            cursor.execute(prefix + statement, parameters)
            rows = cursor.fetchall()
            plan = "\n".join(str(r[0]) if postgres else f"{r[0]}|{r[1]}|{r[3]}" for r in rows)
            plans.append(f"-- statement\n{statement}\n-- parameters\n{parameters!r}\n-- plan\n{plan}\n")
        cursor.close()
    return plans


def measure(engine: Engine, engine_name: str, kdef: KpiDef, period: Period, config: KpiConfig,
            args: argparse.Namespace) -> Result:
    request = KpiRequest(kdef.id, period, Scope())
    res = Result(kdef.id, engine_name, slow_ms=args.slow_ms)
    # warm-up of kpi_core, capturing what it sends to the database (both periods)
    t0 = time.perf_counter()
    answer, statements = capture_statements(engine, request, config)
    warm_up = time.perf_counter() - t0
    res.value, res.previous, res.statements = answer.value, answer.previous.value, len(statements)
    if warm_up < 1.0:  # a query of over a second is its own warm-up
        time_floor(engine, statements)
        time_core_on_connection(engine, request, config)
    core, core_conn, floor = [], [], []
    res.runs = max(args.runs, args.fast_runs) if _ms(warm_up) < args.fast_ms else args.runs
    for _ in range(res.runs):  # interleaved, so drift and other load hit all three alike
        core.append(time_core(engine, request, config))
        floor.append(time_floor(engine, statements))
        core_conn.append(time_core_on_connection(engine, request, config))
    res.core_ms = _ms(statistics.median(core))
    res.floor_ms = _ms(statistics.median(floor))
    res.core_conn_ms = _ms(statistics.median(core_conn))
    if res.core_over_floor > RATIO_GOAL:
        calls = 5 if warm_up < 1.0 else 1
        res.phases, res.cache_misses = phase_times(engine, request, config, calls)
        res.profile = profile_core(engine, request, config, calls)
    if res.core_ms > args.slow_ms:
        res.slow_plans = explain_statements(engine, statements[: len(statements) // 2 or 1])
    if not args.skip_naive:
        ctx = QueryContext(period, Scope(), config)
        prev_ctx = ctx.with_period(period.previous())
        seconds, load, current, previous, kind = time_naive(engine, kdef, ctx, prev_ctx)  # warm-up
        res.naive_kind = kind
        n = args.naive_runs if seconds < args.naive_heavy_s else args.naive_heavy_runs
        runs, loads = ([seconds], [load]) if n == 0 else ([], [])
        for _ in range(n):
            seconds, load, current, previous, kind = time_naive(engine, kdef, ctx, prev_ctx)
            runs.append(seconds)
            loads.append(load)
        res.naive_runs = len(runs)
        res.naive_ms = _ms(statistics.median(runs))
        res.naive_load_ms = _ms(statistics.median(loads))
        if kind == "full":
            res.pandas_value, res.pandas_previous = current, previous
            problems = []
            if not _close(current, res.value):
                problems.append(f"current: kpi_core {res.value} vs pandas {current}")
            if not _close(previous, res.previous):
                problems.append(f"previous: kpi_core {res.previous} vs pandas {previous}")
            res.mismatch = "; ".join(problems)
            if res.mismatch:
                print(f"WARNING value mismatch on {engine_name} {kdef.id}: {res.mismatch}", flush=True)
    res.note = make_note(res)
    return res


def _python_share(profile: dict[str, float]) -> dict[str, float]:
    python = {k: v for k, v in profile.items() if k != DRIVER}
    total = sum(python.values()) or 1.0
    return {k: v / total for k, v in python.items()}


def make_note(r: Result) -> str:
    parts = []
    if r.naive_kind == "load only":
        parts.append("naive = table load only (lower bound)")
    if r.core_over_floor > RATIO_GOAL:
        python = r.core_conn_ms - r.floor_ms
        checkout = r.core_ms - r.core_conn_ms
        detail = (f"misses {RATIO_GOAL}x: {r.core_ms - r.floor_ms:.2f} ms over the floor = {python:.2f} ms Python "
                  f"side of query() for {r.statements} statements")
        if r.phases:
            cache = ("every statement a compiled-cache hit" if not r.cache_misses
                     else f"{r.cache_misses} compiled-cache misses per query()")
            detail += (f" (event timestamps: {r.phases[PHASE_BETWEEN]:.2f} ms between statements = building them, "
                       f"fetching and reading results, KPI code; {r.phases[PHASE_PREPARE]:.2f} ms SQLAlchemy cache "
                       f"key/compiled-cache lookup/bind parameters; {cache})")
        if r.core_ms > 1000:
            detail += (f"; pool checkout/return is not separable from run-to-run noise at this duration (engine vs "
                       f"open connection: {checkout:+.0f} ms)")
        else:
            detail += (f" + {checkout:.2f} ms pool checkout/return" if checkout > 0.005
                       else " + ~0 ms pool checkout/return (within noise)")
        kpi_share = _python_share(r.profile).get("kpi_core code", 0.0)
        if kpi_share > 0.5:
            detail += f"; cProfile puts {kpi_share:.0%} of the Python time in kpi_core's own code"
        parts.append(detail)
    ratio = r.naive_over_core
    if ratio is not None and ratio < NAIVE_GOAL:
        why = ("kpi_core itself is slow here (see Slow KPIs)" if r.core_ms > r.slow_ms
               else f"its tables are small: loading them whole takes only {r.naive_load_ms:,.1f} ms")
        parts.append(f"naive only {ratio:.1f}x slower (goal {NAIVE_GOAL:g}x): {why}")
    if r.mismatch:
        parts.append(f"VALUE MISMATCH ({r.mismatch})")
    return "; ".join(parts) if parts else "meets both goals"


# ===================================================================================================== report


def _fmt(ms: float | None) -> str:
    if ms is None:
        return "–"
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.2f}"


def markdown_table(results: list[Result]) -> str:
    lines = [
        "| KPI | kpi_core ms | SQL floor ms | naive pandas ms | kpi_core/floor | naive/kpi_core | note |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        naive = _fmt(r.naive_ms) + (" (load only)" if r.naive_kind == "load only" else "")
        ratio = r.naive_over_core
        lines.append(
            f"| {r.kpi} | {_fmt(r.core_ms)} | {_fmt(r.floor_ms)} | {naive} | {r.core_over_floor:.2f} | "
            f"{'–' if ratio is None else f'{ratio:,.0f}' if ratio >= 100 else f'{ratio:.1f}'} | {r.note} |"
        )
    return "\n".join(lines)


def diagnostics_table(results: list[Result]) -> str:
    lines = [
        "| KPI | runs | statements (both periods) | query() on open connection ms | checkout + return ms | "
        "naive: load ms (runs) | value (current / previous) | pandas value (current / previous) |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]

    def v(x: float | None) -> str:
        return "null" if x is None else f"{x:.4f}"

    for r in results:
        pandas_v = "–" if r.naive_kind != "full" else f"{v(r.pandas_value)} / {v(r.pandas_previous)}"
        naive_load = "–" if r.naive_ms is None else f"{_fmt(r.naive_load_ms)} ({r.naive_runs})"
        lines.append(
            f"| {r.kpi} | {r.runs} | {r.statements} | {_fmt(r.core_conn_ms)} | {r.core_ms - r.core_conn_ms:.2f} | "
            f"{naive_load} | {v(r.value)} / {v(r.previous)} | {pandas_v} |"
        )
    return "\n".join(lines)


def git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "kpi_core", "storage"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (with uncommitted changes in kpi_core/ or storage/)" if dirty else "")


def write_doc(out: Path, args: argparse.Namespace, spec: DataSpec, period: Period, counts: dict[str, int],
              stores: dict[str, dict[str, Any]], results: dict[str, list[Result]], total_seconds: float,
              load: tuple[tuple[float, float, float], tuple[float, float, float]]) -> None:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
        cpu = model
    except (OSError, StopIteration):
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    pg_version = ""
    if "postgres" in args.engines:
        with make_engine(args.pg_url).connect() as conn:
            settings = {name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                        for name in ("server_version", "shared_buffers", "work_mem", "jit")}
        pg_version = (f"{settings['server_version']} (default settings: shared_buffers {settings['shared_buffers']}, "
                      f"work_mem {settings['work_mem']}, jit {settings['jit']})")
    prev = period.previous()
    rerun_runs = f" --runs {args.runs}" if args.runs != 5 else ""
    lines = [
        "# KPI benchmarks",
        "",
        f"Generated by `bench/kpi_bench.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, code at {git_state()}.",
        "",
        f"- **Machine**: {os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GB RAM, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"pandas {pd.__version__}, SQLite {__import__('sqlite3').sqlite_version}"
        + (f", PostgreSQL {pg_version} on the same machine" if pg_version else "")
        + ". The machine was shared with other work during the run (load average "
        f"{load[0][0]:.1f} at the start, {load[1][0]:.1f} at the end).",
        f"- **Data**: `write_demo_csvs(accounts={spec.accounts}, seed={spec.seed}, as_of={spec.as_of}, "
        f"usage_scale={spec.usage_scale:g})`, stored: {counts['accounts']:,} accounts, "
        f"{counts['usage_events']:,} usage events, {counts['surveys']:,} survey responses, "
        f"{counts['tickets']:,} tickets, {counts['revenue']:,} revenue rows, {counts['invoices']:,} invoices, "
        f"{counts['costs']:,} cost rows. ANALYZE run after loading (VACUUM ANALYZE on Postgres).",
        f"- **Question**: every KPI of the catalog over `{args.period}` = {period.describe()}, compared with "
        f"{prev.describe()}; no scope; reporting time zone {args.config_tz}.",
        f"- **Runs**: kpi_core and the SQL floor: median of {args.runs} timed runs after one warm-up, interleaved "
        f"(kpi_core, floor, kpi_core on an open connection); KPIs whose warm-up took under {args.fast_ms:g} ms get "
        f"{max(args.runs, args.fast_runs)} runs instead, because a few-millisecond median of 5 is mostly noise on "
        f"a shared 2-core machine. Naive pandas: median of {args.naive_runs} runs after one warm-up; when the "
        f"warm-up took over {args.naive_heavy_s:g} s (the 5M-row usage table), "
        + (f"{args.naive_heavy_runs} run(s) after it" if args.naive_heavy_runs else "the warm-up itself is the "
           "measurement")
        + f" to keep the whole benchmark under 25 minutes. Whole benchmark (data and stores reused or built, every "
        f"measurement): {total_seconds / 60:.1f} min.",
        "",
        "## How to rerun",
        "",
        "```",
        "make bench                                   # = .venv/bin/python bench/kpi_bench.py",
        f".venv/bin/python bench/kpi_bench.py --accounts {spec.accounts} --usage-scale {spec.usage_scale:g} "
        f"--engines {args.engines}{rerun_runs}",
        "```",
        "",
        "Flags: `--accounts N`, `--usage-scale X` (usage events; ~0.31 gives ~5M events at 10k accounts), "
        "`--seed`, `--as-of YYYY-MM-DD`, `--engines sqlite,postgres`, `--runs N` (kpi_core and floor), "
        "`--naive-runs N` (0 = time the warm-up only), `--kpis a,b,c`, `--period TEXT`, `--pg-url URL`, "
        "`--pg-schema NAME`, `--reload` (rebuild data and stores), `--skip-naive`, `--out PATH`. Demo data, the "
        "SQLite file and EXPLAIN output go to `bench/results/` (git-ignored); the Postgres data to the schema "
        f"`{args.pg_schema}` of the `--pg-url` database. Both stores are reused while the data arguments and the "
        "storage code are unchanged.",
        "",
        "## What is measured",
        "",
        "- **kpi_core**: `kpi_core.engine.query(engine, KpiRequest(kpi, period, Scope()), config)`: current and "
        "previous period, including connection checkout from the pool (with `pool_pre_ping` on Postgres), statement "
        "building and compilation, result processing and the KPI's own Python.",
        "- **SQL floor**: the exact statements and parameters that `query()` sent to the DBAPI cursor (captured "
        "with a `before_cursor_execute` listener, both periods), replayed on the raw DBAPI cursor of a pooled "
        "connection; only `execute` + `fetchall` is timed. It is what the database needs for the answer as kpi_core "
        "asks it.",
        "- **naive pandas**: `pd.read_sql(\"SELECT * FROM <table>\")` of every table in `KpiDef.tables` (dates "
        "parsed, money as float), then the KPI computed in pandas for both periods. For `health` only the load "
        "is timed (marked load only: a lower bound of a naive version). Every pandas value is checked against "
        "kpi_core's (4 decimals).",
        f"- **Goal**: kpi_core within {RATIO_GOAL}x of its SQL floor and at least {NAIVE_GOAL:g}x faster than "
        "naive on every KPI. A KPI that misses says why in the note, from measurements: the gap over the floor "
        "is split into the Python side of `query()` (`query()` on an already open connection minus the floor) and "
        "connection checkout/return (`query()` on the engine minus `query()` on an open connection). The Python "
        "side is then split with SQLAlchemy event timestamps over 5 `query()` calls on an open connection "
        "(`before_execute` = statement built, `before_cursor_execute` = cache key, compiled form and parameters "
        "ready, `after_cursor_execute` = driver returned): time in SQLAlchemy's execute preparation vs time "
        "between statements (building the Core statement, reading the result, the KPI's own Python); the "
        "`context.cache_hit` of every statement is checked, and a cProfile of the same calls says when the "
        "KPI's own code dominates (health). On SQLite a statement's rows are computed as they are fetched, so "
        "for multi-row results (health's per-account GROUP BYs) much of the database time shows up as \"between "
        "statements\" there; the cProfile share is the better guide in that case.",
        "",
    ]
    for name, rows in results.items():
        info = stores.get(name, {})
        lines += [
            f"## {name}",
            "",
            f"Store import {info.get('import_seconds', '?')} s, ANALYZE {info.get('analyze_seconds', '?')} s "
            "(when the store was built).",
            "",
            markdown_table(rows),
            "",
            _summary(rows),
            "",
            "<details><summary>Diagnostics: statements, open-connection timing, values</summary>",
            "",
            diagnostics_table(rows),
            "",
            "</details>",
            "",
        ]
    lines += ["## Observations", "", *observations(results), ""]
    mismatches = [r for rows in results.values() for r in rows if r.mismatch]
    lines += ["## Value checks (pandas vs kpi_core)", ""]
    if mismatches:
        lines += [f"- **{r.engine} {r.kpi}**: {r.mismatch}" for r in mismatches]
    else:
        checked = sum(1 for rows in results.values() for r in rows if r.naive_kind == "full")
        lines.append(f"All {checked} pandas re-computations agree with kpi_core (current and previous period)."
                     if checked else "Naive pandas was skipped in this run; no values were checked.")
    slow = [r for rows in results.values() for r in rows if r.slow_plans]
    lines += ["", f"## Slow KPIs (kpi_core over {args.slow_ms:,.0f} ms)", ""]
    if slow:
        for r in slow:
            lines += [f"- **{r.engine} {r.kpi}**: {_fmt(r.core_ms)} ms (floor {_fmt(r.floor_ms)} ms, both periods). "
                      "Plan highlights of its current-period statements:", "", "  ```",
                      *[f"  {h}" for h in plan_highlights(r.slow_plans)], "  ```", "",
                      "  <details><summary>full plans</summary>", "", "  ```",
                      *[f"  {line}" for plan in r.slow_plans for line in plan.splitlines()], "  ```", "",
                      "  </details>", ""]
    else:
        lines.append("None.")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


HIGHLIGHTS = ("-- statement", "Execution Time", "external merge", "Disk Usage", "Timing: Generation", "Batches:",
              "USE TEMP B-TREE", "SEARCH ", "SCAN ")


def plan_highlights(plans: list[str]) -> list[str]:
    """The lines of the plans that say where the time goes: spills to disk, JIT, temp b-trees, scans."""
    out = []
    for i, plan in enumerate(plans, 1):
        out.append(f"statement {i}: {' '.join(plan.split('-- parameters')[0].split())[13:110]}...")
        for line in plan.split("-- plan", 1)[-1].splitlines():
            if any(h in line for h in HIGHLIGHTS) and "Batches: 1 " not in line and "SCAN CONSTANT" not in line:
                out.append("    " + line.strip())
    return out


def observations(results: dict[str, list[Result]]) -> list[str]:
    """Measured patterns across KPIs (not per-KPI notes)."""
    lines = []
    for name, rows in results.items():
        per_statement = sorted((r.core_conn_ms - r.floor_ms) / max(r.statements, 1) for r in rows
                               if r.kpi != "health" and r.floor_ms < 100)
        if not per_statement:
            continue
        lines.append(
            f"- {name}: the Python side of `query()` (on an open connection, minus the floor) costs "
            f"{statistics.median(per_statement):.2f} ms per statement (median over the KPIs with a floor under 100 ms, "
            f"health left out: {len(per_statement)} KPIs; range "
            f"{per_statement[0]:.2f} to {per_statement[-1]:.2f} ms; most KPIs run one statement per period, "
            "2 per query()). "
            "KPIs whose SQL floor is under about "
            f"{statistics.median(per_statement) * 2 / (RATIO_GOAL - 1):.0f} ms cannot be within {RATIO_GOAL}x of "
            "it with that fixed cost."
        )
    return lines


def _summary(rows: list[Result]) -> str:
    ratio_miss = [r.kpi for r in rows if r.core_over_floor > RATIO_GOAL]
    naive_miss = [r.kpi for r in rows if r.naive_over_core is not None and r.naive_over_core < NAIVE_GOAL]
    parts = [
        f"Within {RATIO_GOAL}x of the floor: {len(rows) - len(ratio_miss)} of {len(rows)} KPIs"
        + (f" (missing: {', '.join(ratio_miss)})." if ratio_miss else "."),
    ]
    if any(r.naive_ms is not None for r in rows):
        parts.append(
            f"At least {NAIVE_GOAL:g}x faster than naive: {len(rows) - len(naive_miss)} of {len(rows)}"
            + (f" (missing: {', '.join(naive_miss)})." if naive_miss else ".")
        )
    total_core = sum(r.core_ms for r in rows)
    total_floor = sum(r.floor_ms for r in rows)
    parts.append(f"Sum over all KPIs: kpi_core {total_core:,.0f} ms, floor {total_floor:,.0f} ms.")
    return " ".join(parts)


# ======================================================================================================= main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--accounts", type=int, default=10_000)
    p.add_argument("--usage-scale", type=float, default=0.31, help="usage events multiplier (0.31: ~5M at 10k)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 22))
    p.add_argument("--period", default="last-quarter")
    p.add_argument("--engines", default="sqlite,postgres")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--fast-runs", type=int, default=25,
                   help="runs for KPIs whose kpi_core warm-up takes under --fast-ms (noise on small queries)")
    p.add_argument("--fast-ms", type=float, default=100.0)
    p.add_argument("--naive-runs", type=int, default=5, help="timed naive runs after the warm-up (0: warm-up only)")
    p.add_argument("--naive-heavy-s", type=float, default=5.0,
                   help="a naive warm-up slower than this many seconds gets --naive-heavy-runs runs instead")
    p.add_argument("--naive-heavy-runs", type=int, default=0)
    p.add_argument("--kpis", default="", help="comma-separated KPI ids (default: the whole catalog)")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL)
    p.add_argument("--pg-schema", default="csbot_bench")
    p.add_argument("--reload", action="store_true", help="rebuild demo data and both stores")
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument("--slow-ms", type=float, default=2000.0, help="kpi_core time above which plans are saved")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    unknown = set(args.engines.split(",")) - {"sqlite", "postgres"}
    if unknown:
        p.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    load_start = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    spec = DataSpec(args.accounts, args.seed, args.as_of, args.usage_scale)
    config = load_config()
    args.config_tz = config.reporting_timezone
    period = parse_period(args.period, args.as_of)
    kpis = list_kpis()
    if args.kpis:
        wanted = {k.strip() for k in args.kpis.split(",") if k.strip()}
        kpis = [k for k in kpis if k.id in wanted]
    missing_naive = [k.id for k in list_kpis() if k.id not in NAIVE]
    log(f"period {period.describe()}; {len(kpis)} KPIs; no pandas version (load only) for: {missing_naive}")

    folder, csv_counts = build_data(spec, args.reload)
    log(f"CSV rows: {csv_counts}")
    engines: dict[str, Engine] = {}
    stores: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    for name in args.engines.split(","):
        if name == "sqlite":
            engines[name], stores[name] = sqlite_store(spec, folder, args.reload)
        else:
            engines[name], stores[name] = postgres_store(spec, folder, args.pg_url, args.pg_schema, args.reload)
        counts = table_counts(engines[name])
        log(f"{name} rows: {counts}")

    results: dict[str, list[Result]] = {}
    for name, engine in engines.items():
        results[name] = []
        for kdef in kpis:
            t0 = time.perf_counter()
            r = measure(engine, name, kdef, period, config, args)
            results[name].append(r)
            if r.slow_plans:
                (RESULTS / f"explain-{spec.name}-{name}-{r.kpi}.txt").write_text("\n".join(r.slow_plans))
            log(f"{name} {r.kpi}: kpi_core {_fmt(r.core_ms)} ms, floor {_fmt(r.floor_ms)} ms, "
                f"naive {_fmt(r.naive_ms)} ms ({time.perf_counter() - t0:.1f} s)")
        engine.dispose()
        print(f"\n### {name}\n\n{markdown_table(results[name])}\n\n{_summary(results[name])}\n", flush=True)

    total = time.perf_counter() - started
    write_doc(args.out, args, spec, period, counts, stores, results, total, (load_start, os.getloadavg()))
    log(f"wrote {args.out} (total {total / 60:.1f} min)")


if __name__ == "__main__":
    main()
