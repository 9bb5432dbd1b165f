"""Installing into many workspaces through Bolt's OAuth flow (stores in csbot's database), and the purge when a
workspace uninstalls csbot or revokes its token: over real HTTP against the Slack stand-in. SQLite and Postgres."""

from __future__ import annotations

import datetime as dt
import logging
import re
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from bot.settings import SettingsError, load_slack_settings
from storage import subscriptions as subs
from storage.models import INSTALLATIONS_TABLE, Account, ProcessedEvent, RiskAlert, Subscription
from storage.personal import first_time_event
from tests.jobs_helpers import wait_until
from tests.kpi_helpers import account, load
from tests.slack_stack import SECRET, Stack, _stack
from tests.slack_wire import FakeSlackApi

OAUTH_ENV = {"SLACK_CLIENT_ID": "1234567890.987654321", "SLACK_CLIENT_SECRET": "0123456789abcdef0123456789abcdef",
             "SLACK_STATE_SECRET": "a-long-enough-state-secret"}
NEW_TEAM = "T0NEWTEAM"
NEW_TOKEN = "xoxb-new-team-bot-token"


def _get(url: str, cookie: str | None = None) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode(), dict(error.headers)


@pytest.fixture
def oauth_stack(store):
    load(store, accounts=[account("acme", name="Acme Corp", owner_slack_id="U0CSM0001", customer="2025-02-01")])
    with FakeSlackApi() as api:
        server, thread, base = _stack(store, api, env_extra=OAUTH_ENV)
        try:
            stack = Stack(f"{base}/slack/events", api, store)
            stack.base = base
            yield stack
        finally:
            server.close()
            thread.join(timeout=5)


def _install(stack: Stack, code: str = "code-1") -> tuple[int, str]:
    status, page, headers = _get(f"{stack.base}/slack/install")
    assert status == 200
    link = re.search(r'href="(https://slack.com/oauth/v2/authorize\?[^"]+)"', page).group(1).replace("&amp;", "&")
    query = parse_qs(urlsplit(link).query)
    assert query["client_id"] == [OAUTH_ENV["SLACK_CLIENT_ID"]] and "chat:write" in query["scope"][0]
    state = query["state"][0]
    cookie = headers["Set-Cookie"].split(";")[0]
    stack.api.add_oauth_code(code, team_id=NEW_TEAM, bot_token=NEW_TOKEN)
    status, page, _ = _get(f"{stack.base}/slack/oauth_redirect?" + urlencode({"code": code, "state": state}), cookie)
    return status, page


def _installations(store, team: str) -> int:
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(INSTALLATIONS_TABLE)
                            .where(INSTALLATIONS_TABLE.c.team_id == team)).scalar_one()


def test_install_stores_the_workspace_token_and_its_events_use_it(oauth_stack):
    status, _ = _install(oauth_stack)
    assert status == 200
    assert oauth_stack.api.calls("oauth.v2.access")[0].params["code"] == "code-1"
    assert _installations(oauth_stack.engine, NEW_TEAM) == 1
    oauth_stack.event({"type": "app_home_opened", "user": "U0CSM0001", "tab": "home", "channel": "D0CSM0001"},
                      team_id=NEW_TEAM)
    (publish,) = oauth_stack.api.wait_for("views.publish", timeout=15)
    assert publish.token == NEW_TOKEN  # the installed workspace's own token, from csbot's database


def test_a_forged_or_replayed_state_installs_nothing(oauth_stack):
    _, _, headers = _get(f"{oauth_stack.base}/slack/install")
    cookie = headers["Set-Cookie"].split(";")[0]
    forged = urlencode({"code": "code-2", "state": "not-issued.0000"})
    oauth_stack.api.add_oauth_code("code-2", team_id=NEW_TEAM, bot_token=NEW_TOKEN)
    status, _, _ = _get(f"{oauth_stack.base}/slack/oauth_redirect?{forged}", cookie)
    assert status != 200 and _installations(oauth_stack.engine, NEW_TEAM) == 0
    assert oauth_stack.api.calls("oauth.v2.access") == []


def _workspace_state(store, team: str) -> None:
    now = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    sub = subs.subscribe(store, team_id=team, channel_id="C0RISK001", kind="risk", at_time="08:00", timezone="UTC",
                         now=now, created_by="U0CSM0001")
    subs.subscribe(store, team_id=team, channel_id="D0CSM0001", kind="risk", at_time="08:00", timezone="UTC",
                   now=now, created_by="U0CSM0001", owner_id="U0CSM0001")  # a personal setting
    subs.record_alerts(store, subscription_id=sub.id, channel_id="C0RISK001", today=dt.date(2026, 11, 20),
                       findings=[subs.RuleFinding("acme", "red_band", "health is red", 70.0)], batch="b",
                       claimed_by="test", now=now)  # leaves a delivery in flight ('claimed')
    first_time_event(store, f"Ev0OLD{team}", team, now)


def _counts(store, team: str) -> tuple[int, int, int, int]:
    with store.connect() as conn:
        return (conn.execute(select(func.count()).select_from(Subscription).where(Subscription.team_id == team))
                .scalar_one(),
                conn.execute(select(func.count()).select_from(RiskAlert)).scalar_one(),
                conn.execute(select(func.count()).select_from(ProcessedEvent)
                             .where(ProcessedEvent.team_id == team)).scalar_one(),
                conn.execute(select(func.count()).select_from(Account)).scalar_one())


def test_uninstall_purges_the_workspace_but_not_the_kpi_data(oauth_stack, caplog):
    _install(oauth_stack)
    _workspace_state(oauth_stack.engine, NEW_TEAM)
    _workspace_state(oauth_stack.engine, "T0OTHER01")
    assert _counts(oauth_stack.engine, NEW_TEAM) == (2, 2, 1, 1)
    with caplog.at_level(logging.WARNING, logger="csbot.audit"):
        status, _ = oauth_stack.event({"type": "app_uninstalled"}, team_id=NEW_TEAM)
        assert status == 200
        wait_until(lambda: _installations(oauth_stack.engine, NEW_TEAM) == 0, timeout=15, what="the purge")
    assert _installations(oauth_stack.engine, NEW_TEAM) == 0
    assert _counts(oauth_stack.engine, NEW_TEAM) == (0, 1, 0, 1)  # the other workspace's alert and all KPI data stay
    assert _counts(oauth_stack.engine, "T0OTHER01")[:3] == (2, 1, 1)
    audit = [r.getMessage() for r in caplog.records if r.name == "csbot.audit"]
    assert any(f"workspace {NEW_TEAM} uninstalled csbot: purged 1 installation(s), 1 bot token(s), "
               "2 subscription(s)" in line and "KPI data kept" in line for line in audit), audit


def test_a_revoked_bot_token_purges_too_but_revoked_user_tokens_do_not(store, caplog):
    load(store, accounts=[account("acme", name="Acme Corp", customer="2025-02-01")])
    _workspace_state(store, "T0TEST001")
    with FakeSlackApi() as api:
        server, thread, base = _stack(store, api)
        try:
            stack = Stack(f"{base}/slack/events", api, store)
            with caplog.at_level(logging.WARNING, logger="csbot.audit"):
                stack.event({"type": "tokens_revoked", "tokens": {"oauth": ["U0CSM0001"]}})
                wait_until(lambda: "revoked user tokens" in caplog.text, timeout=15, what="the audit line")
                assert _counts(store, "T0TEST001")[0] == 2
                stack.event({"type": "tokens_revoked", "tokens": {"bot": ["U0BOT0001"]}})
                wait_until(lambda: _counts(store, "T0TEST001")[0] == 0, timeout=15, what="the purge")
            assert _counts(store, "T0TEST001") == (0, 0, 0, 1)  # the account (KPI data) stays
        finally:
            server.close()
            thread.join(timeout=5)
    audit = " ".join(r.getMessage() for r in caplog.records if r.name == "csbot.audit")
    assert "revoked user tokens U0CSM0001" in audit and "revoked csbot's bot token" in audit


@pytest.mark.parametrize("env,problem", [
    ({"SLACK_CLIENT_ID": "abc"}, "SLACK_CLIENT_ID is malformed"),
    ({"SLACK_CLIENT_SECRET": ""}, "SLACK_CLIENT_SECRET is not set"),
    ({"SLACK_STATE_SECRET": "short"}, "SLACK_STATE_SECRET is not set or shorter than 16"),
    ({"SLACK_APP_TOKEN": "xapp-1-abc"}, "OAuth installs need HTTP mode"),
])
def test_oauth_settings_are_checked_at_start(env, problem):
    base = {"SLACK_SIGNING_SECRET": SECRET, **OAUTH_ENV}
    with pytest.raises(SettingsError, match=problem):
        load_slack_settings({**base, **env})


def test_single_token_mode_stays_the_default():
    settings = load_slack_settings({"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": SECRET})
    assert settings.oauth is None and settings.bot_token == "xoxb-1-2-abc"
    oauth = load_slack_settings({"SLACK_SIGNING_SECRET": SECRET, **OAUTH_ENV})
    assert oauth.bot_token == "" and oauth.oauth.client_id == OAUTH_ENV["SLACK_CLIENT_ID"]
    assert OAUTH_ENV["SLACK_CLIENT_SECRET"] not in repr(oauth) and "state-secret" not in repr(oauth)


def test_the_scheduler_posts_with_each_workspaces_own_token(store):
    from slack_sdk.oauth.installation_store.models.installation import Installation

    from bot.jobs import scheduler
    from bot.oauth import installation_store, team_clients
    from bot.settings import oauth_credentials
    from tests.jobs_helpers import FakeChannels, SetClock, make_ctx, utc

    credentials = oauth_credentials(OAUTH_ENV)
    with FakeSlackApi() as api:
        channels = FakeChannels(api)
        for team, token in (("T0TEAMONE", "xoxb-team-one"), ("T0TEAMTWO", "xoxb-team-two")):
            installation_store(credentials, store).save(Installation(
                app_id="A0TEST", team_id=team, user_id="U0INSTALL1", bot_token=token, bot_id="B1",
                bot_user_id="U0BOT0001", bot_scopes=["chat:write"]))
            subs.subscribe(store, team_id=team, channel_id=f"C0{team[2:]}", kind="digest", weekday=0,
                           at_time="09:00", timezone="UTC", now=utc("2026-11-01T00:00:00"), kpis=["customers"])
        ctx = make_ctx(store, api, SetClock(utc("2026-11-23T09:00:00")),
                       client_for_team=team_clients(credentials, store, api.base_url))
        outcomes = scheduler.tick(ctx)
        assert sorted(o.action for o in outcomes) == ["posted", "posted"]
        tokens = {c.params["channel"]: c.token for c in api.calls("chat.postMessage")}
        assert tokens == {"C0TEAMONE": "xoxb-team-one", "C0TEAMTWO": "xoxb-team-two"}
        assert len(channels.in_channel("C0TEAMONE")) == 1
