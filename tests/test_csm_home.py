"""The App Home ("My accounts") at the wire: views.publish on app_home_opened, paging within Slack's 100-block
limit, the lead's team view, revenue limits, settings, and an alert acted on from the Home. SQLite and Postgres."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from bot.render.digest_blocks import ACK_ACTION
from bot.render.home_blocks import PAGE_NEXT_ACTION, PERSONAL_ALERTS_ACTION
from storage import subscriptions as subs
from storage.freshness import record_load
from storage.models import Subscription
from tests.kpi_helpers import account, load, revenue, survey, usage
from tests.slack_stack import CONFIG, TODAY, Stack, _stack
from tests.slack_wire import FakeSlackApi

CSM = "U0CSM0001"
OTHER = "U0CSM0002"
LEAD = "U0LEAD001"
TEAM = "T0TEST001"


def _home_event(user: str) -> dict:
    return {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home",
            "event_ts": "1764000000.000100"}


@pytest.fixture
def book(store):
    """CSM owns acme (healthy, renews in 18 days) and beta (detractor, no usage, renews in 2027); OTHER owns
    gamma. TODAY is 2026-11-22."""
    load(store,
         accounts=[
             account("acme", name="Acme Corp", segment="enterprise", owner_slack_id=CSM, customer="2025-02-01",
                     renewal_date="2026-12-10", first_value_at="2025-01-20"),
             account("beta", name="Beta Ltd", segment="smb", owner_slack_id=CSM, customer="2025-03-01",
                     renewal_date="2027-06-01"),
             account("gamma", name="Gamma Inc", segment="smb", owner_slack_id=OTHER, customer="2025-03-01"),
         ],
         surveys=[survey("r1", "acme", "nps", 10, "2026-11-10T10:00:00"),
                  survey("r2", "beta", "nps", 1, "2026-11-12T10:00:00")],
         revenue=[revenue("acme", m, 1000) for m in ("2026-08", "2026-09", "2026-10", "2026-11")]
         + [revenue("beta", m, 250) for m in ("2026-08", "2026-09", "2026-10", "2026-11")],
         usage=[usage("acme", "u1", f"2026-11-{d:02d}T10:00:00") for d in range(1, 21)])
    return store


def _running(store, env: dict | None = None):
    api = FakeSlackApi().start()
    server, thread, base = _stack(store, api, env_extra=env)
    return api, server, thread, Stack(f"{base}/slack/events", api, store)


@pytest.fixture
def stack(book):
    api, server, thread, stack = _running(book, {"CSBOT_LEADS": LEAD, "CSBOT_REVENUE_VIEWERS": f"{CSM},{LEAD}"})
    try:
        yield stack
    finally:
        server.close()
        thread.join(timeout=5)
        api.stop()


def _published(stack: Stack, user: str, count: int = 1) -> dict:
    calls = stack.api.wait_for("views.publish", count=count, timeout=15,
                               where=lambda c: c.params.get("user_id") == user)
    view = calls[-1].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def _text(view: dict) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def test_opening_the_home_publishes_my_book_worst_first(stack):
    with stack.engine.begin() as conn:
        record_load(conn, table="accounts", source="import", loaded_at=dt.datetime(2026, 11, 21, 7, 30), rows=3)
    status, took = stack.event(_home_event(CSM))
    assert status == 200 and took < 3
    view = _published(stack, CSM)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    text = _text(view)
    assert "My accounts" in text
    assert "data loaded 2026-11-21 07:30 UTC" in text and "Scores as of 2026-11-22" in text
    # beta (a detractor, no usage) is worse than acme (a promoter, daily usage): worst first
    assert text.index("Beta Ltd") < text.index("Acme Corp")
    assert "Gamma Inc" not in text  # someone else's account
    assert "MRR $1,000.00" in text and "MRR $250.00" in text
    # the rows as rendered from the scoring function (beta 40.9 now vs 78.6 on 2026-10-25, before its detractor
    # of 2026-11-12; acme 90.6 vs 94.8)
    assert "*Beta Ltd* — 41/100 yellow · ↓ -38 in 4 weeks · MRR $250.00 · renews 2027-06-01" in text
    assert "*Acme Corp* — 91/100 green · ↓ -4 in 4 weeks · MRR $1,000.00" in text
    # renewal within 60 days highlighted (2026-11-22 -> 2026-12-10 is 18 days), 2027-06-01 is not
    assert ":date: *renews 2026-12-10 (in 18 days)*" in text
    assert "renews 2027-06-01" in text and "2027-06-01 (in" not in text
    assert "2 accounts" in text
    assert "Team" not in [b.get("text", {}).get("text") for b in view["blocks"] if b["type"] == "header"]
    assert "Personal churn-risk DMs: off" in text


def test_the_messages_tab_does_not_publish(stack):
    stack.event({**_home_event(CSM), "tab": "messages"})
    stack.event(_home_event(OTHER))
    _published(stack, OTHER)
    assert [c.params["user_id"] for c in stack.api.calls("views.publish")] == [OTHER]


def test_no_data_loaded_yet_and_no_accounts_are_said_plainly(stack):
    stack.event(_home_event("U0NOBODY1"))
    text = _text(_published(stack, "U0NOBODY1"))
    assert "no data loaded yet" in text and "You own no customer accounts as of 2026-11-22" in text


def test_a_lead_gets_the_team_view_with_bands_and_at_risk_mrr(stack):
    stack.event(_home_event(LEAD))
    view = _published(stack, LEAD)
    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert headers == ["My accounts", "Team", "Settings"]
    text = _text(view)
    # CSM: acme green, beta yellow and at risk (a detractor on 2026-11-12), MRR 250; OTHER: gamma, no data
    assert (f"<@{CSM}> — 2 customers — :red_circle: 0 :large_yellow_circle: 1 :large_green_circle: 1 — "
            "1 at risk ($250.00 MRR)") in text
    assert (f"<@{OTHER}> — 1 customer — :red_circle: 0 :large_yellow_circle: 0 :large_green_circle: 0 — "
            "0 at risk") in text
    assert text.index(f"<@{CSM}> — 2") < text.index(f"<@{OTHER}> — 1")  # most at-risk MRR first


def test_revenue_is_hidden_from_people_who_may_not_see_it(stack):
    stack.event(_home_event(OTHER))
    text = _text(_published(stack, OTHER))
    assert "Gamma Inc" in text
    assert "MRR" not in text.replace("MRR is hidden", "") and "$" not in text
    assert "MRR is hidden" in text


def test_settings_list_my_channel_subscriptions_and_switch_personal_alerts(stack):
    subs.subscribe(stack.engine, team_id=TEAM, channel_id="C0DIGEST1", kind="digest", weekday=0, at_time="09:00",
                   timezone="UTC", now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), created_by=CSM)
    stack.event(_home_event(CSM))
    assert "<#C0DIGEST1>: digest" in _text(_published(stack, CSM))
    assert stack.click_home(PERSONAL_ALERTS_ACTION, "on", user_id=CSM) == 200
    text = _text(_published(stack, CSM, count=2))
    assert "Personal churn-risk DMs: on" in text
    with stack.engine.connect() as conn:
        row = conn.execute(select(Subscription).where(Subscription.owner_id == CSM)).one()
    assert (row.channel_id, row.kind, row.active) == ("D0CSM0001", "risk", True)
    stack.click_home(PERSONAL_ALERTS_ACTION, "off", user_id=CSM)
    assert "Personal churn-risk DMs: off" in _text(_published(stack, CSM, count=3))


def _open_alert(store, account_id: str) -> int:
    sub = subs.subscribe(store, team_id=TEAM, channel_id="C0RISK001", kind="risk", at_time="08:00",
                         timezone="UTC", now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), created_by=LEAD)
    (plan,) = subs.record_alerts(store, subscription_id=sub.id, channel_id="C0RISK001", today=dt.date(2026, 11, 22),
                                 findings=[subs.RuleFinding(account_id, "detractor", "a detractor NPS response",
                                                            60.0)],
                                 batch="b", claimed_by="test", now=dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC))
    subs.mark_posted(store, plan.delivery_key, message_ts="1764000000.000200",
                     now=dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC))
    return plan.alert_ids[0]


def test_an_open_alert_shows_its_buttons_and_acting_on_it_republishes(stack):
    alert_id = _open_alert(stack.engine, "beta")
    stack.event(_home_event(CSM))
    view = _published(stack, CSM)
    text = _text(view)
    assert "a detractor NPS response" in text and "1 with an open alert" in text
    buttons = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {(b["action_id"], b["value"]) for b in buttons} >= {(ACK_ACTION, str(alert_id))}
    assert stack.click_home(ACK_ACTION, str(alert_id), user_id=CSM) == 200
    text = _text(_published(stack, CSM, count=2))
    assert f"Acknowledged by <@{CSM}>" in text
    assert subs.get_alert(stack.engine, alert_id).state == "acknowledged"
    assert stack.api.calls("response_url") == []  # a Home click has nowhere to answer but the Home


@pytest.fixture
def big_book(store):
    """90 customers of CSM without any data: all unscored, so worst first is by name."""
    load(store, accounts=[account(f"a{i:03d}", name=f"Acct {i:03d}", owner_slack_id=CSM, customer="2025-01-01")
                          for i in range(1, 91)])
    return store


def test_a_big_book_is_paged_within_100_blocks(big_book):
    api, server, thread, stack = _running(big_book)
    try:
        stack.event(_home_event(CSM))
        first = _published(stack, CSM)
        assert len(first["blocks"]) <= 100
        text = _text(first)
        # 78 one-block accounts per page (100 blocks less the 22 kept for the rest of the Home)
        assert "Acct 001" in text and "Acct 078" in text and "Acct 079" not in text
        assert "Page 1 of 2" in text and "Previous page" not in text
        nxt = next(e for b in first["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if e["action_id"] == PAGE_NEXT_ACTION)
        assert nxt["value"] == "2"
        stack.click_home(PAGE_NEXT_ACTION, "2", user_id=CSM)
        second = _text(_published(stack, CSM, count=2))
        assert "Acct 079" in second and "Acct 090" in second and "Acct 078" not in second
        assert "Page 2 of 2" in second and "Next page" not in second
    finally:
        server.close()
        thread.join(timeout=5)
        api.stop()


def test_not_a_risk_from_the_home_asks_for_a_reason_then_the_alert_leaves_the_home(stack):
    from urllib.parse import urlencode

    from bot.render.digest_blocks import DISMISS_ACTION
    from tests.slack_stack import SECRET
    from tests.slack_wire import post, signed_headers

    alert_id = _open_alert(stack.engine, "beta")
    stack.event(_home_event(CSM))
    assert "a detractor NPS response" in _text(_published(stack, CSM))
    stack.click_home(DISMISS_ACTION, str(alert_id), user_id=CSM)
    view = stack.api.wait_for("views.open", timeout=10)[0].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    submission = {
        "type": "view_submission", "team": {"id": TEAM}, "user": {"id": CSM, "team_id": TEAM},
        "api_app_id": "A0TEST", "token": "x", "trigger_id": "1.2.6",
        "view": {"id": "V2", "type": "modal", "callback_id": view["callback_id"],
                 "private_metadata": view["private_metadata"],
                 "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": "renewal signed"}}}}},
    }
    body = urlencode({"payload": json.dumps(submission)})
    assert post(stack.url, body, signed_headers(SECRET, body))[0] == 200
    text = _text(_published(stack, CSM, count=2))
    assert "a detractor NPS response" not in text and "0 with an open alert" in text
    assert subs.get_alert(stack.engine, alert_id).reason == "renewal signed"
    assert stack.api.calls("response_url") == []


def test_the_home_warns_when_the_data_behind_it_is_stale(stack):
    with stack.engine.begin() as conn:  # synced by a source: stale 36 h after its load by default
        record_load(conn, table="accounts", source="crm", loaded_at=dt.datetime(2026, 11, 1, 5, 0), rows=3)
    stack.event(_home_event(CSM))
    text = _text(_published(stack, CSM))
    assert "data loaded 2026-11-01 05:00 UTC" in text
    assert ":warning: stale: accounts was last loaded Sun 01 Nov 05:00" in text


def test_the_trend_arrow_reads_the_snapshot_of_four_weeks_ago_when_there_is_one(book):
    from kpi_core.book import book_of_business
    from storage.snapshots import SnapshotRow, write_snapshots

    # 2026-10-25 = TODAY - 28 days; stored: beta 30 (below its 40.9 now: up), acme absent (no score then: new)
    write_snapshots(book, dt.date(2026, 10, 25), [SnapshotRow(dt.date(2026, 10, 25), "beta", 30.0, "red")], "daily")
    with book.connect() as conn:
        entries = {e.health.account.id: e for e in book_of_business(conn, CSM, TODAY, CONFIG)}
    assert (entries["beta"].score_before, entries["beta"].trend) == (30.0, "up")
    assert (entries["acme"].score_before, entries["acme"].trend) == (None, "new")
