"""Time and peak memory of `sync_stripe` over a generated Stripe account (not a test).

    nice -n 10 .venv/bin/python bench/stripe_bench.py --customers 10000 --months 24 [--db URL]

The Stripe stand-in of the tests (tests/stripe_wire/fake_stripe_api.py) runs in a child process and serves a
generated account: `--customers` customers, each with one subscription billed monthly for `--months` months
(every 10th yearly instead, every 7th monthly one with a second, add-on item, every 20th cancelled in the last quarter,
every 9th in EUR), so about customers x months invoices, each with its lines, objects built from Stripe's
fixtures. The sync (in this process) reads it all through the `stripe` library and writes a fresh store
(default: a temporary SQLite file; `--db` for Postgres, whose schema must be empty). Printed: the first sync's
time and this process's peak RSS, the second (nothing new) sync's time, the rows written, and a check of the
last month's MRR against the generator's own sum.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from tests.stripe_wire.fake_stripe_api import FakeStripe, template  # noqa: E402

KEY = "sk_test_bench"
NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)
RATES = {"eur": Decimal("1.08")}
# price id -> (unit amount in cents, interval, currency, product)
PRICES = {
    "price_basic": (2900, "month", "usd", "prod_core"), "price_team": (9900, "month", "usd", "prod_core"),
    "price_business": (19900, "month", "usd", "prod_core"), "price_yearly": (99000, "year", "usd", "prod_core"),
    "price_eur": (4900, "month", "eur", "prod_core"), "price_addon": (1500, "month", "usd", "prod_addon"),
}


def _epoch(year: int, month: int) -> int:
    return calendar.timegm((year, month, 1, 0, 0, 0))


def _month(n: int, months: int) -> tuple[int, int]:
    """The n-th billed month (0 = the first of `months` ending with NOW's month)."""
    index = NOW.year * 12 + NOW.month - 1 - (months - 1) + n
    return index // 12, index % 12 + 1


class GeneratedStripe(FakeStripe):
    """The stand-in serving a generated account: objects built on request, ids listed newest first."""

    def __init__(self, customers: int, months: int) -> None:
        super().__init__(KEY)
        self.n, self.months = customers, months
        self.templates = {k: template(k) for k in ("customer", "subscription", "subscription_item", "invoice",
                                                    "line_item", "price", "product")}
        invoices = []  # (created, id)
        for c in range(customers):
            for m in self._billed_months(c):
                y, mo = _month(m, months)
                invoices.append((_epoch(y, mo) + c, f"in_{c:06d}_{m:02d}"))
        invoices.sort(key=lambda x: (-x[0], x[1]))
        self.lists = {
            "customers": [f"cus_{c:06d}" for c in reversed(range(customers))],
            "subscriptions": [f"sub_{c:06d}" for c in reversed(range(customers))],
            "invoices": [i for _, i in invoices],
            "prices": sorted(PRICES), "products": ["prod_addon", "prod_core"],
        }
        self.positions = {k: {oid: n for n, oid in enumerate(ids)} for k, ids in self.lists.items()}

    def _plan(self, c: int) -> str:
        if c % 10 == 0:
            return "price_yearly"
        if c % 9 == 0:
            return "price_eur"
        return ("price_basic", "price_team", "price_business")[c % 3]

    def _billed_months(self, c: int) -> list[int]:
        last = self.months - 4 if c % 20 == 0 else self.months - 1  # every 20th cancelled in the last quarter
        step = 12 if self._plan(c) == "price_yearly" else 1
        return list(range(0, last + 1, step))

    def ordered_ids(self, kind: str) -> list[str]:
        return self.lists[kind]

    def position(self, kind: str, oid: str) -> int | None:
        return self.positions[kind].get(oid)

    def get_object(self, kind: str, oid: str) -> dict | None:
        if oid not in self.positions[kind]:
            return None
        t = dict(self.templates[{"customers": "customer", "subscriptions": "subscription",
                                          "invoices": "invoice", "prices": "price", "products": "product"}[kind]])
        if kind == "products":
            t.update(id=oid, name="Core" if oid == "prod_core" else "Add-on")
        elif kind == "prices":
            amount, interval, currency, product = PRICES[oid]
            t.update(id=oid, unit_amount=amount, unit_amount_decimal=str(amount), currency=currency, product=product,
                     recurring={"interval": interval, "interval_count": 1, "meter": None, "usage_type": "licensed",
                                "trial_period_days": None})
        elif kind == "customers":
            c = int(oid[4:])
            t.update(id=oid, name=f"Customer {c}", created=_epoch(*_month(0, self.months)) - 86400 * 10 + c,
                     metadata={}, discount=None)
        elif kind == "subscriptions":
            c = int(oid[4:])
            billed = self._billed_months(c)
            y, mo = _month(billed[0], self.months)
            ended = c % 20 == 0
            end_y, end_mo = _month(billed[-1] + 1, self.months)
            t.update(id=oid, customer=f"cus_{c:06d}", created=_epoch(y, mo), status="canceled" if ended else "active",
                     ended_at=_epoch(end_y, end_mo) if ended else None, canceled_at=_epoch(end_y, end_mo) if ended
                     else None, cancel_at=None, cancel_at_period_end=False, pending_update=None)
        else:
            c, m = int(oid[3:9]), int(oid[10:])
            lines = self.invoice_lines(oid)
            total = sum(li["amount"] for li in lines)
            y, mo = _month(m, self.months)
            t.update(id=oid, customer=f"cus_{c:06d}", status="paid", created=_epoch(y, mo) + c,
                     currency=PRICES[self._plan(c)][2], amount_due=total, amount_paid=total, amount_remaining=0,
                     total=total, subtotal=total,
                     status_transitions={"finalized_at": None, "marked_uncollectible_at": None,
                                         "paid_at": _epoch(y, mo) + c, "voided_at": None})
        return t

    def _items(self, c: int) -> list[tuple[str, str]]:
        items = [(f"si_{c:06d}", self._plan(c))]
        if c % 7 == 0 and self._plan(c) != "price_yearly":  # Stripe bills all items of a subscription alike
            items.append((f"si_{c:06d}_addon", "price_addon"))
        return items

    def invoice_lines(self, invoice_id: str) -> list[dict]:
        c, m = int(invoice_id[3:9]), int(invoice_id[10:])
        y, mo = _month(m, self.months)
        out = []
        for item, price in self._items(c):
            amount, interval, currency, product = PRICES[price]
            span = 12 if interval == "year" else 1
            ey, emo = _month(m + span, self.months)
            li = dict(self.templates["line_item"])  # shallow: every changed field is replaced whole
            li.update(id=f"il_{invoice_id[3:]}_{item[-5:]}", invoice=invoice_id, amount=amount, currency=currency,
                      period={"start": _epoch(y, mo), "end": _epoch(ey, emo)}, discount_amounts=[],
                      parent={"type": "subscription_item_details", "invoice_item_details": None,
                              "subscription_item_details": {"invoice_item": None, "proration": False,
                                                            "proration_details": {"credited_items": None},
                                                            "subscription": f"sub_{c:06d}", "subscription_item": item}},
                      pricing={"type": "price_details", "price_details": {"price": price, "product": product},
                               "unit_amount_decimal": str(amount)})
            out.append(li)
        return out

    def subscription_items(self, subscription_id: str) -> list[dict]:
        c = int(subscription_id[4:])
        out = []
        for item, price in self._items(c):
            it = dict(self.templates["subscription_item"])
            it.update(id=item, subscription=subscription_id, price=self.get_object("prices", price), plan=None)
            out.append(it)
        return out

    def expected_mrr(self) -> Decimal:
        """The generator's own MRR of NOW's month (every live subscription's monthly amount, in USD)."""
        total = Decimal(0)
        for c in range(self.n):
            if c % 20 == 0:
                continue
            for _item, price in self._items(c):
                amount, interval, currency, _ = PRICES[price]
                monthly = Decimal(amount) / 100 / (12 if interval == "year" else 1)
                total += monthly * (RATES[currency] if currency != "usd" else 1)
        return total


def serve(customers: int, months: int) -> None:
    fake = GeneratedStripe(customers, months).start()
    print(fake.url, len(fake.lists["invoices"]), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--db", default=None, help="store URL (default: a temporary SQLite file)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.customers, args.months)
        return
    from storage.db import make_engine, upgrade
    from storage.models import Invoice, Revenue
    from storage.stripe_sync import sync_stripe

    child = subprocess.Popen([sys.executable, __file__, "--serve", "--customers", str(args.customers),
                              "--months", str(args.months)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    url, invoices = child.stdout.readline().split()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(args.db or f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started, cpu = time.perf_counter(), time.process_time()
        first = sync_stripe(engine, api_key=KEY, api_base=url, now=NOW, currency="usd", currency_rates=RATES)
        first_s, first_cpu = time.perf_counter() - started, time.process_time() - cpu
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        second = sync_stripe(engine, api_key=KEY, api_base=url, now=NOW, currency="usd", currency_rates=RATES)
        second_s = time.perf_counter() - started
        with engine.connect() as conn:
            month = NOW.date().replace(day=1)
            mrr = conn.scalar(select(func.sum(Revenue.mrr)).where(Revenue.month == month))
            revenue_rows = conn.scalar(select(func.count()).select_from(Revenue))
            invoice_rows = conn.scalar(select(func.count()).select_from(Invoice))
        dialect = engine.dialect.name
        engine.dispose()
    child.stdin.close()
    child.wait(30)
    expected = GeneratedStripe.__new__(GeneratedStripe)
    expected.n, expected.months = args.customers, args.months
    result = {
        "engine": dialect, "customers": args.customers, "months": args.months, "invoices": int(invoices),
        "first_sync_s": round(first_s, 1), "first_sync_cpu_s": round(first_cpu, 1), "second_sync_s": round(second_s, 1),
        "load_average": os.getloadavg(),
        "peak_rss_mb": round(peak_rss / 1024), "rss_before_sync_mb": round(base_rss / 1024),
        "revenue_rows": revenue_rows, "invoice_rows": invoice_rows,
        "mrr_now": f"{Decimal(str(mrr)):.2f}", "mrr_expected": f"{expected.expected_mrr():.2f}",
        "second_sync_changes": sum(c.added + c.changed + c.removed for c in second.tables.values()),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}",
    }
    print("\n".join(first.lines()))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
