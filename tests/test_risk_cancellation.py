"""The scheduled-cancellation churn-risk rule: from the Stripe sync's scheduled_cancellations to at_risk."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Engine, insert

from kpi_core.risk import at_risk, cancellation_rule
from storage.models import ScheduledCancellation
from storage.stripe_sync import sync_stripe
from tests.kpi_helpers import UTC_CONFIG, account, d, load
from tests.stripe_wire import scenario
from tests.stripe_wire.builders import Seed
from tests.stripe_wire.fake_stripe_api import FakeStripe

AS_OF = d("2026-03-20")


def _cancel(sub: str, account_id: str, on: str, mrr: str) -> dict:
    return {"source": "stripe", "subscription_id": sub, "account_id": account_id, "cancel_on": d(on),
            "mrr": Decimal(mrr)}


def test_rule_text() -> None:
    assert cancellation_rule(None) is None
    assert cancellation_rule(dt.date(2026, 4, 1), 180.0).text == \
        "cancellation scheduled for 2026-04-01 (MRR at stake 180.00)"
    assert cancellation_rule(dt.date(2026, 4, 1), 1250.5, 2).text == \
        "2 cancellations scheduled, the first for 2026-04-01 (MRR at stake 1,250.50)"


def test_fires_for_customers_with_a_cancellation_on_or_after_today(store: Engine) -> None:
    load(store, accounts=[account(a, signed="2025-01-01", customer="2025-01-01") for a in ("a", "b", "c", "d")]
         + [account("gone", signed="2025-01-01", customer="2025-01-01", churned="2026-03-01")])
    with store.begin() as conn:
        conn.execute(insert(ScheduledCancellation), [
            _cancel("sub_a1", "a", "2026-04-30", "100.00"), _cancel("sub_a2", "a", "2026-04-01", "20.50"),
            _cancel("sub_b", "b", "2026-03-20", "10.00"),  # today: still ahead
            _cancel("sub_c", "c", "2026-03-19", "10.00"),  # yesterday: no longer scheduled
            _cancel("sub_gone", "gone", "2026-04-01", "10.00"),  # not a customer any more
        ])
        found = {r.health.account.id: [f for f in r.rules if f.id == "cancellation_scheduled"]
                 for r in at_risk(conn, AS_OF, UTC_CONFIG)}
    fired = {a: rules[0].text for a, rules in found.items() if rules}
    assert fired == {"a": "2 cancellations scheduled, the first for 2026-04-01 (MRR at stake 120.50)",
                     "b": "cancellation scheduled for 2026-03-20 (MRR at stake 10.00)"}


def test_a_synced_cancel_at_period_end_puts_the_account_at_risk(store: Engine) -> None:
    fake = FakeStripe("sk_test_csbot").start()
    try:
        scenario.seed(Seed(fake))
        sync_stripe(store, api_key="sk_test_csbot", api_base=fake.url, now=scenario.NOW, currency="usd",
                    currency_rates=scenario.RATES)
    finally:
        fake.stop()
    with store.connect() as conn:
        found = {r.health.account.id: [f.text for f in r.rules if f.id == "cancellation_scheduled"]
                 for r in at_risk(conn, dt.date(2026, 3, 15), UTC_CONFIG)}
    assert {a: t for a, t in found.items() if t} == {
        "cus_cancel_end": ["cancellation scheduled for 2026-04-01 (MRR at stake 180.00)"]}
