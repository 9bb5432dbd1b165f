"""Time a `kind: sql` sync of Segment-style tracks (not a test).

    .venv/bin/python bench/sync_bench.py --rows 200000 [--db URL]

Builds a SQLite warehouse (1,000 accounts; `--rows` tracks over 30 days), syncs it into a fresh store
(default a temporary SQLite file; a Postgres URL with --db, whose store must be empty), then syncs again
with nothing new (every slice compared, none rewritten), and prints the times and rows/second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from storage.db import make_engine, upgrade
from storage.sources_file import parse_sources
from storage.sync import sync_source


def build_warehouse(path: Path, rows: int, accounts: int = 1000, seed: int = 1) -> str:
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 1)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE crm_accounts (id TEXT, company TEXT, created TEXT)"))
        conn.execute(text("CREATE TABLE segment_tracks (context_group_id TEXT, user_id TEXT, timestamp TEXT, "
                          "event TEXT, received_at TEXT)"))
        conn.execute(text("INSERT INTO crm_accounts VALUES (:i, :c, '2025-01-01')"),
                     [{"i": f"A{a:05d}", "c": f"Account {a}"} for a in range(accounts)])
        batch = []
        for _ in range(rows):
            when = start + dt.timedelta(seconds=rng.randrange(30 * 86400))
            batch.append({"a": f"A{rng.randrange(accounts):05d}", "u": f"u{rng.randrange(50)}",
                          "t": f"{when:%Y-%m-%d %H:%M:%S}", "e": rng.choice(["report", "export", "search"]),
                          "r": f"{when + dt.timedelta(minutes=5):%Y-%m-%d %H:%M:%S}"})
        conn.execute(text("INSERT INTO segment_tracks VALUES (:a, :u, :t, :e, :r)"), batch)
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wh = build_warehouse(Path(tmp) / "wh.db", args.rows)
        store = make_engine(args.db or f"sqlite:///{tmp}/store.db")
        upgrade(store)
        (source,) = parse_sources(
            "sources:\n  wh:\n    kind: sql\n    url: ${WH}\n    tables:\n"
            "      accounts: SELECT id AS account_id, company AS name, created AS signed_up_at FROM crm_accounts\n"
            "      usage: SELECT context_group_id AS account_id, user_id, timestamp AS occurred_at, event AS feature"
            " FROM segment_tracks WHERE received_at >= :since\n", {"WH": wh})
        now = dt.datetime(2026, 12, 1, 5, tzinfo=dt.UTC)
        for label, at in (("first sync", now), ("second sync, nothing new", now + dt.timedelta(hours=1))):
            started = time.monotonic()
            report = sync_source(store, source, now=at)
            took = time.monotonic() - started
            usage = report.tables["usage"]
            print(f"{store.dialect.name} {label}: {took:.1f} s ({args.rows / took:,.0f} usage rows/s); usage "
                  f"{usage.added} added, {usage.removed} removed")
        store.dispose()


if __name__ == "__main__":
    main()
