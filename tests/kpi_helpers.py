"""Small builders for KPI tests: insert hand-made rows and ask the engine for one KPI."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert

from kpi_core.config import HealthConfig, KpiConfig
from kpi_core.engine import query
from kpi_core.periods import Period
from kpi_core.types import AccountRef, KpiRequest, KpiResult, Scope
from storage.models import Account, Cost, Invoice, Revenue, Survey, Ticket, UsageEvent

UTC_CONFIG = KpiConfig("UTC", 1.0, HealthConfig({}, 70, 40))


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def ts(text: str) -> dt.datetime:
    """A naive-UTC timestamp as stored ('2026-03-04T10:15:00' or with an offset, converted to UTC)."""
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def account(account_id: str, *, signed: str = "2025-01-01", customer: str | None = None,
            churned: str | None = None, **extra: Any) -> dict[str, Any]:
    row = {
        "account_id": account_id,
        "name": extra.pop("name", account_id.title()),
        "signed_up_at": d(signed),
        "became_customer_at": d(customer) if customer else None,
        "churned_at": d(churned) if churned else None,
    }
    for key, value in extra.items():
        row[key] = d(value) if key.endswith(("_at", "_date")) and isinstance(value, str) else value
    return row


def survey(rid: str, account_id: str, kind: str, score: int, at: str) -> dict[str, Any]:
    return {"response_id": rid, "account_id": account_id, "survey": kind, "score": score, "responded_at": ts(at)}


def revenue(account_id: str, month: str, mrr: float | str, product: str = "core") -> dict[str, Any]:
    return {"account_id": account_id, "month": d(month + "-01"), "product": product, "mrr": Decimal(str(mrr))}


def usage(account_id: str, user_id: str, at: str, feature: str | None = None,
          duration: int | None = None) -> dict[str, Any]:
    return {"account_id": account_id, "user_id": user_id, "occurred_at": ts(at), "feature": feature,
            "duration_seconds": duration}


def ticket(tid: str, account_id: str, opened: str, resolved: str | None = None, contacts: int | None = None,
           priority: str | None = None) -> dict[str, Any]:
    return {"ticket_id": tid, "account_id": account_id, "opened_at": ts(opened),
            "resolved_at": ts(resolved) if resolved else None, "contacts": contacts, "priority": priority}


def invoice(iid: str, account_id: str, issued: str, amount: float | str) -> dict[str, Any]:
    return {"invoice_id": iid, "account_id": account_id, "issued_at": d(issued), "amount": Decimal(str(amount))}


def cost(month: str, category: str, amount: float | str) -> dict[str, Any]:
    return {"month": d(month + "-01"), "category": category, "amount": Decimal(str(amount))}


TABLES = {
    "accounts": Account, "revenue": Revenue, "invoices": Invoice, "surveys": Survey,
    "tickets": Ticket, "usage": UsageEvent, "costs": Cost,
}


def load(store: Engine, **tables: list[dict[str, Any]]) -> None:
    """Insert rows: load(store, accounts=[...], surveys=[...]) (accounts first)."""
    with store.begin() as conn:
        for name in ("accounts", "revenue", "invoices", "surveys", "tickets", "usage", "costs"):
            rows = tables.pop(name, None)
            if rows:
                keys = {k for row in rows for k in row}
                conn.execute(insert(TABLES[name]), [{k: row.get(k) for k in keys} for row in rows])
    assert not tables, f"unknown tables {list(tables)}"


def period(start: str, end: str) -> Period:
    """An explicit date range (its previous period is the same number of days just before it)."""
    s, e = d(start), d(end)
    return Period(s, e, f"{s} to {e}", "range")


def ask(store: Engine, kpi: str, start: str, end: str, *, account_id: str | None = None,
        segment: str | None = None, owner: str | None = None, feature: str | None = None,
        config: KpiConfig = UTC_CONFIG, the_period: Period | None = None) -> KpiResult:
    scope = Scope(AccountRef(account_id, account_id) if account_id else None, segment, owner, feature)
    return query(store, KpiRequest(kpi, the_period or period(start, end), scope), config)
