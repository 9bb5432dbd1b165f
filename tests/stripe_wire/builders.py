"""Seeding the Stripe stand-in with objects shaped like the API's (from Stripe's fixtures), by hand."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from tests.stripe_wire.fake_stripe_api import FakeStripe, template


def ts(text: str) -> int:
    """Unix seconds of an ISO date or date-time in UTC ('2026-03-01' or '2026-03-15T12:00:00')."""
    value = dt.datetime.fromisoformat(text)
    return calendar.timegm(value.timetuple())


class Seed:
    def __init__(self, fake: FakeStripe) -> None:
        self.fake = fake
        self.prices: dict[str, dict] = {}

    def product(self, pid: str, name: str) -> None:
        self.fake.add("products", template("product", id=pid, name=name, created=ts("2025-01-01")))

    def price(self, pid: str, product: str, amount: int, interval: str | None = "month", count: int = 1,
              usage: str = "licensed", currency: str = "usd") -> None:
        recurring = None if interval is None else {
            "interval": interval, "interval_count": count, "meter": None, "usage_type": usage,
            "trial_period_days": None}
        price = template("price", id=pid, product=product, unit_amount=amount, unit_amount_decimal=str(amount),
                         currency=currency, recurring=recurring, type="recurring" if recurring else "one_time",
                         created=ts("2025-01-01"))
        self.prices[pid] = price
        self.fake.add("prices", price)

    def customer(self, cid: str, created: str, name: str | None = None, email: str | None = None,
                 account_id: str | None = None, currency: str = "usd") -> None:
        self.fake.add("customers", template(
            "customer", id=cid, created=ts(created), name=name, email=email, currency=currency,
            metadata={"account_id": account_id} if account_id else {}, discount=None))

    def subscription(self, sid: str, customer: str, created: str, items: list[tuple[str, str, str]],
                     status: str = "active", ended_at: str | None = None, canceled_at: str | None = None,
                     cancel_at: str | None = None, cancel_at_period_end: bool = False) -> None:
        """`items`: (item id, price id, current period end)."""
        self.fake.add("subscriptions", template(
            "subscription", id=sid, customer=customer, created=ts(created), start_date=ts(created), status=status,
            ended_at=_maybe(ended_at), canceled_at=_maybe(canceled_at), cancel_at=_maybe(cancel_at),
            cancel_at_period_end=cancel_at_period_end, trial_end=None, trial_start=None, discounts=[],
            pending_update=None, latest_invoice=None))
        built = []
        for item_id, price_id, period_end in items:
            price = self.fake.objects["prices"][price_id]
            item = template("subscription_item", id=item_id, subscription=sid, price=price,
                            current_period_end=ts(period_end), current_period_start=ts(created), quantity=1)
            item["plan"] = None
            built.append(item)
        self.fake.set_items(sid, built)

    def invoice(self, iid: str, customer: str, status: str, created: str, lines: list[dict],
                currency: str = "usd", paid_at: str | None = None, amount_paid: int | None = None,
                subscription: str | None = None) -> None:
        total = sum(li["amount"] - sum(d["amount"] for d in li["discount_amounts"] or []) for li in lines)
        paid = (total if status == "paid" else 0) if amount_paid is None else amount_paid
        for li in lines:
            li["invoice"] = iid
        self.fake.add("invoices", template(
            "invoice", id=iid, customer=customer, status=status, created=ts(created), currency=currency,
            amount_due=total, amount_paid=paid, amount_remaining=total - paid, subtotal=total, total=total,
            status_transitions={"finalized_at": None, "marked_uncollectible_at": None,
                                "paid_at": ts(paid_at) if paid_at else (ts(created) if status == "paid" else None),
                                "voided_at": None},
            parent={"type": "subscription_details", "quote_details": None,
                    "subscription_details": {"metadata": None, "subscription": subscription}}))
        self.fake.set_lines(iid, lines)


_line_counter = iter(range(1, 1_000_000))


def line(amount: int, start: str, end: str, sub: str, item: str, price: str, *, proration: bool = False,
         discounts: tuple[int, ...] = (), currency: str = "usd", product: str | None = None,
         kind: str = "subscription_item_details") -> dict[str, Any]:
    """One invoice line in the current API shape (parent.subscription_item_details, pricing.price_details)."""
    n = next(_line_counter)
    obj = template("line_item", id=f"il_{n:06d}", amount=amount, currency=currency, quantity=1,
                   period={"start": ts(start), "end": ts(end)}, subtotal=amount,
                   discount_amounts=[{"amount": d, "discount": f"di_{n}_{i}"} for i, d in enumerate(discounts)])
    details = {"invoice_item": None, "proration": proration, "proration_details": {"credited_items": None},
               "subscription": sub, "subscription_item": item}
    if kind == "subscription_item_details":
        obj["parent"] = {"type": kind, "subscription_item_details": details, "invoice_item_details": None}
    else:
        obj["parent"] = {"type": "invoice_item_details", "subscription_item_details": None,
                         "invoice_item_details": {"invoice_item": f"ii_{n}", "proration": proration,
                                                  "proration_details": None, "subscription": sub}}
    obj["pricing"] = {"type": "price_details", "price_details": {"price": price, "product": product or "prod_x"},
                      "unit_amount_decimal": str(amount)}
    return obj


def _maybe(text: str | None) -> int | None:
    return ts(text) if text else None
