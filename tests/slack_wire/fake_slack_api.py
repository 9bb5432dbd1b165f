"""A local stand-in for Slack's Web API, response_url endpoints and file-upload URLs.

    with FakeSlackApi() as api:
        client = WebClient(base_url=api.base_url, token="xoxb-test")
        client.chat_postMessage(channel="C0TEST001", text="hi")
        (call,) = api.wait_for("chat.postMessage")
        assert call.params["text"] == "hi"

Every request is recorded as a ``RecordedCall``. ``method`` is the Web API method name for ``/api/<method>``,
``"upload"`` for ``/upload/<file_id>`` and ``"response_url"`` for ``/response/<name>``; failure and delay
injection key on the same names. Recorded headers keep the Authorization header so tests can assert which
token was used, but ``repr()`` of a call redacts it, so assertion output never shows a token.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import mimetypes
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from .signing import DEFAULT_APP_ID, DEFAULT_TEAM_DOMAIN, DEFAULT_TEAM_ID

_REDACTED = "(redacted)"
_SENSITIVE_HEADERS = {"authorization", "cookie"}


class Headers(dict):
    """Request headers as a dict with lower-cased keys and case-insensitive lookups; repr redacts secrets."""

    def __init__(self, items: Any = ()) -> None:
        pairs = items.items() if hasattr(items, "items") else items
        super().__init__((str(k).lower(), v) for k, v in pairs)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __repr__(self) -> str:
        shown = {k: (_REDACTED if k in _SENSITIVE_HEADERS else v) for k, v in self.items()}
        return repr(shown)


@dataclass(frozen=True, repr=False)
class RecordedCall:
    """One request the fake received. ``params`` merges the query string and the (form, JSON or multipart) body."""

    method: str
    params: dict
    headers: dict
    body: bytes
    path: str = ""
    status: int = 200
    at: float = field(default_factory=time.monotonic)

    @property
    def token(self) -> str | None:
        """The bearer token the caller sent (Authorization header, else a ``token`` param), or None."""
        auth = self.headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        token = self.params.get("token")
        return token if isinstance(token, str) else None

    @property
    def json(self) -> Any:
        """The body decoded as JSON (e.g. a response_url post)."""
        return json.loads(self.body or b"null")

    def __repr__(self) -> str:
        params = {k: (_REDACTED if k == "token" else v) for k, v in self.params.items()}
        return (
            f"RecordedCall(method={self.method!r}, status={self.status}, path={self.path!r}, "
            f"params={params!r}, headers={Headers(self.headers)!r}, body=<{len(self.body)} bytes>)"
        )


@dataclass
class _Injection:
    times: int
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    seconds: float = 0.0
    after: bool = False  # do the call's work first, then answer with the failure


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict = field(default_factory=dict)


ResponseFactory = Callable[[dict], dict]


class FakeSlackApi:
    """Threaded HTTP server on 127.0.0.1 (ephemeral port) answering like Slack's Web API.

    Known methods get Slack-shaped answers; any other method answers ``{"ok": true}``. Override any method's
    answer with ``set_response``; shape users and channels with ``set_user`` / ``set_channel``.
    """

    def __init__(
        self,
        *,
        team_id: str = DEFAULT_TEAM_ID,
        team_name: str = "csbot test",
        team_domain: str = DEFAULT_TEAM_DOMAIN,
        bot_user_id: str = "U0BOT0001",
        bot_id: str = "B0BOT0001",
        app_id: str = DEFAULT_APP_ID,
        default_tz: str = "Europe/Berlin",
        socket_mode_url: str | None = None,
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.default_tz = default_tz
        self._socket_mode_url = socket_mode_url

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._calls: list[RecordedCall] = []
        self._failures: dict[str, list[_Injection]] = {}
        self._delays: dict[str, list[_Injection]] = {}
        self._overrides: dict[str, ResponseFactory] = {}
        self._users: dict[str, dict] = {}
        self._channels: dict[str, dict] = {}
        self._pending_files: dict[str, dict] = {}
        self._usergroups: dict[str, dict] = {}
        self.oauth_tokens: dict[str, dict] = {}  # code -> the oauth.v2.access answer (see add_oauth_code)
        self._uploads: dict[str, bytes] = {}
        self._ts_base = int(time.time()) * 1_000_000
        self._ts_counter = itertools.count(1)
        self._ids = itertools.count(1)
        self.errors: list[BaseException] = []  # exceptions raised inside the fake itself

        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlackApi:
        if self._server is not None:
            raise RuntimeError("FakeSlackApi already started")
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        server.handle_error = self._handle_server_error  # type: ignore[method-assign]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-slack-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in delay_next
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeSlackApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlackApi is not running; use start() or a with-block")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Web API base for ``WebClient(base_url=...)``; the trailing slash is required by slack_sdk."""
        return f"{self.url}/api/"

    def response_url(self, name: str) -> str:
        """A response_url served by this fake; POSTs to it are recorded as method ``"response_url"``."""
        return f"{self.url}/response/{name}"

    def set_socket_mode_url(self, url: str | None) -> None:
        """What ``apps.connections.open`` hands out (e.g. ``FakeSocketModeServer.url``)."""
        with self._lock:
            self._socket_mode_url = url

    # ------------------------------------------------------------------ inspection

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Recorded calls in arrival order, optionally only those of ``method``."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[RecordedCall], bool] | None = None,
    ) -> list[RecordedCall]:
        """Block until at least ``count`` calls of ``method`` (matching ``where``) arrived; return all of them.

        Raises TimeoutError after ``timeout`` seconds, naming what did arrive.
        """
        deadline = time.monotonic() + timeout

        def matching() -> list[RecordedCall]:
            return [c for c in self._calls if c.method == method and (where is None or where(c))]

        with self._changed:
            while True:
                found = matching()
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [c.method for c in self._calls]
                    raise TimeoutError(
                        f"expected {count} call(s) of {method!r} within {timeout}s, got {len(found)}; "
                        f"all calls so far: {seen}"
                    )
                self._changed.wait(remaining)

    def wait_for_response(self, name: str, count: int = 1, timeout: float = 5.0) -> list[RecordedCall]:
        """``wait_for`` the POSTs to ``response_url(name)``."""
        path = f"/response/{name}"
        return self.wait_for("response_url", count, timeout, where=lambda c: c.path == path)

    def clear(self) -> None:
        """Forget recorded calls and pending failure/delay injections (users, channels, overrides stay)."""
        with self._lock:
            self._calls.clear()
            self._failures.clear()
            self._delays.clear()

    @property
    def uploads(self) -> dict[str, bytes]:
        """Bytes received per file id at the upload URLs."""
        with self._lock:
            return dict(self._uploads)

    # ------------------------------------------------------------------ behaviour

    def fail_next(
        self,
        method: str,
        status: int | None = None,
        *,
        retry_after: int | None = None,
        times: int = 1,
        error: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (queued after earlier injections for it).

        - ``status=429``: HTTP 429 with ``Retry-After`` (default 1) and ``{"ok": false, "error": "ratelimited"}``.
        - ``status=500`` (any other status): that status with ``{"ok": false, "error": "internal_error"}``.
        - ``error="channel_not_found"`` alone: HTTP 200 ``{"ok": false, "error": "channel_not_found"}``.
        """
        if status is None and error is None:
            raise ValueError("fail_next needs status= or error=")
        if times < 1:
            raise ValueError("times must be >= 1")
        status = 200 if status is None else status
        if status == 429 and retry_after is None:
            retry_after = 1
        if error is None:
            error = "ratelimited" if status == 429 else "internal_error"
        with self._lock:
            self._failures.setdefault(method, []).append(
                _Injection(times=times, status=status, error=error, retry_after=retry_after)
            )

    def fail_after_next(self, method: str, status: int = 500, *, times: int = 1, error: str | None = None) -> None:
        """Like ``fail_next``, but the call takes effect first (a message is posted, a file shared) and only
        the answer is an error: Slack erring after accepting, the ambiguous case for exactly-once delivery."""
        self.fail_next(method, status, times=times, error=error)
        with self._lock:
            self._failures[method][-1].after = True

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Hold the answer to the next ``times`` calls of ``method`` for ``seconds`` (the call is recorded at once)."""
        with self._lock:
            self._delays.setdefault(method, []).append(_Injection(times=times, seconds=seconds))

    def set_response(self, method: str, response: dict | ResponseFactory | None) -> None:
        """Answer ``method`` with this dict (or ``response(params) -> dict``); None restores the default."""
        with self._lock:
            if response is None:
                self._overrides.pop(method, None)
            elif callable(response):
                self._overrides[method] = response
            else:
                frozen = json.dumps(response)
                self._overrides[method] = lambda _params: json.loads(frozen)

    def set_user(self, user_id: str, **fields: Any) -> None:
        """Override fields of ``users.info`` for ``user_id`` (e.g. ``tz="America/New_York"``, ``is_bot=True``)."""
        with self._lock:
            self._users.setdefault(user_id, {}).update(fields)

    def set_channel(self, channel_id: str, **fields: Any) -> None:
        """Override fields of ``conversations.info`` for ``channel_id`` (e.g. ``name="acme"``)."""
        with self._lock:
            self._channels.setdefault(channel_id, {}).update(fields)

    def set_usergroup(self, group_id: str, handle: str, users: list[str]) -> None:
        """A user group for ``usergroups.list`` and ``usergroups.users.list``."""
        with self._lock:
            self._usergroups[group_id] = {"id": group_id, "team_id": self.team_id, "handle": handle,
                                          "name": handle, "users": list(users)}

    def add_oauth_code(self, code: str, *, team_id: str, bot_token: str, bot_user_id: str = "U0BOTOAUTH",
                       installer: str = "U0INSTALL1", scopes: str = "commands,chat:write") -> None:
        """Make ``oauth.v2.access`` with ``code`` answer like Slack does for a bot install into ``team_id``."""
        with self._lock:
            self.oauth_tokens[code] = {
                "ok": True, "app_id": self.app_id, "authed_user": {"id": installer}, "scope": scopes,
                "token_type": "bot", "access_token": bot_token, "bot_user_id": bot_user_id,
                "team": {"id": team_id, "name": f"team {team_id}"}, "enterprise": None,
                "is_enterprise_install": False,
            }

    # ------------------------------------------------------------------ request handling (server threads)

    def _handle_server_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return  # the client went away (e.g. it timed out on a delayed answer)
        if error is not None:
            self.errors.append(error)
        traceback.print_exc()

    def _process(self, http_method: str, raw_path: str, headers: Headers, body: bytes) -> tuple[_Reply, float]:
        split = urlsplit(raw_path)
        path = split.path
        if path.startswith("/api/") and len(path) > 5:
            method = path[5:]
        elif path.startswith("/upload/"):
            method = "upload"
        elif path.startswith("/response/"):
            method = "response_url"
        else:
            return _Reply(404, b'{"ok":false,"error":"unknown_path"}'), 0.0
        if method == "upload":  # raw file bytes, whatever Content-Type urllib put on them
            params = {"file_id": path[len("/upload/") :]}
        else:
            params = _parse_params(split.query, headers.get("content-type") or "", body)
        with self._changed:
            failure = _take(self._failures, method)
            delay = _take(self._delays, method)
            if failure is not None and not failure.after:
                reply = self._failure_reply(failure)
            else:
                try:
                    reply = self._reply_for(method, path, params, headers, body)
                except Exception as exc:  # a bug in the fake (or in a set_response factory)
                    self.errors.append(exc)
                    reply = _json_reply({"ok": False, "error": f"fake_slack_api_error: {exc!r}"}, status=500)
                if failure is not None:
                    reply = self._failure_reply(failure)
            self._calls.append(
                RecordedCall(method=method, params=params, headers=headers, body=body, path=path, status=reply.status)
            )
            self._changed.notify_all()
        return reply, (delay.seconds if delay is not None else 0.0)

    def _failure_reply(self, failure: _Injection) -> _Reply:
        reply = _json_reply({"ok": False, "error": failure.error}, status=failure.status)
        if failure.retry_after is not None:
            reply.headers["Retry-After"] = str(failure.retry_after)
        return reply

    def _reply_for(self, method: str, path: str, params: dict, headers: Headers, body: bytes) -> _Reply:
        if method == "upload":
            file_id = path[len("/upload/") :]
            if file_id not in self._pending_files:
                return _Reply(404, b"file_not_found", content_type="text/plain; charset=utf-8")
            self._uploads[file_id] = body
            return _Reply(200, f"OK - {len(body)}".encode(), content_type="text/plain; charset=utf-8")
        if method == "response_url":
            return _json_reply({"ok": True})
        if method in self._overrides:
            return _json_reply(self._overrides[method](params))
        if method == "apps.connections.open":
            return _json_reply(self._apps_connections_open(headers, params))
        builder = getattr(self, "_m_" + method.replace(".", "_"), None)
        return _json_reply(builder(params) if builder is not None else {"ok": True})

    # --- Web API method answers (called with the lock held) ---

    def _next_ts(self) -> str:
        n = self._ts_base + next(self._ts_counter)
        return f"{n // 1_000_000}.{n % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}0FAKE{next(self._ids):05d}"

    @staticmethod
    def _dm_id(user_id: str) -> str:
        return "D" + user_id[1:]

    def _resolve_channel(self, channel: str) -> str:
        # Posting to a user id posts into the DM with them; Slack answers with the D... id.
        return self._dm_id(channel) if channel[:1] in ("U", "W") else channel

    def _message(self, params: dict, ts: str) -> dict:
        message = {
            "type": "message",
            "text": params.get("text", ""),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": ts,
        }
        for key in ("blocks", "attachments", "metadata"):
            if key in params:
                message[key] = _maybe_json(params[key])
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        return {k: v for k, v in message.items() if v is not None}

    def _apps_connections_open(self, headers: Headers, params: dict) -> dict:
        auth = headers.get("authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else params.get("token")
        if not token:
            return {"ok": False, "error": "not_authed"}
        if not str(token).startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if not self._socket_mode_url:
            return {"ok": False, "error": "fake_socket_mode_url_not_set"}
        return {"ok": True, "url": self._socket_mode_url}

    def _m_auth_test(self, params: dict) -> dict:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": "csbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, params: dict) -> dict:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        return {
            "ok": True,
            "channel": self._resolve_channel(params["channel"]),
            "ts": ts,
            "message": self._message(params, ts),
        }

    def _m_chat_postEphemeral(self, params: dict) -> dict:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("user"):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_update(self, params: dict) -> dict:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        return {
            "ok": True,
            "channel": params["channel"],
            "ts": params["ts"],
            "text": params.get("text", ""),
            "message": self._message(params, params["ts"]),
        }

    def _m_chat_delete(self, params: dict) -> dict:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": params["channel"], "ts": params["ts"]}

    def _m_conversations_info(self, params: dict) -> dict:
        channel_id = params.get("channel")
        if not channel_id:
            return {"ok": False, "error": "channel_not_found"}
        channel = {
            "id": channel_id,
            "name": f"channel-{channel_id.lower()}",
            "is_channel": channel_id[:1] == "C",
            "is_group": False,
            "is_im": channel_id[:1] == "D",
            "is_mpim": False,
            "is_private": channel_id[:1] in ("G", "D"),
            "is_archived": False,
            "is_member": True,
            "created": self._ts_base // 1_000_000,
            "context_team_id": self.team_id,
        }
        channel.update(self._channels.get(channel_id, {}))
        return {"ok": True, "channel": channel}

    def _m_conversations_open(self, params: dict) -> dict:
        if params.get("channel"):
            return {"ok": True, "channel": {"id": params["channel"]}}
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        # one user: the DM with them; several: a made-up group DM id
        channel_id = self._dm_id(users[0]) if len(users) == 1 else "G" + "".join(u[1:4] for u in sorted(users))
        return {"ok": True, "no_op": False, "already_open": False, "channel": {"id": channel_id}}

    def _m_users_info(self, params: dict) -> dict:
        user_id = params.get("user")
        if not user_id:
            return {"ok": False, "error": "user_not_found"}
        overrides = self._users.get(user_id, {})
        tz_name = overrides.get("tz", self.default_tz)
        now = datetime.now(ZoneInfo(tz_name))
        offset = now.utcoffset()
        name = f"user-{user_id.lower()}"
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": name.replace("-", " ").title(),
            "tz": tz_name,
            "tz_label": now.tzname(),
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "is_bot": False,
            "is_admin": False,
            "is_app_user": False,
            "locale": "en-US",
            "profile": {"real_name": name.replace("-", " ").title(), "display_name": name, "email": None},
        }
        user.update(overrides)
        return {"ok": True, "user": user}

    def _m_users_lookupByEmail(self, params: dict) -> dict:
        email = str(params.get("email") or "").lower()
        if not email:
            return {"ok": False, "error": "invalid_arguments"}
        for user_id, fields in self._users.items():
            known = (fields.get("profile") or {}).get("email") or fields.get("email")
            if known and known.lower() == email:
                return self._m_users_info({"user": user_id})
        return {"ok": False, "error": "users_not_found"}

    def _m_views_publish(self, params: dict) -> dict:
        if not params.get("user_id"):
            return {"ok": False, "error": "invalid_arguments"}
        view = _maybe_json(params.get("view"))
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        if len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_blocks"}
        return {"ok": True, "view": {"id": self._next_id("V"), "team_id": self.team_id, "state": {"values": {}},
                                     "hash": f"{int(time.time())}.fakehash", **view}}

    # the _m_* builders run with self._lock held (see _process): they read state without taking it again

    def _m_usergroups_list(self, params: dict) -> dict:
        groups = [{k: v for k, v in g.items() if k != "users"} for g in self._usergroups.values()]
        return {"ok": True, "usergroups": groups}

    def _m_usergroups_users_list(self, params: dict) -> dict:
        group = self._usergroups.get(str(params.get("usergroup") or ""))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(group["users"])}

    def _m_oauth_v2_access(self, params: dict) -> dict:
        answer = self.oauth_tokens.get(str(params.get("code") or ""))
        return answer or {"ok": False, "error": "invalid_code"}

    def _m_views_open(self, params: dict) -> dict:
        if not (params.get("trigger_id") or params.get("interactivity_pointer")):
            return {"ok": False, "error": "invalid_arguments"}
        view = _maybe_json(params.get("view"))
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        opened = {
            "id": self._next_id("V"),
            "team_id": self.team_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "state": {"values": {}},
            "hash": f"{int(time.time())}.fakehash",
            "previous_view_id": None,
            "root_view_id": None,
            **view,
        }
        return {"ok": True, "view": opened}

    def _m_files_getUploadURLExternal(self, params: dict) -> dict:
        if not params.get("filename") or not params.get("length"):
            return {"ok": False, "error": "invalid_arguments"}
        file_id = self._next_id("F")
        self._pending_files[file_id] = {"filename": params["filename"], "length": int(params["length"])}
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, params: dict) -> dict:
        entries = _maybe_json(params.get("files"))
        if not isinstance(entries, list) or not entries:
            return {"ok": False, "error": "invalid_arguments"}
        files = []
        for entry in entries:
            file_id = entry.get("id")
            if file_id not in self._pending_files or file_id not in self._uploads:
                return {"ok": False, "error": "file_not_found"}
            filename = self._pending_files[file_id]["filename"]
            channels = [c for c in [params.get("channel_id"), *str(params.get("channels") or "").split(",")] if c]
            files.append(
                {
                    "id": file_id,
                    "created": int(time.time()),
                    "name": filename,
                    "title": entry.get("title") or filename,
                    "mimetype": mimetypes.guess_type(filename)[0] or "application/octet-stream",
                    "filetype": filename.rsplit(".", 1)[-1].lower() if "." in filename else "binary",
                    "user": self.bot_user_id,
                    "size": len(self._uploads[file_id]),
                    "channels": channels,
                    "url_private": f"{self.url}/files/{file_id}/{filename}",
                }
            )
        return {"ok": True, "files": files}


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeSlackApi/1.0"
    # HTTP/1.0: one request per connection, so no idle keep-alive threads linger at shutdown.
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake: FakeSlackApi = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        reply, delay = fake._process(self.command, self.path, Headers(self.headers.items()), body)
        if delay > 0:
            fake._stopping.wait(delay)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # keep test output quiet


def _take(queue: dict[str, list[_Injection]], method: str) -> _Injection | None:
    pending = queue.get(method)
    if not pending:
        return None
    injection = pending[0]
    injection.times -= 1
    if injection.times <= 0:
        pending.pop(0)
    return injection


def _json_reply(data: dict, status: int = 200) -> _Reply:
    return _Reply(status, json.dumps(data).encode())


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _parse_params(query: str, content_type: str, body: bytes) -> dict:
    """Query string plus body (JSON, form or multipart); single-valued fields become plain strings."""
    params: dict = _flatten(parse_qs(query, keep_blank_values=True))
    ctype = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return params
    if ctype == "application/json" or (not ctype and body[:1] == b"{"):
        try:
            decoded = json.loads(body)
        except ValueError:
            return params
        if isinstance(decoded, dict):
            params.update(decoded)
        return params
    if ctype == "multipart/form-data":
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name is None:
                continue
            payload = part.get_payload(decode=True) or b""
            params[name] = payload if part.get_filename() else payload.decode("utf-8", errors="replace")
        return params
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return params
    params.update(_flatten(parse_qs(text, keep_blank_values=True)))
    return params


def _flatten(parsed: dict[str, list[str]]) -> dict:
    return {k: (v[0] if len(v) == 1 else v) for k, v in parsed.items()}
