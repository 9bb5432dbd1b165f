"""The one place "today" comes from: --as-of, else CSBOT_AS_OF, else the date of "now" (CSBOT_NOW when set, else
the system clock) in the reporting time zone."""

from __future__ import annotations

import datetime as dt
import os

from kpi_core.config import KpiConfig
from kpi_core.types import UserError


def parse_as_of(text: str, source: str = "--as-of") -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"{source}: '{text}' is not a date; use YYYY-MM-DD, e.g. 2026-11-22.") from None


def today(config: KpiConfig, as_of: str | dt.date | None = None) -> dt.date:
    if isinstance(as_of, dt.date):
        return as_of
    if as_of:
        return parse_as_of(as_of)
    pinned = os.environ.get("CSBOT_AS_OF")
    if pinned:
        return parse_as_of(pinned, "CSBOT_AS_OF")
    return utcnow().astimezone(config.tz).date()


def parse_now(text: str, source: str = "CSBOT_NOW") -> dt.datetime:
    """An ISO instant ('2026-01-05T08:00:00Z', or with an offset; naive means UTC) as an aware UTC datetime."""
    raw = text.strip()
    try:
        value = dt.datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except ValueError:
        raise UserError(f"{source}: '{text}' is not an instant; use e.g. 2026-01-05T08:00:00Z.") from None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """The current instant (aware, UTC) for schedules: CSBOT_NOW when set (a fixed instant, for tests and
    replays), else the system clock."""
    pinned = os.environ.get("CSBOT_NOW", "").strip()
    if pinned:
        return parse_now(pinned)
    return dt.datetime.now(dt.UTC)
