"""Getting messages to Slack: retries for rate limits and server errors, a fallback, and no silent drops."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.workers import reply_options

log = logging.getLogger("csbot.delivery")


def retry_handlers() -> list:
    """Retry 429 (honouring Retry-After), 5xx and dropped connections, a few times each."""
    return [
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=3),
        ConnectionErrorRetryHandler(max_retry_count=2),
    ]


def make_client(token: str | None, base_url: str) -> WebClient:
    """A WebClient for the bot token against `base_url` (trailing slash), with retry handlers installed."""
    return WebClient(token=token, base_url=base_url, retry_handlers=retry_handlers(), timeout=15)


class DeliveryError(RuntimeError):
    """A message could not be delivered after retries and the fallback."""


def send_to_response_url(url: str, payload: dict[str, Any]) -> int:
    """POST `payload` to a response_url (with retries); the HTTP status."""
    webhook = WebhookClient(url, retry_handlers=retry_handlers(), timeout=15)
    return webhook.send_dict(payload).status_code


def respond(client: WebClient, body: dict[str, Any], message: dict[str, Any]) -> None:
    """Answer a slash command or button: via its response_url, else an ephemeral chat message.

    `message` holds `blocks` and `text` (and `replace_original`, `response_type` when wanted).
    """
    url = body.get("response_url")
    message = reply_options(url, message)
    if url:
        try:
            status = send_to_response_url(url, {"response_type": "ephemeral", **message})
            if status == 200:
                return
            log.warning("response_url answered %s; falling back to chat.postEphemeral", status)
        except OSError as exc:
            log.warning("response_url failed (%s); falling back to chat.postEphemeral", exc.__class__.__name__)
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    if not channel or not user:
        raise DeliveryError("no response_url worked and the request names no channel and user")
    try:
        client.chat_postEphemeral(channel=channel, user=user, blocks=message.get("blocks"),
                                  text=message.get("text", ""))
    except SlackApiError as exc:
        raise DeliveryError(f"could not answer in {channel}: {exc.response.get('error')}") from exc
