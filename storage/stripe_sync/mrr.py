"""MRR from Stripe invoice lines (shared/spec/stripe.md), as pure functions on plain records.

Amounts are kept as exact fractions until a revenue row is complete, then rounded half-up to cents once
(a weekly price's monthly amount, x 52 / 12, is not a finite decimal).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from storage.stripe_sync.records import Line, Price

ZERO_DECIMAL = frozenset(
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"]
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
COUNTED_STATUSES = frozenset({"paid", "open"})
MONTHS_PER = {"month": Fraction(1), "year": Fraction(12), "week": Fraction(12, 52), "day": Fraction(12, 365)}

# Why a line is left out (the sync report counts each reason).
LEFT_OUT_STATUS = "invoice {status}"
LEFT_OUT_NOT_SUBSCRIPTION = "not a subscription line"
LEFT_OUT_PRORATION = "proration"
LEFT_OUT_ONE_OFF = "one-off price"
LEFT_OUT_METERED = "metered price"


def minor_units(currency: str) -> int:
    """How many minor units make one unit of `currency` (100, 1 for JPY and the like, 1000 for KWD...)."""
    code = currency.lower()
    if code in ZERO_DECIMAL:
        return 1
    if code in THREE_DECIMAL:
        return 1000
    return 100


def interval_months(interval: str, count: int) -> Fraction:
    """A price's billing interval in months: count x {month 1, year 12, week 12/52, day 12/365}."""
    return count * MONTHS_PER[interval]


def left_out_reason(line: Line, price: Price | None) -> str | None:
    """Why `line` does not count towards MRR, or None when it counts (stripe.md 'An invoice line counts')."""
    if line.invoice_status not in COUNTED_STATUSES:
        return LEFT_OUT_STATUS.format(status=line.invoice_status)
    if line.parent_type != "subscription_item_details":
        return LEFT_OUT_NOT_SUBSCRIPTION
    if line.proration:
        return LEFT_OUT_PRORATION
    if price is None or not price.recurring or price.interval not in MONTHS_PER:
        return LEFT_OUT_ONE_OFF
    if price.usage_type != "licensed":
        return LEFT_OUT_METERED
    return None


def monthly_amount(line: Line, price: Price) -> Fraction:
    """(amount - discounts) / interval in months, in major units of the line's currency."""
    net = Fraction(line.amount - line.discount, minor_units(line.currency))
    return net / interval_months(price.interval or "month", price.interval_count)


def rate_for(currency: str, reporting: str, rates: Mapping[str, Decimal]) -> Fraction | None:
    """Units of the reporting currency per unit of `currency`; None when no rate is given."""
    code = currency.lower()
    if code == reporting.lower():
        return Fraction(1)
    for key, value in rates.items():
        if key.lower() == code:
            return Fraction(value)
    return None


def round_cents(value: Fraction) -> Decimal:
    """Half-up (away from zero) to cents, exactly."""
    sign = -1 if value < 0 else 1
    cents = (abs(value) * 100 + Fraction(1, 2)).__floor__()
    return Decimal(sign * cents).scaleb(-2)


def utc_date(ts: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts, dt.UTC).date()


def month_of(ts: int) -> dt.date:
    return utc_date(ts).replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=calendar.monthrange(month.year, month.month)[1])).replace(day=1)


def _epoch(day: dt.date) -> int:
    return calendar.timegm(day.timetuple())


def month_moment(month: dt.date, now: int) -> int:
    """T of month M: its last second in UTC, or the sync's moment for the month containing it."""
    if month == month_of(now):
        return now
    return _epoch(next_month(month)) - 1


@dataclass(frozen=True)
class CountedLine:
    """A line that counts, with its monthly amount in the reporting currency and where it belongs."""

    line: Line
    account_id: str
    product: str
    monthly: Fraction
    ended_at: int | None  # its subscription's ended_at


def covers(c: CountedLine, month: dt.date, now: int) -> bool:
    """The line covers M: period.start <= T < period.end, and T < ended_at when its subscription ended."""
    t = month_moment(month, now)
    if not c.line.period_start <= t < c.line.period_end:
        return False
    return c.ended_at is None or t < c.ended_at


def months_covered(c: CountedLine, now: int) -> list[dt.date]:
    """Every month up to the month of `now` that the line covers."""
    out = []
    month = month_of(c.line.period_start)
    last = min(month_of(max(c.line.period_end - 1, c.line.period_start)), month_of(now))
    while month <= last:
        if covers(c, month, now):
            out.append(month)
        month = next_month(month)
    return out


def _precedence(c: CountedLine) -> tuple:
    """Among lines of one item covering a month, the greatest wins: latest start, invoice created last, id."""
    return (c.line.period_start, c.line.invoice_created, c.line.invoice_id)


def covering_lines(counted: Iterable[CountedLine], now: int) -> dict[tuple[str, dt.date], CountedLine]:
    """(subscription item, month) -> the one line that counts for it (overlaps counted once)."""
    chosen: dict[tuple[str, dt.date], CountedLine] = {}
    for c in counted:
        item = c.line.item_id or f"line:{c.line.id}"
        for month in months_covered(c, now):
            key = (item, month)
            held = chosen.get(key)
            if held is None or _precedence(c) > _precedence(held):
                chosen[key] = c
    return chosen


def revenue_rows(chosen: Mapping[tuple[str, dt.date], CountedLine]) -> dict[tuple[str, dt.date, str], Decimal]:
    """(account, month, product) -> MRR rounded to cents once per row; rows summing to 0 are left out."""
    sums: dict[tuple[str, dt.date, str], Fraction] = defaultdict(Fraction)
    for (_item, month), c in chosen.items():
        sums[(c.account_id, month, c.product)] += c.monthly
    out = {}
    for key, total in sums.items():
        rounded = round_cents(total)
        if rounded != 0:
            out[key] = rounded
    return out


def subscription_mrr(chosen: Mapping[tuple[str, dt.date], CountedLine], month: dt.date) -> dict[str, Fraction]:
    """subscription id -> its MRR in `month` (the MRR at stake when it is set to cancel)."""
    out: dict[str, Fraction] = defaultdict(Fraction)
    for (_item, m), c in chosen.items():
        if m == month and c.line.subscription_id:
            out[c.line.subscription_id] += c.monthly
    return dict(out)
