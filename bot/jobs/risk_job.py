"""The churn-risk scan: one warning per account that newly became at risk (or got worse), posted once.

A scan runs `at_risk` for the day, turns every fired rule into a `RuleFinding` with a severity, and lets
`storage.subscriptions.record_alerts` update the episodes and decide (in one transaction) which accounts to
warn about. Each warning is its own delivery ("alert:{subscription}:{account}:{day}", in the scan's batch),
claimed in that same transaction and then posted with its key in the message metadata, so a scan cut short
is finished by the next one without repeating a warning.

Severity (higher is worse), per rule: `usage_drop` is the drop in active users in percent; every other rule
is measured by how far the health score is below 100. A rule is "worse" when its severity rose by
`storage.subscriptions.WORSE_BY` (10 points) since it was last alerted.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.jobs.context import JobContext
from bot.jobs.posting import (
    DeliveryFailure,
    LostLeadership,
    Unconfirmed,
    confirm,
    post_message,
    poster,
    record_failure,
    record_success,
)
from bot.redact import at_risk_without_money
from bot.render.blocks import blocks_json
from bot.render.digest_blocks import AlertState, risk_alert_blocks, risk_alert_text
from kpi_core.risk import AtRisk
from storage import subscriptions as subs

log = logging.getLogger("csbot.jobs.risk")


def rule_severity(item: AtRisk, rule_id: str) -> float:
    """How bad one fired rule is, 0-100, higher is worse (see the module docstring)."""
    if rule_id == "usage_drop":
        facts = item.health.component("engagement").facts
        previous = float(facts.get("users_previous") or 0)
        recent = float(facts.get("users_recent") or 0)
        return round(100.0 * (previous - recent) / previous, 1) if previous > 0 else 0.0
    score = item.health.score
    return round(100.0 - score, 1) if score is not None else 0.0


def findings_for(items: Sequence[AtRisk]) -> list[subs.RuleFinding]:
    """Every fired rule of every account, in the scan's order (worst account first)."""
    return [subs.RuleFinding(item.health.account.id, rule.id, rule.text, rule_severity(item, rule.id))
            for item in items for rule in item.rules]


def for_subscriber(items: Sequence[AtRisk], sub: subs.SubscriptionRow) -> list[AtRisk]:
    """A personal subscription hears only about the accounts its owner owns; a channel about all."""
    if sub.owner_id is None:
        return list(items)
    return [item for item in items if item.health.owner == sub.owner_id]


def alert_state(row: subs.AlertRow) -> AlertState | None:
    """What the buttons recorded on an alert, as the renderer shows it (None while nobody acted)."""
    if row.state == "open" or not row.acted_by or row.acted_at is None:
        return None
    return AlertState(row.state, row.acted_by, row.acted_at, row.snoozed_until, row.reason)


def alert_message(item: AtRisk, rows: Sequence[subs.AlertRow], today: dt.date,
                  state: AlertState | None = None) -> tuple[str, list[dict]]:
    """Text and blocks of the warning for `item`; the buttons carry the first row's id.

    It is a repeat when any of its episodes started before today (the account was warned about before).
    """
    repeat = any(r.episode_start < today for r in rows)
    blocks = risk_alert_blocks(item, alert_value=str(rows[0].id), state=state, repeat=repeat)
    return risk_alert_text(item), blocks_json(blocks)


@dataclass(frozen=True)
class ScanResult:
    items: tuple[AtRisk, ...]
    plans: tuple[subs.AlertPlan, ...]
    posted: int  # warnings posted by this run (recovered ones not counted)
    recovered: int  # warnings found already posted (a previous run was cut short)
    skipped: int  # warnings dropped because the account is no longer at risk


def scan(ctx: JobContext, *, key: str, sub: subs.SubscriptionRow, today: dt.date,
         recover_since: dt.datetime | None = None, allow_post: bool = True) -> ScanResult:
    """Run the risk scan claimed as `key` for `sub` on `today`; post its warnings (and any left unposted by
    an earlier run of the same key). Raises DeliveryFailure when a warning could not be posted (after
    trying the others, unless the channel itself is unusable). `allow_post` False (a recovered scan past its
    grace window): warnings already in the channel are recorded, the others skipped."""
    items = tuple(for_subscriber(ctx.find_at_risk(ctx.engine, today, ctx.config), sub))
    by_account = {item.health.account.id: item for item in items}
    plans = tuple(subs.record_alerts(
        ctx.engine, subscription_id=sub.id, channel_id=sub.channel_id, today=today, findings=findings_for(items),
        batch=key, claimed_by=ctx.identity, now=ctx.now()))
    fresh = {p.delivery_key for p in plans}
    posted = recovered = skipped = 0
    failure: DeliveryFailure | None = None
    client = poster(ctx.client)
    for d in subs.batch_deliveries(ctx.engine, key):
        if d.final:
            continue
        mine = d.key in fresh
        if not mine:  # left by a run that died (claimed) or failed: take it over before touching it
            if d.state in ("failed", "unconfirmed") and d.retry_at is not None and d.retry_at > ctx.now():
                continue
            if not subs.take_over_delivery(ctx.engine, d.key, from_state=d.state, from_claimed_by=d.claimed_by,
                                           claimed_by=ctx.identity, now=ctx.now()):
                continue
            try:
                ts = confirm(ctx, client, sub.channel_id, d.key, d.claimed_at - dt.timedelta(minutes=1)
                             if d.claimed_at else None)
            except Unconfirmed as exc:  # never posted again before a check has answered
                subs.mark_unconfirmed(ctx.engine, d.key, error=str(exc), now=ctx.now(), retry_at=ctx.now())
                failure = failure or exc
                continue
            if ts:
                subs.mark_posted(ctx.engine, d.key, message_ts=ts, now=ctx.now())
                recovered += 1
                continue
        rows = subs.alerts_for_delivery(ctx.engine, d.key)
        item = by_account.get(rows[0].account_id) if rows else None
        if item is None:
            subs.mark_skipped(ctx.engine, d.key, reason="no longer at risk when the warning was retried")
            skipped += 1
            continue
        if not allow_post:
            subs.mark_skipped(ctx.engine, d.key, reason="interrupted, and too late to post when recovered")
            skipped += 1
            continue
        if sub.external_ok:  # a Slack Connect channel an admin allowed: money never goes there
            item = at_risk_without_money(item)
        text, blocks = alert_message(item, rows, today)
        try:
            result = post_message(ctx, channel=sub.channel_id, key=d.key, text=text, blocks=blocks,
                                  look_first_since=d.claimed_at)
        except LostLeadership:
            raise
        except Unconfirmed as exc:
            subs.mark_unconfirmed(ctx.engine, d.key, error=str(exc), now=ctx.now(), retry_at=ctx.now())
            log.warning("warning %s unconfirmed: %s", d.key, exc)
            failure = failure or exc
            continue
        except DeliveryFailure as exc:
            retry_at = None if exc.permanent else ctx.now()  # retried with the scan
            subs.mark_failed(ctx.engine, d.key, error=str(exc), now=ctx.now(), retry_at=retry_at)
            log.warning("warning %s not posted: %s", d.key, exc)
            failure = failure or exc
            if exc.permanent:
                break
            continue
        record_success(ctx, d.key, sub, result)
        if result.recovered:
            recovered += 1
        else:
            posted += 1
    if failure is not None:
        raise failure
    return ScanResult(items, plans, posted, recovered, skipped)


def preview(ctx: JobContext, sub: subs.SubscriptionRow, today: dt.date) -> tuple[list[AtRisk], list[subs.AlertPlan]]:
    """What a scan would warn about now, without recording anything (`csbot scan-risk --dry-run`)."""
    items = for_subscriber(ctx.find_at_risk(ctx.engine, today, ctx.config), sub)
    plans = subs.record_alerts(
        ctx.engine, subscription_id=sub.id, channel_id=sub.channel_id, today=today, findings=findings_for(items),
        batch="dry-run", claimed_by=ctx.identity, now=ctx.now(), dry_run=True)
    return items, plans


def scan_now(ctx: JobContext, sub: subs.SubscriptionRow, today: dt.date) -> ScanResult:
    """`csbot scan-risk`: run one subscription's scan now under a key of its own ("risk:{id}:manual-{instant}").

    Warnings are still one per account and episode: an account warned about by today's scheduled scan is
    not warned about again. A failure is recorded and raised.
    """
    now = ctx.now()
    key = subs.delivery_key("risk", sub.id, f"manual-{now:%Y%m%dT%H%M%S%f}Z")
    if not subs.claim_delivery(ctx.engine, key, channel_id=sub.channel_id, kind="risk",
                               period_key=key.split(":")[-1], claimed_by=ctx.identity, now=now,
                               subscription_id=sub.id):
        raise DeliveryFailure("duplicate", f"{key} is already recorded")
    try:
        result = scan(ctx, key=key, sub=sub, today=today)
    except Exception as exc:
        record_failure(ctx, key, None, exc, deadline=None)
        raise
    record_success(ctx, key, sub, None)
    return result
