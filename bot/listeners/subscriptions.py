"""/digest and `/atrisk subscribe`: scheduled posts to a channel (the scheduler work builds these out)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.delivery import respond
from bot.render.blocks import blocks_json, error_blocks
from bot.services import Services
from kpi_core.commands import help_text

COMING_SOON = ("Scheduled digests and risk warnings are coming soon: `{command}` is not available yet. "
               "Meanwhile `/kpi`, `/health` and `/atrisk` answer on demand.")


def _coming_soon(client: WebClient, body: dict[str, Any], command: str) -> None:
    text = COMING_SOON.format(command=command)
    respond(client, body, {"blocks": blocks_json(error_blocks(text, help_text("digest"))), "text": text})


def handle_atrisk_subscription(services: Services, client: WebClient, body: dict[str, Any], verb: str) -> None:
    _coming_soon(client, body, f"/atrisk {verb}")


def register(app: App, services: Services) -> None:
    from bot.listeners.commands import ack_now
    from bot.listeners.replies import guarded

    @guarded
    def digest(body: dict[str, Any], client: WebClient) -> None:
        _coming_soon(client, body, f"/digest {body.get('text') or ''}".strip())

    app.command("/digest")(ack=ack_now, lazy=[digest])
