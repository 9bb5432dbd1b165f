"""A workspace leaving: on `app_uninstalled` or a revoked bot token, purge what csbot keeps about it."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.listeners.replies import team_of
from bot.services import Services
from storage.personal import purge_team

audit = logging.getLogger("csbot.audit")


def purge(services: Services, team_id: str, why: str) -> None:
    """Delete the workspace's installations, subscriptions (with deliveries in flight and alert episodes),
    personal settings and event ledger; the KPI data stays. One audit line says what went."""
    done = purge_team(services.engine, team_id)
    audit.warning("audit: workspace %s %s: purged %d installation(s), %d bot token(s), %d subscription(s) with "
                  "their deliveries and alerts, %d processed event(s); KPI data kept", team_id or "(unknown)", why,
                  done.installations, done.bots, done.subscriptions, done.events)


def register(app: App, services: Services) -> None:
    def uninstalled(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        purge(services, team_of(body), "uninstalled csbot")

    def revoked(ack: Ack, body: dict[str, Any], event: dict[str, Any]) -> None:
        ack()
        tokens = event.get("tokens") or {}
        if tokens.get("bot"):
            purge(services, team_of(body), "revoked csbot's bot token")
        else:
            audit.warning("audit: workspace %s revoked user tokens %s; csbot keeps none, nothing purged",
                          team_of(body), ",".join(tokens.get("oauth") or []))

    app.event("app_uninstalled")(uninstalled)
    app.event("tokens_revoked")(revoked)
