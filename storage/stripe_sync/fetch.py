"""Reading Stripe through the official `stripe` library (StripeClient), into plain records.

Requests go through `StripeClient.raw_request` (the library's HTTP, authentication, API version, network
retries and error types) and answers are used as the JSON dicts they are: building the library's typed
objects cost about 14 ms per invoice, most of a sync (bench/stripe_bench.py).
Every list is read to its end, page by page (`limit` 100, `starting_after`, `has_more`). The library
retries 5xx and connection errors itself (`max_network_retries`); a plain 429 it does not retry, so each
page is retried here on RateLimitError with exponential back-off. 401/403 become one line naming the key
problem. Nothing here writes anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import stripe

from storage.stripe_sync.records import Customer, Invoice, Item, Line, Price, Subscription
from storage.sync_report import SyncError

DEFAULT_API_BASE = "https://api.stripe.com"
PAGE_LIMIT = 100
NETWORK_RETRIES = 3
RATE_LIMIT_RETRIES = 6
RATE_LIMIT_FIRST_DELAY = 0.5  # seconds; doubled on each retry, at most RATE_LIMIT_MAX_DELAY
RATE_LIMIT_MAX_DELAY = 8.0


@dataclass
class StripeData:
    """Everything one sync reads."""

    customers: list[Customer] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    prices: dict[str, Price] = field(default_factory=dict)
    products: dict[str, str] = field(default_factory=dict)  # product id -> name


def make_client(api_key: str, api_base: str | None) -> stripe.StripeClient:
    """A StripeClient at `api_base` (default Stripe's) that retries network errors and 5xx."""
    base = (api_base or DEFAULT_API_BASE).rstrip("/")
    return stripe.StripeClient(api_key, base_addresses={"api": base}, max_network_retries=NETWORK_RETRIES)


def _call(request: Callable[[], Any], sleep: Callable[[float], None] = time.sleep) -> Any:
    """One API request; RateLimitError retried with back-off, key problems turned into one line."""
    delay = RATE_LIMIT_FIRST_DELAY
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        try:
            return request()
        except stripe.RateLimitError as exc:
            if attempt == RATE_LIMIT_RETRIES:
                raise SyncError([f"stripe: rate limited by Stripe {attempt + 1} times in a row; try again later "
                                 f"({_message(exc)})"]) from None
            sleep(delay)
            delay = min(delay * 2, RATE_LIMIT_MAX_DELAY)
        except stripe.AuthenticationError:
            raise SyncError(["stripe: STRIPE_API_KEY was refused by Stripe (401): check the key, e.g. a "
                             "restricted key copied whole from the dashboard"]) from None
        except stripe.PermissionError:
            raise SyncError(["stripe: STRIPE_API_KEY lacks a permission (403): give the restricted key read "
                             "access to customers, subscriptions, invoices, prices and products"]) from None
        except stripe.StripeError as exc:
            raise SyncError([f"stripe: the Stripe API failed: {_message(exc)}"]) from None
    raise AssertionError("unreachable")


def _message(exc: stripe.StripeError) -> str:
    status = f"HTTP {exc.http_status}: " if exc.http_status else ""
    return f"{status}{exc.user_message or exc.__class__.__name__}"


def get_json(client: stripe.StripeClient, path: str, **params: Any) -> dict:
    """One GET through the library, its JSON answer as a dict."""
    return _call(lambda: client.raw_request("get", path, **params)).data


def read_all(client: stripe.StripeClient, path: str, params: dict | None = None) -> Iterator[dict]:
    """Every object of one list endpoint, page after page until `has_more` is false."""
    base = {"limit": PAGE_LIMIT, **(params or {})}
    page = get_json(client, path, **base)
    while True:
        data = page.get("data") or []
        yield from data
        if not page.get("has_more") or not data:
            return
        page = get_json(client, path, **base, starting_after=data[-1]["id"])


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if obj is None:
            return None
        obj = obj.get(key)
    return obj


def _price(p: Any) -> Price:
    recurring = p.get("recurring")
    product = p.get("product")
    product_id = product if isinstance(product, str) or product is None else product.get("id")
    if not recurring:
        return Price(p["id"], product_id, False)
    return Price(p["id"], product_id, True, recurring.get("interval"), int(recurring.get("interval_count") or 1),
                 recurring.get("usage_type"))


def _customer(c: Any) -> Customer:
    metadata = c.get("metadata") or {}
    account = (metadata.get("account_id") or "").strip() or c["id"]
    name = (c.get("name") or "").strip() or (c.get("email") or "").strip() or c["id"]
    return Customer(c["id"], account, name, int(c.get("created") or 0))


def _item(i: Any) -> Item:
    recurring = _get(i, "price", "recurring") or {}
    return Item(i["id"], recurring.get("interval"), int(recurring.get("interval_count") or 1),
                i.get("current_period_end"))


def _line(li: Any, inv: Any) -> Line:
    parent = li.get("parent") or {}
    details = parent.get("subscription_item_details") or {}
    discounts = li.get("discount_amounts") or []
    return Line(
        id=li["id"],
        invoice_id=inv["id"],
        invoice_created=int(inv.get("created") or 0),
        invoice_status=inv.get("status") or "",
        customer_id=_id(inv.get("customer")),
        currency=(li.get("currency") or inv.get("currency") or "").lower(),
        amount=int(li.get("amount") or 0),
        discount=sum(int(d.get("amount") or 0) for d in discounts),
        period_start=int(_get(li, "period", "start") or 0),
        period_end=int(_get(li, "period", "end") or 0),
        parent_type=parent.get("type"),
        proration=bool(details.get("proration")),
        subscription_id=_id(details.get("subscription")),
        item_id=_id(details.get("subscription_item")),
        price_id=_id(_get(li, "pricing", "price_details", "price")),
    )


def _id(value: Any) -> Any:
    """An expandable field as its id (it may come expanded as an object)."""
    if value is None or isinstance(value, str):
        return value
    return value.get("id")


def customer_account(client: stripe.StripeClient, customer: str) -> str:
    """The account id of one customer (its metadata.account_id, else its id)."""
    found = get_json(client, f"/v1/customers/{customer}")
    return customer if found.get("deleted") else _customer(found).account_id


def fetch(client: stripe.StripeClient, customer: str | None = None) -> StripeData:
    """Read customers, subscriptions (with every item), invoices (with every line), prices and products.

    With `customer`, only that customer, its subscriptions and its invoices (prices and products in full).
    """
    data = StripeData()
    for p in read_all(client, "/v1/products"):
        data.products[p["id"]] = p.get("name") or p["id"]
    for p in read_all(client, "/v1/prices"):
        data.prices[p["id"]] = _price(p)
    if customer is None:
        data.customers = [_customer(c) for c in read_all(client, "/v1/customers")]
        only: dict = {}
    else:
        found = get_json(client, f"/v1/customers/{customer}")
        data.customers = [] if found.get("deleted") else [_customer(found)]
        only = {"customer": customer}
    for s in read_all(client, "/v1/subscriptions", {"status": "all", **only}):
        items = s.get("items")
        raw_items = list(items.get("data") or []) if items is not None else []
        if items is not None and items.get("has_more"):
            raw_items = list(read_all(client, "/v1/subscription_items", {"subscription": s["id"]}))
        data.subscriptions.append(Subscription(
            s["id"], _id(s.get("customer")), s.get("status") or "", s.get("ended_at"), s.get("canceled_at"),
            s.get("cancel_at"), bool(s.get("cancel_at_period_end")), tuple(_item(i) for i in raw_items),
        ))
    for inv in read_all(client, "/v1/invoices", only):
        lines = inv.get("lines")
        raw_lines = list(lines.get("data") or []) if lines is not None else []
        if lines is not None and lines.get("has_more"):
            raw_lines = list(read_all(client, f"/v1/invoices/{inv['id']}/lines"))
        data.lines.extend(_line(li, inv) for li in raw_lines)
        transitions = inv.get("status_transitions") or {}
        data.invoices.append(Invoice(
            inv["id"], _id(inv.get("customer")), inv.get("status") or "", int(inv.get("created") or 0),
            transitions.get("paid_at"), int(inv.get("amount_paid") or 0), (inv.get("currency") or "").lower(),
        ))
    return data
