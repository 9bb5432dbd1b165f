"""Every setting of csbot, declared once: environment variable, default, help. The README table lists them all."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    env: str
    default: str | None
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("CSBOT_DATABASE_URL", "sqlite:///csbot.db",
            "Database URL (`--db` overrides). SQLite is the embedded default; Postgres in production "
            "(`postgresql://user@host/db`)."),
    Setting("CSBOT_CONFIG", None,
            "YAML file overriding KPI settings: reporting time zone, gross margin, health weights and bands "
            "(see `kpi_core/defaults.yml`)."),
    Setting("CSBOT_AS_OF", None, "Pin 'today' (YYYY-MM-DD) for every command and job: demos, tests, replays."),
    Setting("CSBOT_SLACK_API_URL", "https://slack.com/api/",
            "Slack Web API base URL; point it at a local stand-in for offline tests."),
    Setting("SLACK_BOT_TOKEN", None, "Bot token (`xoxb-...`) from the app's OAuth & Permissions page.", True),
    Setting("SLACK_SIGNING_SECRET", None, "Signing secret (Basic Information); needed in HTTP mode.", True),
    Setting("SLACK_APP_TOKEN", None,
            "App-level token (`xapp-...`, scope `connections:write`); when set, `csbot serve` uses Socket Mode.",
            True),
    Setting("SLACK_CLIENT_ID", None,
            "OAuth client id: when set, csbot installs into many workspaces through `/slack/install` "
            "(tokens kept in csbot's database) instead of using SLACK_BOT_TOKEN."),
    Setting("SLACK_CLIENT_SECRET", None, "OAuth client secret (needed with SLACK_CLIENT_ID).", True),
    Setting("SLACK_STATE_SECRET", None,
            "Secret (16+ characters) that signs the OAuth `state` values csbot hands out (needed with "
            "SLACK_CLIENT_ID).", True),
    Setting("CSBOT_ALLOWED_USERS", None,
            "Comma-separated Slack user ids and user groups (`S0123ABCD` or `@cs-team`) allowed to use csbot; "
            "everyone in allowed workspaces when unset."),
    Setting("CSBOT_REVENUE_VIEWERS", None,
            "Comma-separated user ids and user groups who may see money (MRR, NRR, GRR, ARPA, CAC, CLV, "
            "retention cost, MRR in health cards and Home); everyone when unset."),
    Setting("CSBOT_LEADS", None,
            "Comma-separated user ids and user groups who see the team view (per owner: bands, at-risk MRR) "
            "in the App Home."),
    Setting("CSBOT_ALLOWED_TEAMS", None,
            "Comma-separated Slack workspace (team) ids allowed to use the bot; every workspace when unset."),
    Setting("CSBOT_PORT", "3000", "HTTP port of `csbot serve` in HTTP mode (`--port` overrides)."),
    Setting("CSBOT_HOST", "0.0.0.0", "Interface `csbot serve` listens on in HTTP mode."),
    Setting("CSBOT_LOG_LEVEL", "INFO", "Log level: DEBUG, INFO, WARNING or ERROR."),
    Setting("CSBOT_SUBSCRIPTION_ADMINS", None,
            "Comma-separated Slack user ids allowed to manage `/digest` and `/atrisk` subscriptions; everyone "
            "when unset."),
    Setting("CSBOT_SCHEDULER", "on",
            "`on`: `csbot serve` also runs the scheduler (digests, risk scans); `off`: run `csbot scheduler` "
            "separately. Either way only one process per database posts (leader lock)."),
    Setting("CSBOT_DIGEST_GRACE_HOURS", "6",
            "A scheduled post missed while csbot was down is posted late (marked as delayed) within this many "
            "hours of its time, and skipped (shown in `/digest list`) after."),
    Setting("CSBOT_SCHEDULER_TICK_SECONDS", "30",
            "How often the scheduler looks for due, missed and retryable runs (it also fires at each exact "
            "scheduled time)."),
    Setting("CSBOT_NOW", None,
            "Pin the current instant for the scheduler and jobs (e.g. `2026-01-05T08:00:00Z`): for tests and "
            "replays only."),
    Setting("CSBOT_ANSWER_WORKERS", "4",
            "Threads answering commands after the ack (acks never wait for them)."),
    Setting("CSBOT_ANSWER_QUEUE", "20",
            "Commands that may wait for a free answer thread; beyond that the user is told at once that csbot is "
            "busy and to try again in a minute."),
    Setting("CSBOT_STATEMENT_TIMEOUT", "20",
            "Seconds one answer query may run (Postgres `statement_timeout`, SQLite progress handler); then the "
            "user gets \"that took too long\" with a reference."),
    Setting("CSBOT_DB_CONNECT_TIMEOUT", "5",
            "Seconds to wait for a database connection (connecting, or a free pooled one) before answering "
            "\"the database is not answering\"."),
    Setting("CSBOT_MAX_BODY_BYTES", "65536",
            "Largest request body accepted at /slack/events; larger ones get 413 before being read whole."),
    Setting("CSBOT_HTTP_THREADS", "8", "waitress threads handling HTTP requests (acks, /healthz)."),
    Setting("CSBOT_HTTP_CONNECTION_LIMIT", "1000",
            "Open HTTP connections waitress accepts at once (idle ones included)."),
    Setting("CSBOT_HTTP_CHANNEL_TIMEOUT", "30",
            "Seconds an idle or stalled HTTP connection is kept before waitress closes it."),
    Setting("STRIPE_API_KEY", None,
            "Stripe secret or restricted key (read access to customers, subscriptions, invoices, prices and "
            "products) for `csbot sync stripe`; when set and the sources file declares no `kind: stripe` source, a "
            "source named `stripe` is synced too (`csbot sync`, the scheduler). Never logged.", True),
    Setting("CSBOT_STRIPE_API_BASE", "https://api.stripe.com",
            "Where Stripe's REST API is; point it at a local stand-in for offline tests."),
    Setting("STRIPE_WEBHOOK_SECRET", None,
            "Signing secret (`whsec_...`) of the Stripe webhook endpoint `/stripe/webhook` of `csbot serve` "
            "(HTTP mode); the endpoint answers 404 when unset.", True),
    Setting("CSBOT_SOURCES", None,
            "YAML file declaring the sources `csbot sync` and the scheduler read (SQL warehouse, HubSpot, Stripe); "
            "see Sources. `${VAR}` in it is replaced by the environment variable VAR."),
    Setting("CSBOT_IMPORT_STALE_AFTER", None,
            "When tables filled by `csbot import` count as stale (e.g. `7d`); never when unset. Synced tables use "
            "their source's `stale_after` (default 36h)."),
    Setting("HUBSPOT_ACCESS_TOKEN", None,
            "HubSpot private-app access token (scopes crm.objects.companies.read, crm.objects.owners.read) for "
            "`kind: hubspot` sources.", True),
    Setting("HUBSPOT_API_URL", "https://api.hubapi.com",
            "HubSpot API base URL; point it at a local stand-in for offline tests."),
)

_BY_ENV = {s.env: s for s in SETTINGS}


class SettingsError(ValueError):
    """A missing or malformed setting; the message is one line naming it."""


def setting(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The value of a declared setting (environment, else its default)."""
    env = os.environ if env is None else env
    declared = _BY_ENV[name]
    value = env.get(name, "").strip()
    return value or declared.default


@dataclass(frozen=True)
class OAuthCredentials:
    client_id: str
    client_secret: str
    state_secret: str

    def __repr__(self) -> str:  # never show secrets
        return f"OAuthCredentials(client_id={self.client_id!r})"


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str
    signing_secret: str | None
    app_token: str | None
    api_url: str
    allowed_teams: frozenset[str]
    oauth: OAuthCredentials | None = None  # many workspaces (bot_token is then empty)

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    def __repr__(self) -> str:  # never show secrets
        return (f"SlackSettings(socket_mode={self.socket_mode}, api_url={self.api_url!r}, "
                f"allowed_teams={sorted(self.allowed_teams)})")


_TOKEN = re.compile(r"^[A-Za-z0-9-]+$")


def _check_token(name: str, value: str | None, prefix: str) -> str:
    if not value:
        raise SettingsError(f"{name} is not set: copy it from your Slack app's settings (see README, Slack setup).")
    if not value.startswith(prefix) or not _TOKEN.match(value):
        raise SettingsError(f"{name} is malformed: it must start with '{prefix}' and contain no spaces or quotes.")
    return value


def _number(name: str, env: Mapping[str, str] | None, low: float, high: float) -> float:
    raw = setting(name, env) or ""
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} is malformed: '{raw}' is not a number.") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} is out of range: {value:g} is not between {low:g} and {high:g}.")
    return value


def grace_hours(env: Mapping[str, str] | None = None) -> float:
    """CSBOT_DIGEST_GRACE_HOURS: how late a missed run may still be posted."""
    return _number("CSBOT_DIGEST_GRACE_HOURS", env, 0, 24 * 7)


def tick_seconds(env: Mapping[str, str] | None = None) -> float:
    """CSBOT_SCHEDULER_TICK_SECONDS."""
    return _number("CSBOT_SCHEDULER_TICK_SECONDS", env, 0.2, 3600)


def _whole(name: str, env: Mapping[str, str] | None, low: int, high: int) -> int:
    value = _number(name, env, low, high)
    if value != int(value):
        raise SettingsError(f"{name} is malformed: {value:g} is not a whole number.")
    return int(value)


def answer_workers(env: Mapping[str, str] | None = None) -> int:
    """CSBOT_ANSWER_WORKERS."""
    return _whole("CSBOT_ANSWER_WORKERS", env, 1, 256)


def answer_queue(env: Mapping[str, str] | None = None) -> int:
    """CSBOT_ANSWER_QUEUE."""
    return _whole("CSBOT_ANSWER_QUEUE", env, 0, 10_000)


def statement_timeout(env: Mapping[str, str] | None = None) -> float:
    """CSBOT_STATEMENT_TIMEOUT, in seconds."""
    return _number("CSBOT_STATEMENT_TIMEOUT", env, 0.1, 3600)


def db_connect_timeout(env: Mapping[str, str] | None = None) -> int:
    """CSBOT_DB_CONNECT_TIMEOUT, in whole seconds (libpq's unit)."""
    return _whole("CSBOT_DB_CONNECT_TIMEOUT", env, 1, 600)


@dataclass(frozen=True)
class HttpLimits:
    """What the HTTP server holds back: body size, threads, connections and idle time."""

    max_body_bytes: int = 65536
    threads: int = 8
    connection_limit: int = 1000
    channel_timeout: int = 30


def http_limits(env: Mapping[str, str] | None = None) -> HttpLimits:
    """CSBOT_MAX_BODY_BYTES, CSBOT_HTTP_THREADS, CSBOT_HTTP_CONNECTION_LIMIT, CSBOT_HTTP_CHANNEL_TIMEOUT."""
    return HttpLimits(_whole("CSBOT_MAX_BODY_BYTES", env, 1024, 100 * 1024 * 1024),
                      _whole("CSBOT_HTTP_THREADS", env, 1, 512),
                      _whole("CSBOT_HTTP_CONNECTION_LIMIT", env, 10, 100_000),
                      _whole("CSBOT_HTTP_CHANNEL_TIMEOUT", env, 1, 3600))


def check_limits(env: Mapping[str, str] | None = None) -> None:
    """Raise SettingsError for the first malformed limit (answer pool, timeouts, HTTP), so that `csbot serve`
    stops at start with one line instead of failing later."""
    answer_workers(env)
    answer_queue(env)
    statement_timeout(env)
    db_connect_timeout(env)
    http_limits(env)


def scheduler_enabled(env: Mapping[str, str] | None = None) -> bool:
    """CSBOT_SCHEDULER: on (default) or off."""
    value = (setting("CSBOT_SCHEDULER", env) or "on").lower()
    if value not in {"on", "off", "true", "false", "1", "0", "yes", "no"}:
        raise SettingsError(f"CSBOT_SCHEDULER is malformed: use on or off, not '{value}'.")
    return value in {"on", "true", "1", "yes"}


def subscription_admins(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """CSBOT_SUBSCRIPTION_ADMINS as a set of user ids; empty means everyone may manage subscriptions."""
    raw = setting("CSBOT_SUBSCRIPTION_ADMINS", env) or ""
    return frozenset(u.strip() for u in raw.split(",") if u.strip())


def bot_token(env: Mapping[str, str] | None = None) -> str:
    """SLACK_BOT_TOKEN, checked: what the scheduler and the job commands need to post."""
    return _check_token("SLACK_BOT_TOKEN", setting("SLACK_BOT_TOKEN", env), "xoxb-")


def api_base_url(env: Mapping[str, str] | None = None) -> str:
    """CSBOT_SLACK_API_URL with the trailing slash WebClient needs."""
    url = setting("CSBOT_SLACK_API_URL", env) or "https://slack.com/api/"
    return url if url.endswith("/") else url + "/"


def id_list(name: str, env: Mapping[str, str] | None = None) -> frozenset[str]:
    """A comma-separated setting as a set of entries (user ids, group ids or @handles); empty when unset."""
    raw = setting(name, env) or ""
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def oauth_credentials(env: Mapping[str, str] | None = None) -> OAuthCredentials | None:
    """SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET, checked; None in single-token mode."""
    client_id = setting("SLACK_CLIENT_ID", env)
    if not client_id:
        return None
    if not re.match(r"^[0-9]+\.[0-9]+$", client_id):
        raise SettingsError("SLACK_CLIENT_ID is malformed: copy it from Basic Information (digits.digits).")
    client_secret = setting("SLACK_CLIENT_SECRET", env)
    if not client_secret or not _TOKEN.match(client_secret):
        raise SettingsError("SLACK_CLIENT_SECRET is not set or malformed: OAuth installs need it with "
                            "SLACK_CLIENT_ID.")
    state_secret = setting("SLACK_STATE_SECRET", env)
    if not state_secret or len(state_secret) < 16:
        raise SettingsError("SLACK_STATE_SECRET is not set or shorter than 16 characters: OAuth installs need "
                            "it with SLACK_CLIENT_ID.")
    return OAuthCredentials(client_id, client_secret, state_secret)


def load_slack_settings(env: Mapping[str, str] | None = None) -> SlackSettings:
    """Slack credentials for `csbot serve`; SettingsError names the first missing or malformed one."""
    env = os.environ if env is None else env
    oauth = oauth_credentials(env)
    bot_token = "" if oauth else _check_token("SLACK_BOT_TOKEN", setting("SLACK_BOT_TOKEN", env), "xoxb-")
    app_token = setting("SLACK_APP_TOKEN", env)
    if app_token:
        _check_token("SLACK_APP_TOKEN", app_token, "xapp-")
    secret = setting("SLACK_SIGNING_SECRET", env)
    if not app_token and not secret:
        raise SettingsError(
            "SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify requests (or set SLACK_APP_TOKEN "
            "for Socket Mode)."
        )
    if secret and (len(secret) < 16 or not _TOKEN.match(secret)):
        raise SettingsError("SLACK_SIGNING_SECRET is malformed: copy the 32-character secret exactly, no quotes.")
    teams = setting("CSBOT_ALLOWED_TEAMS", env) or ""
    allowed = frozenset(t.strip() for t in teams.split(",") if t.strip())
    if oauth and app_token:
        raise SettingsError("SLACK_CLIENT_ID and SLACK_APP_TOKEN are both set: OAuth installs need HTTP mode "
                            "(unset SLACK_APP_TOKEN).")
    return SlackSettings(bot_token, secret, app_token or None, api_base_url(env), allowed, oauth)


@dataclass(frozen=True)
class StripeSettings:
    api_key: str
    api_base: str

    def __repr__(self) -> str:  # never show the key
        return f"StripeSettings(api_base={self.api_base!r})"


def stripe_settings(env: Mapping[str, str] | None = None) -> StripeSettings:
    """STRIPE_API_KEY (checked) and CSBOT_STRIPE_API_BASE, for `csbot sync stripe`."""
    key = setting("STRIPE_API_KEY", env)
    if not key:
        raise SettingsError("STRIPE_API_KEY is not set: create a restricted key with read access in Stripe's "
                            "dashboard (Developers -> API keys) and export it.")
    if not key.startswith(("sk_", "rk_")) or not _TOKEN.match(key.replace("_", "-")):
        raise SettingsError("STRIPE_API_KEY is malformed: it must start with 'sk_' or 'rk_' and contain no spaces "
                            "or quotes.")
    base = setting("CSBOT_STRIPE_API_BASE", env) or "https://api.stripe.com"
    if not base.startswith(("http://", "https://")):
        raise SettingsError(f"CSBOT_STRIPE_API_BASE is malformed: '{base}' is not an http(s) URL.")
    return StripeSettings(key, base.rstrip("/"))
