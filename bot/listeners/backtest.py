"""`/health backtest`: the renewal litmus test in Slack, answered after the ack, with its chart uploaded."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.delivery import respond
from bot.render.backtest import backtest_blocks, backtest_chart, summary_line
from bot.render.blocks import blocks_json, error_blocks, escape
from bot.services import Services
from kpi_core.history import run_backtest
from kpi_core.types import UserError

log = logging.getLogger("csbot.backtest")


def is_backtest(body: dict[str, Any]) -> bool:
    words = (body.get("text") or "").split()
    return body.get("command") == "/health" and [w.lower() for w in words] == ["backtest"]


def handle_backtest(services: Services, client: WebClient, body: dict[str, Any]) -> None:
    """Run the backtest over the default range (missing snapshots backfilled first), answer, upload the chart."""
    try:
        run = run_backtest(services.engine, services.kpi_config, services.today())
    except UserError as exc:
        respond(client, body, {"blocks": blocks_json(error_blocks(str(exc))), "text": escape(str(exc))})
        return
    report = run.report
    respond(client, body, {"blocks": blocks_json(backtest_blocks(report)), "text": escape(summary_line(report))})
    try:
        client.files_upload_v2(channel=body["channel_id"], content=backtest_chart(report),
                               title="Churn within the horizon by health band", filename="health-backtest.png")
    except (SlackApiError, OSError) as exc:
        code = exc.response.get("error") if isinstance(exc, SlackApiError) else exc.__class__.__name__
        log.warning("the backtest chart could not be uploaded to %s (%s)", body.get("channel_id"), code)
