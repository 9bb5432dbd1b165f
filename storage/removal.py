"""Removing rows, only ever on request: `csbot import --replace` and `csbot delete-account`.

Both count what would go (rows of the kind and, for accounts, their dependants in the data tables, which
the foreign keys delete with them), ask for confirmation through a callback, and delete inside the caller's
transaction, so a refusal or a failure leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Column, Connection, MetaData, Table, and_, delete, exists, func, insert, select

from storage.models import Account, Invoice, Revenue, Survey, Ticket, UsageEvent

DEPENDANTS = {"revenue": Revenue, "invoices": Invoice, "surveys": Survey, "tickets": Ticket,
              "usage": UsageEvent}
"""Data tables whose rows belong to an account (deleted with it by ON DELETE CASCADE)."""


@dataclass
class RemovalPlan:
    """What a removal would delete: rows per kind, and rows of other kinds that go with removed accounts."""

    rows: dict[str, int] = field(default_factory=dict)
    dependants: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)  # a few removed account ids, to show

    @property
    def empty(self) -> bool:
        return not any(self.rows.values())

    def describe(self) -> str:
        """One line: 'This deletes 3 accounts (a1, a2, a3) and their 12 surveys, 40 usage events.'"""
        parts = [f"{n:,} {_noun(kind, n)}" for kind, n in self.rows.items() if n]
        text = "This deletes " + ", ".join(parts)
        if self.examples:
            shown = ", ".join(self.examples[:5]) + (", ..." if self.rows.get("accounts", 0) > 5 else "")
            text += f" ({shown})"
        with_them = [f"{n:,} {_noun(kind, n)}" for kind, n in self.dependants.items() if n]
        if with_them:
            text += " and with them " + ", ".join(with_them)
        return text + "."


class RemovalCancelled(Exception):
    """The confirmation was refused; nothing was changed."""


Confirm = Callable[[RemovalPlan], bool]

_NOUNS = {"accounts": "account", "revenue": "revenue row", "invoices": "invoice", "surveys": "survey response",
          "tickets": "ticket", "usage": "usage event", "costs": "cost row"}


def _noun(kind: str, n: int) -> str:
    word = _NOUNS.get(kind, f"{kind} row")
    return word if n == 1 else word + "s"


def _dependants(conn: Connection, doomed_accounts) -> dict[str, int]:
    """Rows of each data table that belong to the accounts selected by `doomed_accounts` (a SELECT of ids)."""
    out = {}
    for kind, model in DEPENDANTS.items():
        n = conn.scalar(select(func.count()).select_from(model).where(model.account_id.in_(doomed_accounts)))
        out[kind] = int(n or 0)
    return out


def _confirm_or_cancel(plan: RemovalPlan, confirm: Confirm | None) -> None:
    if plan.empty:
        return
    if confirm is None or not confirm(plan):
        raise RemovalCancelled(plan.describe())


def delete_accounts(conn: Connection, ids: Iterable[str], confirm: Confirm | None) -> RemovalPlan:
    """Delete these accounts and everything that belongs to them; unknown ids are a ValueError (nothing done)."""
    wanted = list(dict.fromkeys(ids))
    found = set(conn.scalars(select(Account.account_id).where(Account.account_id.in_(wanted))))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise ValueError(f"no account with id {', '.join(repr(m) for m in missing)}; nothing was deleted "
                         "(ids are matched exactly, e.g. `csbot delete-account 007`)")
    doomed = select(Account.account_id).where(Account.account_id.in_(wanted))
    plan = RemovalPlan({"accounts": len(wanted)}, _dependants(conn, doomed), wanted[:6])
    _confirm_or_cancel(plan, confirm)
    conn.execute(delete(Account).where(Account.account_id.in_(wanted)))
    return plan


def keys_table(conn: Connection, table: Table, key: tuple[str, ...], keys: Iterable[tuple]) -> Table:
    """A temporary table holding `keys` (the keys a file brought), created and filled on `conn`."""
    kept = Table(f"csbot_kept_{table.name}", MetaData(), *[Column(k, table.c[k].type) for k in key],
                 prefixes=["TEMPORARY"])
    kept.drop(conn, checkfirst=True)
    kept.create(conn)
    batch: list[dict] = []
    for values in keys:
        batch.append(dict(zip(key, values, strict=True)))
        if len(batch) >= 10_000:
            conn.execute(insert(kept), batch)
            batch = []
    if batch:
        conn.execute(insert(kept), batch)
    return kept


def remove_absent(conn: Connection, kind: str, table: Table, key: tuple[str, ...], keys: Iterable[tuple],
                  plan: RemovalPlan) -> Callable[[], None]:
    """Count the rows of `kind` absent from the file (and, for accounts, their dependants) into `plan`.

    Returns the deletion to run once the whole plan is confirmed.
    """
    kept = keys_table(conn, table, key, keys)
    doomed = ~exists().where(and_(*[kept.c[k] == table.c[k] for k in key]))  # stored, not in the file
    plan.rows[kind] = int(conn.scalar(select(func.count()).select_from(table).where(doomed)) or 0)
    if kind == "accounts" and plan.rows[kind]:
        doomed_ids = select(table.c.account_id).where(doomed)
        for dep, n in _dependants(conn, doomed_ids).items():
            plan.dependants[dep] = plan.dependants.get(dep, 0) + n
        plan.examples = list(conn.scalars(doomed_ids.order_by(table.c.account_id).limit(6)))

    def run() -> None:
        conn.execute(delete(table).where(doomed))
        kept.drop(conn)

    return run


def remove_older_usage(conn: Connection, watermark: int | None, plan: RemovalPlan) -> Callable[[], None]:
    """usage has no key: replacing it removes every usage row that this import did not bring."""
    usage = UsageEvent.__table__
    older = usage.c.id <= watermark if watermark is not None else usage.c.id.is_not(None)
    plan.rows["usage"] = int(conn.scalar(select(func.count()).select_from(usage).where(older)) or 0)
    return lambda: conn.execute(delete(usage).where(older))


def confirm_and_run(plan: RemovalPlan, deletions: list[Callable[[], None]], confirm: Confirm | None) -> None:
    _confirm_or_cancel(plan, confirm)
    for run in deletions:
        run()
