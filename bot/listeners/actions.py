"""Buttons: share an answer in the channel, pick one of several matching accounts."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.access import limited_text, refusal
from bot.delivery import respond
from bot.listeners.replies import decode_request, freshness_blocks, guarded, reply, team_of
from bot.redact import money_kpi_asked, without_money
from bot.render.blocks import (
    PICK_ACCOUNT_ACTION,
    SHARE_ACTION,
    SHOW_ALL_ACTION,
    answer_text,
    blocks_json,
    shared_blocks,
)
from bot.render.csv_out import at_risk_csv
from bot.services import Services
from bot.workers import deferred
from kpi_core.answers import AtRiskAnswer, ask

log = logging.getLogger("csbot.actions")


def _value(body: dict[str, Any]) -> str:
    return body["actions"][0]["value"]


def register(app: App, services: Services) -> None:
    @guarded
    def share(body: dict[str, Any], client: WebClient) -> None:
        text, today = decode_request(_value(body))
        user = body["user"]["id"]
        channel = body["channel"]["id"]
        sharing = services.access.sharing(client, channel)
        if sharing != "internal":
            respond(client, body, {"text": refusal(sharing, "share answers"), "replace_original": False})
            return
        money = services.access.sees_money(client, team_of(body), user)
        if not money and money_kpi_asked(text):
            respond(client, body, {"text": f"{limited_text()}.", "replace_original": False})
            return
        answer = ask(services.engine, text, today, services.kpi_config)
        if not money:
            answer = without_money(answer)
        try:
            shared = shared_blocks(answer, user)
            shared[-1:-1] = freshness_blocks(services, answer)  # above "Shared by"
            client.chat_postMessage(channel=channel, blocks=blocks_json(shared), text=answer_text(answer))
        except SlackApiError as exc:
            error = exc.response.get("error")
            hint = "Invite the bot to this channel (`/invite @csbot`) and share again." if error in {
                "not_in_channel", "channel_not_found"} else "Try again in a moment."
            respond(client, body, {"text": f"Could not share in this channel ({error}). {hint}",
                                   "replace_original": False})
            return
        respond(client, body, {"text": "Shared in the channel.", "replace_original": False})

    @guarded
    def pick(body: dict[str, Any], client: WebClient) -> None:
        text, today = decode_request(_value(body))
        reply(services, client, body, text, today, replace_original=True)

    @guarded
    def show_all(body: dict[str, Any], client: WebClient) -> None:
        """The whole /atrisk list as a CSV file in a direct message to the person who asked."""
        text, today = decode_request(_value(body))
        user = body["user"]["id"]
        answer = ask(services.engine, text, today, services.kpi_config)
        if not isinstance(answer, AtRiskAnswer):
            respond(client, body, {"text": "That button only lists /atrisk answers.", "replace_original": False})
            return
        try:
            dm = client.conversations_open(users=user)["channel"]["id"]
            client.files_upload_v2(channel=dm, content=at_risk_csv(answer).encode("utf-8"),
                                   filename=f"at-risk-{answer.as_of.isoformat()}.csv",
                                   title=f"{len(answer.accounts)} customers at risk as of {answer.as_of.isoformat()}")
        except SlackApiError as exc:
            respond(client, body, {"text": f"Could not send the list ({exc.response.get('error')}); try again in a "
                                           "moment.", "replace_original": False})
            return
        respond(client, body, {"text": f"Sent you all {len(answer.accounts)} as a CSV file in a direct message.",
                               "replace_original": False})

    app.action(SHARE_ACTION)(deferred(services.answers, share))
    app.action(SHOW_ALL_ACTION)(deferred(services.answers, show_all))
    app.action(re.compile(rf"^{PICK_ACCOUNT_ACTION}_\d+$"))(deferred(services.answers, pick))

