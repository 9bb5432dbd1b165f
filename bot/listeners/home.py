"""The App Home tab: published on `app_home_opened`, after paging, after the personal-alerts switch and after
any action on one of the viewer's alerts. Ack at once; compute and `views.publish` after."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.listeners.replies import team_of
from bot.personal import subscribe_me, unsubscribe_me
from bot.render.home_blocks import (
    PAGE_NEXT_ACTION,
    PAGE_PREV_ACTION,
    PERSONAL_ALERTS_ACTION,
    HomeModel,
    home_view,
)
from bot.services import Services
from bot.sources import freshness_policy
from bot.workers import deferred
from kpi_core import clock
from kpi_core.book import book_of_business, team_view
from kpi_core.freshness import freshness, kpi_tables
from storage import personal

log = logging.getLogger("csbot.home")


def home_model(services: Services, client: WebClient, team_id: str, user_id: str, page: int = 1) -> HomeModel:
    """What the viewer's Home shows now (their book, open alerts, team view for leads, settings)."""
    today = services.today()
    lead = services.access.is_lead(client, team_id, user_id)
    with services.engine.connect() as conn:
        book = book_of_business(conn, user_id, today, services.kpi_config)
        team = team_view(conn, today, services.kpi_config) if lead else None
        fresh = freshness(conn, kpi_tables(["health"]), clock.utcnow(), freshness_policy())
    alerts = personal.open_alerts(services.engine, team_id, [e.health.account.id for e in book], viewer=user_id)
    return HomeModel(
        user=user_id, as_of=today, book=book, alerts=alerts,
        data_as_of=fresh.data_as_of.replace(tzinfo=dt.UTC) if fresh.data_as_of else None,
        freshness_warnings=tuple(fresh.warnings(services.kpi_config.tz)),
        money=services.access.sees_money(client, team_id, user_id), team=team,
        personal=personal.personal_subscription(services.engine, team_id, user_id),
        managed=personal.managed_subscriptions(services.engine, team_id, user_id), page=page)


def publish_home(services: Services, client: WebClient, team_id: str, user_id: str, page: int = 1) -> None:
    client.views_publish(user_id=user_id, view=home_view(home_model(services, client, team_id, user_id, page)))


def refresh_homes(services: Services, client: WebClient, team_id: str, users: Iterable[str | None]) -> None:
    """Re-publish the Home of each user (after an alert action); a failure is logged, never raised."""
    for user in dict.fromkeys(u for u in users if u):
        try:
            publish_home(services, client, team_id, user)
        except SlackApiError as exc:
            log.warning("could not refresh the Home of %s: %s", user, exc.response.get("error"))


def _page(body: dict[str, Any]) -> int:
    try:
        return max(1, int(body["actions"][0]["value"]))
    except (KeyError, IndexError, ValueError):
        return 1


def register(app: App, services: Services) -> None:
    def opened(body: dict[str, Any], client: WebClient) -> None:
        event = body["event"]
        if event.get("tab", "home") != "home":
            return
        publish_home(services, client, team_of(body), event["user"])

    def paged(body: dict[str, Any], client: WebClient) -> None:
        publish_home(services, client, team_of(body), body["user"]["id"], _page(body))

    def switch_personal_alerts(body: dict[str, Any], client: WebClient) -> None:
        team, user = team_of(body), body["user"]["id"]
        if body["actions"][0]["value"] == "on":
            subscribe_me(services, client, team, user)
        else:
            unsubscribe_me(services, team, user)
        publish_home(services, client, team, user)

    app.event("app_home_opened")(deferred(services.answers, opened))
    app.action(PAGE_PREV_ACTION)(deferred(services.answers, paged))
    app.action(PAGE_NEXT_ACTION)(deferred(services.answers, paged))
    app.action(PERSONAL_ALERTS_ACTION)(deferred(services.answers, switch_personal_alerts))
