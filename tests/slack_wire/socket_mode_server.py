"""A local stand-in for Slack's side of Socket Mode.

    with FakeSlackApi() as api, FakeSocketModeServer(api=api) as server:
        # api.apps.connections.open now hands out server.url
        client = SocketModeClient(app_token="xapp-1-test", web_client=WebClient(base_url=api.base_url))
        client.connect()
        server.wait_connected()
        envelope_id = server.send_slash_command("/csbot", "health acme")
        ack = server.wait_for_ack(envelope_id)

The server runs its own asyncio event loop in a background thread (``websockets`` asyncio API) on
127.0.0.1, ephemeral port. On connect it sends Slack's ``hello``; envelopes go to the most recent live
connection; every text frame the client sends is recorded, and those carrying ``envelope_id`` are acks.

Close the Socket Mode client before stopping this server: when the server goes away first, slack_sdk's
client auto-reconnects (it calls ``apps.connections.open`` again and logs connection errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from .signing import (
    DEFAULT_APP_ID,
    DEFAULT_CHANNEL_ID,
    DEFAULT_TEAM_ID,
    DEFAULT_USER_ID,
    slash_command_payload,
)

if TYPE_CHECKING:
    from .fake_slack_api import FakeSlackApi

# Interactive payload types for which Slack lets the app answer inside the ack.
_RESPONSE_PAYLOAD_INTERACTIONS = {"view_submission", "block_suggestion"}


class FakeSocketModeServer:
    """Plays Slack's end of a Socket Mode WebSocket. Use as a context manager or start()/stop().

    With ``api`` given, ``start()`` points ``api``'s ``apps.connections.open`` at this server and envelopes
    without an explicit ``response_url`` get ``api.response_url(envelope_id)``.
    """

    def __init__(
        self,
        api: FakeSlackApi | None = None,
        *,
        app_id: str = DEFAULT_APP_ID,
        heartbeat_interval: float | None = 0.05,
    ) -> None:
        """``heartbeat_interval``: seconds between unsolicited pong frames to every live connection (None: off).

        slack_sdk's built-in client reads with a fixed 3 s socket timeout while holding the lock that
        ``close()`` and its reconnect path need, so against a quiet server each close or reconnect stalls
        up to 3 s. Unsolicited pongs (a one-way heartbeat, allowed by RFC 6455; the client ignores them)
        wake that read, so closing takes milliseconds.
        """
        self.api = api
        self.app_id = app_id
        self.heartbeat_interval = heartbeat_interval
        self._heartbeat: asyncio.Task | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._received: list[dict] = []  # parsed text frames from clients, in order
        self._acks: dict[str, dict] = {}
        self._live: list[ServerConnection] = []
        self._connection_count = 0
        self._connection_paths: list[str] = []
        self._errors: list[BaseException] = []

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSocketModeServer:
        if self._loop is not None:
            raise RuntimeError("FakeSocketModeServer already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=self._run_loop, args=(loop,), name="fake-socket-mode", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), loop).result(timeout=10)
        if self.api is not None:
            self.api.set_socket_mode_url(self.url)
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(timeout=10)
            self._loop = self._thread = self._server = None
            if self.api is not None:
                self.api.set_socket_mode_url(None)

    def __enter__(self) -> FakeSocketModeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The WebSocket URL to hand out, shaped like Slack's (``.../link/?ticket=...&app_id=...``)."""
        if self._port is None:
            raise RuntimeError("FakeSocketModeServer is not running")
        return f"ws://127.0.0.1:{self._port}/link/?ticket=fake-ticket&app_id={self.app_id}"

    # ------------------------------------------------------------------ inspection

    @property
    def connection_count(self) -> int:
        """How many WebSocket connections were accepted so far (reconnects count)."""
        with self._lock:
            return self._connection_count

    @property
    def connection_paths(self) -> list[str]:
        """The request path (with query) of each accepted connection."""
        with self._lock:
            return list(self._connection_paths)

    @property
    def received(self) -> list[dict]:
        """Every JSON text frame received from clients (acks included), in order."""
        with self._lock:
            return list(self._received)

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions in the server's connection handlers."""
        with self._lock:
            return list(self._errors)

    def is_connected(self) -> bool:
        with self._lock:
            return bool(self._live)

    def wait_connected(self, timeout: float = 5.0, *, connections: int = 1) -> None:
        """Block until a client is connected and has been sent ``hello``, and ``connections`` were accepted in all."""
        self._wait(
            lambda: bool(self._live) and self._connection_count >= connections,
            timeout,
            lambda: (
                f"no Socket Mode client connected within {timeout}s "
                f"(accepted {self._connection_count}, wanted {connections})"
            ),
        )

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict:
        """The ack the client sent for ``envelope_id`` (``{"envelope_id": ..., "payload": ...}``)."""
        self._wait(
            lambda: envelope_id in self._acks,
            timeout,
            lambda: f"no ack for envelope {envelope_id!r} within {timeout}s; acks so far: {sorted(self._acks)}",
        )
        with self._lock:
            return self._acks[envelope_id]

    # ------------------------------------------------------------------ sending

    def send_envelope(
        self,
        type: str,  # noqa: A002 - Slack's field name
        payload: dict,
        *,
        accepts_response_payload: bool = False,
        envelope_id: str | None = None,
        timeout: float = 5.0,
    ) -> str:
        """Send ``{"envelope_id", "payload", "type", "accepts_response_payload", "retry_attempt", "retry_reason"}``."""
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": type,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        self.send_raw(envelope, timeout=timeout)
        return envelope_id

    def send_slash_command(
        self,
        command: str,
        text: str,
        *,
        user_id: str = DEFAULT_USER_ID,
        channel_id: str = DEFAULT_CHANNEL_ID,
        team_id: str = DEFAULT_TEAM_ID,
        response_url: str | None = None,
        trigger_id: str | None = None,
        envelope_id: str | None = None,
        timeout: float = 5.0,
        **fields: str,
    ) -> str:
        """Send a ``slash_commands`` envelope (payload fields as strings, like Slack); returns its envelope_id.

        ``response_url`` defaults to ``api.response_url(<envelope_id>)`` when the server has an ``api``.
        Extra ``fields`` (user_name, channel_name, team_domain, api_app_id, token) pass through.
        """
        envelope_id = envelope_id or str(uuid.uuid4())
        payload = slash_command_payload(
            command,
            text,
            user_id=user_id,
            channel_id=channel_id,
            team_id=team_id,
            response_url=self._response_url(response_url, envelope_id),
            trigger_id=trigger_id,
            **{"api_app_id": self.app_id, **fields},
        )
        return self.send_envelope(
            "slash_commands", payload, accepts_response_payload=True, envelope_id=envelope_id, timeout=timeout
        )

    def send_interactive(
        self,
        payload: dict,
        *,
        accepts_response_payload: bool | None = None,
        envelope_id: str | None = None,
        timeout: float = 5.0,
    ) -> str:
        """Send an ``interactive`` envelope (e.g. ``signing.block_actions_payload(...)``); returns its envelope_id.

        ``accepts_response_payload`` defaults to Slack's: true for view_submission / block_suggestion only.
        """
        if accepts_response_payload is None:
            accepts_response_payload = payload.get("type") in _RESPONSE_PAYLOAD_INTERACTIONS
        return self.send_envelope(
            "interactive",
            payload,
            accepts_response_payload=accepts_response_payload,
            envelope_id=envelope_id,
            timeout=timeout,
        )

    def send_disconnect(self, reason: str = "refresh_requested", timeout: float = 5.0) -> None:
        """Ask the client to reconnect, as Slack does periodically (slack_sdk then opens a new connection)."""
        self.send_raw({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-applink"}}, timeout)

    def send_raw(self, message: dict | str, timeout: float = 5.0) -> None:
        """Send one text frame (a dict is JSON-encoded) to the most recent live connection."""
        text = message if isinstance(message, str) else json.dumps(message)
        self.wait_connected(timeout)
        loop = self._loop
        if loop is None:
            raise RuntimeError("FakeSocketModeServer is not running")
        with self._lock:
            connection = self._live[-1]
        asyncio.run_coroutine_threadsafe(connection.send(text), loop).result(timeout=timeout)

    # ------------------------------------------------------------------ internals

    def _response_url(self, response_url: str | None, envelope_id: str) -> str:
        if response_url is not None:
            return response_url
        if self.api is None:
            raise ValueError("pass response_url= (or construct FakeSocketModeServer(api=...))")
        return self.api.response_url(envelope_id)

    def _wait(self, ready: Any, timeout: float, describe: Any) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not ready():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(describe())
                self._changed.wait(remaining)

    def _hello(self) -> dict:
        return {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "fake-applink-1", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    async def _open(self) -> None:
        # close_timeout bounds shutdown when a client drops the TCP socket without a closing handshake,
        # which slack_sdk's built-in client does.
        self._server = await serve(self._handle, "127.0.0.1", 0, close_timeout=1)
        self._port = self._server.sockets[0].getsockname()[1]
        if self.heartbeat_interval:
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat(self.heartbeat_interval))

    async def _beat(self, interval: float) -> None:
        # The payload keeps each frame longer than 2 bytes: the built-in client's frame parser blocks for
        # more data whenever a read returns 2 bytes or fewer.
        while True:
            await asyncio.sleep(interval)
            with self._lock:
                live = list(self._live)
            for connection in live:
                with contextlib.suppress(ConnectionClosed):
                    await connection.pong(b"fake-heartbeat")

    async def _close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, connection: ServerConnection) -> None:
        try:
            await connection.send(json.dumps(self._hello()))
            with self._changed:
                self._live.append(connection)
                self._connection_count += 1
                self._connection_paths.append(connection.request.path if connection.request else "")
                self._changed.notify_all()
            async for frame in connection:
                self._record(frame)
        except ConnectionClosed:
            pass  # the client went away (the built-in client just closes its socket)
        except Exception as exc:
            with self._lock:
                self._errors.append(exc)
            raise
        finally:
            with self._changed:
                if connection in self._live:
                    self._live.remove(connection)
                self._changed.notify_all()

    def _record(self, frame: str | bytes) -> None:
        text = frame.decode("utf-8", errors="replace") if isinstance(frame, bytes) else frame
        try:
            message = json.loads(text)
        except ValueError:
            message = {"raw": text}
        if not isinstance(message, dict):
            message = {"raw": message}
        with self._changed:
            self._received.append(message)
            envelope_id = message.get("envelope_id")
            if isinstance(envelope_id, str):
                self._acks.setdefault(envelope_id, message)
            self._changed.notify_all()
