"""The door of /slack/events: cheap, correct refusals before Bolt sees a request.

Order: the signature headers are checked first (401 when missing, empty, duplicated, non-numeric, stale or
malformed), then the size (413 above the limit, read in pieces, never whole), then the signature itself over
the body (401), and only then is the body parsed (400 when it is not form data or JSON that Slack would send).
A refusal is logged in one short line (status, reason, size, remote address), never with the body: bodies
carry response_url and tokens. Bolt verifies the signature again; this layer never replaces that check.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

log = logging.getLogger("csbot.gate")

MAX_AGE = 5 * 60  # seconds: Slack's own replay window
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")
_CHUNK = 16 * 1024


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str


_STATUS_LINES = {400: "400 Bad Request", 401: "401 Unauthorized", 413: "413 Payload Too Large"}


def _header(environ: dict[str, Any], name: str) -> str | None:
    value = environ.get(name)
    return None if value is None else str(value)


def check_headers(environ: dict[str, Any], now: float) -> Refusal | None:
    """401 for a missing, empty, duplicated (joined with commas by the server), non-numeric or stale
    X-Slack-Request-Timestamp, or a missing or malformed X-Slack-Signature."""
    timestamp = _header(environ, "HTTP_X_SLACK_REQUEST_TIMESTAMP")
    signature = _header(environ, "HTTP_X_SLACK_SIGNATURE")
    if not timestamp:
        return Refusal(401, "no X-Slack-Request-Timestamp")
    if not _TIMESTAMP.match(timestamp):
        return Refusal(401, "malformed X-Slack-Request-Timestamp")
    if abs(now - int(timestamp)) > MAX_AGE:
        return Refusal(401, "stale X-Slack-Request-Timestamp")
    if not signature:
        return Refusal(401, "no X-Slack-Signature")
    if not _SIGNATURE.match(signature):
        return Refusal(401, "malformed X-Slack-Signature")
    return None


def read_body(environ: dict[str, Any], limit: int) -> bytes | Refusal:
    """The body, read in pieces; 413 as soon as it is known to exceed `limit` (by its length or its bytes)."""
    declared = environ.get("CONTENT_LENGTH") or ""
    if declared:
        if not declared.isdigit():
            return Refusal(400, "malformed Content-Length")
        if int(declared) > limit:
            return Refusal(413, f"body over {limit} bytes")
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    remaining = int(declared) if declared else limit + 1
    parts: list[bytes] = []
    size = 0
    while remaining > 0:
        piece = stream.read(min(_CHUNK, remaining))
        if not piece:
            break
        parts.append(piece)
        size += len(piece)
        remaining -= len(piece)
        if size > limit:
            return Refusal(413, f"body over {limit} bytes")
    return b"".join(parts)


def signature_ok(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def check_body(content_type: str, body: bytes) -> Refusal | None:
    """400 unless the body is what Slack sends: form fields (with a JSON object in `payload`), or a JSON object."""
    kind = content_type.split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(400, "body is not UTF-8")
    if kind == "application/json":
        try:
            data = json.loads(text)
        except ValueError:
            return Refusal(400, "body is not valid JSON")
        return None if isinstance(data, dict) else Refusal(400, "JSON body is not an object")
    if kind == "application/x-www-form-urlencoded":
        try:
            fields = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
        except ValueError:
            return Refusal(400, "body is not valid form data")
        payload = [v for k, v in fields if k == "payload"]
        if len(payload) > 1:
            return Refusal(400, "more than one payload field")
        if payload:
            try:
                data = json.loads(payload[0])
            except ValueError:
                return Refusal(400, "payload is not valid JSON")
            if not isinstance(data, dict):
                return Refusal(400, "payload is not a JSON object")
        return None
    return Refusal(400, f"unsupported content type {kind or '(none)'}")


def log_refusal(refusal: Refusal, environ: dict[str, Any], size: int | str | None = None) -> None:
    """One short line: status, reason, size, remote address. Never the body."""
    size = size if size is not None else (environ.get("CONTENT_LENGTH") or "?")
    log.warning("refused %s %s: %s (%s bytes) from %s", refusal.status, environ.get("PATH_INFO", ""),
                refusal.reason, size, environ.get("REMOTE_ADDR", "?"))


def guard(inner: Callable, secret: str, max_body: int, clock: Callable[[], float] = time.time) -> Callable:
    """Wrap the WSGI app `inner` (Bolt) so that only verified, well-formed, small enough requests reach it."""

    def refuse(refusal: Refusal, environ: dict[str, Any], start_response: Callable,
               size: int | str | None = None) -> Iterable[bytes]:
        log_refusal(refusal, environ, size)
        body = (refusal.reason + "\n").encode()
        start_response(_STATUS_LINES[refusal.status], [("Content-Type", "text/plain"),
                                                       ("Content-Length", str(len(body)))])
        return [body]

    def application(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD", "GET") != "POST":
            return inner(environ, start_response)
        refusal = check_headers(environ, clock())
        if refusal:
            return refuse(refusal, environ, start_response)
        body = read_body(environ, max_body)
        if isinstance(body, Refusal):
            return refuse(body, environ, start_response)
        if not signature_ok(secret, environ["HTTP_X_SLACK_REQUEST_TIMESTAMP"], body,
                            environ["HTTP_X_SLACK_SIGNATURE"]):
            return refuse(Refusal(401, "signature does not match"), environ, start_response, len(body))
        refusal = check_body(environ.get("CONTENT_TYPE") or "", body)
        if refusal:
            return refuse(refusal, environ, start_response, len(body))
        environ = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        return inner(environ, start_response)

    return application
