"""Customer KPIs: retention, churn, customer count, new customers, trial conversion, referrals, time to value.

All of them read the accounts table only. Its lifecycle columns are DATEs (calendar days already), so they are
compared with the period's dates directly; the reporting time zone plays no part here.
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, func, select, true

from kpi_core.catalog import KpiDef
from kpi_core.context import ONE_DAY, QueryContext, customer_on
from kpi_core.sqlfuncs import count_if, days_between, median_and_count, ratio
from kpi_core.types import Measure
from storage.models import Account


def _movement(conn: Connection, ctx: QueryContext):
    """One row: customers at start, lost, new (and how many of those came by referral), new-and-lost, at end.

    at_end = at_start - lost + new - new_and_lost (new customers who also churned within the period).
    """
    before = ctx.start - ONE_DAY
    at_start = customer_on(before)
    churned_in_period = Account.churned_at.between(ctx.start, ctx.end)
    new = Account.became_customer_at.between(ctx.start, ctx.end)
    referral = func.lower(func.trim(Account.acquisition_source)) == "referral"
    query = select(
        count_if(at_start).label("at_start"),
        count_if(and_(at_start, churned_in_period)).label("lost"),
        count_if(new).label("new"),
        count_if(and_(new, churned_in_period)).label("new_and_lost"),
        count_if(and_(new, referral)).label("referral"),
        count_if(customer_on(ctx.end)).label("at_end"),
    ).where(*ctx.account_conditions())
    row = conn.execute(query).one()
    return {key: int(value or 0) for key, value in row._mapping.items()}


def _flow(m: dict[str, int]) -> dict[str, int]:
    return {"at_start": m["at_start"], "lost": m["lost"], "new": m["new"], "new_and_lost": m["new_and_lost"],
            "at_end": m["at_end"]}


def _no_customers_at_start(ctx: QueryContext) -> str:
    return f"no customers at the start of the period (on {(ctx.start - ONE_DAY).isoformat()})"


def retention(conn: Connection, ctx: QueryContext) -> Measure:
    m = _movement(conn, ctx)
    value = ratio(m["at_start"] - m["lost"], m["at_start"], 100)
    return Measure(value, m["at_start"], _flow(m), None if m["at_start"] else _no_customers_at_start(ctx))


def churn(conn: Connection, ctx: QueryContext) -> Measure:
    m = _movement(conn, ctx)
    value = ratio(m["lost"], m["at_start"], 100)
    return Measure(value, m["at_start"], _flow(m), None if m["at_start"] else _no_customers_at_start(ctx))


def customers(conn: Connection, ctx: QueryContext) -> Measure:
    m = _movement(conn, ctx)
    counted = f"accounts that are customers on {ctx.end.isoformat()}"
    return Measure(float(m["at_end"]), m["at_end"], {"counted": counted, **_flow(m)})


def new_customers(conn: Connection, ctx: QueryContext) -> Measure:
    m = _movement(conn, ctx)
    counted = f"accounts that became customers from {ctx.start.isoformat()} to {ctx.end.isoformat()}"
    breakdown = {"counted": counted, "referral": m["referral"], "new_and_lost": m["new_and_lost"]}
    return Measure(float(m["new"]), m["new"], breakdown)


def referrals(conn: Connection, ctx: QueryContext) -> Measure:
    m = _movement(conn, ctx)
    breakdown = {"referral": m["referral"], "other": m["new"] - m["referral"]}
    reason = None if m["new"] else "no new customers in this period"
    return Measure(ratio(m["referral"], m["new"], 100), m["new"], breakdown, reason)


def trial_conversion(conn: Connection, ctx: QueryContext) -> Measure:
    converted = Account.became_customer_at.is_not(None)
    query = select(
        func.count().label("sign_ups"),
        count_if(converted).label("converted"),
        count_if(Account.became_customer_at > ctx.end).label("after_period"),
    ).where(Account.signed_up_at.between(ctx.start, ctx.end), *ctx.account_conditions())
    row = conn.execute(query).one()
    sign_ups, converted_n, after = int(row.sign_ups), int(row.converted or 0), int(row.after_period or 0)
    # A later conversion still counts: this period's value can rise as its trials convert.
    breakdown = {"converted": converted_n, "not_converted": sign_ups - converted_n, "converted_after_period": after}
    reason = None if sign_ups else "no sign-ups in this period"
    return Measure(ratio(converted_n, sign_ups, 100), sign_ups, breakdown, reason)


def ttv(conn: Connection, ctx: QueryContext) -> Measure:
    values = (
        select(days_between(Account.first_value_at, Account.signed_up_at).label("x"))
        .where(Account.first_value_at.between(ctx.start, ctx.end), *ctx.account_conditions())
        .subquery("ttv_days")
    )
    median = median_and_count(values).subquery("ttv_median")
    spread = select(func.min(values.c.x).label("fastest"), func.max(values.c.x).label("slowest")).subquery("spread")
    query = select(median.c.median, median.c.n, spread.c.fastest, spread.c.slowest).select_from(
        median.join(spread, true())
    )
    row = conn.execute(query).one()
    if not row.n:
        return Measure(None, 0, {}, "no account reached first value in this period")
    breakdown = {"fastest_days": float(row.fastest), "slowest_days": float(row.slowest)}
    return Measure(float(row.median), int(row.n), breakdown)


KPIS = [
    KpiDef(
        "retention", "Customer retention rate",
        "100 x (customers at start - lost) / customers at start; at start = customers the day before the period, "
        "lost = those churned in the period",
        "%", True, ("accounts",), "customers at start", retention, family="customers",
    ),
    KpiDef(
        "churn", "Customer churn rate",
        "100 x lost / customers at start; at start = customers the day before the period, lost = those churned in it",
        "%", False, ("accounts",), "customers at start", churn, family="customers",
    ),
    KpiDef(
        "customers", "Customer count",
        "customers on the last day of the period (became customer on or before it, not churned by then)",
        "count", True, ("accounts",), "customers at end", customers, family="customers", sampled=False,
    ),
    KpiDef(
        "new_customers", "New customers", "accounts whose became_customer_at is in the period",
        "count", True, ("accounts",), "new customers", new_customers, family="customers", sampled=False,
    ),
    KpiDef(
        "trial_conversion", "Free-trial conversion",
        "100 x accounts signed up in the period that became customers (on any date) / accounts signed up in it",
        "%", True, ("accounts",), "sign-ups", trial_conversion, family="customers",
    ),
    KpiDef(
        "referrals", "Referral share of new logos",
        "100 x new customers with acquisition_source = referral / new customers (became customer in the period)",
        "%", True, ("accounts",), "new customers", referrals, family="customers",
    ),
    KpiDef(
        "ttv", "Time to value",
        "median days from signed_up_at to first_value_at, over accounts whose first_value_at is in the period",
        "days", False, ("accounts",), "accounts reaching value", ttv, family="customers",
    ),
]
