"""SQLAlchemy models: one table per CSV file of the data contract, plus the bot's own state.

Conventions (the same on SQLite and Postgres):
- ids are strings, never coerced;
- `date` columns are DATE; `month` columns are DATE on the first day of the month;
- `datetime` columns are naive TIMESTAMP holding UTC (import converts offsets and the
  reporting time zone to UTC);
- money is NUMERIC(14, 2).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(14, 2)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Account(Base):
    __tablename__ = "accounts"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    segment: Mapped[str | None] = mapped_column(String(128))
    owner_slack_id: Mapped[str | None] = mapped_column(String(64))
    owner_email: Mapped[str | None] = mapped_column(String(320))  # resolved to owner_slack_id (owner_emails.py)
    signed_up_at: Mapped[dt.date] = mapped_column(Date)
    became_customer_at: Mapped[dt.date | None] = mapped_column(Date)
    first_value_at: Mapped[dt.date | None] = mapped_column(Date)
    churned_at: Mapped[dt.date | None] = mapped_column(Date)
    acquisition_source: Mapped[str | None] = mapped_column(String(128))
    renewal_date: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (
        CheckConstraint(
            "became_customer_at IS NULL OR became_customer_at >= signed_up_at", name="customer_after_signup"
        ),
        CheckConstraint(
            "churned_at IS NULL OR (became_customer_at IS NOT NULL AND churned_at > became_customer_at)",
            name="churn_after_customer",
        ),
        Index("ix_accounts_segment", "segment"),
        Index("ix_accounts_owner", "owner_slack_id"),
        Index("ix_accounts_customer", "became_customer_at", "churned_at"),
    )


class Revenue(Base):
    __tablename__ = "revenue"

    account_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    product: Mapped[str] = mapped_column(String(128), primary_key=True, default="core")
    mrr: Mapped[Decimal] = mapped_column(Money)

    __table_args__ = (
        CheckConstraint("mrr >= 0", name="mrr_non_negative"),
        Index("ix_revenue_month", "month", "account_id"),
    )


class Invoice(Base):
    __tablename__ = "invoices"

    invoice_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128), ForeignKey("accounts.account_id", ondelete="CASCADE"))
    issued_at: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)

    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        Index("ix_invoices_issued", "issued_at", "account_id"),
    )


class Survey(Base):
    __tablename__ = "surveys"

    response_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128), ForeignKey("accounts.account_id", ondelete="CASCADE"))
    survey: Mapped[str] = mapped_column(String(8))
    score: Mapped[int] = mapped_column(Integer)
    responded_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
    contact: Mapped[str | None] = mapped_column(String(512))
    comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("survey IN ('nps', 'csat', 'ces')", name="survey_kind"),
        CheckConstraint(
            "(survey = 'nps' AND score BETWEEN 0 AND 10) OR (survey IN ('csat', 'ces') AND score BETWEEN 1 AND 5)",
            name="score_range",
        ),
        Index("ix_surveys_kind_time", "survey", "responded_at"),
        Index("ix_surveys_account", "account_id", "survey", "responded_at"),
    )


class Ticket(Base):
    __tablename__ = "tickets"

    ticket_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128), ForeignKey("accounts.account_id", ondelete="CASCADE"))
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # naive UTC
    contacts: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        CheckConstraint("resolved_at IS NULL OR resolved_at >= opened_at", name="resolved_after_opened"),
        CheckConstraint("contacts IS NULL OR contacts >= 1", name="contacts_positive"),
        CheckConstraint(
            "priority IS NULL OR priority IN ('low', 'normal', 'high', 'urgent')", name="priority_kind"
        ),
        Index("ix_tickets_resolved", "resolved_at"),
        Index("ix_tickets_account", "account_id", "opened_at"),
    )


class UsageEvent(Base):
    """One product usage event. No natural key: import replaces whole (account, day) slices."""

    __tablename__ = "usage_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128), ForeignKey("accounts.account_id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
    feature: Mapped[str | None] = mapped_column(String(256))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("duration_seconds IS NULL OR duration_seconds >= 0", name="duration_non_negative"),
        Index("ix_usage_time_account", "occurred_at", "account_id", "user_id"),
        Index("ix_usage_account_time", "account_id", "occurred_at"),
    )


class UsageDay(Base):
    """Rollup: usage of one account on one local day (reporting time zone); see storage/rollups.py."""

    __tablename__ = "usage_days"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)  # no FK: see storage/rollups.py
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # local date
    events: Mapped[int] = mapped_column(Integer)
    users: Mapped[int] = mapped_column(Integer)  # distinct users active that day
    seconds: Mapped[int] = mapped_column(BigInteger)  # summed duration_seconds (NULL counts 0)

    __table_args__ = (
        Index("ix_usage_days_day", "day", "account_id", "events", "users", "seconds"), {"sqlite_with_rowid": False},
    )


class UsageFeatureDay(Base):
    """Rollup: usage of one feature by one account on one local day (events with a feature only)."""

    __tablename__ = "usage_feature_days"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)  # no FK: see storage/rollups.py
    feature: Mapped[str] = mapped_column(String(256), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    events: Mapped[int] = mapped_column(Integer)
    users: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_usage_feature_days_day", "feature", "day", "account_id", "users", "seconds"),
        {"sqlite_with_rowid": False},
    )


class UsageUserMonth(Base):
    """Rollup: the local days (bit d-1 = day d) of one local month on which a user was active."""

    __tablename__ = "usage_user_months"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)  # no FK: see storage/rollups.py
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # first day of the local month
    day_mask: Mapped[int] = mapped_column(BigInteger)  # never 0 (such rows are deleted)

    __table_args__ = (
        Index("ix_usage_user_months_month", "month", "account_id", "user_id", "day_mask"),
        {"sqlite_with_rowid": False},
    )


class UsageFeatureUserMonth(Base):
    """Rollup: like usage_user_months, for the events of one feature."""

    __tablename__ = "usage_feature_user_months"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)  # no FK: see storage/rollups.py
    feature: Mapped[str] = mapped_column(String(256), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    day_mask: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_usage_feature_user_months_month", "feature", "month", "account_id", "user_id", "day_mask"),
        {"sqlite_with_rowid": False},
    )


class UsagePeriod(Base):
    """Rollup: usage of one account over one calendar month, quarter or year (local dates), all features."""

    __tablename__ = "usage_periods"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # month, quarter or year
    start: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # first day of the period
    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)  # no FK: see storage/rollups.py
    events: Mapped[int] = mapped_column(BigInteger)
    user_days: Mapped[int] = mapped_column(BigInteger)  # sum over the days of the distinct users of the day
    seconds: Mapped[int] = mapped_column(BigInteger)
    users: Mapped[int] = mapped_column(Integer)  # distinct users active in the period

    __table_args__ = (Index("ix_usage_periods_account", "account_id", "kind", "start"), {"sqlite_with_rowid": False})


STATE_METADATA = MetaData(naming_convention=NAMING)
"""Tables of bookkeeping that is not data: kept out of `Base.metadata` (a re-import that changes no row leaves
every Base table as it was, and emptying the store keeps the zone the rollups are built in)."""

rollup_state = Table(
    "rollup_state", STATE_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("timezone", String(64), nullable=False),  # the zone the usage rollups are built in
    Column("token", String(32), nullable=False),  # new at every full rebuild
    Column("version", BigInteger, nullable=False),  # bumped by every write to the data tables
    Column("built_at", DateTime, nullable=False),
)
"""One row: the zone the usage rollups were built in, and a version bumped by every data write."""

account_changes = Table(
    "account_changes", STATE_METADATA,
    Column("account_id", String(128), primary_key=True),
    Column("version", BigInteger, nullable=False),  # rollup_state.version of the account's latest change
)
"""Per account: the data version of the last write that touched its health inputs (storage/account_changes.py)."""

health_scorings = Table(
    "health_scorings", STATE_METADATA,
    Column("settings", String(40), primary_key=True),  # digest of the health settings (kpi_core/stored_health.py)
    Column("as_of", Date, primary_key=True),
    Column("account_id", String(128), primary_key=True),
    Column("token", String(32), nullable=False),  # rollup_state.token the row was scored under
    Column("version", BigInteger, nullable=False),  # rollup_state.version read before it was scored
    Column("written_at", DateTime, nullable=False),  # naive UTC
    Column("body", Text, nullable=False),  # the account's health as JSON
)
"""The latest health scoring of every account per (settings, as_of), kept up to date account by account."""


class RollupDirty(Base):
    """(account, UTC day) slices of usage_events written since the rollups were last refreshed (by triggers)."""

    __tablename__ = "rollup_dirty"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # UTC date of occurred_at

    __table_args__ = ({"sqlite_with_rowid": False},)


class Cost(Base):
    __tablename__ = "costs"

    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    category: Mapped[str] = mapped_column(String(16), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money)

    __table_args__ = (
        CheckConstraint("category IN ('acquisition', 'retention')", name="cost_category"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
    )


class ImportRun(Base):
    """One `csbot import` of one file: what was loaded and when."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC


class Subscription(Base):
    """A channel's schedule: the weekly (or monthly) digest, or the daily churn-risk scan.

    One per (team, channel, kind): subscribing again updates it. `schedule_since` is when the schedule
    was last set; runs due before it are never posted (subscribing at 10:00 does not post the 09:00 run).
    """

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))
    weekday: Mapped[int | None] = mapped_column(Integer)  # 0 = Monday; None = every day
    at_time: Mapped[str] = mapped_column(String(5))  # HH:MM, local to `timezone`
    timezone: Mapped[str] = mapped_column(String(64))  # IANA name
    kpis: Mapped[str | None] = mapped_column(Text)  # comma-separated KPI ids; NULL = the default set
    cadence: Mapped[str] = mapped_column(String(8), default="week")
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
    schedule_since: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(8), default="ok")
    failure: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # naive UTC
    owner_id: Mapped[str | None] = mapped_column(String(32))  # personal: DMs this user about their accounts only
    external_ok: Mapped[bool] = mapped_column(Boolean, default=False)  # an admin allowed a Slack Connect channel

    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "kind", name="uq_subscriptions_team_channel_kind"),
        CheckConstraint("kind IN ('digest', 'risk')", name="kind"),
        CheckConstraint("weekday IS NULL OR weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("cadence IN ('week', 'month')", name="cadence"),
        CheckConstraint("status IN ('ok', 'failing')", name="status"),
        Index("ix_subscriptions_active", "active", "kind"),
    )


class Delivery(Base):
    """One post (or one scan) that must happen exactly once, under a unique key.

    `key` = "{kind}:{subscription_id}:{period_key}" (alerts: "alert:{subscription_id}:{account}:{date}").
    The row is written ('claimed') in its own committed transaction before anything is posted; 'failed'
    rows with a `retry_at` are tried again, those without are final. `batch` ties the alert posts of one
    risk scan to the scan's key. 'unconfirmed': Slack erred after maybe accepting the post and its history could
    not be read yet; it is checked again at `retry_at` and posted only when the check says it is absent.
    'unknown': still unconfirmed when the grace window ended (final; the subscriber was told).
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    subscription_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("subscriptions.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))
    period_key: Mapped[str] = mapped_column(String(128))
    scheduled_for: Mapped[dt.datetime | None] = mapped_column(DateTime)  # naive UTC
    state: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # naive UTC
    posted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # naive UTC
    message_ts: Mapped[str | None] = mapped_column(String(32))
    delayed: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # naive UTC
    batch: Mapped[str | None] = mapped_column(String(255))
    chart_file_id: Mapped[str | None] = mapped_column(String(64))  # the digest chart, shared at most once

    __table_args__ = (
        CheckConstraint("kind IN ('digest', 'risk', 'alert')", name="kind"),
        CheckConstraint("state IN ('claimed', 'posted', 'failed', 'skipped', 'unconfirmed', 'unknown')",
                        name="state"),
        Index("ix_deliveries_subscription", "subscription_id", "kind", "scheduled_for"),
        Index("ix_deliveries_batch", "batch"),
    )


class SchedulerHeartbeat(Base):
    """When the scheduler last ran a tick: how long csbot was down, for the runs it missed."""

    __tablename__ = "scheduler_heartbeats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC


class RiskAlert(Base):
    """One churn-risk episode of one rule for one account, as seen by one risk subscription.

    An episode opens when the rule starts firing and closes (`closed_on`) when it stops. `severity` is the
    latest measure (higher is worse); `alerted_severity` the one last posted, so a repeat needs a real
    worsening. `state` and `snoozed_until` record the buttons (who and when in `acted_by`, `acted_at`).
    """

    __tablename__ = "risk_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(Integer, ForeignKey("subscriptions.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(128))
    rule_id: Mapped[str] = mapped_column(String(32))
    rule_text: Mapped[str | None] = mapped_column(Text)
    episode_start: Mapped[dt.date] = mapped_column(Date)
    severity: Mapped[float] = mapped_column(Float)
    alerted_severity: Mapped[float | None] = mapped_column(Float)
    last_seen: Mapped[dt.date] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    delivery_key: Mapped[str | None] = mapped_column(String(255))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="open")
    snoozed_until: Mapped[dt.date | None] = mapped_column(Date)
    acted_by: Mapped[str | None] = mapped_column(String(32))
    acted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # naive UTC
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("subscription_id", "account_id", "rule_id", "episode_start",
                         name="uq_risk_alerts_episode"),
        CheckConstraint("state IN ('open', 'acknowledged', 'snoozed', 'dismissed')", name="state"),
        Index("ix_risk_alerts_open", "subscription_id", "closed_on", "account_id"),
        Index("ix_risk_alerts_delivery", "delivery_key"),
    )


class ProcessedEvent(Base):
    """A Slack event already taken on (by `event_id`): Slack retries events, each is answered once."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(32))
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC

    __table_args__ = (Index("ix_processed_events_seen", "seen_at"),)


# Bolt's OAuth flow keeps installations and OAuth states in csbot's own database through slack_sdk's
# SQLAlchemy stores; their tables are declared by slack_sdk and registered here so the schema is complete.
INSTALLATIONS_TABLE = SQLAlchemyInstallationStore.build_installations_table(Base.metadata, "slack_installations")
BOTS_TABLE = SQLAlchemyInstallationStore.build_bots_table(Base.metadata, "slack_bots")
OAUTH_STATES_TABLE = SQLAlchemyOAuthStateStore.build_oauth_states_table(Base.metadata, "slack_oauth_states")


DATA_TABLES = (Account, Revenue, Invoice, Survey, Ticket, UsageEvent, Cost)


class SourceRow(Base):
    """Which source wrote which keyed row (storage/provenance.py): a sync may remove only its own rows.

    `row_key` is the row's natural key, its parts joined by U+001F (see provenance.row_key).
    """

    __tablename__ = "source_rows"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(32), primary_key=True)
    row_key: Mapped[str] = mapped_column(String(512), primary_key=True)


class TableLoad(Base):
    """The last successful load of each data-contract table by each source (`import` or a source name).

    What freshness (`data_as_of`, `stale`) is computed from; one row per (table, source), updated in the
    same transaction as the rows it describes.
    """

    __tablename__ = "table_loads"

    table_name: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
    rows: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)  # e.g. the imported file or the sync id


ROLLUP_TABLES = (UsageDay, UsageFeatureDay, UsageUserMonth, UsageFeatureUserMonth, UsagePeriod)


class HealthSnapshot(Base):
    """One account's health on one day, as csbot scored it: written once (never updated) per (day, account).

    `source` = 'daily' (the scheduler, scoring that day as it stood) or 'backfill' (`csbot health-backfill`,
    scoring a past day point in time: renewal dates left out). `rules` = the fired risk rule ids, comma-separated.
    """

    __tablename__ = "health_snapshots"

    snapshot_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str | None] = mapped_column(String(8))
    engagement: Mapped[float | None] = mapped_column(Float)
    sentiment: Mapped[float | None] = mapped_column(Float)
    support: Mapped[float | None] = mapped_column(Float)
    revenue: Mapped[float | None] = mapped_column(Float)
    lifecycle: Mapped[float | None] = mapped_column(Float)
    rules: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC

    __table_args__ = (
        CheckConstraint("source IN ('daily', 'backfill')", name="source"),
        CheckConstraint("band IS NULL OR band IN ('green', 'yellow', 'red')", name="band"),
        Index("ix_health_snapshots_account", "account_id", "snapshot_date"),
    )


class ScheduledCancellation(Base):
    """A Stripe subscription set to cancel (cancel_at_period_end, or a future cancel_at), as of the last sync.

    Written only by the Stripe sync (storage/stripe_sync), which keeps exactly the live ones; read by the
    `cancellation_scheduled` churn-risk rule. `mrr` is the subscription's MRR at stake (reporting currency).
    """

    __tablename__ = "scheduled_cancellations"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128), ForeignKey("accounts.account_id", ondelete="CASCADE"))
    cancel_on: Mapped[dt.date] = mapped_column(Date)
    mrr: Mapped[Decimal] = mapped_column(Money)

    __table_args__ = (Index("ix_scheduled_cancellations_account", "account_id", "cancel_on"),)


class SourceRun(Base):
    """One sync of one source (`csbot sync` or the scheduler): when it started, how it ended.

    `run_key` ("sync:{source}:{scheduled UTC time}") makes a scheduled run happen once however many
    replicas fire it; manual runs have none. The start of the last 'ok' run is the `:since` high-water mark.
    """

    __tablename__ = "source_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    run_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    state: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # naive UTC
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    rows: Mapped[int | None] = mapped_column(Integer)
    report: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("state IN ('running', 'ok', 'failed')", name="state"),
        Index("ix_source_runs_source", "source", "state", "started_at"),
    )


class SlackUserByEmail(Base):
    """The cache of Slack's users.lookupByEmail: an owner e-mail (lower case) and the user it names (or none)."""

    __tablename__ = "slack_users_by_email"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    slack_user_id: Mapped[str | None] = mapped_column(String(64))
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
