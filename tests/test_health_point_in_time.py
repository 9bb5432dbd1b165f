"""Point-in-time health: no look-ahead, on SQLite and Postgres.

The strong test: the demo data set loaded whole, and the same data cut at a date D (every row dated after D
removed, every account date after D emptied, renewal dates emptied since they have no history), give identical
scores, bands, components, drivers and fired risk rules as of D for every account.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from kpi_core.health import RENEWAL_LEFT_OUT, account_health, score_accounts
from kpi_core.risk import score_with_rules
from storage.demo_data import write_demo_csvs
from storage.importer import import_paths
from tests.conftest import clear_store
from tests.kpi_helpers import UTC_CONFIG, account, d, load, usage

DEMO_AS_OF = d("2026-11-30")
TODAY = DEMO_AS_OF
CUTS = (d("2025-12-14"), d("2026-06-30"))


def _cut_csvs(src: Path, dst: Path, cut: dt.date) -> list[Path]:
    """The demo CSVs as they would have been exported at the end of `cut` (UTC)."""
    dst.mkdir(parents=True, exist_ok=True)
    end = pd.Timestamp(cut + dt.timedelta(days=1), tz="UTC")
    day = pd.Timestamp(cut)

    def dates_after(frame, col):
        return pd.to_datetime(frame[col]) > day

    def stamps_after(frame, col):
        return pd.to_datetime(frame[col], utc=True) >= end

    out = []
    for path in sorted(src.glob("*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        kind = path.stem
        if kind == "accounts":
            frame = frame[~dates_after(frame, "signed_up_at")].copy()
            for col in ("became_customer_at", "first_value_at", "churned_at"):
                known = frame[col] != ""
                frame.loc[known & dates_after(frame.where(known, "1900-01-01"), col), col] = ""
            frame["renewal_date"] = ""
        elif kind in ("revenue", "costs"):
            frame = frame[pd.to_datetime(frame["month"] + "-01") <= day]
        elif kind == "invoices":
            frame = frame[~dates_after(frame, "issued_at")]
        elif kind == "surveys":
            frame = frame[~stamps_after(frame, "responded_at")]
        elif kind == "usage":
            frame = frame[~stamps_after(frame, "occurred_at")]
        elif kind == "tickets":
            frame = frame[~stamps_after(frame, "opened_at")].copy()
            resolved = frame["resolved_at"] != ""
            late = resolved & stamps_after(frame.where(resolved, "1900-01-01T00:00:00Z"), "resolved_at")
            frame.loc[late, "resolved_at"] = ""
        target = dst / path.name
        frame.to_csv(target, index=False)
        out.append(target)
    return out


def _comparable(h) -> tuple:
    return (h.account.id, h.status, h.score, h.band, h.missing, h.drivers, h.trend,
            tuple((c.name, c.score, c.weight, c.detail, tuple(sorted(c.facts.items()))) for c in h.components))


def _everything(store, day: dt.date, card_ids: list[str] | None = None) -> tuple[dict, dict, dict]:
    with store.connect() as conn:
        every = {h.account.id: _comparable(h)
                 for h in score_accounts(conn, day, UTC_CONFIG, customers_only=False, today=TODAY)}
        rules = {a.health.account.id: (_comparable(a.health), tuple((r.id, r.text) for r in a.rules))
                 for a in score_with_rules(conn, day, UTC_CONFIG, today=TODAY)}
        ids = card_ids if card_ids is not None else sorted(every)[:12]
        cards = {i: _comparable(account_health(conn, i, day, UTC_CONFIG, today=TODAY)) for i in ids}
    return every, rules, cards


@pytest.fixture(scope="module")
def demo_csvs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    write_demo_csvs(folder, accounts=70, seed=11, as_of=DEMO_AS_OF)
    return folder


@pytest.mark.parametrize("cut", CUTS, ids=str)
def test_full_store_and_store_cut_at_d_score_identically_as_of_d(store, demo_csvs, tmp_path, cut):
    import_paths(store, _cut_csvs(demo_csvs, tmp_path / "cut", cut), reporting_tz="UTC")
    cut_every, cut_rules, cut_cards = _everything(store, cut)
    clear_store(store)
    import_paths(store, sorted(demo_csvs.glob("*.csv")), reporting_tz="UTC")
    full_every, full_rules, full_cards = _everything(store, cut, list(cut_cards))

    assert len(cut_every) >= 20 and sum(1 for _, fired in cut_rules.values() if fired) >= 1  # the test has teeth
    assert full_every.keys() >= cut_every.keys()
    for account_id, expected in cut_every.items():
        assert full_every[account_id] == expected, account_id
    later = set(full_every) - set(cut_every)
    assert all(full_every[a][1] == "not_signed_up" for a in later)  # signed up after the cut: not scored
    assert full_rules == cut_rules
    assert full_cards == cut_cards


def test_not_yet_signed_up_account_says_so_and_has_no_score(store):
    # the example: an account that signed up in October 2026, asked about 2026-06-30
    load(store, accounts=[account("a001", name="Acme", signed="2026-10-01", customer="2026-10-15",
                                  first_value_at="2026-11-20", renewal_date="2027-10-15")],
         usage=[usage("a001", "u1", "2026-11-02T10:00:00")])
    with store.connect() as conn:
        h = account_health(conn, "a001", d("2026-06-30"), UTC_CONFIG, today=TODAY)
    assert (h.status, h.score, h.band, h.drivers) == ("not_signed_up", None, None, ())
    assert h.status_note == "Acme was not a customer on 2026-06-30: it signed up on 2026-10-01."
    assert h.trend == ((d("2026-06-09"), None), (d("2026-06-16"), None), (d("2026-06-23"), None),
                       (d("2026-06-30"), None))


def test_trial_and_churned_states_as_of_a_past_day(store):
    load(store, accounts=[
        account("t", name="Trialco", signed="2026-01-01", customer="2026-05-01", first_value_at="2026-04-20"),
        account("c", name="Gone", signed="2025-01-01", customer="2025-02-01", churned="2026-03-01",
                first_value_at="2025-02-10"),
    ])
    with store.connect() as conn:
        trial = account_health(conn, "t", d("2026-03-31"), UTC_CONFIG, today=TODAY, with_trend=False)
        gone = account_health(conn, "c", d("2026-03-01"), UTC_CONFIG, today=TODAY, with_trend=False)
        before = account_health(conn, "c", d("2026-02-28"), UTC_CONFIG, today=TODAY, with_trend=False)
    # in trial on 2026-03-31: scored, said so; first value came later (2026-04-20), so not reached yet, and the
    # days count from sign-up (89 days), not from a customer date that was still in the future
    assert trial.status == "trial"
    assert trial.status_note == "Trialco was not a customer on 2026-03-31 (in trial since 2026-01-01)."
    lifecycle = trial.component("lifecycle")
    assert lifecycle.score == 0.0  # tracked (another account reached value by then), 89 days > 30: 0
    assert lifecycle.detail == "time to value not reached after 89 days since sign-up"
    assert (gone.status, gone.score) == ("churned", None)
    assert gone.status_note == "Gone was no longer a customer on 2026-03-01: it churned on 2026-03-01."
    assert before.status == "customer" and before.score == 100.0  # only lifecycle: ttv reached


def test_renewal_date_left_out_for_past_dates_and_said_so(store):
    load(store, accounts=[account("r", signed="2025-01-01", customer="2025-01-01", renewal_date="2026-12-20")])
    with store.connect() as conn:
        now = account_health(conn, "r", TODAY, UTC_CONFIG, today=TODAY, with_trend=False)
        past = account_health(conn, "r", d("2026-11-01"), UTC_CONFIG, today=TODAY, with_trend=False)
    # today: renews in 20 days: 50 + 50 x 20/90 = 61.1; ttv tracked by the renewal date, not reached: 0 -> 30.6
    assert now.component("lifecycle").score == 30.6 and now.left_out == ()
    # a past day: no renewal part; nobody in the store has a first_value_at, so ttv is not tracked either
    assert past.component("lifecycle").score is None
    assert past.left_out == (RENEWAL_LEFT_OUT,)
    assert past.score is None and "lifecycle" in past.missing


def test_the_answer_says_so_in_json_slack_and_terminal(store):
    from rich.console import Console

    from bot.render.blocks import answer_blocks, blocks_json
    from bot.render.json_out import answer_to_json
    from bot.render.terminal import render
    from kpi_core.answers import ask

    load(store, accounts=[account("a001", name="Acme", signed="2026-10-01", customer="2026-10-15",
                                  renewal_date="2027-10-15"),
                          account("old", name="Oldco", customer="2025-01-01", renewal_date="2027-01-01",
                                  first_value_at="2025-01-10")])
    answer = ask(store, "/health a001 2026-06-30", TODAY, UTC_CONFIG)
    out = answer_to_json(answer)
    assert (out["value"], out["band"], out["status"]) == (None, None, "not_signed_up")
    assert out["status_note"] == "Acme was not a customer on 2026-06-30: it signed up on 2026-10-01."
    slack = str(blocks_json(answer_blocks(answer)))
    assert "Acme was not a customer on 2026-06-30" in slack and "weight" not in slack
    past = answer_to_json(ask(store, "/health oldco 2026-06-30", TODAY, UTC_CONFIG))
    assert past["left_out"] == [RENEWAL_LEFT_OUT] and past["value"] == 100.0  # ttv reached: 100
    console = Console(width=200, record=True)
    console.print(render(ask(store, "/health oldco 2026-06-30", TODAY, UTC_CONFIG)))
    assert "Left out: renewal date: not used for a past date" in console.export_text()


def test_backfill_stores_exactly_what_score_with_rules_gives(store, demo_csvs):
    """The backfill reuses a day's scores as the 14-days-earlier scores of a later day: nothing may change."""
    from kpi_core.history import backfill, backfill_dates, snapshot_rows
    from storage.snapshots import snapshot_of

    import_paths(store, sorted(demo_csvs.glob("*.csv")), reporting_tz="UTC")
    days = backfill_dates(d("2026-05-04"), d("2026-06-29"), "week") + [d("2026-07-13")]
    result = backfill(store, days, UTC_CONFIG, TODAY)
    assert result.written == tuple(days)
    fired = 0
    with store.connect() as conn:
        for day in days:
            expected = {r.account_id: r for r in snapshot_rows(score_with_rules(conn, day, UTC_CONFIG, today=TODAY))}
            assert snapshot_of(conn, day) == expected, day
            fired += sum(1 for r in expected.values() if "health_drop" in r.rules)
    assert fired >= 1  # the health-drop rule, the one that reads the kept scores, fired somewhere
