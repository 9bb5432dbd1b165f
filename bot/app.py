"""The Slack Bolt app: built by a function from injected settings, services and client (never a global)."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient

from bot import listeners
from bot.access import user_of
from bot.delivery import make_client
from bot.refusals import tell_refused
from bot.render.blocks import apology_blocks, blocks_json
from bot.services import Services
from bot.settings import SlackSettings

log = logging.getLogger("csbot.app")

USER_NOT_ALLOWED = ("csbot is limited to the people and user groups in CSBOT_ALLOWED_USERS. Ask your csbot admin "
                    "to add you.")
NOT_ALLOWED = "csbot is not enabled for this Slack workspace. Ask your csbot admin to add it to CSBOT_ALLOWED_TEAMS."


def _team_id(body: dict[str, Any]) -> str | None:
    return body.get("team_id") or (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")


class _TokenUnusedFilter(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment and warns that it is unused when a client is given: we give
    the client on purpose (same token, our base URL and retry handlers), so that line is noise at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_BOLT_LOGGER = logging.getLogger("csbot.bolt")
_BOLT_LOGGER.addFilter(_TokenUnusedFilter())


def build_app(settings: SlackSettings, services: Services, client: WebClient | None = None) -> App:
    if settings.oauth is not None:  # many workspaces: each request gets its workspace's token from the store
        from bot.oauth import oauth_settings

        client = client or make_client(None, settings.api_url)
        app = App(client=client, signing_secret=settings.signing_secret or "",
                  oauth_settings=oauth_settings(settings.oauth, services.engine), logger=_BOLT_LOGGER,
                  # listeners only ack on the request thread; slow work goes to services.answers (bot/workers.py)
                  process_before_response=True)
    else:
        client = client or make_client(settings.bot_token, settings.api_url)
        app = App(
            client=client,
            signing_secret=settings.signing_secret or "",
            logger=_BOLT_LOGGER,
            # Listeners run on the request thread and only ack; slow work goes to services.answers (bot/workers.py),
            # so acks never wait behind answers in Bolt's shared thread pool.
            process_before_response=True,
        )

    if settings.allowed_teams:

        @app.middleware
        def only_allowed_teams(body: dict[str, Any], next) -> BoltResponse | None:  # noqa: A002
            team = _team_id(body)
            if team in settings.allowed_teams:
                return next()
            log.warning("ignored a request from workspace %s (not in CSBOT_ALLOWED_TEAMS)", team)
            if body.get("command"):
                payload = {"response_type": "ephemeral", "text": NOT_ALLOWED}
                return BoltResponse(status=200, body=json.dumps(payload),
                                    headers={"content-type": "application/json"})
            return BoltResponse(status=200, body="")

    if services.access.allowed:

        @app.middleware
        def only_allowed_users(body: dict[str, Any], client: WebClient, next) -> BoltResponse | None:  # noqa: A002
            user = user_of(body)
            if user is None or services.access.allows(client, _team_id(body) or "", user):
                return next()
            log.info("refused user %s (not in CSBOT_ALLOWED_USERS)", user)
            if body.get("type") == "event_callback":
                tell_refused(client, services.engine, body, USER_NOT_ALLOWED)
            if body.get("command"):
                payload = {"response_type": "ephemeral", "text": USER_NOT_ALLOWED}
                return BoltResponse(status=200, body=json.dumps(payload),
                                    headers={"content-type": "application/json"})
            return BoltResponse(status=200, body="")

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        request_id = uuid.uuid4().hex[:12]
        log.error("request %s failed", request_id, exc_info=error)
        payload = {"response_type": "ephemeral", "blocks": blocks_json(apology_blocks(request_id)),
                   "text": f"Something went wrong (reference {request_id})."}
        return BoltResponse(status=200, body=json.dumps(payload), headers={"content-type": "application/json"})

    listeners.register(app, services)
    return app
