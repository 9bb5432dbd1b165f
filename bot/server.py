"""Running the app: HTTP through waitress (a production WSGI server) or Socket Mode; /healthz; log redaction."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import Engine, text

EVENTS_PATH = "/slack/events"
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


def wsgi_app(app: App, engine: Engine, stripe_webhook: Any = None) -> Callable:
    """Bolt at /slack/events, a health check at /healthz (checks the database), the Stripe webhook at
    /stripe/webhook when one is given (bot/stripe_webhook.py), 404 elsewhere."""
    bolt = SlackRequestHandler(app, path=EVENTS_PATH)

    def application(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                status, body = "200 OK", b"ok\n"
            except Exception:  # the database is down: say so, do not crash the server
                logging.getLogger("csbot.server").exception("health check failed")
                status, body = "503 Service Unavailable", b"database unavailable\n"
            start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        if path == EVENTS_PATH:
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


def make_http_server(app: App, engine: Engine, host: str, port: int, threads: int = 8, stripe_webhook: Any = None):
    """A waitress server (not yet running); `.effective_port` tells the port when 0 was asked."""
    from waitress import create_server

    return create_server(wsgi_app(app, engine, stripe_webhook), host=host, port=port, threads=threads,
                         ident="csbot")


def socket_mode_handler(app: App, app_token: str):
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    return SocketModeHandler(app, app_token)
