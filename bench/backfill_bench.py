"""Time `csbot health-backfill` over a year of weekly snapshots (not a test).

    nice -n 10 .venv/bin/python bench/backfill_bench.py --accounts 10000 --usage-scale 0.31 [--db URL]

Generates the demo data set (`--accounts`, seed 7, as of 2026-11-30) into a fresh store (default: a temporary
SQLite file; a Postgres URL with --db, whose store must be empty), then backfills the 53 weekly snapshot days
from 2025-12-01 to 2026-11-30 and prints the time per day and in all, with the store's size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from kpi_core.config import load_config
from kpi_core.history import backfill, backfill_dates
from storage.db import has_data, make_engine, upgrade
from storage.demo_data import write_demo_csvs
from storage.importer import import_paths
from storage.models import Account, HealthSnapshot, UsageEvent

AS_OF = dt.date(2026, 11, 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10000)
    parser.add_argument("--usage-scale", type=float, default=1.0)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="csbot-backfill-bench-") as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        if has_data(engine):
            raise SystemExit("the store must be empty")
        t0 = time.perf_counter()
        paths = write_demo_csvs(Path(tmp) / "csv", accounts=args.accounts, seed=7, as_of=AS_OF,
                                usage_scale=args.usage_scale)
        import_paths(engine, paths, reporting_tz="UTC")
        t1 = time.perf_counter()
        with engine.connect() as conn:
            accounts = conn.execute(select(func.count()).select_from(Account)).scalar_one()
            events = conn.execute(select(func.count()).select_from(UsageEvent)).scalar_one()
        print(f"loaded {accounts:,} accounts, {events:,} usage events in {t1 - t0:.0f} s ({engine.dialect.name})",
              flush=True)
        dates = backfill_dates(AS_OF - dt.timedelta(days=364), AS_OF, "week")
        times = []

        def progress(day, n):
            times.append((day, n, time.perf_counter()))
            print(f"  {day}: {n:,} customers, {times[-1][2] - start:.0f} s so far", flush=True)

        start = time.perf_counter()
        result = backfill(engine, dates, load_config(None), AS_OF + dt.timedelta(days=1), progress)
        total = time.perf_counter() - start
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(HealthSnapshot)).scalar_one()
        per_day = [b[2] - a[2] for a, b in zip([(None, 0, start), *times[:-1]], times, strict=True)]
        print(f"backfilled {len(result.written)} weekly days, {rows:,} snapshot rows in {total:.0f} s "
              f"({total / max(1, len(dates)):.1f} s per day; slowest {max(per_day):.1f} s, "
              f"customers per day {min(n for _, n, _ in times):,}-{max(n for _, n, _ in times):,})")
        engine.dispose()


if __name__ == "__main__":
    main()
