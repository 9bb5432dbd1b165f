"""Resolve account owners' e-mails to Slack users with users.lookupByEmail (scope users:read.email)."""

from __future__ import annotations

import datetime as dt
import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from storage.owner_emails import apply_owner_emails, emails_to_look_up, record_lookups, unresolved_emails

__all__ = ["resolve_owners"]

log = logging.getLogger("csbot.owners")


def resolve_owners(engine: Engine, client: WebClient, now: dt.datetime) -> list[str]:
    """Look up every owner e-mail not resolved yet, update the accounts' owners, and return report lines:
    the e-mails that match nobody (and any lookup Slack refused)."""
    with engine.connect() as conn:
        pending = emails_to_look_up(conn)
    found: dict[str, str | None] = {}
    notes: list[str] = []
    for email in pending:
        try:
            found[email] = client.users_lookupByEmail(email=email)["user"]["id"]
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else str(exc)
            if error == "users_not_found":
                found[email] = None
            else:
                log.warning("users.lookupByEmail failed for an owner e-mail: %s", error)
                notes.append(f"owner e-mails: Slack refused users.lookupByEmail ({error}); tried again next sync")
                break
    with engine.begin() as conn:
        record_lookups(conn, found, now)
        changed = apply_owner_emails(conn)
        unmatched = unresolved_emails(conn)
    if changed:
        notes.insert(0, f"owners: {changed} account(s) got their owner from an e-mail")
    for email, accounts in unmatched:
        notes.append(f"unresolved owner e-mail: {email} ({accounts} account{'s' if accounts != 1 else ''}) "
                     "matches no Slack user")
    return notes
