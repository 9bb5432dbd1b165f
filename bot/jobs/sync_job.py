"""Syncing sources: now (`csbot sync`) or on each source's daily schedule (the scheduler's leader only).

A scheduled run is keyed `sync:{source}:{scheduled UTC minute}` and claimed in `source_runs` before it
starts, so however many replicas fire it, it runs once. A failure keeps the previous data (nothing is
written), is recorded, and is posted to every channel with a digest or risk subscription: never silent.
After a successful sync, owner e-mails are resolved through Slack (users.lookupByEmail).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.jobs.context import JobContext
from bot.owner_lookup import resolve_owners
from bot.render.blocks import escape
from kpi_core.config import KpiConfig
from kpi_core.risk import score_with_rules
from storage import subscriptions as subs
from storage.owner_emails import unresolved_emails
from storage.sources_file import SourceDef
from storage.sync import claim_run, ran_since, sync_source, take_over_run
from storage.sync_report import SyncError, SyncReport

__all__ = ["SyncOutcome", "due_sync", "owner_notes", "run_sync", "source_trigger", "sync_due_sources", "warm_health"]

log = logging.getLogger("csbot.jobs.sync")

_LOOKBACK = dt.timedelta(days=2)
ABANDONED_AFTER = dt.timedelta(hours=1)
"""A scheduled run still 'running' after this long was left by a process that stopped (only the leader
ticks, one tick at a time): the leader runs it again."""


@dataclass(frozen=True)
class SyncOutcome:
    source: str
    report: SyncReport | None  # None: failed
    problems: tuple[str, ...] = ()


def run_sync(engine: Engine, source: SourceDef, *, now: dt.datetime, reporting_tz: str, dry_run: bool = False,
             client: WebClient | None = None, run_id: int | None = None,
             env: Mapping[str, str] | None = None, config: KpiConfig | None = None) -> SyncOutcome:
    """Sync one source; then (not on a dry run) resolve owner e-mails when a Slack client is given.

    `config`: the KPI settings, for the Stripe kind's reporting currency and rates."""
    config = config or KpiConfig()
    try:
        report = sync_source(engine, source, now=now, reporting_tz=reporting_tz, dry_run=dry_run, run_id=run_id,
                             env=env, currency=config.currency, currency_rates=config.currency_rates)
    except SyncError as exc:
        log.info("sync of %s failed: %s", source.name, exc.problems[0] if exc.problems else exc)
        return SyncOutcome(source.name, None, tuple(exc.problems))
    if not dry_run:
        report.notes.extend(owner_notes(engine, client, now))
    return SyncOutcome(source.name, report)


def owner_notes(engine: Engine, client: WebClient | None, now: dt.datetime) -> list[str]:
    """Resolve owner e-mails with `client` (when given) and list those that match nobody."""
    if client is not None:
        try:
            return resolve_owners(engine, client, now)
        except Exception:
            log.exception("owner e-mails could not be resolved; trying again at the next sync")
            return ["owner e-mails: could not be resolved this time (see the log); tried again next sync"]
    with engine.connect() as conn:
        pending = unresolved_emails(conn)
    if not pending:
        return []
    return [f"unresolved owner e-mail: {email} ({n} account{'s' if n != 1 else ''}); set SLACK_BOT_TOKEN to "
            "resolve owner e-mails" for email, n in pending]


# ------------------------------------------------------------------------------------------ schedule


def source_trigger(source: SourceDef, tz: ZoneInfo) -> CronTrigger:
    """Daily at the source's `schedule` (HH:MM) in the reporting time zone."""
    hour, minute = (int(p) for p in source.schedule.split(":"))
    return CronTrigger(hour=hour, minute=minute, timezone=tz)


def due_sync(source: SourceDef, tz: ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """The latest scheduled instant (UTC) of `source` at or before `now`, looking back two days."""
    trigger = source_trigger(source, tz)
    search = (now - _LOOKBACK).astimezone(dt.UTC)
    latest = None
    previous = None
    for _ in range(8):
        fire = trigger.get_next_fire_time(previous, search)
        if fire is None or fire.astimezone(dt.UTC) > now:
            break
        latest = previous = fire.astimezone(dt.UTC)
        search = latest + dt.timedelta(seconds=1)
    return latest


def sync_due_sources(ctx: JobContext, now: dt.datetime | None = None) -> list[SyncOutcome]:
    """Run every source whose scheduled time has come and that has not run since (claimed once)."""
    now = now or ctx.now()
    out: list[SyncOutcome] = []
    for source in ctx.sources:
        fire = due_sync(source, ctx.config.tz, now)
        if fire is None:
            continue
        key = f"sync:{source.name}:{fire:%Y-%m-%dT%H:%M}Z"
        run_id = take_over_run(ctx.engine, key, now=now, claimed_by=ctx.identity, older_than=ABANDONED_AFTER)
        if run_id is not None:
            log.warning("%s was left running by a process that stopped: running it again", key)
        elif ran_since(ctx.engine, source.name, fire):
            continue
        else:
            run_id = claim_run(ctx.engine, source.name, key, now=now, claimed_by=ctx.identity)
            if run_id is None:
                continue  # another replica has it
        if not ctx.still_leader():
            log.warning("%s: no longer the scheduler; the run stays claimed and unfinished", key)
            break
        outcome = run_sync(ctx.engine, source, now=now, reporting_tz=ctx.config.reporting_timezone, config=ctx.config,
                           client=ctx.client, run_id=run_id)
        if outcome.report is None:
            report_failure(ctx, source, outcome.problems, now)
        else:
            log.info("%s: %s", key, "; ".join(outcome.report.lines()))
        out.append(outcome)
    if any(o.report is not None for o in out):
        warm_health(ctx, now)
    return out


def warm_health(ctx: JobContext, now: dt.datetime) -> None:
    """Score today's health again for the accounts the syncs wrote (stored: kpi_core/stored_health.py), so the
    next /health, /atrisk or Home answer reads it instead of scoring while someone waits."""
    today = ctx.today_for(now.astimezone(ctx.config.tz).date())
    try:
        with ctx.engine.connect() as conn:
            score_with_rules(conn, today, ctx.config, today=today)
    except Exception:  # a warm-up is an optimisation: the next question scores what is still stale
        log.exception("health of %s could not be scored after the sync; the next question will", today)


def report_failure(ctx: JobContext, source: SourceDef, problems: tuple[str, ...], now: dt.datetime) -> None:
    """Tell every subscribed channel that `source` failed, with the problem; the previous data stays."""
    shown = list(problems[:5]) + ([f"... and {len(problems) - 5} more"] if len(problems) > 5 else [])
    log.error("the scheduled sync of %s failed: %s", source.name, shown[0] if shown else "")
    text = (f":x: The scheduled sync of *{escape(source.name)}* failed at {now:%Y-%m-%d %H:%M} UTC; nothing was "
            "written and the previous data stays. Digests say so until it succeeds.\n```"
            + escape("\n".join(shown))[:2500] + "```\nFix it, then run `csbot sync " + escape(source.name) + "`.")
    channels = sorted({s.channel_id for s in subs.active_subscriptions(ctx.engine)})
    if not channels:
        log.error("sync of %s failed and no channel is subscribed to be told: %s", source.name, shown)
    for channel in channels:
        try:
            ctx.client.chat_postMessage(channel=channel, text=text)
        except SlackApiError as exc:
            log.error("could not tell %s that the sync of %s failed (%s)", channel, source.name,
                      exc.response.get("error") if exc.response is not None else exc)
