"""The MRR rules of stripe.md as pure functions, on numbers worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from storage.stripe_sync.accounts import is_cancel_scheduled
from storage.stripe_sync.mrr import (
    CountedLine,
    covering_lines,
    covers,
    interval_months,
    left_out_reason,
    minor_units,
    month_moment,
    monthly_amount,
    rate_for,
    revenue_rows,
    round_cents,
)
from storage.stripe_sync.records import Line, Price, Subscription
from tests.stripe_wire.builders import ts

MONTHLY = Price("price_m", "prod", True, "month", 1, "licensed")


def _line(amount=1000, start="2026-03-01", end="2026-04-01", *, lid="il_1", invoice="in_1", created=None,
          status="paid", currency="usd", discount=0, item="si_1", proration=False,
          parent="subscription_item_details") -> Line:
    return Line(lid, invoice, ts(created or start), status, "cus_1", currency, amount, discount, ts(start), ts(end),
                parent, proration, "sub_1", item, "price_m")


def _counted(line: Line, monthly: Fraction = Fraction(10), account="A", product="Core", ended=None) -> CountedLine:
    return CountedLine(line, account, product, monthly, ended)


@pytest.mark.parametrize(("currency", "units"), [("usd", 100), ("EUR", 100), ("jpy", 1), ("KRW", 1), ("kwd", 1000),
                                                 ("tnd", 1000), ("xpf", 1)])
def test_minor_units_per_currency(currency: str, units: int) -> None:
    assert minor_units(currency) == units


def test_interval_months() -> None:
    assert interval_months("month", 1) == 1
    assert interval_months("month", 3) == 3
    assert interval_months("month", 12) == 12
    assert interval_months("year", 1) == 12
    assert interval_months("week", 1) == Fraction(12, 52)
    assert interval_months("week", 2) == Fraction(24, 52)
    assert interval_months("day", 30) == Fraction(360, 365)


def test_monthly_amount_divides_net_amount_by_the_interval_in_months() -> None:
    # $1,200 a year with $300 off: 900 / 12 = 75
    assert monthly_amount(_line(120000, discount=30000), Price("p", "x", True, "year", 1, "licensed")) == 75
    # $10 a week: 10 x 52 / 12 = 43.333..., rounded once at the end
    weekly = monthly_amount(_line(1000), Price("p", "x", True, "week", 1, "licensed"))
    assert weekly == Fraction(130, 3)
    assert round_cents(weekly) == Decimal("43.33")
    # 3,000 yen a quarter: 1,000 yen a month (zero-decimal currency)
    assert monthly_amount(_line(3000, currency="jpy"), Price("p", "x", True, "month", 3, "licensed")) == 1000
    # 12.345 KWD a month: three-decimal currency
    assert monthly_amount(_line(12345, currency="kwd"), MONTHLY) == Fraction(12345, 1000)


@pytest.mark.parametrize(("value", "cents"), [
    (Fraction(5, 1000), "0.01"), (Fraction(4999, 1000000), "0.00"), (Fraction(2675, 1000), "2.68"),
    (Fraction(-5, 1000), "-0.01"), (Fraction(100), "100.00"), (Fraction(130, 3), "43.33"), (Fraction(200, 3), "66.67"),
])
def test_round_cents_half_up(value: Fraction, cents: str) -> None:
    assert round_cents(value) == Decimal(cents)


def test_left_out_reasons() -> None:
    assert left_out_reason(_line(), MONTHLY) is None
    assert left_out_reason(_line(status="open"), MONTHLY) is None
    assert left_out_reason(_line(status="void"), MONTHLY) == "invoice void"
    assert left_out_reason(_line(status="draft"), MONTHLY) == "invoice draft"
    assert left_out_reason(_line(status="uncollectible"), MONTHLY) == "invoice uncollectible"
    assert left_out_reason(_line(parent="invoice_item_details"), MONTHLY) == "not a subscription line"
    assert left_out_reason(_line(proration=True), MONTHLY) == "proration"
    assert left_out_reason(_line(), Price("p", "x", False)) == "one-off price"
    assert left_out_reason(_line(), Price("p", "x", True, "month", 1, "metered")) == "metered price"


def test_rates_are_case_insensitive_and_the_reporting_currency_needs_none() -> None:
    rates = {"EUR": Decimal("1.08")}
    assert rate_for("eur", "usd", rates) == Fraction(108, 100)
    assert rate_for("USD", "usd", {}) == 1
    assert rate_for("gbp", "usd", rates) is None


def test_month_moment_is_the_last_second_of_the_month_or_now_in_the_current_month() -> None:
    now = ts("2026-03-15T12:00:00")
    assert month_moment(dt.date(2026, 2, 1), now) == ts("2026-02-28T23:59:59")
    assert month_moment(dt.date(2025, 12, 1), now) == ts("2025-12-31T23:59:59")
    assert month_moment(dt.date(2026, 3, 1), now) == now


def test_covers_uses_half_open_periods_and_the_subscription_end() -> None:
    now = ts("2026-03-15T12:00:00")
    feb = dt.date(2026, 2, 1)
    assert covers(_counted(_line(start="2026-02-01", end="2026-03-01")), feb, now)
    assert not covers(_counted(_line(start="2026-02-01", end="2026-02-28T23:59:59")), feb, now)  # end excluded
    assert covers(_counted(_line(start="2026-02-28T23:59:59", end="2026-03-28")), feb, now)  # start included
    ended_before = _counted(_line(start="2026-02-01", end="2026-03-01"), ended=ts("2026-02-10"))
    assert not covers(ended_before, feb, now)
    ended_at_t = _counted(_line(start="2026-02-01", end="2026-03-01"), ended=ts("2026-02-28T23:59:59"))
    assert not covers(ended_at_t, feb, now)
    assert covers(_counted(_line(start="2026-03-15T12:00:00", end="2026-04-15")), dt.date(2026, 3, 1), now)
    assert not covers(_counted(_line(start="2026-03-15T12:00:01", end="2026-04-15")), dt.date(2026, 3, 1), now)


def test_overlapping_lines_of_one_item_count_once_latest_start_then_latest_invoice_then_larger_id() -> None:
    now = ts("2026-03-15T12:00:00")
    feb = dt.date(2026, 2, 1)
    old = _counted(_line(start="2026-02-01", end="2026-03-01", lid="il_a", invoice="in_a"), Fraction(100))
    reset = _counted(_line(start="2026-02-15", end="2026-03-15", lid="il_b", invoice="in_b"), Fraction(300))
    chosen = covering_lines([reset, old], now)
    assert chosen[("si_1", feb)] is reset
    assert revenue_rows(chosen)[("A", feb, "Core")] == Decimal("300.00")
    # same start: the invoice created last wins; same creation: the larger invoice id
    first = _counted(_line(start="2026-02-01", end="2026-03-01", invoice="in_a", created="2026-02-01"), Fraction(1))
    later = _counted(_line(start="2026-02-01", end="2026-03-01", invoice="in_0", created="2026-02-02"), Fraction(2))
    assert covering_lines([later, first], now)[("si_1", feb)] is later
    small = _counted(_line(start="2026-02-01", end="2026-03-01", invoice="in_a"), Fraction(1))
    large = _counted(_line(start="2026-02-01", end="2026-03-01", invoice="in_b"), Fraction(2))
    assert covering_lines([large, small], now)[("si_1", feb)] is large
    # different items are both counted
    other = _counted(_line(start="2026-02-01", end="2026-03-01", item="si_2"), Fraction(5))
    assert revenue_rows(covering_lines([old, other], now))[("A", feb, "Core")] == Decimal("105.00")


def test_revenue_rows_round_once_per_row_and_leave_out_zero_sums() -> None:
    now = ts("2026-03-15T12:00:00")
    mar = dt.date(2026, 3, 1)
    thirds = [_counted(_line(item=f"si_{i}"), Fraction(1, 3)) for i in range(3)]  # 3 x 0.333... = 1.00, not 0.99
    trial = _counted(_line(item="si_t"), Fraction(0), account="B")
    rows = revenue_rows(covering_lines([*thirds, trial], now))
    assert rows == {("A", mar, "Core"): Decimal("1.00")}


def test_a_subscription_set_to_cancel() -> None:
    now = ts("2026-03-15T12:00:00")
    base = dict(id="sub", customer_id="c", ended_at=None, canceled_at=None)
    assert is_cancel_scheduled(Subscription(status="active", cancel_at=None, cancel_at_period_end=True, **base), now)
    assert is_cancel_scheduled(Subscription(status="active", cancel_at=ts("2026-04-01"), cancel_at_period_end=False,
                                            **base), now)
    assert not is_cancel_scheduled(Subscription(status="active", cancel_at=ts("2026-03-01"),
                                                cancel_at_period_end=False, **base), now)
    assert not is_cancel_scheduled(Subscription(status="canceled", cancel_at=None, cancel_at_period_end=True,
                                                **base), now)
