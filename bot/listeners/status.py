"""`/kpi status`: the sources, their last runs and failures, table loads and unresolved owners, in Slack."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.models.blocks import SectionBlock

from bot.delivery import respond
from bot.render.blocks import blocks_json, escape, pack_lines
from bot.services import Services

__all__ = ["is_status_request", "reply_status"]


def is_status_request(body: dict[str, Any]) -> bool:
    return body.get("command") == "/kpi" and (body.get("text") or "").strip().lower() == "status"


def status_blocks(lines: list[str]) -> list[dict]:
    """The status lines as code sections (their layout is column-like), within Slack's limits."""
    chunks = pack_lines([escape(line) for line in lines], 2900)
    return blocks_json([SectionBlock(text={"type": "mrkdwn", "text": f"```{chunk}```"}) for chunk in chunks[:45]])


def reply_status(services: Services, client: WebClient, body: dict[str, Any]) -> None:
    """Answer `/kpi status` to the asker (ephemeral)."""
    from bot.sources import status_report
    from kpi_core import clock

    lines = status_report(services.engine, services.kpi_config.tz, clock.utcnow())
    respond(client, body, {"blocks": status_blocks(lines), "text": "csbot status: " + escape(lines[1])})
