"""Running the app: HTTP through waitress (a production WSGI server) or Socket Mode; /healthz; log redaction."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import Engine
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from bot.gate import Refusal, guard, log_refusal
from bot.settings import HttpLimits
from storage.locks import ping
from storage.timeouts import statement_timeout

EVENTS_PATH = "/slack/events"
OAUTH_PATHS = ("/slack/install", "/slack/oauth_redirect")  # served only when OAuth installs are configured
HEALTH_PATH = "/healthz"
STRIPE_PATH = "/stripe/webhook"

_SECRET = re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)")


class RedactSecrets(logging.Filter):
    """Replaces Slack tokens (and any extra secret strings) in log records with [redacted]."""

    def __init__(self, extra: Iterable[str] = ()):
        super().__init__()
        self.extra = [s for s in extra if s]

    def _clean(self, text_: str) -> str:
        text_ = _SECRET.sub("[redacted]", text_)
        for secret in self.extra:
            text_ = text_.replace(secret, "[redacted]")
        return text_

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._clean(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


HEALTH_TIMEOUT = 2.0
"""Seconds /healthz waits for the database before answering 503."""


class HealthCheck:
    """`SELECT 1` on its own thread, waited for at most HEALTH_TIMEOUT: a hung database gets a 503 in time.

    While an earlier check is still stuck, the next one answers 503 at once instead of piling up threads.
    """

    def __init__(self, engine: Engine, timeout: float = HEALTH_TIMEOUT):
        self.engine = engine
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="csbot-health")
        self._pending: Future | None = None
        self._lock = threading.Lock()

    def _probe(self) -> None:
        with statement_timeout(self.timeout), self.engine.connect() as conn:
            ping(conn)

    def ok(self) -> bool:
        with self._lock:
            if self._pending is not None and not self._pending.done():
                return False
            self._pending = future = self._executor.submit(self._probe)
        try:
            future.result(timeout=self.timeout)
            return True
        except FutureTimeout:
            logging.getLogger("csbot.server").warning("health check: the database did not answer within %.1f s",
                                                      self.timeout)
            return False
        except Exception as exc:  # the database is down: say so, do not crash the server
            logging.getLogger("csbot.server").warning("health check failed: %s", exc.__class__.__name__)
            return False


def wsgi_app(app: App, engine: Engine, *, signing_secret: str | None = None,
             max_body: int = HttpLimits.max_body_bytes, stripe_webhook: Any = None) -> Callable:
    """Bolt at /slack/events behind the gate (bot/gate.py), a health check at /healthz (checks the database,
    503 within 2 s when it does not answer), the OAuth install paths in OAuth mode, the Stripe webhook at
    /stripe/webhook when one is given (bot/stripe_webhook.py), 404 elsewhere."""
    bolt = SlackRequestHandler(app, path=EVENTS_PATH)
    secret = signing_secret if signing_secret is not None else getattr(app, "_signing_secret", None)
    events = guard(bolt, secret, max_body) if secret else bolt  # Socket Mode apps have no secret
    health = HealthCheck(engine)

    def application(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            if health.ok():
                status, body = "200 OK", b"ok\n"
            else:
                status, body = "503 Service Unavailable", b"database unavailable\n"
            start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        if path == EVENTS_PATH:
            return events(environ, start_response)
        if path in OAUTH_PATHS and app.oauth_flow is not None:
            return bolt(environ, start_response)
        if path == STRIPE_PATH and stripe_webhook is not None:
            return _stripe(stripe_webhook, environ, start_response)
        body = b"not found\n"
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return application


def _stripe(webhook: Any, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    """POST /stripe/webhook: the raw body (at most 1 MB) and its Stripe-Signature go to the webhook handler."""
    from bot.stripe_webhook import MAX_BODY_BYTES

    def reply(status: str, body: bytes) -> Iterable[bytes]:
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    if environ.get("REQUEST_METHOD") != "POST":
        return reply("405 Method Not Allowed", b"POST only\n")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_BODY_BYTES:
        return reply("413 Payload Too Large", b"body too large\n")
    payload = environ["wsgi.input"].read(length)
    try:
        outcome = webhook.handle(payload, environ.get("HTTP_STRIPE_SIGNATURE"))
    except Exception:  # answer Stripe (it retries on 5xx), log the cause
        logging.getLogger("csbot.server").exception("Stripe webhook failed")
        return reply("500 Internal Server Error", b"error\n")
    reasons = {200: "OK", 400: "Bad Request", 500: "Internal Server Error"}
    return reply(f"{outcome.status} {reasons.get(outcome.status, 'Error')}", outcome.body.encode())


class _LoggedErrorTask(ErrorTask):
    """waitress's own refusals (413 for a body over the limit, 400 for bad HTTP), logged in one short line."""

    def execute(self) -> None:
        error = self.request.error
        if getattr(error, "code", 500) < 500:
            log_refusal(Refusal(error.code, str(getattr(error, "reason", "bad request")).lower()),
                        {"PATH_INFO": getattr(self.request, "path", ""),
                         "CONTENT_LENGTH": self.request.headers.get("CONTENT_LENGTH", "?"),
                         "REMOTE_ADDR": (self.channel.addr or ("?",))[0]})
        super().execute()


class _Channel(HTTPChannel):
    error_task_class = _LoggedErrorTask


def make_http_server(app: App, engine: Engine, host: str, port: int, threads: int | None = None, *,
                     limits: HttpLimits | None = None, signing_secret: str | None = None,
                     stripe_webhook: Any = None):
    """A waitress server (not yet running); `.effective_port` tells the port when 0 was asked.

    Limits (settings, see bot/settings.py): threads, open connections, idle time, and the body size, refused
    by waitress with 413 from the Content-Length (or while reading a chunked body), before it is read whole.
    """
    from waitress import create_server

    from bot.stripe_webhook import MAX_BODY_BYTES as STRIPE_MAX_BODY

    limits = limits or HttpLimits()
    # /slack/events keeps its own limit in the gate; Stripe events may be larger than Slack's
    body_limit = max(limits.max_body_bytes, STRIPE_MAX_BODY if stripe_webhook is not None else 0)
    server = create_server(wsgi_app(app, engine, signing_secret=signing_secret, max_body=limits.max_body_bytes,
                                    stripe_webhook=stripe_webhook),
                           host=host, port=port, threads=threads or limits.threads, ident="csbot",
                           connection_limit=limits.connection_limit, channel_timeout=limits.channel_timeout,
                           max_request_body_size=body_limit,
                           cleanup_interval=min(30, limits.channel_timeout))
    server.channel_class = _Channel
    return server


def socket_mode_handler(app: App, app_token: str):
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    return SocketModeHandler(app, app_token)
