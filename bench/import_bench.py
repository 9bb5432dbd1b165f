"""Time `import_paths` on a generated usage.csv (not a test).

    .venv/bin/python bench/import_bench.py --rows 1000000 [--db URL]

Generates accounts.csv (1,000 accounts) and usage.csv (`--rows` events over 90 days) in a temporary
folder, imports them into a fresh store (default: a temporary SQLite file; give a Postgres URL with
--db to measure Postgres; the store must hold no accounts yet), then imports the same
files again (the re-import replaces the same slices) and prints rows/second for both runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from storage.db import has_data, make_engine, upgrade
from storage.importer import import_paths


def generate(folder: Path, rows: int, accounts: int = 1000, seed: int = 1) -> None:
    rng = random.Random(seed)
    with (folder / "accounts.csv").open("w", newline="") as f:
        f.write("account_id,name,signed_up_at\n")
        for a in range(accounts):
            f.write(f"A{a:05d},Account {a},2025-01-01\n")
    start = dt.datetime(2026, 1, 1)
    features = ["dashboard", "report", "export", "search", "", "alerts"]
    with (folder / "usage.csv").open("w", newline="") as f:
        f.write("account_id,user_id,occurred_at,feature,duration_seconds\n")
        lines = []
        for _ in range(rows):
            when = start + dt.timedelta(seconds=rng.randrange(90 * 86400))
            lines.append(
                f"A{rng.randrange(accounts):05d},u{rng.randrange(50)},{when:%Y-%m-%dT%H:%M:%S}Z,"
                f"{rng.choice(features)},{rng.randrange(3600)}\n"
            )
            if len(lines) >= 100_000:
                f.writelines(lines)
                lines = []
        f.writelines(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        generate(folder, args.rows)
        print(
            f"generated {args.rows} rows ({(folder / 'usage.csv').stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - t0:.1f}s"
        )
        engine = make_engine(args.db or f"sqlite:///{folder / 'bench.db'}")
        upgrade(engine)
        if has_data(engine):
            raise SystemExit("the store already holds accounts; give an empty database (e.g. a fresh schema)")
        for label in ("first import", "re-import"):
            t0 = time.perf_counter()
            import_paths(engine, [folder])
            seconds = time.perf_counter() - t0
            with engine.connect() as conn:
                count = conn.scalar(text("SELECT count(*) FROM usage_events"))
            print(
                f"{engine.dialect.name} {label}: {seconds:.1f}s, {args.rows / seconds:,.0f} rows/s, "
                f"{count} usage rows stored"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
