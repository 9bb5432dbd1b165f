"""Subscriptions, deliveries and risk alerts: the only module that reads or writes these tables.

Every function takes the engine and runs its own short transaction, so a caller never holds a lock
across a Slack call. Rows come back as frozen dataclasses with timezone-aware UTC datetimes; datetimes
passed in may be aware (converted to UTC) or naive (taken as UTC).

Exactly-once delivery rests on `deliveries.key` being UNIQUE: `claim_delivery` inserts the key in its
own committed transaction before anything is posted, so of two processes racing for one run exactly one
gets True. The other states are reached by compare-and-set updates (`take_over_delivery`), never by
blind writes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from storage.models import Delivery, RiskAlert, SchedulerHeartbeat, Subscription

KINDS = ("digest", "risk")
CADENCES = ("week", "month")
ALERT_ACTIONS = {"acknowledge": "acknowledged", "snooze": "snoozed", "dismiss": "dismissed"}
SNOOZE_DAYS = 7
WORSE_BY = 10.0
"""A repeat alert needs the rule's severity at least this much above the severity last alerted."""

DOWN_PREFIX = "skipped: csbot was down"

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


# ------------------------------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class SubscriptionRow:
    id: int
    team_id: str
    channel_id: str
    kind: str
    weekday: int | None
    at_time: str
    timezone: str
    kpis: tuple[str, ...] | None
    cadence: str
    created_by: str | None
    created_at: dt.datetime
    schedule_since: dt.datetime
    active: bool
    status: str
    failure: str | None
    failed_at: dt.datetime | None
    owner_id: str | None = None  # a personal subscription: DMs to this user about the accounts they own
    external_ok: bool = False  # an admin allowed posting to this Slack Connect channel

    @property
    def personal(self) -> bool:
        return self.owner_id is not None

    @property
    def hour(self) -> int:
        return int(self.at_time[:2])

    @property
    def minute(self) -> int:
        return int(self.at_time[3:])


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    key: str
    subscription_id: int | None
    channel_id: str
    kind: str
    period_key: str
    scheduled_for: dt.datetime | None
    state: str
    claimed_by: str | None
    claimed_at: dt.datetime | None
    posted_at: dt.datetime | None
    message_ts: str | None
    delayed: bool
    error: str | None
    attempts: int
    retry_at: dt.datetime | None
    batch: str | None
    chart_file_id: str | None = None

    @property
    def final(self) -> bool:
        """Posted, skipped, unknown, or failed with no retry planned."""
        return self.state in ("posted", "skipped", "unknown") or (self.state == "failed" and self.retry_at is None)


@dataclass(frozen=True)
class SubscriptionStatus:
    """A subscription with what happened last: for `/digest list`."""

    subscription: SubscriptionRow
    last_delivery: DeliveryRow | None  # the latest run in any state (posted, failed, skipped, in progress)
    last_posted: DeliveryRow | None
    missed: tuple[DeliveryRow, ...] = ()  # recent runs skipped because csbot was down, newest first


@dataclass(frozen=True)
class AlertRow:
    id: int
    subscription_id: int
    account_id: str
    rule_id: str
    rule_text: str | None
    episode_start: dt.date
    severity: float
    alerted_severity: float | None
    last_seen: dt.date
    closed_on: dt.date | None
    delivery_key: str | None
    channel_id: str | None
    message_ts: str | None
    state: str
    snoozed_until: dt.date | None
    acted_by: str | None
    acted_at: dt.datetime | None
    reason: str | None


@dataclass(frozen=True)
class RuleFinding:
    """One rule firing for one account in a scan; `severity` is higher when worse."""

    account_id: str
    rule_id: str
    text: str
    severity: float


@dataclass(frozen=True)
class AlertPlan:
    """An alert message to post for one account, decided (and recorded) by `record_alerts`.

    `reason`: 'new' (the account had no open episode), 'new_rule' (another rule started firing),
    'worse' (a rule's severity rose by WORSE_BY or more since it was last alerted) or 'snooze_over'.
    `alert_ids`: the account's firing rows, the first being the one to put in the buttons.
    """

    account_id: str
    reason: str
    delivery_key: str
    alert_ids: tuple[int, ...]

    @property
    def repeat(self) -> bool:
        return self.reason != "new"


# ----------------------------------------------------------------------------------------------- helpers


def _naive(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.replace(tzinfo=dt.UTC)


def _sub_row(r: Any) -> SubscriptionRow:
    kpis = tuple(k for k in (r.kpis or "").split(",") if k) or None
    return SubscriptionRow(
        r.id, r.team_id, r.channel_id, r.kind, r.weekday, r.at_time, r.timezone, kpis, r.cadence, r.created_by,
        _aware(r.created_at), _aware(r.schedule_since), bool(r.active), r.status, r.failure, _aware(r.failed_at),
        r.owner_id, bool(r.external_ok),
    )


def _delivery_row(r: Any) -> DeliveryRow:
    return DeliveryRow(
        r.id, r.key, r.subscription_id, r.channel_id, r.kind, r.period_key, _aware(r.scheduled_for), r.state,
        r.claimed_by, _aware(r.claimed_at), _aware(r.posted_at), r.message_ts, bool(r.delayed), r.error,
        int(r.attempts or 0), _aware(r.retry_at), r.batch, r.chart_file_id,
    )


def _alert_row(r: Any) -> AlertRow:
    return AlertRow(
        r.id, r.subscription_id, r.account_id, r.rule_id, r.rule_text, r.episode_start, float(r.severity),
        None if r.alerted_severity is None else float(r.alerted_severity), r.last_seen, r.closed_on,
        r.delivery_key, r.channel_id, r.message_ts, r.state, r.snoozed_until, r.acted_by, _aware(r.acted_at),
        r.reason,
    )


def delivery_key(kind: str, subscription_id: int | None, period_key: str) -> str:
    """The unique key of one run: "{kind}:{subscription_id}:{period_key}"."""
    return f"{kind}:{subscription_id if subscription_id is not None else '-'}:{period_key}"


def alert_key(subscription_id: int, account_id: str, day: dt.date) -> str:
    """At most one alert message per subscription, account and scan day."""
    return f"alert:{subscription_id}:{account_id}:{day.isoformat()}"


def validate_schedule(kind: str, weekday: int | None, at_time: str, timezone: str, cadence: str) -> None:
    """Raise ValueError naming what is wrong with a schedule."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if weekday is not None and not 0 <= weekday <= 6:
        raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {weekday!r}")
    if not _HHMM.match(at_time or ""):
        raise ValueError(f"time must be HH:MM (24-hour), not {at_time!r}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{timezone!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    if cadence not in CADENCES:
        raise ValueError(f"cadence must be one of {', '.join(CADENCES)}, not {cadence!r}")


# ----------------------------------------------------------------------------------------- subscriptions


def subscribe(engine: Engine, *, team_id: str, channel_id: str, kind: str, at_time: str, timezone: str,
              now: dt.datetime, weekday: int | None = None, kpis: Sequence[str] | None = None,
              cadence: str = "week", created_by: str | None = None, owner_id: str | None = None,
              external_ok: bool = False) -> SubscriptionRow:
    """Create the channel's subscription of `kind`, or update it (one per team, channel and kind).

    Subscribing again re-activates it, clears a failure and makes `created_by` the person told about
    problems. `owner_id` makes it personal (a DM channel, warnings about that owner's accounts only);
    `external_ok` records that an admin allowed a channel shared with another organisation.
    `schedule_since` moves to `now` when the schedule changes (or it was inactive), so a run already due
    under the new schedule is not posted retroactively.
    """
    validate_schedule(kind, weekday, at_time, timezone, cadence)
    kpi_text = ",".join(kpis) if kpis else None
    values = {"weekday": weekday, "at_time": at_time, "timezone": timezone, "kpis": kpi_text, "cadence": cadence,
              "created_by": created_by, "active": True, "status": "ok", "failure": None, "failed_at": None,
              "owner_id": owner_id, "external_ok": external_ok}
    where = and_(Subscription.team_id == team_id, Subscription.channel_id == channel_id, Subscription.kind == kind)
    for _attempt in range(2):
        try:
            with engine.begin() as conn:
                existing = conn.execute(select(Subscription).where(where)).first()
                if existing is None:
                    conn.execute(insert(Subscription).values(
                        team_id=team_id, channel_id=channel_id, kind=kind, created_at=_naive(now),
                        schedule_since=_naive(now), **values))
                else:
                    changed = (not existing.active or (existing.weekday, existing.at_time, existing.timezone,
                                                       existing.cadence) != (weekday, at_time, timezone, cadence))
                    extra = {"schedule_since": _naive(now)} if changed else {}
                    conn.execute(update(Subscription).where(Subscription.id == existing.id).values(**values, **extra))
                return _sub_row(conn.execute(select(Subscription).where(where)).one())
        except IntegrityError:  # a concurrent subscribe inserted it first: update instead
            continue
    raise RuntimeError("subscribe: could not insert or update the subscription")


def unsubscribe(engine: Engine, *, team_id: str, channel_id: str, kind: str) -> bool:
    """Deactivate the channel's subscription of `kind` (history kept); False when there was none active."""
    with engine.begin() as conn:
        result = conn.execute(update(Subscription).where(
            Subscription.team_id == team_id, Subscription.channel_id == channel_id, Subscription.kind == kind,
            Subscription.active.is_(True)).values(active=False))
        return result.rowcount == 1


def get_subscription(engine: Engine, subscription_id: int) -> SubscriptionRow | None:
    with engine.connect() as conn:
        row = conn.execute(select(Subscription).where(Subscription.id == subscription_id)).first()
        return _sub_row(row) if row else None


def find_subscription(engine: Engine, channel_id: str, kind: str, team_id: str | None = None,
                      ) -> SubscriptionRow | None:
    """The channel's subscription of `kind` (an active one first), or None."""
    query = select(Subscription).where(Subscription.channel_id == channel_id, Subscription.kind == kind)
    if team_id is not None:
        query = query.where(Subscription.team_id == team_id)
    with engine.connect() as conn:
        row = conn.execute(query.order_by(Subscription.active.desc(), Subscription.id)).first()
        return _sub_row(row) if row else None


def active_subscriptions(engine: Engine, kind: str | None = None) -> list[SubscriptionRow]:
    query = select(Subscription).where(Subscription.active.is_(True))
    if kind is not None:
        query = query.where(Subscription.kind == kind)
    with engine.connect() as conn:
        return [_sub_row(r) for r in conn.execute(query.order_by(Subscription.id))]


def _last_delivery(conn: Connection, subscription_id: int, posted_only: bool) -> DeliveryRow | None:
    query = select(Delivery).where(Delivery.subscription_id == subscription_id, Delivery.kind != "alert")
    if posted_only:
        query = query.where(Delivery.state == "posted")
    when = func.coalesce(Delivery.scheduled_for, Delivery.claimed_at)
    row = conn.execute(query.order_by(when.desc(), Delivery.id.desc()).limit(1)).first()
    return _delivery_row(row) if row else None


MISSED_SHOWN = 5


def _missed(conn: Connection, subscription_id: int) -> tuple[DeliveryRow, ...]:
    """The latest runs skipped while csbot was down (their error starts with 'skipped: csbot was down')."""
    rows = conn.execute(select(Delivery).where(
        Delivery.subscription_id == subscription_id, Delivery.kind != "alert", Delivery.state == "skipped",
        Delivery.error.startswith(DOWN_PREFIX)).order_by(Delivery.scheduled_for.desc(), Delivery.id.desc())
        .limit(MISSED_SHOWN)).all()
    return tuple(_delivery_row(r) for r in rows)


def list_subscriptions(engine: Engine, team_id: str | None = None, channel_id: str | None = None,
                       include_inactive: bool = False) -> list[SubscriptionStatus]:
    """Subscriptions (of a team, of a channel) with their last run and last successful post."""
    query = select(Subscription)
    if team_id is not None:
        query = query.where(Subscription.team_id == team_id)
    if channel_id is not None:
        query = query.where(Subscription.channel_id == channel_id)
    if not include_inactive:
        query = query.where(Subscription.active.is_(True))
    with engine.connect() as conn:
        subs = [_sub_row(r) for r in conn.execute(query.order_by(Subscription.channel_id, Subscription.kind))]
        return [SubscriptionStatus(s, _last_delivery(conn, s.id, False), _last_delivery(conn, s.id, True),
                                   _missed(conn, s.id)) for s in subs]


def mark_subscription_failing(engine: Engine, subscription_id: int, *, error: str, now: dt.datetime) -> bool:
    """Record a permanent problem; True when the subscription was 'ok' until now (tell the subscriber once)."""
    with engine.begin() as conn:
        was_ok = conn.execute(update(Subscription).where(
            Subscription.id == subscription_id, Subscription.status == "ok",
        ).values(status="failing", failure=error, failed_at=_naive(now))).rowcount == 1
        if not was_ok:
            conn.execute(update(Subscription).where(Subscription.id == subscription_id).values(
                status="failing", failure=error, failed_at=_naive(now)))
        return was_ok


def mark_subscription_ok(engine: Engine, subscription_id: int) -> bool:
    """A post went through: clear the failure; True when it was failing."""
    with engine.begin() as conn:
        return conn.execute(update(Subscription).where(
            Subscription.id == subscription_id, Subscription.status == "failing",
        ).values(status="ok", failure=None, failed_at=None)).rowcount == 1


# -------------------------------------------------------------------------------------------- deliveries


def _insert_delivery(engine: Engine, values: dict[str, Any]) -> bool:
    try:
        with engine.begin() as conn:
            conn.execute(insert(Delivery).values(**values))
        return True
    except IntegrityError:
        return False


def claim_delivery(engine: Engine, key: str, *, channel_id: str, kind: str, period_key: str, claimed_by: str,
                   now: dt.datetime, subscription_id: int | None = None, scheduled_for: dt.datetime | None = None,
                   delayed: bool = False, batch: str | None = None) -> bool:
    """Insert `key` as 'claimed' by `claimed_by`, committed at once; False when the key already exists."""
    return _insert_delivery(engine, {
        "key": key, "subscription_id": subscription_id, "channel_id": channel_id, "kind": kind,
        "period_key": period_key, "scheduled_for": _naive(scheduled_for), "state": "claimed",
        "claimed_by": claimed_by, "claimed_at": _naive(now), "delayed": delayed, "attempts": 0, "batch": batch,
    })


def record_skipped(engine: Engine, key: str, *, channel_id: str, kind: str, period_key: str, reason: str,
                   now: dt.datetime, subscription_id: int | None = None,
                   scheduled_for: dt.datetime | None = None) -> bool:
    """Insert `key` as 'skipped' (a run missed beyond the grace window); False when the key already exists."""
    return _insert_delivery(engine, {
        "key": key, "subscription_id": subscription_id, "channel_id": channel_id, "kind": kind,
        "period_key": period_key, "scheduled_for": _naive(scheduled_for), "state": "skipped",
        "claimed_at": _naive(now), "delayed": False, "attempts": 0, "error": reason,
    })


def get_delivery(engine: Engine, key: str) -> DeliveryRow | None:
    with engine.connect() as conn:
        row = conn.execute(select(Delivery).where(Delivery.key == key)).first()
        return _delivery_row(row) if row else None


def batch_deliveries(engine: Engine, batch: str) -> list[DeliveryRow]:
    """The alert posts of one risk scan, in the order they were decided."""
    with engine.connect() as conn:
        return [_delivery_row(r) for r in conn.execute(
            select(Delivery).where(Delivery.batch == batch).order_by(Delivery.id))]


def take_over_delivery(engine: Engine, key: str, *, from_state: str, claimed_by: str, now: dt.datetime,
                       from_claimed_by: str | None = None, delayed: bool | None = None) -> bool:
    """Compare-and-set a delivery back to 'claimed' by `claimed_by`: a failed run to retry, or a claim left
    behind by a process that died. True when this caller won (state, and claimer if given, unchanged)."""
    conds = [Delivery.key == key, Delivery.state == from_state]
    if from_claimed_by is not None:
        conds.append(Delivery.claimed_by == from_claimed_by)
    values: dict[str, Any] = {"state": "claimed", "claimed_by": claimed_by, "claimed_at": _naive(now)}
    if delayed is not None:
        values["delayed"] = delayed
    with engine.begin() as conn:
        return conn.execute(update(Delivery).where(*conds).values(**values)).rowcount == 1


def mark_posted(engine: Engine, key: str, *, message_ts: str | None, now: dt.datetime) -> None:
    """The run is done (`message_ts` None for a risk scan, which posts its alerts separately).

    Alert rows recorded under this key get the message's channel and ts, in the same transaction, so the
    buttons can update the message.
    """
    with engine.begin() as conn:
        conn.execute(update(Delivery).where(Delivery.key == key).values(
            state="posted", message_ts=message_ts, posted_at=_naive(now), error=None, retry_at=None))
        if message_ts is not None:
            channel = conn.execute(select(Delivery.channel_id).where(Delivery.key == key)).scalar_one()
            conn.execute(update(RiskAlert).where(RiskAlert.delivery_key == key).values(
                channel_id=channel, message_ts=message_ts))


def mark_failed(engine: Engine, key: str, *, error: str, now: dt.datetime,
                retry_at: dt.datetime | None = None) -> None:
    """The attempt failed; `retry_at` None makes the failure final (no more retries)."""
    with engine.begin() as conn:
        conn.execute(update(Delivery).where(Delivery.key == key).values(
            state="failed", error=error, attempts=Delivery.attempts + 1, retry_at=_naive(retry_at),
            claimed_at=_naive(now)))


def mark_unconfirmed(engine: Engine, key: str, *, error: str, now: dt.datetime, retry_at: dt.datetime) -> None:
    """Slack may have posted it: check the channel again at `retry_at`; never post before that check."""
    with engine.begin() as conn:
        conn.execute(update(Delivery).where(Delivery.key == key).values(
            state="unconfirmed", error=error, attempts=Delivery.attempts + 1, retry_at=_naive(retry_at),
            claimed_at=_naive(now)))


def mark_unknown(engine: Engine, key: str, *, error: str) -> None:
    """Still unconfirmed when its window ended: final, neither posted again nor counted as posted."""
    with engine.begin() as conn:
        conn.execute(update(Delivery).where(Delivery.key == key).values(state="unknown", error=error,
                                                                         retry_at=None))


def claim_chart(engine: Engine, key: str, file_id: str) -> bool:
    """Record that the chart `file_id` is being shared for `key`; False when a chart was already (compare-and-set:
    the chart is shared at most once per delivery, whatever errors and retries follow)."""
    with engine.begin() as conn:
        return conn.execute(update(Delivery).where(Delivery.key == key, Delivery.chart_file_id.is_(None))
                            .values(chart_file_id=file_id)).rowcount == 1


def heartbeat(engine: Engine, now: dt.datetime, name: str = "scheduler") -> dt.datetime | None:
    """Record that the scheduler is alive at `now`; the previous beat (None the first time)."""
    with engine.begin() as conn:
        previous = conn.execute(select(SchedulerHeartbeat.at).where(SchedulerHeartbeat.name == name)).scalar()
        if previous is None:
            try:
                with conn.begin_nested():
                    conn.execute(insert(SchedulerHeartbeat).values(name=name, at=_naive(now)))
            except IntegrityError:
                conn.execute(update(SchedulerHeartbeat).where(SchedulerHeartbeat.name == name).values(at=_naive(now)))
        else:
            conn.execute(update(SchedulerHeartbeat).where(SchedulerHeartbeat.name == name).values(at=_naive(now)))
        return _aware(previous)


def mark_skipped(engine: Engine, key: str, *, reason: str) -> None:
    """Give up on a run without posting (too late, or nothing left to say)."""
    with engine.begin() as conn:
        conn.execute(update(Delivery).where(Delivery.key == key).values(state="skipped", error=reason,
                                                                         retry_at=None))


# ----------------------------------------------------------------------------------------------- alerts


def _account_reason(had_open: bool, reasons: set[str]) -> str | None:
    if "new" in reasons:
        return "new_rule" if had_open else "new"
    for reason in ("worse", "snooze_over"):
        if reason in reasons:
            return reason
    return None


def record_alerts(engine: Engine, *, subscription_id: int, channel_id: str, today: dt.date,
                  findings: Iterable[RuleFinding], batch: str, claimed_by: str, now: dt.datetime,
                  worse_by: float = WORSE_BY, dry_run: bool = False) -> list[AlertPlan]:
    """Update the episodes of one risk subscription with a scan's findings; decide and claim the alerts.

    In one transaction: a rule firing with no open episode opens one; an open episode whose rule no longer
    fires closes (`closed_on = today`); a firing one gets `last_seen` and `severity`. An account gets one
    alert (a 'claimed' delivery under `alert_key(...)`, in `batch`) when a rule newly fired, a rule got worse
    by `worse_by`, or its snooze ended while still at risk; never while snoozed (`snoozed_until >= today`,
    rules that start firing meanwhile are snoozed too) and never for an episode dismissed as not a risk.
    At most one alert per account and day, so running a scan again (after a crash) decides nothing new.
    `dry_run` decides without keeping anything.
    """
    firing: dict[tuple[str, str], RuleFinding] = {(f.account_id, f.rule_id): f for f in findings}
    conn = engine.connect()
    try:
        conn.begin()
        # one scan of a subscription at a time (Postgres; SQLite serializes writers anyway)
        conn.execute(select(Subscription.id).where(Subscription.id == subscription_id).with_for_update())
        open_rows = conn.execute(
            select(RiskAlert).where(RiskAlert.subscription_id == subscription_id, RiskAlert.closed_on.is_(None))
            .order_by(RiskAlert.id).with_for_update()).all()
        open_by = {(r.account_id, r.rule_id): r for r in open_rows}
        had_open = {r.account_id for r in open_rows}
        for key, row in open_by.items():
            if key not in firing:
                conn.execute(update(RiskAlert).where(RiskAlert.id == row.id).values(closed_on=today))
        snoozed: dict[str, Any] = {}  # account -> a row whose snooze still runs
        for row in open_rows:
            if (row.account_id, row.rule_id) in firing and row.state == "snoozed" and row.snoozed_until \
                    and row.snoozed_until >= today:
                snoozed.setdefault(row.account_id, row)
        reasons: dict[str, set[str]] = {}
        for (account, rule), finding in firing.items():
            row = open_by.get((account, rule))
            if row is None:
                values: dict[str, Any] = {"rule_text": finding.text, "severity": finding.severity,
                                          "last_seen": today, "closed_on": None, "state": "open"}
                if account in snoozed:
                    s = snoozed[account]
                    values.update(state="snoozed", snoozed_until=s.snoozed_until, acted_by=s.acted_by,
                                  acted_at=s.acted_at)
                else:
                    reasons.setdefault(account, set()).add("new")
                same_day = conn.execute(select(RiskAlert.id).where(
                    RiskAlert.subscription_id == subscription_id, RiskAlert.account_id == account,
                    RiskAlert.rule_id == rule, RiskAlert.episode_start == today)).scalar()
                if same_day is not None:  # closed and firing again on the day it opened: reopen it
                    conn.execute(update(RiskAlert).where(RiskAlert.id == same_day).values(**values))
                else:
                    conn.execute(insert(RiskAlert).values(
                        subscription_id=subscription_id, account_id=account, rule_id=rule, episode_start=today,
                        **values))
                continue
            values = {"rule_text": finding.text, "severity": finding.severity, "last_seen": today}
            if row.state == "snoozed":
                if row.snoozed_until is None or row.snoozed_until < today:
                    values["state"] = "open"
                    reasons.setdefault(account, set()).add("snooze_over")
            elif row.state != "dismissed" and account not in snoozed and \
                    finding.severity >= (row.alerted_severity or 0.0) + worse_by:
                reasons.setdefault(account, set()).add("worse")
            conn.execute(update(RiskAlert).where(RiskAlert.id == row.id).values(**values))
        plans: list[AlertPlan] = []
        order: dict[str, int] = {}
        for account, _rule in firing:
            order.setdefault(account, len(order))
        for account in sorted(reasons, key=order.__getitem__):  # the scan's order: worst first
            reason = _account_reason(account in had_open, reasons[account])
            if reason is None:
                continue
            key = alert_key(subscription_id, account, today)
            if conn.execute(select(Delivery.id).where(Delivery.key == key)).first() is not None:
                continue  # already alerted today
            conn.execute(insert(Delivery).values(
                key=key, subscription_id=subscription_id, channel_id=channel_id, kind="alert",
                period_key=f"{account}:{today.isoformat()}", state="claimed", claimed_by=claimed_by,
                claimed_at=_naive(now), delayed=False, attempts=0, batch=batch))
            rows = conn.execute(select(RiskAlert).where(
                RiskAlert.subscription_id == subscription_id, RiskAlert.account_id == account,
                RiskAlert.closed_on.is_(None), RiskAlert.state != "dismissed").order_by(RiskAlert.id)).all()
            ids = tuple(r.id for r in rows)
            conn.execute(update(RiskAlert).where(RiskAlert.id.in_(ids)).values(
                alerted_severity=RiskAlert.severity, delivery_key=key))
            conn.execute(update(RiskAlert).where(RiskAlert.id.in_(ids), RiskAlert.state == "acknowledged")
                         .values(state="open"))
            plans.append(AlertPlan(account, reason, key, ids))
        if dry_run:
            conn.rollback()
        else:
            conn.commit()
        return plans
    finally:
        conn.close()


def get_alert(engine: Engine, alert_id: int) -> AlertRow | None:
    with engine.connect() as conn:
        row = conn.execute(select(RiskAlert).where(RiskAlert.id == alert_id)).first()
        return _alert_row(row) if row else None


def alerts_for_delivery(engine: Engine, key: str) -> list[AlertRow]:
    """The alert rows an alert message was posted (or is being posted) for, primary first."""
    with engine.connect() as conn:
        return [_alert_row(r) for r in conn.execute(
            select(RiskAlert).where(RiskAlert.delivery_key == key).order_by(RiskAlert.id))]


def account_alerts(engine: Engine, subscription_id: int, account_id: str, open_only: bool = True,
                   ) -> list[AlertRow]:
    """One account's episodes under one subscription (open ones by default), oldest first."""
    query = select(RiskAlert).where(RiskAlert.subscription_id == subscription_id,
                                    RiskAlert.account_id == account_id)
    if open_only:
        query = query.where(RiskAlert.closed_on.is_(None))
    with engine.connect() as conn:
        return [_alert_row(r) for r in conn.execute(query.order_by(RiskAlert.id))]


def alert_action(engine: Engine, alert_id: int, action: str, *, user: str, at: dt.datetime,
                 until: dt.date | None = None, reason: str | None = None) -> AlertRow | None:
    """Record a button press on an alert: 'acknowledge', 'snooze' or 'dismiss' (the state names work too).

    It applies to the alert and to every open episode of the same account under the same subscription
    (the message is about the account). Snooze lasts until `until` inclusive (default: SNOOZE_DAYS after
    `at`'s UTC date); dismiss keeps `reason`. Returns the updated alert, or None when there is no such alert.
    """
    state = ALERT_ACTIONS.get(action) or (action if action in ALERT_ACTIONS.values() else None)
    if state is None:
        raise ValueError(f"unknown alert action {action!r}; use {', '.join(ALERT_ACTIONS)}")
    values: dict[str, Any] = {"state": state, "acted_by": user, "acted_at": _naive(at), "reason": reason,
                              "snoozed_until": None}
    if state == "snoozed":
        at_utc = at.astimezone(dt.UTC) if at.tzinfo else at
        values["snoozed_until"] = until or at_utc.date() + dt.timedelta(days=SNOOZE_DAYS)
    with engine.begin() as conn:
        row = conn.execute(select(RiskAlert).where(RiskAlert.id == alert_id)).first()
        if row is None:
            return None
        conn.execute(update(RiskAlert).where(or_(
            RiskAlert.id == alert_id,
            and_(RiskAlert.subscription_id == row.subscription_id, RiskAlert.account_id == row.account_id,
                 RiskAlert.closed_on.is_(None)),
        )).values(**values))
        return _alert_row(conn.execute(select(RiskAlert).where(RiskAlert.id == alert_id)).one())
