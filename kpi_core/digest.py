"""The digest's content: KPIs of the last complete week or month with their deltas, a short history per KPI for
the chart, customers that became at risk, renewals of the next 30 days and the biggest health moves.

Pure computation over the existing kpi_core APIs (engine `query`, `at_risk`, `score_accounts`) plus one small
query for renewals; nothing here knows about Slack, schedules or the clock (`today` is passed in).

Cost (`build_digest`, all on one connection, the same whatever the number of accounts): one engine `query` per
chosen KPI for the period (it also computes the previous period), one grouped statement per charted KPI for the
other ten points of its history (`engine.query_over`: every default charted KPI declares `over_periods`; a KPI
without it takes five more `query` calls, each returning two consecutive periods), two `at_risk` runs (period end,
day before the start), two health scorings for the movers and one renewals query. With the default KPIs that is
54 SQL statements on the 1,000-account demo store (90 with one query per two periods); health scorings take most
of the time (eight of them: the health KPI, at_risk and the movers score the same days more than once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, func, select

from kpi_core.catalog import catalog
from kpi_core.config import KpiConfig
from kpi_core.context import QueryContext, customer_on
from kpi_core.engine import query, query_over
from kpi_core.health import scope_conditions, score_accounts
from kpi_core.periods import MONTH_NAMES, Period
from kpi_core.risk import AtRisk, at_risk
from kpi_core.types import AccountRef, KpiRequest, KpiResult, Measure, Scope, UserError
from storage.models import Account, Revenue

DEFAULT_DIGEST_KPIS = ("customers", "mrr", "nrr", "churn", "nps", "csat", "health")
CADENCES = ("week", "month")
SERIES_PERIODS = 12
SERIES_KPIS_MAX = 4
# Not charted: the health KPI's history would be 10 more health scorings (+34 statements, +1.0 s on SQLite and
# +1.2 s on Postgres for the 200-account demo data, doubling the digest; it grows with accounts and usage events).
SERIES_EXCLUDED = frozenset({"health"})
RENEWAL_DAYS = 30
MOVERS_MAX = 5
_ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class RenewalDue:
    account: AccountRef
    owner: str | None
    renewal_date: dt.date
    mrr: float | None  # MRR of the month containing the period end (None: no revenue row that month)
    band: str | None  # health band at the period end (None: unscored, or not a customer then)


@dataclass(frozen=True)
class Mover:
    account: AccountRef
    owner: str | None
    before: float  # health score the day before the period
    after: float  # health score on the period's last day

    @property
    def change(self) -> float:
        return round(self.after - self.before, 1)


@dataclass(frozen=True)
class DigestContent:
    title: str  # "Weekly digest: week 47 of 2026 (2026-11-16 – 2026-11-22)"
    period: Period
    cadence: str  # "week" | "month"
    results: tuple[KpiResult, ...]
    # per charted KPI id, oldest first: (period end date, value), SERIES_PERIODS points ending with `period`
    series: dict[str, tuple[tuple[dt.date, float | None], ...]]
    newly_at_risk: tuple[AtRisk, ...]
    renewals: tuple[RenewalDue, ...]
    movers: tuple[Mover, ...]
    today: dt.date | None = None
    scope: Scope = Scope()
    movements: Measure | None = None  # mrr_movements of the last complete month (with its top accounts)
    movements_period: Period | None = None


# ------------------------------------------------------------------------------------------------- periods


def _check_cadence(cadence: str) -> None:
    if cadence not in CADENCES:
        raise UserError(f"The digest runs weekly or monthly ({' or '.join(CADENCES)}), not {cadence!r}.")


def last_complete_period(today: dt.date, cadence: str = "week") -> Period:
    """The last complete ISO week (Monday-Sunday) or calendar month ending before `today`.

    On a Monday that is the week that ended yesterday; on a Sunday the week before (this one ends today). On
    the 1st of a month it is the month that ended yesterday; on the 31st, the month before.
    """
    _check_cadence(cadence)
    if cadence == "week":
        end = today - dt.timedelta(days=today.weekday() + 1)  # the Sunday before today
        start = end - dt.timedelta(days=6)
        iso = start.isocalendar()
        return Period(start, end, f"week {iso.week} of {iso.year}", "week")
    end = today.replace(day=1) - _ONE_DAY
    start = end.replace(day=1)
    return Period(start, end, f"{MONTH_NAMES[start.month - 1].capitalize()} {start.year}", "month")


def _history(period: Period, n: int) -> list[Period]:
    """`period` and the n-1 periods before it, newest first (complete calendar units chain through previous())."""
    chain = [period]
    while len(chain) < n:
        chain.append(chain[-1].previous())
    return chain


# --------------------------------------------------------------------------------------------------- parts


def _kpi_ids(kpis: Sequence[str]) -> list[str]:
    """Catalog ids of the requested KPIs (aliases resolved), in order, without repeats; unknown ids raise."""
    return list(dict.fromkeys(catalog().get(k).id for k in (kpis or DEFAULT_DIGEST_KPIS)))


def _series(conn: Connection, kpi: str, chain: list[Period], first: KpiResult, scope: Scope,
            config: KpiConfig) -> tuple[tuple[dt.date, float | None], ...]:
    """Values of `kpi` over `chain` (newest first), oldest first in the result.

    `first` (the digest's own result) already covers chain[0] and chain[1]. A KPI with `over_periods` computes the
    other ten in one grouped statement; any other asks `query` once per two periods (each also computes the
    period before its own).
    """
    values: dict[dt.date, float | None] = {chain[0].end: first.value}
    if first.previous is not None:
        values[first.previous.period.end] = first.previous.value
    if catalog().get(kpi).over_periods is not None:
        rest = chain[2:]
        values.update((p.end, m.value) for p, m in zip(rest, query_over(conn, kpi, rest, scope, config), strict=True))
    else:
        for p in chain[2::2]:
            r = query(conn, KpiRequest(kpi, p, scope), config)
            values[p.end] = r.value
            if r.previous is not None:
                values[r.previous.period.end] = r.previous.value
    return tuple((p.end, values.get(p.end)) for p in reversed(chain))


def _newly_at_risk(conn: Connection, period: Period, config: KpiConfig, scope: Scope) -> tuple[AtRisk, ...]:
    before = {a.health.account.id for a in at_risk(conn, period.start - _ONE_DAY, config, scope)}
    return tuple(a for a in at_risk(conn, period.end, config, scope) if a.health.account.id not in before)


def _movers(before: dict[str, float | None], after_scores) -> tuple[Mover, ...]:
    moves = []
    for h in after_scores:
        was = before.get(h.account.id)
        if was is None or h.score is None or round(h.score - was, 1) == 0:
            continue
        moves.append(Mover(h.account, h.owner, was, h.score))
    moves.sort(key=lambda m: (-abs(m.change), m.account.name, m.account.id))
    return tuple(moves[:MOVERS_MAX])


def _scores_on(conn: Connection, day: dt.date, config: KpiConfig, scope: Scope) -> dict[str, float | None]:
    """Scores of the customers in scope on `day`: its stored health snapshot when there is one (what csbot said
    that day), else scored now."""
    from storage.snapshots import snapshot_of

    ids = select(Account.account_id).where(*scope_conditions(scope, config, day), customer_on(day))
    stored = snapshot_of(conn, day, ids)
    if stored:
        return {a: r.score for a, r in stored.items()}
    return {h.account.id: h.score for h in score_accounts(conn, day, config, scope)}


def renewals_due(conn: Connection, today: dt.date, config: KpiConfig, scope: Scope = Scope(),
                 days: int = RENEWAL_DAYS, mrr_month: dt.date | None = None,
                 ) -> list[tuple[AccountRef, str | None, dt.date, float | None]]:
    """Customers (on `today`, in scope) renewing in [today, today + days], soonest first (then by name), with
    their MRR of the month containing `mrr_month` (default: `today`).

    One query: accounts left-joined to the sum of their revenue rows of that month.
    """
    month = (mrr_month or today).replace(day=1)
    mrr = (
        select(Revenue.account_id, func.sum(Revenue.mrr).label("mrr"))
        .where(Revenue.month == month)
        .group_by(Revenue.account_id)
        .subquery()
    )
    rows = conn.execute(
        select(Account.account_id, Account.name, Account.owner_slack_id, Account.renewal_date, mrr.c.mrr)
        .outerjoin(mrr, mrr.c.account_id == Account.account_id)
        .where(
            *scope_conditions(scope, config, today),
            customer_on(today),
            and_(Account.renewal_date >= today, Account.renewal_date <= today + dt.timedelta(days=days)),
        )
        .order_by(Account.renewal_date, Account.name, Account.account_id)
    )
    return [(AccountRef(r.account_id, r.name), r.owner_slack_id, r.renewal_date,
             None if r.mrr is None else round(float(r.mrr), 2)) for r in rows]


# ----------------------------------------------------------------------------------------------------- digest


def build_digest(engine: Engine | Connection, today: dt.date, config: KpiConfig,
                 kpis: Sequence[str] = DEFAULT_DIGEST_KPIS, cadence: str = "week",
                 scope: Scope = Scope()) -> DigestContent:
    """Everything the digest shows for the last complete week or month before `today`.

    - results: `query` of each KPI (aliases resolved, repeats dropped; an empty list means the defaults) for the
      period, so each value and delta is exactly what `/kpi <id> <period>` answers; month-based KPIs in a weekly
      digest are over the latest complete month instead (`kpi_period`), and so is their series (monthly);
    - series: the last SERIES_PERIODS periods of the first SERIES_KPIS_MAX chosen KPIs (health excepted);
    - newly_at_risk: at risk at the period end but not the day before it started (worst first);
    - renewals: customers on `today` renewing in [today, today+30], soonest first, with their MRR and health
      band at the period end (the MRR of the month containing it: the current month often has no revenue rows
      yet when the digest runs early in a month, and this is the month the digest's MRR line reports);
    - movers: the MOVERS_MAX biggest health changes (either way) from the day before the period to its end,
      among accounts that were customers on both days (ties by name);
    - movements: `mrr_movements` of the last complete calendar month (new, expansion, ... with top accounts).

    Raises UnknownKpiError before any query for an id not in the catalog, UserError for a bad cadence or a
    `feature:` scope (the digest's KPIs are not per feature).
    """
    _check_cadence(cadence)
    ids = _kpi_ids(kpis)
    if scope.feature:
        raise UserError("The digest cannot be narrowed to a feature; use a segment or an owner.")
    period = last_complete_period(today, cadence)
    charted = [k for k in ids if k not in SERIES_EXCLUDED][:SERIES_KPIS_MAX]
    chain = _history(period, SERIES_PERIODS)
    if isinstance(engine, Connection):
        return _build(engine, today, config, ids, charted, cadence, scope, period, chain)
    with engine.connect() as conn:
        return _build(conn, today, config, ids, charted, cadence, scope, period, chain)


def kpi_period(kpi: str, period: Period, today: dt.date) -> Period:
    """The period a digest shows `kpi` over: its own, except that a month-based KPI (mrr, nrr, ...) in a weekly
    digest shows the latest complete month (against the month before), never a week-over-week change."""
    if period.kind == "week" and catalog().get(kpi).month_based:
        return last_complete_period(today, "month")
    return period


def _build(conn: Connection, today: dt.date, config: KpiConfig, ids: list[str], charted: list[str], cadence: str,
           scope: Scope, period: Period, chain: list[Period]) -> DigestContent:
    periods = {k: kpi_period(k, period, today) for k in ids}
    results = tuple(query(conn, KpiRequest(k, periods[k], scope), config) for k in ids)
    by_id = {r.kpi: r for r in results}
    chains = {k: chain if periods[k] is period else _history(periods[k], SERIES_PERIODS) for k in charted}
    series = {k: _series(conn, k, chains[k], by_id[k], scope, config) for k in charted}
    newly = _newly_at_risk(conn, period, config, scope)
    after = score_accounts(conn, period.end, config, scope)
    before = _scores_on(conn, period.start - _ONE_DAY, config, scope)
    bands = {h.account.id: h.band for h in after}
    renewals = tuple(RenewalDue(acc, owner, day, mrr, bands.get(acc.id))
                     for acc, owner, day, mrr in renewals_due(conn, today, config, scope, mrr_month=period.end))
    kind = "Weekly" if cadence == "week" else "Monthly"
    month = last_complete_period(today, "month")  # one computation, no previous period: 4 statements
    movements = catalog().get("mrr_movements").compute(conn, QueryContext(month, scope, config))
    return DigestContent(
        title=f"{kind} digest: {period.describe()}",
        period=period,
        cadence=cadence,
        results=results,
        series=series,
        newly_at_risk=newly,
        renewals=renewals,
        movers=_movers(before, after),
        today=today,
        scope=scope,
        movements=movements,
        movements_period=month,
    )
