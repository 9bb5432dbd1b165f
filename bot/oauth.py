"""Installing csbot into many workspaces: Bolt's built-in OAuth flow with the installation and state stores
in csbot's own database (slack_sdk's SQLAlchemy stores; tables from migration 0009)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable

from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine

from bot.delivery import make_client
from bot.manifest import BOT_SCOPES
from bot.settings import OAuthCredentials

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600

log = logging.getLogger("csbot.oauth")


class SignedStateStore(SQLAlchemyOAuthStateStore):
    """The database state store, with each state signed by SLACK_STATE_SECRET: a forged or altered state is
    refused before the database is asked."""

    def __init__(self, secret: str, engine: Engine, expiration_seconds: int = STATE_SECONDS):
        super().__init__(expiration_seconds=expiration_seconds, engine=engine, table_name="slack_oauth_states")
        self._secret = secret.encode()

    def _sign(self, raw: str) -> str:
        return hmac.new(self._secret, raw.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self, *args, **kwargs) -> str:
        raw = super().issue(*args, **kwargs)
        return f"{raw}.{self._sign(raw)}"

    def consume(self, state: str) -> bool:
        raw, _, signature = state.rpartition(".")
        if not raw or not hmac.compare_digest(signature, self._sign(raw)):
            log.warning("refused an OAuth state with a bad signature")
            return False
        return super().consume(raw)


def installation_store(credentials: OAuthCredentials, engine: Engine) -> SQLAlchemyInstallationStore:
    return SQLAlchemyInstallationStore(client_id=credentials.client_id, engine=engine,
                                       bots_table_name="slack_bots", installations_table_name="slack_installations")


def oauth_settings(credentials: OAuthCredentials, engine: Engine) -> OAuthSettings:
    """Bolt's OAuth settings: install at /slack/install, come back at /slack/oauth_redirect."""
    return OAuthSettings(
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        scopes=list(BOT_SCOPES),
        installation_store=installation_store(credentials, engine),
        state_store=SignedStateStore(credentials.state_secret, engine),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
    )


class NotInstalled(RuntimeError):
    """No installation (bot token) on record for a workspace."""


def team_clients(credentials: OAuthCredentials, engine: Engine, api_url: str) -> Callable[[str], WebClient]:
    """For the scheduler: the WebClient of a workspace's installation, looked up in csbot's database."""
    store = installation_store(credentials, engine)

    def client_for(team_id: str) -> WebClient:
        bot = store.find_bot(enterprise_id=None, team_id=team_id)
        if bot is None or not bot.bot_token:
            raise NotInstalled(f"csbot is not installed in workspace {team_id} (no bot token on record)")
        return make_client(bot.bot_token, api_url)

    return client_for
