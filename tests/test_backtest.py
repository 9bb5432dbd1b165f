"""Backtest statistics worked out by hand, snapshots written exactly once, backfill and the CLI (both engines)."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import main
from kpi_core.backtest import auc, auc_interval, backtest, default_range, report_json
from kpi_core.history import backfill, backfill_dates, take_daily_snapshot
from kpi_core.tuning import rescore, split_dates
from kpi_core.types import UserError
from storage.models import HealthSnapshot
from storage.snapshots import SnapshotPair, SnapshotRow, snapshot_of, write_snapshots
from tests.kpi_helpers import UTC_CONFIG, account, d, load, usage

D1, D2 = d("2026-01-01"), d("2026-02-01")


def pair(day, account_id, score, churned_at=None, band=None, rules=(), segment="smb", **components):
    band = band or ("green" if score is not None and score >= 70 else "yellow" if score and score >= 40 else "red")
    return SnapshotPair(SnapshotRow(day, account_id, score, band, components, tuple(rules)), segment,
                        d(churned_at) if churned_at else None, None)


# ------------------------------------------------------------------------------------------------------ AUC


def test_auc_hand_worked_with_ties():
    # churned (lower = riskier): scores 30, 50; others: 50, 70, 90.
    # pairs (churner, other) ranked right: 30 < 50, 30 < 70, 30 < 90, 50 < 70, 50 < 90 = 5; 50 vs 50 tie = 0.5
    # AUC = 5.5 / (2 x 3) = 0.916666...
    assert auc([True, True, False, False, False], [30, 50, 50, 70, 90]) == pytest.approx(11 / 12)
    # all tied: 0.5; one class only: no AUC
    assert auc([True, False, False], [60, 60, 60]) == 0.5
    assert auc([False, False], [1, 2]) is None


def test_auc_interval_hanley_mcneil_by_hand():
    # A = 0.75, 2 churned, 4 others: Q1 = .75/1.25 = .6, Q2 = 2 x .5625 / 1.75 = .642857
    # var = (.1875 + 1 x (.6 - .5625) + 3 x (.642857 - .5625)) / 8 = (.1875 + .0375 + .241071) / 8 = .058259
    lo, hi = auc_interval(0.75, 2, 4)
    se = math.sqrt((0.1875 + 0.0375 + 3 * (2 * 0.5625 / 1.75 - 0.5625)) / 8)
    assert (lo, hi) == (pytest.approx(0.75 - 1.959964 * se), 1.0)  # the upper end is cut at 1
    assert auc_interval(None, 2, 4) is None


def test_backtest_report_hand_worked():
    pairs = [
        # D1 (horizon 90 days: churned in (2026-01-01, 2026-04-01])
        pair(D1, "a", 30, "2026-02-15", rules=("red_band", "usage_drop"), engagement=10, sentiment=50),
        pair(D1, "b", 50, "2026-06-01", engagement=40),  # churns after the horizon: not churned for D1
        pair(D1, "c", 50, None, rules=("detractor",), engagement=60),
        pair(D1, "d", 80, None, segment="ent", engagement=90),
        pair(D2, "b", 45, "2026-04-30", rules=("usage_drop",), engagement=20),  # within 90 days of D2
        pair(D2, "c", 90, None, segment="ent", engagement=95),
        pair(D2, "e", None, None, band="red"),  # no data: counted, never ranked (band stored as given)
    ]
    r = backtest(pairs, 90)
    assert (r.pairs, r.churned, r.unscored, r.snapshots) == (7, 2, 1, (D1, D2))
    # scored pairs: churned 30 (a@D1), 45 (b@D2); others 50, 50, 80, 90 -> every churner below every other
    assert r.auc == 1.0
    assert r.components["engagement"] == 1.0  # 10, 20 vs 40, 60, 90, 95
    assert r.components["sentiment"] is None  # one pair only, churned
    # bands: red = a (30), e (None, stored red); yellow = b@D1 (50), c@D1 (50), b@D2 (45); green = d, c@D2
    assert (r.bands["red"].pairs, r.bands["red"].churned, r.bands["red"].rate) == (2, 1, 0.5)
    assert (r.bands["yellow"].pairs, r.bands["yellow"].churned) == (3, 1)
    assert (r.bands["green"].pairs, r.bands["green"].churned) == (2, 0)
    assert r.base_rate == pytest.approx(2 / 7) and r.red_lift == pytest.approx(0.5 / (2 / 7))
    usage_drop = r.rules["usage_drop"]
    assert (usage_drop.flagged, usage_drop.churned, usage_drop.precision, usage_drop.recall) == (2, 2, 1.0, 1.0)
    assert (r.rules["detractor"].flagged, r.rules["detractor"].precision, r.rules["detractor"].recall) == (1, 0.0, 0.0)
    assert (r.at_risk.flagged, r.at_risk.churned, r.at_risk.precision) == (3, 2, pytest.approx(2 / 3))
    assert r.segments["ent"] == {"auc": None, "pairs": 2, "churned": 0}
    assert r.churned_accounts == 2
    assert r.too_little_history().startswith("Too little history to trust these numbers: 2 account(s) churned")
    out = report_json(r)
    assert list(out)[:9] == ["auc", "auc_ci", "pairs", "churned", "horizon_days", "snapshots", "bands",
                             "components", "rules"]
    assert out["snapshots"] == ["2026-01-01", "2026-02-01"] and out["horizon_days"] == 90
    assert out["bands"]["red"] == {"pairs": 2, "churned": 1, "rate": 0.5}
    assert out["rules"]["usage_drop"] == {"flagged": 2, "churned": 2, "precision": 1.0, "recall": 1.0}
    assert out["components"]["engagement"] == {"auc": 1.0}


def test_not_a_risk_alerts_are_checked_against_churn():
    r = backtest([pair(D1, "a", 30, "2026-02-15")], 90, dismissed=[("a", d("2026-01-10")), ("z", D1)],
                 churn_dates={"a": d("2026-02-15"), "z": None})
    assert (r.dismissed.alerts, r.dismissed.churned) == (2, 1)


def test_dates_and_default_range():
    assert backfill_dates(d("2026-01-31"), d("2026-04-30"), "month") == [
        d("2026-01-31"), d("2026-02-28"), d("2026-03-31"), d("2026-04-30")]
    assert backfill_dates(D1, d("2026-01-15"), "week") == [D1, d("2026-01-08"), d("2026-01-15")]
    with pytest.raises(UserError, match="before --from"):
        backfill_dates(D2, D1)
    # today 2026-11-30, horizon 90: the last date 2026-09-01, the first the 1st of the month 24 months earlier
    assert default_range(d("2026-11-30")) == (d("2024-09-01"), d("2026-09-01"))


def test_tuning_split_is_out_of_time_and_rescore_is_the_health_formula():
    dates = [D1 + dt.timedelta(days=30 * i) for i in range(8)]
    train, valid = split_dates(dates, 90)
    assert valid == dates[-2:]
    # valid from 2026-06-30: training dates up to 2026-04-01 (+90 days = 06-30), the four first
    assert all(t + dt.timedelta(days=90) <= valid[0] for t in train) and train == dates[:4]
    # weights .3 / .2 over engagement 50 and sentiment 100 (others missing): (.3 x 50 + .2 x 100) / .5 = 70
    assert rescore({"engagement": 50, "sentiment": 100, "support": None}, {"engagement": .3, "sentiment": .2}) == 70


def test_red_threshold_by_f1_by_hand():
    from kpi_core.tuning import best_red_cut

    # churned: 22, 38, 58; others: 33, 61, 80, 90. cut 25: 1 flagged, 1 hit -> P 1, R 1/3, F1 .5
    # cut 35 or 40: {22, 33} or {22, 33, 38} -> F1 .4 / .667; cut 60: {22, 33, 38, 58} -> P .75, R 1, F1 .857
    # cut 45-55 = cut 40 (.667); 60 is best (below green 70)
    assert best_red_cut([22, 38, 58, 33, 61, 80, 90], [True, True, True, False, False, False, False], 70) == 60.0
    # below green 50 only (20-45): cut 40 = cut 45 = {22, 33, 38}, F1 .667; a tie keeps the lower cut
    assert best_red_cut([22, 38, 58, 33], [True, True, True, False], 50) == 40.0


# ------------------------------------------------------------------------------------------------ snapshots


def _row(day, account_id, score=80.0):
    return SnapshotRow(day, account_id, score, "green", {"engagement": score}, ("usage_drop",))


def test_a_days_snapshot_is_written_exactly_once(store):
    load(store, accounts=[account("a", customer="2025-01-01"), account("b", customer="2025-01-01")])
    assert write_snapshots(store, D1, [_row(D1, "a"), _row(D1, "b")], "daily")
    assert not write_snapshots(store, D1, [_row(D1, "a", 10.0)], "daily")  # the day has rows: nothing changes
    with store.connect() as conn:
        rows = snapshot_of(conn, D1)
    assert rows["a"].score == 80.0 and rows["a"].rules == ("usage_drop",) and len(rows) == 2


def test_daily_snapshot_and_backfill_store_the_same_scoring(store):
    load(store, accounts=[account("a", customer="2025-01-01", renewal_date="2026-12-01"),
                          account("t", signed="2025-12-20")],  # a trial: not a customer, not stored
         usage=[usage("a", "u1", "2025-12-20T10:00:00"), usage("a", "u2", "2026-01-20T10:00:00")])
    assert take_daily_snapshot(store, D2, UTC_CONFIG)
    assert not take_daily_snapshot(store, D2, UTC_CONFIG)
    result = backfill(store, [D1, D2], UTC_CONFIG, today=d("2026-03-01"))
    assert (result.written, result.existing) == ((D1,), (D2,))
    with store.connect() as conn:
        day1, day2 = snapshot_of(conn, D1), snapshot_of(conn, D2)
        count = conn.execute(select(func.count()).select_from(HealthSnapshot)).scalar_one()
        sources = dict(conn.execute(select(HealthSnapshot.snapshot_date, HealthSnapshot.source)).all())
    assert count == 2 and set(day1) == {"a"} and sources == {D1: "backfill", D2: "daily"}
    # D1 (past, point in time): engagement only. events: last 30 days [12-03, 01-01] = 1, the 30 before = 0
    # -> trend 100; users 1 of 1 seat -> 100; lifecycle missing (no renewal for a past day, no ttv) -> 100
    assert day1["a"].score == 100.0 and day1["a"].components["lifecycle"] is None
    # D2 (the daily snapshot, today): renewal used (303 days away -> 100; ttv tracked, not reached -> 0) -> 50
    assert day2["a"].components["lifecycle"] == 50.0


# ------------------------------------------------------------------------------------------------------ CLI


@pytest.fixture
def demo_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(main, ["demo-data", "--accounts", "200", "--as-of", "2026-11-30", "--db", url])
    assert result.exit_code == 0, result.output
    return url


def test_backtest_cli_json_scores_out_and_chart(demo_db, tmp_path):
    scores, chart = tmp_path / "pairs.csv", tmp_path / "chart.png"
    result = CliRunner().invoke(main, ["backtest", "--json", "--as-of", "2026-11-30", "--db", demo_db,
                                       "--scores-out", str(scores), "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["horizon_days"] == 90 and out["snapshots"][0] == "2024-09-01" and len(out["snapshots"]) == 25
    lines = scores.read_text().splitlines()
    assert lines[0] == "date,account_id,score,band,rules,churned_within_horizon" and len(lines) == out["pairs"] + 1
    assert sum(line.endswith(",1") for line in lines[1:]) == out["churned"]
    assert out["auc"] > 0.6  # the demo's churners decline before they churn: the score separates them
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = CliRunner().invoke(main, ["backtest", "--json", "--as-of", "2026-11-30", "--db", demo_db])
    assert json.loads(again.stdout.strip().splitlines()[-1]) == out  # snapshots stored once, read back the same


def test_backtest_cli_says_too_little_history_and_bad_input(demo_db):
    result = CliRunner().invoke(main, ["backtest", "--from", "2026-07-01", "--to", "2026-08-01",
                                       "--as-of", "2026-11-30", "--db", demo_db])
    assert result.exit_code == 0 and "Too little history to trust these numbers" in result.stdout
    late = CliRunner().invoke(main, ["backtest", "--from", "2026-10-01", "--to", "2026-11-15",
                                     "--as-of", "2026-11-30", "--db", demo_db])
    assert late.exit_code == 1 and "no outcome can be known yet" in late.output
    bad = CliRunner().invoke(main, ["health-backfill", "--from", "2026-13-01", "--to", "2026-11-01",
                                    "--db", demo_db])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


def test_health_backfill_and_tune_health_cli(demo_db):
    result = CliRunner().invoke(main, ["health-backfill", "--from", "2026-10-05", "--to", "2026-10-19",
                                       "--as-of", "2026-11-30", "--db", demo_db])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Stored 3 snapshot day(s)")
    tuned = CliRunner().invoke(main, ["tune-health", "--bands", "--as-of", "2026-11-30", "--db", demo_db])
    assert tuned.exit_code == 0, tuned.output
    assert "AUC (validation)" in tuned.stdout and "health:\n  weights:\n    engagement:" in tuned.stdout


# ------------------------------------------------------------------------------------------------ scheduler


def test_the_leaders_snapshot_job_stores_each_day_once(store):
    from bot.jobs import scheduler, snapshot_job
    from bot.jobs.leader import LocalLeader
    from tests.jobs_helpers import SetClock, make_ctx, utc
    from tests.slack_wire import FakeSlackApi

    load(store, accounts=[account("a", customer="2025-01-01")], usage=[usage("a", "u1", "2026-01-02T10:00:00")])
    with FakeSlackApi() as api:
        clock = SetClock(utc("2026-01-05T23:30:00"))
        ctx = make_ctx(store, api, clock)
        assert snapshot_job.snapshot_day(ctx) == d("2026-01-05")
        assert snapshot_job.run(ctx) and not snapshot_job.run(ctx)  # once a day
        clock.now = utc("2026-01-06T00:30:00")
        assert snapshot_job.run(ctx)  # the next day
        standby = scheduler.SchedulerService(make_ctx(store, api, SetClock(utc("2026-01-07T10:00:00"))),
                                             LocalLeader(), tick_seconds=3600)
        standby._snapshot()  # not leading: nothing stored
        with store.connect() as conn:
            days = conn.execute(select(HealthSnapshot.snapshot_date).distinct()).scalars().all()
        assert sorted(days) == [d("2026-01-05"), d("2026-01-06")]
        leader = scheduler.SchedulerService(make_ctx(store, api, SetClock(utc("2026-01-07T10:00:00"))),
                                            LocalLeader(), tick_seconds=3600)
        leader._leading = leader.leader.try_acquire()
        leader._snapshot()
        with store.connect() as conn:
            assert snapshot_of(conn, d("2026-01-07"))["a"].score is not None
        leader.leader.release()


# ------------------------------------------------------------------------------- trends and movers read snapshots


def test_digest_movers_and_health_trend_read_snapshots_when_present(store):
    from kpi_core.digest import build_digest
    from kpi_core.health import account_health

    # one customer whose only data is lifecycle (ttv reached) -> 100 on every day when scored
    load(store, accounts=[account("a", name="Acme", customer="2025-01-01", first_value_at="2025-02-01")])
    today = d("2026-11-23")  # the digest covers 2026-11-16 .. 2026-11-22; "before" is 2026-11-15
    first = build_digest(store, today, UTC_CONFIG, ["customers"])
    assert first.movers == ()  # 100 -> 100: no move
    # the snapshot of 2026-11-15 says 60 (what csbot said then): the digest shows the move from it
    assert write_snapshots(store, d("2026-11-15"), [SnapshotRow(d("2026-11-15"), "a", 60.0, "yellow")], "daily")
    (mover,) = build_digest(store, today, UTC_CONFIG, ["customers"]).movers
    assert (mover.account.id, mover.before, mover.after, mover.change) == ("a", 60.0, 100.0, 40.0)
    # the weekly trend of /health takes the stored point, scores the others
    with store.connect() as conn:
        h = account_health(conn, "a", d("2026-11-29"), UTC_CONFIG)
    assert h.trend == ((d("2026-11-08"), 100.0), (d("2026-11-15"), 60.0), (d("2026-11-22"), 100.0),
                       (d("2026-11-29"), 100.0))


def test_renewal_view_by_band_60_to_90_days_before():
    def at(day, account_id, band, renewal, churned=None):
        return SnapshotPair(SnapshotRow(d(day), account_id, 50.0, band), "smb", d(churned) if churned else None,
                            d(renewal))

    pairs = [
        at("2026-01-01", "r1", "red", "2026-03-15", churned="2026-03-20"),  # 73 days before; churned 5 days after
        at("2026-02-01", "r1", "yellow", "2026-03-15", churned="2026-03-20"),  # 42 days before: too late
        at("2026-01-01", "r2", "green", "2026-03-20"),  # 78 days before: renewed (never churned)
        at("2026-01-01", "r3", "green", "2026-06-30"),  # 180 days before: no band in the window, not counted
        at("2026-01-01", "r4", "red", "2026-03-05", churned="2026-05-01"),  # 63 days before; churned 57 after: renewed
    ]
    r = backtest(pairs, 90)
    assert r.renewals.by_band == {"red": {"renewed": 1, "churned": 1}, "green": {"renewed": 1, "churned": 0}}


def test_not_a_risk_alerts_are_read_from_the_store(store):
    from storage.models import RiskAlert, Subscription
    from storage.snapshots import dismissed_alerts

    load(store, accounts=[account("a", customer="2025-01-01")])
    at = dt.datetime(2026, 1, 10, 9, 0)
    with store.begin() as conn:
        sub_id = conn.execute(Subscription.__table__.insert().values(
            team_id="T1", channel_id="C1", kind="risk", at_time="08:00", timezone="UTC", cadence="week",
            created_at=at, schedule_since=at, active=True, status="ok")).inserted_primary_key[0]
        for rule, state in (("usage_drop", "dismissed"), ("detractor", "open")):
            conn.execute(RiskAlert.__table__.insert().values(
                subscription_id=sub_id, account_id="a", rule_id=rule, episode_start=D1, severity=1.0,
                last_seen=D1, state=state, acted_at=at if state == "dismissed" else None))
    with store.connect() as conn:
        assert dismissed_alerts(conn) == [("a", d("2026-01-10"))]
