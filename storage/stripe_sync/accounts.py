"""Which account each Stripe customer is, and the account columns Stripe owns (stripe.md)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from storage.stripe_sync.mrr import CountedLine, month_of, round_cents, subscription_mrr, utc_date
from storage.stripe_sync.records import Customer, Subscription

LIVE_STATUSES = frozenset({"active", "past_due", "trialing", "unpaid", "paused"})
RENEWING_STATUSES = frozenset({"active", "past_due"})
OWNED_COLUMNS = ("name", "signed_up_at", "became_customer_at", "churned_at", "renewal_date")
"""The accounts columns a Stripe sync writes; segment, owner and the rest are never touched."""


@dataclass(frozen=True)
class AccountFacts:
    account_id: str
    name: str
    signed_up_at: dt.date
    became_customer_at: dt.date | None
    churned_at: dt.date | None
    renewal_date: dt.date | None

    def owned(self) -> dict:
        return {c: getattr(self, c) for c in OWNED_COLUMNS}


@dataclass(frozen=True)
class ScheduledCancellation:
    """A live subscription set to cancel (cancel_at_period_end, or a cancel_at in the future)."""

    subscription_id: str
    account_id: str
    cancel_on: dt.date
    mrr: Decimal  # the subscription's MRR in the month of the sync, reporting currency


def _bills_yearly(interval: str | None, count: int) -> bool:
    return (interval == "year" and count == 1) or (interval == "month" and count == 12)


def is_cancel_scheduled(sub: Subscription, now: int) -> bool:
    if sub.status not in LIVE_STATUSES:
        return False
    return sub.cancel_at_period_end or (sub.cancel_at is not None and sub.cancel_at > now)


def account_facts(
    customers: Iterable[Customer], subscriptions: Iterable[Subscription], counted: Iterable[CountedLine], now: int
) -> dict[str, AccountFacts]:
    """account id -> the columns Stripe owns; customers sharing a metadata.account_id are one account."""
    by_account: dict[str, list[Customer]] = defaultdict(list)
    account_of: dict[str, str] = {}
    for c in customers:
        by_account[c.account_id].append(c)
        account_of[c.id] = c.account_id
    first_paid: dict[str, int] = {}
    for c in counted:
        if c.monthly > 0:
            held = first_paid.get(c.account_id)
            if held is None or c.line.period_start < held:
                first_paid[c.account_id] = c.line.period_start
    subs: dict[str, list[Subscription]] = defaultdict(list)
    for s in subscriptions:
        if s.customer_id in account_of:
            subs[account_of[s.customer_id]].append(s)
    out = {}
    for account_id, members in by_account.items():
        earliest = min(members, key=lambda c: (c.created, c.id))
        became = utc_date(first_paid[account_id]) if account_id in first_paid else None
        out[account_id] = AccountFacts(
            account_id, earliest.name, utc_date(earliest.created), became,
            _churned_at(subs[account_id]) if became else None, _renewal(subs[account_id], now),
        )
    return out


def _churned_at(subs: list[Subscription]) -> dt.date | None:
    """The latest end (ended_at, else canceled_at) when no subscription is live; None otherwise."""
    if any(s.status in LIVE_STATUSES for s in subs):
        return None
    ends = [s.ended_at or s.canceled_at for s in subs if (s.ended_at or s.canceled_at)]
    return utc_date(max(ends)) if ends else None


def _renewal(subs: list[Subscription], now: int) -> dt.date | None:
    """The earliest current_period_end of yearly items of active/past_due subscriptions not set to cancel."""
    ends = [
        item.current_period_end
        for s in subs
        if s.status in RENEWING_STATUSES and not is_cancel_scheduled(s, now)
        for item in s.items
        if item.current_period_end is not None and _bills_yearly(item.interval, item.interval_count)
    ]
    return utc_date(min(ends)) if ends else None


def scheduled_cancellations(
    subscriptions: Iterable[Subscription], account_of: Mapping[str, str],
    chosen: Mapping[tuple[str, dt.date], CountedLine], now: int,
) -> list[ScheduledCancellation]:
    """Every live subscription set to cancel, with its date and MRR at stake (this month's)."""
    at_stake = subscription_mrr(chosen, month_of(now))
    out = []
    for s in subscriptions:
        if not is_cancel_scheduled(s, now) or s.customer_id not in account_of:
            continue
        when = s.cancel_at
        if when is None:
            ends = [i.current_period_end for i in s.items if i.current_period_end is not None]
            when = min(ends) if ends else now
        out.append(ScheduledCancellation(s.id, account_of[s.customer_id], utc_date(when),
                                         round_cents(at_stake.get(s.id, Fraction(0)))))
    return sorted(out, key=lambda x: x.subscription_id)
