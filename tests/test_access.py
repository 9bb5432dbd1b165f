"""Who may see what, at the wire: CSBOT_ALLOWED_USERS (ids and user groups, cached), CSBOT_REVENUE_VIEWERS,
and Slack Connect channels (share, subscriptions, money). SQLite and Postgres."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from bot.access import AccessPolicy
from bot.jobs.digest_job import build_message
from storage import subscriptions as subs
from tests.kpi_helpers import account, load, revenue, survey, usage
from tests.slack_stack import CONFIG, TODAY, Stack, _answer_text, _stack
from tests.slack_wire import FakeSlackApi

CSM = "U0CSM0001"
VIEWER = "U0MONEY01"
ADMIN = "U0ADMIN01"
SHARED = "C0SHARED1"


@pytest.fixture
def data(store):
    load(store,
         accounts=[account("acme", name="Acme Corp", segment="enterprise", owner_slack_id=CSM,
                           customer="2025-02-01", renewal_date="2026-12-10")],
         surveys=[survey("r1", "acme", "nps", 10, "2026-11-10T10:00:00")],
         revenue=[revenue("acme", m, 1000) for m in ("2026-08", "2026-09", "2026-10")]
         + [revenue("acme", "2026-11", 800)],
         usage=[usage("acme", "u1", f"2026-11-{d:02d}T10:00:00") for d in range(1, 21)])
    return store


def _running(store, env: dict):
    api = FakeSlackApi().start()
    api.set_channel(SHARED, is_ext_shared=True)
    server, thread, base = _stack(store, api, env_extra=env)
    return api, server, thread, Stack(f"{base}/slack/events", api, store)


@pytest.fixture
def make_stack(data, monkeypatch):
    running = []

    def make(**env: str) -> Stack:
        for key, value in env.items():  # subscription admins are read from the environment by the listeners
            if key == "CSBOT_SUBSCRIPTION_ADMINS":
                monkeypatch.setenv(key, value)
        api, server, thread, stack = _running(data, env)
        running.append((api, server, thread))
        return stack

    yield make
    for api, server, thread in running:
        server.close()
        thread.join(timeout=5)
        api.stop()


# ---------------------------------------------------------------------------------------- allowed users


def test_allowed_users_by_id_and_by_user_group_handle_cached(make_stack):
    stack = make_stack(CSBOT_ALLOWED_USERS=f"{CSM},@cs-team")
    stack.api.set_usergroup("S0CSTEAM1", "cs-team", ["U0MEMBER1"])
    _, _, name, _ = stack.command("/nps", "2026-11", user_id=CSM)
    assert "Net Promoter Score" in _answer_text(stack.answer(name))
    for _ in range(2):  # a member of the group, twice: the group is read once
        _, _, name, _ = stack.command("/nps", "2026-11", user_id="U0MEMBER1")
        assert "Net Promoter Score" in _answer_text(stack.answer(name))
    assert len(stack.api.calls("usergroups.users.list")) == 1
    assert stack.api.calls("usergroups.users.list")[0].params["usergroup"] == "S0CSTEAM1"


def test_someone_not_allowed_gets_a_polite_refusal_and_nothing_else(make_stack):
    stack = make_stack(CSBOT_ALLOWED_USERS="S0CSTEAM1")
    stack.api.set_usergroup("S0CSTEAM1", "cs-team", ["U0MEMBER1"])
    status, body, name, _ = stack.command("/nps", "2026-11", user_id="U0STRANGE")
    assert status == 200 and "limited to the people and user groups in CSBOT_ALLOWED_USERS" in body
    stack.event({"type": "app_home_opened", "user": "U0STRANGE", "tab": "home", "channel": "D0STRANGE"})
    (home,) = stack.api.wait_for("views.publish", timeout=10)
    assert home.params["user_id"] == "U0STRANGE" and "CSBOT_ALLOWED_USERS" in json.dumps(home.params["view"])
    dm = {"type": "message", "channel_type": "im", "user": "U0STRANGE", "text": "nps", "ts": "1764000000.0002",
          "channel": "D0STRANGE"}
    stack.event(dm, event_id="Ev0STRANGE1")
    stack.event(dm, event_id="Ev0STRANGE1", retry=1)  # told once, even when Slack retries
    stack.event({"type": "app_mention", "user": "U0STRANGE", "text": "<@U0BOT0001> nps", "ts": "1764000000.0003",
                 "channel": "C0TEST001"})
    (told,) = stack.api.wait_for("chat.postMessage", timeout=10)
    assert told.params["channel"] == "D0STRANGE" and "CSBOT_ALLOWED_USERS" in told.params["text"]
    (note,) = stack.api.wait_for("chat.postEphemeral", timeout=10)
    assert (note.params["channel"], note.params["user"]) == ("C0TEST001", "U0STRANGE")
    time.sleep(0.5)
    assert stack.api.calls("response_url") == [] and len(stack.api.calls("chat.postMessage")) == 1
    assert "Net Promoter" not in json.dumps([c.params for c in stack.api.calls()])  # no answer of any kind
    _, _, name, _ = stack.command("/nps", "2026-11", user_id="U0MEMBER1")  # the group id itself works too
    assert "Net Promoter Score" in _answer_text(stack.answer(name))


def test_a_group_that_cannot_be_read_grants_nothing():
    policy = AccessPolicy(allowed=frozenset({"@ghosts"}))
    with FakeSlackApi() as api:
        from bot.delivery import make_client

        client = make_client("xoxb-x", api.base_url)
        assert policy.allows(client, "T1", "U0ANYONE1") is False
        assert AccessPolicy().allows(client, "T1", "U0ANYONE1") is True  # unset: everyone


# ---------------------------------------------------------------------------------------- revenue viewers


def test_money_kpis_are_refused_to_people_who_may_not_see_revenue(make_stack):
    stack = make_stack(CSBOT_REVENUE_VIEWERS=VIEWER)
    for text in ("/mrr 2026-11", "/kpi nrr 2026-11", "/kpi arpu 2026-11", "/kpi clv", "/kpi retention_cost"):
        command, _, rest = text.partition(" ")
        _, _, name, _ = stack.command(command, rest, user_id=CSM)
        answer = _answer_text(stack.answer(name))
        assert "Revenue figures are limited to the people in CSBOT_REVENUE_VIEWERS" in answer, text
        assert "$" not in answer and "800" not in answer
    _, _, name, _ = stack.command("/nps", "2026-11", user_id=CSM)
    assert "Net Promoter Score" in _answer_text(stack.answer(name))
    _, _, name, _ = stack.command("/mrr", "2026-11", user_id=VIEWER)
    assert "$800.00" in _answer_text(stack.answer(name))


def test_health_cards_lose_their_amounts_for_people_who_may_not_see_revenue(make_stack):
    stack = make_stack(CSBOT_REVENUE_VIEWERS=VIEWER)
    _, _, name, _ = stack.command("/health", "acme", user_id=CSM)
    card = _answer_text(stack.answer(name))
    assert "Health of Acme Corp" in card and "figures hidden" in card
    assert "1,000" not in card and "800" not in card
    _, _, name, _ = stack.command("/health", "acme", user_id=VIEWER)
    assert "MRR down 20% over 3 months (1,000 -&gt; 800)" in _answer_text(stack.answer(name))


# ---------------------------------------------------------------------------------------- Slack Connect


def test_share_is_refused_in_a_shared_channel(make_stack):
    stack = make_stack()
    _, _, name, _ = stack.command("/nps", "2026-11", channel_id=SHARED)
    answer = stack.answer(name)
    assert "share_answer" not in json.dumps(answer["blocks"])  # no button offered there
    _, _, name, _ = stack.command("/nps", "2026-11")
    share = next(e for b in stack.answer(name)["blocks"] if b["type"] == "actions" for e in b["elements"])
    _, confirm = stack.click(share["action_id"], share["value"], channel_id=SHARED)  # an old button clicked there
    assert "shared with another organisation" in stack.answer(confirm)["text"]
    assert stack.api.calls("chat.postMessage") == []


@pytest.mark.parametrize("command,text", [("/digest", "subscribe"), ("/atrisk", "subscribe")])
def test_subscriptions_are_refused_in_a_shared_channel_unless_an_admin_opts_in(make_stack, command, text):
    stack = make_stack(CSBOT_SUBSCRIPTION_ADMINS=ADMIN)
    _, _, name, _ = stack.command(command, text, channel_id=SHARED, user_id=ADMIN)
    assert "shared with another organisation" in _answer_text(stack.answer(name))
    _, _, name, _ = stack.command(command, f"{text} --external-ok", channel_id=SHARED, user_id="U0NOTADMN")
    assert "Only the people listed in CSBOT_SUBSCRIPTION_ADMINS" in _answer_text(stack.answer(name))
    assert subs.find_subscription(stack.engine, SHARED, "digest" if command == "/digest" else "risk") is None
    _, _, name, _ = stack.command(command, f"{text} --external-ok", channel_id=SHARED, user_id=ADMIN)
    assert ":white_check_mark:" in _answer_text(stack.answer(name))
    sub = subs.find_subscription(stack.engine, SHARED, "digest" if command == "/digest" else "risk")
    assert sub is not None and sub.external_ok is True


def test_money_never_goes_to_a_shared_channel(data):
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    shared = subs.subscribe(data, team_id="T0TEST001", channel_id=SHARED, kind="digest", weekday=0,
                            at_time="09:00", timezone="UTC", now=now, kpis=["mrr", "nps", "nrr"], external_ok=True)
    inside = subs.subscribe(data, team_id="T0TEST001", channel_id="C0INSIDE1", kind="digest", weekday=0,
                            at_time="09:00", timezone="UTC", now=now, kpis=["mrr", "nps", "nrr"])
    there = build_message(data, CONFIG, shared, TODAY)
    assert [r.kpi for r in there.content.results] == ["nps"] and there.content.renewals == ()
    assert "$" not in json.dumps(there.blocks) and "MRR" not in json.dumps(there.blocks)
    here = build_message(data, CONFIG, inside, TODAY)
    assert [r.kpi for r in here.content.results] == ["mrr", "nps", "nrr"]
    assert [r.account.id for r in here.content.renewals] == ["acme"]


def test_a_mention_in_a_shared_channel_gets_no_money(make_stack):
    stack = make_stack()
    stack.event({"type": "app_mention", "user": VIEWER, "text": "<@U0BOT0001> mrr 2026-11", "ts": "1764000000.0001",
                 "channel": SHARED, "event_ts": "1764000000.0001"})
    (post,) = stack.api.wait_for("chat.postMessage", timeout=15)
    text = json.dumps(post.params["blocks"])
    assert "Revenue figures are limited" in text and "$" not in text


def test_a_channel_csbot_cannot_check_is_treated_as_shared_and_asked_again_next_time(make_stack):
    stack = make_stack()
    stack.api.fail_next("conversations.info", error="channel_not_found")
    _, _, name, _ = stack.command("/digest", "subscribe", channel_id="C0PRIVATE")
    assert "could not check whether this channel is shared with another organisation (channel_not_found)" \
        in _answer_text(stack.answer(name))
    assert subs.find_subscription(stack.engine, "C0PRIVATE", "digest") is None
    _, _, name, _ = stack.command("/digest", "subscribe", channel_id="C0PRIVATE")  # the failure is not cached
    assert ":white_check_mark:" in _answer_text(stack.answer(name))


def test_digest_preview_has_no_money_for_people_who_may_not_see_it(make_stack):
    stack = make_stack(CSBOT_REVENUE_VIEWERS=VIEWER)
    _, _, name, _ = stack.command("/digest", "preview", user_id=CSM)
    text = _answer_text(stack.answer(name))
    assert "Net Promoter Score" in text and "Monthly recurring revenue" not in text and "$" not in text
    _, _, name, _ = stack.command("/digest", "preview", user_id=VIEWER)
    assert "Monthly recurring revenue" in _answer_text(stack.answer(name))


def test_a_shared_health_card_of_someone_who_may_not_see_revenue_has_no_amounts(make_stack):
    stack = make_stack(CSBOT_REVENUE_VIEWERS=VIEWER)
    _, _, name, _ = stack.command("/health", "acme", user_id=CSM)
    share = next(e for b in stack.answer(name)["blocks"] if b["type"] == "actions" for e in b["elements"])
    stack.click(share["action_id"], share["value"], user_id=CSM)
    (posted,) = stack.api.wait_for("chat.postMessage", timeout=15)
    text = json.dumps(posted.params["blocks"])
    assert "Health of Acme Corp" in text and "figures hidden" in text and "1,000" not in text


def test_a_channel_shared_after_it_subscribed_gets_nothing_more_and_the_subscriber_is_told(data):
    from bot.jobs import scheduler
    from tests.jobs_helpers import FakeChannels, SetClock, make_ctx, utc

    with FakeSlackApi() as api:
        channels = FakeChannels(api)
        later = subs.subscribe(data, team_id="T0TEST001", channel_id="C0LATER01", kind="digest", weekday=0,
                               at_time="09:00", timezone="UTC", now=utc("2026-11-01T00:00:00"), created_by=CSM)
        allowed = subs.subscribe(data, team_id="T0TEST001", channel_id=SHARED, kind="digest", weekday=0,
                                 at_time="09:00", timezone="UTC", now=utc("2026-11-01T00:00:00"), created_by=ADMIN,
                                 external_ok=True)
        api.set_channel("C0LATER01", is_ext_shared=True)
        api.set_channel(SHARED, is_ext_shared=True)
        outcomes = {o.key.split(":")[1]: o for o in scheduler.tick(make_ctx(
            data, api, SetClock(utc("2026-11-23T09:00:00")), config=CONFIG))}
        assert outcomes[str(later.id)].action == "failed" and outcomes[str(allowed.id)].action == "posted"
        assert channels.in_channel("C0LATER01") == []
        assert subs.get_subscription(data, later.id).status == "failing"
        told = channels.in_channel("D0CSM0001")
        assert len(told) == 1 and "now shared with another organisation" in told[0]["text"]
        assert "--external-ok" in told[0]["text"]
        (posted,) = channels.in_channel(SHARED)
        assert "$" not in json.dumps(posted["blocks"]) and "Monthly recurring revenue" not in json.dumps(posted)


def test_at_risk_answers_and_warnings_without_money_drop_the_mrr_at_stake():
    from bot.redact import at_risk_without_money, without_money
    from kpi_core.answers import AtRiskAnswer
    from kpi_core.risk import AtRisk, FiredRule, cancellation_rule
    from kpi_core.types import Scope
    from tests.jobs_helpers import health

    rules = (cancellation_rule(dt.date(2026, 12, 31), 1250.0), FiredRule("red_band", "health is red (30.0)"))
    assert rules[0].text == "cancellation scheduled for 2026-12-31 (MRR at stake 1,250.00)"
    item = AtRisk(health("acme", 30.0, as_of=TODAY), rules)
    bare = at_risk_without_money(item)
    assert [r.text for r in bare.rules] == ["cancellation scheduled for 2026-12-31", "health is red (30.0)"]
    assert [r.id for r in bare.rules] == ["cancellation_scheduled", "red_band"]
    answer = without_money(AtRiskAnswer("/atrisk", TODAY, Scope(), (item,)))
    assert "1,250" not in repr(answer) and answer.accounts[0].rules == bare.rules
