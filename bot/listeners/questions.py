"""Questions in plain words: a mention answers in a thread, a DM answers in the DM. Ack at once, answer after.

Slack retries an event it thinks was not received: each `event_id` is answered once (recorded in the
database, so this holds across processes). The bot's own messages, edits and other subtypes are ignored.
A question csbot cannot map gets the closest commands as buttons, never a guessed answer.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ActionsBlock

from bot.listeners.replies import build_reply, decode_request, encode_request, guarded, reply, team_of
from bot.personal import expand_mine, is_personal, subscribe_me, subscribed_text, unsubscribe_me
from bot.render.blocks import _button, _section, apology_blocks, blocks_json, error_blocks, escape
from bot.services import Services
from bot.workers import deferred
from kpi_core import clock
from kpi_core.plain_words import known_segments, understand
from kpi_core.types import UserError
from storage.personal import first_time_event, forget_events_before

log = logging.getLogger("csbot.questions")

SUGGEST_ACTION = "ask_suggested"
EVENT_MEMORY = dt.timedelta(days=1)
IGNORED_SUBTYPES_OK = {None, "thread_broadcast", "file_share"}


def suggestion_message(said: str, suggestions: tuple[str, ...], today) -> dict[str, Any]:
    """"I did not understand" with the closest commands as buttons (each answers when clicked)."""
    text = (f"I could not map “{escape(said)[:200]}” to a question I can answer, so I will not guess. "
            "The closest commands:")
    buttons = [_button(command, f"{SUGGEST_ACTION}_{i}", encode_request(command, today))
               for i, command in enumerate(suggestions)]
    blocks = [_section(text), ActionsBlock(elements=buttons)]
    return {"blocks": blocks_json(blocks), "text": "I could not map that question; closest commands: "
            + ", ".join(suggestions)}


def _is_own_or_noise(event: dict[str, Any], context: BoltContext) -> bool:
    if event.get("bot_id") or event.get("subtype") not in IGNORED_SUBTYPES_OK:
        return True
    user = event.get("user")
    return not user or user == context.get("bot_user_id") or not (event.get("text") or "").strip()


def answer_event(services: Services, client: WebClient, body: dict[str, Any], event: dict[str, Any],
                 context: BoltContext, *, in_thread: bool) -> None:
    """Answer one mention or DM, once per event_id."""
    if _is_own_or_noise(event, context):
        return
    team = team_of(body) or event.get("team") or ""
    event_id = body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"
    now = clock.utcnow()
    if not first_time_event(services.engine, event_id, team, now):
        log.info("event %s was already answered (a retry by Slack): not answered again", event_id)
        return
    forget_events_before(services.engine, now - EVENT_MEMORY)  # Slack retries within minutes; keep a day
    user, channel = event["user"], event["channel"]
    today = services.today()
    said = event.get("text") or ""
    try:
        with services.engine.connect() as conn:
            understood = understand(said, known_segments(conn))
        words = (understood.command or "").lower().split()
        if understood.command is None:
            message = suggestion_message(said.strip(), understood.suggestions, today)
        elif words[:1] == ["/atrisk"] and len(words) == 3 and words[1] in {"subscribe", "unsubscribe"} \
                and is_personal(words[2:]):
            message = _personal_alerts(services, client, team, user, words[1])
        else:
            money = services.access.sees_money(client, team, user) and not services.access.is_external(
                client, channel)
            try:
                text = expand_mine(understood.command, user)
            except UserError as exc:
                message = {"blocks": blocks_json(error_blocks(str(exc))), "text": escape(str(exc))}
            else:
                message, _ = build_reply(services, text, today, money=money, share=False)
    except Exception:
        request_id = uuid.uuid4().hex[:12]
        log.exception("question %s failed: %r", request_id, said)
        message = {"blocks": blocks_json(apology_blocks(request_id)), "text": "Something went wrong."}
    thread = (event.get("thread_ts") or event["ts"]) if in_thread else event.get("thread_ts")
    try:
        client.chat_postMessage(channel=channel, thread_ts=thread, **message)
    except SlackApiError as exc:
        log.error("could not answer event %s in %s: %s", event_id, channel, exc.response.get("error"))


def _personal_alerts(services: Services, client: WebClient, team: str, user: str, verb: str) -> dict[str, Any]:
    """`/atrisk subscribe me` and `unsubscribe me` work in a DM or a mention too."""
    if verb == "subscribe":
        text = subscribed_text(subscribe_me(services, client, team, user))
    else:
        text = ("Stopped your personal churn-risk warnings." if unsubscribe_me(services, team, user)
                else "You had no personal churn-risk warnings. `/atrisk subscribe me` starts them.")
    return {"blocks": blocks_json([_section(text)]), "text": text}


def register(app: App, services: Services) -> None:
    def mentioned(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        answer_event(services, client, body, body["event"], context, in_thread=True)

    def direct_message(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        if body["event"].get("channel_type") != "im":
            return
        answer_event(services, client, body, body["event"], context, in_thread=False)

    @guarded
    def suggested(body: dict[str, Any], client: WebClient) -> None:
        text, today = decode_request(body["actions"][0]["value"])
        text = expand_mine(text, body["user"]["id"])  # the clicker's own accounts
        reply(services, client, body, text, today)

    app.event("app_mention")(deferred(services.answers, mentioned))
    app.event("message")(deferred(services.answers, direct_message))
    app.action(re.compile(rf"^{SUGGEST_ACTION}_\d+$"))(deferred(services.answers, suggested))
