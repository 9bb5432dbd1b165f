"""Personal churn-risk DMs (`/atrisk subscribe me`) and the `mine` scope word, at the wire. SQLite and Postgres."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.jobs import risk_job
from bot.personal import expand_mine
from bot.render.digest_blocks import ACK_ACTION
from kpi_core.types import UserError
from storage import personal
from tests.jobs_helpers import FakeChannels, SetClock, make_ctx
from tests.kpi_helpers import account, load, revenue, survey
from tests.slack_stack import CONFIG, TODAY, Stack, _answer_text, _stack
from tests.slack_wire import FakeSlackApi

CSM = "U0CSM0001"
OTHER = "U0CSM0002"
TEAM = "T0TEST001"


@pytest.fixture
def data(store):
    """beta (CSM's) and gamma (OTHER's) each had a detractor this month: both at risk on 2026-11-22."""
    load(store,
         accounts=[account("acme", name="Acme Corp", owner_slack_id=CSM, customer="2025-02-01"),
                   account("beta", name="Beta Ltd", owner_slack_id=CSM, customer="2025-03-01"),
                   account("gamma", name="Gamma Inc", owner_slack_id=OTHER, customer="2025-03-01")],
         surveys=[survey("r1", "acme", "nps", 10, "2026-11-10T10:00:00"),
                  survey("r2", "beta", "nps", 1, "2026-11-12T10:00:00"),
                  survey("r3", "gamma", "nps", 2, "2026-11-15T10:00:00")],
         revenue=[revenue("acme", "2026-11", 1000), revenue("beta", "2026-11", 250),
                  revenue("gamma", "2026-11", 4000)])
    return store


@pytest.fixture
def stack(data):
    with FakeSlackApi() as api:
        channels = FakeChannels(api)
        server, thread, base = _stack(data, api)
        try:
            stack = Stack(f"{base}/slack/events", api, data)
            stack.channels = channels
            yield stack
        finally:
            server.close()
            thread.join(timeout=5)


def test_expand_mine_is_the_callers_owner_scope():
    assert expand_mine("/health mine", CSM) == f"/health owner:<@{CSM}>"
    assert expand_mine("/kpi nrr MINE last-quarter", CSM) == f"/kpi nrr owner:<@{CSM}> last-quarter"
    assert expand_mine("/health Minecraft", CSM) == "/health Minecraft"  # a word, not part of one
    assert expand_mine('/health "acme"', CSM) == '/health "acme"'
    assert expand_mine('/health "mine"', CSM) == '/health "mine"'  # quoted: an account called Mine
    with pytest.raises(UserError, match="works in Slack only"):
        expand_mine("/atrisk mine", None)


def test_subscribe_me_then_a_scan_dms_only_my_accounts_once(stack):
    status, _, name, _ = stack.command("/atrisk", "subscribe me", user_id=CSM)
    assert status == 200
    assert "accounts you own as direct messages" in _answer_text(stack.answer(name))
    assert stack.api.wait_for("conversations.open")[0].params["users"] == CSM
    sub = personal.personal_subscription(stack.engine, TEAM, CSM)
    assert (sub.channel_id, sub.owner_id, sub.kind, sub.active, sub.timezone) == (
        "D0CSM0001", CSM, "risk", True, "Europe/Berlin")  # the fake's default time zone for users.info

    clock = SetClock(dt.datetime(2026, 11, 22, 7, tzinfo=dt.UTC))
    ctx = make_ctx(stack.engine, stack.api, clock, config=CONFIG)
    result = risk_job.scan_now(ctx, sub, TODAY)
    assert [i.health.account.id for i in result.items] == ["beta"]  # gamma is at risk too, but not mine
    dm = stack.channels.in_channel("D0CSM0001")
    assert len(dm) == 1 and "Beta Ltd" in json.dumps(dm[0]["blocks"]) and "Gamma" not in json.dumps(dm)
    clock.advance(minutes=30)
    again = risk_job.scan_now(ctx, sub, TODAY)  # exactly once: the same account and day is not warned twice
    assert again.posted == 0 and len(stack.channels.in_channel("D0CSM0001")) == 1

    ack = next(e for b in dm[0]["blocks"] if b["type"] == "actions" for e in b["elements"]
               if e["action_id"] == ACK_ACTION)
    stack.click(ACK_ACTION, ack["value"], user_id=CSM, channel_id="D0CSM0001", message=dm[0])
    update = stack.api.wait_for("chat.update", timeout=10)[0]
    assert update.params["channel"] == "D0CSM0001" and update.params["ts"] == dm[0]["ts"]
    assert stack.api.wait_for("views.publish", timeout=10)[0].params["user_id"] == CSM  # the Home follows

    status, _, name, _ = stack.command("/atrisk", "unsubscribe me", user_id=CSM)
    assert "Stopped your personal churn-risk warnings" in _answer_text(stack.answer(name))
    assert personal.personal_subscription(stack.engine, TEAM, CSM).active is False
    _, _, name, _ = stack.command("/atrisk", "unsubscribe me", user_id=CSM)
    assert "You had no personal churn-risk warnings" in _answer_text(stack.answer(name))


@pytest.mark.parametrize("command,text,present,absent", [
    ("/health", "mine", ["over 2 customers", f"owner <@{CSM}>"], []),
    ("/atrisk", "mine", ["Beta Ltd"], ["Gamma Inc"]),
    ("/kpi", "mrr mine 2026-11", ["$1,250.00"], ["5,250"]),  # acme 1,000 + beta 250 (gamma's 4,000 is not mine)
])
def test_mine_is_my_owner_scope(stack, command, text, present, absent):
    _, _, name, _ = stack.command(command, text, user_id=CSM)
    answer = _answer_text(stack.answer(name))
    for word in present:
        assert word in answer
    for word in absent:
        assert word not in answer
