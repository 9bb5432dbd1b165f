"""POST /stripe/webhook on the running HTTP app (waitress on loopback), Stripe and Slack stand-ins behind it.

Signatures are made as Stripe makes them (`t=...,v1=HMAC-SHA256(secret, "t.payload")`) and checked by the
`stripe` library; runs on SQLite and Postgres.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, select, update

from bot.app import build_app
from bot.server import make_http_server
from bot.services import Services
from bot.settings import load_slack_settings
from bot.stripe_webhook import StripeWebhook
from storage import subscriptions as subs
from storage.models import Account, Delivery, Invoice, ScheduledCancellation
from storage.stripe_sync import sync_stripe
from storage.stripe_sync.fetch import customer_account, make_client
from tests.jobs_helpers import FakeChannels, SetClock, make_ctx, risk_sub
from tests.slack_stack import CONFIG, SECRET, TODAY, TOKEN
from tests.slack_wire import FakeSlackApi, post
from tests.stripe_wire import scenario
from tests.stripe_wire.builders import Seed, line, ts
from tests.stripe_wire.fake_stripe_api import FakeStripe, template

KEY = "sk_test_csbot"
WHSEC = "whsec_test_secret_for_csbot"


@dataclass
class Wire:
    url: str
    stripe: FakeStripe
    channels: FakeChannels
    store: Engine

    def send(self, event: dict, *, secret: str = WHSEC, age: int = 0) -> tuple[int, str]:
        payload = json.dumps(event)
        stamp = int(time.time()) - age
        signature = hmac.new(secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "Stripe-Signature": f"t={stamp},v1={signature}"}
        return post(f"{self.url}/stripe/webhook", payload, headers)


def event(event_id: str, kind: str, obj: dict) -> dict:
    return template("event", id=event_id, type=kind, data={"object": copy.deepcopy(obj)}, created=ts("2026-03-15"))


@pytest.fixture
def wire(store: Engine) -> Iterator[Wire]:
    fake = FakeStripe(KEY).start()
    scenario.seed(Seed(fake))
    api = FakeSlackApi().start()
    channels = FakeChannels(api)

    def sync_customer(customer: str):
        return sync_stripe(store, api_key=KEY, api_base=fake.url, now=scenario.NOW, currency="usd",
                           currency_rates=scenario.RATES, customer=customer)

    sync_stripe(store, api_key=KEY, api_base=fake.url, now=scenario.NOW, currency="usd",
                currency_rates=scenario.RATES)
    ctx = make_ctx(store, api, SetClock(scenario.NOW))
    webhook = StripeWebhook(ctx, WHSEC, sync_customer, lambda c: customer_account(make_client(KEY, fake.url), c))
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "CSBOT_SLACK_API_URL": api.base_url}
    app = build_app(load_slack_settings(env), Services.create(store, CONFIG, TODAY))
    server = make_http_server(app, store, "127.0.0.1", 0, threads=4, stripe_webhook=webhook)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Wire(f"http://127.0.0.1:{server.effective_port}", fake, channels, store)
    finally:
        # close every channel from inside waitress's own loop, so its select() never sees a closed socket
        server.trigger.pull_trigger(lambda: [c.close() for c in list(server._map.values())])
        thread.join(5)
        api.stop()
        fake.stop()


def _cancellations(store: Engine) -> dict:
    with store.connect() as conn:
        return {r.subscription_id: (r.cancel_on.isoformat(), f"{r.mrr:.2f}")
                for r in conn.execute(select(ScheduledCancellation))}


def test_a_scheduled_cancellation_resyncs_and_warns_each_at_risk_channel_once(wire: Wire) -> None:
    risk_sub(wire.store, "C0RISK001")
    risk_sub(wire.store, "C0RISK002")
    with wire.store.begin() as conn:
        conn.execute(update(Account).where(Account.account_id == "cus_monthly").values(owner_slack_id="U0OWNER01"))
    sub = wire.stripe.objects["subscriptions"]["sub_monthly"]
    sub.update(cancel_at_period_end=True, cancel_at=ts("2026-04-01"))
    status, body = wire.send(event("evt_cancel_1", "customer.subscription.updated", sub))
    assert (status, body) == (200, "ok\n")
    assert _cancellations(wire.store)["sub_monthly"] == ("2026-04-01", "100.00")
    expected = (":warning: <@U0OWNER01> *Monthly Co* (`cus_monthly`): cancellation scheduled for 2026-04-01 "
                "(MRR at stake 100.00) (Stripe subscription `sub_monthly`)")
    for channel in ("C0RISK001", "C0RISK002"):
        assert [m["text"] for m in wire.channels.in_channel(channel)] == [expected]
    # the same event again (Stripe retries until it gets a 2xx): nothing more
    assert wire.send(event("evt_cancel_1", "customer.subscription.updated", sub)) == (200, "already handled\n")
    assert len(wire.channels.in_channel("C0RISK001")) == 1
    # the only requests to Stripe for the event were that customer's
    customers = {q for p, q in wire.stripe.requests if p == "/v1/invoices"}
    assert "limit=100&customer=cus_monthly" in customers


def test_an_ended_subscription_is_warned_and_the_churn_recorded(wire: Wire) -> None:
    risk_sub(wire.store, "C0RISK001")
    sub = wire.stripe.objects["subscriptions"]["sub_upgrade"]
    sub.update(status="canceled", ended_at=ts("2026-03-15T10:00:00"), canceled_at=ts("2026-03-15T10:00:00"))
    assert wire.send(event("evt_end_1", "customer.subscription.deleted", sub)) == (200, "ok\n")
    with wire.store.connect() as conn:
        churned = conn.execute(select(Account.churned_at).where(Account.account_id == "cus_upgrade")).scalar()
    assert churned.isoformat() == "2026-03-15"
    assert [m["text"] for m in wire.channels.in_channel("C0RISK001")] == [
        ":warning: *Growing Co* (`cus_upgrade`): subscription ended on 2026-03-15 (Stripe subscription "
        "`sub_upgrade`)"]


def test_invoice_paid_resyncs_the_customer_without_a_warning(wire: Wire) -> None:
    risk_sub(wire.store, "C0RISK001")
    Seed(wire.stripe).invoice("in_weekly_3", "cus_weekly", "paid", "2026-03-15", [
        line(1000, "2026-03-16", "2026-03-23", "sub_weekly", "si_weekly", "price_w10")])
    paid = wire.stripe.objects["invoices"]["in_weekly_3"]
    assert wire.send(event("evt_paid_1", "invoice.paid", paid)) == (200, "ok\n")
    with wire.store.connect() as conn:
        assert conn.execute(select(Invoice.amount).where(Invoice.invoice_id == "in_weekly_3")).scalar() == 10
    assert wire.channels.in_channel("C0RISK001") == []


def test_bad_stale_or_missing_signatures_get_400_and_change_nothing(wire: Wire) -> None:
    risk_sub(wire.store, "C0RISK001")
    sub = wire.stripe.objects["subscriptions"]["sub_monthly"]
    sub.update(cancel_at_period_end=True, cancel_at=ts("2026-04-01"))
    e = event("evt_bad_1", "customer.subscription.updated", sub)
    assert wire.send(e, secret="whsec_wrong")[0] == 400
    assert wire.send(e, age=600)[0] == 400  # older than the 5-minute tolerance
    assert post(f"{wire.url}/stripe/webhook", json.dumps(e), {"Content-Type": "application/json"})[0] == 400
    assert "sub_monthly" not in _cancellations(wire.store)
    assert wire.channels.in_channel("C0RISK001") == []
    with wire.store.connect() as conn:
        assert conn.execute(select(Delivery.key).where(Delivery.key.like("stripe%"))).all() == []
    # the genuine event afterwards is handled
    assert wire.send(e) == (200, "ok\n")
    assert "sub_monthly" in _cancellations(wire.store)


def test_a_failed_sync_answers_500_and_stripe_retry_is_handled(wire: Wire) -> None:
    risk_sub(wire.store, "C0RISK001")
    sub = wire.stripe.objects["subscriptions"]["sub_monthly"]
    sub.update(cancel_at_period_end=True, cancel_at=ts("2026-04-01"))
    wire.stripe.api_key = "sk_test_rotated"  # csbot's key no longer works
    e = event("evt_retry_1", "customer.subscription.updated", sub)
    assert wire.send(e)[0] == 500
    assert "sub_monthly" not in _cancellations(wire.store)
    assert subs.get_delivery(wire.store, "stripe-event:evt_retry_1").state == "failed"
    wire.stripe.api_key = KEY
    assert wire.send(e) == (200, "ok\n")
    assert len(wire.channels.in_channel("C0RISK001")) == 1


def test_other_events_are_acknowledged_and_ignored(wire: Wire) -> None:
    assert wire.send(template("event", id="evt_plan", type="plan.created")) == (200, "ignored\n")
