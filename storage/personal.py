"""A person's own csbot state: their personal alert subscription, the subscriptions they manage, the
processed-event ledger, and the purge of a workspace that uninstalled csbot. The only module touching
`processed_events`; subscriptions are read here for one person, written through storage.subscriptions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from storage.models import (
    BOTS_TABLE,
    INSTALLATIONS_TABLE,
    Delivery,
    ProcessedEvent,
    RiskAlert,
    Subscription,
)
from storage.subscriptions import AlertRow, SubscriptionRow, _alert_row, _naive, _sub_row


def personal_subscription(engine: Engine, team_id: str, user_id: str) -> SubscriptionRow | None:
    """The user's personal risk subscription (active or not), or None."""
    with engine.connect() as conn:
        row = conn.execute(select(Subscription).where(
            Subscription.team_id == team_id, Subscription.owner_id == user_id, Subscription.kind == "risk",
        ).order_by(Subscription.active.desc(), Subscription.id)).first()
        return _sub_row(row) if row else None


def managed_subscriptions(engine: Engine, team_id: str, user_id: str) -> list[SubscriptionRow]:
    """Active channel subscriptions the user set up (not their personal one), by channel."""
    with engine.connect() as conn:
        return [_sub_row(r) for r in conn.execute(select(Subscription).where(
            Subscription.team_id == team_id, Subscription.created_by == user_id, Subscription.owner_id.is_(None),
            Subscription.active.is_(True)).order_by(Subscription.channel_id, Subscription.kind))]


def open_alerts(engine: Engine, team_id: str, account_ids: list[str], viewer: str | None = None,
                ) -> dict[str, list[AlertRow]]:
    """Per account, the open (not dismissed) alert episodes that were warned about, of one subscription:
    the viewer's personal one when it has any, else the oldest subscription of the team. Primary row first."""
    if not account_ids:
        return {}
    query = (select(RiskAlert, Subscription.owner_id.label("sub_owner"))
             .join(Subscription, Subscription.id == RiskAlert.subscription_id)
             .where(Subscription.team_id == team_id, RiskAlert.closed_on.is_(None),
                    RiskAlert.state != "dismissed", RiskAlert.delivery_key.is_not(None),
                    RiskAlert.account_id.in_(account_ids))
             .order_by(RiskAlert.subscription_id, RiskAlert.id))
    grouped: dict[str, dict[int, list[AlertRow]]] = {}
    personal_sub: dict[str, int] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            alert = _alert_row(row)
            grouped.setdefault(alert.account_id, {}).setdefault(alert.subscription_id, []).append(alert)
            if viewer is not None and row.sub_owner == viewer:
                personal_sub[alert.account_id] = alert.subscription_id
    out: dict[str, list[AlertRow]] = {}
    for account, by_sub in grouped.items():
        chosen = personal_sub.get(account, min(by_sub))
        out[account] = by_sub[chosen]
    return out


def first_time_event(engine: Engine, event_id: str, team_id: str | None, now: dt.datetime) -> bool:
    """Record `event_id` as taken on; False when it was already (a retried delivery of the same event)."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(ProcessedEvent).values(event_id=event_id, team_id=team_id, seen_at=_naive(now)))
        return True
    except IntegrityError:
        return False


def forget_events_before(engine: Engine, before: dt.datetime) -> int:
    """Drop ledger entries older than `before` (Slack stops retrying after minutes)."""
    with engine.begin() as conn:
        return conn.execute(delete(ProcessedEvent).where(ProcessedEvent.seen_at < _naive(before))).rowcount


@dataclass(frozen=True)
class Purged:
    installations: int
    bots: int
    subscriptions: int  # channel and personal subscriptions, with their deliveries and alert episodes
    events: int


def purge_team(engine: Engine, team_id: str) -> Purged:
    """Remove everything csbot keeps about a Slack workspace that uninstalled it, in one transaction:
    installations and bot tokens, subscriptions (deliveries in flight and alert episodes go with them) and
    personal settings. The team's KPI data stays: it belongs to the deployment, not to the workspace."""
    with engine.begin() as conn:
        installs = conn.execute(delete(INSTALLATIONS_TABLE).where(INSTALLATIONS_TABLE.c.team_id == team_id)).rowcount
        bots = conn.execute(delete(BOTS_TABLE).where(BOTS_TABLE.c.team_id == team_id)).rowcount
        ids = select(Subscription.id).where(Subscription.team_id == team_id)
        conn.execute(delete(RiskAlert).where(RiskAlert.subscription_id.in_(ids)))
        conn.execute(delete(Delivery).where(Delivery.subscription_id.in_(ids)))
        subscriptions = conn.execute(delete(Subscription).where(Subscription.team_id == team_id)).rowcount
        events = conn.execute(delete(ProcessedEvent).where(ProcessedEvent.team_id == team_id)).rowcount
    return Purged(installs, bots, subscriptions, events)
