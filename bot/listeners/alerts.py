"""Buttons on churn-risk warnings: Acknowledge, Snooze 7 days, Not a risk (with a reason, in a modal)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.delivery import respond
from bot.jobs.risk_job import alert_state
from bot.listeners.home import refresh_homes
from bot.listeners.replies import guarded, team_of
from bot.render.digest_blocks import (
    ACK_ACTION,
    DISMISS_ACTION,
    DISMISS_CALLBACK,
    REASON_ACTION,
    REASON_BLOCK,
    SNOOZE_ACTION,
    SNOOZE_DAYS,
    not_a_risk_modal,
    with_alert_state,
)
from bot.services import Services
from bot.workers import deferred
from kpi_core import clock
from kpi_core.book import account_owner
from storage import subscriptions as subs

log = logging.getLogger("csbot.alerts")


def _original_blocks(client: WebClient, body: dict[str, Any], row: subs.AlertRow) -> list[dict] | None:
    """The warning's blocks: from the click's payload, else read back from the channel."""
    message = body.get("message")
    if message and message.get("blocks"):
        return message["blocks"]
    try:
        history = client.conversations_history(channel=row.channel_id, latest=row.message_ts, inclusive=True,
                                               limit=1)
        messages = history.get("messages") or []
        return messages[0].get("blocks") if messages else None
    except SlackApiError as exc:
        log.warning("could not read alert message %s back: %s", row.message_ts, exc.response.get("error"))
        return None


def record(services: Services, client: WebClient, body: dict[str, Any], alert_id: int, action: str, *,
           until: dt.date | None = None, reason: str | None = None) -> None:
    """Record who did what on the alert, then show it in the warning itself (buttons replaced by the state)."""
    user = body["user"]["id"]
    from_home = (body.get("view") or {}).get("type") == "home"  # a click in the App Home: no response_url
    quiet = from_home or body.get("type") == "view_submission"  # nowhere to answer but the message and Home
    row = subs.alert_action(services.engine, alert_id, action, user=user, at=clock.utcnow(), until=until,
                            reason=reason)
    if row is None:
        if not quiet:
            respond(client, body, {"text": "That warning is no longer on record.", "replace_original": False})
        return
    state = alert_state(row)
    blocks = _original_blocks(client, body if not from_home else {}, row)
    if state is None or not row.channel_id or not row.message_ts or blocks is None:
        if not quiet:
            respond(client, body, {"text": "Recorded.", "replace_original": False})
    else:
        client.chat_update(channel=row.channel_id, ts=row.message_ts, blocks=with_alert_state(blocks, state),
                           text=f"Churn-risk warning ({row.state})")
    with services.engine.connect() as conn:
        owner = account_owner(conn, row.account_id)
    refresh_homes(services, client, team_of(body), [user, owner])


def _alert_id(body: dict[str, Any]) -> int:
    return int(body["actions"][0]["value"])


def register(app: App, services: Services) -> None:
    @guarded
    def acknowledge(body: dict[str, Any], client: WebClient) -> None:
        record(services, client, body, _alert_id(body), "acknowledge")

    @guarded
    def snooze(body: dict[str, Any], client: WebClient) -> None:
        until = services.today() + dt.timedelta(days=SNOOZE_DAYS)
        record(services, client, body, _alert_id(body), "snooze", until=until)

    def ask_reason(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Open the 'Not a risk' modal at once: Slack's trigger_id expires in 3 seconds."""
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=not_a_risk_modal(body["actions"][0]["value"]))

    def check_reason(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        reason = view["state"]["values"][REASON_BLOCK][REASON_ACTION].get("value") or ""
        if not reason.strip():
            ack(response_action="errors", errors={REASON_BLOCK: "Say briefly why this account is not at risk."})
            return
        record_dismissal(ack, body, client)

    @guarded
    def dismissed(body: dict[str, Any], client: WebClient) -> None:
        view = body["view"]
        reason = (view["state"]["values"][REASON_BLOCK][REASON_ACTION].get("value") or "").strip()
        if reason:
            record(services, client, body, int(view["private_metadata"]), "dismiss", reason=reason)

    record_dismissal = deferred(services.answers, dismissed)
    app.action(ACK_ACTION)(deferred(services.answers, acknowledge))
    app.action(SNOOZE_ACTION)(deferred(services.answers, snooze))
    app.action(DISMISS_ACTION)(ask_reason)
    app.view(DISMISS_CALLBACK)(check_reason)
