"""Slash commands that answer questions: /kpi, the shortcuts, /health, /atrisk. Ack first, answer after."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.delivery import respond
from bot.listeners.replies import command_text, guarded, reply
from bot.listeners.subscriptions import handle_atrisk_subscription
from bot.personal import expand_mine
from bot.render.blocks import blocks_json, error_blocks, escape
from bot.services import Services
from kpi_core.types import UserError

ANSWER_COMMANDS = ("/kpi", "/nps", "/csat", "/churn", "/nrr", "/mrr", "/health", "/atrisk")


def ack_now(ack: Ack) -> None:
    """Acknowledge within Slack's 3 seconds; the answer follows through response_url."""
    ack()


def register(app: App, services: Services) -> None:
    @guarded
    def answer(body: dict[str, Any], client: WebClient) -> None:
        words = (body.get("text") or "").split()
        if body.get("command") == "/atrisk" and words and words[0].lower() in {"subscribe", "unsubscribe"}:
            handle_atrisk_subscription(services, client, body, words[0].lower())
            return
        try:
            text = expand_mine(command_text(body), body.get("user_id"))
        except UserError as exc:
            respond(client, body, {"text": escape(str(exc)), "blocks": blocks_json(error_blocks(str(exc)))})
            return
        reply(services, client, body, text, services.today())

    for command in ANSWER_COMMANDS:
        app.command(command)(ack=ack_now, lazy=[answer])
