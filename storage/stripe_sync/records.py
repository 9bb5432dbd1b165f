"""The Stripe objects a sync reads, cut down to the fields stripe.md uses (plain values, no library objects).

Timestamps stay Unix seconds (UTC) as Stripe sends them; amounts stay in the currency's minor unit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    id: str
    product_id: str | None
    recurring: bool
    interval: str | None = None  # day, week, month, year
    interval_count: int = 1
    usage_type: str | None = None  # licensed, metered


@dataclass(frozen=True)
class Customer:
    id: str
    account_id: str  # metadata.account_id, else the customer id
    name: str  # name, else email, else id
    created: int


@dataclass(frozen=True)
class Item:
    """One subscription item: its price's billing interval and its current period end."""

    id: str
    interval: str | None
    interval_count: int
    current_period_end: int | None


@dataclass(frozen=True)
class Subscription:
    id: str
    customer_id: str
    status: str
    ended_at: int | None
    canceled_at: int | None
    cancel_at: int | None
    cancel_at_period_end: bool
    items: tuple[Item, ...] = ()


@dataclass(frozen=True)
class Line:
    """One invoice line, with what it needs of its invoice (status, created, id)."""

    id: str
    invoice_id: str
    invoice_created: int
    invoice_status: str
    customer_id: str
    currency: str
    amount: int
    discount: int  # sum of discount_amounts[].amount
    period_start: int
    period_end: int
    parent_type: str | None
    proration: bool
    subscription_id: str | None
    item_id: str | None
    price_id: str | None


@dataclass(frozen=True)
class Invoice:
    id: str
    customer_id: str
    status: str
    created: int
    paid_at: int | None
    amount_paid: int
    currency: str
