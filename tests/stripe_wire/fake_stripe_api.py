"""A local stand-in for Stripe's REST API: what `csbot sync stripe` reads, over real HTTP on loopback.

- `GET /v1/customers/{id}` (and the other kinds by id; a deleted customer answers `deleted: true`),
- `GET /v1/{customers,subscriptions,invoices,prices,products,subscription_items}` and
  `GET /v1/invoices/{id}/lines`: lists with `limit`, `starting_after`, `has_more`, `url`, `object: list`;
  `subscriptions` honours `status=all` (without it, canceled ones are left out, as Stripe does),
  `subscription_items` needs `subscription`, every list honours `customer`.
- `Authorization: Bearer KEY` must match the server's key (else 401 with Stripe's error body).
- `fail_next(status, count)` makes the next requests fail (429 rate limit, 500...), to test retries.
- Objects are built from Stripe's published fixtures (/work/shared/stripe/fixtures.json, copied to
  tests/fixtures/stripe_fixtures.json), so they carry every field the real API sends; invoices embed at
  most 10 lines and subscriptions at most 10 items, with `has_more` when there are more.
"""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

FIXTURES = json.loads((Path(__file__).parent.parent / "fixtures" / "stripe_fixtures.json").read_text())["resources"]
EMBEDDED = 10


def template(kind: str, **fields: Any) -> dict:
    """A deep copy of Stripe's fixture object `kind`, with `fields` replaced."""
    obj = copy.deepcopy(FIXTURES[kind])
    obj.update(fields)
    return obj


class FakeStripe:
    def __init__(self, api_key: str = "sk_test_csbot") -> None:
        self.api_key = api_key
        self.objects: dict[str, dict[str, dict]] = {k: {} for k in (
            "customers", "subscriptions", "invoices", "prices", "products")}
        self.lines: dict[str, list[dict]] = {}  # invoice id -> every line
        self.items: dict[str, list[dict]] = {}  # subscription id -> every item
        self.requests: list[tuple[str, str]] = []  # (path, query)
        self.deleted_customers: set[str] = set()
        self._order: dict[str, tuple] = {}
        self._version = 0
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeStripe:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, status: int, count: int = 1) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    # --- seeding --------------------------------------------------------------------------------

    def add(self, kind: str, obj: dict) -> dict:
        self.objects[kind][obj["id"]] = obj
        self._version += 1
        return obj

    def set_lines(self, invoice_id: str, lines: list[dict]) -> None:
        self.lines[invoice_id] = lines

    def set_items(self, subscription_id: str, items: list[dict]) -> None:
        self.items[subscription_id] = items

    # --- serving --------------------------------------------------------------------------------

    # --- what the lists hold (the benchmark overrides these with a generated account) ---------------

    def ordered_ids(self, kind: str) -> list[str]:
        """Ids of `kind`, newest first as Stripe lists them (cached until objects are added or removed)."""
        stamp = (len(self.objects[kind]), self._version)
        cached = self._order.get(kind)
        if cached is None or cached[0] != stamp:
            objs = self.objects[kind].values()
            ids = [o["id"] for o in sorted(objs, key=lambda o: (-int(o.get("created") or 0), o["id"]))]
            cached = (stamp, ids, {oid: n for n, oid in enumerate(ids)})
            self._order[kind] = cached
        return cached[1]

    def position(self, kind: str, oid: str) -> int | None:
        self.ordered_ids(kind)
        return self._order[kind][2].get(oid)

    def get_object(self, kind: str, oid: str) -> dict | None:
        return self.objects[kind].get(oid)

    def invoice_lines(self, invoice_id: str) -> list[dict]:
        return self.lines.get(invoice_id, [])

    def subscription_items(self, subscription_id: str) -> list[dict]:
        return self.items.get(subscription_id, [])

    # --- serving --------------------------------------------------------------------------------

    def _render(self, kind: str, obj: dict) -> dict:
        """The object as the API shows it (lists embedded); a shallow copy, serialized at once, never changed."""
        obj = dict(obj)
        if kind == "invoices":
            lines = self.invoice_lines(obj["id"])
            obj["lines"] = {"object": "list", "data": lines[:EMBEDDED], "has_more": len(lines) > EMBEDDED,
                            "url": f"/v1/invoices/{obj['id']}/lines"}
        if kind == "subscriptions":
            items = self.subscription_items(obj["id"])
            obj["items"] = {"object": "list", "data": items[:EMBEDDED], "has_more": len(items) > EMBEDDED,
                            "url": f"/v1/subscription_items?subscription={obj['id']}"}
        return obj

    def _list(self, path: str, query: dict[str, str]) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[1] in self.objects:
            found = self.get_object(parts[1], parts[2])
            if found is None:
                if parts[1] == "customers" and parts[2] in self.deleted_customers:
                    return 200, {"id": parts[2], "object": "customer", "deleted": True}
                return 404, _error("invalid_request_error", f"No such {parts[1][:-1]}: '{parts[2]}'")
            return 200, self._render(parts[1], found)
        limit = int(query.get("limit", 10))
        if not 1 <= limit <= 100:
            return 400, _error("invalid_request_error", "Invalid integer: limit must be between 1 and 100")
        after = query.get("starting_after")
        if len(parts) == 4 and parts[1] == "invoices" and parts[3] == "lines":
            if self.get_object("invoices", parts[2]) is None:
                return 404, _error("invalid_request_error", f"No such invoice: '{parts[2]}'")
            return self._page(path, self.invoice_lines(parts[2]), limit, after)
        if len(parts) == 2 and parts[1] == "subscription_items":
            sub = query.get("subscription")
            if not sub:
                return 400, _error("invalid_request_error", "Missing required param: subscription.")
            return self._page(path, self.subscription_items(sub), limit, after)
        if len(parts) != 2 or parts[1] not in self.objects:
            return 404, _error("invalid_request_error", f"Unrecognized request URL (GET: {path}).")
        kind = parts[1]
        ids = self.ordered_ids(kind)
        keep = []
        if kind == "subscriptions" and query.get("status") != "all":
            keep.append(lambda o: o["status"] != "canceled")
        if "customer" in query:
            keep.append(lambda o: o.get("customer") == query["customer"])
        start = 0
        if keep:
            ids = [i for i in ids if all(k(self.get_object(kind, i)) for k in keep)]
            if after:
                if after not in ids:
                    return 400, _error("invalid_request_error", f"No such object: '{after}'")
                start = ids.index(after) + 1
        elif after:
            at = self.position(kind, after)
            if at is None:
                return 400, _error("invalid_request_error", f"No such object: '{after}'")
            start = at + 1
        page = [self._render(kind, self.get_object(kind, i)) for i in ids[start : start + limit]]
        return 200, {"object": "list", "data": page, "has_more": len(ids) > start + limit, "url": path}

    def _page(self, path: str, data: list[dict], limit: int, after: str | None) -> tuple[int, dict]:
        start = 0
        if after:
            ids = [o["id"] for o in data]
            if after not in ids:
                return 400, _error("invalid_request_error", f"No such object: '{after}'")
            start = ids.index(after) + 1
        page = data[start : start + limit]
        return 200, {"object": "list", "data": page, "has_more": len(data) > start + limit, "url": path}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
                with fake._lock:
                    fake.requests.append((parsed.path, parsed.query))
                    failure = fake._failures.pop(0) if fake._failures else None
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    return self._send(401, _error("invalid_request_error", "Invalid API Key provided: sk_***"))
                if failure == 429:
                    return self._send(429, _error("rate_limit_error", "Too many requests"))
                if failure is not None:
                    return self._send(failure, _error("api_error", "Something went wrong on Stripe's end."))
                status, body = fake._list(parsed.path, query)
                self._send(status, body)

            def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("Request-Id", "req_fake")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

        return Handler


def _error(kind: str, message: str) -> dict:
    return {"error": {"type": kind, "message": message}}
