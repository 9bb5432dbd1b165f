"""Deterministic, realistic demo data in the CSV format of the data contract (docs: spec/data.md).

`write_demo_csvs(out_dir)` writes accounts.csv, revenue.csv, invoices.csv, surveys.csv,
tickets.csv, usage.csv and costs.csv. The same (accounts, seed, as_of, usage_scale) always
gives byte-identical files.

What is in it:
- about two years of history before `as_of` (plus some "legacy" accounts that signed up
  up to a year earlier, so the first months already have a customer base); nothing is dated
  after `as_of` except `renewal_date`;
- segments smb / mid-market / enterprise with different seat counts and MRR, four acquisition
  sources, a small pool of CSM owners, trials that convert (~60%) or not, time-to-value,
  seasonal sign-ups, weekday/weekend usage, MRR per product (core, analytics, automation)
  with expansions, contractions and cross-sells, churn preceded by a 45-90 day decline in
  usage, sentiment and revenue, support backlogs, monthly or annual invoices, monthly costs;
- named showcase accounts (`DEMO_ACCOUNTS`), always the first rows of accounts.csv:
  Acme Corp (healthy, growing), Globex Corporation (declining toward churn: usage down more
  than half in the last 30 days, a recent detractor, renewal within 60 days, MRR contracting,
  old open tickets), Initech (churned 45 days ago), Umbrella Corp (middling: flat revenue,
  slowly falling usage, passives, renewal in 75 days), Hooli (new customer, time-to-value not
  reached yet), and Stark Industries / Stark Logistics (two accounts "stark" matches).

Scale: account-level attributes are vectorised over all accounts; everything else is generated
per chunk of accounts and streamed to disk, and usage events in slices of at most
`_USAGE_SLICE` rows, so memory stays bounded at 100 000 accounts and tens of millions of events.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

__all__ = ["DEMO_ACCOUNTS", "FILES", "HEADERS", "write_demo_csvs"]

HEADERS: dict[str, tuple[str, ...]] = {
    "accounts": (
        "account_id",
        "name",
        "segment",
        "owner_slack_id",
        "signed_up_at",
        "became_customer_at",
        "first_value_at",
        "churned_at",
        "acquisition_source",
        "renewal_date",
    ),
    "revenue": ("account_id", "month", "product", "mrr"),
    "invoices": ("invoice_id", "account_id", "issued_at", "amount"),
    "surveys": ("response_id", "account_id", "survey", "score", "responded_at", "contact", "comment"),
    "tickets": ("ticket_id", "account_id", "opened_at", "resolved_at", "contacts", "priority"),
    "usage": ("account_id", "user_id", "occurred_at", "feature", "duration_seconds"),
    "costs": ("month", "category", "amount"),
}
FILES: tuple[str, ...] = tuple(f"{kind}.csv" for kind in HEADERS)

# --- model constants ---------------------------------------------------------------------------
HISTORY_DAYS = 730  # events span [as_of - 730 days, as_of]
LEGACY_DAYS = 365  # sign-ups may go back this much further (existing customer base)
_CHUNK = 500  # accounts per generation chunk
_USAGE_SLICE = 1_000_000  # usage events generated and written at once (at most, barring one huge cell)
_BIG = 10**7  # "never" as a day offset

SEGMENTS = ("smb", "mid-market", "enterprise")
_SEG_P = np.array([0.62, 0.28, 0.10])
_SEATS_MEDIAN = np.array([8.0, 40.0, 220.0])
_SEATS_SIGMA = np.array([0.5, 0.4, 0.45])
_SEATS_CLIP = np.array([[2, 40], [12, 160], [70, 1500]])
_PRICE_CENTS = np.array([2900, 3900, 4900])  # core, per seat and month
_ADDON_SHARE = {"analytics": 0.35, "automation": 0.25}  # of the core price per seat
_DISCOUNTS = np.array([0.0, 0.05, 0.10, 0.15, 0.20])
_DISCOUNT_P = np.array([[0.7, 0.15, 0.1, 0.05, 0.0], [0.4, 0.25, 0.2, 0.1, 0.05], [0.1, 0.2, 0.3, 0.25, 0.15]])
_ANNUAL_P = np.array([0.15, 0.5, 0.9])
SOURCES = ("referral", "organic", "paid", "outbound")
_SOURCE_P = np.array([[0.2, 0.45, 0.3, 0.05], [0.25, 0.3, 0.25, 0.2], [0.25, 0.1, 0.1, 0.55]])
_CONVERT_P = np.array([0.75, 0.6, 0.5, 0.62])
_SOURCE_HAZARD = np.array([0.75, 1.0, 1.25, 1.0])
_MONTHLY_HAZARD = np.array([0.028, 0.014, 0.007])
_FV_SCALE = np.array([4.0, 7.0, 12.0])  # gamma(2, scale) days from sign-up to first value
OWNERS = tuple(f"U0CSM{k:04d}" for k in range(1, 9))
# Cost model (cents): acquisition per new customer by segment x source multiplier; retention per customer.
_CAC_CENTS = np.array([120_000, 600_000, 2_500_000])
_CAC_SOURCE = np.array([0.35, 0.6, 1.3, 1.6])
_CS_COST_CENTS = np.array([3_500, 15_000, 60_000])
# Seasonality by calendar month (index 0 = January).
_SIGNUP_SEASON = np.array([1.25, 1.1, 1.15, 1.05, 1.0, 0.9, 0.75, 0.7, 1.15, 1.1, 1.0, 0.7])
_USAGE_SEASON = np.array([1.0, 1.02, 1.03, 1.0, 1.0, 0.97, 0.9, 0.85, 1.02, 1.03, 1.0, 0.8])
_USAGE_WEEKDAY = np.array([1.0, 1.05, 1.05, 1.0, 0.9, 0.22, 0.15])  # Monday..Sunday
_SIGNUP_WEEKDAY = np.array([1.1, 1.1, 1.05, 1.0, 0.9, 0.45, 0.4])

PRODUCTS = ("core", "analytics", "automation")
FEATURES = ("login", "dashboard", "search", "share", "report_run", "export", "workflow_run", "integration_sync")
_FEATURE_P = np.array([0.2, 0.25, 0.12, 0.06, 0.14, 0.06, 0.11, 0.06])
_FEATURE_PRODUCT = np.array([0, 0, 0, 0, 1, 1, 2, 2])  # index into PRODUCTS
_FEATURE_MEDIAN_S = np.array([25, 240, 45, 20, 420, 60, 300, 90])

PRIORITIES = ("low", "normal", "high", "urgent")
_PRIORITY_P = np.array([[0.35, 0.5, 0.12, 0.03], [0.3, 0.5, 0.15, 0.05], [0.2, 0.5, 0.22, 0.08]])
_PRIORITY_P_DECLINE = np.array([0.1, 0.4, 0.35, 0.15])
_PRIORITY_HOURS = np.array([60.0, 30.0, 12.0, 4.0])  # median resolution hours

_COMMENTS = {
    "good": (
        "Love the dashboards",
        "Saves our team hours every week",
        "Support was quick and friendly",
        "The automation add-on is a game changer",
        "Easy to roll out to new teams",
    ),
    "mid": (
        "Does the job",
        "Good, but reporting could be faster",
        "Pricing is a bit high for what we use",
        "Solid product, a few rough edges",
    ),
    "bad": (
        "Too many bugs lately",
        "Support takes days to answer",
        "We are evaluating alternatives",
        "Hard to get value out of it",
        "Performance has been poor, exports time out",
    ),
}

_NAME_A = (
    "Blue", "Silver", "Northwind", "Bright", "Red", "Green", "Golden", "Iron", "Swift", "Clear",
    "Summit", "Pioneer", "Coastal", "Granite", "Maple", "Cedar", "Harbor", "Polar", "Sunny", "Vertex",
    "Quantum", "Nimble", "Atlas", "Orbit", "Falcon", "Willow", "Crimson", "Azure", "Evergreen", "Prairie",
    "Copper", "Lumen", "Nova", "Delta", "Sierra", "Boreal", "Cobalt", "Ember", "Frontier", "Juniper",
    "Keystone", "Lakeside", "Meridian", "Oakridge", "Pinnacle", "Redwood", "Sable", "Tidal", "Upland", "Vista",
)  # fmt: skip
_NAME_B = (
    "River", "Peak", "Bridge", "Field", "Stone", "Point", "Wave", "Forge", "Grove", "Path",
    "Beacon", "Crest", "Harvest", "Signal", "Compass", "Anchor", "Spring", "Canyon", "Meadow", "Ridge",
    "Circuit", "Lantern", "Orchard", "Harbor", "Quarry", "Rocket", "Shield", "Trail", "Vale", "Works",
    "Loop", "Mill", "Nest", "Cloud", "Ledger", "Pixel", "Sprout", "Tower", "Yard", "Zenith",
)  # fmt: skip
_NAME_C = (
    "Inc", "LLC", "Group", "Systems", "Partners", "Co", "Technologies", "Holdings", "Solutions", "Labs",
    "Logistics", "Media", "Health", "Foods", "Retail", "Capital",
)  # fmt: skip


# --- showcase accounts ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Showcase:
    """One named account with a fixed story. Day fields are days relative to as_of (negative = before)."""

    account_id: str
    name: str
    segment: int
    owner: str
    source: int
    annual: bool
    seats: int
    health: float  # latent 0..1: drives sentiment, tickets, expansion odds
    growth: float  # yearly usage growth (log)
    signup: int
    became: int | None
    first_value: int | None
    churn: int | None  # latent churn day; > 0 means "about to churn" (not written)
    decline_start: int | None  # first day of the pre-churn decline
    decline_tau: float
    random_revenue: bool  # keep random expansions (never contractions) besides `tail`
    tail: tuple[float, ...]  # seat factors for the last len(tail) months (ending with the as_of month)
    analytics: tuple[int, int] | None  # (start, end) months relative to the as_of month; end exclusive
    automation: tuple[int, int] | None
    discount: float


_FROM_START = -1000
_NEVER_M = 1000

SHOWCASE: tuple[_Showcase, ...] = (
    _Showcase(
        "acme", "Acme Corp", 2, "U0CSM0001", 0, True, 180, 0.95, 0.35,
        -640, -626, -634, None, None, 25.0, True, (1.07, 1.08, 1.1),
        (_FROM_START, _NEVER_M), (-1, _NEVER_M), 0.1,
    ),
    _Showcase(
        "globex", "Globex Corporation", 2, "U0CSM0002", 3, True, 140, 0.4, 0.05,
        -346, -325, -330, 40, -60, 25.0, False, (0.85, 0.85, 0.85),
        (_FROM_START, -1), None, 0.15,
    ),
    _Showcase(
        "initech", "Initech", 1, "U0CSM0003", 2, False, 45, 0.35, 0.0,
        -520, -506, -500, -45, -105, 25.0, False, (),
        (-14, -5), None, 0.05,
    ),
    _Showcase(
        "umbrella", "Umbrella Corp", 2, "U0CSM0002", 3, True, 300, 0.6, -0.3,
        -310, -290, -280, None, None, 25.0, False, (0.9, 1.0, 1.0, 1.0, 1.0, 1.0),
        (_FROM_START, _NEVER_M), None, 0.2,
    ),
    _Showcase(
        "hooli", "Hooli", 1, "U0CSM0004", 1, True, 60, 0.75, 0.2,
        -38, -24, None, None, None, 25.0, False, (),
        None, None, 0.0,
    ),
    _Showcase(
        "stark-industries", "Stark Industries", 2, "U0CSM0001", 0, True, 400, 0.85, 0.12,
        -575, -560, -570, None, None, 25.0, True, (),
        (-10, _NEVER_M), None, 0.15,
    ),
    _Showcase(
        "stark-logistics", "Stark Logistics", 0, "U0CSM0005", 2, False, 12, 0.6, 0.0,
        -200, -186, -180, None, None, 25.0, True, (),
        None, None, 0.0,
    ),
)  # fmt: skip
DEMO_ACCOUNTS: tuple[str, ...] = tuple(s.account_id for s in SHOWCASE)

# Scripted survey responses and tickets of the showcase accounts, on top of the generated ones.
# (account_id, survey, score, day relative to as_of, hour, comment)
_SCRIPTED_SURVEYS = (
    ("acme", "nps", 10, -12, 15.5, "The automation add-on saves our team hours every week"),
    ("acme", "csat", 5, -20, 10.0, "Support was quick and friendly"),
    ("globex", "nps", 3, -6, 16.25, "We are evaluating alternatives before the renewal"),
    ("globex", "nps", 5, -24, 9.5, "Reports are slow and our admins gave up on them"),
    ("globex", "csat", 2, -12, 13.0, "Still waiting on a fix for the export timeouts"),
    ("initech", "nps", 2, -80, 11.0, "Moving to another vendor at the end of the quarter"),
    ("initech", "nps", 4, -130, 14.0, "Hard to get value out of it"),
    ("umbrella", "nps", 7, -15, 12.0, "Does the job, but reporting could be faster"),
    ("umbrella", "nps", 8, -70, 15.0, None),
    ("hooli", "ces", 2, -10, 17.0, "Setting up SSO was painful"),
    ("stark-industries", "nps", 9, -33, 10.5, "Easy to roll out to new teams"),
    ("stark-logistics", "nps", 7, -40, 8.75, None),
)
# (account_id, opened day relative to as_of, hour, hours to resolve or None = open, contacts, priority)
_SCRIPTED_TICKETS = (
    ("acme", -9, 10.0, 3.0, 1, "normal"),
    ("globex", -27, 9.75, None, None, "high"),
    ("globex", -16, 14.0, None, None, "urgent"),
    ("globex", -8, 11.5, None, None, "normal"),
    ("globex", -45, 13.0, 150.0, 4, "high"),
    ("initech", -90, 10.0, 200.0, 5, "urgent"),
    ("umbrella", -5, 9.0, None, None, "normal"),
    ("umbrella", -3, 16.0, None, None, "low"),
    ("umbrella", -40, 11.0, 40.0, 2, "normal"),
    ("hooli", -20, 15.0, 30.0, 2, "normal"),
    ("hooli", -4, 10.0, None, None, "normal"),
)


# --- helpers -------------------------------------------------------------------------------------
def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


@dataclass
class _Calendar:
    """Day offsets are relative to d0 = as_of - HISTORY_DAYS; `a` is the offset of as_of."""

    as_of: dt.date
    d0: np.datetime64
    a: int
    m0: np.datetime64  # month of d0
    nm: int  # months from m0 to the as_of month, inclusive
    month_start: np.ndarray  # day offset of the first day of each month
    day_month: np.ndarray  # month index of each day 0..a
    day_str: np.ndarray  # 'YYYY-MM-DD' of each day 0..a (object array)
    time_str: np.ndarray  # 'THH:MM:SSZ,' of each second of a day (object array, with the field separator)

    @classmethod
    def build(cls, as_of: dt.date) -> _Calendar:
        d0 = np.datetime64(as_of, "D") - np.timedelta64(HISTORY_DAYS, "D")
        m0 = d0.astype("datetime64[M]")
        am = np.datetime64(as_of, "D").astype("datetime64[M]")
        nm = int((am - m0).astype(int)) + 1
        months = m0 + np.arange(nm)
        month_start = (months.astype("datetime64[D]") - d0).astype(np.int64)
        days = d0 + np.arange(HISTORY_DAYS + 1)
        day_month = (days.astype("datetime64[M]") - m0).astype(np.int64)
        secs = np.arange(86400)
        time_str = np.array(
            [f"T{h:02d}:{m:02d}:{s:02d}Z," for h, m, s in zip(secs // 3600, secs // 60 % 60, secs % 60, strict=True)],
            dtype=object,
        )
        return cls(
            as_of=as_of,
            d0=d0,
            a=HISTORY_DAYS,
            m0=m0,
            nm=nm,
            month_start=month_start,
            day_month=day_month,
            day_str=np.datetime_as_string(days, unit="D").astype(object),
            time_str=time_str,
        )

    def dates(self, offsets: np.ndarray) -> np.ndarray:
        """'YYYY-MM-DD' strings for day offsets (any range)."""
        return np.datetime_as_string(self.d0 + np.asarray(offsets, dtype=np.int64), unit="D")

    def datetimes(self, seconds: np.ndarray) -> np.ndarray:
        """ISO 8601 UTC strings for second offsets from d0 00:00:00."""
        base = self.d0.astype("datetime64[s]")
        text = np.datetime_as_string(base + np.asarray(seconds, dtype=np.int64), unit="s")
        return np.char.add(text.astype(str), "Z")

    def month_of(self, offsets: np.ndarray) -> np.ndarray:
        """Month index (relative to m0, may be negative) of day offsets."""
        days = self.d0 + np.asarray(offsets, dtype=np.int64)
        return (days.astype("datetime64[M]") - self.m0).astype(np.int64)

    def months(self) -> np.ndarray:
        return np.datetime_as_string(self.m0 + np.arange(self.nm), unit="M")


@dataclass
class _Accounts:
    """Account-level attributes, one array entry per account (vectorised over all accounts)."""

    ids: np.ndarray  # object
    names: np.ndarray  # object
    seg: np.ndarray
    source: np.ndarray
    owner: np.ndarray  # object, None = no owner
    annual: np.ndarray
    discount: np.ndarray
    seats0: np.ndarray
    health: np.ndarray
    growth: np.ndarray
    base_rate: np.ndarray  # usage events per weekday at full engagement (before usage_scale)
    nps_sd: np.ndarray
    signup: np.ndarray
    became: np.ndarray  # _BIG when never converted
    customer: np.ndarray  # converted on or before as_of
    first_value: np.ndarray  # _BIG when none
    churn: np.ndarray  # latent churn day (_BIG = never)
    churned: np.ndarray  # churn <= as_of
    decline_start: np.ndarray
    decline_tau: np.ndarray
    renewal: np.ndarray  # _BIG = none
    use_start: np.ndarray
    use_end: np.ndarray  # inclusive; < use_start = no usage


def _generic_names(n: int, rng: np.random.Generator) -> list[str]:
    combos = len(_NAME_A) * len(_NAME_B) * len(_NAME_C)
    order = rng.permutation(combos)
    names = []
    for k in range(n):
        c = int(order[k % combos])
        a, rest = divmod(c, len(_NAME_B) * len(_NAME_C))
        b, s = divmod(rest, len(_NAME_C))
        name = f"{_NAME_A[a]} {_NAME_B[b]} {_NAME_C[s]}"
        if _NAME_A[a] == _NAME_B[b]:
            name = f"{_NAME_A[a]} {_NAME_C[s]}"
        names.append(name if k < combos else f"{name} {k // combos + 1}")
    return names


def _choose_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of `probs` (rows sum to 1)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None]
    return np.minimum((u >= cum).sum(axis=1), probs.shape[1] - 1)


def _make_accounts(n: int, seed: int, cal: _Calendar) -> _Accounts:
    rng = _rng(seed, 0)
    a = cal.a
    seg = rng.choice(3, size=n, p=_SEG_P)
    seats0 = np.rint(np.exp(np.log(_SEATS_MEDIAN[seg]) + _SEATS_SIGMA[seg] * rng.standard_normal(n)))
    seats0 = np.clip(seats0, _SEATS_CLIP[seg, 0], _SEATS_CLIP[seg, 1]).astype(np.int64)
    health = rng.beta(5.0, 2.0, size=n)
    source = _choose_rows(rng, _SOURCE_P[seg])
    owner_idx = rng.integers(0, len(OWNERS), size=n)
    owner = np.array(OWNERS, dtype=object)[owner_idx]
    owner[rng.random(n) < 0.03] = None
    annual = rng.random(n) < _ANNUAL_P[seg]
    discount = _DISCOUNTS[_choose_rows(rng, _DISCOUNT_P[seg])]

    # Sign-ups over [-LEGACY_DAYS, a]: growing trend, seasonal, fewer on weekends.
    offs = np.arange(-LEGACY_DAYS, a + 1)
    days = cal.d0 + offs
    month_of_year = days.astype("datetime64[M]").astype(np.int64) % 12
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    weight = (0.7 + 0.6 * (offs + LEGACY_DAYS) / (a + LEGACY_DAYS)) * _SIGNUP_SEASON[month_of_year]
    weight *= _SIGNUP_WEEKDAY[weekday]
    signup = rng.choice(offs, size=n, p=weight / weight.sum())

    convert = rng.random(n) < _CONVERT_P[source]
    trial_len = np.where(rng.random(n) < 0.6, 14, rng.integers(1, 31, size=n))
    became = np.where(convert, signup + trial_len, _BIG)
    customer = became <= a

    fv_days = 1 + np.rint(rng.gamma(2.0, _FV_SCALE[seg])).astype(np.int64)
    fv_draw = rng.random(n)
    has_fv = np.where(convert, fv_draw < 0.88, (fv_draw < 0.25) & (fv_days <= 13))
    first_value = np.where(has_fv, signup + fv_days, _BIG)

    hazard = _MONTHLY_HAZARD[seg] * (2.4 - 2.2 * health) * _SOURCE_HAZARD[source]
    life = np.maximum(np.ceil(rng.exponential(30.44 / hazard)), 31).astype(np.int64)
    life = np.where(annual, np.ceil(life / 365).astype(np.int64) * 365, life)
    churn = np.where(convert, became + life, _BIG)
    decline_start = churn - rng.integers(45, 91, size=n)
    decline_tau = rng.uniform(18.0, 30.0, size=n)
    growth = rng.normal(0.08, 0.2, size=n)
    base_rate = seats0**0.6 * np.exp(0.3 * rng.standard_normal(n))
    nps_sd = np.full(n, 1.7)

    # Named showcase accounts take the first rows.
    ids = np.array([f"acc-{k:06d}" for k in range(1, n + 1)], dtype=object)
    names = np.array(_generic_names(n, rng), dtype=object)
    for row, sc in enumerate(SHOWCASE[:n]):
        ids[row] = sc.account_id
        names[row] = sc.name
        seg[row] = sc.segment
        source[row] = sc.source
        owner[row] = sc.owner
        annual[row] = sc.annual
        discount[row] = sc.discount
        seats0[row] = sc.seats
        health[row] = sc.health
        growth[row] = sc.growth
        base_rate[row] = sc.seats**0.6
        nps_sd[row] = 0.8
        signup[row] = a + sc.signup
        became[row] = _BIG if sc.became is None else a + sc.became
        customer[row] = sc.became is not None
        first_value[row] = _BIG if sc.first_value is None else a + sc.first_value
        churn[row] = _BIG if sc.churn is None else a + sc.churn
        if sc.decline_start is not None:
            decline_start[row] = a + sc.decline_start
        elif sc.churn is None:
            decline_start[row] = _BIG
        decline_tau[row] = sc.decline_tau

    churned = customer & (churn <= a)
    first_value = np.where((first_value <= a) & (first_value < churn), first_value, _BIG)
    k = np.where(customer, (a - became) // 365 + 1, 0)
    renewal = np.where(annual & customer & ~churned, became + 365 * k, _BIG)
    trial_end = np.where(convert, a, np.minimum(signup + 13, a))  # non-converters stop after the trial
    use_end = np.where(customer, np.where(churned, churn - 1, a), trial_end)
    use_start = np.maximum(signup, 0)
    return _Accounts(
        ids=ids,
        names=names,
        seg=seg,
        source=source,
        owner=owner,
        annual=annual,
        discount=discount,
        seats0=seats0,
        health=health,
        growth=growth,
        base_rate=base_rate,
        nps_sd=nps_sd,
        signup=signup,
        became=became,
        customer=customer,
        first_value=first_value,
        churn=churn,
        churned=churned,
        decline_start=decline_start,
        decline_tau=decline_tau,
        renewal=renewal,
        use_start=use_start,
        use_end=use_end,
    )


def _opt_dates(cal: _Calendar, offsets: np.ndarray) -> np.ndarray:
    out = np.empty(len(offsets), dtype=object)
    ok = offsets < _BIG
    out[ok] = cal.dates(offsets[ok])
    return out


def _write_frame(fh: IO[str], columns: dict[str, object]) -> None:
    frame = pd.DataFrame(columns)
    if len(frame):
        frame.to_csv(fh, index=False, header=False, lineterminator="\n", float_format="%.2f")


def _money(cents: np.ndarray) -> np.ndarray:
    return np.asarray(cents, dtype=np.float64) / 100.0


# --- per-chunk generation ------------------------------------------------------------------------
@dataclass
class _Chunk:
    """Slice of _Accounts for rows [lo, hi) plus the monthly revenue state."""

    lo: int
    hi: int
    first_m: np.ndarray
    active: np.ndarray  # (n, nm) bool: paying customer in that month
    seats: np.ndarray  # (n, nm) seats (seats0 before the first paid month)
    mrr: np.ndarray  # (3, n, nm) cents per product


def _revenue_state(acc: _Accounts, cal: _Calendar, lo: int, hi: int, rng: np.random.Generator) -> _Chunk:
    n, nm = hi - lo, cal.nm
    sl = slice(lo, hi)
    customer, health, churn = acc.customer[sl], acc.health[sl], acc.churn[sl]
    first_m = np.where(customer, cal.month_of(np.where(customer, acc.became[sl], 0)), _BIG)
    last_m = np.where(acc.churned[sl], cal.month_of(np.where(acc.churned[sl], churn - 1, 0)), nm - 1)
    m = np.arange(nm)[None, :]
    active = customer[:, None] & (m >= first_m[:, None]) & (m <= last_m[:, None])

    pe = (0.02 + 0.07 * health)[:, None]
    pc = np.where(cal.month_start[None, :] >= (churn - 100)[:, None], 0.45, (0.01 + 0.05 * (1 - health))[:, None])
    u, mag = rng.random((n, nm)), rng.random((n, nm))
    factor = np.ones((n, nm))
    factor = np.where(u < pe, 1.05 + 0.25 * mag, factor)
    factor = np.where(u > 1 - pc, 0.75 + 0.2 * mag, factor)
    factor[m <= first_m[:, None]] = 1.0

    has_a = rng.random(n) < 0.25 + 0.3 * health + 0.1 * (acc.seg[sl] == 2)
    a_start = first_m + np.where(rng.random(n) < 0.3, 0, rng.geometric(1 / 8, size=n))
    a_end = np.where(rng.random(n) < 0.15, a_start + rng.geometric(1 / 10, size=n), _BIG)
    has_b = rng.random(n) < 0.12 + 0.2 * health + 0.08 * (acc.seg[sl] >= 1)
    b_start = first_m + rng.geometric(1 / 10, size=n)
    b_end = np.full(n, _BIG)

    for row in range(max(0, lo), min(hi, len(SHOWCASE))):
        sc, r = SHOWCASE[row], row - lo
        if not sc.random_revenue:
            factor[r, :] = 1.0
        else:
            factor[r] = np.maximum(factor[r], 1.0)  # expansions only
        factor[r, m[0] <= first_m[r]] = 1.0
        if sc.tail:
            factor[r, nm - len(sc.tail) :] = sc.tail
        for flag, start, end, spec in ((has_a, a_start, a_end, sc.analytics), (has_b, b_start, b_end, sc.automation)):
            flag[r] = spec is not None
            if spec is not None:
                start[r] = nm - 1 + spec[0]
                end[r] = nm - 1 + spec[1]

    seats = np.maximum(1, np.rint(acc.seats0[sl, None] * np.cumprod(factor, axis=1))).astype(np.int64)
    price = _PRICE_CENTS[acc.seg[sl]] * (1 - acc.discount[sl])
    core = np.rint(seats * price[:, None]).astype(np.int64)
    a_act = active & has_a[:, None] & (m >= a_start[:, None]) & (m < a_end[:, None])
    b_act = active & has_b[:, None] & (m >= b_start[:, None]) & (m < b_end[:, None])
    analytics = np.rint(seats * (price * _ADDON_SHARE["analytics"])[:, None]).astype(np.int64)
    automation = np.rint(seats * (price * _ADDON_SHARE["automation"])[:, None]).astype(np.int64)
    mrr = np.stack([np.where(active, core, 0), np.where(a_act, analytics, 0), np.where(b_act, automation, 0)])
    return _Chunk(lo=lo, hi=hi, first_m=first_m, active=active, seats=seats, mrr=mrr)


def _write_revenue(fh: IO[str], acc: _Accounts, cal: _Calendar, ch: _Chunk) -> None:
    p, r, m = np.nonzero(ch.mrr > 0)
    order = np.lexsort((p, m, r))
    p, r, m = p[order], r[order], m[order]
    _write_frame(
        fh,
        {
            "account_id": acc.ids[ch.lo + r],
            "month": cal.months()[m],
            "product": np.array(PRODUCTS)[p],
            "mrr": _money(ch.mrr[p, r, m]),
        },
    )


def _write_invoices(
    fh: IO[str], acc: _Accounts, cal: _Calendar, ch: _Chunk, rng: np.random.Generator, next_id: int
) -> int:
    sl = slice(ch.lo, ch.hi)
    n, a = ch.hi - ch.lo, cal.a
    total = ch.mrr.sum(axis=0)
    annual, became = acc.annual[sl], acc.became[sl]
    # Monthly plans: one invoice per paid month, on the 1st (the first one on the conversion day).
    r, m = np.nonzero(ch.active & ~annual[:, None])
    day = np.where(m == ch.first_m[r], became[r], cal.month_start[m])
    rows = [(r, day, total[r, m])]
    # Annual plans: 12 months up front on each contract anniversary inside the history.
    for k in range(0, (HISTORY_DAYS + LEGACY_DAYS) // 365 + 2):
        day = became + 365 * k
        ok = annual & acc.customer[sl] & (day >= cal.month_start[0]) & (day <= a) & (day < acc.churn[sl])
        rr = np.nonzero(ok)[0]
        mm = cal.month_of(day[rr])
        rows.append((rr, day[rr], 12 * total[rr, mm]))
    # One-off onboarding/services invoices for a fifth of new customers.
    extra = rng.random(n) < 0.2
    day = became + rng.integers(3, 31, size=n)
    amount = np.rint(rng.uniform(500, 8000, size=n) * (1 + acc.seg[sl])) * 100
    ok = extra & acc.customer[sl] & (day >= 0) & (day <= a) & (day < acc.churn[sl])
    rows.append((np.nonzero(ok)[0], day[ok], amount[ok].astype(np.int64)))

    r = np.concatenate([x[0] for x in rows])
    day = np.concatenate([x[1] for x in rows])
    cents = np.concatenate([x[2] for x in rows])
    keep = cents > 0
    r, day, cents = r[keep], day[keep], cents[keep]
    order = np.lexsort((day, r))
    r, day, cents = r[order], day[order], cents[order]
    ids = np.array([f"INV-{k:08d}" for k in range(next_id, next_id + len(r))], dtype=object)
    _write_frame(
        fh, {"invoice_id": ids, "account_id": acc.ids[ch.lo + r], "issued_at": cal.dates(day), "amount": _money(cents)}
    )
    return next_id + len(r)


def _business_seconds(rng: np.random.Generator, size: int) -> np.ndarray:
    return np.clip(rng.normal(14.5 * 3600, 3.3 * 3600, size=size), 0, 86399).astype(np.int64)


def _make_tickets(acc: _Accounts, cal: _Calendar, ch: _Chunk, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Tickets of the chunk as arrays (row, opened, resolved or -1, contacts or 0, priority, slow)."""
    sl = slice(ch.lo, ch.hi)
    n, a = ch.hi - ch.lo, cal.a
    customer = acc.customer[sl]
    start = np.maximum(np.where(customer, acc.became[sl], 0), 0)
    end = acc.use_end[sl]
    span = np.where(customer, np.maximum(end - start + 1, 0), 0)
    rate = 0.25 * acc.seats0[sl] ** 0.45 * (1.6 - acc.health[sl]) / 30.0
    n_t = rng.poisson(rate * span)
    dec_lo = np.maximum(acc.decline_start[sl], start)
    n_x = np.where(customer & (dec_lo <= end), rng.poisson(2.5, size=n), 0)
    r1, r2 = np.repeat(np.arange(n), n_t), np.repeat(np.arange(n), n_x)
    day1 = start[r1] + np.floor(rng.random(len(r1)) * span[r1]).astype(np.int64)
    day2 = dec_lo[r2] + np.floor(rng.random(len(r2)) * (end[r2] - dec_lo[r2] + 1)).astype(np.int64)
    r, day = np.concatenate([r1, r2]), np.concatenate([day1, day2])
    opened = day * 86400 + _business_seconds(rng, len(r))
    in_decline = day >= acc.decline_start[sl][r]
    probs = np.where(in_decline[:, None], _PRIORITY_P_DECLINE[None, :], _PRIORITY_P[acc.seg[sl][r]])
    prio = _choose_rows(rng, probs)
    hours = _PRIORITY_HOURS[prio] * np.exp(rng.normal(0.0, 1.0, size=len(r))) * np.where(in_decline, 2.5, 1.0)
    resolved = opened + np.maximum(300, np.rint(hours * 3600)).astype(np.int64)
    stuck = (rng.random(len(r)) < 0.02) & (ch.lo + r >= len(SHOWCASE))  # showcase backlogs are scripted
    is_open = stuck | (resolved > a * 86400 + 86399)
    resolved = np.where(is_open, -1, resolved)
    slow = hours > 72
    contacts = rng.geometric(np.where(in_decline | slow, 0.42, 0.62))
    contacts = np.where(is_open | (rng.random(len(r)) < 0.04), 0, np.minimum(contacts, 12))

    if ch.lo < len(SHOWCASE):
        rows_by_id = {sc.account_id: i for i, sc in enumerate(SHOWCASE)}
        extra = [t for t in _SCRIPTED_TICKETS if ch.lo <= rows_by_id[t[0]] < ch.hi]
        if extra:
            er = np.array([rows_by_id[t[0]] - ch.lo for t in extra])
            eo = np.array([(a + t[1]) * 86400 + int(t[2] * 3600) for t in extra])
            eres = np.array([-1 if t[3] is None else (a + t[1]) * 86400 + int((t[2] + t[3]) * 3600) for t in extra])
            r = np.concatenate([r, er])
            opened = np.concatenate([opened, eo])
            resolved = np.concatenate([resolved, eres])
            contacts = np.concatenate([contacts, [t[4] or 0 for t in extra]])
            prio = np.concatenate([prio, [PRIORITIES.index(t[5]) for t in extra]])
            slow = np.concatenate([slow, [t[3] is not None and t[3] > 72 for t in extra]])
    order = np.lexsort((opened, r))
    return {
        "row": r[order],
        "opened": opened[order],
        "resolved": resolved[order],
        "contacts": contacts[order],
        "priority": prio[order],
        "slow": slow[order],
    }


def _write_tickets(fh: IO[str], acc: _Accounts, cal: _Calendar, ch: _Chunk, t: dict, next_id: int) -> int:
    k = len(t["row"])
    resolved = np.empty(k, dtype=object)
    done = t["resolved"] >= 0
    resolved[done] = cal.datetimes(t["resolved"][done])
    contacts = pd.array(np.where(t["contacts"] > 0, t["contacts"], 0), dtype="Int64")
    contacts[t["contacts"] <= 0] = pd.NA
    _write_frame(
        fh,
        {
            "ticket_id": np.array([f"T-{i:08d}" for i in range(next_id, next_id + k)], dtype=object),
            "account_id": acc.ids[ch.lo + t["row"]],
            "opened_at": cal.datetimes(t["opened"]),
            "resolved_at": resolved,
            "contacts": contacts,
            "priority": np.array(PRIORITIES, dtype=object)[t["priority"]],
        },
    )
    return next_id + k


def _write_surveys(
    fh: IO[str], acc: _Accounts, cal: _Calendar, ch: _Chunk, t: dict, rng: np.random.Generator, next_id: int
) -> int:
    sl = slice(ch.lo, ch.hi)
    n, a = ch.hi - ch.lo, cal.a
    customer, health, dstart = acc.customer[sl], acc.health[sl], acc.decline_start[sl]
    start = np.maximum(np.where(customer, acc.became[sl], 0), 0)
    end = acc.use_end[sl]
    span = np.where(customer, np.maximum(end - start + 1, 0), 0)

    # NPS: about one response per quarter, more at bigger accounts.
    n_nps = rng.poisson(span / 90.0 * (0.7 + 0.1 * acc.seats0[sl] ** 0.3))
    r_n = np.repeat(np.arange(n), n_nps)
    day = start[r_n] + np.floor(rng.random(len(r_n)) * span[r_n]).astype(np.int64)
    ts_n = day * 86400 + _business_seconds(rng, len(r_n))
    mu = 4.8 + 5.0 * health[r_n] - 4.5 * (day >= dstart[r_n])
    score_n = np.clip(np.rint(rng.normal(mu, acc.nps_sd[sl][r_n])), 0, 10)

    # CSAT after about a third of resolved tickets, CES after some tickets and after onboarding.
    done = np.nonzero(t["resolved"] >= 0)[0]
    pick = rng.random(len(done))
    res_ts = t["resolved"][done] + rng.integers(1800, 172800, size=len(done))
    tr = t["row"][done]
    t_decl = (res_ts // 86400) >= dstart[tr]
    slow = t["slow"][done]
    c_sel, e_sel = pick < 0.35, pick > 0.85
    mu_c = 2.6 + 2.0 * health[tr] - 0.8 * slow - 0.7 * t_decl
    mu_e = 2.9 + 1.6 * health[tr] - 0.4 * slow - 0.6 * t_decl
    score_c = np.clip(np.rint(rng.normal(mu_c, 0.9)), 1, 5)
    score_e = np.clip(np.rint(rng.normal(mu_e, 0.9)), 1, 5)
    fv = acc.first_value[sl]
    onboard = customer & (fv < _BIG) & (rng.random(n) < 0.5)
    r_o = np.nonzero(onboard)[0]
    ts_o = (fv[r_o] + rng.integers(1, 8, size=len(r_o))) * 86400 + _business_seconds(rng, len(r_o))
    score_o = np.clip(np.rint(rng.normal(3.0 + 1.5 * health[r_o], 0.8)), 1, 5)

    row = np.concatenate([r_n, tr[c_sel], tr[e_sel], r_o])
    kind = np.concatenate([np.zeros(len(r_n)), np.ones(c_sel.sum()), np.full(e_sel.sum() + len(r_o), 2)]).astype(int)
    ts = np.concatenate([ts_n, res_ts[c_sel], res_ts[e_sel], ts_o])
    score = np.concatenate([score_n, score_c[c_sel], score_e[e_sel], score_o]).astype(np.int64)
    keep = (ts >= 0) & (ts <= a * 86400 + 86399) & (ts < (end[row] + 1) * 86400)
    row, kind, ts, score = row[keep], kind[keep], ts[keep], score[keep]
    comments = np.empty(len(row), dtype=object)
    has_comment = rng.random(len(row)) < 0.35
    nps_band = np.where(score >= 9, 0, np.where(score >= 7, 1, 2))
    band = np.where(kind == 0, nps_band, np.where(score >= 4, 0, np.where(score == 3, 1, 2)))  # good / mid / bad
    pick_c = rng.integers(0, 1000, size=len(row))
    pools = (_COMMENTS["good"], _COMMENTS["mid"], _COMMENTS["bad"])
    for i in np.nonzero(has_comment)[0]:
        pool = pools[band[i]]
        comments[i] = pool[pick_c[i] % len(pool)]
    contact_k = 1 + (rng.random(len(row)) * np.minimum(acc.seats0[sl][row], 60)).astype(np.int64)
    no_contact = rng.random(len(row)) < 0.08

    if ch.lo < len(SHOWCASE):
        rows_by_id = {sc.account_id: i for i, sc in enumerate(SHOWCASE)}
        extra = [s for s in _SCRIPTED_SURVEYS if ch.lo <= rows_by_id[s[0]] < ch.hi]
        if extra:
            row = np.concatenate([row, [rows_by_id[s[0]] - ch.lo for s in extra]])
            kind = np.concatenate([kind, [("nps", "csat", "ces").index(s[1]) for s in extra]])
            ts = np.concatenate([ts, [(a + s[3]) * 86400 + int(s[4] * 3600) for s in extra]])
            score = np.concatenate([score, [s[2] for s in extra]])
            comments = np.concatenate([comments, np.array([s[5] for s in extra], dtype=object)])
            contact_k = np.concatenate([contact_k, np.ones(len(extra), dtype=np.int64)])
            no_contact = np.concatenate([no_contact, np.zeros(len(extra), dtype=bool)])

    order = np.lexsort((ts, row))
    row, kind, ts, score = row[order], kind[order], ts[order], score[order]
    comments, contact_k, no_contact = comments[order], contact_k[order], no_contact[order]
    ids_ = acc.ids[ch.lo + row]
    contact = np.array(
        [None if nc else f"user{k}@{aid}.example.com" for aid, k, nc in zip(ids_, contact_k, no_contact, strict=True)],
        dtype=object,
    )
    _write_frame(
        fh,
        {
            "response_id": np.array([f"S-{i:08d}" for i in range(next_id, next_id + len(row))], dtype=object),
            "account_id": ids_,
            "survey": np.array(["nps", "csat", "ces"], dtype=object)[kind],
            "score": score,
            "responded_at": cal.datetimes(ts),
            "contact": contact,
            "comment": comments,
        },
    )
    return next_id + len(row)


_MAX_DURATION = 4 * 3600


@lru_cache(maxsize=1)
def _feature_duration_strings() -> np.ndarray:
    """'feature,duration\\n' for every feature and duration 0.._MAX_DURATION (index feature * (max + 1) + d)."""
    return np.array([f"{f},{d}\n" for f in FEATURES for d in range(_MAX_DURATION + 1)], dtype=object)


def _write_usage(
    fh: IO[str], acc: _Accounts, cal: _Calendar, ch: _Chunk, rng: np.random.Generator, usage_scale: float
) -> int:
    sl = slice(ch.lo, ch.hi)
    nd = cal.a + 1
    t = np.arange(nd)[None, :]
    signup = acc.signup[sl][:, None]
    ramp = 0.25 + 0.75 * (1.0 - np.exp(-np.maximum(t - signup, 0) / 15.0))
    trend = np.clip(np.exp(acc.growth[sl][:, None] * (t - signup) / 365.0), 0.3, 3.0)
    decline = np.exp(-np.maximum(t - acc.decline_start[sl][:, None], 0) / acc.decline_tau[sl][:, None])
    eng = ramp * trend * decline
    live = (t >= acc.use_start[sl][:, None]) & (t <= acc.use_end[sl][:, None])
    day_factor = _USAGE_WEEKDAY[((cal.d0 + np.arange(nd)).astype(np.int64) + 3) % 7]
    day_factor = day_factor * _USAGE_SEASON[(cal.d0 + np.arange(nd)).astype("datetime64[M]").astype(np.int64) % 12]
    lam = np.where(live, acc.base_rate[sl][:, None] * eng * day_factor[None, :] * usage_scale, 0.0)
    counts = rng.poisson(lam).ravel()
    month = cal.day_month  # (nd,)
    seats_day = ch.seats[:, month]  # (n, nd)
    pool = np.maximum(1, np.rint(seats_day * np.clip(0.8 * ramp * decline * np.sqrt(trend), 0.03, 1.0)))
    pool = pool.astype(np.int64).ravel()
    # Feature availability: during the trial everything, afterwards only the products paid for that month.
    trial = (t < acc.became[sl][:, None]).ravel()
    has_prod = ch.mrr[:, :, month] > 0  # (3, n, nd)
    avail = has_prod.reshape(3, -1) | trial[None, :]

    top = int(pool.max()) if len(pool) else 1
    width = max(4, len(str(top)))
    user_str = np.array([f"u{k:0{width}d}," for k in range(top + 1)], dtype=object)
    tail_str = _feature_duration_strings()
    ids = np.array([f"{x}," for x in acc.ids[sl]], dtype=object)
    cum = np.cumsum(counts)
    written, c0 = 0, 0
    ncell = len(counts)
    while c0 < ncell:
        base = cum[c0 - 1] if c0 else 0
        c1 = int(np.searchsorted(cum, base + _USAGE_SLICE, side="right"))
        c1 = max(c1, c0 + 1)
        cells = np.repeat(np.arange(c0, c1), counts[c0:c1])
        c0 = c1
        k = len(cells)
        if k == 0:
            continue
        secs = np.clip(rng.normal(14.0 * 3600, 3.6 * 3600, size=k), 0, 86399).astype(np.int64)
        order = np.argsort(cells * 86400 + secs, kind="stable")
        cells, secs = cells[order], secs[order]
        user = (pool[cells] * rng.random(k) ** 1.6).astype(np.int64)
        feat = rng.choice(len(FEATURES), size=k, p=_FEATURE_P)
        prod = _FEATURE_PRODUCT[feat]
        feat = np.where(avail[prod, cells], feat, 1)  # not paid for -> dashboard
        dur = np.rint(_FEATURE_MEDIAN_S[feat] * np.exp(rng.normal(0.0, 0.8, size=k))).astype(np.int64)
        dur = np.minimum(dur, _MAX_DURATION)
        row, day = np.divmod(cells, nd)
        # Join pre-formatted pieces (object arrays of str): much faster than formatting each line.
        pieces = np.empty((k, 5), dtype=object)
        pieces[:, 0] = ids[row]
        pieces[:, 1] = user_str[user]
        pieces[:, 2] = cal.day_str[day]
        pieces[:, 3] = cal.time_str[secs]
        pieces[:, 4] = tail_str[feat * (_MAX_DURATION + 1) + dur]
        fh.write("".join(pieces.ravel().tolist()))
        written += k
    return written


def _write_costs(fh: IO[str], acc: _Accounts, cal: _Calendar, seed: int) -> None:
    rng = _rng(seed, 1)
    nm = cal.nm
    customer = acc.customer
    became_m = np.where(customer, cal.month_of(np.where(customer, acc.became, 0)), -_BIG)
    cac = _CAC_CENTS[acc.seg] * _CAC_SOURCE[acc.source] * rng.uniform(0.8, 1.2, size=len(customer))
    new_in = (became_m >= 0) & (became_m < nm)
    wins = np.bincount(became_m[new_in], weights=cac[new_in], minlength=nm)[:nm]
    # Spend runs ahead of wins: month m pays for wins of m, m+1 and m+2 (weights 0.5, 0.3, 0.2).
    acquisition = np.zeros(nm)
    weight = np.zeros(nm)
    for lag, w in enumerate((0.5, 0.3, 0.2)):
        acquisition[: nm - lag] += w * wins[lag:]
        weight[: nm - lag] += w
    acquisition /= weight
    baseline = 0.15 * wins.sum() / nm + 50_000
    acquisition = (acquisition + baseline) * rng.uniform(0.9, 1.1, size=nm)
    retention = np.zeros(nm)
    for m in range(nm):
        d = cal.month_start[m]
        on = customer & (acc.became <= d) & (acc.churn > d)
        retention[m] = _CS_COST_CENTS[acc.seg[on]].sum() + 100_000
    retention *= rng.uniform(0.9, 1.1, size=nm)
    cents = np.rint(np.column_stack([acquisition, retention]).ravel())
    _write_frame(
        fh,
        {
            "month": np.repeat(cal.months(), 2),
            "category": np.tile(np.array(["acquisition", "retention"], dtype=object), nm),
            "amount": _money(cents),
        },
    )


# --- entry point ---------------------------------------------------------------------------------
def write_demo_csvs(
    out_dir: Path,
    *,
    accounts: int = 200,
    seed: int = 7,
    as_of: dt.date | None = None,
    usage_scale: float = 1.0,
) -> list[Path]:
    """Write the seven demo CSV files into `out_dir` (created if needed) and return their paths.

    `accounts` counts every account, the named showcase ones (`DEMO_ACCOUNTS`) included, so it
    must be at least len(DEMO_ACCOUNTS). `as_of` (default: today in UTC) is the last day of the
    data. `usage_scale` multiplies the number of usage events (about 500 per active account per
    90 days at 1.0). The same arguments always give byte-identical files.
    """
    if accounts < len(SHOWCASE):
        raise ValueError(f"accounts must be at least {len(SHOWCASE)} (the showcase accounts), got {accounts}")
    if usage_scale < 0:
        raise ValueError(f"usage_scale must be >= 0, got {usage_scale}")
    if as_of is None:
        as_of = dt.datetime.now(dt.UTC).date()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cal = _Calendar.build(as_of)
    acc = _make_accounts(accounts, seed, cal)
    paths = {kind: out_dir / f"{kind}.csv" for kind in HEADERS}
    handles = {kind: open(path, "w", encoding="utf-8", newline="") for kind, path in paths.items()}  # noqa: SIM115
    try:
        for kind, fh in handles.items():
            fh.write(",".join(HEADERS[kind]) + "\n")
        _write_frame(
            handles["accounts"],
            {
                "account_id": acc.ids,
                "name": acc.names,
                "segment": np.array(SEGMENTS, dtype=object)[acc.seg],
                "owner_slack_id": acc.owner,
                "signed_up_at": cal.dates(acc.signup),
                "became_customer_at": _opt_dates(cal, np.where(acc.customer, acc.became, _BIG)),
                "first_value_at": _opt_dates(cal, acc.first_value),
                "churned_at": _opt_dates(cal, np.where(acc.churned, acc.churn, _BIG)),
                "acquisition_source": np.array(SOURCES, dtype=object)[acc.source],
                "renewal_date": _opt_dates(cal, acc.renewal),
            },
        )
        invoice_id = ticket_id = response_id = 1
        for c, lo in enumerate(range(0, accounts, _CHUNK)):
            hi = min(lo + _CHUNK, accounts)
            ch = _revenue_state(acc, cal, lo, hi, _rng(seed, 2, c, 0))
            _write_revenue(handles["revenue"], acc, cal, ch)
            invoice_id = _write_invoices(handles["invoices"], acc, cal, ch, _rng(seed, 2, c, 1), invoice_id)
            tickets = _make_tickets(acc, cal, ch, _rng(seed, 2, c, 2))
            ticket_id = _write_tickets(handles["tickets"], acc, cal, ch, tickets, ticket_id)
            response_id = _write_surveys(handles["surveys"], acc, cal, ch, tickets, _rng(seed, 2, c, 3), response_id)
            _write_usage(handles["usage"], acc, cal, ch, _rng(seed, 2, c, 4), usage_scale)
        _write_costs(handles["costs"], acc, cal, seed)
    finally:
        for fh in handles.values():
            fh.close()
    return list(paths.values())


def main(argv: list[str] | None = None) -> None:
    """`python -m storage.demo_data OUT_DIR [--accounts N] [--seed S] [--as-of YYYY-MM-DD] [--usage-scale X]`."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None)
    parser.add_argument("--usage-scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    paths = write_demo_csvs(
        args.out_dir, accounts=args.accounts, seed=args.seed, as_of=args.as_of, usage_scale=args.usage_scale
    )
    elapsed = time.perf_counter() - started
    for path in paths:
        with open(path, "rb") as fh:
            lines = sum(1 for _ in fh) - 1
        print(f"{path}: {lines} rows, {path.stat().st_size / 1e6:.1f} MB")
    print(f"{elapsed:.1f} s")


if __name__ == "__main__":
    main()
