"""Owners by e-mail: accounts whose `owner_email` is set get `owner_slack_id` from Slack's users.lookupByEmail.

The answers are cached in `slack_users_by_email` (lower-case e-mail -> user id, or none when Slack knows
nobody by it). Resolved e-mails stay cached; unknown ones are asked again on every sync. The Slack call
itself is the bot's (bot/owner_lookup.py); this module only reads and writes the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import Connection, func, select, update

from storage.models import Account, SlackUserByEmail

__all__ = ["apply_owner_emails", "emails_to_look_up", "record_lookups", "unresolved_emails"]


def emails_to_look_up(conn: Connection) -> list[str]:
    """Owner e-mails of accounts that are not cached yet or matched nobody last time."""
    resolved = select(SlackUserByEmail.email).where(SlackUserByEmail.slack_user_id.is_not(None))
    stmt = (select(func.lower(Account.owner_email)).where(Account.owner_email.is_not(None))
            .where(func.lower(Account.owner_email).not_in(resolved)).distinct())
    return sorted(conn.scalars(stmt))


def record_lookups(conn: Connection, found: Mapping[str, str | None], now: dt.datetime) -> None:
    """Cache the answers of users.lookupByEmail (None: Slack knows nobody by that e-mail)."""
    now = now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now
    for email, user_id in found.items():
        email = email.lower()
        done = conn.execute(update(SlackUserByEmail).where(SlackUserByEmail.email == email)
                            .values(slack_user_id=user_id, checked_at=now))
        if not done.rowcount:
            conn.execute(SlackUserByEmail.__table__.insert().values(email=email, slack_user_id=user_id,
                                                                     checked_at=now))


def apply_owner_emails(conn: Connection) -> int:
    """Set `owner_slack_id` of every account whose owner e-mail is resolved; returns the accounts changed."""
    resolved = (select(SlackUserByEmail.slack_user_id)
                .where(SlackUserByEmail.email == func.lower(Account.owner_email))
                .where(SlackUserByEmail.slack_user_id.is_not(None)).scalar_subquery())
    stmt = (update(Account).where(Account.owner_email.is_not(None)).where(resolved.is_not(None))
            .where(func.coalesce(Account.owner_slack_id, "") != resolved).values(owner_slack_id=resolved))
    return conn.execute(stmt).rowcount or 0


def unresolved_emails(conn: Connection) -> list[tuple[str, int]]:
    """Owner e-mails that match no Slack user (yet), with how many accounts carry each."""
    resolved = select(SlackUserByEmail.email).where(SlackUserByEmail.slack_user_id.is_not(None))
    email = func.lower(Account.owner_email)
    stmt = (select(email, func.count()).where(Account.owner_email.is_not(None))
            .where(email.not_in(resolved)).group_by(email).order_by(email))
    return [(e, n) for e, n in conn.execute(stmt)]
