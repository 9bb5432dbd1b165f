"""What a CS lead sees: small samples marked (a KPI setting), scores as precise as their band, weights that
add up, month-based KPIs in a weekly digest, money deltas with their currency."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from bot.render.blocks import answer_blocks
from bot.render.digest_blocks import kpi_line
from bot.render.formats import format_delta, format_score, percent_shares
from bot.render.terminal import render
from kpi_core.answers import HealthAnswer, KpiAnswer
from kpi_core.config import ConfigError, KpiConfig, load_config
from kpi_core.engine import query
from kpi_core.periods import parse_period
from kpi_core.types import KpiRequest, Scope
from tests.kpi_helpers import UTC_CONFIG, account, load, survey
from tests.test_render_blocks import account_health, check_slack_json, joined, kpi_result

TODAY = dt.date(2026, 11, 22)


@pytest.fixture
def three_responses(store):
    load(store, accounts=[account("a1", customer="2025-01-01"), account("a2", customer="2025-01-01"),
                          account("a3", customer="2025-01-01")],
         surveys=[survey("r1", "a1", "nps", 10, "2026-10-05T10:00:00"),
                  survey("r2", "a2", "nps", 10, "2026-10-06T10:00:00"),
                  survey("r3", "a3", "nps", 2, "2026-10-07T10:00:00"),
                  *[survey(f"p{i}", "a1", "nps", 0, "2026-09-10T10:00:00") for i in range(12)]])
    return store


def test_small_sample_is_marked_and_gets_no_colour(three_responses):
    r = query(three_responses, KpiRequest("nps", parse_period("2026-10", TODAY)), UTC_CONFIG)
    # October: 2 promoters, 1 detractor of 3 -> 33.3; September: 12 detractors -> -100
    assert (r.value, r.sample, r.previous.sample, r.min_sample) == (33.3333, 3, 12, 10)
    assert r.too_few
    text, mood = format_delta(r)
    assert (text, mood) == ("+133.3 (n=3, too few to compare)", "dim")
    shown = joined(check_slack_json(answer_blocks(KpiAnswer("/nps", r))))
    assert "(n=3, too few to compare)" in shown
    assert ":large_green_circle:" not in shown and ":red_circle:" not in shown


def test_threshold_is_a_kpi_setting(three_responses, tmp_path):
    never = dataclasses.replace(UTC_CONFIG, min_sample=0)
    r = query(three_responses, KpiRequest("nps", parse_period("2026-10", TODAY)), never)
    assert not r.too_few and format_delta(r) == ("▲ +133.3", "green")
    three = dataclasses.replace(UTC_CONFIG, min_sample=3)
    assert not query(three_responses, KpiRequest("nps", parse_period("2026-10", TODAY)), three).too_few
    custom = tmp_path / "kpi.yml"
    custom.write_text("min_sample: 25\n")
    assert load_config(custom).min_sample == 25
    assert load_config().min_sample == 10
    custom.write_text("min_sample: -1\n")
    with pytest.raises(ConfigError, match="min_sample"):
        load_config(custom)


def test_counts_and_sums_are_never_too_few(three_responses):
    r = query(three_responses, KpiRequest("customers", parse_period("2026-10", TODAY)), UTC_CONFIG)
    assert (r.value, r.min_sample, r.too_few) == (3.0, 0, False)


def test_score_is_shown_as_precisely_as_its_band():
    assert [format_score(s) for s in (70.0, 69.9, 40.0, 39.95, None)] == ["70", "69.9", "40", "40", "–"]
    h = account_health(score=69.9, band="yellow")
    shown = joined(check_slack_json(answer_blocks(HealthAnswer("/health", h))))
    assert "*69.9/100*" in shown and "70/100" not in shown


def test_shown_weights_add_up_to_100():
    # engagement 0.3, sentiment 0.2, support 0.15, lifecycle 0.15 re-weighted over 0.8 (revenue missing):
    # 37.5, 25, 18.75, 18.75: floors 37 + 25 + 18 + 18 = 98; the two largest remainders (.75, .75) get the 2
    assert percent_shares([0.375, 0.25, 0.1875, 0.0, 0.1875]) == [37, 25, 19, 0, 19]
    assert sum(percent_shares([1 / 3, 1 / 3, 1 / 3])) == 100
    assert percent_shares([0.0, 0.0]) == [0, 0]
    shown = joined(check_slack_json(answer_blocks(HealthAnswer("/health", account_health()))))
    # the fixture's weights 0.3125, 0.25, 0.25, 0, 0.1875 -> 31.25, 25, 25, 0, 18.75 -> 31, 25, 25, 0, 19
    for part in ("(weight 31%)", "(weight 25%)", "(weight 0%)", "(weight 19%)"):
        assert part in shown
    assert render(HealthAnswer("/health", account_health())) is not None


def test_money_delta_carries_its_currency():
    r = kpi_result(1234.0, 1300.5, unit="money")
    assert format_delta(r) == ("▼ -$66.50", "red")


def test_month_based_kpi_line_in_a_weekly_digest_says_its_month():
    week = parse_period("2026-11-16..2026-11-22", TODAY)
    month = parse_period("2026-10", TODAY)
    r = dataclasses.replace(kpi_result(105.0, 100.0, unit="%"), kpi="nrr", name="Net revenue retention",
                            period=month, previous=dataclasses.replace(kpi_result().previous,
                                                                       period=month.previous()))
    assert kpi_line(r, week).endswith(" · _October 2026 vs September 2026 (month-based)_")
    assert kpi_line(r, month) == kpi_line(r)  # over the digest's own period: nothing added


def test_config_default_matches_dataclass_default():
    assert KpiConfig().min_sample == load_config().min_sample
    assert Scope().is_empty


def test_today_follows_csbot_now_in_the_reporting_time_zone(monkeypatch):
    from kpi_core import clock

    monkeypatch.delenv("CSBOT_AS_OF", raising=False)
    monkeypatch.setenv("CSBOT_NOW", "2026-01-05T23:30:00Z")
    assert clock.today(KpiConfig("UTC")) == dt.date(2026, 1, 5)
    assert clock.today(KpiConfig("Europe/Berlin")) == dt.date(2026, 1, 6)  # 00:30 in Berlin
    monkeypatch.setenv("CSBOT_AS_OF", "2026-02-01")
    assert clock.today(KpiConfig("UTC")) == dt.date(2026, 2, 1)  # CSBOT_AS_OF still wins


def test_no_token_unused_warning_at_start(monkeypatch, caplog):
    import logging

    from bot.app import build_app
    from bot.services import Services
    from bot.settings import load_slack_settings
    from storage.db import make_engine
    from tests.slack_wire import FakeSlackApi

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1234-5678-secrettokenvalue")  # Bolt reads it too
    engine = make_engine("sqlite://")
    with FakeSlackApi() as api, caplog.at_level(logging.WARNING):
        settings = load_slack_settings({"SLACK_BOT_TOKEN": "xoxb-1234-5678-secrettokenvalue",
                                        "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
                                        "CSBOT_SLACK_API_URL": api.base_url})
        build_app(settings, Services.create(engine, UTC_CONFIG))
    engine.dispose()
    assert caplog.records is not None and "will be unused" not in caplog.text


def test_small_defects_in_help_and_terminal():
    from rich.console import Console

    from bot.render.terminal import plain_mentions
    from kpi_core.commands import help_text

    for text in (help_text(), help_text("/nps")):
        assert text.count("Accepted periods") == 1 and "\nPeriods:" not in text
    assert plain_mentions("owner <@U0ANA>, <@W0BOB|bob>") == "owner @U0ANA, @bob"
    console = Console(record=True, width=200)
    console.print(render(KpiAnswer("/nps", kpi_result(scope=Scope(owner="U0ANA")))))
    console.print(render(HealthAnswer("/health", account_health())))
    shown = console.export_text()
    assert "<@" not in shown and "@U0ANA" in shown and "Owner @U0OWNER" in shown


def test_drivers_show_their_component_score():
    from bot.render.formats import driver_lines

    h = dataclasses.replace(account_health(), drivers=("engagement: usage up 5% vs the previous 30 days",))
    # the component costs points by its level (30/100) even though usage rose
    assert driver_lines(h) == ["engagement 30/100: usage up 5% vs the previous 30 days"]


def test_group_changes_carry_units_and_small_sample_marks():
    from bot.render.formats import group_change

    assert group_change(2635.81, 207845.73, 74, "money", 0) == "+$2,635.81 (was $207,845.73)"
    assert group_change(-2.5, 40.0, 30, "%", 10) == "-2.5 pts (was 40.0%)"
    assert group_change(5.0, 10.0, 3, "score", 10) == "(n=3, too few to compare)"
    assert group_change(None, None, 30, "score", 10) == "no comparison"
