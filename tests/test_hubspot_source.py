"""Kind `hubspot` at the wire: the official hubspot-api-client against a CRM v3 stand-in on loopback, and
owners by e-mail through users.lookupByEmail on the Slack stand-in; SQLite and Postgres stores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bot.delivery import make_client
from bot.jobs.sync_job import run_sync
from storage.importer import import_paths
from storage.models import Account, Revenue, SlackUserByEmail
from storage.sources_file import parse_sources
from storage.sync import sync_source
from storage.sync_report import SyncError
from tests.hubspot_standin import HubSpotStandIn
from tests.slack_wire.fake_slack_api import FakeSlackApi

T0 = dt.datetime(2026, 11, 30, 4, 0, tzinfo=dt.UTC)
SOURCES = """
sources:
  crm:
    kind: hubspot
    properties:
      account_id: csbot_account_id
      name: name
      segment: industry
      renewal_date: renewal_date
"""


def crm(standin: HubSpotStandIn, text: str = SOURCES):
    return parse_sources(text, {})[0], {"HUBSPOT_ACCESS_TOKEN": standin.token, "HUBSPOT_API_URL": standin.url}


def fill(standin: HubSpotStandIn) -> None:
    standin.companies = [
        {"id": "1", "properties": {"csbot_account_id": "A1", "name": "Acme", "industry": "smb",
                                   "renewal_date": "2027-01-31", "createdate": "2026-01-04T23:30:00.000Z",
                                   "hubspot_owner_id": "100"}},
        {"id": "2", "properties": {"csbot_account_id": "A2", "name": "Beta", "industry": None,
                                   "createdate": "2026-02-01T09:00:00.000Z", "hubspot_owner_id": "101"}},
        {"id": "3", "properties": {"csbot_account_id": "", "name": "Not linked", "createdate": "2026-03-01"}},
        {"id": "4", "properties": {"csbot_account_id": "A4", "name": "Delta", "createdate": "1767225600000"}},
    ]
    standin.owners = [{"id": "100", "email": "Ann@Example.com"}, {"id": "101", "email": "nobody@example.com"}]


def accounts(store: Engine) -> list[tuple]:
    with store.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(Account.account_id, Account.name, Account.segment, Account.signed_up_at, Account.renewal_date,
                   Account.owner_email, Account.owner_slack_id).order_by(Account.account_id))]


def test_companies_are_read_page_by_page_and_mapped(store: Engine) -> None:
    with HubSpotStandIn(page_size=2) as standin:
        fill(standin)
        source, env = crm(standin)
        report = sync_source(store, source, now=T0, reporting_tz="Europe/Berlin", env=env)
        paths = [(p, q.get("after")) for p, q in standin.requests]
    # 4 companies in pages of 2 (followed by `after`), then the 2 owners in one page
    assert paths == [("/crm/v3/objects/companies", None), ("/crm/v3/objects/companies", "2"),
                     ("/crm/v3/owners/", None)]
    assert (report.tables["accounts"].added, report.notes) == (3, ["accounts: 1 company without csbot_account_id "
                                                                   "left out"])
    # createdate is an instant: 23:30 UTC on Jan 4 is Jan 5 in Berlin; epoch ms 1767225600000 = 2026-01-01
    assert accounts(store) == [
        ("A1", "Acme", "smb", dt.date(2026, 1, 5), dt.date(2027, 1, 31), "ann@example.com", None),
        ("A2", "Beta", None, dt.date(2026, 2, 1), None, "nobody@example.com", None),
        ("A4", "Delta", None, dt.date(2026, 1, 1), None, None, None),
    ]


def test_a_crm_never_blanks_what_it_does_not_map_and_removes_only_its_own(store: Engine, tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text("account_id,name,owner_slack_id,signed_up_at,acquisition_source\n"
                                           "A1,Old,U09,2026-01-05,referral\nA9,CSV only,,2026-01-01,\n")
    (tmp_path / "revenue.csv").write_text("account_id,month,mrr\nA1,2026-10,100\n")
    import_paths(store, [tmp_path / "accounts.csv", tmp_path / "revenue.csv"])
    with HubSpotStandIn() as standin:
        fill(standin)
        source, env = crm(standin, SOURCES + "    owner: false\n")
        sync_source(store, source, now=T0, env=env)
        standin.companies = standin.companies[:1]  # A2 and A4 deleted in the CRM
        report = sync_source(store, source, now=T0 + dt.timedelta(hours=1), env=env)
    assert report.tables["accounts"].removed == 2
    with store.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(Account.account_id, Account.name, Account.owner_slack_id,
                                                      Account.acquisition_source).order_by(Account.account_id))]
        mrr = conn.execute(select(Revenue.account_id, Revenue.mrr)).all()
    assert rows == [("A1", "Acme", "U09", "referral"), ("A9", "CSV only", None, None)]
    assert [tuple(r) for r in mrr] == [("A1", 100)]


def test_owner_emails_resolve_through_slack_and_unmatched_ones_are_listed(store: Engine) -> None:
    with HubSpotStandIn() as standin, FakeSlackApi() as slack:
        fill(standin)
        slack.set_user("U0ANN0001", profile={"email": "ann@example.com"})
        source, env = crm(standin)
        client = make_client("xoxb-test-token", slack.base_url)
        outcome = run_sync(store, source, now=T0, reporting_tz="UTC", client=client, env=env)
        assert outcome.report is not None
        first = [c.params["email"] for c in slack.calls("users.lookupByEmail")]
        again = run_sync(store, source, now=T0 + dt.timedelta(days=1), reporting_tz="UTC", client=client, env=env)
        second = [c.params["email"] for c in slack.calls("users.lookupByEmail")][len(first):]
    assert sorted(first) == ["ann@example.com", "nobody@example.com"]
    assert second == ["nobody@example.com"]  # resolved ones are cached; unknown ones are asked again
    assert [a[0] + ":" + str(a[6]) for a in accounts(store)] == ["A1:U0ANN0001", "A2:None", "A4:None"]
    assert outcome.report.notes[-2:] == [
        "owners: 1 account(s) got their owner from an e-mail",
        "unresolved owner e-mail: nobody@example.com (1 account) matches no Slack user"]
    assert again.report.notes[-1:] == ["unresolved owner e-mail: nobody@example.com (1 account) matches no Slack user"]
    with store.connect() as conn:
        cached = dict(conn.execute(select(SlackUserByEmail.email, SlackUserByEmail.slack_user_id)).all())
    assert cached == {"ann@example.com": "U0ANN0001", "nobody@example.com": None}


@pytest.mark.parametrize(("token", "status", "expected"), [
    ("wrong", None, "crm:accounts: reading HubSpot companies failed: HTTP 401 Unauthorized; check "
                    "HUBSPOT_ACCESS_TOKEN and its scopes"),
    (None, 404, "crm:accounts: reading HubSpot companies failed: HTTP 404 Not Found"),
])
def test_hubspot_errors_write_nothing_and_are_named(store: Engine, token, status, expected) -> None:
    with HubSpotStandIn() as standin:
        fill(standin)
        standin.fail_with = status
        source, env = crm(standin)
        if token:
            env["HUBSPOT_ACCESS_TOKEN"] = token
        with pytest.raises(SyncError) as caught:
            sync_source(store, source, now=T0, env=env)
    assert caught.value.problems == [expected]
    assert accounts(store) == []
