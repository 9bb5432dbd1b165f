"""The Slack app at the wire: the real app over real HTTP on loopback (waitress, port 0), signed requests,
and a local stand-in for Slack's Web API. No mocks of our own code. Runs on SQLite and Postgres."""

from __future__ import annotations

import json
import time
import urllib.request

import jsonschema
import pytest
import yaml
from sqlalchemy import event

from bot.app import build_app
from bot.listeners.commands import ANSWER_COMMANDS
from bot.manifest import manifest_yaml
from bot.services import Services
from bot.settings import api_base_url, load_slack_settings
from tests.kpi_helpers import account, load, revenue, survey, usage
from tests.slack_stack import CONFIG, ROOT, SCHEMA, TODAY, TOKEN, Stack, _answer_text, _stack, running_stack
from tests.slack_wire import FakeSlackApi, FakeSocketModeServer


@pytest.fixture
def data(store):
    load(store,
         accounts=[
             account("acme", name="Acme Corp", segment="enterprise", owner_slack_id="U0CSM0001",
                     customer="2025-02-01", renewal_date="2027-06-01", first_value_at="2025-01-20"),
             account("s1", name="Stark Industries", customer="2025-03-01"),
             account("s2", name="Stark Logistics", customer="2025-03-01"),
             account("evil", name="<!channel> & co", customer="2025-03-01"),
         ],
         surveys=[survey("r1", "acme", "nps", 10, "2026-08-01T10:00:00"),
                  survey("r2", "s1", "nps", 3, "2026-08-02T10:00:00"),
                  survey("r3", "acme", "nps", 9, "2026-11-10T10:00:00")],
         revenue=[revenue("acme", m, 1000) for m in ("2026-08", "2026-09", "2026-10", "2026-11")],
         usage=[usage("acme", "u1", f"2026-11-{d:02d}T10:00:00") for d in range(1, 21)])
    return store


@pytest.fixture
def stack(data):
    with running_stack(data) as stack:
        yield stack


# ---------------------------------------------------------------- signatures


def test_forged_tampered_and_stale_requests_get_401_and_no_answer(stack):
    assert stack.command("/nps", "", secret="0" * 32)[0] == 401
    assert stack.command("/nps", "", tamper=True)[0] == 401
    assert stack.command("/nps", "", timestamp=int(time.time()) - 6 * 60)[0] == 401
    time.sleep(0.5)  # give a wrongly accepted request time to answer (nothing must arrive)
    assert stack.api.calls("response_url") == []
    assert stack.api.calls("chat.postMessage") == []


def test_signed_request_is_answered_ephemerally(stack):
    status, body, name, took = stack.command("/nps", "last-quarter")
    assert status == 200 and took < 3
    message = stack.answer(name)
    assert message["response_type"] == "ephemeral"
    # Q3 2026: one promoter (acme, 10) and one detractor (s1, 3): NPS 0
    text = _answer_text(message)
    assert "Net Promoter Score" in text and "2026-07-01" in text and "2026-09-30" in text
    assert "share_answer" in text


# ---------------------------------------------------------------- every command through the wire


@pytest.mark.parametrize("command,text,expect", [
    ("/kpi", "mrr 2026-10 acme", "1,000.00"),
    ("/kpi", "list", "nrr"),
    ("/kpi", "help nps", "promoters"),
    ("/nps", "2026-11 acme", "100"),
    ("/csat", "", "No data"),
    ("/churn", "last-quarter", "churn"),
    ("/nrr", "2026-10", "100.0%"),
    ("/mrr", "2026-11", "1,000.00"),
    ("/health", "acme", "Acme Corp"),
    ("/health", "", "lowest"),
    ("/atrisk", "", "risk"),
    ("/digest", "list", "Nothing is scheduled"),
])
def test_every_command_answers(stack, command, text, expect):
    status, _, name, took = stack.command(command, text)
    assert status == 200 and took < 3
    assert expect.lower() in _answer_text(stack.answer(name)).lower()


def test_ambiguous_account_offers_buttons_and_a_click_answers(stack):
    _, _, name, _ = stack.command("/health", "stark")
    message = stack.answer(name)
    buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons] == ["Stark Industries (s1)", "Stark Logistics (s2)"]
    status, clicked = stack.click(buttons[1]["action_id"], buttons[1]["value"])
    assert status == 200
    picked = stack.answer(clicked)
    assert picked["replace_original"] is True
    assert "Stark Logistics" in _answer_text(picked)


def test_share_posts_the_same_answer_to_the_channel_saying_who(stack):
    _, _, name, _ = stack.command("/mrr", "2026-11 acme")
    share = next(e for b in stack.answer(name)["blocks"] if b["type"] == "actions" for e in b["elements"])
    status, confirm = stack.click(share["action_id"], share["value"])
    assert status == 200
    posted = stack.api.wait_for("chat.postMessage")[0]
    assert posted.params["channel"] == "C0TEST001"
    assert posted.token == TOKEN
    blocks = json.dumps(posted.params["blocks"])
    assert "1,000.00" in blocks and "Shared by <@U0TEST001>" in blocks and "share_answer" not in blocks
    assert "Shared in the channel" in stack.answer(confirm)["text"]


def test_share_retries_a_rate_limit_and_posts_once(stack):
    _, _, name, _ = stack.command("/mrr", "2026-11")
    share = next(e for b in stack.answer(name)["blocks"] if b["type"] == "actions" for e in b["elements"])
    stack.api.fail_next("chat.postMessage", status=429, retry_after=0)
    stack.click(share["action_id"], share["value"])
    calls = stack.api.wait_for("chat.postMessage", count=2, timeout=10)
    time.sleep(0.3)
    assert len(stack.api.calls("chat.postMessage")) == 2  # the 429, then the one that landed
    assert calls[1].status == 200


def test_share_in_a_channel_without_the_bot_explains(stack):
    _, _, name, _ = stack.command("/mrr", "2026-11")
    share = next(e for b in stack.answer(name)["blocks"] if b["type"] == "actions" for e in b["elements"])
    stack.api.fail_next("chat.postMessage", error="not_in_channel")
    _, confirm = stack.click(share["action_id"], share["value"])
    assert "/invite @csbot" in stack.answer(confirm)["text"]


@pytest.mark.parametrize("command,text,expect", [
    ("/nps", "2026-13", "last-30d"),              # bad period: lists accepted forms
    ("/kpi", "nrrr", "Did you mean nrr"),
    ("/kpi", "", "Which KPI"),
    ("/nps", "zzzz", "No account matches"),
    ("/nps", "owner:jane", "not a Slack user"),
    ("/nps", "2030-01", "after today"),
    ("/atrisk", "acme", "only a segment and an owner"),
    ("/nps", "'; DROP TABLE accounts; --", "No account matches"),
])
def test_bad_input_gets_an_ephemeral_explanation(stack, command, text, expect):
    status, _, name, _ = stack.command(command, text)
    assert status == 200
    message = stack.answer(name)
    assert message["response_type"] == "ephemeral"
    assert expect.lower() in _answer_text(message).lower()


def test_data_text_is_escaped_so_nobody_is_pinged(stack):
    _, _, name, _ = stack.command("/health", "evil")
    text = _answer_text(stack.answer(name))
    assert "&lt;!channel&gt; &amp; co" in text
    assert "<!channel>" not in text


def test_slow_query_is_acked_within_3_seconds_and_answered_later(stack):
    def slow(*_args, **_kwargs):
        time.sleep(3.5)

    event.listen(stack.engine, "before_cursor_execute", slow)
    try:
        status, _, name, took = stack.command("/mrr", "2026-11")
        assert status == 200 and took < 3
        working, answer = (c.json for c in stack.api.wait_for_response(name, count=2, timeout=30))
        assert working == {"response_type": "ephemeral", "text": "Working on it…"}
        assert answer["replace_original"] is True and "1,000.00" in _answer_text(answer)
    finally:
        event.remove(stack.engine, "before_cursor_execute", slow)


def test_unexpected_failure_gets_an_apology_with_a_reference(stack, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError(f"database exploded {TOKEN}")

    event.listen(stack.engine, "before_cursor_execute", broken)
    try:
        _, _, name, _ = stack.command("/mrr", "2026-11")
        text = _answer_text(stack.answer(name))
    finally:
        event.remove(stack.engine, "before_cursor_execute", broken)
    assert "reference" in text.lower()
    assert "exploded" not in text  # internals stay in the log


def test_response_url_failure_falls_back_to_post_ephemeral(stack):
    stack.api.fail_next("response_url", status=500, times=5)
    _, _, _, _ = stack.command("/mrr", "2026-11")
    call = stack.api.wait_for("chat.postEphemeral", timeout=15)[0]
    assert call.params["user"] == "U0TEST001" and call.params["channel"] == "C0TEST001"


def test_healthz(stack):
    base = stack.url.rsplit("/slack/events", 1)[0]
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as resp:
        assert resp.status == 200 and resp.read() == b"ok\n"


def test_other_workspaces_are_not_answered(data):
    with FakeSlackApi() as api:
        server, thread, base = _stack(data, api, allowed="T0ALLOWED")
        try:
            stack = Stack(f"{base}/slack/events", api, data)
            status, body, _, _ = stack.command("/nps", "", team_id="T0OTHER")
            assert status == 200 and "not enabled" in body
            status, _, name, _ = stack.command("/mrr", "2026-11", team_id="T0ALLOWED")
            assert "1,000.00" in _answer_text(stack.answer(name))
            assert len(api.calls("response_url")) == 1
        finally:
            server.close()
            thread.join(timeout=5)


# ---------------------------------------------------------------- Socket Mode


def test_socket_mode_receives_acks_and_answers(data):
    from bot.server import socket_mode_handler

    with FakeSlackApi() as api, FakeSocketModeServer(api) as ws:
        env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": "xapp-1-A0TEST-123-abc",
               "CSBOT_SLACK_API_URL": api.base_url}
        app = build_app(load_slack_settings(env), Services.create(data, CONFIG, TODAY))
        handler = socket_mode_handler(app, "xapp-1-A0TEST-123-abc")
        handler.connect()
        try:
            ws.wait_connected(timeout=10)
            envelope = ws.send_slash_command("/mrr", "2026-11 acme")
            ack = ws.wait_for_ack(envelope, timeout=3)
            assert ack["envelope_id"] == envelope
            assert "1,000.00" in _answer_text(api.wait_for_response(envelope, timeout=10)[0].json)
        finally:
            handler.close()


# ---------------------------------------------------------------- settings and manifest


def test_manifest_is_generated_and_valid():
    committed = (ROOT / "manifest.yml").read_text()
    assert committed == manifest_yaml(), "manifest.yml is stale: run `csbot manifest > manifest.yml`"
    schema = json.loads(SCHEMA.read_text())
    for variant in (manifest_yaml(), manifest_yaml("https://csbot.example.com/slack/events")):
        jsonschema.validate(yaml.safe_load(variant), schema)


def test_manifest_and_handlers_agree(stack):
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    in_manifest = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert in_manifest == {*ANSWER_COMMANDS, "/digest"}
    for command in sorted(in_manifest):  # each one is handled by the running app (Bolt says 404 otherwise)
        status, _, name, _ = stack.command(command, "help" if command == "/kpi" else "")
        assert status == 200, command
        stack.answer(name)


@pytest.mark.parametrize("env,named", [
    ({}, "SLACK_BOT_TOKEN"),
    ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
    ({"SLACK_BOT_TOKEN": TOKEN}, "SLACK_SIGNING_SECRET"),
    ({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": "short"}, "SLACK_SIGNING_SECRET"),
    ({"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN"),
])
def test_missing_or_malformed_credentials_name_the_setting(env, named):
    from bot.settings import SettingsError

    with pytest.raises(SettingsError) as info:
        load_slack_settings(env)
    assert str(info.value).startswith(named)
    assert "\n" not in str(info.value)


def test_api_url_gets_its_trailing_slash():
    assert api_base_url({"CSBOT_SLACK_API_URL": "http://127.0.0.1:9/api"}) == "http://127.0.0.1:9/api/"
