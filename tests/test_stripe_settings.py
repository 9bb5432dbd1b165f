"""Stripe settings (environment) and the currency settings of the KPI settings file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.settings import SettingsError, stripe_settings
from kpi_core.config import ConfigError, load_config


def test_defaults_are_usd_without_rates() -> None:
    config = load_config()
    assert (config.currency, config.currency_rates) == ("usd", {})


def test_currency_and_rates_are_read_case_insensitively(tmp_path: Path) -> None:
    path = tmp_path / "kpi.yml"
    path.write_text("currency: EUR\ncurrency_rates: {USD: 0.92, jpy: '0.0062'}\n")
    config = load_config(path)
    assert config.currency == "eur"
    assert config.currency_rates == {"usd": Decimal("0.92"), "jpy": Decimal("0.0062")}


def test_bad_currency_settings_list_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "kpi.yml"
    path.write_text("currency: dollars\ncurrency_rates: {eur: -1, gbp: abc, euro: 1.1}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert "currency: 'dollars' is not a 3-letter ISO currency code" in text
    assert "currency_rates.eur: -1 must be a number above 0" in text
    assert "currency_rates.gbp: 'abc' is not a number" in text
    assert "currency_rates.euro: not a 3-letter ISO currency code" in text


def test_stripe_settings() -> None:
    with pytest.raises(SettingsError, match="^STRIPE_API_KEY is not set"):
        stripe_settings({})
    with pytest.raises(SettingsError, match="^STRIPE_API_KEY is malformed"):
        stripe_settings({"STRIPE_API_KEY": "pk_live_publishable"})
    with pytest.raises(SettingsError, match="^CSBOT_STRIPE_API_BASE is malformed"):
        stripe_settings({"STRIPE_API_KEY": "rk_test_abc", "CSBOT_STRIPE_API_BASE": "localhost:1234"})
    s = stripe_settings({"STRIPE_API_KEY": "rk_test_abc", "CSBOT_STRIPE_API_BASE": "http://127.0.0.1:9/"})
    assert (s.api_key, s.api_base) == ("rk_test_abc", "http://127.0.0.1:9")
    assert "rk_test_abc" not in repr(s)
    assert stripe_settings({"STRIPE_API_KEY": "sk_live_x"}).api_base == "https://api.stripe.com"
