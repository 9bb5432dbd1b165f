"""The Slack wire stand-ins (tests/slack_wire) checked against slack_sdk's real clients."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.webhook import WebhookClient

from tests.slack_wire import (
    FakeSlackApi,
    FakeSocketModeServer,
    block_actions_body,
    block_actions_payload,
    post,
    sign,
    signed_headers,
    slash_command_body,
)

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-test"
SIGNING_EXAMPLE = Path(__file__).parent / "fixtures" / "slack" / "signing-example.txt"  # Slack's documented vector
# A complete 1x1 transparent PNG.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@pytest.fixture
def api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi() as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
def client(api: FakeSlackApi) -> WebClient:
    return WebClient(base_url=api.base_url, token=BOT_TOKEN, timeout=5)


# ---------------------------------------------------------------------- FakeSlackApi


def test_base_url_has_trailing_slash_and_loopback_port(api: FakeSlackApi) -> None:
    assert api.base_url == f"http://127.0.0.1:{api.port}/api/"
    assert api.port > 0


def test_chat_post_message_is_recorded_with_params_and_token(api: FakeSlackApi, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    first = client.chat_postMessage(channel="C0TEST001", text="hello", blocks=blocks)
    second = client.chat_postMessage(channel="C0TEST001", text="again")

    assert first["ok"] is True and first["channel"] == "C0TEST001"
    assert first["message"]["text"] == "hello"
    assert float(second["ts"]) > float(first["ts"])
    calls = api.wait_for("chat.postMessage", count=2)
    assert [c.params["text"] for c in calls] == ["hello", "again"]
    assert calls[0].params["channel"] == "C0TEST001"
    assert calls[0].params["blocks"] == blocks  # slack_sdk sends chat.postMessage as JSON
    assert calls[0].headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert calls[0].token == BOT_TOKEN
    assert BOT_TOKEN not in repr(calls[0])


def test_client_without_token_is_accepted(api: FakeSlackApi) -> None:
    response = WebClient(base_url=api.base_url).chat_postMessage(channel="C1", text="x")
    assert response["ok"] is True
    assert api.calls("chat.postMessage")[0].token is None


def test_form_encoded_methods_are_parsed(api: FakeSlackApi, client: WebClient) -> None:
    auth = client.auth_test()
    user = client.users_info(user="U0TEST001")
    dm = client.conversations_open(users="U0TEST001")
    info = client.conversations_info(channel="C0TEST001")
    api.set_user("U0NY", tz="America/New_York")
    ny = client.users_info(user="U0NY")

    assert auth["user_id"] == api.bot_user_id and auth["bot_id"] == api.bot_id and auth["team_id"] == api.team_id
    assert user["user"]["tz"] == "Europe/Berlin" and user["user"]["tz_offset"] in (3600, 7200)
    assert ny["user"]["tz"] == "America/New_York"
    assert dm["channel"]["id"] == "D0TEST001"
    assert info["channel"]["id"] == "C0TEST001"
    assert api.calls("users.info")[0].params == {"user": "U0TEST001"}
    assert api.calls("users.info")[0].headers["content-type"] == "application/x-www-form-urlencoded"


def test_ephemeral_update_delete_views_and_unknown_methods(api: FakeSlackApi, client: WebClient) -> None:
    posted = client.chat_postEphemeral(channel="C0TEST001", user="U0TEST001", text="only you")
    updated = client.chat_update(channel="C0TEST001", ts="1.000001", text="edited")
    deleted = client.chat_delete(channel="C0TEST001", ts="1.000001")
    view = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": []}
    opened = client.views_open(trigger_id="123.456.abc", view=view)
    other = client.api_call("reactions.add", params={"channel": "C1", "name": "eyes", "timestamp": "1.2"})

    assert posted["message_ts"]
    assert updated["ts"] == "1.000001" and updated["message"]["text"] == "edited"
    assert deleted["ts"] == "1.000001"
    assert opened["view"]["type"] == "modal" and opened["view"]["id"].startswith("V")
    assert other.data == {"ok": True}
    assert api.calls("reactions.add")[0].params["name"] == "eyes"
    with pytest.raises(SlackApiError) as excinfo:
        client.views_open(trigger_id="", view=view)
    assert excinfo.value.response["error"] == "invalid_arguments"


def test_rate_limit_then_success_with_retry_handler(api: FakeSlackApi) -> None:
    client = WebClient(base_url=api.base_url, token=BOT_TOKEN, retry_handlers=[RateLimitErrorRetryHandler()])
    api.fail_next("chat.postMessage", status=429, retry_after=1)

    started = time.monotonic()
    response = client.chat_postMessage(channel="C0TEST001", text="eventually")

    assert response["ok"] is True
    calls = api.calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert time.monotonic() - started >= 1.0  # the client honoured Retry-After: 1


def test_rate_limit_without_retry_handler_raises_ratelimited(api: FakeSlackApi, client: WebClient) -> None:
    api.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="C0TEST001", text="x")
    assert excinfo.value.response.status_code == 429
    assert excinfo.value.response["error"] == "ratelimited"
    assert excinfo.value.response.headers["Retry-After"] == "7"


def test_server_errors_twice_then_success(api: FakeSlackApi) -> None:
    handler = ServerErrorRetryHandler(max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0.01))
    client = WebClient(base_url=api.base_url, token=BOT_TOKEN, retry_handlers=[handler])
    api.fail_next("chat.postMessage", status=500, times=2)

    assert client.chat_postMessage(channel="C0TEST001", text="x")["ok"] is True
    assert [c.status for c in api.calls("chat.postMessage")] == [500, 500, 200]


def test_error_injection_raises_slack_api_error_once(api: FakeSlackApi, client: WebClient) -> None:
    api.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="C0GONE", text="x")
    assert excinfo.value.response.status_code == 200
    assert excinfo.value.response["error"] == "channel_not_found"
    assert client.chat_postMessage(channel="C0GONE", text="x")["ok"] is True  # only the next call failed


def test_delay_next_holds_the_answer(api: FakeSlackApi, client: WebClient) -> None:
    api.delay_next("auth.test", 0.3)
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started < 0.3


def test_delayed_call_is_visible_before_it_is_answered(api: FakeSlackApi, client: WebClient) -> None:
    api.delay_next("chat.postMessage", 10)
    worker = threading.Thread(target=lambda: client.chat_postMessage(channel="C1", text="slow"), daemon=True)
    worker.start()
    (call,) = api.wait_for("chat.postMessage")
    assert call.params["text"] == "slow"
    api.stop()  # wakes the delayed handler; the client gets its answer and the thread ends
    worker.join(timeout=5)
    assert not worker.is_alive()


def test_wait_for_times_out_with_a_useful_message(api: FakeSlackApi, client: WebClient) -> None:
    client.auth_test()
    with pytest.raises(TimeoutError, match=r"chat\.postMessage.*auth\.test"):
        api.wait_for("chat.postMessage", timeout=0.2)


def test_clear_forgets_calls_and_injections(api: FakeSlackApi, client: WebClient) -> None:
    client.auth_test()
    api.fail_next("auth.test", error="invalid_auth")
    api.clear()
    assert api.calls() == []
    assert client.auth_test()["ok"] is True


def test_set_response_overrides_a_method(api: FakeSlackApi, client: WebClient) -> None:
    api.set_response("team.info", {"ok": True, "team": {"id": "T9", "name": "Acme"}})
    api.set_response("users.lookupByEmail", lambda params: {"ok": True, "user": {"id": "U_" + params["email"]}})
    assert client.team_info()["team"]["name"] == "Acme"
    assert client.users_lookupByEmail(email="a@b.c")["user"]["id"] == "U_a@b.c"


def test_response_url_posts_are_recorded(api: FakeSlackApi) -> None:
    url = api.response_url("cmd-1")
    assert url == f"http://127.0.0.1:{api.port}/response/cmd-1"

    result = WebhookClient(url).send(text="done", response_type="ephemeral", replace_original=False)

    assert result.status_code == 200
    (call,) = api.wait_for_response("cmd-1")
    assert call.method == "response_url"
    assert call.params["text"] == "done" and call.params["response_type"] == "ephemeral"
    assert call.json == call.params
    assert api.calls("response_url") == [call]


def test_files_upload_v2_end_to_end(api: FakeSlackApi, client: WebClient) -> None:
    response = client.files_upload_v2(
        channel="C0TEST001", content=PNG_1X1, filename="health.png", title="Health", initial_comment="chart"
    )

    assert response["ok"] is True
    assert [c.method for c in api.calls()] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    get_url, upload, complete = api.calls()
    assert get_url.params["filename"] == "health.png" and get_url.params["length"] == str(len(PNG_1X1))
    file_id = upload.params["file_id"]
    assert upload.body == PNG_1X1 and api.uploads == {file_id: PNG_1X1}
    assert json.loads(complete.params["files"]) == [{"id": file_id, "title": "Health"}]
    assert complete.params["channel_id"] == "C0TEST001" and complete.params["initial_comment"] == "chart"
    assert response["file"]["id"] == file_id and response["file"]["size"] == len(PNG_1X1)
    assert response["file"]["mimetype"] == "image/png"


def test_complete_upload_without_upload_fails(api: FakeSlackApi, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.files_completeUploadExternal(files=[{"id": "F0NOPE", "title": "x"}])
    assert excinfo.value.response["error"] == "file_not_found"


def test_multipart_bodies_are_parsed(api: FakeSlackApi, client: WebClient) -> None:
    client.api_call("custom.upload", files={"file": b"\x00\x01binary"}, data={"note": "hi"})
    (call,) = api.calls("custom.upload")
    assert call.params["note"] == "hi"
    assert call.params["file"] == b"\x00\x01binary"


def test_stop_leaves_no_threads_behind() -> None:
    before = {t.ident for t in threading.enumerate()}
    with FakeSlackApi() as fake:
        WebClient(base_url=fake.base_url).auth_test()
    with FakeSlackApi() as fake, FakeSocketModeServer(api=fake) as server:
        assert server.url.startswith("ws://127.0.0.1:")
    leftover = [t for t in threading.enumerate() if t.ident not in before and t.name.startswith("fake-")]
    assert leftover == []


# ---------------------------------------------------------------------- signing

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
EXAMPLE_TS = 1531420618
EXAMPLE_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def _example_body() -> str:
    raw = SIGNING_EXAMPLE.read_bytes()
    if raw.endswith(b"\n"):  # a trailing newline is the file's, not part of the body Slack signed
        raw = raw[:-1]
    return raw.decode("utf-8")


def test_documented_signing_vector() -> None:
    assert sign(SECRET, EXAMPLE_TS, _example_body()) == EXAMPLE_SIGNATURE


def test_slack_sdk_signature_verifier_agrees() -> None:
    body = _example_body()
    verifier = SignatureVerifier(SECRET, clock=_FixedClock(EXAMPLE_TS + 10))
    headers = signed_headers(SECRET, body, timestamp=EXAMPLE_TS)

    assert headers["X-Slack-Signature"] == EXAMPLE_SIGNATURE
    assert headers["X-Slack-Request-Timestamp"] == str(EXAMPLE_TS)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert verifier.generate_signature(timestamp=str(EXAMPLE_TS), body=body) == sign(SECRET, EXAMPLE_TS, body)
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + "x", headers)
    assert not SignatureVerifier(SECRET, clock=_FixedClock(EXAMPLE_TS + 301)).is_valid_request(body, headers)


def test_signed_headers_default_to_now() -> None:
    headers = signed_headers("secret", "a=b")
    assert abs(int(headers["X-Slack-Request-Timestamp"]) - time.time()) < 5
    assert SignatureVerifier("secret").is_valid_request("a=b", headers)


def test_slash_command_body_is_form_encoded_like_slack() -> None:
    body = slash_command_body("/csbot", "health acme", response_url="http://127.0.0.1:1/response/x")
    fields = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    assert body.startswith("token=") and "command=%2Fcsbot" in body
    assert fields["command"] == "/csbot" and fields["text"] == "health acme"
    assert fields["user_id"] == "U0TEST001" and fields["channel_id"] == "C0TEST001"
    assert fields["team_id"] == "T0TEST001" and fields["response_url"] == "http://127.0.0.1:1/response/x"
    assert fields["trigger_id"]
    empty = parse_qs(slash_command_body("/csbot", "", response_url="u"), keep_blank_values=True)
    assert empty["text"] == [""]


def test_block_actions_body_has_slacks_interactive_shape() -> None:
    message = {"type": "message", "ts": "1700000000.000100", "text": "pick one", "blocks": []}
    body = block_actions_body(
        "ack_alert",
        "acme",
        user_id="U1",
        channel_id="C1",
        team_id="T1",
        response_url="http://127.0.0.1:1/response/y",
        message=message,
    )
    (raw,) = parse_qs(body)["payload"]
    payload = json.loads(raw)

    assert payload["type"] == "block_actions"
    assert payload["user"] == {"id": "U1", "username": "tester", "name": "tester", "team_id": "T1"}
    assert payload["team"]["id"] == "T1" and payload["channel"]["id"] == "C1"
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1700000000.000100",
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert payload["message"] == message
    assert payload["response_url"] == "http://127.0.0.1:1/response/y"
    assert {"api_app_id", "token", "trigger_id"} <= payload.keys()
    (action,) = payload["actions"]
    assert action["action_id"] == "ack_alert" and action["value"] == "acme" and action["type"] == "button"
    assert {"block_id", "action_ts"} <= action.keys()

    ephemeral = block_actions_payload("a", "v", response_url="u")
    assert ephemeral["container"]["is_ephemeral"] is True and "message" not in ephemeral


def test_post_returns_status_and_text_without_raising(api: FakeSlackApi) -> None:
    status, text = post(api.response_url("r"), json.dumps({"text": "x"}), {"Content-Type": "application/json"})
    assert (status, json.loads(text)) == (200, {"ok": True})
    status, _ = post(f"{api.url}/nowhere", "a=b", {})
    assert status == 404


# ---------------------------------------------------------------------- Socket Mode


@pytest.fixture
def socket_server(api: FakeSlackApi) -> Iterator[FakeSocketModeServer]:
    with FakeSocketModeServer(api=api) as server:
        yield server
    assert server.errors == []


@pytest.fixture
def socket_client(api: FakeSlackApi, socket_server: FakeSocketModeServer) -> Iterator[SocketModeClient]:
    client = SocketModeClient(app_token=APP_TOKEN, web_client=WebClient(base_url=api.base_url, token="xoxb-test"))
    try:
        yield client
    finally:
        client.close()  # before the server stops, or the client would try to reconnect


def _ack_everything(received: list[SocketModeRequest], payload: dict | None = None):
    def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id, payload=payload))

    return listener


def test_apps_connections_open_hands_out_the_socket_url(api: FakeSlackApi, socket_server: FakeSocketModeServer) -> None:
    opened = WebClient(base_url=api.base_url).apps_connections_open(app_token=APP_TOKEN)
    assert opened["url"] == socket_server.url
    assert api.calls("apps.connections.open")[0].token == APP_TOKEN
    with pytest.raises(SlackApiError) as excinfo:
        WebClient(base_url=api.base_url).apps_connections_open(app_token="xoxb-not-an-app-token")
    assert excinfo.value.response["error"] == "not_allowed_token_type"


def test_socket_mode_slash_command_round_trip(
    api: FakeSlackApi, socket_server: FakeSocketModeServer, socket_client: SocketModeClient
) -> None:
    received: list[SocketModeRequest] = []
    socket_client.socket_mode_request_listeners.append(_ack_everything(received, {"text": "working on it"}))
    socket_client.connect()
    socket_server.wait_connected()

    envelope_id = socket_server.send_slash_command("/csbot", "health acme", user_id="U0ALICE")
    ack = socket_server.wait_for_ack(envelope_id)

    assert ack == {"envelope_id": envelope_id, "payload": {"text": "working on it"}}
    (request,) = received
    assert request.type == "slash_commands" and request.accepts_response_payload is True
    assert request.payload["command"] == "/csbot" and request.payload["text"] == "health acme"
    assert request.payload["user_id"] == "U0ALICE"
    assert request.payload["response_url"] == api.response_url(envelope_id)
    assert api.calls("apps.connections.open")[0].token == APP_TOKEN
    assert socket_server.connection_paths[0].startswith("/link/?ticket=")
    assert socket_server.received[0] == ack


def test_socket_mode_interactive_envelope_and_plain_ack(
    socket_server: FakeSocketModeServer, socket_client: SocketModeClient
) -> None:
    received: list[SocketModeRequest] = []
    socket_client.socket_mode_request_listeners.append(_ack_everything(received))
    socket_client.connect()

    payload = block_actions_payload("ack_alert", "acme", response_url="http://127.0.0.1:1/response/z")
    envelope_id = socket_server.send_interactive(payload)

    assert socket_server.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}
    (request,) = received
    assert request.type == "interactive" and request.accepts_response_payload is False
    assert request.payload == payload


def test_socket_mode_disconnect_makes_the_client_reconnect(
    api: FakeSlackApi, socket_server: FakeSocketModeServer, socket_client: SocketModeClient
) -> None:
    socket_client.connect()
    socket_server.wait_connected()

    socket_server.send_disconnect()
    socket_server.wait_connected(connections=2)

    assert socket_server.connection_count == 2
    assert len(api.wait_for("apps.connections.open", count=2)) == 2
    received: list[SocketModeRequest] = []
    socket_client.socket_mode_request_listeners.append(_ack_everything(received))
    envelope_id = socket_server.send_slash_command("/csbot", "after reconnect")
    assert socket_server.wait_for_ack(envelope_id)["envelope_id"] == envelope_id


def test_large_envelope_crosses_the_builtin_clients_frame_parser(
    socket_server: FakeSocketModeServer, socket_client: SocketModeClient
) -> None:
    received: list[SocketModeRequest] = []
    socket_client.socket_mode_request_listeners.append(_ack_everything(received))
    socket_client.connect()
    long_text = "x" * 70_000  # > 65535 bytes: the 64-bit length form of a WebSocket frame

    envelope_id = socket_server.send_slash_command("/csbot", long_text, response_url="http://127.0.0.1:1/r")

    socket_server.wait_for_ack(envelope_id)
    assert received[0].payload["text"] == long_text


def test_send_without_client_times_out(socket_server: FakeSocketModeServer) -> None:
    with pytest.raises(TimeoutError):
        socket_server.send_slash_command("/csbot", "x", timeout=0.2)


def test_bolt_app_over_http_and_socket_mode(api: FakeSlackApi, socket_server: FakeSocketModeServer) -> None:
    """The stand-ins fit together the way the app's wire tests will use them (Bolt on top of slack_sdk)."""
    from slack_bolt import App
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_bolt.request import BoltRequest

    app = App(client=WebClient(base_url=api.base_url, token=BOT_TOKEN), signing_secret="s3cret")

    @app.command("/csbot")
    def handle(ack, respond, command, client) -> None:
        ack("on it")
        respond(f"echo {command['text']}")
        client.chat_postMessage(channel=command["channel_id"], text="posted")

    body = slash_command_body("/csbot", "via http", response_url=api.response_url("http"))
    assert app.dispatch(BoltRequest(body=body, headers=signed_headers("s3cret", body))).status == 200
    assert app.dispatch(BoltRequest(body=body, headers=signed_headers("wrong", body))).status == 401
    assert api.wait_for_response("http")[0].params == {"text": "echo via http"}

    handler = SocketModeHandler(app, app_token=APP_TOKEN)
    try:
        handler.connect()
        envelope_id = socket_server.send_slash_command("/csbot", "via socket")
        assert socket_server.wait_for_ack(envelope_id)["payload"] == {"text": "on it"}
        assert api.wait_for_response(envelope_id)[0].params == {"text": "echo via socket"}
        assert len(api.wait_for("chat.postMessage", count=2)) == 2
    finally:
        handler.close()
