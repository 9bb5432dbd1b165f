"""Every example of commands.md through the `csbot ask --json` path (parse -> kpi_core -> JSON), on SQLite and
Postgres: the keys other programs rely on are there, and the values are the engine's."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.render.json_out import answer_to_json
from kpi_core.answers import ask
from kpi_core.periods import PeriodError
from kpi_core.types import UserError
from tests.kpi_helpers import UTC_CONFIG, account, load, revenue, survey, usage

TODAY = dt.date(2026, 11, 22)
KPI_KEYS = {"command", "kpi", "value", "unit", "period", "previous", "delta", "scope", "breakdown"}


@pytest.fixture
def data(store):
    load(store,
         accounts=[account("acme", name="Acme Corp", segment="enterprise", owner_slack_id="U0CSM0001",
                           customer="2025-02-01", renewal_date="2026-12-20"),
                   account("globex", name="Globex Corporation", segment="smb", customer="2025-03-01")],
         surveys=[survey("1", "acme", "nps", 10, "2026-08-01T10:00:00"),
                  survey("2", "globex", "nps", 2, "2026-11-10T10:00:00")],
         revenue=[revenue("acme", "2026-09", 1000), revenue("acme", "2026-10", 1200)],
         usage=[usage("acme", "u1", "2026-11-01T10:00:00", "reports", 60)])
    return store


def run(store, text: str) -> dict:
    out = answer_to_json(ask(store, text, TODAY, UTC_CONFIG))
    json.dumps(out)  # what `csbot ask --json` prints must serialise
    return out


@pytest.mark.parametrize("text", [
    "/nps last-quarter", "/nps last quarter", "/csat last-30d", "/churn this-year", "/nrr 2026-Q3", "/mrr 2026-10",
    "/kpi nps Q3 2026", "/kpi mrr October 2026 acme", "/kpi adoption last 30 days feature:reports",
    "/kpi nps 2026-01-15..2026-02-14", "/kpi csat segment:enterprise", "/kpi churn owner:@U0CSM0001",
    "/kpi arpu 2026", "/kpi retention ytd", "/kpi nps last-week", "/kpi nps yesterday", "/kpi nps today",
    "/kpi nps this-month", "/kpi nps last-month", "/kpi nps this-quarter", "/kpi nps last-year", "/kpi nps last-90d",
])
def test_kpi_examples_have_the_documented_shape(data, text):
    out = run(data, text)
    assert set(out) >= KPI_KEYS
    assert set(out["period"]) == {"label", "start", "end"} and set(out["previous"]) == {"value", "start", "end"}
    assert out["command"] == text.split()[0]


def test_values_are_the_engines(data):
    # NPS in Q3 2026: one promoter (acme, 10) of one response: 100
    out = run(data, "/nps last-quarter")
    assert (out["value"], out["period"]["start"], out["period"]["end"]) == (100.0, "2026-07-01", "2026-09-30")
    assert out["breakdown"] == {"promoters": 1, "passives": 0, "detractors": 0}
    mrr = run(data, "/mrr 2026-10 acme")  # October 1,200 vs September 1,000
    assert (mrr["value"], mrr["previous"]["value"], mrr["delta"]) == (1200.0, 1000.0, 200.0)
    assert mrr["scope"] == {"account": {"id": "acme", "name": "Acme Corp"}}
    assert run(data, "/csat last-30d")["value"] is None


def test_health_atrisk_and_catalog_examples(data):
    health = run(data, "/health acme")
    assert {"band", "components", "account"} <= set(health) and health["account"]["id"] == "acme"
    assert {"value", "breakdown"} <= set(run(data, "/health"))
    risk = run(data, "/atrisk")
    rules = {a["id"]: a["rules"] for a in risk["accounts"]}
    assert "detractor" in rules["globex"]  # its NPS of 2, 12 days ago
    assert "renewal_not_green" in rules["acme"]  # renews 2026-12-20 (in 28 days) without a green score
    assert all(set(a) >= {"id", "name", "owner", "rules"} for a in risk["accounts"])
    assert len(run(data, "/kpi list")["kpis"]) == 28  # 26 KPIs + health + mrr_movements
    assert run(data, "/kpi help nrr")["kpis"][0]["id"] == "nrr"


@pytest.mark.parametrize("text", ["/nps 2026-13", "/kpi nope", "/nps nobody-at-all", "/nps 2030", "/kpi"])
def test_user_errors(data, text):
    with pytest.raises((UserError, PeriodError)):
        run(data, text)
