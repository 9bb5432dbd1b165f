"""Scale benchmark (issue 10): the same questions at several store sizes, on SQLite and Postgres.

    nice -n 10 .venv/bin/python bench/scale_bench.py --sizes 1000,10000,50000 --engines sqlite,postgres

Per size and engine: import time and peak memory (the import runs in a child process), a full rollup
rebuild, every catalog KPI over last-quarter, the usage KPIs also over last-year and last-30-days,
`/health`, `/health ACCOUNT`, `/atrisk` and a digest build: median time, ratio to the smallest size,
ratio to the SQL floor (the captured statements replayed on a raw DBAPI cursor) and, for the usage KPIs,
DuckDB computing the same value from the same CSV files (values compared). At one size (default 10k) also
the upkeep of a one-day incremental load against a full rebuild. Results go to docs/benchmarks.md between
the scale markers (figures from one run), and to bench/results/scale-*.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy  # noqa: E402
from sqlalchemy import Engine, event, text  # noqa: E402

from bench.kpi_bench import DataSpec, build_data  # noqa: E402
from kpi_core.catalog import catalog  # noqa: E402
from kpi_core.config import HealthConfig, KpiConfig  # noqa: E402
from kpi_core.digest import build_digest  # noqa: E402
from kpi_core.engine import query  # noqa: E402
from kpi_core.health import account_health, health_overview  # noqa: E402
from kpi_core.periods import Period, parse_period  # noqa: E402
from kpi_core.risk import at_risk  # noqa: E402
from kpi_core.scoring_cache import SCORING_CACHE  # noqa: E402
from kpi_core.stored_health import forget  # noqa: E402
from kpi_core.types import KpiRequest, Scope  # noqa: E402
from storage.db import make_engine, upgrade  # noqa: E402
from storage.models import health_scorings  # noqa: E402
from storage.rollups import rebuild_rollups, refresh_rollups  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- scale_bench:start -->", "<!-- scale_bench:end -->"
AS_OF = dt.date(2026, 11, 22)
CONFIG = KpiConfig("UTC", 1.0, HealthConfig({}, 70, 40))
USAGE_KPIS = ("adoption", "stickiness", "time_on_platform")
STORE_CODE = ("storage/importer.py", "storage/rollups.py", "storage/demo_data.py")
"""The code that decides what a store holds; a reused store is brought to the migration head like a team's."""


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _code_key(spec: DataSpec) -> str:
    import hashlib

    h = hashlib.sha256()
    for rel in STORE_CODE:
        path = ROOT / rel
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(f.read_bytes())
    return f"{spec.name}-{h.hexdigest()[:12]}"


# ----------------------------------------------------------------------------------------------- stores


IMPORT_CHILD = """
import json, sys, time
from storage.db import make_engine, upgrade
from storage.importer import import_paths
url, folder, schema = sys.argv[1], sys.argv[2], sys.argv[3]
kw = {"connect_args": {"options": f"-csearch_path={schema}"}} if schema else {}
engine = make_engine(url, **kw)
upgrade(engine)
t0 = time.perf_counter()
import_paths(engine, [folder], reporting_tz="UTC")
seconds = time.perf_counter() - t0
t1 = time.perf_counter()
with engine.connect() as conn:
    if engine.dialect.name == "postgresql":
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    else:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so it would report the parent's peak.
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"import_seconds": seconds, "analyze_seconds": time.perf_counter() - t1,
                  "peak_rss_mb": hwm / 1024}))
"""


def build_store(engine_name: str, spec: DataSpec, folder: Path, pg_url: str) -> tuple[Engine, dict[str, Any]]:
    """The store for `spec` (imported in a child process unless a store with the same data and code exists)."""
    key = _code_key(spec)
    marker = RESULTS / f"scale-{engine_name}-{spec.accounts}.json"
    if engine_name == "sqlite":
        db = RESULTS / f"scale-{spec.accounts}.db"
        url, schema = f"sqlite:///{db}", ""
    else:
        url, schema = pg_url, f"csbot_scale_{spec.accounts}"
    if marker.exists() and json.loads(marker.read_text()).get("key") == key:
        log(f"reusing {engine_name} store for {spec.accounts} accounts")
        info = json.loads(marker.read_text())
        kw = {"connect_args": {"options": f"-csearch_path={schema}"}} if schema else {}
        reused = make_engine(url, **kw)
        upgrade(reused)
        reused.dispose()
    else:
        if engine_name == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        else:
            admin = make_engine(pg_url)
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            admin.dispose()
        log(f"importing {spec.accounts} accounts into {engine_name} ...")
        out = subprocess.run([sys.executable, "-c", IMPORT_CHILD, url, str(folder), schema], cwd=ROOT,
                             capture_output=True, text=True, check=False)
        if out.returncode:
            raise SystemExit(out.stderr)
        info = json.loads(out.stdout.strip().splitlines()[-1]) | {"key": key}
        marker.write_text(json.dumps(info, indent=2))
        log(f"{engine_name} import {info['import_seconds']:.0f} s, peak {info['peak_rss_mb']:.0f} MB")
    kw = {"connect_args": {"options": f"-csearch_path={schema}"}} if schema else {}
    return make_engine(url, **kw), info


def counts(engine: Engine) -> dict[str, int]:
    tables = ("accounts", "usage_events", "usage_days", "usage_feature_days", "usage_user_months",
              "usage_feature_user_months")
    with engine.connect() as conn:
        return {t: int(conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()) for t in tables}


# --------------------------------------------------------------------------------------------- timing


Setup = Callable[[], Any]


def _nothing() -> None:
    return None


def median_ms(fn: Callable[[], Any], runs: int, setup: Setup = _nothing) -> float:
    """Median time of `fn` over `runs` calls, each after an untimed `setup`."""
    times = []
    for _ in range(runs):
        setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def captured(engine: Engine, fn: Callable[[], Any], setup: Setup = _nothing) -> tuple[Any, list[tuple], float]:
    """Run `fn` once after `setup` (the warm-up), recording every statement sent to the DBAPI cursor; and its time."""
    statements: list[tuple] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters, executemany))

    setup()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return result, statements, seconds


def floor_ms(engine: Engine, statements: list[tuple], runs: int, setup: Setup = _nothing) -> float:
    """The captured statements replayed on a raw DBAPI cursor (execute + fetchall only), rolled back."""
    times = []
    for _ in range(runs):
        setup()
        with engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                total = 0.0
                for statement, parameters, many in statements:
                    t0 = time.perf_counter()
                    if many:
                        cursor.executemany(statement, parameters)
                    else:
                        cursor.execute(statement, parameters)
                    if cursor.description is not None:
                        cursor.fetchall()
                    total += time.perf_counter() - t0
                times.append(total)
            finally:
                cursor.close()
                conn.rollback()
    return statistics.median(times) * 1000


def questions(engine: Engine) -> list[tuple[str, str, Callable[[], Any], Setup]]:
    """(label, family, callable, untimed setup before each call) of every question timed."""
    out: list[tuple[str, str, Callable[[], Any], Setup]] = []
    periods = {name: parse_period(name, AS_OF) for name in ("last-quarter", "last-year", "last-30-days")}
    def cold_health() -> None:  # the health KPI as a new process asks it (stored scorings current)
        SCORING_CACHE.clear()
        forget()

    for kdef in catalog().all():
        ask = lambda k=kdef.id: query(engine, KpiRequest(k, periods["last-quarter"], Scope()), CONFIG)  # noqa: E731
        out.append((f"{kdef.id} last-quarter", "usage" if kdef.id in USAGE_KPIS else "kpi", ask,
                    cold_health if kdef.id == "health" else _nothing))
    for kpi in USAGE_KPIS:
        for name in ("last-year", "last-30-days"):
            out.append((f"{kpi} {name}", "usage",
                        lambda k=kpi, p=periods[name]: query(engine, KpiRequest(k, p, Scope()), CONFIG), _nothing))
    with engine.connect() as conn:
        some = conn.execute(text("SELECT account_id FROM accounts WHERE became_customer_at IS NOT NULL"
                                 " ORDER BY account_id LIMIT 1")).scalar()

    def on_conn(fn):
        def run():
            with engine.connect() as conn:
                return fn(conn)
        return run

    def new_process() -> None:  # no scoring in this process's memory; the stored scorings stay
        SCORING_CACHE.clear()
        forget()

    def nothing_stored() -> None:  # the first question ever (or after a rebuild): everyone is scored
        new_process()
        with engine.begin() as conn:
            conn.execute(health_scorings.delete())

    ids = []
    with engine.connect() as conn:
        ids = list(conn.scalars(text("SELECT account_id FROM accounts ORDER BY account_id")))
    step = [0]

    def one_percent_written() -> None:  # a sync touched 1% of the accounts since this process last answered
        SCORING_CACHE.clear()
        step[0] += 1
        chosen = ids[step[0] % 100::100]
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM surveys WHERE response_id LIKE 'bench-%'"))
            conn.execute(text("INSERT INTO surveys (response_id, account_id, survey, score, responded_at)"
                              " VALUES (:r, :a, 'csat', 4, :at)"),
                         [{"r": f"bench-{a}", "a": a, "at": dt.datetime.combine(AS_OF, dt.time(9))} for a in chosen])

    health = on_conn(lambda c: health_overview(c, AS_OF, CONFIG))
    risk = on_conn(lambda c: at_risk(c, AS_OF, CONFIG))
    digest = (lambda: build_digest(engine, AS_OF, CONFIG))  # noqa: E731
    for label, fn in (("/health", health), ("/atrisk", risk), ("digest build (week)", digest)):
        out.append((f"{label}: first question (nothing stored)", "health", fn, nothing_stored))
        out.append((f"{label}: new process (stored scorings current)", "health", fn, new_process))
        out.append((f"{label}: same process, after a write to 1% of accounts", "health", fn, one_percent_written))
    out += [
        ("/health ACCOUNT", "health", on_conn(lambda c: account_health(c, some, AS_OF, CONFIG)), new_process),
        ("/atrisk after /health (shared scoring)", "health", risk, _nothing),
    ]
    return out


def time_questions(engine: Engine, runs: int) -> dict[str, dict[str, Any]]:
    out = {}
    for label, family, fn, setup in questions(engine):
        setup()  # one untimed call first: the captured one is then like the timed ones (stored rows in place)
        fn()
        result, statements, warm = captured(engine, fn, setup)
        n = runs if warm > 0.1 else max(runs, 9)
        ms = median_ms(fn, n, setup)
        fl = floor_ms(engine, statements, max(1, n // 2), setup) if statements else 0.0
        value = getattr(result, "value", None)
        out[label] = {"ms": ms, "floor_ms": fl, "statements": len(statements), "family": family, "value": value,
                      "previous": getattr(getattr(result, "previous", None), "value", None)}
        log(f"  {label}: {ms:.1f} ms (floor {fl:.1f} ms, {len(statements)} statements)")
    with engine.begin() as conn:  # the 1%-write questions' rows
        conn.execute(text("DELETE FROM surveys WHERE response_id LIKE 'bench-%'"))
    return out


# ------------------------------------------------------------------------------------------------ upkeep


def upkeep(engine: Engine) -> dict[str, float]:
    """Full rebuild vs refresh of one day's slices (the last day's events marked dirty, as a one-day load does)."""
    t0 = time.perf_counter()
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        rebuild_rollups(conn, "UTC")
    rebuild = time.perf_counter() - t0
    day = AS_OF - dt.timedelta(days=1)
    with engine.connect() as conn:  # on the DBAPI connection: as the triggers of a one-day load would mark them
        raw = conn.connection.driver_connection
        cur = raw.cursor()
        mark = "?" if engine.dialect.name == "sqlite" else "%s"
        day_sql = "date(occurred_at)" if engine.dialect.name == "sqlite" else "CAST(occurred_at AS DATE)"
        cur.execute(f"INSERT INTO rollup_dirty (account_id, day) SELECT DISTINCT account_id, {day_sql}"
                    f" FROM usage_events WHERE occurred_at >= {mark} AND occurred_at < {mark}",
                    (str(dt.datetime.combine(day, dt.time())), str(dt.datetime.combine(AS_OF, dt.time()))))
        raw.commit()
        slices = conn.scalar(text("SELECT count(*) FROM rollup_dirty"))
    t0 = time.perf_counter()
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        refresh_rollups(conn, "UTC")
    refresh = time.perf_counter() - t0
    return {"rebuild_s": rebuild, "one_day_refresh_s": refresh, "one_day_slices": slices}


# ------------------------------------------------------------------------------------------------ DuckDB


def duckdb_usage(folder: Path, runs: int) -> dict[str, dict[str, Any]]:
    """The usage KPIs (current and previous period) computed by DuckDB from the demo CSV files."""
    import duckdb

    db = duckdb.connect()
    t0 = time.perf_counter()
    db.execute(f"CREATE TABLE usage AS SELECT * FROM read_csv('{folder / 'usage.csv'}', header=true,"
               " columns={'account_id':'VARCHAR','user_id':'VARCHAR','occurred_at':'TIMESTAMP',"
               "'feature':'VARCHAR','duration_seconds':'BIGINT'})")
    db.execute(f"CREATE TABLE accounts AS SELECT * FROM read_csv('{folder / 'accounts.csv'}', header=true,"
               " all_varchar=true)")
    load_s = time.perf_counter() - t0

    def one(kpi: str, p: Period) -> float | None:
        lo, hi = p.start, p.end + dt.timedelta(days=1)
        where = f"occurred_at >= TIMESTAMP '{lo}' AND occurred_at < TIMESTAMP '{hi}'"
        days = (p.end - p.start).days + 1
        if kpi == "stickiness":
            ud, users = db.execute(
                f"SELECT (SELECT count(*) FROM (SELECT DISTINCT account_id, user_id, CAST(occurred_at AS DATE)"
                f" FROM usage WHERE {where})), (SELECT count(*) FROM (SELECT DISTINCT account_id, user_id"
                f" FROM usage WHERE {where}))").fetchone()
            return None if not users else 100.0 * ud / days / users
        if kpi == "time_on_platform":
            secs, users = db.execute(
                f"SELECT coalesce(sum(duration_seconds), 0), count(DISTINCT (account_id, user_id)) FROM usage"
                f" WHERE {where}").fetchone()
            return None if not users else secs / 60 / users
        customer = (f"became_customer_at <> '' AND CAST(became_customer_at AS DATE) <= DATE '{p.end}' AND"
                    f" (churned_at IS NULL OR churned_at = '' OR CAST(churned_at AS DATE) > DATE '{p.end}')")
        customers, adopters = db.execute(
            f"SELECT count(*), count(*) FILTER (WHERE account_id IN (SELECT DISTINCT account_id FROM usage"
            f" WHERE {where})) FROM accounts WHERE {customer}").fetchone()
        return None if not customers else 100.0 * adopters / customers

    out = {}
    for kpi in USAGE_KPIS:
        for name in ("last-quarter", "last-year", "last-30-days"):
            p = parse_period(name, AS_OF)
            values = (one(kpi, p), one(kpi, p.previous()))
            ms = median_ms(lambda k=kpi, p=p: (one(k, p), one(k, p.previous())), runs)
            out[f"{kpi} {name}"] = {"ms": ms, "value": values[0], "previous": values[1]}
    out["_load_s"] = {"ms": load_s * 1000}
    return out


# ------------------------------------------------------------------------------------------------ report


def _fmt(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}"


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-3)


def machine() -> str:
    cpus = os.cpu_count()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (f"{cpus} cores, {mem:.0f} GB RAM, {platform.system()} {platform.release()}; Python"
            f" {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}; load average {load:.1f} when the"
            " report was written (the machine is shared with other agents)")


def report(results: dict[str, Any], args) -> str:
    sizes = results["sizes"]
    lines = [START, "# Scale benchmark (issue 10: rollups, stored scorings)", "",
             f"Generated by `bench/scale_bench.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, one run,"
             f" sizes {', '.join(f'{s:,}' for s in sizes)} accounts, engines {', '.join(results['engines'])}.", "",
             f"- **Machine**: {machine()}.",
             f"- **Data**: demo generator, `usage_scale={args.usage_scale}`, seed 7, as of {AS_OF}; reporting zone"
             " UTC. Questions asked as of that day.",
             "- **Times**: median of 3 runs after one warm-up (9 runs when the warm-up took under 100 ms),"
             " including connection checkout and the rollup freshness check. `/health`, `/atrisk` and the digest"
             " are timed three ways, each run after an untimed setup: *first question* (stored scorings deleted:"
             " every account scored and stored), *new process* (in-memory copies dropped, stored scorings current:"
             " read back), *same process after a write to 1% of accounts* (a CSAT response for 1% of the accounts"
             " written before each run: those are scored again). `/health ACCOUNT` and the `health` KPI as a new"
             " process; the last row is `/atrisk` right after `/health` on unchanged data.",
             "- **Floor**: every statement the question sent (captured during the warm-up), replayed on a raw DBAPI"
             " cursor; execute + fetch only. **DuckDB**: the same usage KPI (current and previous period) computed by"
             " an in-memory DuckDB from the same CSV files (load time not included); `=` when its values equal"
             " csbot's (4 decimals).", ""]
    if results.get("missing_sizes"):
        lines += [f"**Not run**: {results['missing_sizes']}", ""]
    for engine_name in results["engines"]:
        per = results["runs"][engine_name]
        got = [s for s in sizes if str(s) in per]
        if not got:
            continue
        lines += [f"## {engine_name}", ""]
        rows = ["| size | usage events | import s | import peak MB | rollup rebuild s | rollup rows |",
                "|---:|---:|---:|---:|---:|---:|"]
        for s in got:
            r = per[str(s)]
            c = r["counts"]
            roll = sum(v for k, v in c.items() if k.startswith("usage_") and k != "usage_events")
            rows.append(f"| {s:,} | {c['usage_events']:,} | {r['store']['import_seconds']:.0f} |"
                        f" {r['store']['peak_rss_mb']:.0f} | {r['upkeep']['rebuild_s']:.1f} | {roll:,} |")
        lines += rows + [""]
        for s in got:
            u = per[str(s)]["upkeep"]
            if "one_day_refresh_s" in u and s == args.upkeep_size:
                lines.append(f"One-day incremental upkeep at {s:,} accounts ({u['one_day_slices']:,} account-day"
                             f" slices of {AS_OF - dt.timedelta(days=1)}): {u['one_day_refresh_s']:.2f} s vs full"
                             f" rebuild {u['rebuild_s']:.1f} s = {100 * u['one_day_refresh_s'] / u['rebuild_s']:.1f}%.")
        for key, u in (results.get("upkeep_rerun") or {}).get("runs", {}).items():
            if key.startswith(engine_name + " "):
                size = int(key.split()[1])
                when = results['upkeep_rerun']['when']
                lines.append(f"Re-measured after the run with the final refresh code ({when},"
                             f" same store, separate process): one-day upkeep at {size:,} accounts"
                             f" ({u['one_day_slices']:,} slices) {u['one_day_refresh_s']:.2f} s vs full rebuild"
                             f" {u['rebuild_s']:.1f} s = {100 * u['one_day_refresh_s'] / u['rebuild_s']:.1f}%.")
        lines += [""]
        head = "| question |" + "".join(f" {s:,} ms | x{sizes[0]:,} | /floor |" for s in got) + " DuckDB ms (largest) |"
        lines += [head, "|---|" + "---:|---:|---:|" * len(got) + "---:|"]
        first = per[str(got[0])]["questions"]
        for label in first:
            cells = []
            for s in got:
                q = per[str(s)]["questions"].get(label)
                if q is None:
                    cells.append(" - | - | - |")
                    continue
                base = first[label]["ms"]
                ratio = q["ms"] / base if base else 0
                over = f"{q['ms'] / q['floor_ms']:.2f}" if q["floor_ms"] and "shared" not in label else "-"
                cells.append(f" {_fmt(q['ms'])} | {ratio:.2f} | {over} |")
            duck = per[str(got[-1])].get("duckdb", {}).get(label)
            dcell = "-"
            if duck:
                q = per[str(got[-1])]["questions"][label]
                same = _same(duck["value"], q["value"]) and _same(duck["previous"], q["previous"])
                dcell = f"{_fmt(duck['ms'])} {'=' if same else '≠ ' + str(duck['value'])}"
            lines.append(f"| {label} |" + "".join(cells) + f" {dcell} |")
        lines.append("")
        for s in got:
            r = per[str(s)]
            lines.append(f"- {s:,} accounts: bench process peak RSS {r['peak_rss_mb']:.0f} MB after the questions;"
                         f" DuckDB CSV load {r.get('duckdb', {}).get('_load_s', {}).get('ms', 0) / 1000:.1f} s.")
        lines.append("")
    lines += [END]
    return "\n".join(lines)


def write_doc(section: str) -> None:
    old = DOC.read_text() if DOC.exists() else ""
    if START in old and END in old:
        new = old[: old.index(START)] + section + old[old.index(END) + len(END):]
    else:
        new = section + "\n\n" + old
    DOC.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--usage-scale", type=float, default=0.31)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--upkeep-size", type=int, default=10000)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--not-run", default="", help="sizes left out and why (printed in the report)")
    parser.add_argument("--from-json", type=Path, help="only rewrite the report from a results file of one run")
    parser.add_argument("--upkeep-only", action="store_true",
                        help="only measure rebuild vs one-day refresh on the stores already built (current code)")
    parser.add_argument("--upkeep-json", type=Path, help="with --from-json: a results file of --upkeep-only")
    args = parser.parse_args()
    if args.from_json:
        results = json.loads(args.from_json.read_text())
        results["missing_sizes"] = args.not_run
        if args.upkeep_json:
            results["upkeep_rerun"] = json.loads(args.upkeep_json.read_text())
        write_doc(report(results, args))
        return
    if args.upkeep_only:
        rerun: dict[str, Any] = {"when": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC", "runs": {}}
        for size in [int(x) for x in args.sizes.split(",")]:
            spec = DataSpec(size, 7, AS_OF, args.usage_scale)
            folder, _ = build_data(spec, reload=False)
            for engine_name in args.engines.split(","):
                engine, _ = build_store(engine_name, spec, folder, args.pg_url)
                rerun["runs"][f"{engine_name} {size}"] = upkeep(engine)
                log(f"{engine_name} {size}: {rerun['runs'][f'{engine_name} {size}']}")
                engine.dispose()
        path = RESULTS / f"scale-upkeep-{dt.datetime.now():%Y%m%d-%H%M}.json"
        path.write_text(json.dumps(rerun, indent=1))
        log(f"done: {path}")
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    engines = args.engines.split(",")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_json = RESULTS / f"scale-{dt.datetime.now():%Y%m%d-%H%M}.json"
    results: dict[str, Any] = {"sizes": sizes, "engines": engines, "runs": {e: {} for e in engines},
                               "missing_sizes": args.not_run}
    for size in sizes:
        spec = DataSpec(size, 7, AS_OF, args.usage_scale)
        folder, _ = build_data(spec, reload=False)
        duck = None
        for engine_name in engines:
            engine, info = build_store(engine_name, spec, folder, args.pg_url)
            entry: dict[str, Any] = {"store": info, "counts": counts(engine)}
            log(f"{engine_name} {size}: {entry['counts']}")
            entry["upkeep"] = upkeep(engine)
            log(f"  upkeep {entry['upkeep']}")
            entry["questions"] = time_questions(engine, args.runs)
            entry["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            if duck is None:
                duck = duckdb_usage(folder, args.runs)
            entry["duckdb"] = duck
            results["runs"][engine_name][str(size)] = entry
            engine.dispose()
            out_json.write_text(json.dumps(results, indent=1, default=str))
            if not args.no_doc:
                write_doc(report(results, args))
    log(f"done: {out_json}")


if __name__ == "__main__":
    main()
