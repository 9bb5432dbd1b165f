"""MRR movements (the ChartMogul view): the change of MRR between two month-ends, split per account.

For each account in scope, with s = its MRR in the start month and e = its MRR in the end month (kpis.md
"start month" and "end month"; an account's MRR is the sum over its products):
- new: s = 0 < e and no MRR above 0 in any month before the start month (its first paying month);
- reactivation: s = 0 < e and some MRR above 0 before the start month (it paid, stopped, came back);
- expansion: 0 < s < e, e - s;  contraction: 0 < e < s, s - e;  churned: 0 < s and e = 0, s.
Every account with s != e is in exactly one kind, so new + expansion + reactivation - contraction - churned
is exactly the change of MRR (each account's MRR rounded to cents first, as the `mrr` KPI sums them).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Connection, Select, bindparam, case, func, literal, select

from kpi_core.catalog import KpiDef
from kpi_core.context import QueryContext, Shape
from kpi_core.kpis.revenue import end_month, month_name, start_month
from kpi_core.statements import built_once
from kpi_core.types import Measure
from storage.models import Account, Money, Revenue

KINDS = ("new", "expansion", "reactivation", "contraction", "churned")
SIGN = {"new": 1, "expansion": 1, "reactivation": 1, "contraction": -1, "churned": -1}
TOP_ACCOUNTS = 5
# The statements are built once per shape (kpi_core.statements); the start and end months are bound as :first and
# :last, and both (distinct) as the expanding :months.
FIRST, LAST, MONTHS = bindparam("first"), bindparam("last"), bindparam("months", expanding=True)


def _cents(expr):
    return func.round(expr, 2, type_=Money)


def _per_account(shape: Shape):
    """(account_id, s, e, paid_before) over the accounts in scope with revenue up to the end month."""
    s = _cents(func.sum(case((Revenue.month == FIRST, Revenue.mrr), else_=0)))
    e = _cents(func.sum(case((Revenue.month == LAST, Revenue.mrr), else_=0)))
    before = func.max(case(((Revenue.month < FIRST) & (Revenue.mrr > 0), 1), else_=0))
    return (
        select(Revenue.account_id.label("account_id"), s.label("s"), e.label("e"), before.label("before"))
        .where(Revenue.month <= LAST, *shape.scope_filter(Revenue.account_id))
        .group_by(Revenue.account_id)
        .subquery("per_account")
    )


def _classified(per):
    """(account_id, kind, amount) for every account whose MRR moved."""
    s, e = per.c.s, per.c.e
    kind = case(
        ((s == 0) & (e > 0) & (per.c.before == 0), literal("new")),
        ((s == 0) & (e > 0), literal("reactivation")),
        ((s > 0) & (e > s), literal("expansion")),
        ((s > 0) & (e > 0) & (e < s), literal("contraction")),
        ((s > 0) & (e == 0), literal("churned")),
        else_=literal("none"),
    )
    amount = case((e > s, e - s), else_=s - e)
    return select(per.c.account_id, kind.label("kind"), amount.label("amount"), s.label("s"), e.label("e")) \
        .subquery("moved")


def money(value) -> Decimal:
    """A database sum as exact cents (SQLite sums NUMERIC as floats)."""
    return Decimal(str(round(float(value or 0), 2))).quantize(Decimal("0.01"))


@built_once
def _totals_statement(shape: Shape) -> Select:
    """(kind, amount, n) per kind of movement."""
    moved = _classified(_per_account(shape))
    return select(moved.c.kind, func.sum(moved.c.amount).label("amount"), func.count().label("n")) \
        .group_by(moved.c.kind)


@built_once
def _sums_statement(shape: Shape) -> Select:
    """One row: the MRR of the start month and of the end month over the accounts in scope."""
    moved = _classified(_per_account(shape))
    return select(func.sum(moved.c.s), func.sum(moved.c.e))


@built_once
def _loaded_statement() -> Select:
    """Revenue rows of either month (any account): none means the months are not loaded."""
    return select(func.count()).select_from(Revenue).where(Revenue.month.in_(MONTHS))


@built_once
def _top_statement(shape: Shape) -> Select:
    """The TOP_ACCOUNTS largest movements of each kind, with the account's name."""
    moved = _classified(_per_account(shape))
    rank = func.row_number().over(partition_by=moved.c.kind, order_by=(moved.c.amount.desc(), moved.c.account_id))
    ranked = select(moved.c.account_id, moved.c.kind, moved.c.amount, rank.label("rank")) \
        .where(moved.c.kind != "none").subquery("ranked")
    return (select(ranked.c.kind, ranked.c.account_id, Account.name, ranked.c.amount)
            .join(Account, Account.account_id == ranked.c.account_id)
            .where(ranked.c.rank <= TOP_ACCOUNTS).order_by(ranked.c.kind, ranked.c.rank))


def mrr_movements(conn: Connection, ctx: QueryContext) -> Measure:
    first, last = start_month(ctx), end_month(ctx)
    params = ctx.params(first=first, last=last, months=sorted({first, last}))
    totals = {row.kind: (money(row.amount), int(row.n))
              for row in conn.execute(_totals_statement(ctx.shape), params)}
    sums = conn.execute(_sums_statement(ctx.shape), params).one()
    loaded = conn.execute(_loaded_statement(), params).scalar()
    start_mrr, end_mrr = money(sums[0]), money(sums[1])
    parts = {k: totals.get(k, (Decimal("0.00"), 0))[0] for k in KINDS}
    net = sum((SIGN[k] * parts[k] for k in KINDS), Decimal("0.00"))
    top: dict[str, list[dict]] = {k: [] for k in KINDS}
    for row in conn.execute(_top_statement(ctx.shape), params):
        top[row.kind].append({"id": row.account_id, "name": row.name, "amount": float(money(row.amount))})
    breakdown = {
        "start_month": first.strftime("%Y-%m"), "end_month": last.strftime("%Y-%m"),
        "start_mrr": float(start_mrr), "end_mrr": float(end_mrr),
        **{f"{k}_mrr": float(parts[k]) for k in KINDS},
        **{f"{k}_accounts": totals.get(k, (0, 0))[1] for k in KINDS},
        "top": top,
    }
    moved_accounts = sum(totals.get(k, (0, 0))[1] for k in KINDS)
    if not loaded:
        months = month_name(first) if first == last else f"{month_name(first)} or {month_name(last)}"
        return Measure(None, 0, breakdown, f"no revenue data for {months}")
    return Measure(float(net), moved_accounts, breakdown)


KPIS = [
    KpiDef(
        "mrr_movements", "MRR movements",
        "end-month MRR - start-month MRR, split per account into new + expansion + reactivation - contraction - "
        "churned (reactivation: paid before the start month, nothing in it)",
        "money", True, ("revenue", "accounts"), "accounts that moved", mrr_movements,
        aliases=("movements",), family="revenue",
    ),
]
