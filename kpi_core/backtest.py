"""The renewal litmus test: does the stored health score predict churn? Pure statistics over snapshot pairs.

A pair is (snapshot date D, account) for every customer stored in D's snapshot; its outcome is "churned within
the horizon": churned_at in (D, D + horizon]. Lower score = riskier, so the AUC is that of -score for churn
(scikit-learn's `roc_auc_score`: ties count one half). Its 95% interval is Hanley & McNeil's (1982) normal
approximation; pairs of the same account on different dates are not independent, so read it as a lower bound on
the uncertainty. Pairs without a score (no data at all) are counted, never ranked.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import roc_auc_score

from kpi_core.config import HEALTH_COMPONENTS
from kpi_core.risk import RULE_IDS
from kpi_core.types import UserError
from storage.snapshots import SnapshotPair

DEFAULT_HORIZON_DAYS = 90
DEFAULT_MONTHS = 24
MIN_CHURN_EVENTS = 20
RENEWAL_BAND_DAYS = (60, 90)  # the band an account had 60-90 days before its renewal date
RENEWAL_GRACE_DAYS = 30  # churned up to 30 days after the renewal date counts as not renewed
BANDS = ("red", "yellow", "green")
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Flagged:
    flagged: int
    churned: int  # churned among flagged
    precision: float | None
    recall: float | None


@dataclass(frozen=True)
class BandRate:
    pairs: int
    churned: int
    rate: float | None


@dataclass(frozen=True)
class Dismissed:
    """Alerts people marked "Not a risk": how many, and how many of those accounts churned within the horizon."""

    alerts: int
    churned: int


@dataclass(frozen=True)
class Renewals:
    """Accounts whose renewal date fell in the range: renewed or churned, by their band 60-90 days before."""

    by_band: dict[str, dict[str, int]]  # band (or "unscored") -> {"renewed": n, "churned": m}


@dataclass(frozen=True)
class BacktestReport:
    horizon_days: int
    snapshots: tuple[dt.date, ...]
    pairs: int
    churned: int
    unscored: int  # pairs without a score (left out of every AUC)
    auc: float | None
    auc_ci: tuple[float, float] | None
    bands: dict[str, BandRate]
    base_rate: float | None
    red_lift: float | None
    components: dict[str, float | None]
    segments: dict[str, dict[str, float | int | None]]
    at_risk: Flagged
    rules: dict[str, Flagged]
    churned_accounts: int = 0  # distinct accounts behind the churned pairs: the churn events
    dismissed: Dismissed | None = None
    renewals: Renewals | None = None
    by_date: dict[dt.date, dict[str, BandRate]] = field(default_factory=dict)

    @property
    def enough_history(self) -> bool:
        return self.churned_accounts >= MIN_CHURN_EVENTS

    def too_little_history(self) -> str | None:
        """The plain warning when there are fewer than MIN_CHURN_EVENTS churn events, else None."""
        if self.enough_history:
            return None
        return (f"Too little history to trust these numbers: {self.churned_accounts} account(s) churned within "
                f"{self.horizon_days} days of a snapshot ({self.churned} churned pairs of {self.pairs} (date, "
                f"account) pairs from {len(self.snapshots)} snapshot date(s)); at least {MIN_CHURN_EVENTS} churn "
                "events are needed. "
                "Backfill further back (csbot health-backfill) or wait for more history.")


# ------------------------------------------------------------------------------------------------ statistics


def auc(churned: Sequence[bool], scores: Sequence[float]) -> float | None:
    """AUC of the score for churn, lower score = riskier; None unless both outcomes occur."""
    y = np.asarray(churned, dtype=bool)
    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, -np.asarray(scores, dtype=float)))


def auc_interval(value: float | None, positives: int, negatives: int) -> tuple[float, float] | None:
    """Hanley & McNeil's 95% interval of an AUC from `positives` churned and `negatives` other pairs."""
    if value is None or positives < 1 or negatives < 1:
        return None
    q1 = value / (2 - value)
    q2 = 2 * value * value / (1 + value)
    var = (value * (1 - value) + (positives - 1) * (q1 - value ** 2)
           + (negatives - 1) * (q2 - value ** 2)) / (positives * negatives)
    se = math.sqrt(max(var, 0.0))
    return max(0.0, value - Z95 * se), min(1.0, value + Z95 * se)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def flagged_stats(flags: Sequence[bool], churned: Sequence[bool]) -> Flagged:
    f = np.asarray(flags, dtype=bool)
    y = np.asarray(churned, dtype=bool)
    hit = int((f & y).sum())
    return Flagged(int(f.sum()), hit, _ratio(hit, int(f.sum())), _ratio(hit, int(y.sum())))


def churned_within(pair: SnapshotPair, horizon_days: int) -> bool:
    day = pair.row.snapshot_date
    return pair.churned_at is not None and day < pair.churned_at <= day + dt.timedelta(days=horizon_days)


def _band_rates(pairs: list[SnapshotPair], outcome: list[bool]) -> dict[str, BandRate]:
    out = {}
    for band in BANDS:
        idx = [i for i, p in enumerate(pairs) if p.row.band == band]
        hit = sum(outcome[i] for i in idx)
        out[band] = BandRate(len(idx), hit, _ratio(hit, len(idx)))
    return out


def _renewals(pairs: list[SnapshotPair], start: dt.date, end: dt.date) -> Renewals:
    """Renewal dates in [start, end]: band from the latest snapshot 60-90 days before, outcome by churn date."""
    latest: dict[str, tuple[dt.date, str | None, dt.date, dt.date | None]] = {}
    for p in pairs:
        renewal = p.renewal_date
        if renewal is None or not start <= renewal <= end:
            continue
        lo, hi = (renewal - dt.timedelta(days=RENEWAL_BAND_DAYS[1]), renewal - dt.timedelta(days=RENEWAL_BAND_DAYS[0]))
        if lo <= p.row.snapshot_date <= hi:
            seen = latest.get(p.row.account_id)
            if seen is None or seen[0] < p.row.snapshot_date:
                latest[p.row.account_id] = (p.row.snapshot_date, p.row.band, renewal, p.churned_at)
    by_band: dict[str, dict[str, int]] = {}
    for _day, band, renewal, churned_at in latest.values():
        lost = churned_at is not None and churned_at <= renewal + dt.timedelta(days=RENEWAL_GRACE_DAYS)
        slot = by_band.setdefault(band or "unscored", {"renewed": 0, "churned": 0})
        slot["churned" if lost else "renewed"] += 1
    return Renewals(by_band)


def backtest(pairs: list[SnapshotPair], horizon_days: int = DEFAULT_HORIZON_DAYS,
             dismissed: list[tuple[str, dt.date]] | None = None,
             churn_dates: dict[str, dt.date | None] | None = None) -> BacktestReport:
    """Every number of the report from the stored pairs (`dismissed`: (account id, date marked "Not a risk"))."""
    if horizon_days < 1:
        raise UserError("--horizon must be at least 1 day.")
    outcome = [churned_within(p, horizon_days) for p in pairs]
    scored = [i for i, p in enumerate(pairs) if p.row.score is not None]
    y = [outcome[i] for i in scored]
    value = auc(y, [pairs[i].row.score for i in scored])
    positives = sum(y)
    components = {}
    for name in HEALTH_COMPONENTS:
        idx = [i for i, p in enumerate(pairs) if p.row.components.get(name) is not None]
        components[name] = auc([outcome[i] for i in idx], [pairs[i].row.components[name] for i in idx])
    segments: dict[str, dict[str, float | int | None]] = {}
    for seg in sorted({p.segment or "(none)" for p in pairs}):
        idx = [i for i in scored if (pairs[i].segment or "(none)") == seg]
        segments[seg] = {"auc": auc([outcome[i] for i in idx], [pairs[i].row.score for i in idx]),
                         "pairs": len(idx), "churned": sum(outcome[i] for i in idx)}
    bands = _band_rates(pairs, outcome)
    base = _ratio(sum(outcome), len(pairs))
    red = bands["red"].rate
    rules = {rule: flagged_stats([rule in p.row.rules for p in pairs], outcome) for rule in RULE_IDS}
    dates = tuple(sorted({p.row.snapshot_date for p in pairs}))
    by_date = {}
    for day in dates:
        idx = [i for i, p in enumerate(pairs) if p.row.snapshot_date == day]
        by_date[day] = _band_rates([pairs[i] for i in idx], [outcome[i] for i in idx])
    gone = None
    if dismissed is not None:
        churn_dates = churn_dates or {}
        hits = 0
        for account_id, day in dismissed:
            churned_at = churn_dates.get(account_id)
            hits += churned_at is not None and day < churned_at <= day + dt.timedelta(days=horizon_days)
        gone = Dismissed(len(dismissed), hits)
    renewals = _renewals(pairs, dates[0], dates[-1] + dt.timedelta(days=horizon_days)) if dates else Renewals({})
    return BacktestReport(
        horizon_days=horizon_days, snapshots=dates, pairs=len(pairs), churned=sum(outcome),
        unscored=len(pairs) - len(scored), auc=value, auc_ci=auc_interval(value, positives, len(y) - positives),
        bands=bands, base_rate=base, red_lift=(red / base) if red is not None and base else None,
        components=components, segments=segments,
        at_risk=flagged_stats([bool(p.row.rules) for p in pairs], outcome), rules=rules,
        churned_accounts=len({p.row.account_id for p, hit in zip(pairs, outcome, strict=True) if hit}),
        dismissed=gone, renewals=renewals, by_date=by_date,
    )


# ----------------------------------------------------------------------------------------------------- dates


def default_range(today: dt.date, horizon_days: int = DEFAULT_HORIZON_DAYS,
                  months: int = DEFAULT_MONTHS) -> tuple[dt.date, dt.date]:
    """The first of each month over the `months` months before today minus the horizon: (first, last) date."""
    end = today - dt.timedelta(days=horizon_days)
    index = end.year * 12 + end.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1), end


def observable(dates: Sequence[dt.date], today: dt.date, horizon_days: int) -> tuple[list[dt.date], list[dt.date]]:
    """(dates whose whole horizon has passed by today, the others): only the first can be scored fairly."""
    limit = today - dt.timedelta(days=horizon_days)
    return [d for d in dates if d <= limit], [d for d in dates if d > limit]


def round_or_none(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def report_json(r: BacktestReport) -> dict:
    """The `csbot backtest --json` object (commands.md), then a few more keys."""

    def flag(f: Flagged) -> dict:
        return {"flagged": f.flagged, "churned": f.churned, "precision": round_or_none(f.precision),
                "recall": round_or_none(f.recall)}

    return {
        "auc": round_or_none(r.auc),
        "auc_ci": [round(r.auc_ci[0], 4), round(r.auc_ci[1], 4)] if r.auc_ci else None,
        "pairs": r.pairs,
        "churned": r.churned,
        "horizon_days": r.horizon_days,
        "snapshots": [d.isoformat() for d in r.snapshots],
        "bands": {b: {"pairs": v.pairs, "churned": v.churned, "rate": round_or_none(v.rate)}
                  for b, v in r.bands.items()},
        "components": {n: {"auc": round_or_none(v)} for n, v in r.components.items()},
        "rules": {k: flag(v) for k, v in r.rules.items()},
        "at_risk": flag(r.at_risk),
        "base_rate": round_or_none(r.base_rate),
        "red_lift": round_or_none(r.red_lift, 2),
        "unscored": r.unscored,
        "churned_accounts": r.churned_accounts,
        "segments": {k: {**v, "auc": round_or_none(v["auc"])} for k, v in r.segments.items()},
        "not_a_risk": None if r.dismissed is None else {"alerts": r.dismissed.alerts, "churned": r.dismissed.churned},
        "renewals": r.renewals.by_band if r.renewals else {},
        "enough_history": r.enough_history,
        "warning": r.too_little_history(),
    }
