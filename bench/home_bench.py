"""App Home benchmark (a script, not a test): opening "My accounts" for an owner with 300 customers.

    .venv/bin/python bench/home_bench.py [--accounts 3000] [--usage-scale 0.31] [--book 300]
                                         [--engines sqlite,postgres] [--runs 7] [--out docs/benchmarks.md]

Demo data (storage.demo_data.write_demo_csvs, seed 7, as of 2026-11-22) is imported into a SQLite file under
bench/results/ and a Postgres schema (`csbot_home_bench`), then `--book` customers (the first by account id)
are given to one owner, U0BENCH01, and ANALYZE runs (`--reuse`: the stores of an earlier run with the same
arguments are used as they are). Timed, median of `--runs` after one warm-up:

- `book`: bot.listeners.home.home_model for U0BENCH01 (their book scored now and 28 days before, open alerts,
  data freshness, settings), then bot.render.home_blocks.home_view: everything `views.publish` sends, without
  the HTTP call to Slack;
- `lead`: the same for a lead (CSBOT_LEADS), who also gets the team view (every customer scored, and the
  churn-risk rules for every customer).

The statements sent to the database per open are counted. The result is written between the
`<!-- home-bench -->` markers of `--out` (appended when absent).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import time
from pathlib import Path

from slack_sdk import WebClient
from sqlalchemy import Engine, bindparam, event, text

from bot.access import AccessPolicy
from bot.listeners.home import home_model
from bot.render.home_blocks import home_view
from bot.services import Services
from kpi_core.config import load_config
from storage.db import make_engine, upgrade
from storage.demo_data import write_demo_csvs
from storage.importer import import_paths

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
AS_OF = dt.date(2026, 11, 22)
OWNER = "U0BENCH01"
LEAD = "U0BENCHLD"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = "csbot_home_bench"


def log(message: str) -> None:
    print(f"[home-bench] {message}", flush=True)


def _prepare(engine: Engine, folder: Path, book: int) -> dict:
    upgrade(engine)
    t0 = time.perf_counter()
    import_paths(engine, [folder])
    seconds = time.perf_counter() - t0
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(text(
            "SELECT account_id FROM accounts WHERE became_customer_at IS NOT NULL AND became_customer_at <= :d "
            "AND (churned_at IS NULL OR churned_at > :d) ORDER BY account_id LIMIT :n"), {"d": AS_OF, "n": book})]
        conn.execute(text("UPDATE accounts SET owner_slack_id = :o WHERE account_id IN :ids")
                     .bindparams(bindparam("ids", expanding=True)), {"o": OWNER, "ids": ids})
        counts = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                  for t in ("accounts", "usage_events", "surveys", "tickets", "revenue")}
    return {"import_seconds": round(seconds, 1), "book": len(ids), **counts}


def _counts(engine: Engine) -> dict:
    with engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                  for t in ("accounts", "usage_events", "surveys", "tickets", "revenue")}
        book = conn.execute(text("SELECT COUNT(*) FROM accounts WHERE owner_slack_id = :o"), {"o": OWNER}).scalar_one()
    return {"import_seconds": None, "book": book, **counts}


def sqlite_store(folder: Path, book: int, reuse: bool = False) -> tuple[Engine, dict]:
    path = RESULTS / "home_bench.db"
    if reuse and path.exists():
        engine = make_engine(f"sqlite:///{path}")
        return engine, _counts(engine)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    info = _prepare(engine, folder, book)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    return engine, info


def postgres_store(folder: Path, book: int, url: str, reuse: bool = False) -> tuple[Engine, dict]:
    admin = make_engine(url)
    if reuse:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"),
                                  {"s": SCHEMA}).first()
        if exists:
            admin.dispose()
            engine = make_engine(url, connect_args={"options": f"-csearch_path={SCHEMA}"})
            return engine, _counts(engine)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        conn.exec_driver_sql(f'CREATE SCHEMA "{SCHEMA}"')
    admin.dispose()
    engine = make_engine(url, connect_args={"options": f"-csearch_path={SCHEMA}"})
    info = _prepare(engine, folder, book)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    return engine, info


def measure(engine: Engine, user: str, lead: bool, runs: int) -> dict:
    config = load_config(None)
    access = AccessPolicy(leads=frozenset({LEAD}))
    services = Services.create(engine, config, AS_OF, access=access)
    client = WebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/")  # never called: no user groups here
    statements = []

    def count(*_args, **_kwargs) -> None:
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)

    def once() -> tuple[float, int, int]:
        statements.clear()
        t0 = time.perf_counter()
        view = home_view(home_model(services, client, "T0BENCH01", user))
        return (time.perf_counter() - t0) * 1000, len(statements), len(view["blocks"])

    once()
    times, counts, blocks = [], set(), set()
    for _ in range(runs):
        ms, n, b = once()
        times.append(ms)
        counts.add(n)
        blocks.add(b)
    event.remove(engine, "before_cursor_execute", count)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times),
            "statements": sorted(counts), "blocks": sorted(blocks)}


def machine() -> str:
    cores = os.cpu_count()
    mem = ""
    try:
        kb = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cores} cores{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}; " \
           f"load average {load:.1f} at the end of the run (the machine was shared with other work)"


def report(args, results: dict, infos: dict) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    lines = [
        "## App Home (\"My accounts\")",
        "",
        f"Generated by `bench/home_bench.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, code at {commit}.",
        "",
        f"- **Machine**: {machine()}. Postgres on the same machine.",
        f"- **Data**: `write_demo_csvs(accounts={args.accounts}, seed=7, as_of={AS_OF}, "
        f"usage_scale={args.usage_scale})`; {args.book} customers given to one owner ({OWNER}).",
        "- **Measured**: `home_model` + `home_view` (everything `views.publish` sends, without the HTTP call), "
        f"median of {args.runs} after one warm-up. *book*: the owner's Home; *lead*: a lead's Home with the team "
        "view (every customer scored, and the churn-risk rules checked for every customer). Health is computed "
        "by the one scoring function, twice for the book (now and 28 days before, for the trend arrow); "
        "no snapshots or scoring cache exist yet on this branch.",
        "- **Rerun**: `.venv/bin/python bench/home_bench.py --accounts "
        f"{args.accounts} --usage-scale {args.usage_scale} --book {args.book} --engines {args.engines}`",
        "",
        "| engine | data | Home | median ms | min ms | max ms | statements | blocks |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for engine_name, rows in results.items():
        info = infos[engine_name]
        data = (f"{info['accounts']:,} accounts, {info['usage_events']:,} usage events, "
                f"{info['surveys']:,} surveys, {info['tickets']:,} tickets")
        for label, r in rows.items():
            lines.append(f"| {engine_name} | {data} | {label} | {r['median_ms']:,.0f} | {r['min_ms']:,.0f} | "
                         f"{r['max_ms']:,.0f} | {'/'.join(map(str, r['statements']))} | "
                         f"{'/'.join(map(str, r['blocks']))} |")
    lines += ["", "Reading: the Home is computed after the ack, so Slack's 3-second limit is not at stake, but this is "
              "how long a CSM waits for their Home. The lead's team view scores every customer three times (health "
              "now for the bands; now and 14 days earlier inside the churn-risk rules)."]
    return "\n".join(lines)


def write(out: Path, section: str) -> None:
    body = f"<!-- home-bench:start -->\n{section}\n<!-- home-bench:end -->"
    text_ = out.read_text() if out.exists() else ""
    pattern = re.compile(r"<!-- home-bench:start -->.*?<!-- home-bench:end -->", re.S)
    text_ = pattern.sub(lambda _m: body, text_) if pattern.search(text_) else text_.rstrip() + "\n\n" + body + "\n"
    out.write_text(text_)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=3000)
    p.add_argument("--usage-scale", type=float, default=0.31)
    p.add_argument("--book", type=int, default=300)
    p.add_argument("--engines", default="sqlite,postgres")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--pg-url", default=DEFAULT_PG_URL)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    p.add_argument("--reuse", action="store_true", help="reuse the stores of an earlier run (same arguments)")
    args = p.parse_args()
    folder = RESULTS / f"home-demo-{args.accounts}-{args.usage_scale}"
    if not folder.exists():
        log(f"writing demo data to {folder} ...")
        write_demo_csvs(folder, accounts=args.accounts, seed=7, as_of=AS_OF, usage_scale=args.usage_scale)
    results, infos = {}, {}
    for name in args.engines.split(","):
        log(f"building the {name} store ...")
        engine, info = sqlite_store(folder, args.book, args.reuse) if name == "sqlite" else postgres_store(
            folder, args.book, args.pg_url, args.reuse)
        infos[name] = info
        log(f"{name}: {info}")
        results[name] = {"book": measure(engine, OWNER, False, args.runs),
                         "lead": measure(engine, LEAD, True, args.runs)}
        log(f"{name}: {results[name]}")
        engine.dispose()
    section = report(args, results, infos)
    print(section)
    write(args.out, section)


if __name__ == "__main__":
    main()
