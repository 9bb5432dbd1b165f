"""/digest and `/atrisk subscribe`: manage this channel's scheduled posts, preview the digest."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.access import refusal
from bot.delivery import respond
from bot.jobs.digest_job import build_message
from bot.listeners.replies import guarded
from bot.personal import is_personal, subscribe_me, subscribed_text, unsubscribe_me
from bot.render.blocks import blocks_json, error_blocks, escape
from bot.render.digest_blocks import digest_text
from bot.services import Services
from bot.settings import subscription_admins
from bot.workers import deferred
from kpi_core import clock
from kpi_core.commands import help_text
from kpi_core.subscription_spec import DAYS, SUBSCRIBE_FORMS, parse_schedule
from kpi_core.text_checks import check_command_text
from kpi_core.types import UserError
from storage import subscriptions as subs

log = logging.getLogger("csbot.subscriptions")

DIGEST_VERBS = ("preview", "subscribe", "unsubscribe", "list")
RISK_SCAN_TIME = "08:00"
EXTERNAL_OK = "--external-ok"


def _ephemeral(client: WebClient, body: dict[str, Any], text: str) -> None:
    respond(client, body, {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]})


def _error(client: WebClient, body: dict[str, Any], message: str, usage: str) -> None:
    respond(client, body, {"text": escape(message), "blocks": blocks_json(error_blocks(message, usage))})


def creator_time_zone(client: WebClient, channel_id: str) -> str:
    """The time zone of the person who created the channel, else UTC (DMs, missing scopes, deleted users)."""
    try:
        creator = client.conversations_info(channel=channel_id)["channel"].get("creator")
        if creator:
            tz = client.users_info(user=creator)["user"].get("tz")
            if tz:
                return tz
    except (SlackApiError, KeyError, TypeError) as exc:
        log.info("no creator time zone for %s (%s); using UTC", channel_id, exc.__class__.__name__)
    return "UTC"


def _may_manage(user_id: str) -> bool:
    admins = subscription_admins()
    return not admins or user_id in admins


def _describe(sub: subs.SubscriptionRow) -> str:
    if sub.kind == "risk":
        return f"churn-risk warnings, scanned daily at {sub.at_time} {sub.timezone}"
    cadence = "Monthly digest on the first" if sub.cadence == "month" else "Weekly digest every"
    kpis = ", ".join(sub.kpis) if sub.kpis else "the default KPIs"
    return f"{cadence} {DAYS[sub.weekday or 0].title()} at {sub.at_time} {sub.timezone} ({escape(kpis)})"


def _status_line(status: subs.SubscriptionStatus) -> str:
    sub = status.subscription
    lines = [f"*{_describe(sub)}*"]
    if sub.status == "failing":
        when = sub.failed_at.strftime("%Y-%m-%d %H:%M UTC") if sub.failed_at else "recently"
        lines.append(f":warning: failing since {when}: {escape(sub.failure or 'unknown error')}")
    last = status.last_delivery
    if last is None:
        lines.append("Not posted yet.")
    else:
        when = (last.posted_at or last.claimed_at or last.scheduled_for)
        when_text = when.strftime("%Y-%m-%d %H:%M UTC") if when else "-"
        late = " (posted late)" if last.delayed and last.state == "posted" else ""
        shown = {"failed", "skipped", "unconfirmed", "unknown"}
        error = f": {escape(last.error)}" if last.error and last.state in shown else ""
        lines.append(f"Last run {last.period_key}: {last.state}{late} at {when_text}{error}")
    for missed in status.missed:
        if last is None or missed.key != last.key:
            lines.append(f"Run {missed.period_key}: {escape(missed.error or 'skipped')}")
    return "\n".join(lines)


def _subscribe(services: Services, client: WebClient, body: dict[str, Any], kind: str, args: list[str]) -> None:
    user, channel, team = body["user_id"], body["channel_id"], body.get("team_id") or ""
    if not _may_manage(user):
        _ephemeral(client, body, "Only the people listed in CSBOT_SUBSCRIPTION_ADMINS may change this channel's "
                                 "schedules. Ask one of them, or your csbot admin.")
        return
    args, external_ok = external_opt_in(services, client, body, args, "post digests or churn-risk warnings")
    if external_ok is None:
        return
    now = clock.utcnow()
    if kind == "risk":
        if args:
            raise UserError("`/atrisk subscribe` takes no options: warnings are scanned daily at 08:00 in the "
                            "channel creator's time zone.")
        sub = subs.subscribe(services.engine, team_id=team, channel_id=channel, kind="risk", at_time=RISK_SCAN_TIME,
                             timezone=creator_time_zone(client, channel), now=now, created_by=user,
                             external_ok=external_ok)
        _ephemeral(client, body, f":white_check_mark: This channel now gets {_describe(sub)}, one message per newly "
                                 "at-risk customer with its owner mentioned. `/atrisk unsubscribe` stops them.")
        return
    schedule = parse_schedule(args)
    tz = schedule.timezone or creator_time_zone(client, channel)
    sub = subs.subscribe(services.engine, team_id=team, channel_id=channel, kind="digest", at_time=schedule.at_time,
                         timezone=tz, now=now, weekday=schedule.weekday, kpis=schedule.kpis or None,
                         cadence=schedule.cadence, created_by=user, external_ok=external_ok)
    _ephemeral(client, body, f":white_check_mark: {_describe(sub)} will be posted here. `/digest preview` shows "
                             "it now; `/digest unsubscribe` stops it. Invite me to the channel if I am not in it.")


def _unsubscribe(services: Services, client: WebClient, body: dict[str, Any], kind: str) -> None:
    if not _may_manage(body["user_id"]):
        _ephemeral(client, body, "Only the people listed in CSBOT_SUBSCRIPTION_ADMINS may change this channel's "
                                 "schedules.")
        return
    stopped = subs.unsubscribe(services.engine, team_id=body.get("team_id") or "", channel_id=body["channel_id"],
                               kind=kind)
    what = "digest" if kind == "digest" else "churn-risk warnings"
    _ephemeral(client, body, f"Stopped this channel's {what}." if stopped else f"This channel had no {what}.")


def _list(services: Services, client: WebClient, body: dict[str, Any]) -> None:
    rows = subs.list_subscriptions(services.engine, team_id=body.get("team_id") or None,
                                   channel_id=body["channel_id"])
    active = [r for r in rows if r.subscription.active]
    if not active:
        _ephemeral(client, body, "Nothing is scheduled for this channel. `/digest subscribe` posts a weekly digest; "
                                 "`/atrisk subscribe` posts churn-risk warnings.")
        return
    _ephemeral(client, body, "\n\n".join(_status_line(r) for r in active))


def _preview(services: Services, client: WebClient, body: dict[str, Any]) -> None:
    sub = subs.find_subscription(services.engine, body["channel_id"], "digest", body.get("team_id") or None)
    money = services.access.sees_money(client, body.get("team_id") or "", body.get("user_id")) and \
        services.access.sharing(client, body["channel_id"]) == "internal"
    message = build_message(services.engine, services.kpi_config, sub if sub and sub.active else None,
                            services.today(), money=money)
    respond(client, body, {"text": digest_text(message.content), "blocks": message.blocks})


def handle_digest(services: Services, client: WebClient, body: dict[str, Any]) -> None:
    words = (body.get("text") or "").split()
    verb = words[0].lower() if words else "preview"
    try:
        check_command_text(body.get("text") or "")
        if verb == "preview":
            _preview(services, client, body)
        elif verb == "subscribe":
            _subscribe(services, client, body, "digest", words[1:])
        elif verb == "unsubscribe":
            _unsubscribe(services, client, body, "digest")
        elif verb == "list":
            _list(services, client, body)
        else:
            raise UserError(f"`/digest {verb}` is not a digest command.")
    except (UserError, ValueError) as exc:
        _error(client, body, str(exc), help_text("digest") + "\n" + SUBSCRIBE_FORMS)


def external_opt_in(services: Services, client: WebClient, body: dict[str, Any], args: list[str],
                    what: str) -> tuple[list[str], bool | None]:
    """(args without `--external-ok`, whether the channel is shared with another organisation), or None for
    the flag when the subscription is refused (shared, and not an admin using `--external-ok`)."""
    opted = [a for a in args if a.lower() == EXTERNAL_OK]
    rest = [a for a in args if a.lower() != EXTERNAL_OK]
    sharing = services.access.sharing(client, body["channel_id"])
    if sharing == "internal":
        return rest, False
    if sharing == "external" and opted and services.access.is_admin(body["user_id"]):
        return rest, True
    hint = (" An admin listed in CSBOT_SUBSCRIPTION_ADMINS may allow it with `--external-ok`; revenue figures "
            "are never posted there.") if sharing == "external" else ""
    _ephemeral(client, body, refusal(sharing, what) + hint)
    return rest, None


def handle_atrisk_subscription(services: Services, client: WebClient, body: dict[str, Any], verb: str) -> None:
    args = (body.get("text") or "").split()[1:]
    if is_personal(args):
        team, user = body.get("team_id") or "", body["user_id"]
        if verb == "subscribe":
            _ephemeral(client, body, subscribed_text(subscribe_me(services, client, team, user)))
        else:
            stopped = unsubscribe_me(services, team, user)
            _ephemeral(client, body, "Stopped your personal churn-risk warnings." if stopped
                       else "You had no personal churn-risk warnings. `/atrisk subscribe me` starts them.")
        return
    try:
        check_command_text(body.get("text") or "")
        if verb == "subscribe":
            _subscribe(services, client, body, "risk", args)
        else:
            _unsubscribe(services, client, body, "risk")
    except (UserError, ValueError) as exc:
        _error(client, body, str(exc), help_text("atrisk"))


def register(app: App, services: Services) -> None:
    @guarded
    def digest(body: dict[str, Any], client: WebClient) -> None:
        handle_digest(services, client, body)

    app.command("/digest")(deferred(services.answers, digest))

