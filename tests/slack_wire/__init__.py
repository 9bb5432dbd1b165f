"""Wire-level stand-ins for Slack, for testing csbot's Slack app without reaching Slack.

- ``FakeSlackApi``: Web API + response_url + file-upload endpoints on a local HTTP server.
- ``FakeSocketModeServer``: Slack's side of a Socket Mode WebSocket.
- ``signing``: Slack request signatures and Slack-shaped slash-command / block_actions bodies.

Import as ``tests.slack_wire`` (``tests`` is a package), e.g. ``from tests.slack_wire import FakeSlackApi``.
"""

from .fake_slack_api import FakeSlackApi, Headers, RecordedCall
from .signing import (
    block_actions_body,
    block_actions_payload,
    event_body,
    post,
    sign,
    signed_headers,
    slash_command_body,
    slash_command_payload,
)
from .socket_mode_server import FakeSocketModeServer

__all__ = [
    "FakeSlackApi",
    "FakeSocketModeServer",
    "Headers",
    "RecordedCall",
    "block_actions_body",
    "block_actions_payload",
    "event_body",
    "post",
    "sign",
    "signed_headers",
    "slash_command_body",
    "slash_command_payload",
]
