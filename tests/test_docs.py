"""The README's generated tables match the code, and every setting is documented."""

from bot.docs import README, render
from bot.settings import SETTINGS
from kpi_core.catalog import catalog


def test_readme_generated_sections_are_current():
    text = README.read_text()
    assert render(text) == text, "README tables are stale: run `.venv/bin/python -m bot.docs`"


def test_every_setting_and_kpi_is_in_the_readme():
    text = README.read_text()
    for s in SETTINGS:
        assert f"`{s.env}`" in text
    for k in catalog().all():
        assert f"| `{k.id}` |" in text and k.formula in text


def test_catalog_is_complete_and_valid():
    ids = {k.id for k in catalog().all()}
    assert ids == {
        "nps", "csat", "csi", "ces", "retention", "churn", "customers", "new_customers", "mrr", "nrr", "grr",
        "expansion", "arpa", "cac", "retention_cost", "clv", "ttv", "trial_conversion", "referrals", "adoption",
        "stickiness", "time_on_platform", "fcr", "resolution_time", "repeat_purchase", "purchase_frequency",
        "health", "mrr_movements",
    }
