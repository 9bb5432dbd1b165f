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
from storage.sync_report import SyncReport


def sync_from_settings(engine: Engine, config: KpiConfig, *, dry_run: bool = False,
                       env: Mapping[str, str] | None = None, source: str = "stripe") -> SyncReport:
    """One Stripe sync at CSBOT_NOW (else now); SettingsError or SyncError when it cannot run."""
    settings = stripe_settings(env)
    return sync_stripe(engine, api_key=settings.api_key, api_base=settings.api_base, now=clock.utcnow(),
                       currency=config.currency, currency_rates=config.currency_rates, dry_run=dry_run,
                       source=source)
