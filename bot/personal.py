"""A person's own view: the `mine` scope word and personal churn-risk DMs (`/atrisk subscribe me`)."""

from __future__ import annotations

import re

from slack_sdk import WebClient

from bot.services import Services
from kpi_core import clock
from kpi_core.types import UserError
from storage import personal
from storage import subscriptions as subs

RISK_SCAN_TIME = "08:00"
_MINE = re.compile(r"(?<![\w:@<\"'])mine(?![\w>\"'])", re.IGNORECASE)  # "mine" in quotes is an account
ME_WORDS = {"me", "mine", "myself"}


def expand_mine(text: str, user_id: str | None) -> str:
    """`mine` -> `owner:<@USER>` (the caller's own accounts); without a user it is an error."""
    if not _MINE.search(text):
        return text
    if not user_id:
        raise UserError("`mine` means the accounts you own, so it works in Slack only; use `owner:@user` here.")
    return _MINE.sub(f"owner:<@{user_id}>", text)


def is_personal(args: list[str]) -> bool:
    """`/atrisk subscribe me` (and `unsubscribe me`)."""
    return len(args) == 1 and args[0].lower() in ME_WORDS


def user_time_zone(client: WebClient, user_id: str) -> str:
    try:
        return client.users_info(user=user_id)["user"].get("tz") or "UTC"
    except Exception:  # noqa: BLE001 - a missing scope or user: UTC is a sound default
        return "UTC"


def dm_channel(client: WebClient, user_id: str) -> str:
    """The id of the DM between csbot and the user (opened when needed)."""
    return client.conversations_open(users=user_id)["channel"]["id"]


def subscribe_me(services: Services, client: WebClient, team_id: str, user_id: str) -> subs.SubscriptionRow:
    """Warnings about the accounts the user owns, by DM, scanned daily at 08:00 in their time zone."""
    return subs.subscribe(services.engine, team_id=team_id, channel_id=dm_channel(client, user_id), kind="risk",
                          at_time=RISK_SCAN_TIME, timezone=user_time_zone(client, user_id), now=clock.utcnow(),
                          created_by=user_id, owner_id=user_id)


def unsubscribe_me(services: Services, team_id: str, user_id: str) -> bool:
    sub = personal.personal_subscription(services.engine, team_id, user_id)
    if sub is None or not sub.active:
        return False
    return subs.unsubscribe(services.engine, team_id=team_id, channel_id=sub.channel_id, kind="risk")


def subscribed_text(sub: subs.SubscriptionRow) -> str:
    return (f":white_check_mark: You will get churn-risk warnings about the accounts you own as direct messages, "
            f"scanned daily at {sub.at_time} {sub.timezone}: the same rules and buttons as channel warnings. "
            "`/atrisk unsubscribe me` stops them.")
