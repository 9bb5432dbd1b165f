"""Telling someone outside CSBOT_ALLOWED_USERS that csbot is not for them, wherever they reached it:
an ephemeral note for a mention, a reply in the DM, a Home that says so. Once per event."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from sqlalchemy import Engine

from bot.render.blocks import _header, _section
from kpi_core import clock
from storage.personal import first_time_event

log = logging.getLogger("csbot.refusals")


def tell_refused(client: WebClient, engine: Engine, body: dict[str, Any], text: str) -> None:
    """Say `text` to the refused person where their event came from (nothing for other events)."""
    event = body.get("event") or {}
    kind, user, channel = event.get("type"), event.get("user"), event.get("channel")
    if not user or event.get("bot_id") or event.get("subtype"):
        return
    event_id = body.get("event_id")
    if event_id and not first_time_event(engine, event_id, body.get("team_id"), clock.utcnow()):
        return
    try:
        if kind == "app_mention" and channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        elif kind == "message" and event.get("channel_type") == "im" and channel:
            client.chat_postMessage(channel=channel, text=text)
        elif kind == "app_home_opened" and event.get("tab", "home") == "home":
            view = View(type="home", blocks=[_header("csbot"), _section(text)])
            client.views_publish(user_id=user, view=view.to_dict())
    except SlackApiError as exc:
        log.warning("could not tell %s that csbot is not for them: %s", user, exc.response.get("error"))
