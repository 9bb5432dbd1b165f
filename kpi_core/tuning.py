"""`csbot tune-health`: fit component weights on older snapshots, check them on the most recent ones.

Out of time, never a random split: the last `validation_share` of the snapshot dates are the validation window;
training uses only the dates whose whole horizon ended before the first validation date (no outcome of the
training set falls inside the validation window). A logistic regression (scikit-learn) of churn within the horizon
on the five component scores (0-1; a missing component takes its training mean) gives one coefficient each; the
suggested weight of a component is its risk-lowering coefficient (negated, floored at 0), scaled to sum to 1.
The new score is the health formula itself (weighted mean of the components present, weights scaled up over
them), so before and after differ only by the weights. Nothing is written: the YAML is printed for a person to
review and put in CSBOT_CONFIG. With `fit_bands`, the red threshold (`bands.yellow`) is also chosen on the training
window: the one of 20, 25, ... 60 (below `bands.green`) whose red band best balances precision and recall (F1).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, replace

import numpy as np
import yaml
from sklearn.linear_model import LogisticRegression

from kpi_core.backtest import auc, churned_within
from kpi_core.config import HEALTH_COMPONENTS, KpiConfig
from kpi_core.health import _r1, weights_of
from kpi_core.types import UserError
from storage.snapshots import SnapshotPair

VALIDATION_SHARE = 0.25
MIN_TRAIN_CHURNED = 10
RED_CUTS = tuple(range(20, 65, 5))


@dataclass(frozen=True)
class WindowScore:
    auc: float | None
    red_flagged: int
    red_precision: float | None


@dataclass(frozen=True)
class TuneResult:
    train_dates: tuple[dt.date, ...]
    valid_dates: tuple[dt.date, ...]
    train_pairs: int
    train_churned: int
    valid_pairs: int
    valid_churned: int
    before_weights: dict[str, float]
    after_weights: dict[str, float]
    before: WindowScore
    after: WindowScore
    config: KpiConfig  # the current settings
    yellow: float  # the suggested red threshold (the current one unless fitted)

    def yaml(self) -> str:
        """The suggested `health:` section of the KPI settings file."""
        section = {"health": {"weights": {k: round(v, 3) for k, v in self.after_weights.items()},
                              "bands": {"green": self.config.health.green, "yellow": self.yellow}}}
        return yaml.safe_dump(section, sort_keys=False)


def rescore(components: dict[str, float | None], weights: dict[str, float]) -> float | None:
    """The health score from stored component scores and `weights` (the same re-weighting as `health`)."""
    present = [n for n in HEALTH_COMPONENTS if components.get(n) is not None and weights.get(n, 0) > 0]
    total = sum(weights[n] for n in present)
    if not present or total <= 0:
        return None
    return _r1(sum(weights[n] / total * components[n] for n in present))


def _window(pairs: list[SnapshotPair], horizon: int, weights: dict[str, float], config: KpiConfig) -> WindowScore:
    scored = [(rescore(p.row.components, weights), churned_within(p, horizon)) for p in pairs]
    scored = [(s, y) for s, y in scored if s is not None]
    value = auc([y for _, y in scored], [s for s, _ in scored])
    red = [y for s, y in scored if config.health.band(s) == "red"]
    return WindowScore(value, len(red), (sum(red) / len(red)) if red else None)


def split_dates(dates: list[dt.date], horizon: int, share: float = VALIDATION_SHARE
                ) -> tuple[list[dt.date], list[dt.date]]:
    """(training dates, validation dates): the newest `share` validate; training ends a horizon before them."""
    dates = sorted(dates)
    n_valid = max(1, round(len(dates) * share))
    valid = dates[-n_valid:]
    train = [d for d in dates[:-n_valid] if d + dt.timedelta(days=horizon) <= valid[0]]
    return train, valid


def best_red_cut(scores: list[float], churned: list[bool], green: float) -> float | None:
    """The red threshold of RED_CUTS (below `green`) with the best F1 of "score below it" for churn."""
    best, best_f1 = None, -1.0
    total = sum(churned)
    for cut in (c for c in RED_CUTS if c < green):
        flagged = [y for s, y in zip(scores, churned, strict=True) if s < cut]
        hits = sum(flagged)
        if not flagged or not total:
            continue
        precision, recall = hits / len(flagged), hits / total
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        if f1 > best_f1:
            best, best_f1 = float(cut), f1
    return best


def tune(pairs: list[SnapshotPair], horizon: int, config: KpiConfig, fit_bands: bool = False) -> TuneResult:
    dates = sorted({p.row.snapshot_date for p in pairs})
    train_dates, valid_dates = split_dates(dates, horizon)
    train = [p for p in pairs if p.row.snapshot_date in set(train_dates)]
    valid = [p for p in pairs if p.row.snapshot_date in set(valid_dates)]
    y = np.array([churned_within(p, horizon) for p in train], dtype=bool)
    if int(y.sum()) < MIN_TRAIN_CHURNED or y.all():
        raise UserError(
            f"Too little history to tune: the training window ({len(train_dates)} snapshot dates, {len(train)} pairs) "
            f"has {int(y.sum())} churn events within {horizon} days; at least {MIN_TRAIN_CHURNED} are needed. "
            "Backfill further back (csbot health-backfill) or use a shorter --every.")
    x = np.array([[np.nan if p.row.components.get(n) is None else p.row.components[n] / 100.0
                   for n in HEALTH_COMPONENTS] for p in train], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a component missing on every pair: mean of nothing
        means = np.nanmean(x, axis=0)
    means = np.where(np.isnan(means), 0.5, means)
    x = np.where(np.isnan(x), means, x)
    model = LogisticRegression(class_weight="balanced", max_iter=1000).fit(x, y)
    raw = np.maximum(0.0, -model.coef_[0])
    before = weights_of(config)
    if raw.sum() <= 0:
        after = dict(before)  # no component lowers risk: keep the current weights
    else:
        after = {n: float(w / raw.sum()) for n, w in zip(HEALTH_COMPONENTS, raw, strict=True)}
    suggested = config
    if fit_bands:
        rescored = [(rescore(p.row.components, after), bool(hit)) for p, hit in zip(train, y, strict=True)]
        rescored = [(s, hit) for s, hit in rescored if s is not None]
        cut = best_red_cut([s for s, _ in rescored], [hit for _, hit in rescored], config.health.green)
        if cut is not None:
            suggested = replace(config, health=replace(config.health, yellow=cut))
    return TuneResult(
        tuple(train_dates), tuple(valid_dates), len(train), int(y.sum()), len(valid),
        sum(churned_within(p, horizon) for p in valid), before, after,
        _window(valid, horizon, before, config), _window(valid, horizon, after, suggested), config,
        suggested.health.yellow,
    )
