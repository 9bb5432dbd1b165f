"""The running Slack app on loopback, for wire tests: signed requests in, a Slack stand-in out."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from bot.access import AccessPolicy
from bot.app import build_app
from bot.server import make_http_server
from bot.services import Services
from bot.settings import load_slack_settings
from bot.workers import WORKING_TEXT
from kpi_core.config import HealthConfig, KpiConfig
from tests.slack_wire import (
    FakeSlackApi,
    block_actions_body,
    block_actions_payload,
    event_body,
    post,
    signed_headers,
    slash_command_body,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-1234-5678-secrettokenvalue"
TODAY = dt.date(2026, 11, 22)
CONFIG = KpiConfig("UTC", 1.0, HealthConfig({"engagement": 0.3, "sentiment": 0.2, "support": 0.15,
                                             "revenue": 0.2, "lifecycle": 0.15}, 70, 40))
ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "tests" / "fixtures" / "slack" / "manifest.schema.1.0.0.json"  # copy of shared/slack (MIT)


@dataclass
class Stack:
    url: str
    api: FakeSlackApi
    engine: object

    def command(self, command: str, text: str, *, team_id: str = "T0TEST001", secret: str = SECRET,
                timestamp: int | None = None, tamper: bool = False, **fields: str) -> tuple[int, str, str, float]:
        """POST a signed slash command; returns (status, body, response_url name, seconds to the ack)."""
        name = uuid.uuid4().hex[:8]
        body = slash_command_body(command, text, team_id=team_id, response_url=self.api.response_url(name),
                                  **fields)
        headers = signed_headers(secret, body, timestamp=timestamp)
        if tamper:
            body = body.replace("text=", "text=x", 1)
        started = time.monotonic()
        status, text_ = post(self.url, body, headers)
        return status, text_, name, time.monotonic() - started

    def click(self, action_id: str, value: str, **fields) -> tuple[int, str]:
        name = uuid.uuid4().hex[:8]
        body = block_actions_body(action_id, value, response_url=self.api.response_url(name), **fields)
        status, _ = post(self.url, body, signed_headers(SECRET, body))
        return status, name

    def click_home(self, action_id: str, value: str, *, user_id: str) -> int:
        """A button click in the App Home: a view container, no channel and no response_url (as Slack sends)."""
        payload = block_actions_payload(action_id, value, user_id=user_id, response_url="")
        for key in ("channel", "response_url"):
            payload.pop(key)
        payload["container"] = {"type": "view", "view_id": "V0HOME001"}
        payload["view"] = {"id": "V0HOME001", "type": "home", "blocks": [], "private_metadata": "1"}
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
        return post(self.url, body, signed_headers(SECRET, body))[0]

    def event(self, event: dict, *, event_id: str | None = None, retry: int = 0,
              team_id: str = "T0TEST001") -> tuple[int, float]:
        """POST a signed Events API event (with X-Slack-Retry-Num when `retry`); (status, seconds to the ack)."""
        body = event_body(event, event_id=event_id, team_id=team_id)
        headers = signed_headers(SECRET, body, content_type="application/json")
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        started = time.monotonic()
        status, _ = post(self.url, body, headers)
        return status, time.monotonic() - started

    def answer(self, name: str, timeout: float = 10.0) -> dict:
        """The answer at a command's response_url, after the 'Working on it…' note a slow answer sends first."""
        deadline = time.monotonic() + timeout
        while True:
            calls = self.api.wait_for_response(name, timeout=max(0.1, deadline - time.monotonic()))
            answers = [c.json for c in calls if c.json.get("text") != WORKING_TEXT]
            if answers:
                return answers[0]
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{name}: only the 'Working on it…' note within {timeout} s")
            time.sleep(0.05)


def _answer_text(message: dict) -> str:
    return json.dumps(message.get("blocks", [])) + message.get("text", "")


def _stack(engine, api, *, allowed: str = "", services: Services | None = None, env_extra: dict | None = None):
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "CSBOT_SLACK_API_URL": api.base_url,
           "CSBOT_ALLOWED_TEAMS": allowed, **(env_extra or {})}
    settings = load_slack_settings(env)
    app = build_app(settings, services or Services.create(engine, CONFIG, TODAY, access=AccessPolicy.from_env(env)))
    server = make_http_server(app, engine, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.effective_port}"


@contextmanager
def running_stack(engine, **kwargs) -> Iterator[Stack]:
    """The app on loopback (`_stack`'s options) against a fresh Slack stand-in; both stopped afterwards."""
    with FakeSlackApi() as api:
        server, thread, base = _stack(engine, api, **kwargs)
        try:
            yield Stack(f"{base}/slack/events", api, engine)
        finally:
            server.close()
            thread.join(timeout=5)
