"""KPI settings: reporting time zone, gross margin, health weights and bands.

Defaults live in `defaults.yml` beside this module; a team overrides any of them in its own
YAML file named by CSBOT_CONFIG (or passed explicitly), without touching code.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

DEFAULTS_FILE = Path(__file__).with_name("defaults.yml")
HEALTH_COMPONENTS = ("engagement", "sentiment", "support", "revenue", "lifecycle")


class ConfigError(ValueError):
    """A settings file that cannot be used; the message names every problem."""


@dataclass(frozen=True)
class HealthConfig:
    weights: dict[str, float] = field(default_factory=dict)
    green: float = 70.0
    yellow: float = 40.0

    def band(self, score: float) -> str:
        if score >= self.green:
            return "green"
        if score >= self.yellow:
            return "yellow"
        return "red"


@dataclass(frozen=True)
class KpiConfig:
    reporting_timezone: str = "UTC"
    gross_margin: float = 1.0
    health: HealthConfig = field(default_factory=HealthConfig)
    min_sample: int = 10  # a sampled KPI over fewer is "too few to compare"
    currency: str = "usd"
    currency_rates: dict[str, Decimal] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.reporting_timezone)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validate(raw: dict[str, Any], source: str) -> KpiConfig:
    problems: list[str] = []
    tz = str(raw.get("reporting_timezone", "UTC"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"reporting_timezone: {tz!r} is not an IANA time zone (e.g. Europe/Berlin)")
    try:
        margin = float(raw.get("gross_margin", 1.0))
        if not 0 < margin <= 1:
            problems.append(f"gross_margin: {margin} must be above 0 and at most 1")
    except (TypeError, ValueError):
        margin = 1.0
        problems.append("gross_margin: must be a number between 0 and 1")
    health = raw.get("health") or {}
    weights_raw = health.get("weights") or {}
    weights: dict[str, float] = {}
    for name, value in weights_raw.items():
        if name not in HEALTH_COMPONENTS:
            problems.append(f"health.weights.{name}: unknown component; use {', '.join(HEALTH_COMPONENTS)}")
            continue
        try:
            weights[name] = float(value)
        except (TypeError, ValueError):
            problems.append(f"health.weights.{name}: {value!r} is not a number")
            continue
        if weights[name] < 0:
            problems.append(f"health.weights.{name}: must not be negative")
    if weights and sum(weights.values()) <= 0:
        problems.append("health.weights: at least one weight must be above 0")
    bands = health.get("bands") or {}
    try:
        green, yellow = float(bands.get("green", 70)), float(bands.get("yellow", 40))
        if not 0 <= yellow < green <= 100:
            problems.append("health.bands: need 0 <= yellow < green <= 100")
    except (TypeError, ValueError):
        green, yellow = 70.0, 40.0
        problems.append("health.bands: green and yellow must be numbers")
    min_sample = raw.get("min_sample", 10)
    if isinstance(min_sample, bool) or not isinstance(min_sample, int) or min_sample < 0:
        problems.append(f"min_sample: {min_sample!r} must be a whole number >= 0")
        min_sample = 10
    currency, rates = _currencies(raw, problems)
    if problems:
        raise ConfigError(f"{source}:\n  " + "\n  ".join(problems))
    return KpiConfig(tz, margin, HealthConfig(weights, green, yellow), min_sample, currency, rates)


_CURRENCY = re.compile(r"^[a-z]{3}$")


def _currencies(raw: dict[str, Any], problems: list[str]) -> tuple[str, dict[str, Decimal]]:
    """`currency` (the reporting currency, lower case) and `currency_rates` (code -> units of it per unit)."""
    currency = str(raw.get("currency") or "usd").strip().lower()
    if not _CURRENCY.match(currency):
        problems.append(f"currency: {raw.get('currency')!r} is not a 3-letter ISO currency code (e.g. usd, eur)")
    rates_raw = raw.get("currency_rates") or {}
    rates: dict[str, Decimal] = {}
    if not isinstance(rates_raw, dict):
        problems.append("currency_rates: expected a mapping of currency code to rate, e.g. {eur: 1.08}")
        return currency, rates
    for code, value in rates_raw.items():
        key = str(code).strip().lower()
        if not _CURRENCY.match(key):
            problems.append(f"currency_rates.{code}: not a 3-letter ISO currency code")
            continue
        try:
            rate = Decimal(str(value))
        except InvalidOperation:
            problems.append(f"currency_rates.{code}: {value!r} is not a number")
            continue
        if not rate.is_finite() or rate <= 0:
            problems.append(f"currency_rates.{code}: {value!r} must be a number above 0")
            continue
        rates[key] = rate
    return currency, rates


def load_config(path: str | Path | None = None) -> KpiConfig:
    """Defaults, overridden by `path` or CSBOT_CONFIG when given; every problem reported at once."""
    raw = yaml.safe_load(DEFAULTS_FILE.read_text()) or {}
    chosen = path or os.environ.get("CSBOT_CONFIG")
    source = str(DEFAULTS_FILE)
    if chosen:
        source = str(chosen)
        try:
            override = yaml.safe_load(Path(chosen).read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"CSBOT_CONFIG: cannot read {chosen}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{chosen}: not valid YAML: {exc}") from exc
        if not isinstance(override, dict):
            raise ConfigError(f"{chosen}: expected a mapping of settings at the top level")
        raw = _merge(raw, override)
    return _validate(raw, source)
