"""Slack request signing and Slack-shaped request bodies, for driving the app's HTTP endpoint.

Slack signs every request it sends: ``v0=<hex HMAC-SHA256(signing_secret, "v0:{timestamp}:{raw body}")>``,
sent in ``X-Slack-Signature`` with the timestamp in ``X-Slack-Request-Timestamp``.
https://docs.slack.dev/authentication/verifying-requests-from-slack/

The payload builders here (``slash_command_payload``, ``block_actions_payload``) are shared with the
Socket Mode stand-in, so a command looks the same whether it arrives over HTTP or over the socket.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlencode

DEFAULT_USER_ID = "U0TEST001"
DEFAULT_USER_NAME = "tester"
DEFAULT_CHANNEL_ID = "C0TEST001"
DEFAULT_CHANNEL_NAME = "general"
DEFAULT_TEAM_ID = "T0TEST001"
DEFAULT_TEAM_DOMAIN = "csbot-test"
DEFAULT_APP_ID = "A0TEST"
# Slack's legacy verification token; Bolt ignores it, Slack still sends it.
DEFAULT_VERIFICATION_TOKEN = "fake-verification-token"

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

_action_ts = itertools.count(1)


def sign(signing_secret: str, timestamp: int, body: str) -> str:
    """Slack's request signature for ``body`` sent at ``timestamp``: ``"v0=<64 hex chars>"``."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str,
    body: str,
    timestamp: int | None = None,
    content_type: str = FORM_CONTENT_TYPE,
) -> dict[str, str]:
    """Headers Slack would send with ``body``; ``timestamp`` defaults to now (Bolt rejects > 5 min skew)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(secret, ts, body),
    }


def new_trigger_id() -> str:
    """A trigger id shaped like Slack's (``<digits>.<digits>.<32 hex>``), unique per call."""
    return f"398738663015.47445629121.{uuid.uuid4().hex}"


def slash_command_payload(
    command: str,
    text: str,
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str = DEFAULT_USER_NAME,
    channel_id: str = DEFAULT_CHANNEL_ID,
    channel_name: str = DEFAULT_CHANNEL_NAME,
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    response_url: str,
    trigger_id: str | None = None,
    api_app_id: str = DEFAULT_APP_ID,
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> dict[str, str]:
    """The fields of a slash command, all strings, in the order Slack sends them.

    Over HTTP they are form-encoded; over Socket Mode they are the envelope's ``payload`` object.
    """
    return {
        "token": token,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }


def slash_command_body(
    command: str,
    text: str,
    *,
    user_id: str = DEFAULT_USER_ID,
    channel_id: str = DEFAULT_CHANNEL_ID,
    team_id: str = DEFAULT_TEAM_ID,
    response_url: str,
    trigger_id: str | None = None,
    **fields: str,
) -> str:
    """A form-encoded slash command body as Slack POSTs it (``command=%2Fcsbot&text=...``).

    Extra keyword ``fields`` (user_name, channel_name, team_domain, api_app_id, token) pass through.
    """
    payload = slash_command_payload(
        command,
        text,
        user_id=user_id,
        channel_id=channel_id,
        team_id=team_id,
        response_url=response_url,
        trigger_id=trigger_id,
        **fields,
    )
    return urlencode(payload)


def block_actions_payload(
    action_id: str,
    value: str,
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str = DEFAULT_USER_NAME,
    channel_id: str = DEFAULT_CHANNEL_ID,
    channel_name: str = DEFAULT_CHANNEL_NAME,
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    response_url: str,
    message: dict | None = None,
    message_ts: str | None = None,
    block_id: str = "csbot_actions",
    button_text: str = "Button",
    trigger_id: str | None = None,
    api_app_id: str = DEFAULT_APP_ID,
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> dict:
    """A ``block_actions`` interactive payload for a button click, in Slack's shape.

    With ``message`` the click came from that (regular) message: ``container.message_ts`` is its ``ts``
    and the payload carries ``message``. Without it the click came from an ephemeral message; Slack then
    sends ``container.is_ephemeral: true`` and no ``message`` key, which is what you get here.
    """
    container_ts = message_ts or (message or {}).get("ts") or _fresh_ts()
    payload: dict = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": token,
        "container": {
            "type": "message",
            "message_ts": container_ts,
            "channel_id": channel_id,
            "is_ephemeral": message is None,
        },
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": button_text, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": _fresh_ts(),
            }
        ],
    }
    if message is not None:
        payload["message"] = message
    return payload


def block_actions_body(
    action_id: str,
    value: str,
    *,
    user_id: str = DEFAULT_USER_ID,
    channel_id: str = DEFAULT_CHANNEL_ID,
    team_id: str = DEFAULT_TEAM_ID,
    response_url: str,
    message: dict | None = None,
    **fields,
) -> str:
    """Form-encoded ``payload=<json>`` body of a button click, as Slack POSTs interactions."""
    payload = block_actions_payload(
        action_id,
        value,
        user_id=user_id,
        channel_id=channel_id,
        team_id=team_id,
        response_url=response_url,
        message=message,
        **fields,
    )
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def event_body(event: dict, *, team_id: str = DEFAULT_TEAM_ID, event_id: str | None = None,
               api_app_id: str = DEFAULT_APP_ID) -> str:
    """An Events API ``event_callback`` envelope around ``event``, as JSON (Slack POSTs it as such)."""
    envelope = {
        "token": DEFAULT_VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": "U0BOT0001", "is_bot": True,
                            "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }
    return json.dumps(envelope, separators=(",", ":"))


def post(url: str, body: str | bytes, headers: dict[str, str], timeout: float = 10.0) -> tuple[int, str]:
    """POST ``body`` and return ``(status, response text)``; HTTP error statuses are returned, not raised."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode("utf-8", errors="replace")


def _fresh_ts() -> str:
    """A Slack-style ``"<seconds>.<6 digits>"`` timestamp, unique within this process."""
    return f"{int(time.time())}.{next(_action_ts) % 1_000_000:06d}"
