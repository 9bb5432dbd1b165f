"""Churn risk (kpis.md "Churn risk"): which customers are at risk now, and which rules fired.

A customer (on `as_of`) is at risk when any rule fires:

- ``red_band``: health band red;
- ``health_drop``: score(as_of-14) - score(as_of) >= 15 points (scores rounded to 1 decimal, both present);
- ``detractor``: an NPS response scoring 0-6 in the 30 local days [as_of-29, as_of];
- ``usage_drop``: distinct active users of [as_of-29, as_of] at least 50% below those of [as_of-59, as_of-30]
  (only when the previous window had users);
- ``renewal_not_green``: renewal_date in [as_of, as_of+60] and band not green;
- ``cancellation_scheduled``: a Stripe subscription set to cancel on or after as_of (`scheduled_cancellations`,
  kept by the Stripe sync), with the MRR at stake.

`at_risk` runs two health scorings (as_of, and as_of-14 for the same customers) and one GROUP BY query for
detractors; active users and the renewal date come from the engagement and lifecycle facts of the scoring.
The rule functions are pure, so each threshold can be checked on given numbers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from kpi_core.config import KpiConfig
from kpi_core.context import customer_on
from kpi_core.health import AccountHealth, DayWindows, renewal_known, scope_conditions, score_where, scored
from kpi_core.types import Scope
from storage.models import Account, ScheduledCancellation, Survey

RULE_IDS = ("red_band", "health_drop", "detractor", "usage_drop", "renewal_not_green", "cancellation_scheduled")
HEALTH_DROP_POINTS = 15.0
HEALTH_DROP_DAYS = 14
DETRACTOR_DAYS = 30
DETRACTOR_MAX_SCORE = 6
USAGE_DROP_PCT = 50.0
RENEWAL_WINDOW_DAYS = 60


@dataclass(frozen=True)
class FiredRule:
    id: str
    text: str
    money: str = ""  # the part of `text` that is a money figure, left out for people who may not see revenue

    def without_money(self) -> FiredRule:
        return FiredRule(self.id, self.text.replace(self.money, ""), "") if self.money else self


@dataclass(frozen=True)
class AtRisk:
    health: AccountHealth
    rules: tuple[FiredRule, ...]


def _points(value: float) -> str:
    return f"{value:g}"


# ----------------------------------------------------------------------------------------------------- rules


def red_band_rule(health: AccountHealth) -> FiredRule | None:
    if health.band != "red":
        return None
    return FiredRule("red_band", f"health is red ({_points(health.score)})")


def health_drop_rule(now: float | None, before: float | None, days: int = HEALTH_DROP_DAYS) -> FiredRule | None:
    """Fires when the score fell by HEALTH_DROP_POINTS or more (compared at 1 decimal)."""
    if now is None or before is None:
        return None
    drop = round(before - now, 1)
    if drop < HEALTH_DROP_POINTS:
        return None
    return FiredRule(
        "health_drop", f"health fell {_points(drop)} points in {days} days ({_points(before)} -> {_points(now)})"
    )


def detractor_rule(count: int, lowest: int | None = None, latest: dt.date | None = None) -> FiredRule | None:
    """Fires on one or more NPS responses scoring 0-6 in the last 30 days."""
    if count <= 0:
        return None
    what = "a detractor NPS response" if count == 1 else f"{count} detractor NPS responses"
    details = []
    if lowest is not None:
        details.append(f"score {lowest}" if count == 1 else f"lowest {lowest}")
    if latest is not None:
        details.append(f"on {latest.isoformat()}" if count == 1 else f"latest {latest.isoformat()}")
    extra = f" ({', '.join(details)})" if details else ""
    return FiredRule("detractor", f"{what} in the last {DETRACTOR_DAYS} days{extra}")


def usage_drop_rule(users_recent: int, users_previous: int) -> FiredRule | None:
    """Fires when active users fell by 50% or more vs the previous 30 days (never when those had none)."""
    if users_previous <= 0:
        return None
    if 100 * (users_previous - users_recent) < USAGE_DROP_PCT * users_previous:
        return None
    drop = 100.0 * (users_previous - users_recent) / users_previous
    return FiredRule(
        "usage_drop",
        f"active users down {drop:.0f}% vs the previous 30 days ({users_previous} -> {users_recent})",
    )


def renewal_rule(days_to_renewal: int | None, as_of: dt.date, band: str | None,
                 score: float | None = None) -> FiredRule | None:
    """Fires when the renewal is 0-60 days away and the band is not green."""
    if days_to_renewal is None or not 0 <= days_to_renewal <= RENEWAL_WINDOW_DAYS or band == "green":
        return None
    when = (as_of + dt.timedelta(days=days_to_renewal)).isoformat()
    state = f"health is {band} ({_points(score)})" if band and score is not None else "health is unscored"
    days = "today" if days_to_renewal == 0 else f"in {days_to_renewal} day{'s' if days_to_renewal != 1 else ''}"
    return FiredRule("renewal_not_green", f"renews {days} ({when}) and {state}")


def cancellation_rule(cancel_on: dt.date | None, mrr: float = 0.0, count: int = 1) -> FiredRule | None:
    """Fires when a subscription of the account is set to cancel (the earliest date; MRR summed)."""
    if cancel_on is None:
        return None
    what = "cancellation scheduled" if count == 1 else f"{count} cancellations scheduled, the first"
    money = f" (MRR at stake {mrr:,.2f})"
    return FiredRule("cancellation_scheduled", f"{what} for {cancel_on.isoformat()}{money}", money)


Detractors = tuple[int, int | None, dt.date | None]  # count, lowest score, latest local date
Cancellation = tuple[dt.date | None, float, int]  # first date, MRR at stake, subscriptions


def rules_for(health: AccountHealth, before: float | None, detractors: Detractors = (0, None, None),
              cancellation: Cancellation = (None, 0.0, 0)) -> tuple[FiredRule, ...]:
    """Every rule that fires for one customer, in RULE_IDS order.

    `before` is the score 14 days earlier; active users and the renewal come from the component facts.
    """
    usage = health.component("engagement").facts
    days_to_renewal = health.component("lifecycle").facts.get("days_to_renewal")
    fired = (
        red_band_rule(health),
        health_drop_rule(health.score, before),
        detractor_rule(*detractors),
        usage_drop_rule(int(usage.get("users_recent") or 0), int(usage.get("users_previous") or 0)),
        renewal_rule(None if days_to_renewal is None else int(days_to_renewal), health.as_of, health.band,
                     health.score),
        cancellation_rule(*cancellation),
    )
    return tuple(rule for rule in fired if rule is not None)


# ----------------------------------------------------------------------------------------------------- query


def _detractors(conn: Connection, as_of: dt.date, config: KpiConfig, ids) -> dict[str, Detractors]:
    w = DayWindows(as_of, config.tz)
    query = select(
        Survey.account_id, func.count().label("n"), func.min(Survey.score).label("lowest"),
        func.max(Survey.responded_at).label("latest"),
    ).where(
        Survey.survey == "nps", Survey.score <= DETRACTOR_MAX_SCORE,
        Survey.responded_at >= w.at(DETRACTOR_DAYS - 1), Survey.responded_at < w.end, Survey.account_id.in_(ids),
    ).group_by(Survey.account_id)
    out = {}
    for row in conn.execute(query):
        latest = row.latest.replace(tzinfo=dt.UTC).astimezone(config.tz).date() if row.latest else None
        out[row.account_id] = (int(row.n), int(row.lowest), latest)
    return out


def _cancellations(conn: Connection, as_of: dt.date, ids) -> dict[str, Cancellation]:
    """Per account: the first scheduled cancellation on or after `as_of`, the MRR at stake, how many."""
    c = ScheduledCancellation
    query = select(c.account_id, func.min(c.cancel_on), func.sum(c.mrr), func.count()).where(
        c.cancel_on >= as_of, c.account_id.in_(ids)).group_by(c.account_id)
    return {a: (first, round(float(mrr or 0), 2), int(n)) for a, first, mrr, n in conn.execute(query)}


def _worst_first(item: AtRisk) -> tuple:
    score = item.health.score
    return (-len(item.rules), score if score is not None else float("inf"), item.health.account.name,
            item.health.account.id)


def score_with_rules(conn: Connection, as_of: dt.date, config: KpiConfig, scope: Scope = Scope(),
                     today: dt.date | None = None) -> list[AtRisk]:
    """Every customer on `as_of` in scope with its health and the rules that fired (possibly none), by account id.

    `today` as in `score_where` (a past `as_of` is scored point in time; the score 14 days earlier follows the
    same renewal rule, so the drop compares like with like). The daily snapshot and the backfill store this.
    """
    conds = [*scope_conditions(scope, config, as_of), customer_on(as_of)]
    now = scored(conn, as_of, config, scope, customers_on=as_of, today=today)
    if not now:
        return []
    earlier_day = as_of - dt.timedelta(days=HEALTH_DROP_DAYS)
    earlier = {h.account.id: h.score for h in scored(
        conn, earlier_day, config, scope, customers_on=as_of, today=None if renewal_known(as_of, today) else as_of)}
    return rules_of_scored(conn, as_of, config, now, conds, today, earlier)


def rules_of_scored(conn: Connection, as_of: dt.date, config: KpiConfig, now: list[AccountHealth],
                    conds: list, today: dt.date | None = None,
                    earlier: dict[str, float | None] | None = None) -> list[AtRisk]:
    """The rules of already scored customers (`now`, the accounts matching `conds`).

    `earlier`: their scores of as_of-14 when the caller has them, scored with the same renewal rule (the
    backfill keeps each day's scores for the day 14 days later); else they are scored here.
    """
    if earlier is None:
        earlier_day = as_of - dt.timedelta(days=HEALTH_DROP_DAYS)
        earlier = {h.account.id: h.score for h in score_where(
            conn, earlier_day, config, conds, None if renewal_known(as_of, today) else as_of)}
    ids = select(Account.account_id).where(*conds)
    detractors = _detractors(conn, as_of, config, ids)
    # scheduled cancellations are a fact of now (no history): like renewal dates, not used for a past date
    cancellations = _cancellations(conn, as_of, ids) if renewal_known(as_of, today) else {}
    return [AtRisk(h, rules_for(h, earlier.get(h.account.id), detractors.get(h.account.id, (0, None, None)),
                                cancellations.get(h.account.id, (None, 0.0, 0))))
            for h in now]


def at_risk(conn: Connection, as_of: dt.date, config: KpiConfig, scope: Scope = Scope(),
            today: dt.date | None = None) -> list[AtRisk]:
    """Customers on `as_of` in scope with at least one rule fired, worst first (most rules, then lowest score)."""
    found = [a for a in score_with_rules(conn, as_of, config, scope, today) if a.rules]
    return sorted(found, key=_worst_first)
