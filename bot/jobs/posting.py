"""Posting a claimed delivery to Slack exactly once, and never failing silently.

Every scheduled post carries Slack message metadata naming its delivery key. That lets a process find out
whether a post went through when it cannot know from its own records: a claim left behind by a process
that died between "Slack received the post" and "we recorded it", or an answer that never came (a 5xx or
a dropped connection after the request was sent). In both cases the channel's recent history is searched
for the key first, and the message is posted only when it is not there.

429 answers are retried by the client (nothing was posted); 5xx and connection errors are retried here,
each retry after a history check. A post whose outcome is unknown is never repeated until a history check has
answered: the check is retried with back-off, and when history stays unreadable the delivery is left
'unconfirmed' (checked again later; posted only once a check says it is absent) and, after the grace window,
marked 'unknown' with the subscriber told once. Errors that retrying cannot fix (PERMANENT_ERRORS) fail the run at once,
mark the subscription failing and tell the person who subscribed; other errors are retried with back-off
until the run's grace window ends, and then reported the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.jobs.context import JobContext
from storage import subscriptions as subs

log = logging.getLogger("csbot.jobs")

EVENT_TYPE = "csbot_delivery"
HISTORY_SLACK = dt.timedelta(minutes=1)  # look this far before the claim for the message
HISTORY_PAGES = 5
AMBIGUOUS_RETRIES = 2
CHECK_RETRIES = 3  # history checks (with back-off) before a post of unknown outcome is left unconfirmed
RETRY_BASE = dt.timedelta(seconds=30)
RETRY_MAX = dt.timedelta(minutes=30)

PERMANENT_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "account_inactive", "token_revoked",
    "token_expired", "not_authed", "missing_scope", "no_permission", "restricted_action",
    "restricted_action_read_only_channel", "team_access_not_granted", "ekm_access_denied",
})

_HINTS = {
    "channel_not_found": "the channel no longer exists, or it is private and I am not in it",
    "not_in_channel": "I am not a member of the channel",
    "is_archived": "the channel is archived",
    "invalid_auth": "my Slack token is not valid any more",
    "account_inactive": "my Slack token belongs to a deactivated app or workspace",
    "token_revoked": "my Slack token was revoked",
    "token_expired": "my Slack token expired",
    "missing_scope": "the app lacks a permission it needs",
    "restricted_action": "the workspace does not let me post there",
    "invalid_digest": "its settings cannot be used any more",
}
_HINTS["channel_shared"] = "the channel is now shared with another organisation (Slack Connect)"
_FIXES = {
    "channel_shared": "ask an admin listed in CSBOT_SUBSCRIPTION_ADMINS to subscribe with `--external-ok` "
                      "(revenue figures are never posted there)",
    "channel_not_found": "invite me to the channel (`/invite @csbot`) or subscribe another channel",
    "not_in_channel": "invite me to the channel with `/invite @csbot`",
    "is_archived": "unarchive the channel or subscribe another one",
    "missing_scope": "reinstall the app from its manifest (`csbot manifest`)",
    "invalid_digest": "choose KPIs that exist (`/kpi list`)",
}
_TOKEN_ERRORS = {"invalid_auth", "account_inactive", "token_revoked", "token_expired", "not_authed"}


class DeliveryFailure(Exception):
    """A post that did not go through. `permanent`: retrying will not help until someone fixes something."""

    def __init__(self, code: str, detail: str = "", permanent: bool = False):
        self.code = code
        self.permanent = permanent
        super().__init__(f"{code}{': ' + detail if detail else ''}")


class HistoryUnavailable(Exception):
    """The channel's history could not be read: whether a post is there is unknown."""


class Unconfirmed(DeliveryFailure):
    """Slack may have accepted the post, and its history could not be read to check: do not post again yet."""

    def __init__(self, detail: str):
        super().__init__("unconfirmed", detail)


class LostLeadership(Exception):
    """This process stopped being the scheduler; the claim is left for the new leader to recover."""


@dataclass(frozen=True)
class Posted:
    ts: str
    recovered: bool  # found already in the channel: not posted again


def metadata_for(key: str) -> dict[str, Any]:
    return {"event_type": EVENT_TYPE, "event_payload": {"key": key}}


def _code(exc: SlackApiError) -> str:
    try:
        return str(exc.response.get("error") or "slack_error")
    except (AttributeError, TypeError):
        return "slack_error"


def _status(exc: SlackApiError) -> int:
    return int(getattr(exc.response, "status_code", 200) or 200)


def poster(client: WebClient) -> WebClient:
    """The client for posts: 429 retried (Slack did nothing), but 5xx and connection errors not retried blindly
    (Slack may have posted), so that `post_message` can look before posting again."""
    return WebClient(token=client.token, base_url=client.base_url, timeout=client.timeout,
                     retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)])


def find_posted(client: WebClient, channel: str, key: str, since: dt.datetime | None) -> str | None:
    """The ts of a message in `channel` (newer than `since`) whose metadata carries `key`, else None.

    Raises DeliveryFailure(permanent) when the channel itself is unusable, HistoryUnavailable when history
    cannot be read for another reason (a 5xx, a dropped connection, a missing scope): None means "not there".
    """
    cursor = None
    oldest = f"{since.timestamp():.6f}" if since is not None else None
    for _page in range(HISTORY_PAGES):
        try:
            resp = client.conversations_history(channel=channel, oldest=oldest, include_all_metadata=True,
                                                limit=200, cursor=cursor)
        except SlackApiError as exc:
            code = _code(exc)
            if code in PERMANENT_ERRORS - {"missing_scope"}:
                raise DeliveryFailure(code, f"reading {channel}", permanent=True) from exc
            log.warning("cannot read %s to check for %s (%s)", channel, key, code)
            raise HistoryUnavailable(code) from exc
        except OSError as exc:
            log.warning("cannot read %s to check for %s (%s)", channel, key, exc.__class__.__name__)
            raise HistoryUnavailable(exc.__class__.__name__) from exc
        for message in resp.get("messages") or []:
            meta = message.get("metadata") or {}
            if meta.get("event_type") == EVENT_TYPE and (meta.get("event_payload") or {}).get("key") == key:
                return message.get("ts")
        cursor = (resp.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


def confirm(ctx: JobContext, client: WebClient, channel: str, key: str, since: dt.datetime | None) -> str | None:
    """`find_posted`, retried with back-off while history cannot be read; Unconfirmed when it never could."""
    reason = ""
    for attempt in range(CHECK_RETRIES):
        if attempt:
            ctx.sleep(min(2.0 ** attempt, 10.0))
        try:
            return find_posted(client, channel, key, since)
        except HistoryUnavailable as exc:
            reason = str(exc)
    raise Unconfirmed(f"could not read {channel} to check whether it was posted ({reason})")


def post_message(ctx: JobContext, *, channel: str, key: str, text: str, blocks: list[dict] | None,
                 look_first_since: dt.datetime | None = None, look_first: bool = False) -> Posted:
    """Post once under `key`. `look_first`: a previous attempt may have posted it (recovery): search first."""
    client = poster(ctx.client)
    since = look_first_since - HISTORY_SLACK if look_first_since is not None else None
    if look_first:
        ts = confirm(ctx, client, channel, key, since)
        if ts:
            log.info("%s was already in %s (ts %s): recorded, not posted again", key, channel, ts)
            return Posted(ts, True)
    ambiguous = 0
    while True:
        if not ctx.still_leader():
            raise LostLeadership(key)
        try:
            resp = client.chat_postMessage(channel=channel, text=text, blocks=blocks, metadata=metadata_for(key),
                                           unfurl_links=False, unfurl_media=False)
            return Posted(str(resp["ts"]), False)
        except SlackApiError as exc:
            code = _code(exc)
            if code in PERMANENT_ERRORS:
                raise DeliveryFailure(code, f"posting to {channel}", permanent=True) from exc
            if _status(exc) < 500:
                raise DeliveryFailure(code, f"posting to {channel}") from exc
            reason = f"HTTP {_status(exc)} {code}"
        except OSError as exc:
            reason = exc.__class__.__name__
        ambiguous += 1
        if ambiguous > AMBIGUOUS_RETRIES:
            raise DeliveryFailure("unanswered", f"{reason} posting to {channel}, {ambiguous} times")
        log.warning("posting %s to %s: %s; checking the channel before trying again", key, channel, reason)
        ctx.sleep(min(2.0 ** ambiguous, 10.0))
        ts = confirm(ctx, client, channel, key, since or ctx.now() - dt.timedelta(minutes=10))
        if ts:
            return Posted(ts, True)


# --------------------------------------------------------------------------------------------- failures


def _what(sub: subs.SubscriptionRow) -> str:
    return "the weekly digest" if sub.kind == "digest" and sub.cadence == "week" else (
        "the monthly digest" if sub.kind == "digest" else "churn-risk warnings")


def failure_text(sub: subs.SubscriptionRow, code: str, detail: str = "") -> str:
    """The DM to the subscriber: what failed, why, and how to fix it."""
    command = "/digest subscribe" if sub.kind == "digest" else "/atrisk subscribe"
    why = _HINTS.get(code) or f"it kept failing until it was too late to post ({detail or code})"
    if code in _HINTS and detail:
        why += f" ({detail})"
    if code in _TOKEN_ERRORS:
        fix = "ask a workspace admin to reinstall csbot (its token must be renewed)"
    else:
        fix = _FIXES.get(code) or "check that the channel still exists and that I am in it"
    return (f":warning: I could not post {_what(sub)} to <#{sub.channel_id}>: {why}.\n"
            f"To fix it, {fix}, then run `{command}` in <#{sub.channel_id}> again. "
            f"`/digest list` there shows the status. I will keep trying at the scheduled times meanwhile.")


def unknown_text(sub: subs.SubscriptionRow, key: str) -> str:
    """The DM when a post could not be confirmed before its window ended."""
    period = key.rsplit(":", 1)[-1]
    return (f":grey_question: I cannot tell whether {_what(sub)} ({period}) reached <#{sub.channel_id}>: Slack "
            "answered with an error after receiving it, and I could not read the channel to check. I will not post "
            f"it again (so it is never there twice); please look in <#{sub.channel_id}>. `/digest list` there shows "
            "the status.")


def notify_subscriber(ctx: JobContext, sub: subs.SubscriptionRow, code: str, detail: str = "",
                      text: str | None = None) -> bool:
    """DM the person who subscribed (conversations.open, then chat.postMessage); False when nobody was told."""
    text = text or failure_text(sub, code, detail)
    if not sub.created_by:
        log.error("subscription %s in %s is failing (%s) and has no subscriber to tell", sub.id, sub.channel_id,
                  code)
        return False
    try:
        dm = ctx.client.conversations_open(users=sub.created_by)["channel"]["id"]
        ctx.client.chat_postMessage(channel=dm, text=text)
        return True
    except (SlackApiError, OSError, KeyError, TypeError) as exc:
        error = _code(exc) if isinstance(exc, SlackApiError) else exc.__class__.__name__
        log.error("subscription %s in %s is failing (%s) and telling %s failed too (%s)", sub.id, sub.channel_id,
                  code, sub.created_by, error)
        return False


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min, ... at most 30 min after the n-th failed attempt."""
    return min(RETRY_BASE * (2 ** max(0, attempts - 1)), RETRY_MAX)


def record_failure(ctx: JobContext, key: str, sub: subs.SubscriptionRow | None, exc: BaseException, *,
                   deadline: dt.datetime | None) -> bool:
    """Record a failed attempt of `key`; True when it will be retried (before `deadline`).

    Permanent errors, and errors still there when the next try would fall after `deadline` (None: do not
    retry), make the failure final: the subscription is marked failing and its subscriber told (once).
    """
    now = ctx.now()
    code = exc.code if isinstance(exc, DeliveryFailure) else exc.__class__.__name__
    detail = str(exc)
    permanent = isinstance(exc, DeliveryFailure) and exc.permanent
    if not permanent:
        current = subs.get_delivery(ctx.engine, key)
        retry_at = now + backoff((current.attempts if current else 0) + 1)
        if deadline is not None and retry_at <= deadline:
            subs.mark_failed(ctx.engine, key, error=detail, now=now, retry_at=retry_at)
            log.warning("%s failed (%s); trying again at %s", key, detail, retry_at.isoformat(timespec="seconds"))
            return True
    subs.mark_failed(ctx.engine, key, error=detail, now=now, retry_at=None)
    if sub is None:
        log.error("%s failed for good: %s", key, detail)
        return False
    log.error("%s failed for good: %s; subscription %s marked failing", key, detail, sub.id)
    if subs.mark_subscription_failing(ctx.engine, sub.id, error=detail, now=now):
        notify_subscriber(ctx, sub, code, "" if permanent else detail)
    return False


def record_unconfirmed(ctx: JobContext, key: str, sub: subs.SubscriptionRow | None, exc: Unconfirmed, *,
                       deadline: dt.datetime | None) -> bool:
    """Keep `key` unconfirmed, to be checked again with back-off until `deadline`; True while it will be.

    At the deadline it becomes 'unknown' (final: never posted again) and the subscriber is told once.
    """
    now = ctx.now()
    if deadline is not None and now < deadline:
        current = subs.get_delivery(ctx.engine, key)
        retry_at = min(now + backoff((current.attempts if current else 0) + 1), deadline)
        subs.mark_unconfirmed(ctx.engine, key, error=str(exc), now=now, retry_at=retry_at)
        log.warning("%s unconfirmed (%s); checking the channel again at %s", key, exc,
                    retry_at.isoformat(timespec="seconds"))
        return True
    subs.mark_unknown(ctx.engine, key, error=str(exc))
    log.error("%s: could not confirm whether it was posted before its window ended; marked unknown", key)
    if sub is not None:
        notify_subscriber(ctx, sub, "unknown", str(exc), text=unknown_text(sub, key))
    return False


def record_success(ctx: JobContext, key: str, sub: subs.SubscriptionRow | None, posted: Posted | None) -> None:
    """The run is done; a real post also clears the subscription's failure (the channel works again)."""
    subs.mark_posted(ctx.engine, key, message_ts=posted.ts if posted else None, now=ctx.now())
    if sub is not None and posted is not None and subs.mark_subscription_ok(ctx.engine, sub.id):
        log.info("subscription %s in %s works again", sub.id, sub.channel_id)
