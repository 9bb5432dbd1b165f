"""Churn-risk warnings: one per account and rule episode, a repeat only when worse, buttons that hold (snooze
for 7 days, not a risk for the episode), and a scan cut short finished without repeating a warning.
Daily scans at 09:00 UTC on a clock the test sets; at-risk accounts scripted per day (and once from real
data). SQLite and Postgres."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.jobs import risk_job, scheduler
from bot.render.digest_blocks import ACK_ACTION, DISMISS_ACTION, SNOOZE_ACTION, risk_alert_blocks
from storage import subscriptions as subs
from tests.jobs_helpers import ScriptedRisk, SetClock, make_ctx, risk_sub, risky, utc
from tests.kpi_helpers import account, load, survey

CHANNEL = "C0RISK001"
DAY0 = dt.date(2026, 1, 5)


class Scans:
    """Daily scans of one risk subscription; `at_risk[day]` says who is at risk that day (default: yesterday's)."""

    def __init__(self, store, api, channels):
        self.store, self.channels = store, channels
        self.sub = risk_sub(store)
        self.at_risk: dict[dt.date, list] = {}
        self.clock = SetClock(utc("2026-01-05T09:00:00"))
        self.ctx = make_ctx(store, api, self.clock, find_at_risk=ScriptedRisk(self._on))

    def _on(self, day: dt.date) -> list:
        known = [d for d in self.at_risk if d <= day]
        return self.at_risk[max(known)] if known else []

    def run(self, day: dt.date, *who) -> list[dict]:
        """Scan on `day` (with `who` at risk, when given); the warnings it posted."""
        if who:
            self.at_risk[day] = [w(day) for w in who]
        before = len(self.posted())
        self.clock.set(dt.datetime.combine(day, dt.time(9, 0), dt.UTC))
        outcomes = scheduler.tick(self.ctx)
        assert [o.action for o in outcomes] == ["posted"], outcomes
        return self.posted()[before:]

    def posted(self) -> list[dict]:
        return self.channels.in_channel(CHANNEL)

    def accounts(self, messages: list[dict]) -> list[str]:
        return [m["text"].split(":")[1].split("(")[0].strip() for m in messages]


def acme(score: float = 30.0, rules=("red_band",), users=(10, 10)):
    return lambda day: risky("acme", score, list(rules), as_of=day, users=users)


def umbrella(score: float = 35.0, rules=("red_band",)):
    return lambda day: risky("umbrella", score, list(rules), as_of=day)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


# ------------------------------------------------------------------------------------------- episodes


def test_the_same_account_on_consecutive_scans_is_warned_about_once(store, api, channels):
    scans = Scans(store, api, channels)
    (first,) = scans.run(day(0), acme())
    assert scans.run(day(1), acme()) == []
    assert scans.run(day(2), acme()) == []
    assert "At risk: Acme Corp" in first["text"]
    (row,) = subs.account_alerts(store, scans.sub.id, "acme")
    assert (row.episode_start, row.last_seen, row.state, row.message_ts) == (day(0), day(2), "open", first["ts"])


def test_one_message_per_account_with_owner_rules_numbers_and_buttons(store, api, channels):
    scans = Scans(store, api, channels)
    messages = scans.run(day(0), acme(rules=("red_band", "usage_drop"), users=(3, 10)), umbrella())
    assert scans.accounts(messages) == ["Acme Corp", "Umbrella Corp"]
    blocks = json.dumps(messages[0]["blocks"])
    assert "<@U0OWNER01>" in blocks and "health is red (30.0)" in blocks and "(10 -&gt; 3)" in blocks
    rows = subs.account_alerts(store, scans.sub.id, "acme")
    assert [r.rule_id for r in rows] == ["red_band", "usage_drop"]
    assert [r.severity for r in rows] == [70.0, 70.0]  # 100 - score; users down 70%
    actions = [b for b in messages[0]["blocks"] if b["type"] == "actions"][0]["elements"]
    assert [(e["action_id"], e["value"]) for e in actions] == [
        (ACK_ACTION, str(rows[0].id)), (SNOOZE_ACTION, str(rows[0].id)), (DISMISS_ACTION, str(rows[0].id))]
    assert {r.message_ts for r in rows} == {messages[0]["ts"]} and {r.channel_id for r in rows} == {CHANNEL}
    assert messages[0]["metadata"]["event_payload"]["key"] == f"alert:{scans.sub.id}:acme:2026-01-05"


def test_a_repeat_only_when_it_gets_worse(store, api, channels):
    scans = Scans(store, api, channels)
    scans.run(day(0), acme(30.0))
    assert scans.run(day(1), acme(25.0)) == []  # 5 points worse: not enough
    (repeat,) = scans.run(day(2), acme(19.0))  # 11 points below the score first warned about
    assert "Worse since the last alert" in json.dumps(repeat["blocks"])
    assert scans.run(day(3), acme(15.0)) == []  # 4 points below the repeat
    assert scans.run(day(4), acme(40.0)) == []  # better
    (row,) = subs.account_alerts(store, scans.sub.id, "acme")
    assert row.alerted_severity == 81.0 and row.severity == 60.0 and row.message_ts == repeat["ts"]


def test_usage_drop_getting_worse_repeats(store, api, channels):
    scans = Scans(store, api, channels)
    scans.run(day(0), acme(50.0, rules=("usage_drop",), users=(10, 20)))  # down 50%
    assert scans.run(day(1), acme(50.0, rules=("usage_drop",), users=(9, 20))) == []  # 55%
    assert len(scans.run(day(2), acme(50.0, rules=("usage_drop",), users=(7, 20)))) == 1  # 65%: 15 points worse


def test_another_rule_firing_is_a_new_warning_naming_all_rules(store, api, channels):
    scans = Scans(store, api, channels)
    scans.run(day(0), acme(rules=("red_band",)))
    (second,) = scans.run(day(1), acme(rules=("red_band", "detractor")))
    assert "detractor" in second["text"] and "health is red" in second["text"]
    assert "Worse since the last alert" in json.dumps(second["blocks"])
    assert scans.run(day(2), acme(rules=("red_band", "detractor"))) == []


def test_an_episode_ends_when_the_rule_stops_and_a_new_one_warns_again(store, api, channels):
    scans = Scans(store, api, channels)
    scans.run(day(0), acme())
    scans.at_risk[day(1)] = []
    assert scans.run(day(1)) == []
    (again,) = scans.run(day(2), acme())
    assert "Worse since" not in json.dumps(again["blocks"])
    old, new = subs.account_alerts(store, scans.sub.id, "acme", open_only=False)
    assert (old.episode_start, old.closed_on, new.episode_start, new.closed_on) == (day(0), day(1), day(2), None)


# -------------------------------------------------------------------------------------------- buttons


def test_snooze_means_no_warning_for_seven_days(store, api, channels):
    scans = Scans(store, api, channels)
    (first,) = scans.run(day(0), acme(30.0))
    alert_id = subs.account_alerts(store, scans.sub.id, "acme")[0].id
    row = subs.alert_action(store, alert_id, "snooze", user="U0CSM0001", at=utc("2026-01-05T10:15:00"))
    assert (row.state, row.snoozed_until, row.acted_by) == ("snoozed", day(7), "U0CSM0001")
    assert row.acted_at == utc("2026-01-05T10:15:00")
    for n in range(1, 8):  # days +1..+7: silent, even when it gets worse or another rule fires
        worse = acme(10.0, rules=("red_band", "detractor")) if n == 3 else acme(30.0)
        assert scans.run(day(n), worse) == [], f"day +{n}"
    assert {r.state for r in subs.account_alerts(store, scans.sub.id, "acme")} == {"snoozed"}
    (reminder,) = scans.run(day(8), acme(30.0))  # still at risk after the snooze: warned again
    assert "Acme Corp" in reminder["text"]
    assert {r.state for r in subs.account_alerts(store, scans.sub.id, "acme")} == {"open"}
    assert scans.run(day(9), acme(30.0)) == []


def test_snoozed_and_no_longer_at_risk_stays_quiet(store, api, channels):
    scans = Scans(store, api, channels)
    scans.run(day(0), acme())
    subs.alert_action(store, subs.account_alerts(store, scans.sub.id, "acme")[0].id, "snooze", user="U1",
                      at=utc("2026-01-05T10:00:00"))
    scans.at_risk[day(5)] = []
    for n in range(1, 10):
        assert scans.run(day(n)) == []


def test_not_a_risk_is_silent_for_the_episode(store, api, channels):
    scans = Scans(store, api, channels)
    scans.run(day(0), acme(30.0))
    alert_id = subs.account_alerts(store, scans.sub.id, "acme")[0].id
    row = subs.alert_action(store, alert_id, "dismiss", user="U0CSM0001", at=utc("2026-01-05T11:00:00"),
                            reason="planned migration")
    assert (row.state, row.reason) == ("dismissed", "planned migration")
    for n in range(1, 20):
        assert scans.run(day(n), acme(5.0)) == [], f"day +{n}"  # even much worse
    scans.at_risk[day(20)] = []
    scans.run(day(20))
    assert len(scans.run(day(21), acme(30.0))) == 1  # a new episode


def test_acknowledged_repeats_only_when_worse(store, api, channels):
    scans = Scans(store, api, channels)
    scans.run(day(0), acme(30.0))
    alert_id = subs.account_alerts(store, scans.sub.id, "acme")[0].id
    subs.alert_action(store, alert_id, "acknowledge", user="U0CSM0001", at=utc("2026-01-05T09:30:00"))
    assert scans.run(day(1), acme(28.0)) == []
    assert len(scans.run(day(2), acme(15.0))) == 1
    (row,) = subs.account_alerts(store, scans.sub.id, "acme")
    assert row.state == "open"  # the new warning needs acknowledging again


def test_button_actions_apply_to_the_whole_message_and_render(store, api, channels):
    scans = Scans(store, api, channels)
    (message,) = scans.run(day(0), acme(rules=("red_band", "detractor")))
    first, second = subs.account_alerts(store, scans.sub.id, "acme")
    subs.alert_action(store, first.id, "acknowledge", user="U0CSM0001", at=utc("2026-01-05T09:30:00"))
    assert subs.get_alert(store, second.id).state == "acknowledged"
    alert = subs.get_alert(store, first.id)
    assert (alert.channel_id, alert.message_ts) == (CHANNEL, message["ts"])
    state = risk_job.alert_state(alert)
    assert (state.action, state.by, state.at) == ("acknowledged", "U0CSM0001", utc("2026-01-05T09:30:00"))
    rendered = json.dumps([b.to_dict() for b in risk_alert_blocks(
        risky("acme", 30.0, ["red_band"], as_of=day(0)), alert_value=str(first.id), state=state)])
    assert "Acknowledged by <@U0CSM0001>" in rendered and ACK_ACTION not in rendered
    assert subs.alert_action(store, 999999, "acknowledge", user="U1", at=utc("2026-01-05T09:30:00")) is None
    with pytest.raises(ValueError):
        subs.alert_action(store, first.id, "delete", user="U1", at=utc("2026-01-05T09:30:00"))


def test_each_risk_subscription_keeps_its_own_episodes(store, api, channels):
    scans = Scans(store, api, channels)
    other = risk_sub(store, "C0RISK002")
    scans.at_risk[day(0)] = [acme(30.0)(day(0))]
    assert [o.action for o in scheduler.tick(scans.ctx)] == ["posted", "posted"]
    assert len(channels.in_channel(CHANNEL)) == len(channels.in_channel("C0RISK002")) == 1
    subs.alert_action(store, subs.account_alerts(store, other.id, "acme")[0].id, "dismiss", user="U1",
                      at=utc("2026-01-05T10:00:00"))
    scans.at_risk[day(1)] = [acme(5.0)(day(1))]
    scans.clock.set("2026-01-06T09:00:00")
    scheduler.tick(scans.ctx)
    assert len(channels.in_channel(CHANNEL)) == 2  # worse: repeated here
    assert len(channels.in_channel("C0RISK002")) == 1  # dismissed in the other channel only


# ------------------------------------------------------------------------------------ cut short, failures


def test_a_scan_cut_short_is_finished_without_repeating_a_warning(store, api, channels):
    """A process decided two warnings, posted the first to Slack and died: the next leader posts only the
    second (the first is found in the channel by its metadata key)."""
    sub = risk_sub(store)
    at = utc("2026-01-05T09:00:00")
    scan_key = f"risk:{sub.id}:2026-01-05"
    items = [risky("acme", 30.0, ["red_band"], as_of=day(0)), risky("umbrella", 35.0, ["red_band"], as_of=day(0))]
    assert subs.claim_delivery(store, scan_key, channel_id=CHANNEL, kind="risk", period_key="2026-01-05",
                               claimed_by="dead:7:x", now=at, subscription_id=sub.id, scheduled_for=at)
    plans = subs.record_alerts(store, subscription_id=sub.id, channel_id=CHANNEL, today=day(0),
                               findings=risk_job.findings_for(items), batch=scan_key, claimed_by="dead:7:x", now=at)
    assert [p.account_id for p in plans] == ["acme", "umbrella"]
    live = make_ctx(store, api, SetClock(utc("2026-01-05T09:01:00")), find_at_risk=ScriptedRisk(lambda d: items))
    live.client.chat_postMessage(channel=CHANNEL, text="At risk: Acme Corp (dead process)",
                                 metadata={"event_type": "csbot_delivery",
                                           "event_payload": {"key": plans[0].delivery_key}})
    (outcome,) = scheduler.tick(live)
    assert outcome.action == "recovered" and "1 posted, 1 recovered" in outcome.detail
    texts = [m["text"] for m in channels.in_channel(CHANNEL)]
    assert texts[0] == "At risk: Acme Corp (dead process)" and texts[1].startswith("At risk: Umbrella Corp")
    assert len(texts) == 2
    assert {d.state for d in subs.batch_deliveries(store, scan_key)} == {"posted"}
    assert subs.get_delivery(store, scan_key).state == "posted"


def test_a_warning_that_failed_is_retried_with_the_scan_and_the_others_are_not_reposted(store, api, channels):
    scans = Scans(store, api, channels)
    scans.at_risk[day(0)] = [acme()(day(0)), umbrella()(day(0))]
    api.fail_next("chat.postMessage", status=500, times=3)  # acme's warning: unanswered three times
    (outcome,) = scheduler.tick(scans.ctx)
    assert outcome.action == "retrying"
    assert scans.accounts(scans.posted()) == ["Umbrella Corp"]
    scans.clock.advance(seconds=31)
    (outcome,) = scheduler.tick(scans.ctx)
    assert outcome.action == "recovered" or outcome.action == "posted"
    assert scans.accounts(scans.posted()) == ["Umbrella Corp", "Acme Corp"]
    scans.clock.advance(minutes=10)
    assert scheduler.tick(scans.ctx) == []


def test_from_real_data_one_warning_then_none(store, api, channels):
    load(store, accounts=[account("acme", customer="2025-01-01", owner_slack_id="U0OWNER09")],
         surveys=[survey("r1", "acme", "nps", 3, "2026-01-02T10:00:00")])
    sub = risk_sub(store)
    clock = SetClock(utc("2026-01-05T09:00:00"))
    ctx = make_ctx(store, api, clock)
    assert [o.action for o in scheduler.tick(ctx)] == ["posted"]
    clock.set("2026-01-06T09:00:00")
    assert [o.action for o in scheduler.tick(ctx)] == ["posted"]
    (warning,) = channels.in_channel(CHANNEL)
    assert "<@U0OWNER09>" in json.dumps(warning["blocks"]) and "score 3" in warning["text"]
    rows = subs.account_alerts(store, sub.id, "acme")
    assert [(r.rule_id, r.episode_start, r.last_seen) for r in rows] == [
        ("red_band", day(0), day(1)), ("detractor", day(0), day(1))]
