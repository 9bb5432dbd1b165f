"""/digest and /atrisk subscriptions and the warning buttons, at the wire (real app, signed requests, Slack
stand-in). Runs on SQLite and Postgres."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient

from bot.jobs.context import JobContext
from bot.jobs.risk_job import scan_now
from storage import subscriptions as subs
from tests.kpi_helpers import account, load, survey
from tests.slack_stack import CONFIG, SECRET, TODAY, TOKEN, Stack, _answer_text, running_stack
from tests.slack_wire import post, signed_headers

NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def data(store):
    load(store,
         accounts=[account("acme", name="Acme Corp", customer="2025-02-01", owner_slack_id="U0CSM0001"),
                   account("s1", name="Stark Industries", customer="2025-03-01", owner_slack_id="U0CSM0002")],
         surveys=[survey("r1", "s1", "nps", 3, "2026-11-15T10:00:00"),  # a detractor in the last 30 days
                  survey("r2", "acme", "nps", 10, "2026-11-15T10:00:00")])
    return store


@pytest.fixture
def stack(data, monkeypatch):
    monkeypatch.setenv("CSBOT_NOW", NOW.isoformat())
    with running_stack(data) as stack:
        yield stack


def ask(stack: Stack, command: str, text: str) -> dict:
    status, _, name, took = stack.command(command, text)
    assert status == 200 and took < 3
    return stack.answer(name)


def test_subscribe_list_and_unsubscribe_a_digest(stack):
    reply = ask(stack, "/digest", "subscribe friday 17:30 Europe/Berlin nps mrr")
    assert "Weekly digest every Friday at 17:30 Europe/Berlin (nps, mrr)" in _answer_text(reply)
    sub = subs.find_subscription(stack.engine, "C0TEST001", "digest")
    assert (sub.weekday, sub.at_time, sub.timezone, sub.kpis, sub.created_by) == (
        4, "17:30", "Europe/Berlin", ("nps", "mrr"), "U0TEST001")
    listed = _answer_text(ask(stack, "/digest", "list"))
    assert "Friday at 17:30 Europe/Berlin" in listed and "Not posted yet" in listed
    assert "Stopped this channel's digest" in _answer_text(ask(stack, "/digest", "unsubscribe"))
    assert "Nothing is scheduled" in _answer_text(ask(stack, "/digest", "list"))
    assert "had no digest" in _answer_text(ask(stack, "/digest", "unsubscribe"))


def test_default_time_zone_is_the_channel_creators(stack):
    stack.api.set_channel("C0TEST001", creator="U0CREATOR")
    stack.api.set_user("U0CREATOR", tz="America/New_York")
    ask(stack, "/digest", "subscribe")
    sub = subs.find_subscription(stack.engine, "C0TEST001", "digest")
    assert (sub.weekday, sub.at_time, sub.timezone) == (0, "09:00", "America/New_York")


def test_default_time_zone_falls_back_to_utc(stack):
    stack.api.fail_next("users.info", error="user_not_found")  # the creator's time zone cannot be read
    ask(stack, "/digest", "subscribe tuesday")
    assert subs.find_subscription(stack.engine, "C0TEST001", "digest").timezone == "UTC"


def test_bad_schedule_is_explained_and_nothing_stored(stack):
    text = _answer_text(ask(stack, "/digest", "subscribe 25:00 Mars/Olympus"))
    assert "'25:00' is not a time" in text and "'Mars/Olympus' is not a time zone" in text
    assert "/digest subscribe [day] [HH:MM]" in text
    assert subs.find_subscription(stack.engine, "C0TEST001", "digest") is None
    assert "not a digest command" in _answer_text(ask(stack, "/digest", "explode"))


def test_only_admins_may_manage_when_configured(stack, monkeypatch):
    monkeypatch.setenv("CSBOT_SUBSCRIPTION_ADMINS", "U0BOSS,U0OTHER")
    assert "CSBOT_SUBSCRIPTION_ADMINS" in _answer_text(ask(stack, "/digest", "subscribe"))
    assert subs.find_subscription(stack.engine, "C0TEST001", "digest") is None
    monkeypatch.setenv("CSBOT_SUBSCRIPTION_ADMINS", "U0TEST001")
    ask(stack, "/digest", "subscribe")
    assert subs.find_subscription(stack.engine, "C0TEST001", "digest") is not None


def test_preview_shows_the_digest_without_posting(stack):
    reply = ask(stack, "/digest", "preview")
    assert reply["response_type"] == "ephemeral"
    assert "Weekly digest" in _answer_text(reply)
    assert stack.api.calls("chat.postMessage") == []


def test_list_shows_a_failing_subscription(stack):
    ask(stack, "/digest", "subscribe")
    sub = subs.find_subscription(stack.engine, "C0TEST001", "digest")
    subs.mark_subscription_failing(stack.engine, sub.id, error="not_in_channel: invite the bot", now=NOW)
    assert "failing since 2026-11-22 10:00 UTC: not_in_channel" in _answer_text(ask(stack, "/digest", "list"))


# ---------------------------------------------------------------- churn-risk warnings and their buttons


def _warning(stack: Stack) -> tuple[subs.SubscriptionRow, dict]:
    assert "churn-risk warnings" in _answer_text(ask(stack, "/atrisk", "subscribe"))
    sub = subs.find_subscription(stack.engine, "C0TEST001", "risk")
    assert sub.at_time == "08:00"
    client = WebClient(token=TOKEN, base_url=stack.api.base_url)
    ctx = JobContext(stack.engine, client, CONFIG, clock=lambda: NOW, as_of=TODAY)
    scan_now(ctx, sub, TODAY)
    posted = stack.api.wait_for("chat.postMessage")
    assert len(posted) == 1  # Stark Industries only: its detractor NPS; Acme is not at risk
    assert "Stark Industries" in json.dumps(posted[0].params["blocks"])
    assert "<@U0CSM0002>" in json.dumps(posted[0].params["blocks"])
    message = {"ts": "1", "blocks": posted[0].params["blocks"], "text": posted[0].params.get("text")}
    stack.api.set_response("conversations.history", {"ok": True, "messages": [message]})
    return sub, message


def _button(message: dict, action_id: str) -> dict:
    return next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == action_id)


def _click(stack: Stack, button: dict, message: dict) -> None:
    payload = {
        "type": "block_actions", "user": {"id": "U0TEST001", "team_id": "T0TEST001"},
        "team": {"id": "T0TEST001"}, "channel": {"id": "C0TEST001"}, "api_app_id": "A0TEST", "token": "x",
        "trigger_id": "1.2.3", "response_url": stack.api.response_url(uuid.uuid4().hex[:8]),
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": "C0TEST001"},
        "message": message,
        "actions": [{"action_id": button["action_id"], "block_id": "b", "value": button["value"],
                     "type": "button", "action_ts": "1"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    assert post(stack.url, body, signed_headers(SECRET, body))[0] == 200


def test_acknowledge_is_recorded_and_shown_in_the_warning(stack):
    _, message = _warning(stack)
    _click(stack, _button(message, "risk_ack"), message)
    update = stack.api.wait_for("chat.update")[0]
    blocks = json.dumps(update.params["blocks"])
    assert "Acknowledged by <@U0TEST001>" in blocks and "risk_ack" not in blocks
    alert = subs.get_alert(stack.engine, int(_button(message, "risk_ack")["value"]))
    assert (alert.state, alert.acted_by) == ("acknowledged", "U0TEST001")


def test_snooze_silences_the_account_for_seven_days(stack):
    sub, message = _warning(stack)
    _click(stack, _button(message, "risk_snooze"), message)
    assert "until 2026-11-29" in json.dumps(stack.api.wait_for("chat.update")[0].params["blocks"])
    client = WebClient(token=TOKEN, base_url=stack.api.base_url)
    for offset in (1, 7):  # still at risk on these days (the detractor is within 30 days), but snoozed
        day = TODAY + dt.timedelta(days=offset)
        ctx = JobContext(stack.engine, client, CONFIG, clock=lambda d=day: dt.datetime.combine(
            d, dt.time(8), dt.UTC), as_of=day)
        scan_now(ctx, sub, day)
    assert len(stack.api.calls("chat.postMessage")) == 1


def test_not_a_risk_asks_for_a_reason_and_records_it(stack):
    _, message = _warning(stack)
    button = _button(message, "risk_dismiss")
    _click(stack, button, message)
    view = stack.api.wait_for("views.open")[0].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "risk_dismiss_reason" and view["private_metadata"] == button["value"]
    submission = {
        "type": "view_submission", "team": {"id": "T0TEST001"}, "user": {"id": "U0TEST001", "team_id": "T0TEST001"},
        "api_app_id": "A0TEST", "token": "x", "trigger_id": "1.2.4",
        "view": {"id": "V1", "type": "modal", "callback_id": "risk_dismiss_reason",
                 "private_metadata": button["value"],
                 "state": {"values": {"reason": {"reason": {"type": "plain_text_input",
                                                            "value": "Renewal <signed> already"}}}}},
    }
    body = urlencode({"payload": json.dumps(submission)})
    status, text = post(stack.url, body, signed_headers(SECRET, body))
    assert status == 200
    update = stack.api.wait_for("chat.update")[0]
    assert "Marked not a risk by <@U0TEST001>: Renewal &lt;signed&gt; already" in json.dumps(update.params["blocks"])
    assert subs.get_alert(stack.engine, int(button["value"])).reason == "Renewal <signed> already"


def test_blank_reason_keeps_the_modal_open(stack):
    submission = {
        "type": "view_submission", "team": {"id": "T0TEST001"}, "user": {"id": "U0TEST001", "team_id": "T0TEST001"},
        "api_app_id": "A0TEST", "token": "x", "trigger_id": "1.2.5",
        "view": {"id": "V1", "type": "modal", "callback_id": "risk_dismiss_reason", "private_metadata": "1",
                 "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": "  "}}}}},
    }
    body = urlencode({"payload": json.dumps(submission)})
    status, text = post(stack.url, body, signed_headers(SECRET, body))
    assert status == 200 and json.loads(text)["response_action"] == "errors"


def test_atrisk_unsubscribe(stack):
    ask(stack, "/atrisk", "subscribe")
    assert "Stopped this channel's churn-risk warnings" in _answer_text(ask(stack, "/atrisk", "unsubscribe"))


