"""The one place "today" comes from: --as-of, else CSBOT_AS_OF, else the date in the reporting time zone."""

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
    return dt.datetime.now(config.tz).date()
