"""Command text -> typed command: scope words in any order, account matching, user errors that say what to do."""

import datetime as dt

import pytest

from kpi_core.commands import (
    AtRiskCommand,
    CatalogCommand,
    DigestCommand,
    HealthCommand,
    KpiCommand,
    parse_command,
)
from kpi_core.periods import PeriodError
from kpi_core.types import AmbiguousAccountError, Scope, UnknownAccountError, UnknownKpiError, UserError
from tests.kpi_helpers import account, load, usage

TODAY = dt.date(2026, 11, 22)


@pytest.fixture
def accounts(store):
    load(store, accounts=[
        account("acme", name="Acme Corp", segment="enterprise", owner_slack_id="U0CSM01"),
        account("007", name="Bond Ltd", owner_slack_id="U0ABC123"),
        account("s1", name="Stark Industries"),
        account("s2", name="Stark Logistics"),
        account("pct", name="100% Juice"),
    ], usage=[usage("acme", "u1", "2026-10-05T10:00:00", feature="reports")])
    return store


def parse(store, text):
    with store.connect() as conn:
        return parse_command(conn, text, TODAY)


def test_shortcut_with_period_and_account_in_any_order(accounts):
    for text in ("/nps last-quarter acme", "/nps acme last-quarter", "/nps ACME last quarter"):
        cmd = parse(accounts, text)
        assert isinstance(cmd, KpiCommand)
        assert cmd.command == "/nps"
        assert cmd.request.kpi == "nps"
        assert (cmd.request.period.start, cmd.request.period.end) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
        assert cmd.request.scope.account.id == "acme"


def test_default_period_is_last_30_days(accounts):
    cmd = parse(accounts, "/mrr")
    # the 30 complete days ending yesterday (2026-11-21)
    assert (cmd.request.period.start, cmd.request.period.end) == (dt.date(2026, 10, 23), dt.date(2026, 11, 21))
    assert cmd.request.scope.is_empty


def test_kpi_with_all_scope_words(accounts):
    cmd = parse(accounts, "/kpi adoption feature:reports segment:enterprise owner:<@U0CSM01|jane> 2026-10")
    assert cmd.request.kpi == "adoption"
    assert cmd.request.scope.segment == "enterprise"
    assert cmd.request.scope.owner == "U0CSM01"
    assert cmd.request.scope.feature == "reports"
    assert cmd.request.period.label == "October 2026"


def test_owner_forms(accounts):
    assert parse(accounts, "/churn owner:U0ABC123").request.scope.owner == "U0ABC123"
    assert parse(accounts, "/churn owner:@u0abc123").request.scope.owner == "U0ABC123"
    with pytest.raises(UserError, match="not a Slack user"):
        parse(accounts, "/churn owner:jane")


def test_alias_and_unknown_kpi_suggests(accounts):
    assert parse(accounts, "/kpi arpu").request.kpi == "arpa"
    with pytest.raises(UnknownKpiError) as info:
        parse(accounts, "/kpi nrrr")
    assert "nrr" in info.value.suggestions
    assert "Did you mean nrr" in str(info.value)


def test_catalog_commands(accounts):
    assert parse(accounts, "/kpi list") == CatalogCommand("/kpi")
    assert parse(accounts, "/kpi help nps") == CatalogCommand("/kpi", "nps")
    assert parse(accounts, "/kpi help") == CatalogCommand("/kpi")


def test_account_matching(accounts):
    assert parse(accounts, "/nps 007").request.scope.account.id == "007"  # exact id, leading zeros
    assert parse(accounts, "/nps bond").request.scope.account.id == "007"  # part of the name
    assert parse(accounts, "/nps acme crop").request.scope.account.id == "acme"  # typo
    assert parse(accounts, '/nps "acme corp"').request.scope.account.id == "acme"
    assert parse(accounts, "/nps 100%").request.scope.account.id == "pct"  # LIKE wildcards are escaped


def test_ambiguous_account_lists_candidates(accounts):
    with pytest.raises(AmbiguousAccountError) as info:
        parse(accounts, "/health stark")
    assert [c.id for c in info.value.candidates] == ["s1", "s2"]
    assert "Stark Industries (s1)" in str(info.value)


def test_unknown_account(accounts):
    with pytest.raises(UnknownAccountError, match="No account matches 'zzzz'"):
        parse(accounts, "/nps zzzz")


def test_sql_and_quotes_are_just_text(accounts):
    for text in ("/nps '; DROP TABLE accounts; --", '/nps "unbalanced', "/nps acme' OR '1'='1"):
        with pytest.raises(UserError):
            parse(accounts, text)
    assert parse(accounts, "/nps acme").request.scope.account.id == "acme"  # table still there


def test_bad_period_lists_accepted_forms(accounts):
    with pytest.raises(PeriodError) as info:
        parse(accounts, "/nps 2026-13")
    assert "last-30d" in str(info.value)


def test_health_and_atrisk(accounts):
    cmd = parse(accounts, "/health acme 2026-10-31")
    assert cmd == HealthCommand("/health", dt.date(2026, 10, 31), cmd.scope, TODAY)  # today: point in time
    assert parse(accounts, "/health backtest") == HealthCommand("/health", TODAY, Scope(), TODAY, backtest=True)
    assert cmd.scope.account.id == "acme"
    assert parse(accounts, "/health").as_of == TODAY
    assert parse(accounts, "/health last-month").as_of == dt.date(2026, 10, 31)
    risk = parse(accounts, "/atrisk segment:enterprise")
    assert isinstance(risk, AtRiskCommand) and risk.scope.segment == "enterprise" and risk.verb is None
    assert parse(accounts, "/atrisk subscribe").verb == "subscribe"
    with pytest.raises(UserError, match="only a segment and an owner"):
        parse(accounts, "/atrisk acme")


def test_digest_verbs(accounts):
    assert parse(accounts, "/digest") == DigestCommand("/digest", "preview")
    assert parse(accounts, "/digest subscribe monday 09:00 Europe/Berlin nps") == DigestCommand(
        "/digest", "subscribe", ("monday", "09:00", "Europe/Berlin", "nps"))


def test_errors_for_empty_unknown_command_and_feature_misuse(accounts):
    with pytest.raises(UserError, match="Type a command"):
        parse(accounts, "   ")
    with pytest.raises(UserError, match="no command `/foo`"):
        parse(accounts, "/foo")
    with pytest.raises(UserError, match="Which KPI"):
        parse(accounts, "/kpi")
    with pytest.raises(UserError, match="keep it under"):
        parse(accounts, "/nps " + "x" * 600)
