"""Slash commands that answer questions: /kpi, the shortcuts, /health, /atrisk. Ack first (on the request
thread), answer after (on the answer pool: bot/workers.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.delivery import respond
from bot.listeners.backtest import handle_backtest, is_backtest
from bot.listeners.replies import command_text, guarded, reply
from bot.listeners.status import is_status_request, reply_status
from bot.listeners.subscriptions import handle_atrisk_subscription
from bot.personal import expand_mine
from bot.render.blocks import blocks_json, error_blocks, escape
from bot.services import Services
from bot.workers import deferred
from kpi_core.types import UserError

ANSWER_COMMANDS = ("/kpi", "/nps", "/csat", "/churn", "/nrr", "/mrr", "/health", "/atrisk")


def register(app: App, services: Services) -> None:
    @guarded
    def answer(body: dict[str, Any], client: WebClient) -> None:
        words = (body.get("text") or "").split()
        if body.get("command") == "/atrisk" and words and words[0].lower() in {"subscribe", "unsubscribe"}:
            handle_atrisk_subscription(services, client, body, words[0].lower())
            return
        if is_backtest(body):
            handle_backtest(services, client, body)
            return
        if is_status_request(body):
            reply_status(services, client, body)
            return
        try:
            text = expand_mine(command_text(body), body.get("user_id"))
        except UserError as exc:
            respond(client, body, {"text": escape(str(exc)), "blocks": blocks_json(error_blocks(str(exc)))})
            return
        reply(services, client, body, text, services.today())

    for command in ANSWER_COMMANDS:
        app.command(command)(deferred(services.answers, answer))
