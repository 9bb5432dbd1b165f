"""`sync_stripe`: read Stripe, build the rows, write what changed in one transaction (or nothing at all).

Only the rows that differ from the store are written, so a second sync with nothing new writes nothing.
Rows this source wrote before (storage/provenance.py) and that Stripe no longer gives are removed; rows
and columns from other sources are never touched. An account gone from Stripe is removed only when no
other data refers to it (else it is kept and the report says so).
"""

from __future__ import annotations

import datetime as dt
import time
import zlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, delete, exists, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from storage.freshness import record_load
from storage.models import (
    Account,
    Invoice,
    Revenue,
    ScheduledCancellation,
    SourceRow,
    Survey,
    Ticket,
    UsageEvent,
)
from storage.provenance import claim_rows, owned_keys, row_key
from storage.stripe_sync.build import Rows, build_rows
from storage.stripe_sync.fetch import fetch, make_client
from storage.sync_report import SyncReport

CHUNK = 500


def sync_stripe(
    engine: Engine,
    *,
    api_key: str,
    api_base: str | None,
    now: dt.datetime,
    currency: str,
    currency_rates: Mapping[str, Decimal],
    dry_run: bool = False,
    source: str = "stripe",
    customer: str | None = None,
) -> SyncReport:
    """Read Stripe and write its rows (stripe.md); SyncError with every problem, and nothing written, on failure.

    `customer` (a `cus_...` id, e.g. from a webhook) syncs that customer's account alone, leaving every other
    row as it is; a customer that shares its account with others (`metadata.account_id`) syncs everything.
    """
    started = time.monotonic()
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    moment = int(now.timestamp())
    client = make_client(api_key, api_base)
    data = fetch(client, customer)
    account = None
    if customer is not None:
        account = data.customers[0].account_id if data.customers else customer
        if account != customer:  # its account may span several customers: read them all
            data, account = fetch(client), None
    rows = build_rows(data, now=moment, currency=currency, rates=currency_rates, source=source)
    report = SyncReport(source, dry_run=dry_run)
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            _begin_sqlite_for_real(conn)
            _one_sync_at_a_time(conn, source)
            write_rows(conn, rows, report, source, now, account)
        except BaseException:
            transaction.rollback()
            raise
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    if rows.left_out:
        listed = ", ".join(f"{n} {why}" for why, n in sorted(rows.left_out.items()))
        report.notes.append(f"invoice lines left out of MRR: {listed}")
    report.notes.append(f"scheduled cancellations: {len(rows.cancellations)}")
    report.seconds = time.monotonic() - started
    return report


def _begin_sqlite_for_real(conn: Connection) -> None:
    """SQLite: open the transaction (and take the write lock) now, so reads and writes are one transaction."""
    if conn.dialect.name == "sqlite" and not conn.connection.driver_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _one_sync_at_a_time(conn: Connection, source: str) -> None:
    """Postgres: syncs of one source (the daily one, a webhook's) write one after the other (SQLite: BEGIN
    IMMEDIATE already serialises writers)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(f"csbot-sync:{source}".encode()),))


def write_rows(conn: Connection, rows: Rows, report: SyncReport, source: str, now: dt.datetime,
               account: str | None = None) -> None:
    """Upsert what changed, remove what this source wrote and Stripe no longer has, record the loads.

    With `account`, `rows` hold that account's rows only: only its rows can be removed.
    """
    _upsert_changed(conn, Account.__table__, ("account_id",), rows.accounts, report.table("accounts"))
    _upsert_changed(conn, Revenue.__table__, ("account_id", "month", "product"), rows.revenue,
                    report.table("revenue"))
    _upsert_changed(conn, Invoice.__table__, ("invoice_id",), rows.invoices, report.table("invoices"))
    revenue_keys, invoice_keys, account_keys = set(rows.revenue), set(rows.invoices), set(rows.accounts)
    if account is not None:  # keep what this source owns of every other account
        revenue_keys |= {(a, dt.date.fromisoformat(m), p) for a, m, p in owned_keys(conn, source, "revenue")
                         if a != account}
        theirs = set(conn.scalars(select(Invoice.invoice_id).where(Invoice.account_id == account)))
        invoice_keys |= {k for k in owned_keys(conn, source, "invoices") if k[0] not in theirs}
        account_keys |= {k for k in owned_keys(conn, source, "accounts") if k[0] != account}
    gone_revenue = claim_rows(conn, source, "revenue", revenue_keys)
    report.table("revenue").removed += _delete_keys(
        conn, Revenue.__table__, ("account_id", "month", "product"),
        [(a, dt.date.fromisoformat(m), p) for a, m, p in gone_revenue])
    gone_invoices = claim_rows(conn, source, "invoices", invoice_keys)
    report.table("invoices").removed += _delete_keys(conn, Invoice.__table__, ("invoice_id",), gone_invoices)
    _replace_cancellations(conn, rows, source, account)
    gone_accounts = claim_rows(conn, source, "accounts", account_keys)
    kept = []
    for (account_id,) in gone_accounts:
        if _referred_to(conn, account_id, source):
            kept.append(account_id)
        else:
            report.table("accounts").removed += _delete_keys(conn, Account.__table__, ("account_id",),
                                                             [(account_id,)])
    if kept:
        report.notes.append(f"accounts gone from Stripe but kept (other data refers to them): {', '.join(kept)}")
    for table, keys in (("accounts", account_keys), ("revenue", revenue_keys), ("invoices", invoice_keys)):
        record_load(conn, table=table, source=source, loaded_at=now, rows=len(keys),
                    detail=None if account is None else f"account {account}")


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return a is not None and b is not None and Decimal(a) == Decimal(b)
    return a == b


def _upsert_changed(conn: Connection, table, key: tuple[str, ...], rows: dict[tuple, dict], changes) -> None:
    """Compare with the stored rows of the same keys; write only new and different ones (their columns only)."""
    if not rows:
        return
    columns = list(next(iter(rows.values())))
    stored: dict[tuple, Any] = {}
    key_cols = [table.c[k] for k in key]
    for chunk in _chunks(list(rows)):
        condition = key_cols[0].in_([k[0] for k in chunk]) if len(key) == 1 else tuple_(*key_cols).in_(chunk)
        for r in conn.execute(select(*[table.c[c] for c in columns]).where(condition)):
            stored[tuple(getattr(r, k) for k in key)] = r
    to_write = []
    for k, values in rows.items():
        old = stored.get(k)
        if old is None:
            changes.added += 1
        elif all(_same(getattr(old, c), values[c]) for c in columns):
            continue
        else:
            changes.changed += 1
        to_write.append(values)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=list(key),
                                      set_={c: stmt.excluded[c] for c in columns if c not in key})
    for chunk in _chunks(to_write, 5_000):
        conn.execute(stmt, chunk)


def _delete_keys(conn: Connection, table, key: tuple[str, ...], keys: list[tuple]) -> int:
    removed = 0
    key_cols = [table.c[k] for k in key]
    for chunk in _chunks(list(keys)):
        condition = key_cols[0].in_([k[0] for k in chunk]) if len(key) == 1 else tuple_(*key_cols).in_(chunk)
        removed += conn.execute(delete(table).where(condition)).rowcount or 0
    return removed


def _referred_to(conn: Connection, account_id: str, source: str) -> bool:
    """Other data still refers to the account: rows of other tables, or another source wrote it too."""
    checks = [exists().where(t.account_id == account_id) for t in (Revenue, Invoice, Survey, Ticket, UsageEvent)]
    checks.append(exists().where(SourceRow.table_name == "accounts", SourceRow.source != source,
                                 SourceRow.row_key == row_key((account_id,))))
    return bool(conn.scalar(select(or_(*checks))))


def _replace_cancellations(conn: Connection, rows: Rows, source: str, account: str | None) -> None:
    """Keep exactly the live scheduled cancellations of this source (of `account` only, when given)."""
    table = ScheduledCancellation.__table__
    wanted = {c.subscription_id: c for c in rows.cancellations}
    mine = [table.c.source == source] + ([table.c.account_id == account] if account is not None else [])
    stored = {r.subscription_id: r for r in conn.execute(select(table).where(*mine))}
    gone = [sid for sid in stored if sid not in wanted]
    for chunk in _chunks(gone):
        conn.execute(delete(table).where(table.c.source == source, table.c.subscription_id.in_(chunk)))
    for sid, c in wanted.items():
        old = stored.get(sid)
        values = {"account_id": c.account_id, "cancel_on": c.cancel_on, "mrr": c.mrr}
        if old is not None and all(_same(getattr(old, k), v) for k, v in values.items()):
            continue
        if old is not None:
            conn.execute(delete(table).where(table.c.source == source, table.c.subscription_id == sid))
        conn.execute(table.insert().values(source=source, subscription_id=sid, **values))
