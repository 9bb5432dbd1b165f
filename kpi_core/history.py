"""Health history: what a day's snapshot holds, the daily snapshot and the backfill of past days.

Scoring is `risk.score_with_rules` (itself `health.score_where`): the very function `/health`, `/atrisk` and the
risk scan use, so a snapshot is its stored output. Each day is scored for all customers at once (five grouped
queries, plus five for the score 14 days earlier that the health-drop rule compares with, plus one for
detractors), never one query per account and day. The backfill scores a day for its customers and for those of the
day 14 days later when that day is also backfilled (weekly and daily steps), and keeps those scores as the later
day's "14 days earlier": the same `score_where` call with the same renewal rule (days before today), and an
account's score never depends on which other accounts are scored with it, so the stored rows are exactly what
`score_with_rules` gives (a test checks it), for half the queries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, or_

from kpi_core.backtest import (
    DEFAULT_HORIZON_DAYS,
    BacktestReport,
    backtest,
    churned_within,
    default_range,
    observable,
)
from kpi_core.config import HEALTH_COMPONENTS, KpiConfig
from kpi_core.context import customer_on
from kpi_core.health import score_where
from kpi_core.risk import HEALTH_DROP_DAYS, AtRisk, rules_of_scored, score_with_rules
from kpi_core.types import UserError
from storage.snapshots import (
    SnapshotPair,
    SnapshotRow,
    churn_dates,
    dismissed_alerts,
    has_snapshot,
    snapshot_pairs,
    write_snapshots,
)

EVERY = ("day", "week", "month")
MAX_BACKFILL_DAYS = 3660


def snapshot_rows(items: list[AtRisk]) -> list[SnapshotRow]:
    """The stored form of scored customers (scores at 1 decimal, as the answers show them)."""
    return [
        SnapshotRow(a.health.as_of, a.health.account.id, a.health.score, a.health.band,
                    {c.name: c.score for c in a.health.components if c.name in HEALTH_COMPONENTS},
                    tuple(r.id for r in a.rules))
        for a in items
    ]


def score_day(conn: Connection, day: dt.date, config: KpiConfig, today: dt.date | None) -> list[AtRisk]:
    """Every customer on `day` with health and fired rules, point in time when `day` is before `today`."""
    return score_with_rules(conn, day, config, today=today)


def take_daily_snapshot(engine: Engine, day: dt.date, config: KpiConfig, now: dt.datetime | None = None) -> bool:
    """Store `day`'s snapshot (the day csbot is on: renewal dates used) unless stored already; True when written."""
    with engine.connect() as conn:
        if has_snapshot(conn, day):
            return False
        rows = snapshot_rows(score_day(conn, day, config, today=day))
    return write_snapshots(engine, day, rows, "daily", now)


def backfill_dates(start: dt.date, end: dt.date, every: str = "week") -> list[dt.date]:
    """`start`, then every day/week/month after it, up to `end` (month steps keep the day of month, or the
    month's last day when it is shorter)."""
    if every not in EVERY:
        raise UserError(f"--every takes {', '.join(EVERY)}, not {every!r}.")
    if end < start:
        raise UserError(f"--to ({end}) is before --from ({start}).")
    if (end - start).days > MAX_BACKFILL_DAYS:
        raise UserError(f"At most {MAX_BACKFILL_DAYS} days at once; split the range.")
    out = []
    if every == "month":
        index = 0
        while True:
            month = start.month - 1 + index
            year, month = start.year + month // 12, month % 12 + 1
            last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
            day = dt.date(year, month, min(start.day, last))
            if day > end:
                return out
            out.append(day)
            index += 1
    step = dt.timedelta(days=1 if every == "day" else 7)
    day = start
    while day <= end:
        out.append(day)
        day += step
    return out


@dataclass(frozen=True)
class BackfillResult:
    written: tuple[dt.date, ...]
    existing: tuple[dt.date, ...]  # already had a snapshot: left as they were
    empty: tuple[dt.date, ...]  # no customer that day: nothing to store
    rows: int


def backfill(engine: Engine, dates: list[dt.date], config: KpiConfig, today: dt.date,
             progress: Callable[[dt.date, int], None] | None = None) -> BackfillResult:
    """Score and store every day of `dates` that has no snapshot yet, point in time (days before `today`)."""
    written, existing, empty, total = [], [], [], 0
    wanted = set(dates)
    kept: dict[dt.date, dict[str, float | None]] = {}  # day -> scores, for the day 14 days later
    for day in sorted(wanted):
        with engine.connect() as conn:
            if has_snapshot(conn, day):
                existing.append(day)
                continue
            later = day + dt.timedelta(days=HEALTH_DROP_DAYS)
            earlier = kept.pop(day - dt.timedelta(days=HEALTH_DROP_DAYS), None) if day < today else None
            if later in wanted and later < today:
                scored = score_where(conn, day, config, [or_(customer_on(day), customer_on(later))], today)
                kept[day] = {h.account.id: h.score for h in scored}
                now = [h for h in scored if h.status == "customer"]
            else:
                now = score_where(conn, day, config, [customer_on(day)], today)
            items = rules_of_scored(conn, day, config, now, [customer_on(day)], today, earlier) if now else []
        rows = snapshot_rows(items)
        if not rows:
            empty.append(day)
        elif write_snapshots(engine, day, rows, "backfill"):
            written.append(day)
            total += len(rows)
        else:
            existing.append(day)
        if progress is not None:
            progress(day, len(rows))
    return BackfillResult(tuple(written), tuple(existing), tuple(empty), total)


@dataclass(frozen=True)
class BacktestRun:
    report: BacktestReport
    pairs: list[SnapshotPair]
    filled: BackfillResult  # dates scored now because they had no snapshot yet
    censored: tuple[dt.date, ...]  # asked dates whose horizon has not passed yet: left out


def run_backtest(engine: Engine, config: KpiConfig, today: dt.date, start: dt.date | None = None,
                 end: dt.date | None = None, every: str = "month",
                 horizon_days: int = DEFAULT_HORIZON_DAYS) -> BacktestRun:
    """Snapshot dates from `start` to `end` (defaults: `default_range`), the missing ones backfilled point in
    time first, then the report over every (date, customer) pair whose horizon has passed by `today`."""
    if horizon_days < 1:
        raise UserError("--horizon must be at least 1 day.")
    first, last = default_range(today, horizon_days)
    start, end = start or first, end or last
    dates, censored = observable(backfill_dates(start, end, every), today, horizon_days)
    if not dates:
        raise UserError(f"No snapshot date from {start} to {end} is at least {horizon_days} days before {today}, "
                        "so no outcome can be known yet; move --to back or shorten --horizon.")
    filled = backfill(engine, dates, config, today)
    with engine.connect() as conn:
        pairs = snapshot_pairs(conn, dates)
        dismissed = [(a, day) for a, day in dismissed_alerts(conn)
                     if day is not None and day <= today - dt.timedelta(days=horizon_days)]
        churned = churn_dates(conn, [a for a, _ in dismissed])
    report = backtest(pairs, horizon_days, dismissed, churned)
    return BacktestRun(report, pairs, filled, tuple(censored))


SCORES_HEADER = ("date", "account_id", "score", "band", "rules", "churned_within_horizon")


def write_scores_csv(path, pairs: list[SnapshotPair], horizon_days: int) -> int:
    """Every pair as `date, account_id, score, band, rules, churned_within_horizon` (1/0); rows written."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(SCORES_HEADER)
        for p in pairs:
            r = p.row
            writer.writerow([r.snapshot_date.isoformat(), r.account_id, "" if r.score is None else r.score,
                             r.band or "", " ".join(r.rules), int(churned_within(p, horizon_days))])
    return len(pairs)
