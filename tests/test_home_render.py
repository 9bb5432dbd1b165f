"""The Home renderer and the book's trend as data (pure), the money redaction, and the storage behind the Home
(open alerts, freshness, the event ledger, the purge) on SQLite and Postgres."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from bot.redact import health_without_money, money_kpi_asked
from bot.render.digest_blocks import ACK_ACTION
from bot.render.home_blocks import HOME_MAX_BLOCKS, PAGE_BLOCKS, HomeModel, home_view, paginate
from kpi_core.book import BookEntry, worst_first
from kpi_core.health import AccountHealth, ComponentScore
from kpi_core.types import AccountRef
from storage import personal
from storage import subscriptions as subs

AS_OF = dt.date(2026, 11, 22)


def _health(i: int, score: float | None, *, mrr: float = 100.0, days_to_renewal: int | None = None,
            name: str | None = None) -> AccountHealth:
    band = None if score is None else ("green" if score >= 70 else "yellow" if score >= 40 else "red")
    components = (ComponentScore("revenue", 50.0, 0.2, "MRR down 20% over 3 months (1,000 -> 800)",
                                 {"mrr_now": mrr}),
                  ComponentScore("lifecycle", 50.0, 0.15, "", {"days_to_renewal": days_to_renewal}))
    return AccountHealth(AccountRef(f"a{i:03d}", name or f"Acct {i:03d}"), "U0CSM0001", "smb", AS_OF, score, band,
                         components, (), ("revenue: MRR down 20% over 3 months (1,000 -> 800)",))


@pytest.mark.parametrize("now,before,trend", [
    (50.0, 48.0, "up"), (50.0, 48.1, "flat"), (50.0, 52.0, "down"), (50.0, 51.9, "flat"), (50.0, None, "new"),
    (None, 50.0, "new"),
])
def test_trend_arrow_has_a_two_point_dead_band(now, before, trend):
    assert BookEntry(_health(1, now), before, 1.0, None).trend == trend


def test_worst_first_puts_unscored_last_and_breaks_ties_by_name():
    entries = [BookEntry(_health(i, s, name=n), None, None, None)
               for i, s, n in [(1, None, "Zed"), (2, 80.0, "B"), (3, 30.0, "C"), (4, 30.0, "A"), (5, None, "Ann")]]
    assert [e.health.account.name for e in sorted(entries, key=worst_first)] == ["A", "C", "B", "Ann", "Zed"]


def test_renewal_soon_is_within_60_days():
    soon = BookEntry(_health(1, 50.0), None, None, AS_OF + dt.timedelta(days=60))
    later = BookEntry(_health(1, 50.0), None, None, AS_OF + dt.timedelta(days=61))
    assert soon.renews_soon(AS_OF) and not later.renews_soon(AS_OF)


def _alert(alert_id: int, state: str = "open") -> subs.AlertRow:
    acted = dt.datetime(2026, 11, 21, 9, tzinfo=dt.UTC) if state != "open" else None
    return subs.AlertRow(alert_id, 1, "a001", "detractor", "a detractor NPS response", AS_OF, 60.0, 60.0, AS_OF,
                         None, "k", "C1", "1.1", state, None, "U0X" if acted else None, acted, None)


def test_pages_never_pass_the_home_limit_and_keep_an_account_with_its_buttons_together():
    book = [BookEntry(_health(i, float(i % 100)), None, 10.0, None) for i in range(1, 301)]
    alerts = {f"a{i:03d}": [_alert(i)] for i in range(1, 301, 3)}  # every third account has buttons too
    model = HomeModel("U0CSM0001", AS_OF, None, book, alerts, team=[], managed=())
    pages = paginate(model)
    assert all(len(p) <= PAGE_BLOCKS for p in pages)
    assert sum(1 for p in pages for b in p if b.type == "section") == 300
    for page in pages:  # an actions block always follows its account's section on the same page
        assert page[0].type == "section"
    for n in range(1, len(pages) + 1):
        view = home_view(replace(model, page=n))
        assert len(view["blocks"]) <= HOME_MAX_BLOCKS and view["type"] == "home"
    assert home_view(replace(model, page=99))["private_metadata"] == str(len(pages))  # clamped


def test_an_acted_on_alert_shows_who_did_what_instead_of_buttons():
    entry = BookEntry(_health(1, 30.0), None, 10.0, None)
    open_view = home_view(HomeModel("U0CSM0001", AS_OF, None, [entry], {"a001": [_alert(7)]}))
    buttons = [e for b in open_view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (buttons[0]["action_id"], buttons[0]["value"]) == (ACK_ACTION, "7")
    acked = home_view(HomeModel("U0CSM0001", AS_OF, None, [entry], {"a001": [_alert(7, "acknowledged")]}))
    assert not [b for b in acked["blocks"] if b["type"] == "actions" and b["elements"][0]["action_id"] == ACK_ACTION]
    assert "Acknowledged by <@U0X>" in str(acked["blocks"])


def test_account_names_are_escaped():
    entry = BookEntry(_health(1, 30.0, name="<!channel> & co"), None, 10.0, None)
    text = str(home_view(HomeModel("U0CSM0001", AS_OF, None, [entry]))["blocks"])
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; co" in text


def test_health_without_money_keeps_the_score_and_drops_the_amounts():
    h = health_without_money(_health(1, 30.0))
    revenue = next(c for c in h.components if c.name == "revenue")
    assert revenue.score == 50.0 and "1,000" not in revenue.detail and revenue.facts == {}
    assert all("1,000" not in d for d in h.drivers)


@pytest.mark.parametrize("text,kpi", [("/mrr", "mrr"), ("/kpi nrr last-quarter", "nrr"), ("/kpi ARPU", "arpa"),
                                      ("/kpi expansion", "expansion"), ("/nps", None), ("/kpi list", None),
                                      ("/kpi help mrr", None), ("/kpi nonsense", None), ("/health acme", None)])
def test_money_kpis_are_recognised_by_id_alias_and_shortcut(text, kpi):
    assert money_kpi_asked(text) == kpi


# ------------------------------------------------------------------------------------------------- storage


def test_the_event_ledger_takes_each_event_once_and_forgets_old_ones(store):
    now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    assert personal.first_time_event(store, "Ev1", "T1", now) is True
    assert personal.first_time_event(store, "Ev1", "T1", now) is False
    assert personal.forget_events_before(store, now + dt.timedelta(seconds=1)) == 1
    assert personal.first_time_event(store, "Ev1", "T1", now) is True


def test_open_alerts_prefer_the_viewers_personal_subscription(store):
    now = dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC)
    channel = subs.subscribe(store, team_id="T1", channel_id="C1", kind="risk", at_time="08:00", timezone="UTC",
                             now=now)
    mine = subs.subscribe(store, team_id="T1", channel_id="D1", kind="risk", at_time="08:00", timezone="UTC",
                          now=now, owner_id="U0CSM0001")
    finding = [subs.RuleFinding("a001", "detractor", "a detractor", 60.0)]
    for sub in (channel, mine):
        subs.record_alerts(store, subscription_id=sub.id, channel_id=sub.channel_id, today=AS_OF, findings=finding,
                           batch=f"b{sub.id}", claimed_by="t", now=now)
    got = personal.open_alerts(store, "T1", ["a001", "a002"], viewer="U0CSM0001")
    assert list(got) == ["a001"] and got["a001"][0].subscription_id == mine.id
    assert personal.open_alerts(store, "T1", ["a001"], viewer="U0OTHER")["a001"][0].subscription_id == channel.id
    assert personal.open_alerts(store, "T2", ["a001"]) == {}
    subs.alert_action(store, got["a001"][0].id, "dismiss", user="U0CSM0001", at=now, reason="fine")
    assert personal.open_alerts(store, "T1", ["a001"], viewer="U0CSM0001")["a001"][0].subscription_id == channel.id
