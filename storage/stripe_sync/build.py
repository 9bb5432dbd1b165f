"""From what Stripe returned to data-contract rows: counted lines, revenue, invoices, accounts (stripe.md).

Pure: no database, no network. Every problem (a missing rate, a price Stripe did not list, a row that
breaks the data contract) is collected and raised at once as a SyncError.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from storage.csv_rules import RowPlan, file_specs
from storage.stripe_sync.accounts import OWNED_COLUMNS, ScheduledCancellation, account_facts, scheduled_cancellations
from storage.stripe_sync.fetch import StripeData
from storage.stripe_sync.mrr import (
    LEFT_OUT_ONE_OFF,
    CountedLine,
    covering_lines,
    left_out_reason,
    minor_units,
    monthly_amount,
    rate_for,
    revenue_rows,
    round_cents,
    utc_date,
)
from storage.sync_report import SyncError

SHOWN_INVOICES = 20
ACCOUNT_HEADER = ("account_id", *OWNED_COLUMNS)
REVENUE_HEADER = ("account_id", "month", "product", "mrr")
INVOICE_HEADER = ("invoice_id", "account_id", "issued_at", "amount")


@dataclass
class Rows:
    """Validated rows, as the importer would write them, keyed by their natural key."""

    accounts: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    revenue: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    cancellations: list[ScheduledCancellation] = field(default_factory=list)
    left_out: Counter = field(default_factory=Counter)


def build_rows(data: StripeData, *, now: int, currency: str, rates: Mapping[str, Decimal],
               source: str = "stripe") -> Rows:
    """The rows a sync writes, validated like `csbot import`; SyncError lists every problem."""
    problems: list[str] = []
    account_of = {c.id: c.account_id for c in data.customers}
    ended = {s.id: s.ended_at for s in data.subscriptions}
    missing_rate: dict[str, set[str]] = defaultdict(set)
    out = Rows()
    counted: list[CountedLine] = []
    for line in data.lines:
        price = data.prices.get(line.price_id) if line.price_id else None
        reason = left_out_reason(line, price)
        if reason == LEFT_OUT_ONE_OFF and line.price_id and price is None:  # it would count, but on what price?
            problems.append(f"{source}:invoices:{line.invoice_id}: line {line.id}: price {line.price_id} is not in "
                            "Stripe's price list (GET /v1/prices); check the key can read prices")
            continue
        if reason is not None:
            out.left_out[reason] += 1
            continue
        if line.customer_id not in account_of:
            out.left_out["customer not found"] += 1
            continue
        rate = rate_for(line.currency, currency, rates)
        if rate is None:
            missing_rate[line.currency].add(line.invoice_id)
            continue
        assert price is not None
        product = data.products.get(price.product_id or "", price.product_id or "core")
        counted.append(CountedLine(line, account_of[line.customer_id], product,
                                   monthly_amount(line, price) * rate, ended.get(line.subscription_id or "")))
    invoice_cells = []
    for inv in data.invoices:
        if inv.status != "paid" or inv.amount_paid <= 0 or inv.customer_id not in account_of:
            continue
        rate = rate_for(inv.currency, currency, rates)
        if rate is None:
            missing_rate[inv.currency].add(inv.id)
            continue
        amount = round_cents(Fraction(inv.amount_paid, minor_units(inv.currency)) * rate)
        invoice_cells.append([inv.id, account_of[inv.customer_id], utc_date(inv.paid_at or inv.created).isoformat(),
                              str(amount)])
    for code, invoices in sorted(missing_rate.items()):
        shown = sorted(invoices)[:SHOWN_INVOICES]
        more = f" and {len(invoices) - len(shown)} more" if len(invoices) > len(shown) else ""
        problems.append(
            f"{source}: no rate for {code.upper()} in currency_rates (reporting currency {currency.upper()}); add "
            f"`currency_rates: {{{code}: RATE}}` (units of {currency.upper()} per {code.upper()}) to the KPI "
            f"settings file; invoices that need it: {', '.join(shown)}{more}"
        )
    if problems:
        raise SyncError(problems)
    chosen = covering_lines(counted, now)
    facts = account_facts(data.customers, data.subscriptions, counted, now)
    specs = file_specs(ZoneInfo("UTC"))
    out.accounts = _validated(specs["accounts"], ACCOUNT_HEADER, (
        [f.account_id, f.name, *(_day(getattr(f, c)) for c in OWNED_COLUMNS[1:])] for f in facts.values()
    ), source, problems)
    out.revenue = _validated(specs["revenue"], REVENUE_HEADER, (
        [account, month.strftime("%Y-%m"), product, str(mrr)]
        for (account, month, product), mrr in sorted(revenue_rows(chosen).items())
    ), source, problems)
    out.invoices = _validated(specs["invoices"], INVOICE_HEADER, invoice_cells, source, problems)
    if problems:
        raise SyncError(problems)
    out.cancellations = scheduled_cancellations(data.subscriptions, account_of, chosen, now)
    return out


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _validated(spec, header: tuple[str, ...], rows, source: str, problems: list[str]) -> dict[tuple, dict]:
    """Each row through the import's own parsers and rules; key -> column values (only `header`'s columns)."""
    plan = RowPlan(spec, list(header))
    out: dict[tuple, dict] = {}
    for cells in rows:
        values, row_problems = plan.parse(cells)
        row = dict(zip(spec.names, values, strict=True))
        key = tuple(row[k] for k in spec.key)
        label = ":".join(str(c) for c in cells[: len(spec.key)])
        for column, what in row_problems:
            problems.append(f"{source}:{spec.kind}:{label}: {column}: {what}" if column
                            else f"{source}:{spec.kind}:{label}: {what}")
        if not row_problems:
            out[key] = {name: row[name] for name in header}
    return out
