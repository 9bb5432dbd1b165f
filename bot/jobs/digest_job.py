"""The digest job: build the digest of the last complete week (or month) and post it once, chart first.

The content and its rendering come from kpi_core.digest and bot.render; this module only decides what to
build for a subscription and gets it into the channel. A chart that cannot be drawn or uploaded never
costs the digest: it is logged and the message goes out without it.
"""

from __future__ import annotations

import datetime as dt
import logging
import urllib.request
from dataclasses import dataclass, replace

from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.access import money_kpi_ids
from bot.jobs.context import JobContext
from bot.jobs.posting import (
    DeliveryFailure,
    Posted,
    Unconfirmed,
    confirm,
    post_message,
    poster,
    record_failure,
    record_success,
)
from bot.render.blocks import MAX_BLOCKS, NOTIFICATION_TEXT_MAX, blocks_json, clip
from bot.render.chart import digest_chart
from bot.render.digest_blocks import digest_blocks, digest_text
from bot.render.freshness_blocks import digest_freshness_blocks, digest_freshness_text
from kpi_core import clock
from kpi_core.config import KpiConfig
from kpi_core.digest import DEFAULT_DIGEST_KPIS, DigestContent, build_digest
from kpi_core.freshness import Freshness, freshness, kpi_tables
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
    if shared:  # and no MRR movements either
        content = replace(content, renewals=(), movements=None, movements_period=None)
    blocks = digest_blocks(content, delayed=delayed)
    fresh = digest_freshness(engine, kpis)
    blocks[1:1] = digest_freshness_blocks(fresh, config.tz)  # under the title: failed sources, stale warning
    text = clip(digest_freshness_text(fresh) + digest_text(content), NOTIFICATION_TEXT_MAX)
    return DigestMessage(content, text, blocks_json(blocks[:MAX_BLOCKS]))


def digest_freshness(engine: Engine, kpis) -> Freshness:
    """How fresh the tables behind a digest of `kpis` (and its health lists) are, now."""
    from bot.sources import freshness_policy

    tables = kpi_tables([*kpis, "health"])
    with engine.connect() as conn:
        return freshness(conn, tables, clock.utcnow(), freshness_policy())


def _put(url: str, data: bytes, timeout: float) -> None:
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - Slack's upload URL
        response.read()


def upload_chart(ctx: JobContext, channel: str, content: DigestContent, key: str | None = None) -> bool:
    """Upload the digest chart to `channel`; False (logged) when there is none or it failed.

    With the delivery `key`, the chart is shared at most once for it: the file id is recorded before
    `files.completeUploadExternal` (which is never retried: a 5xx may come after Slack shared it), and a
    retried delivery whose chart was already attempted goes out without one.
    """
    if key is not None:
        row = subs.get_delivery(ctx.engine, key)
        if row is not None and row.chart_file_id:
            log.info("%s: the chart was already shared (or attempted) once; not again", key)
            return False
    try:
        png = digest_chart(content)
    except Exception:
        log.exception("the digest chart for %s could not be drawn; posting the digest without it", channel)
        return False
    if not png:
        return False
    client = poster(ctx.client)
    try:
        filename = f"digest-{period_key(content.period)}.png"
        target = client.files_getUploadURLExternal(filename=filename, length=len(png))
        _put(str(target["upload_url"]), png, float(client.timeout or 15))
        file_id = str(target["file_id"])
        if key is not None and not subs.claim_chart(ctx.engine, key, file_id):
            return False
        client.files_completeUploadExternal(files=[{"id": file_id, "title": content.title}], channel_id=channel)
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
        ts = confirm(ctx, poster(ctx.client), channel, key, recover_since - dt.timedelta(minutes=1))
        if ts:
            log.info("%s was already in %s (ts %s): recorded, not posted again", key, channel, ts)
            return Posted(ts, True)
    if not allow_post:
        raise TooLate(key)
    try:
        message = build_message(ctx.engine, ctx.config, sub, today, delayed=delayed)
    except UserError as exc:
        raise DeliveryFailure("invalid_digest", str(exc), permanent=True) from exc
    upload_chart(ctx, channel, message.content, key)
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
    except Unconfirmed as exc:
        subs.mark_unknown(ctx.engine, key, error=str(exc))
        raise
    except Exception as exc:
        record_failure(ctx, key, None, exc, deadline=None)
        raise
    record_success(ctx, key, sub, posted)
    return posted
