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
    Setting("SLACK_CLIENT_ID", None, "OAuth client id, for installing into many workspaces (not supported yet)."),
    Setting("SLACK_CLIENT_SECRET", None, "OAuth client secret (not supported yet).", True),
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
class SlackSettings:
    bot_token: str
    signing_secret: str | None
    app_token: str | None
    api_url: str
    allowed_teams: frozenset[str]

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


def load_slack_settings(env: Mapping[str, str] | None = None) -> SlackSettings:
    """Slack credentials for `csbot serve`; SettingsError names the first missing or malformed one."""
    env = os.environ if env is None else env
    bot_token = _check_token("SLACK_BOT_TOKEN", setting("SLACK_BOT_TOKEN", env), "xoxb-")
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
    return SlackSettings(bot_token, secret, app_token or None, api_base_url(env), allowed)
