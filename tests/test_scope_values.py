"""Scope values resolved in one place (kpi_core.scope_values): case-insensitive, unknown = user error listing
the known values closest first, two values for one scope = an error, period typos named as such."""

import datetime as dt

import pytest

from kpi_core.answers import ValuesAnswer, ask
from kpi_core.commands import KpiCommand, ValuesCommand, help_text, parse_command
from kpi_core.scope_values import PeriodTypoError, UnknownScopeValueError, closest_first, period_typo
from kpi_core.types import UnknownAccountError, UserError
from tests.kpi_helpers import UTC_CONFIG, account, load, survey, usage

TODAY = dt.date(2026, 11, 22)


@pytest.fixture
def data(store):
    load(store, accounts=[
        account("a1", name="Acme Corp", segment="enterprise", owner_slack_id="U0JANE", customer="2025-02-01"),
        account("a2", name="Bolt Ltd", segment="enterprise", owner_slack_id="U0JANE", customer="2025-02-01"),
        account("a3", name="Cobalt", segment="mid-market", owner_slack_id="U0BOB", customer="2025-02-01"),
        account("a4", name="Delta", segment="SMB", customer="2025-02-01"),
        account("a5", name="Quarterly Foods"),
    ], surveys=[
        survey("r1", "a1", "nps", 10, "2026-10-05T10:00:00"),
        survey("r2", "a3", "nps", 3, "2026-10-06T10:00:00"),
    ], usage=[
        usage("a1", "u1", "2026-10-05T10:00:00", feature="api"),
        usage("a2", "u2", "2026-10-05T11:00:00", feature="api"),
        usage("a3", "u3", "2026-10-05T12:00:00", feature="Reports"),
    ])
    return store


def parse(store, text):
    with store.connect() as conn:
        return parse_command(conn, text, TODAY)


def test_values_match_case_insensitively_and_keep_the_stored_spelling(data):
    assert parse(data, "/nps segment:Enterprise").request.scope.segment == "enterprise"
    assert parse(data, "/nps segment:smb").request.scope.segment == "SMB"
    assert parse(data, "/kpi adoption feature:API").request.scope.feature == "api"
    assert parse(data, "/kpi adoption feature:reports").request.scope.feature == "Reports"
    assert parse(data, "/nps owner:@u0jane").request.scope.owner == "U0JANE"


def test_same_answer_whatever_the_case(data):
    upper = ask(data, "/nps 2026-10 segment:ENTERPRISE", TODAY, UTC_CONFIG).result
    lower = ask(data, "/nps 2026-10 segment:enterprise", TODAY, UTC_CONFIG).result
    # one response in October for enterprise: a1 scored 10, a promoter -> NPS 100
    assert upper.value == lower.value == 100.0 and upper.sample == 1


def test_unknown_segment_is_an_error_listing_known_ones_closest_first(data):
    with pytest.raises(UnknownScopeValueError) as info:
        ask(data, "/nps segment:enterprize", TODAY, UTC_CONFIG)
    message = str(info.value)
    assert message.startswith("No segment 'enterprize'. Known segments: enterprise, ")
    assert info.value.known[0] == "enterprise" and set(info.value.known) == {"enterprise", "mid-market", "SMB"}
    assert "`/kpi segments`" in message


def test_unknown_feature_is_an_error_not_zero_percent(data):
    with pytest.raises(UnknownScopeValueError, match=r"No feature 'foo'\. Known features: "):
        ask(data, "/kpi adoption last-quarter feature:foo", TODAY, UTC_CONFIG)


def test_owner_who_owns_nothing_is_an_error(data):
    with pytest.raises(UnknownScopeValueError, match=r"@U0NOBODY owns no account") as info:
        parse(data, "/nps owner:U0NOBODY")
    assert set(info.value.known) == {"U0JANE", "U0BOB"}


def test_no_values_at_all_says_so(store):
    load(store, accounts=[account("a1")])
    with pytest.raises(UnknownScopeValueError, match="has no segments at all"):
        parse(store, "/nps segment:smb")


def test_two_values_for_one_scope_is_an_error(data):
    with pytest.raises(UserError, match=r"Two segments given \(`segment:smb` and `segment:enterprise`\)"):
        parse(data, "/nps segment:smb segment:enterprise")
    with pytest.raises(UserError, match="Two owners given"):
        parse(data, "/nps owner:U0JANE owner:U0BOB")
    # the same value twice (any case) is not a conflict
    assert parse(data, "/nps segment:smb segment:SMB").request.scope.segment == "SMB"


def test_missing_value_examples_fit_the_scope(data):
    for key, example in (("owner", "owner:@jane"), ("feature", "feature:api"), ("segment", "segment:enterprise")):
        with pytest.raises(UserError) as info:
            parse(data, f"/nps {key}:")
        assert f"`{example}`" in str(info.value) and "owner:enterprise" not in str(info.value)


def test_period_typo_is_reported_with_the_right_spelling(data):
    with pytest.raises(PeriodTypoError, match="Did you mean `last-quarter`"):
        parse(data, "/nps lst-quarter")
    with pytest.raises(PeriodTypoError, match="Did you mean `last-month`"):
        parse(data, "/nps last-mnth")
    with pytest.raises(PeriodTypoError, match="Did you mean `last-quarter`"):
        parse(data, "/nps lst quarter")
    with pytest.raises(PeriodTypoError, match="Did you mean `october`"):
        parse(data, "/nps octber")
    with pytest.raises(PeriodTypoError):
        parse(data, "/atrisk lst-quarter")


def test_account_names_still_win_over_period_lookalikes(data):
    # "quarterly foods" is far closer to the account than to any period
    assert parse(data, "/nps quarterly foods").request.scope.account.id == "a5"
    assert parse(data, "/nps acme").request.scope.account.id == "a1"
    with pytest.raises(UnknownAccountError):
        parse(data, "/nps zzzz")


def test_period_typo_helper():
    assert period_typo(["lst-quarter"]) == "last-quarter"
    assert period_typo(["yesterdy"]) == "yesterday"
    assert period_typo(["acme"]) is None
    assert closest_first("enterprize", ["smb", "enterprise", "mid-market"])[0] == "enterprise"


def test_value_lists_with_account_counts(data):
    assert parse(data, "/kpi segments") == ValuesCommand("/kpi", "segment")
    segments = ask(data, "/kpi segments", TODAY, UTC_CONFIG)
    assert isinstance(segments, ValuesAnswer)
    assert [(v.value, v.accounts) for v in segments.values] == [("enterprise", 2), ("mid-market", 1), ("SMB", 1)]
    owners = ask(data, "/kpi owners", TODAY, UTC_CONFIG)
    assert [(v.value, v.accounts) for v in owners.values] == [("U0JANE", 2), ("U0BOB", 1)]
    features = ask(data, "/kpi features", TODAY, UTC_CONFIG)
    assert [(v.value, v.accounts) for v in features.values] == [("api", 2), ("Reports", 1)]


def test_help_names_every_place_to_look_values_up(data):
    text = help_text()
    for place in ("/kpi list", "/kpi segments", "/kpi owners", "/kpi features"):
        assert place in text
    assert isinstance(parse(data, "/kpi nps segment:smb"), KpiCommand)


def test_value_lists_render_in_json_slack_and_terminal(data):
    from bot.render.blocks import answer_blocks
    from bot.render.json_out import answer_to_json
    from bot.render.terminal import render
    from tests.test_render_blocks import check_slack_json

    answer = ask(data, "/kpi owners", TODAY, UTC_CONFIG)
    assert answer_to_json(answer) == {"command": "/kpi", "dimension": "owner",
                                      "values": [{"value": "U0JANE", "accounts": 2}, {"value": "U0BOB", "accounts": 1}]}
    blocks = check_slack_json(answer_blocks(answer))
    assert "<@U0JANE>: 2 accounts" in str(blocks)
    assert render(answer) is not None


def test_spellings_that_differ_only_in_case(store):
    load(store, accounts=[account("a1", segment="Enterprise"), account("a2", segment="enterprise")])
    assert parse(store, "/nps segment:enterprise").request.scope.segment == "enterprise"  # exact wins
    assert parse(store, "/nps segment:Enterprise").request.scope.segment == "Enterprise"
    with pytest.raises(UserError, match="differ only in case: Enterprise, enterprise"):
        parse(store, "/nps segment:ENTERPRISE")
