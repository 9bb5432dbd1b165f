"""What the Stripe webhook needs to read back after a sync: an account's name and owner, a scheduled cancellation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, select

from storage.models import Account, ScheduledCancellation


@dataclass(frozen=True)
class AccountBrief:
    id: str
    name: str
    owner: str | None


@dataclass(frozen=True)
class Cancellation:
    account_id: str
    cancel_on: dt.date
    mrr: Decimal


def account_brief(engine: Engine, account_id: str) -> AccountBrief | None:
    with engine.connect() as conn:
        row = conn.execute(select(Account.account_id, Account.name, Account.owner_slack_id)
                           .where(Account.account_id == account_id)).first()
    return AccountBrief(row[0], row[1], row[2]) if row else None


def scheduled_cancellation(engine: Engine, subscription_id: str, source: str = "stripe") -> Cancellation | None:
    with engine.connect() as conn:
        row = conn.execute(select(ScheduledCancellation.account_id, ScheduledCancellation.cancel_on,
                                  ScheduledCancellation.mrr).where(
            ScheduledCancellation.source == source,
            ScheduledCancellation.subscription_id == subscription_id)).first()
    return Cancellation(row[0], row[1], Decimal(str(row[2]))) if row else None
