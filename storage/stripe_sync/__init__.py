"""Stripe as a source (shared/spec/stripe.md): `sync_stripe` reads Stripe and writes accounts, revenue, invoices.

    report = sync_stripe(engine, api_key=key, api_base=None, now=now, currency="usd", currency_rates={})
"""

from storage.stripe_sync.sync import sync_stripe

__all__ = ["sync_stripe"]
