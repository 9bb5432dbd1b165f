"""When to run what: due-computation from the subscriptions table, and the APScheduler service around it.

The schedule of a subscription is an APScheduler `CronTrigger` in the subscription's IANA time zone, so
daylight-saving changes are APScheduler's business: Monday 09:00 Europe/Berlin is 08:00 UTC in January and
07:00 UTC in July. `tick(ctx, now)` is the whole decision and is pure apart from the store and Slack: for
each active subscription it takes the latest scheduled instant at or before `now` and

- no delivery recorded for it: within the grace window, claim and post it (marked as delayed when more than
  two minutes late); past the window, record it as skipped (shown by `/digest list`), never post;
- claimed by a process that is gone (we lead, so it does not): recover it (look in the channel, post only
  when it is not there);
- failed with a retry due: try again; still failing when the window ends: give up, mark the subscription
  failing and tell the subscriber;
- posted or skipped: nothing.

A tick is idempotent (every run has a unique key), so `SchedulerService` simply calls it at each exact
scheduled instant (one cron job per subscription, re-synced from the table every minute) and every
CSBOT_SCHEDULER_TICK_SECONDS for catch-up and retries; only in the process that holds the leader lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.access import AccessPolicy
from bot.jobs import digest_job, risk_job, snapshot_job, sync_job
from bot.jobs.context import LATE_AFTER, JobContext
from bot.jobs.leader import Leader, make_leader
from bot.jobs.posting import (
    DeliveryFailure,
    LostLeadership,
    Posted,
    Unconfirmed,
    record_failure,
    record_success,
    record_unconfirmed,
)
from bot.settings import tick_seconds
from kpi_core.config import KpiConfig
from kpi_core.digest import last_complete_period
from storage import subscriptions as subs

log = logging.getLogger("csbot.scheduler")

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_WEEKDAY = 0  # Monday
DEFAULT_AT_TIME = "09:00"
_MAX_FIRES = 200  # more than a daily schedule has in its look-back window
_LOOKBACK = {"daily": dt.timedelta(days=2), "week": dt.timedelta(days=8), "month": dt.timedelta(days=40)}


# ------------------------------------------------------------------------------------------ due runs


def cron_trigger(sub: subs.SubscriptionRow) -> CronTrigger:
    """The subscription's schedule: weekly on `weekday` (digest), daily when `weekday` is None (risk scans),
    monthly digests on the first `weekday` of the month (the 1st without a weekday); at `at_time` local."""
    tz = ZoneInfo(sub.timezone)
    if sub.kind == "digest" and sub.cadence == "month":
        day = f"1st {DAY_NAMES[sub.weekday]}" if sub.weekday is not None else "1"
        return CronTrigger(day=day, hour=sub.hour, minute=sub.minute, timezone=tz)
    if sub.weekday is None:
        return CronTrigger(hour=sub.hour, minute=sub.minute, timezone=tz)
    return CronTrigger(day_of_week=DAY_NAMES[sub.weekday], hour=sub.hour, minute=sub.minute, timezone=tz)


def _lookback(sub: subs.SubscriptionRow) -> dt.timedelta:
    if sub.kind == "digest" and sub.cadence == "month":
        return _LOOKBACK["month"]
    return _LOOKBACK["daily" if sub.weekday is None else "week"]


def fire_times(sub: subs.SubscriptionRow, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Scheduled instants in [start, end], in UTC, strictly increasing.

    The search always moves forward in UTC: after a time that occurs twice (02:30 on the night clocks go
    back), APScheduler 3 can answer the same instant again, which would otherwise loop for ever.
    """
    trigger = cron_trigger(sub)
    out: list[dt.datetime] = []
    search = start.astimezone(dt.UTC)
    previous = None
    for _ in range(_MAX_FIRES):
        t = trigger.get_next_fire_time(previous, search)
        if t is None:
            break
        t = t.astimezone(dt.UTC)
        if out and t <= out[-1]:
            search = max(search, out[-1]) + dt.timedelta(minutes=1)
            continue
        if t > end:
            break
        out.append(t)
        previous = t
        search = t + dt.timedelta(seconds=1)
    return out


def latest_fire_time(sub: subs.SubscriptionRow, now: dt.datetime) -> dt.datetime | None:
    """The latest scheduled instant at or before `now` (UTC), looking back one period at most."""
    times = fire_times(sub, now - _lookback(sub), now)
    return times[-1] if times else None


@dataclass(frozen=True)
class DueRun:
    sub: subs.SubscriptionRow
    key: str
    period_key: str
    fire_time: dt.datetime  # UTC
    local_day: dt.date  # the fire time's date in the subscription's time zone


def due_run(sub: subs.SubscriptionRow, now: dt.datetime) -> DueRun | None:
    """The run `sub` owes at `now` (the latest scheduled one, not before the schedule was set), or None."""
    fire = latest_fire_time(sub, now)
    if fire is None or fire < sub.schedule_since:
        return None
    return run_at(sub, fire)


def run_at(sub: subs.SubscriptionRow, fire: dt.datetime) -> DueRun:
    """The run of `sub` scheduled at `fire` (UTC)."""
    local_day = fire.astimezone(ZoneInfo(sub.timezone)).date()
    if sub.kind == "digest":
        period = digest_job.period_key(last_complete_period(local_day, sub.cadence))
    else:
        period = local_day.isoformat()
    return DueRun(sub, subs.delivery_key(sub.kind, sub.id, period), period, fire, local_day)


# ---------------------------------------------------------------------------------------------- tick


@dataclass(frozen=True)
class Outcome:
    key: str
    action: str  # posted | recovered | skipped | failed | retrying | unconfirmed | unknown
    delayed: bool = False
    detail: str = ""


def down_reason(down_since: dt.datetime, now: dt.datetime, grace: dt.timedelta) -> str:
    return (f"{subs.DOWN_PREFIX} from {down_since:%Y-%m-%d %H:%M} to {now:%Y-%m-%d %H:%M} UTC "
            f"(past the {grace} grace window)")


def record_missed(ctx: JobContext, sub: subs.SubscriptionRow, down_since: dt.datetime | None,
                  now: dt.datetime) -> list[Outcome]:
    """Runs scheduled while csbot was down (after the last tick, before the latest run) leave a 'skipped' row
    each, shown by `/digest list`, instead of a silent gap. The latest run is `run_due`'s business."""
    if down_since is None or down_since >= now:
        return []
    latest = latest_fire_time(sub, now)
    start = max(down_since, sub.schedule_since) + dt.timedelta(seconds=1)
    outcomes = []
    for fire in fire_times(sub, start, now):
        if fire == latest:
            continue
        run = run_at(sub, fire)
        reason = down_reason(down_since, now, ctx.grace)
        if subs.record_skipped(ctx.engine, run.key, channel_id=sub.channel_id, kind=sub.kind,
                               period_key=run.period_key, reason=reason, now=now, subscription_id=sub.id,
                               scheduled_for=fire):
            log.warning("%s skipped: %s", run.key, reason)
            outcomes.append(Outcome(run.key, "skipped", detail=reason))
    return outcomes


def tick(ctx: JobContext, now: dt.datetime | None = None) -> list[Outcome]:
    """Do whatever is due at `now` (default: the context's clock); what happened, per run touched."""
    now = now or ctx.now()
    down_since = subs.heartbeat(ctx.engine, now)  # the previous tick: csbot was down since then
    outcomes: list[Outcome] = []
    try:  # sources first: a digest due at the same time then reads the fresh data
        for synced in sync_job.sync_due_sources(ctx, now):
            outcomes.append(Outcome(f"sync:{synced.source}", "synced" if synced.report else "failed",
                                    detail="; ".join(synced.problems)))
    except Exception:
        log.exception("the source syncs failed; trying again at the next tick")
    for sub in subs.active_subscriptions(ctx.engine):
        try:
            outcomes.extend(record_missed(ctx, sub, down_since, now))
            outcome = run_due(ctx, sub, now, down_since=down_since)
        except LostLeadership:
            log.warning("no longer the scheduler: stopping this tick; the new leader takes over")
            break
        except Exception:
            log.exception("subscription %s (%s in %s): the tick failed; trying again at the next tick",
                          sub.id, sub.kind, sub.channel_id)
            continue
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def refuse_if_now_shared(ctx: JobContext, sub: subs.SubscriptionRow) -> None:
    """A channel shared with another organisation (Slack Connect) since it subscribed, without an admin's
    `--external-ok`, gets nothing more: a permanent failure the subscriber is told about. A channel that
    cannot be read is left to the post itself (it was checked when it subscribed)."""
    if sub.owner_id is None and not sub.external_ok and AccessPolicy().sharing(ctx.client, sub.channel_id) == \
            "external":
        raise DeliveryFailure("channel_shared", "the channel is now shared with another organisation",
                              permanent=True)


def _run(ctx: JobContext, due: DueRun, *, delayed: bool, recover_since: dt.datetime | None,
         allow_post: bool) -> tuple[str, Posted | None]:
    today = ctx.today_for(due.local_day)
    refuse_if_now_shared(ctx, due.sub)
    if due.sub.kind == "digest":
        posted = digest_job.deliver_digest(ctx, key=due.key, channel=due.sub.channel_id, sub=due.sub, today=today,
                                           delayed=delayed, recover_since=recover_since, allow_post=allow_post)
        return ("recovered" if posted.recovered else "posted"), posted
    result = risk_job.scan(ctx, key=due.key, sub=due.sub, today=today, recover_since=recover_since,
                           allow_post=allow_post)
    detail = f"{result.posted} posted, {result.recovered} recovered, {result.skipped} skipped"
    return ("recovered" if recover_since is not None else "posted") + f" ({detail})", None


def run_due(ctx: JobContext, sub: subs.SubscriptionRow, now: dt.datetime,
            down_since: dt.datetime | None = None) -> Outcome | None:
    due = due_run(sub, now)
    if due is None:
        return None
    ctx = ctx.for_team(sub.team_id)
    late = now - due.fire_time
    within = late <= ctx.grace
    delayed = late > LATE_AFTER
    deadline = due.fire_time + ctx.grace
    existing = subs.get_delivery(ctx.engine, due.key)
    recover_since: dt.datetime | None = None
    if existing is None:
        if not within:
            reason = (down_reason(down_since, now, ctx.grace) if down_since is not None and down_since < due.fire_time
                      else f"missed: csbot was not running at {due.fire_time:%Y-%m-%d %H:%M} UTC and the grace "
                           f"window ({ctx.grace}) had passed when it came back")
            if subs.record_skipped(ctx.engine, due.key, channel_id=sub.channel_id, kind=sub.kind,
                                   period_key=due.period_key, reason=reason, now=now, subscription_id=sub.id,
                                   scheduled_for=due.fire_time):
                log.warning("%s skipped: %s", due.key, reason)
                return Outcome(due.key, "skipped", detail=reason)
            return None
        if not subs.claim_delivery(ctx.engine, due.key, channel_id=sub.channel_id, kind=sub.kind,
                                   period_key=due.period_key, claimed_by=ctx.identity, now=now,
                                   subscription_id=sub.id, scheduled_for=due.fire_time, delayed=delayed):
            return None  # another process claimed it first
    elif existing.state in ("posted", "skipped", "unknown"):
        return None
    elif existing.state == "unconfirmed":
        # Slack may have posted it: look first (posting only when it is not there), never before retry_at.
        if existing.retry_at is not None and existing.retry_at > now:
            return None
        if not subs.take_over_delivery(ctx.engine, due.key, from_state="unconfirmed", claimed_by=ctx.identity,
                                       now=now, delayed=delayed or existing.delayed):
            return None
        recover_since = due.fire_time
    elif existing.state == "claimed":
        # We hold the leader lock and run one tick at a time, so whoever claimed it is not running it any more.
        if not subs.take_over_delivery(ctx.engine, due.key, from_state="claimed", from_claimed_by=existing.claimed_by,
                                       claimed_by=ctx.identity, now=now, delayed=delayed or existing.delayed):
            return None
        log.warning("%s was left claimed by %s: recovering it", due.key, existing.claimed_by)
        recover_since = existing.claimed_at or due.fire_time
    else:  # failed
        if existing.retry_at is None:
            return None
        if not within:
            failure = DeliveryFailure("gave_up", f"still failing when the grace window ended: {existing.error}")
            record_failure(ctx, due.key, sub, failure, deadline=None)
            return Outcome(due.key, "failed", detail=str(failure))
        if existing.retry_at > now:
            return None
        if not subs.take_over_delivery(ctx.engine, due.key, from_state="failed", claimed_by=ctx.identity, now=now,
                                       delayed=delayed):
            return None
        recover_since = existing.claimed_at or due.fire_time
    try:
        action, posted = _run(ctx, due, delayed=delayed, recover_since=recover_since, allow_post=within)
    except LostLeadership:
        raise
    except Unconfirmed as exc:
        retrying = record_unconfirmed(ctx, due.key, sub, exc, deadline=deadline)
        return Outcome(due.key, "unconfirmed" if retrying else "unknown", detail=str(exc))
    except digest_job.TooLate:
        subs.mark_skipped(ctx.engine, due.key, reason="interrupted, and too late to post when recovered")
        return Outcome(due.key, "skipped", detail="interrupted, and too late to post when recovered")
    except Exception as exc:
        if not isinstance(exc, DeliveryFailure):
            log.exception("%s failed", due.key)
        retrying = record_failure(ctx, due.key, sub, exc, deadline=deadline)
        return Outcome(due.key, "retrying" if retrying else "failed", detail=str(exc))
    record_success(ctx, due.key, sub, posted)
    log.info("%s %s%s", due.key, action, " (delayed)" if delayed else "")
    return Outcome(due.key, action.split(" ")[0], delayed=delayed, detail=action)


# ------------------------------------------------------------------------------------------- service


class SchedulerService:
    """APScheduler in a background thread, doing anything only while this process holds the leader lock.

    Jobs: `leader` (try to lead, or check we still do, every `leader_seconds`), `tick` (catch-up and retries,
    every `tick_seconds`), `snapshot` (the daily health snapshot, checked every `tick_seconds`), `sync` (one
    cron job per active subscription, from the table, every `sync_seconds`), and the cron jobs themselves, each
    calling the tick at its exact instant.
    """

    def __init__(self, ctx: JobContext, leader: Leader, *, tick_seconds: float = 30, leader_seconds: float = 15,
                 sync_seconds: float = 60):
        self.leader = leader
        self.ctx = replace(ctx, still_leader=leader.is_leader)  # checked again right before each post
        self.tick_seconds = tick_seconds
        self.leader_seconds = leader_seconds
        self.sync_seconds = sync_seconds
        self._tick_lock = threading.Lock()
        # APScheduler's shutdown() holds its job-store lock while it waits for running jobs, so a job that adds or
        # removes jobs during shutdown would wait for ever: such changes happen under this lock, never once stopping.
        self._jobs_lock = threading.Lock()
        self._stopping = False
        self._leading = False
        self._said_standby = False
        self._scheduler: BackgroundScheduler | None = None
        self._signatures: dict[str, tuple] = {}

    @classmethod
    def from_env(cls, engine: Engine, config: KpiConfig, client: WebClient,
                 env: Mapping[str, str] | None = None, **overrides) -> SchedulerService:
        """Settings from the environment: grace, tick interval, CSBOT_AS_OF, CSBOT_NOW; the leader lock that
        fits the database. `overrides` go to the JobContext (e.g. `client_for_team` for OAuth installs)."""
        ctx = JobContext.from_env(engine, client, config, env, **overrides)
        every = tick_seconds(env)
        return cls(ctx, make_leader(engine), tick_seconds=every, leader_seconds=min(15.0, every))

    @property
    def leading(self) -> bool:
        return self._leading

    def start(self) -> None:
        grace = max(1, int(self.ctx.grace.total_seconds()))
        scheduler = BackgroundScheduler(timezone=dt.UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": grace})
        now = dt.datetime.now(dt.UTC)
        scheduler.add_job(self._leadership, IntervalTrigger(seconds=self.leader_seconds), id="leader",
                          next_run_time=now)
        scheduler.add_job(self._interval_tick, IntervalTrigger(seconds=self.tick_seconds), id="tick")
        scheduler.add_job(self._sync, IntervalTrigger(seconds=self.sync_seconds), id="sync")
        scheduler.add_job(self._snapshot, IntervalTrigger(seconds=self.tick_seconds), id="snapshot")
        for source in self.ctx.sources:  # each source at its exact time (the tick catches up on misses)
            scheduler.add_job(self._cron_fire, sync_job.source_trigger(source, self.ctx.config.tz), args=[0],
                              id=f"source-{source.name}")
        self._scheduler = scheduler
        if not log.isEnabledFor(logging.DEBUG):  # APScheduler logs every run at INFO: twice a second in tests
            logging.getLogger("apscheduler").setLevel(logging.ERROR)
        scheduler.start()
        log.info("scheduler started as %s (leader election: %s)", self.ctx.identity, self.leader.describe())

    def stop(self) -> None:
        with self._jobs_lock:
            self._stopping = True
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)  # waits for a run in progress (a post is never cut in half)
            self._scheduler = None
        if self._leading:
            log.info("scheduler stopped; leadership released")
        self.leader.release()
        self._leading = False

    def _leadership(self) -> None:
        if self._leading:
            if self.leader.is_leader():
                return
            self._leading = False
            self._remove_cron_jobs()
            log.warning("lost the scheduler lock: standing by")
        if not self.leader.try_acquire():
            if not self._said_standby:
                log.info("standing by: another process holds the scheduler lock")
                self._said_standby = True
            return
        self._leading = True
        self._said_standby = False
        log.info("now the scheduler leader (%s)", self.leader.describe())
        self._sync()
        outcomes = self.run_tick(wait=True)
        log.info("first tick as the leader: %d run(s)%s", len(outcomes),
                 "".join(f"; {o.key} {o.action}" for o in outcomes))

    def _interval_tick(self) -> None:
        if self._leading:
            self.run_tick(wait=False)

    def run_tick(self, wait: bool = True) -> list[Outcome]:
        """One tick, unless one is running already (`wait`: then wait for it and tick after)."""
        if not self._tick_lock.acquire(blocking=wait):
            return []
        try:
            if not self.leader.is_leader():
                return []
            return tick(self.ctx)
        except Exception:
            log.exception("the scheduler tick failed")
            return []
        finally:
            self._tick_lock.release()

    def _snapshot(self) -> None:
        """The daily health snapshot (bot/jobs/snapshot_job.py), only while leading."""
        if not self._leading or not self.leader.is_leader():
            return
        try:
            snapshot_job.run(self.ctx)
        except Exception:
            log.exception("the daily health snapshot failed; trying again at the next tick")

    def _cron_fire(self, subscription_id: int) -> None:
        if self._leading:
            log.debug("subscription %s is due", subscription_id)
            self.run_tick(wait=True)

    def _remove_cron_jobs(self) -> None:
        with self._jobs_lock:
            if self._scheduler is None or self._stopping:
                return
            for job_id in list(self._signatures):
                if self._scheduler.get_job(job_id):
                    self._scheduler.remove_job(job_id)
            self._signatures.clear()

    def _sync(self) -> None:
        if not self._leading or self._scheduler is None:
            return
        try:
            active = subs.active_subscriptions(self.ctx.engine)
        except Exception:
            log.exception("could not read the subscriptions")
            return
        wanted = {f"sub-{s.id}": (s, (s.kind, s.weekday, s.at_time, s.timezone, s.cadence)) for s in active}
        with self._jobs_lock:
            if self._stopping or self._scheduler is None:
                return
            for job_id in list(self._signatures):
                if job_id not in wanted or wanted[job_id][1] != self._signatures[job_id]:
                    if self._scheduler.get_job(job_id):
                        self._scheduler.remove_job(job_id)
                    del self._signatures[job_id]
            for job_id, (sub, signature) in wanted.items():
                if job_id in self._signatures:
                    continue
                self._scheduler.add_job(self._cron_fire, cron_trigger(sub), args=[sub.id], id=job_id,
                                        replace_existing=True)
                self._signatures[job_id] = signature
