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

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
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


DATA_TABLES = (Account, Revenue, Invoice, Survey, Ticket, UsageEvent, Cost)
