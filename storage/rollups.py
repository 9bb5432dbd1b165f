"""Usage rollups: usage_events pre-aggregated by local day (the reporting time zone), exact and kept fresh.

Tables (storage/models.py):
- usage_days (account, local day): events, distinct users, summed seconds;
- usage_feature_days (account, feature, local day): the same for the events of one feature;
- usage_user_months (account, local month, user): `day_mask`, bit d-1 set when the user was active on day d;
- usage_feature_user_months (account, feature, local month, user): the same per feature;
- usage_periods (calendar month / quarter / year, account): events, summed daily users, seconds and distinct
  users of the whole period, so a calendar-period question reads one row per account.
Distinct users over any day range = (account, user) pairs with a month row whose mask meets the range's days
of that month, so KPIs never read usage_events.

The rollup tables have no foreign key to accounts (a per-row check would dominate their build): deleting
an account deletes its events, the triggers mark those slices, and the refresh deletes their rollup rows.

Freshness, whatever wrote the events: database triggers (installed by migration 0005, `install_triggers`)
record in rollup_dirty the (account_id, UTC day) of every usage row inserted, updated or deleted, and bump
rollup_state.version on every write to the other data tables. `refresh_rollups` recomputes only the local days
those UTC days can touch, in the caller's transaction, and bumps the version too, so a cache keyed by
(token, version) sees every write. `rebuild_rollups` recomputes everything (first build, a new reporting time
zone: `csbot rebuild-rollups`). Write paths call `sync_rollups(conn, tz)` in their own transaction before it
commits; readers call `ensure_fresh(conn, tz)` first (cheap when nothing changed).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    event,
    exists,
    func,
    insert,
    literal,
    select,
    true,
    tuple_,
    union,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from kpi_core.sqlfuncs import _offset_segments, local_date
from storage.account_changes import mark_changed
from storage.models import (
    ROLLUP_TABLES,
    RollupDirty,
    UsageDay,
    UsageEvent,
    UsageFeatureDay,
    UsageFeatureUserMonth,
    UsagePeriod,
    UsageUserMonth,
    rollup_state,
)

__all__ = [
    "RollupStamp", "RollupZoneError", "ensure_fresh", "install_triggers", "rebuild_rollups", "refresh_rollups",
    "sync_rollups", "month_mask", "month_start", "day_bit",
]

AUTO_REBUILD_MAX_EVENTS = 200_000
"""A reader rebuilds rollups built in another zone by itself only up to this many usage rows (id span)."""

REBUILD_SHARE = 0.25
"""A refresh touching more local-day slices than this share of usage_days rows rebuilds everything instead."""

DATA_TABLES_VERSIONED = ("accounts", "revenue", "invoices", "surveys", "tickets", "costs")


class RollupZoneError(Exception):
    """The rollups were built in another time zone and are too big to rebuild while answering."""


@dataclass(frozen=True)
class RollupStamp:
    """Identifies the data the rollups reflect: a new token at every rebuild, a version bumped by every write."""

    timezone: str
    token: str
    version: int


# --------------------------------------------------------------------------------------------- SQL pieces


class month_start(FunctionElement):
    """First day of the month of a DATE."""

    type = Date()
    inherit_cache = True


@compiles(month_start, "sqlite")
def _month_start_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)}, 'start of month')"


@compiles(month_start, "postgresql")
def _month_start_pg(element, compiler, **kw):
    return f"CAST(date_trunc('month', {compiler.process(element.clauses, **kw)}) AS DATE)"


class day_bit(FunctionElement):
    """1 << (day of month - 1) of a DATE, as a 64-bit integer."""

    type = BigInteger()
    inherit_cache = True


@compiles(day_bit, "sqlite")
def _day_bit_sqlite(element, compiler, **kw):
    return f"(1 << (CAST(strftime('%d', {compiler.process(element.clauses, **kw)}) AS INTEGER) - 1))"


@compiles(day_bit, "postgresql")
def _day_bit_pg(element, compiler, **kw):
    col = compiler.process(element.clauses, **kw)
    return f"(CAST(1 AS BIGINT) << (CAST(EXTRACT(DAY FROM {col}) AS INTEGER) - 1))"


class add_days(FunctionElement):
    """A DATE plus a constant number of days."""

    type = Date()
    inherit_cache = True


@compiles(add_days, "sqlite")
def _add_days_sqlite(element, compiler, **kw):
    col, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"date({col}, CAST({days} AS TEXT) || ' days')"


@compiles(add_days, "postgresql")
def _add_days_pg(element, compiler, **kw):
    col, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST({col} + CAST({days} AS INTEGER) AS DATE)"


class quarter_start(FunctionElement):
    """First day of the calendar quarter of a DATE."""

    type = Date()
    inherit_cache = True


@compiles(quarter_start, "sqlite")
def _quarter_start_sqlite(element, compiler, **kw):
    col = compiler.process(element.clauses, **kw)
    return (f"date({col}, 'start of month', '-' || ((CAST(strftime('%m', {col}) AS INTEGER) - 1) % 3)"
            " || ' months')")


@compiles(quarter_start, "postgresql")
def _quarter_start_pg(element, compiler, **kw):
    return f"CAST(date_trunc('quarter', {compiler.process(element.clauses, **kw)}) AS DATE)"


class year_start(FunctionElement):
    """January 1 of the year of a DATE."""

    type = Date()
    inherit_cache = True


@compiles(year_start, "sqlite")
def _year_start_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)}, 'start of year')"


@compiles(year_start, "postgresql")
def _year_start_pg(element, compiler, **kw):
    return f"CAST(date_trunc('year', {compiler.process(element.clauses, **kw)}) AS DATE)"


PERIOD_STARTS = {"month": month_start, "quarter": quarter_start, "year": year_start}
PERIOD_DAYS = {"month": 31, "quarter": 92, "year": 366}


def month_mask(month: dt.date, start: dt.date, end: dt.date) -> int:
    """Bits of the days of `month` (its first day) inside [start, end]; 0 when none."""
    next_month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    lo, hi = max(start, month), min(end, next_month - dt.timedelta(days=1))
    if lo > hi:
        return 0
    return ((1 << hi.day) - 1) ^ ((1 << (lo.day - 1)) - 1)


def months_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the months from the one containing `start` to the one containing `end`."""
    out, m = [], start.replace(day=1)
    while m <= end:
        out.append(m)
        m = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def full_month_mask(month: dt.date) -> int:
    return month_mask(month, month, dt.date.max)


# ------------------------------------------------------------------------------------------------ triggers


def _sqlite_trigger_sql() -> list[str]:
    def dirty(row: str) -> str:
        return (f"INSERT OR IGNORE INTO rollup_dirty (account_id, day) "
                f"VALUES ({row}.account_id, date({row}.occurred_at));")

    stmts = [
        f"CREATE TRIGGER IF NOT EXISTS csbot_usage_ai AFTER INSERT ON usage_events BEGIN {dirty('NEW')} END",
        f"CREATE TRIGGER IF NOT EXISTS csbot_usage_ad AFTER DELETE ON usage_events BEGIN {dirty('OLD')} END",
        f"CREATE TRIGGER IF NOT EXISTS csbot_usage_au AFTER UPDATE ON usage_events BEGIN {dirty('OLD')} "
        f"{dirty('NEW')} END",
    ]
    bump = "UPDATE rollup_state SET version = version + 1;"
    for table in DATA_TABLES_VERSIONED:
        for short, verb in (("ai", "INSERT"), ("ad", "DELETE"), ("au", "UPDATE")):
            stmts.append(
                f"CREATE TRIGGER IF NOT EXISTS csbot_{table}_{short} AFTER {verb} ON {table} BEGIN {bump} END"
            )
    return stmts


SQLITE_USAGE_TRIGGERS = ("csbot_usage_ai", "csbot_usage_ad", "csbot_usage_au")


def _postgres_trigger_sql() -> list[str]:
    def dirty_from(*tables: str) -> str:
        inserts = " ".join(
            f"INSERT INTO rollup_dirty (account_id, day) SELECT DISTINCT account_id, CAST(occurred_at AS DATE)"
            f" FROM {t} ON CONFLICT DO NOTHING;" for t in tables
        )
        return f"BEGIN {inserts} RETURN NULL; END"

    def function(name: str, body: str) -> str:
        return f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$"

    stmts = [
        function("csbot_usage_dirty_new", dirty_from("csbot_new_rows")),
        function("csbot_usage_dirty_old", dirty_from("csbot_old_rows")),
        function("csbot_usage_dirty_both", dirty_from("csbot_old_rows", "csbot_new_rows")),
        function("csbot_bump_version", "BEGIN UPDATE rollup_state SET version = version + 1; RETURN NULL; END"),
        "CREATE TRIGGER csbot_usage_ai AFTER INSERT ON usage_events REFERENCING NEW TABLE AS csbot_new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION csbot_usage_dirty_new()",
        "CREATE TRIGGER csbot_usage_ad AFTER DELETE ON usage_events REFERENCING OLD TABLE AS csbot_old_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION csbot_usage_dirty_old()",
        "CREATE TRIGGER csbot_usage_au AFTER UPDATE ON usage_events REFERENCING OLD TABLE AS csbot_old_rows"
        " NEW TABLE AS csbot_new_rows FOR EACH STATEMENT EXECUTE FUNCTION csbot_usage_dirty_both()",
    ]
    for table in DATA_TABLES_VERSIONED:
        stmts.append(
            f"CREATE TRIGGER csbot_{table}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION csbot_bump_version()"
        )
    return stmts


def install_triggers(conn: Connection) -> None:
    """Create the triggers that mark usage slices dirty and bump the data version (migration 0005)."""
    statements = _postgres_trigger_sql() if conn.dialect.name == "postgresql" else _sqlite_trigger_sql()
    for statement in statements:
        conn.exec_driver_sql(statement)


def drop_triggers(conn: Connection) -> None:
    """Remove every trigger `install_triggers` created (downgrade)."""
    if conn.dialect.name == "postgresql":
        for table in ("usage_events", *DATA_TABLES_VERSIONED):
            for name in ("usage_ai", "usage_ad", "usage_au", f"{table}_version"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS csbot_{name} ON {table}")
        for fn in ("csbot_usage_dirty_new", "csbot_usage_dirty_old", "csbot_usage_dirty_both", "csbot_bump_version"):
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {fn}()")
        return
    for name in SQLITE_USAGE_TRIGGERS:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    for table in DATA_TABLES_VERSIONED:
        for short in ("ai", "ad", "au"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS csbot_{table}_{short}")


# --------------------------------------------------------------------------------------------- work tables

_WORK = MetaData()
_slices = Table(
    "csbot_rollup_slices", _WORK,
    Column("account_id", String(128), primary_key=True), Column("day", Date, primary_key=True),
    prefixes=["TEMPORARY"],
)
_months = Table(
    "csbot_rollup_months", _WORK,
    Column("account_id", String(128), primary_key=True), Column("month", Date, primary_key=True),
    Column("clear_mask", BigInteger), prefixes=["TEMPORARY"],
)
_features = Table(
    "csbot_rollup_features", _WORK, Column("feature", String(256), primary_key=True), prefixes=["TEMPORARY"],
)
_touched_periods = Table(
    "csbot_rollup_periods", _WORK,
    Column("kind", String(8), primary_key=True), Column("start", Date, primary_key=True),
    Column("account_id", String(128), primary_key=True), prefixes=["TEMPORARY"],
)
_ufd = Table(
    "csbot_rollup_ufd", _WORK,
    Column("account_id", String(128)), Column("user_id", String(128)), Column("feature", String(256)),
    Column("day", Date), Column("events", Integer), Column("seconds", BigInteger),
    prefixes=["TEMPORARY"],
)


def _recreate(conn: Connection, table: Table) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")
    table.create(conn)


def _drop(conn: Connection, *tables: Table) -> None:
    for table in tables:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")


# ------------------------------------------------------------------------------------------------- build


def _fill_ufd(conn: Connection, tz: ZoneInfo, lo: dt.datetime, hi: dt.datetime, sliced: bool) -> None:
    """Per (account, user, feature, local day): events and seconds, of every event or of the slices only."""
    e = UsageEvent.__table__.c
    day = local_date(e.occurred_at, lo, hi, tz).label("day")
    events = select(e.account_id, e.user_id, e.feature, day, e.duration_seconds)
    if sliced:
        s = _slices.c
        events = events.select_from(UsageEvent.__table__.join(
            _slices,
            (e.account_id == s.account_id) & (e.occurred_at >= add_days(s.day, literal(-1, Integer)))
            & (e.occurred_at < add_days(s.day, literal(2, Integer))) & (day == s.day),
        )).where(e.occurred_at >= lo, e.occurred_at < hi)
    ev = events.subquery("events")
    query = select(
        ev.c.account_id, ev.c.user_id, ev.c.feature, ev.c.day, func.count().label("events"),
        func.coalesce(func.sum(ev.c.duration_seconds), 0).label("seconds"),
    ).group_by(ev.c.account_id, ev.c.user_id, ev.c.feature, ev.c.day)
    conn.execute(insert(_ufd).from_select(["account_id", "user_id", "feature", "day", "events", "seconds"], query))


def _insert_days(conn: Connection) -> None:
    u = _ufd.c
    conn.execute(insert(UsageDay).from_select(
        ["account_id", "day", "events", "users", "seconds"],
        select(u.account_id, u.day, func.sum(u.events), func.count(u.user_id.distinct()), func.sum(u.seconds))
        .group_by(u.account_id, u.day),
    ))
    conn.execute(insert(UsageFeatureDay).from_select(
        ["account_id", "feature", "day", "events", "users", "seconds"],
        select(u.account_id, u.feature, u.day, func.sum(u.events), func.count(u.user_id.distinct()),
               func.sum(u.seconds))
        .where(u.feature.is_not(None)).group_by(u.account_id, u.feature, u.day),
    ))


def _user_month_selects():
    u = _ufd.c
    user_days = select(u.account_id, u.user_id, u.day).distinct().subquery("user_days")
    month = month_start(user_days.c.day)
    users = (
        select(user_days.c.account_id, month.label("month"), user_days.c.user_id,
               func.sum(day_bit(user_days.c.day)).cast(BigInteger).label("day_mask"))
        .where(user_days.c.day.is_not(None))
        .group_by(user_days.c.account_id, month, user_days.c.user_id)
    )
    fmonth = month_start(u.day)
    features = (
        select(u.account_id, u.feature, fmonth.label("month"), u.user_id,
               func.sum(day_bit(u.day)).cast(BigInteger).label("day_mask"))
        .where(u.feature.is_not(None))
        .group_by(u.account_id, u.feature, fmonth, u.user_id)
    )
    return users, features


def _fill_periods(conn: Connection, months: Table | None) -> None:
    """usage_periods of every (account, month/quarter/year) containing a month of `months` (None: all).

    Sums come from usage_days (months) or the month rows (quarters, years); distinct users from
    usage_user_months; both as one INSERT of a UNION ALL grouped by (period start, account).
    """
    p = UsagePeriod.__table__
    d = UsageDay.__table__.c
    u = UsageUserMonth.__table__.c
    mp = UsagePeriod.__table__.alias("month_rows")
    m = months.c if months is not None else None
    zero = literal(0)
    for kind, start_of in PERIOD_STARTS.items():
        def touched(account_col, month_col, start_of=start_of) -> list:
            if m is None:
                return []
            return [exists().where(m.account_id == account_col, start_of(m.month) == start_of(month_col))]

        conn.execute(delete(p).where(p.c.kind == kind, *touched(p.c.account_id, p.c.start)))
        if kind == "month":
            sums = select(
                month_start(d.day).label("start"), d.account_id.label("account_id"), func.sum(d.events).label("e"),
                func.sum(d.users).label("ud"), func.sum(d.seconds).label("s"), zero.label("u"),
            ).where(*touched(d.account_id, d.day)).group_by(month_start(d.day), d.account_id)
        else:
            sums = select(
                start_of(mp.c.start).label("start"), mp.c.account_id.label("account_id"),
                func.sum(mp.c.events).label("e"), func.sum(mp.c.user_days).label("ud"),
                func.sum(mp.c.seconds).label("s"), zero.label("u"),
            ).where(mp.c.kind == "month", *touched(mp.c.account_id, mp.c.start)).group_by(
                start_of(mp.c.start), mp.c.account_id)
        users = select(
            start_of(u.month), u.account_id, zero, zero, zero, func.count(u.user_id.distinct()),
        ).where(*touched(u.account_id, u.month)).group_by(start_of(u.month), u.account_id)
        parts = union_all(sums, users).subquery("parts")
        query = select(
            literal(kind), parts.c.start, parts.c.account_id, func.sum(parts.c.e), func.sum(parts.c.ud),
            func.sum(parts.c.s), func.sum(parts.c.u),
        ).group_by(parts.c.start, parts.c.account_id)
        conn.execute(insert(p).from_select(
            ["kind", "start", "account_id", "events", "user_days", "seconds", "users"], query))


def _refresh_periods(conn: Connection) -> None:
    """usage_periods of the (account, month/quarter/year) containing a month of the `_months` work table."""
    m, t = _months.c, _touched_periods.c
    p = UsagePeriod.__table__
    d = UsageDay.__table__.c
    u = UsageUserMonth.__table__.c
    mp = UsagePeriod.__table__.alias("month_rows")
    _recreate(conn, _touched_periods)
    for kind, start_of in PERIOD_STARTS.items():
        conn.execute(insert(_touched_periods).from_select(
            ["kind", "start", "account_id"], select(literal(kind), start_of(m.month), m.account_id).distinct()))
    conn.execute(delete(p).where(tuple_(p.c.kind, p.c.start, p.c.account_id).in_(
        select(t.kind, t.start, t.account_id))))
    zero = literal(0)
    for kind, start_of in PERIOD_STARTS.items():
        span = literal(PERIOD_DAYS[kind], Integer)
        if kind == "month":
            sums = select(
                t.start, t.account_id, func.sum(d.events).label("e"), func.sum(d.users).label("ud"),
                func.sum(d.seconds).label("s"), zero.label("u"),
            ).select_from(_touched_periods.join(UsageDay.__table__, (d.account_id == t.account_id) & (
                d.day >= t.start) & (d.day < add_days(t.start, span)) & (month_start(d.day) == t.start)))
        else:
            sums = select(
                t.start, t.account_id, func.sum(mp.c.events).label("e"), func.sum(mp.c.user_days).label("ud"),
                func.sum(mp.c.seconds).label("s"), zero.label("u"),
            ).select_from(_touched_periods.join(mp, (mp.c.account_id == t.account_id) & (mp.c.kind == "month") & (
                mp.c.start >= t.start) & (mp.c.start < add_days(t.start, span)) & (start_of(mp.c.start) == t.start)))
        users = select(
            t.start, t.account_id, zero, zero, zero, func.count(u.user_id.distinct()),
        ).select_from(_touched_periods.join(UsageUserMonth.__table__, (u.account_id == t.account_id) & (
            u.month >= t.start) & (u.month < add_days(t.start, span)) & (start_of(u.month) == t.start)))
        parts = union_all(
            sums.where(t.kind == kind).group_by(t.start, t.account_id),
            users.where(t.kind == kind).group_by(t.start, t.account_id),
        ).subquery("parts")
        query = select(
            literal(kind), parts.c.start, parts.c.account_id, func.sum(parts.c.e), func.sum(parts.c.ud),
            func.sum(parts.c.s), func.sum(parts.c.u),
        ).group_by(parts.c.start, parts.c.account_id)
        conn.execute(insert(p).from_select(
            ["kind", "start", "account_id", "events", "user_days", "seconds", "users"], query))


def _event_span(conn: Connection) -> tuple[dt.datetime, dt.datetime] | None:
    e = UsageEvent.__table__.c
    lo, hi = conn.execute(select(func.min(e.occurred_at), func.max(e.occurred_at))).one()
    if lo is None:
        return None
    if isinstance(lo, str):  # SQLite without a declared type on an aggregate
        lo, hi = dt.datetime.fromisoformat(lo), dt.datetime.fromisoformat(hi)
    day = dt.timedelta(days=1)
    return dt.datetime.combine(lo.date() - day, dt.time()), dt.datetime.combine(hi.date() + 2 * day, dt.time())


def _new_state(conn: Connection, tz_name: str) -> None:
    """A new token; the version goes on from the old one, so account_changes stays comparable with it."""
    version = (conn.scalar(select(func.max(rollup_state.c.version))) or 0) + 1
    conn.execute(delete(rollup_state))
    conn.execute(insert(rollup_state).values(
        id=1, timezone=tz_name, token=uuid.uuid4().hex, version=version,
        built_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
    ))


def rebuild_rollups(conn: Connection, tz_name: str) -> None:
    """Recompute every rollup from usage_events in zone `tz_name` (in the caller's transaction)."""
    _lock(conn)
    tz = ZoneInfo(tz_name)
    # SQLite: filling B-trees in bulk and indexing after costs far less than keeping secondary indexes up to date.
    indexes = [ix for m in ROLLUP_TABLES for ix in m.__table__.indexes] if conn.dialect.name == "sqlite" else []
    for index in indexes:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
    for model in (UsagePeriod, UsageFeatureUserMonth, UsageUserMonth, UsageFeatureDay, UsageDay, RollupDirty):
        conn.execute(delete(model))
    span = _event_span(conn)
    if span is not None:
        _recreate(conn, _ufd)
        _fill_ufd(conn, tz, *span, sliced=False)
        _insert_days(conn)
        users, features = _user_month_selects()
        conn.execute(insert(UsageUserMonth).from_select(["account_id", "month", "user_id", "day_mask"], users))
        conn.execute(insert(UsageFeatureUserMonth).from_select(
            ["account_id", "feature", "month", "user_id", "day_mask"], features))
        _drop(conn, _ufd)
        _fill_periods(conn, None)
    for index in indexes:
        index.create(conn)
    _new_state(conn, tz_name)
    if conn.dialect.name == "postgresql":
        for model in (UsageDay, UsageFeatureDay, UsageUserMonth, UsageFeatureUserMonth, UsagePeriod):
            conn.exec_driver_sql(f"ANALYZE {model.__tablename__}")


def _day_shifts(tz: ZoneInfo, lo: dt.date, hi: dt.date) -> list[int]:
    """Local-day offsets (relative to the UTC day) an instant of a UTC day in [lo, hi] can have."""
    start = dt.datetime.combine(lo - dt.timedelta(days=1), dt.time())
    end = dt.datetime.combine(hi + dt.timedelta(days=2), dt.time())
    offsets = {off for _, off in _offset_segments(start, end, tz)}
    shifts = {0}
    if any(o > 0 for o in offsets):
        shifts.add(1)
    if any(o < 0 for o in offsets):
        shifts.add(-1)
    return sorted(shifts)


def _upsert(conn: Connection, model, columns: list[str], query) -> None:
    table = model.__table__
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).from_select(columns, query)
    keys = [c.name for c in table.primary_key.columns]
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_={"day_mask": table.c.day_mask.op("|")(
        stmt.excluded.day_mask)})
    conn.execute(stmt)


def refresh_rollups(conn: Connection, tz_name: str) -> int:
    """Recompute the local days of every dirty (account, UTC day) slice; returns the slices recomputed.

    The rollups must have been built in `tz_name` (else use `sync_rollups`). Runs in the caller's transaction.
    """
    _lock(conn)
    d = RollupDirty.__table__.c
    lo_day, hi_day = conn.execute(select(func.min(d.day), func.max(d.day))).one()
    if lo_day is None:
        return 0
    if isinstance(lo_day, str):
        lo_day, hi_day = dt.date.fromisoformat(lo_day), dt.date.fromisoformat(hi_day)
    tz = ZoneInfo(tz_name)
    _recreate(conn, _slices)
    shifted = [select(d.account_id, add_days(d.day, literal(k, Integer))) for k in _day_shifts(tz, lo_day, hi_day)]
    conn.execute(insert(_slices).from_select(["account_id", "day"], union(*shifted) if len(shifted) > 1
                                             else shifted[0]))
    n = conn.scalar(select(func.count()).select_from(_slices))
    days_rows = conn.scalar(select(func.count()).select_from(select(UsageDay.account_id).limit(int(n / REBUILD_SHARE)
                                                                                               + 1).subquery()))
    if n > REBUILD_SHARE * days_rows and n > 1000:
        _drop(conn, _slices)
        rebuild_rollups(conn, tz_name)
        return n
    s = _slices.c
    lo = dt.datetime.combine(lo_day - dt.timedelta(days=2), dt.time())
    hi = dt.datetime.combine(hi_day + dt.timedelta(days=3), dt.time())
    _recreate(conn, _ufd)
    _fill_ufd(conn, tz, lo, hi, sliced=True)

    # Every step below finds its rows by key (row-value IN on a primary key or index prefix), so the work
    # follows the touched slices, not the size of the tables.
    _recreate(conn, _features)
    conn.execute(insert(_features).from_select(["feature"], select(UsageFeatureDay.feature).distinct()))
    f = _features.c
    ud, fd = UsageDay.__table__.c, UsageFeatureDay.__table__.c
    conn.execute(delete(UsageDay.__table__).where(tuple_(ud.account_id, ud.day).in_(select(s.account_id, s.day))))
    conn.execute(delete(UsageFeatureDay.__table__).where(tuple_(fd.feature, fd.day, fd.account_id).in_(
        select(f.feature, s.day, s.account_id).select_from(_features.join(_slices, true())))))
    _insert_days(conn)

    _recreate(conn, _months)
    month = month_start(s.day)
    conn.execute(insert(_months).from_select(
        ["account_id", "month", "clear_mask"],
        select(s.account_id, month, func.sum(day_bit(s.day)).cast(BigInteger)).group_by(s.account_id, month),
    ))
    m = _months.c
    users, features = _user_month_selects()
    uu, fu = UsageUserMonth.__table__.c, UsageFeatureUserMonth.__table__.c
    for model, query, columns, keys, touched in (
        (UsageUserMonth, users, ["account_id", "month", "user_id", "day_mask"], tuple_(uu.month, uu.account_id),
         select(m.month, m.account_id)),
        (UsageFeatureUserMonth, features, ["account_id", "feature", "month", "user_id", "day_mask"],
         tuple_(fu.feature, fu.month, fu.account_id),
         select(f.feature, m.month, m.account_id).select_from(_features.join(_months, true()))),
    ):
        t = model.__table__
        clear = select(m.clear_mask).where(m.account_id == t.c.account_id, m.month == t.c.month).scalar_subquery()
        conn.execute(update(t).where(keys.in_(touched)).values(day_mask=t.c.day_mask.op("&")(-1 - clear)))
        _upsert(conn, model, columns, query)
        conn.execute(delete(t).where(keys.in_(touched), t.c.day_mask == 0))
    _refresh_periods(conn)
    _drop(conn, _features, _touched_periods)
    _drop(conn, _ufd, _months, _slices)
    version = conn.scalar(update(rollup_state).values(version=rollup_state.c.version + 1)
                          .returning(rollup_state.c.version))
    if version is not None:
        mark_changed(conn, select(d.account_id), version)
    conn.execute(delete(RollupDirty))
    return n


def _lock(conn: Connection) -> None:
    """One refresher at a time; writers of usage rows wait until the refresh commits (Postgres)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE rollup_dirty IN EXCLUSIVE MODE")


def _status(conn: Connection):
    dirty = exists().where(RollupDirty.account_id.is_not(None))
    return conn.execute(select(rollup_state.c.timezone, rollup_state.c.token, rollup_state.c.version,
                               dirty.label("dirty"))).first()


def sync_rollups(conn: Connection, tz_name: str, *, may_rebuild: bool = True) -> RollupStamp:
    """Bring the rollups up to date in zone `tz_name` in the caller's transaction.

    Missing or built in another zone: rebuilt (when `may_rebuild`, else `RollupZoneError`); otherwise only the
    dirty slices are recomputed.
    """
    _lock(conn)
    status = _status(conn)
    if status is None or status.timezone != tz_name:
        if not may_rebuild:
            built = status.timezone if status is not None else "no time zone yet"
            raise RollupZoneError(
                f"Usage figures are stored by day in {built}, but the reporting time zone is now"
                f" {tz_name}: run `csbot rebuild-rollups` (a few minutes on a large store) and ask again."
            )
        rebuild_rollups(conn, tz_name)
    elif status.dirty:
        refresh_rollups(conn, tz_name)
    state = conn.execute(select(rollup_state.c.timezone, rollup_state.c.token, rollup_state.c.version)).one()
    return RollupStamp(state.timezone, state.token, int(state.version))


def _small_store(conn: Connection) -> bool:
    e = UsageEvent.__table__.c
    lo, hi = conn.execute(select(func.min(e.id), func.max(e.id))).one()
    return lo is None or hi - lo < AUTO_REBUILD_MAX_EVENTS


def _caller_has_writes(conn: Connection) -> bool:
    """SQLite: the connection holds uncommitted writes (the driver only opens a transaction for them)."""
    if conn.dialect.name != "sqlite":
        return False
    return bool(conn.connection.driver_connection.in_transaction)


def _sync_in_own_transaction(conn: Connection, tz_name: str, small: bool | None) -> RollupStamp:
    with conn.begin():
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '60s'")
        return sync_rollups(conn, tz_name, may_rebuild=_small_store(conn) if small is None else small)


def ensure_fresh(conn: Connection, tz_name: str) -> RollupStamp:
    """Rollups up to date in zone `tz_name` before a read on `conn`; returns their stamp (for caches).

    The check (one small query) and any refresh run on a connection of their own from the same engine, in a
    transaction of their own, so `conn` only runs the answer's own statements. When `conn` holds uncommitted
    writes (SQLite), the refresh runs in a savepoint of its transaction instead. Rollups of another zone are
    rebuilt when the store is small, else `RollupZoneError` says to run `csbot rebuild-rollups`.
    """
    if _caller_has_writes(conn):
        status = _status(conn)
        if status is not None and status.timezone == tz_name and not status.dirty:
            return RollupStamp(status.timezone, status.token, int(status.version))
        with conn.begin_nested():
            return sync_rollups(conn, tz_name, may_rebuild=status is None or _small_store(conn))
    with conn.engine.connect() as own:
        status = _status(own)
        if status is not None and status.timezone == tz_name and not status.dirty:
            return RollupStamp(status.timezone, status.token, int(status.version))
        own.rollback()
        return _sync_in_own_transaction(own, tz_name, True if status is None else None)


# -------------------------------------------------------------------------------------------- write hook



_USAGE_WRITE = re.compile(r"^\s*(INSERT\s+INTO|DELETE\s+FROM|UPDATE)\s+(usage_events|accounts)\b", re.IGNORECASE)


def _note_usage_write(conn, cursor, statement, parameters, context, executemany) -> None:
    if not conn.info.get("csbot_syncing") and _USAGE_WRITE.match(statement):
        conn.info["csbot_usage_written"] = True


def _sync_before_commit(conn) -> None:
    if not conn.info.pop("csbot_usage_written", False):
        return
    conn.info["csbot_syncing"] = True
    try:
        status = conn.execute(select(rollup_state.c.timezone)).first()
        sync_rollups(conn, status.timezone if status is not None else "UTC")
    finally:
        conn.info.pop("csbot_syncing", None)
        conn.info.pop("csbot_usage_written", None)


def _forget_on_rollback(conn) -> None:
    conn.info.pop("csbot_usage_written", None)


def install_write_hook(engine) -> None:
    """Every transaction of `engine` that wrote usage_events through SQLAlchemy refreshes the rollups before it
    commits (in the zone they were built in, UTC for a new store), so the rollups are fresh in the same commit."""
    event.listen(engine, "before_cursor_execute", _note_usage_write)
    event.listen(engine, "commit", _sync_before_commit)
    event.listen(engine, "rollback", _forget_on_rollback)
