"""A small HubSpot stand-in on loopback speaking the CRM v3 JSON the official client reads.

GET /crm/v3/objects/companies (limit, after, properties, archived) and GET /crm/v3/owners/ (limit, after),
paged with `paging.next.after`; a Bearer token is required. `page_size` caps every page so tests see paging.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

STAMP = "2026-01-01T00:00:00.000Z"


class HubSpotStandIn:
    def __init__(self, token: str = "pat-test-1", page_size: int = 2) -> None:
        self.token = token
        self.page_size = page_size
        self.companies: list[dict] = []  # {"id": ..., "properties": {...}}
        self.owners: list[dict] = []  # {"id": ..., "email": ...}
        self.requests: list[tuple[str, dict]] = []
        self.fail_with: int | None = None
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HubSpotStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                parsed = urlparse(self.path)
                raw = parse_qs(parsed.query)
                query = {k: ",".join(v) for k, v in raw.items()}  # repeated `properties` (or one, comma-separated)
                standin.requests.append((parsed.path, query))
                if self.headers.get("Authorization") != f"Bearer {standin.token}":
                    return self._send(401, {"status": "error", "message": "Authentication credentials not found",
                                            "category": "INVALID_AUTHENTICATION"})
                if standin.fail_with:
                    return self._send(standin.fail_with, {"status": "error", "message": "failing on purpose",
                                                          "category": "INTERNAL_ERROR"})
                if parsed.path == "/crm/v3/objects/companies":
                    wanted = query.get("properties", "").split(",")
                    items = [{"id": c["id"], "properties": {k: v for k, v in c["properties"].items() if k in wanted},
                              "createdAt": STAMP, "updatedAt": STAMP, "archived": False}
                             for c in standin.companies]
                elif parsed.path.rstrip("/") == "/crm/v3/owners":
                    items = [{"id": o["id"], "email": o.get("email"), "firstName": "F", "lastName": "L",
                              "userId": 1, "type": "PERSON", "createdAt": STAMP, "updatedAt": STAMP,
                              "archived": False} for o in standin.owners]
                else:
                    return self._send(404, {"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"})
                limit = min(int(query.get("limit", 10)), standin.page_size)
                start = int(query.get("after", 0))
                page = items[start : start + limit]
                body: dict = {"results": page}
                if start + limit < len(items):
                    body["paging"] = {"next": {"after": str(start + limit), "link": "?after=" + str(start + limit)}}
                self._send(200, body)

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
