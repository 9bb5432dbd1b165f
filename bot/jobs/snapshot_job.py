"""The daily health snapshot: every customer's score, band, components and fired risk rules, stored once a day.

Run by the scheduler's leader only (like the digest and the risk scan), at every tick: the first tick of a day
(in the reporting time zone, or CSBOT_AS_OF when pinned) scores that day with the same function as `/health`
and `/atrisk` and stores it; later ticks find the day stored and do nothing. Two leaders for a moment (a lock
hand-over) still store the day once: the snapshot's primary key turns the second write away as a whole.
"""

from __future__ import annotations

import datetime as dt
import logging

from bot.jobs.context import JobContext
from kpi_core.history import take_daily_snapshot

log = logging.getLogger("csbot.snapshot")


def snapshot_day(ctx: JobContext, now: dt.datetime | None = None) -> dt.date:
    """The day a snapshot taken at `now` is of: CSBOT_AS_OF when pinned, else the date in the reporting time zone."""
    return ctx.as_of or (now or ctx.now()).astimezone(ctx.config.tz).date()


def run(ctx: JobContext, now: dt.datetime | None = None) -> bool:
    """Store today's snapshot unless it is stored already; True when this call stored it."""
    now = now or ctx.now()
    day = snapshot_day(ctx, now)
    written = take_daily_snapshot(ctx.engine, day, ctx.config, now)
    if written:
        log.info("stored the health snapshot of %s", day)
    return written
