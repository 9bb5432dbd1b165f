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
OAUTH_PATHS = ("/slack/install", "/slack/oauth_redirect")  # served only when OAuth installs are configured
HEALTH_PATH = "/healthz"

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


def wsgi_app(app: App, engine: Engine) -> Callable:
    """Bolt at /slack/events (and the OAuth install paths in OAuth mode), a health check at /healthz (checks
    the database), 404 elsewhere."""
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
        if path == EVENTS_PATH or (path in OAUTH_PATHS and app.oauth_flow is not None):
            return bolt(environ, start_response)
        body = b"not found\n"
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return application


def make_http_server(app: App, engine: Engine, host: str, port: int, threads: int = 8):
    """A waitress server (not yet running); `.effective_port` tells the port when 0 was asked."""
    from waitress import create_server

    return create_server(wsgi_app(app, engine), host=host, port=port, threads=threads, ident="csbot")


def socket_mode_handler(app: App, app_token: str):
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    return SocketModeHandler(app, app_token)
