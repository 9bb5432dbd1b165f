"""Running the Stripe sync from csbot's settings (STRIPE_API_KEY, CSBOT_STRIPE_API_BASE, the KPI settings file).

Used by `csbot sync stripe` and by the `/stripe/webhook` endpoint; the general `csbot sync` of the sources
file (kind `stripe`) calls `storage.stripe_sync.sync_stripe` the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine

from bot.settings import stripe_settings
from kpi_core import clock
from kpi_core.config import KpiConfig
from storage.stripe_sync import sync_stripe
from storage.stripe_sync.fetch import customer_account, make_client
from storage.sync_report import SyncReport


def sync_from_settings(engine: Engine, config: KpiConfig, *, dry_run: bool = False,
                       env: Mapping[str, str] | None = None, source: str = "stripe",
                       customer: str | None = None) -> SyncReport:
    """One Stripe sync (of one customer's account, when given) at CSBOT_NOW, else now; SettingsError or SyncError
    when it cannot run."""
    settings = stripe_settings(env)
    return sync_stripe(engine, api_key=settings.api_key, api_base=settings.api_base, now=clock.utcnow(),
                       currency=config.currency, currency_rates=config.currency_rates, dry_run=dry_run,
                       source=source, customer=customer)


def account_of(customer: str, env: Mapping[str, str] | None = None) -> str:
    """The csbot account id of a Stripe customer (asks Stripe for its metadata.account_id)."""
    settings = stripe_settings(env)
    return customer_account(make_client(settings.api_key, settings.api_base), customer)
