"""The digest job: build the digest of the last complete week (or month) and post it once, chart first.

The content and its rendering come from kpi_core.digest and bot.render; this module only decides what to
build for a subscription and gets it into the channel. A chart that cannot be drawn or uploaded never
costs the digest: it is logged and the message goes out without it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace

from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.access import money_kpi_ids
from bot.jobs.context import JobContext
from bot.jobs.posting import (
    DeliveryFailure,
    Posted,
    find_posted,
    post_message,
    poster,
    record_failure,
    record_success,
)
from bot.render.blocks import blocks_json
from bot.render.chart import digest_chart
from bot.render.digest_blocks import digest_blocks, digest_text
from kpi_core.config import KpiConfig
from kpi_core.digest import DEFAULT_DIGEST_KPIS, DigestContent, build_digest
from kpi_core.periods import Period
from kpi_core.types import UserError
from storage import subscriptions as subs

log = logging.getLogger("csbot.jobs.digest")


class TooLate(Exception):
    """A recovered run that was not posted and may no longer be (its grace window passed)."""


@dataclass(frozen=True)
class DigestMessage:
    content: DigestContent
    text: str
    blocks: list[dict]


def period_key(period: Period) -> str:
    """"2026-W47" for an ISO week, "2026-11" for a month: the digest part of a delivery key."""
    if period.kind == "week":
        iso = period.start.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if period.kind == "month":
        return f"{period.start.year}-{period.start.month:02d}"
    return f"{period.start.isoformat()}..{period.end.isoformat()}"


def build_message(engine: Engine, config: KpiConfig, sub: subs.SubscriptionRow | None, today: dt.date, *,
                  delayed: bool = False, money: bool = True) -> DigestMessage:
    """The digest for `sub`'s KPIs and cadence (the defaults without a subscription), as of `today`.

    Without money (`money` False, or a Slack Connect channel an admin allowed): no money KPI, no renewals list.
    """
    kpis = (sub.kpis if sub is not None else None) or DEFAULT_DIGEST_KPIS
    cadence = sub.cadence if sub is not None else "week"
    shared = (sub is not None and sub.external_ok) or not money
    if shared:  # a channel shared with another organisation: money never goes there
        money = money_kpi_ids()
        kpis = [k for k in kpis if k not in money] or [k for k in DEFAULT_DIGEST_KPIS if k not in money]
    content = build_digest(engine, today, config, kpis=kpis, cadence=cadence)
    if shared:
        content = replace(content, renewals=())
    return DigestMessage(content, digest_text(content), blocks_json(digest_blocks(content, delayed=delayed)))


def upload_chart(ctx: JobContext, channel: str, content: DigestContent) -> bool:
    """Upload the digest chart to `channel`; False (logged) when there is none or it failed."""
    try:
        png = digest_chart(content)
    except Exception:
        log.exception("the digest chart for %s could not be drawn; posting the digest without it", channel)
        return False
    if not png:
        return False
    try:
        ctx.client.files_upload_v2(channel=channel, content=png, title=content.title,
                                   filename=f"digest-{period_key(content.period)}.png")
        return True
    except (SlackApiError, OSError) as exc:
        code = exc.response.get("error") if isinstance(exc, SlackApiError) else exc.__class__.__name__
        log.warning("the digest chart could not be uploaded to %s (%s); posting the digest without it",
                    channel, code)
        return False


def deliver_digest(ctx: JobContext, *, key: str, channel: str, sub: subs.SubscriptionRow | None, today: dt.date,
                   delayed: bool = False, recover_since: dt.datetime | None = None,
                   allow_post: bool = True) -> Posted:
    """Post the digest under the claimed `key`.

    `recover_since`: an earlier attempt claimed at that time may have posted it: look in the channel first
    and, when it is there, only report it. `allow_post` False: look, but do not post (raises TooLate).
    """
    if recover_since is not None:
        ts = find_posted(poster(ctx.client), channel, key, recover_since - dt.timedelta(minutes=1))
        if ts:
            log.info("%s was already in %s (ts %s): recorded, not posted again", key, channel, ts)
            return Posted(ts, True)
    if not allow_post:
        raise TooLate(key)
    try:
        message = build_message(ctx.engine, ctx.config, sub, today, delayed=delayed)
    except UserError as exc:
        raise DeliveryFailure("invalid_digest", str(exc), permanent=True) from exc
    upload_chart(ctx, channel, message.content)
    return post_message(ctx, channel=channel, key=key, text=message.text, blocks=message.blocks,
                        look_first_since=recover_since)


def post_now(ctx: JobContext, *, channel: str, sub: subs.SubscriptionRow | None, today: dt.date) -> Posted:
    """`csbot digest --channel`: post the digest now under a key of its own ("digest:{id}:manual-{instant}").

    A failure is recorded on that delivery and raised; it does not mark the subscription failing (the person
    running the command sees it).
    """
    now = ctx.now()
    key = subs.delivery_key("digest", sub.id if sub else None, f"manual-{now:%Y%m%dT%H%M%S%f}Z")
    if not subs.claim_delivery(ctx.engine, key, channel_id=channel, kind="digest", period_key=key.split(":")[-1],
                               claimed_by=ctx.identity, now=now, subscription_id=sub.id if sub else None):
        raise DeliveryFailure("duplicate", f"{key} is already recorded")
    try:
        posted = deliver_digest(ctx, key=key, channel=channel, sub=sub, today=today)
    except Exception as exc:
        record_failure(ctx, key, None, exc, deadline=None)
        raise
    record_success(ctx, key, sub, posted)
    return posted
