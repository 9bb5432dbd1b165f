"""Customer health: a 0-100 score per account as of a date, from five components (kpis.md "Health score").

Every window is a range of local dates in the reporting time zone ending on `as_of` (inclusive), turned
into naive-UTC bounds with `utc_bounds`. The curves (each monotonic, each 0-100):

- engagement = 0.5 x trend + 0.5 x breadth.
  trend = 100 x min(1, events in [as_of-29, as_of] / events in [as_of-59, as_of-30]); when the previous
  30 days had no events: 100 if the last 30 days had any, else 0. breadth = 100 x users active in the last
  30 days / seats. There is no seat-count column, so **seats = distinct users of the account active in the
  90 days [as_of-89, as_of]**. More usage in the last 30 days (more events, more active users) never lowers
  engagement. Missing only when the account has no usage event at all up to `as_of` (a customer who stopped
  using the product scores 0, which is the point).
- sentiment = mean of the parts present over the 180 days [as_of-179, as_of]: NPS part = (NPS + 100) / 2
  with NPS = 100 x (promoters - detractors) / responses; CSAT part = 100 x responses scoring 4-5 / responses.
  More detractors never raise it. Missing when there is no NPS and no CSAT response in those 180 days.
- support = max(0, 100 - 10 x open - 15 x slow - 20 x escalations). open = tickets opened by `as_of` and not
  resolved by its end; slow = open tickets opened on or before as_of-7 (open more than 7 days) plus tickets
  resolved in [as_of-89, as_of] that took more than 72 hours; escalations = urgent or high tickets opened in
  [as_of-29, as_of]. Every ticket only subtracts. Missing when the account has never opened a ticket (no
  history says nothing); an account with ticket history and nothing open, slow or escalated scores 100.
- revenue: months m0 (the month containing `as_of`) back to m-3. growth g = MRR(m0) / MRR(m-3);
  trend = clamp(75 + 125 x (g - 1)) (flat = 75, +20% or more = 100, -60% or worse = 0; 100 when m-3 had no
  MRR and m0 has some); drawdown = (peak of the 4 months - MRR(m0)) / peak; revenue = clamp(trend - 50 x
  drawdown). Higher MRR(m0) never lowers it. Missing when the account has no MRR in those 4 months.
- lifecycle = mean of the parts present. renewal part (renewal_date on or after `as_of`): 100 when more than
  90 days away, else 50 + 50 x days left / 90 (50 on the renewal day). time-to-value part (when the account
  has a first_value_at or a renewal_date, i.e. it is tracked): 100 when first_value_at <= as_of; not reached:
  50 during the first 30 days as a customer (onboarding), 0 after. Missing when neither part is present.

Point in time (no look-ahead): every window ends with `as_of`, and the account's state is read as of that day:
became_customer_at, first_value_at and churned_at count only when on or before `as_of` (an account that had not
signed up yet, or had churned, on `as_of` gets no score and says so; one still in trial is scored and says it was
not a customer). `renewal_date` has no history in the data contract, so when `today` is given and `as_of` is
before it, the renewal part is left out (and `left_out` says why); the time-to-value part then counts as tracked
when the store holds any first_value_at on or before `as_of` (instead of "has a renewal date"). So a store cut at
a date D (rows after D removed, those dates emptied) scores every account as of D exactly as the full store does.

Score = weighted mean of the components present (config weights, scaled to sum to 1 over those present; an
empty weights mapping means the defaults of defaults.yml), taken over the component scores rounded to 1
decimal (what the answer shows), itself rounded to 1 decimal (halves up); band from the config thresholds.
Drivers: the components that cost the most points, weight x (100 - score), up to three, each costing at least
one point.

Queries: `score_accounts` runs five queries whatever the number of accounts (accounts, usage, surveys,
tickets, revenue), each a single GROUP BY account_id over all accounts in scope; event rows are never
fetched, only one aggregated row per account.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass, replace
from typing import Any

import yaml
from sqlalchemy import Connection, and_, case, func, literal, or_, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from kpi_core.config import DEFAULTS_FILE, HEALTH_COMPONENTS, KpiConfig
from kpi_core.context import QueryContext, customer_on
from kpi_core.periods import Period
from kpi_core.scoring_cache import SCORING_CACHE
from kpi_core.sqlfuncs import count_if, hours_between, local_midnight_utc
from kpi_core.types import AccountRef, Scope, UnknownAccountError
from kpi_core.usage_rollups import fresh, month_range, window_flag
from storage.models import Account, Revenue, Survey, Ticket, UsageDay, UsageUserMonth

BANDS = ("green", "yellow", "red")
RECENT_DAYS = 30
SEAT_DAYS = 90
SENTIMENT_DAYS = 180
SLOW_OPEN_DAYS = 7
SLOW_RESOLUTION_HOURS = 72
HOURS_TOLERANCE = 1e-6  # julianday arithmetic on SQLite is not exact: exactly 72h must not count as slower
SLOW_RESOLVED_DAYS = 90
ESCALATION_DAYS = 30
ESCALATION_PRIORITIES = ("urgent", "high")
REVENUE_MONTHS = 3
RENEWAL_DAYS = 90
ONBOARDING_DAYS = 30
TREND_WEEKS = 3
LOWEST_SHOWN = 10
MAX_DRIVERS = 3
MIN_DRIVER_POINTS = 1.0

HEALTH_HELP = """Health score: 0-100 per account as of a date, the weighted mean of five components (weights in config).
- engagement: half usage trend (events of the last 30 days vs the previous 30, 100 when not down, falling
  with the drop), half breadth (users active in 30 days / seats; seats = users active in the last 90 days).
- sentiment (last 180 days): mean of (NPS + 100) / 2 and CSAT % (share of 4-5 scores), whichever exist.
- support: 100 minus 10 per open ticket, 15 per slow ticket (open over 7 days, or resolved after 72h in the
  last 90 days) and 20 per urgent/high ticket of the last 30 days; never below 0.
- revenue: MRR now vs 3 months ago: flat = 75, +20% = 100, -60% = 0; minus half the drop from the 3-month peak.
- lifecycle: renewal (100 if over 90 days away, down to 50 on the day) and time to value (reached = 100,
  not reached = 50 in the first 30 days as a customer, then 0).
A component without data is left out and the other weights are scaled up to sum to 1 (the answer lists it).
Bands (thresholds in config): green >= 70, yellow 40 to under 70, red under 40 by default.
"Pulled down by" = the components costing the most points, weight x (100 - score)."""


# -------------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ComponentScore:
    name: str
    score: float | None
    weight: float  # effective weight after re-weighting (0 when missing)
    detail: str
    facts: dict[str, float | int | None]


@dataclass(frozen=True)
class AccountHealth:
    account: AccountRef
    owner: str | None
    segment: str | None
    as_of: dt.date
    score: float | None
    band: str | None
    components: tuple[ComponentScore, ...]
    missing: tuple[str, ...]
    drivers: tuple[str, ...]
    trend: tuple[tuple[dt.date, float | None], ...] = ()
    status: str = "customer"  # customer | trial | churned | not_signed_up, on `as_of`
    left_out: tuple[str, ...] = ()  # facts not used for this date, and why (point in time)
    status_note: str | None = None  # what the answer says when the account was not a customer on `as_of`

    def component(self, name: str) -> ComponentScore:
        return next(c for c in self.components if c.name == name)


@dataclass(frozen=True)
class HealthOverview:
    as_of: dt.date
    mean: float | None
    customers: int
    bands: dict[str, int]
    lowest: tuple[AccountHealth, ...]


# --------------------------------------------------------------------------------------------------- curves


def clamp(value: float, low: float = 0.0, high: float = 100.0) -> float:
    return max(low, min(high, value))


def engagement_score(events_recent: int, events_previous: int, users_recent: int, seats: int) -> float:
    """0.5 x trend + 0.5 x breadth (see the module docstring)."""
    if events_previous > 0:
        trend = 100.0 * min(1.0, events_recent / events_previous)
    else:
        trend = 100.0 if events_recent > 0 else 0.0
    breadth = 100.0 * min(1.0, users_recent / seats) if seats > 0 else 0.0
    return 0.5 * trend + 0.5 * breadth


def nps_value(responses: int, promoters: int, detractors: int) -> float | None:
    return 100.0 * (promoters - detractors) / responses if responses else None


def sentiment_score(nps_responses: int, promoters: int, detractors: int, csat_responses: int,
                    satisfied: int) -> float | None:
    """Mean of (NPS + 100) / 2 and CSAT % over the parts that have responses; None when neither has."""
    parts = []
    nps = nps_value(nps_responses, promoters, detractors)
    if nps is not None:
        parts.append((nps + 100.0) / 2)
    if csat_responses:
        parts.append(100.0 * satisfied / csat_responses)
    return sum(parts) / len(parts) if parts else None


def support_score(open_tickets: int, slow: int, escalations: int) -> float:
    return clamp(100.0 - 10.0 * open_tickets - 15.0 * slow - 20.0 * escalations)


def revenue_score(start_mrr: float, end_mrr: float, peak_mrr: float) -> float:
    """Trend of MRR over the 3 months, minus half the drawdown from the peak of the 4 months."""
    if start_mrr > 0:
        trend = clamp(75.0 + 125.0 * (end_mrr / start_mrr - 1.0))
    elif end_mrr > 0:
        trend = 100.0  # new MRR since 3 months ago
    else:
        trend = 0.0
    drawdown = (peak_mrr - end_mrr) / peak_mrr if peak_mrr > 0 else 0.0
    return clamp(trend - 50.0 * max(0.0, drawdown))


def renewal_part(days_to_renewal: int) -> float:
    if days_to_renewal > RENEWAL_DAYS:
        return 100.0
    return 50.0 + 50.0 * max(0, days_to_renewal) / RENEWAL_DAYS


def ttv_part(reached: bool, days_as_customer: int) -> float:
    if reached:
        return 100.0
    return 50.0 if days_as_customer <= ONBOARDING_DAYS else 0.0


# ------------------------------------------------------------------------------------------------- helpers


def _r1(value: float | None) -> float | None:
    """One decimal, halves rounded up (66.875 -> 66.9), robust to float noise in the weighted sums."""
    return None if value is None else math.floor(float(value) * 10 + 0.5 + 1e-9) / 10


def _int(value: Any) -> int:
    return int(value or 0)


def _money(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _month_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


@functools.lru_cache(maxsize=1)
def _default_weights() -> dict[str, float]:
    raw = yaml.safe_load(DEFAULTS_FILE.read_text()) or {}
    return {k: float(v) for k, v in ((raw.get("health") or {}).get("weights") or {}).items()}


def weights_of(config: KpiConfig) -> dict[str, float]:
    """The configured weight per component (0 for one a non-empty mapping leaves out; defaults when empty)."""
    weights = config.health.weights or _default_weights()
    return {name: float(weights.get(name, 0.0)) for name in HEALTH_COMPONENTS}


@dataclass(frozen=True)
class DayWindows:
    """The naive-UTC instants of the local midnights that bound every window of one `as_of`."""

    as_of: dt.date
    tz: Any

    def at(self, days_back: int) -> dt.datetime:
        """Start of the local day `as_of - days_back` (days_back = -1: the end of `as_of`)."""
        return local_midnight_utc(self.as_of - dt.timedelta(days=days_back), self.tz)

    @property
    def end(self) -> dt.datetime:
        return self.at(-1)


def scope_conditions(scope: Scope, config: KpiConfig, as_of: dt.date) -> list[ColumnElement]:
    ctx = QueryContext(Period(as_of, as_of, as_of.isoformat(), "day"), scope, config)
    return ctx.account_conditions()


# ------------------------------------------------------------------------------------------------- queries


def _account_rows(conn: Connection, conds: list[ColumnElement], w: DayWindows,
                  renewal_known: bool = True) -> list[Any]:
    has_usage = select(UsageDay.day).where(UsageDay.account_id == Account.account_id, UsageDay.day <= w.as_of).exists()
    has_tickets = select(Ticket.ticket_id).where(
        Ticket.account_id == Account.account_id, Ticket.opened_at < w.end
    ).exists()
    other = Account.__table__.alias("ttv_any")
    ttv_tracked = (
        select(other.c.account_id).where(other.c.first_value_at <= w.as_of).exists()
        if not renewal_known else literal(False)
    )
    query = select(
        Account.account_id, Account.name, Account.owner_slack_id, Account.segment, Account.signed_up_at,
        Account.became_customer_at, Account.first_value_at, Account.renewal_date, Account.churned_at,
        has_usage.label("has_usage"), has_tickets.label("has_tickets"), ttv_tracked.label("ttv_in_store"),
    ).where(*conds).order_by(Account.account_id)
    return list(conn.execute(query))


@dataclass(frozen=True)
class UsageInputs:
    """Health's usage inputs of one account (from the usage rollups)."""

    events_recent: int = 0
    events_previous: int = 0
    users_recent: int = 0
    users_previous: int = 0
    seats: int = 0


def _usage(conn: Connection, ids, w: DayWindows) -> dict[str, UsageInputs]:
    """Events of the last 30 / previous 30 local days (usage_days) and distinct users of the last 30 / previous
    30 / 90 days (usage_user_months), per account."""
    day = UsageDay.day
    recent_from, previous_from = w.as_of - dt.timedelta(days=RECENT_DAYS - 1), w.as_of - dt.timedelta(
        days=2 * RECENT_DAYS - 1)
    seats_from = w.as_of - dt.timedelta(days=SEAT_DAYS - 1)
    events = select(
        UsageDay.account_id,
        func.sum(case((day >= recent_from, UsageDay.events), else_=0)).label("recent"),
        func.sum(case((day < recent_from, UsageDay.events), else_=0)).label("previous"),
    ).where(day >= previous_from, day <= w.as_of, UsageDay.account_id.in_(ids)).group_by(
        UsageDay.account_id).subquery("events")
    m = UsageUserMonth
    per_user = select(
        m.account_id.label("account_id"),
        func.max(window_flag(m, recent_from, w.as_of)).label("recent"),
        func.max(window_flag(m, previous_from, recent_from - dt.timedelta(days=1))).label("previous"),
        func.max(window_flag(m, seats_from, w.as_of)).label("seat"),
    ).where(*month_range(m, min(seats_from, previous_from), w.as_of), m.account_id.in_(ids)).group_by(
        m.account_id, m.user_id).subquery("per_user")
    zero = literal(0)
    users = select(
        per_user.c.account_id, zero.label("recent"), zero.label("previous"), per_user.c.recent.label("u_recent"),
        per_user.c.previous.label("u_previous"), per_user.c.seat.label("seats"),
    )
    parts = union_all(
        select(events.c.account_id, events.c.recent, events.c.previous, zero.label("u_recent"),
               zero.label("u_previous"), zero.label("seats")), users
    ).subquery("parts")
    query = select(
        parts.c.account_id, *(func.sum(c).label(c.name) for c in list(parts.c)[1:])
    ).group_by(parts.c.account_id)
    return {
        row.account_id: UsageInputs(_int(row.recent), _int(row.previous), _int(row.u_recent), _int(row.u_previous),
                                    _int(row.seats))
        for row in conn.execute(query)
    }


def _surveys(conn: Connection, ids, w: DayWindows) -> dict[str, Any]:
    nps = Survey.survey == "nps"
    csat = Survey.survey == "csat"
    query = select(
        Survey.account_id,
        count_if(nps).label("nps_n"),
        count_if(and_(nps, Survey.score >= 9)).label("promoters"),
        count_if(and_(nps, Survey.score <= 6)).label("detractors"),
        count_if(csat).label("csat_n"),
        count_if(and_(csat, Survey.score >= 4)).label("satisfied"),
    ).where(
        Survey.survey.in_(("nps", "csat")), Survey.responded_at >= w.at(SENTIMENT_DAYS - 1),
        Survey.responded_at < w.end, Survey.account_id.in_(ids),
    ).group_by(Survey.account_id)
    return {row.account_id: row for row in conn.execute(query)}


def _tickets(conn: Connection, ids, w: DayWindows) -> dict[str, Any]:
    is_open = or_(Ticket.resolved_at.is_(None), Ticket.resolved_at >= w.end)
    resolved_in_window = and_(Ticket.resolved_at >= w.at(SLOW_RESOLVED_DAYS - 1), Ticket.resolved_at < w.end)
    escalation_window = Ticket.opened_at >= w.at(ESCALATION_DAYS - 1)
    slow_hours = SLOW_RESOLUTION_HOURS + HOURS_TOLERANCE
    query = select(
        Ticket.account_id,
        count_if(is_open).label("open"),
        count_if(and_(is_open, Ticket.opened_at < w.at(SLOW_OPEN_DAYS - 1))).label("open_slow"),
        count_if(and_(resolved_in_window, hours_between(Ticket.resolved_at, Ticket.opened_at) > slow_hours)
                  ).label("resolved_slow"),
        count_if(and_(escalation_window, Ticket.priority.in_(ESCALATION_PRIORITIES))).label("escalations"),
    ).where(
        Ticket.opened_at < w.end, Ticket.account_id.in_(ids), or_(is_open, resolved_in_window, escalation_window)
    ).group_by(Ticket.account_id)
    return {row.account_id: row for row in conn.execute(query)}


def _revenue(conn: Connection, ids, as_of: dt.date) -> dict[str, Any]:
    months = [_month_back(as_of, back) for back in range(REVENUE_MONTHS + 1)]  # m0, m-1, m-2, m-3
    query = select(
        Revenue.account_id,
        *(func.sum(case((Revenue.month == m, Revenue.mrr), else_=0)).label(f"m{i}") for i, m in enumerate(months)),
    ).where(
        Revenue.month >= months[-1], Revenue.month <= months[0], Revenue.account_id.in_(ids)
    ).group_by(Revenue.account_id)
    return {row.account_id: row for row in conn.execute(query)}


# ---------------------------------------------------------------------------------------------- components


def _change_words(subject: str, change_pct: float, span: str, detail: str, unchanged: str) -> str:
    """ "usage down 46% vs the previous 30 days (120 -> 65 events)", or up, or `unchanged` within 1%."""
    pct = round(change_pct)
    if pct <= -1:
        return f"{subject} down {-pct}% {span} ({detail})"
    if pct >= 1:
        return f"{subject} up {pct}% {span} ({detail})"
    return f"{subject} {unchanged} {span} ({detail})"


def _engagement(acc, row) -> tuple[float | None, str, dict]:
    er, ep = (_int(row.events_recent), _int(row.events_previous)) if row else (0, 0)
    ur, up, seats = (_int(row.users_recent), _int(row.users_previous), _int(row.seats)) if row else (0, 0, 0)
    facts = {"events_recent": er, "events_previous": ep, "users_recent": ur, "users_previous": up, "seats": seats}
    if not acc.has_usage:
        return None, "no product usage on record", facts
    if ep > 0:
        change = 100.0 * (er - ep) / ep
        facts["usage_change_pct"] = round(change, 1)
        words = _change_words("usage", change, "vs the previous 30 days", f"{ep} -> {er} events", "steady")
    elif er > 0:
        words = f"usage picked up: {_plural(er, 'event')} in the last 30 days, none in the 30 before"
    else:
        words = "no usage in the last 60 days"
    if seats:
        words += f"; {ur} of {_plural(seats, 'seat')} active in the last 30 days"
    else:
        words += "; no active users in the last 90 days"
    return engagement_score(er, ep, ur, seats), words, facts


def _sentiment(row) -> tuple[float | None, str, dict]:
    n, p, det = (_int(row.nps_n), _int(row.promoters), _int(row.detractors)) if row else (0, 0, 0)
    cn, sat = (_int(row.csat_n), _int(row.satisfied)) if row else (0, 0)
    nps = nps_value(n, p, det)
    csat = 100.0 * sat / cn if cn else None
    facts = {"nps": _r1(nps), "nps_responses": n, "promoters": p, "detractors": det,
             "csat_pct": _r1(csat), "csat_responses": cn}
    score = sentiment_score(n, p, det, cn, sat)
    if score is None:
        return None, "no NPS or CSAT responses in the last 180 days", facts
    parts = []
    if nps is not None:
        parts.append(f"NPS {nps:.0f} from {_plural(n, 'response')} ({_plural(det, 'detractor')})")
    if csat is not None:
        parts.append(f"CSAT {csat:.0f}% from {_plural(cn, 'response')}")
    return score, ", ".join(parts) + " in the last 180 days", facts


def _support(acc, row) -> tuple[float | None, str, dict]:
    open_, open_slow = (_int(row.open), _int(row.open_slow)) if row else (0, 0)
    resolved_slow, esc = (_int(row.resolved_slow), _int(row.escalations)) if row else (0, 0)
    facts = {"open": open_, "open_over_7_days": open_slow, "resolved_over_72h": resolved_slow, "escalations": esc}
    if not acc.has_tickets:
        return None, "no support tickets on record", facts
    parts = []
    if open_:
        parts.append(_plural(open_, "open ticket") + (f" ({open_slow} open more than 7 days)" if open_slow else ""))
    if resolved_slow:
        parts.append(f"{_plural(resolved_slow, 'ticket')} resolved slower than 72h in the last 90 days")
    if esc:
        parts.append(f"{_plural(esc, 'urgent/high ticket')} in the last 30 days")
    words = ", ".join(parts) if parts else "no open, slow or escalated tickets"
    return support_score(open_, open_slow + resolved_slow, esc), words, facts


def _revenue_component(row) -> tuple[float | None, str, dict]:
    m = [float(getattr(row, f"m{i}") or 0) for i in range(REVENUE_MONTHS + 1)] if row else [0.0] * 4
    end, start, peak = m[0], m[REVENUE_MONTHS], max(m)
    facts = {"mrr_now": end, "mrr_3_months_ago": start, "mrr_peak": peak}
    if peak <= 0:
        return None, "no MRR in the last 3 months", facts
    if start > 0:
        change = 100.0 * (end - start) / start
        facts["mrr_change_pct"] = round(change, 1)
        words = _change_words("MRR", change, "over 3 months", f"{_money(start)} -> {_money(end)}", "flat")
    else:
        words = f"new MRR over 3 months (0 -> {_money(end)})"
    if end < peak and peak > start:
        words += f"; {round(100 * (peak - end) / peak)}% below its 3-month peak ({_money(peak)})"
    return revenue_score(start, end, peak), words, facts


def _known(day: dt.date | None, as_of: dt.date) -> dt.date | None:
    """A date fact as it stood on `as_of`: the date when on or before it, else None (not known yet)."""
    return day if day is not None and day <= as_of else None


def _lifecycle(acc, as_of: dt.date, renewal_known: bool = True) -> tuple[float | None, str, dict]:
    facts: dict[str, float | int | None] = {"days_to_renewal": None, "ttv_reached": None}
    parts: list[float] = []
    words: list[str] = []
    renewal = acc.renewal_date if renewal_known else None
    reached_on = _known(acc.first_value_at, as_of)
    became = _known(acc.became_customer_at, as_of)
    if renewal_known:
        tracked = acc.first_value_at is not None or acc.renewal_date is not None
    else:
        tracked = reached_on is not None or bool(acc.ttv_in_store)
    if renewal is not None and renewal >= as_of:
        days = (acc.renewal_date - as_of).days
        facts["days_to_renewal"] = days
        parts.append(renewal_part(days))
        if days <= RENEWAL_DAYS:
            words.append(f"renews in {_plural(days, 'day')} ({acc.renewal_date.isoformat()})")
        else:
            words.append(f"renewal more than 90 days away ({acc.renewal_date.isoformat()})")
    if tracked:
        reached = reached_on is not None
        since = became or acc.signed_up_at
        days_in = (as_of - since).days
        facts["ttv_reached"] = int(reached)
        parts.append(ttv_part(reached, days_in))
        if reached:
            words.append(f"time to value reached on {reached_on.isoformat()}")
        else:
            role = "as a customer" if became else "since sign-up"
            words.append(f"time to value not reached after {_plural(days_in, 'day')} {role}")
    if not parts:
        if not renewal_known:
            return None, "no time-to-value milestone on record by this date (renewal date not used)", facts
        return None, "no renewal date or time-to-value milestone on record", facts
    return sum(parts) / len(parts), "; ".join(words), facts


# -------------------------------------------------------------------------------------------------- scoring


def _assemble(acc, as_of: dt.date, weights: dict[str, float], config: KpiConfig,
              raw: dict[str, tuple[float | None, str, dict]]) -> AccountHealth:
    scores = {name: _r1(raw[name][0]) for name in HEALTH_COMPONENTS}
    present = [n for n in HEALTH_COMPONENTS if scores[n] is not None and weights[n] > 0]
    total = sum(weights[n] for n in present)
    effective = {n: (weights[n] / total if n in present else 0.0) for n in HEALTH_COMPONENTS}
    score = _r1(sum(effective[n] * scores[n] for n in present)) if present else None
    components = tuple(
        ComponentScore(n, scores[n], round(effective[n], 4), raw[n][1], raw[n][2]) for n in HEALTH_COMPONENTS
    )
    pulls = sorted(((effective[n] * (100.0 - scores[n]), n) for n in present), key=lambda p: -p[0])
    drivers = tuple(f"{n}: {raw[n][1]}" for pull, n in pulls[:MAX_DRIVERS] if pull >= MIN_DRIVER_POINTS)
    return AccountHealth(
        account=AccountRef(acc.account_id, acc.name),
        owner=acc.owner_slack_id,
        segment=acc.segment,
        as_of=as_of,
        score=score,
        band=config.health.band(score) if score is not None else None,
        components=components,
        missing=tuple(n for n in HEALTH_COMPONENTS if scores[n] is None),
        drivers=drivers,
    )


RENEWAL_LEFT_OUT = ("renewal date: not used for a past date (the data keeps no history of renewal dates, "
                    "so the one on record may not be the one known then)")


def renewal_known(as_of: dt.date, today: dt.date | None) -> bool:
    """Whether `renewal_date` (a fact without history) may be used for `as_of`: not for a date before `today`."""
    return today is None or as_of >= today


def account_status(acc, as_of: dt.date) -> str:
    """customer | trial | churned | not_signed_up: the account's state on `as_of`, from dates known by then."""
    if acc.signed_up_at > as_of:
        return "not_signed_up"
    if _known(acc.churned_at, as_of) is not None:
        return "churned"
    return "customer" if _known(acc.became_customer_at, as_of) is not None else "trial"


def _status_note(acc, as_of: dt.date, status: str) -> str | None:
    day = as_of.isoformat()
    if status == "not_signed_up":
        return f"{acc.name} was not a customer on {day}: it signed up on {acc.signed_up_at.isoformat()}."
    if status == "churned":
        return f"{acc.name} was no longer a customer on {day}: it churned on {acc.churned_at.isoformat()}."
    if status == "trial":
        return f"{acc.name} was not a customer on {day} (in trial since {acc.signed_up_at.isoformat()})."
    return None


def _unscored(acc, as_of: dt.date, status: str) -> AccountHealth:
    """An account that was not there (not signed up, or churned) on `as_of`: no score, and why."""
    note = _status_note(acc, as_of, status)
    components = tuple(ComponentScore(n, None, 0.0, "not a customer on this date", {}) for n in HEALTH_COMPONENTS)
    return AccountHealth(AccountRef(acc.account_id, acc.name), acc.owner_slack_id, acc.segment, as_of, None, None,
                         components, (), (), status=status, status_note=note)


def score_where(conn: Connection, as_of: dt.date, config: KpiConfig,
                conds: list[ColumnElement], today: dt.date | None = None) -> list[AccountHealth]:
    """Health of every account matching `conds` (conditions on Account) with five queries in all.

    `today`: the day csbot answers on; an `as_of` before it is scored without renewal dates (module docstring).
    """
    fresh(conn, config)
    return _score(conn, as_of, config, conds, today)


def _score(conn: Connection, as_of: dt.date, config: KpiConfig, conds: list[ColumnElement],
           today: dt.date | None = None, only: list[str] | None = None) -> list[AccountHealth]:
    """`score_where` on rollups already brought up to date (`only`: just these account ids, as a list of values,
    which lets the database find their rows by key)."""
    w = DayWindows(as_of, config.tz)
    known = renewal_known(as_of, today)
    if only is not None:
        conds = [*conds, Account.account_id.in_(only)]
    accounts = _account_rows(conn, conds, w, known)
    if not accounts:
        return []
    ids = only if only is not None else select(Account.account_id).where(*conds)
    usage, surveys, tickets, revenue = (
        _usage(conn, ids, w), _surveys(conn, ids, w), _tickets(conn, ids, w), _revenue(conn, ids, as_of)
    )
    weights = weights_of(config)
    out = []
    for acc in accounts:
        key = acc.account_id
        status = account_status(acc, as_of)
        if status in ("not_signed_up", "churned"):
            out.append(_unscored(acc, as_of, status))
            continue
        raw = {
            "engagement": _engagement(acc, usage.get(key)),
            "sentiment": _sentiment(surveys.get(key)),
            "support": _support(acc, tickets.get(key)),
            "revenue": _revenue_component(revenue.get(key)),
            "lifecycle": _lifecycle(acc, as_of, known),
        }
        left_out = (RENEWAL_LEFT_OUT,) if not known and acc.renewal_date is not None else ()
        out.append(replace(_assemble(acc, as_of, weights, config, raw), status=status, left_out=left_out,
                           status_note=_status_note(acc, as_of, status)))
    return out


def score_accounts(conn: Connection, as_of: dt.date, config: KpiConfig, scope: Scope = Scope(),
                   customers_only: bool = True, today: dt.date | None = None) -> list[AccountHealth]:
    """Health of every account in scope (customers on `as_of` when `customers_only`), ordered by account id.

    A fixed number of queries whatever the number of accounts (see `scored`); no trend.
    """
    return scored(conn, as_of, config, scope, as_of if customers_only else None, today)


def scored(conn: Connection, as_of: dt.date, config: KpiConfig, scope: Scope = Scope(),
           customers_on: dt.date | None = None, today: dt.date | None = None) -> list[AccountHealth]:
    """Health as of `as_of` of the accounts in scope (those that are customers on `customers_on`, when given).

    The accounts in scope are taken from the health of every account (`_everyone`: the stored scoring, kept
    current account by account, kpi_core/stored_health.py), so any scope costs one small query once everyone
    is scored. One result per (store data version, as_of, settings, scope, population, renewal known) is kept
    in this process: `/health`, `/atrisk`, the risk scan and the digest share it; any write to the store (any
    process) invalidates it. `today` as in `score_where`.
    """
    stamp = fresh(conn, config)
    key = (stamp.token, stamp.version, as_of, repr(config), scope, customers_on, renewal_known(as_of, today))
    found = SCORING_CACHE.get(key)
    if found is not None:
        return list(found)
    everyone = _everyone(conn, as_of, config, stamp, today)
    conds = scope_conditions(scope, config, as_of)
    if customers_on is not None:
        conds.append(customer_on(customers_on))
    if conds:
        wanted = set(conn.scalars(select(Account.account_id).where(*conds)))
        result = [h for h in everyone if h.account.id in wanted]
    else:
        result = everyone
    SCORING_CACHE.put(key, tuple(result))
    return result


def _everyone(conn: Connection, as_of: dt.date, config: KpiConfig, stamp, today: dt.date | None
              ) -> list[AccountHealth]:
    """Every account's health as of `as_of` (kpi_core/stored_health.py)."""
    from kpi_core.stored_health import scored_all

    return scored_all(conn, as_of, config, stamp, today)


def account_health(conn: Connection, account_id: str, as_of: dt.date, config: KpiConfig,
                   with_trend: bool = True, today: dt.date | None = None) -> AccountHealth:
    """Health of one account (customer or not) as of a date, with the weekly trend of the last 3 weeks.

    The trend points read stored snapshots when there are any for those days, else are scored like `as_of`.
    """
    conds = [Account.account_id == account_id]
    found = score_where(conn, as_of, config, conds, today)
    if not found:
        raise UnknownAccountError(account_id)
    health = found[0]
    if not with_trend:
        return health
    points: list[tuple[dt.date, float | None]] = []
    days = [as_of - dt.timedelta(weeks=weeks_back) for weeks_back in range(TREND_WEEKS, 0, -1)]
    stored = _stored_scores(conn, account_id, days)
    for day in days:
        if day in stored:
            points.append((day, stored[day]))
            continue
        # the same renewal rule as the answered date, so the points compare like with like
        points.append((day, score_where(conn, day, config, conds, None if renewal_known(as_of, today) else as_of
                                        )[0].score))
    points.append((as_of, health.score))
    return replace(health, trend=tuple(points))


def _stored_scores(conn: Connection, account_id: str, days: list[dt.date]) -> dict[dt.date, float | None]:
    """Snapshot scores of one account on those days (storage.snapshots), when any were stored."""
    from storage.snapshots import stored_scores

    return stored_scores(conn, account_id, days)


def summarize(as_of: dt.date, scored: list[AccountHealth]) -> HealthOverview:
    """Mean, band counts (with "unscored") and the lowest customers of already scored accounts."""
    bands = dict.fromkeys((*BANDS, "unscored"), 0)
    for h in scored:
        bands[h.band or "unscored"] += 1
    with_score = [h for h in scored if h.score is not None]
    mean = _r1(sum(h.score for h in with_score) / len(with_score)) if with_score else None
    lowest = tuple(sorted(with_score, key=lambda h: (h.score, h.account.name, h.account.id))[:LOWEST_SHOWN])
    return HealthOverview(as_of, mean, len(scored), bands, lowest)


def health_overview(conn: Connection, as_of: dt.date, config: KpiConfig, scope: Scope = Scope(),
                    today: dt.date | None = None) -> HealthOverview:
    """Customers on `as_of` in scope: mean score (of those scored), count per band, and the 10 lowest.

    `customers` counts every customer in scope, scored or not; `bands["unscored"]` those without any data.
    """
    return summarize(as_of, score_accounts(conn, as_of, config, scope, today=today))
