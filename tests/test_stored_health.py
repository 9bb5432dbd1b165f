"""Stored health scorings (kpi_core/stored_health.py, storage/scorings.py, storage/account_changes.py).

Every test runs on SQLite and Postgres. The property that matters: whatever was written since, a scoring read
from the store equals scoring every account from scratch, and only the accounts written since are scored again.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

import kpi_core.stored_health as stored_health
from kpi_core.config import HealthConfig, KpiConfig
from kpi_core.context import customer_on
from kpi_core.health import score_accounts, score_where
from kpi_core.scoring_cache import SCORING_CACHE
from kpi_core.types import Scope
from storage import scorings
from storage.models import Account, account_changes, health_scorings
from storage.rollups import ensure_fresh, rebuild_rollups
from tests.kpi_helpers import UTC_CONFIG, account, d, load, revenue, survey, ticket, usage

AS_OF = d("2026-03-31")


def at(days_back: int) -> str:
    return f"{(AS_OF - dt.timedelta(days=days_back)).isoformat()}T10:00:00"


def book(store) -> None:
    """Five customers, a trial and a churned account, with every kind of health input."""
    ids = [f"a{i}" for i in range(5)]
    load(
        store,
        accounts=[account(a, customer="2025-06-01", renewal_date="2026-05-01", segment="smb" if i % 2 else "ent",
                          owner_slack_id=f"U{i % 2}") for i, a in enumerate(ids)]
        + [account("t", signed="2026-03-01"), account("c", customer="2025-01-01", churned="2026-02-01")],
        usage=[usage(a, f"u{k}", at(k * 7 + i)) for i, a in enumerate(ids) for k in range(6)],
        surveys=[survey(f"s{i}", a, "nps", 3 + i, at(10 + i)) for i, a in enumerate(ids)],
        tickets=[ticket(f"k{i}", a, at(20 + i)) for i, a in enumerate(ids)],
        revenue=[revenue(a, m, 100 + 10 * i) for i, a in enumerate(ids) for m in ("2025-12", "2026-03")],
    )


class Spy:
    """Counts the accounts stored_health scores anew (the others were read back from the store)."""

    def __init__(self, monkeypatch) -> None:
        self.scored: list[str] = []
        real = stored_health._score

        def spy(*args, **kwargs):
            found = real(*args, **kwargs)
            self.scored += [h.account.id for h in found]
            return found

        monkeypatch.setattr(stored_health, "_score", spy)

    def take(self) -> list[str]:
        out, self.scored = sorted(self.scored), []
        return out


def everyone(store, config: KpiConfig = UTC_CONFIG, as_of: dt.date = AS_OF, today: dt.date | None = None,
             warm: bool = False):
    """What a new process answers (or, `warm`, this process with its copy brought up to date)."""
    SCORING_CACHE.clear()
    if not warm:
        stored_health.forget()
    with store.connect() as conn:
        return score_accounts(conn, as_of, config, customers_only=False, today=today)


def from_scratch(store, config: KpiConfig = UTC_CONFIG, as_of: dt.date = AS_OF, today: dt.date | None = None):
    with store.connect() as conn:
        return score_where(conn, as_of, config, [], today)


def change_versions(store) -> dict[str, int]:
    with store.connect() as conn:
        return dict(conn.execute(select(account_changes.c.account_id, account_changes.c.version)).all())


def test_first_question_scores_everyone_and_a_new_process_reads_them_back(store, monkeypatch):
    book(store)
    spy = Spy(monkeypatch)
    first = everyone(store)
    assert spy.take() == ["a0", "a1", "a2", "a3", "a4", "c", "t"]
    again = everyone(store)
    assert spy.take() == []
    assert again == first == from_scratch(store)
    with store.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(health_scorings)) >= 7


@pytest.mark.parametrize("warm", [False, True], ids=["new process", "same process"])
def test_each_kind_of_write_rescores_exactly_the_accounts_it_touched(store, monkeypatch, warm):
    book(store)
    everyone(store)
    spy = Spy(monkeypatch)
    writes = [
        (lambda: load(store, surveys=[survey("new", "a1", "nps", 0, at(1))]), ["a1"]),
        (lambda: load(store, tickets=[ticket("new", "a2", at(2))]), ["a2"]),
        (lambda: load(store, revenue=[revenue("a3", "2026-02", 50)]), ["a3"]),
        (lambda: load(store, usage=[usage("a4", "zz", at(0))]), ["a4"]),
        (lambda: _sql(store, "UPDATE accounts SET renewal_date = NULL WHERE account_id = 'a0'"), ["a0"]),
        (lambda: _sql(store, "DELETE FROM tickets WHERE account_id = 'a2'"), ["a2"]),
        (lambda: _sql(store, "UPDATE surveys SET score = 10 WHERE account_id IN ('a0', 'a3')"), ["a0", "a3"]),
        (lambda: load(store, accounts=[account("n", customer="2026-03-01")]), ["n"]),
    ]
    for write, touched in writes:
        write()
        assert everyone(store, warm=warm) == from_scratch(store)
        assert spy.take() == touched


@pytest.mark.parametrize("warm", [False, True], ids=["new process", "same process"])
def test_a_deleted_account_leaves_the_answer(store, warm):
    book(store)
    everyone(store)
    _sql(store, "DELETE FROM surveys WHERE account_id = 'a4'", "DELETE FROM tickets WHERE account_id = 'a4'",
         "DELETE FROM revenue WHERE account_id = 'a4'", "DELETE FROM usage_events WHERE account_id = 'a4'",
         "DELETE FROM accounts WHERE account_id = 'a4'")
    found = everyone(store, warm=warm)
    assert [h.account.id for h in found] == ["a0", "a1", "a2", "a3", "c", "t"]
    assert found == from_scratch(store)


def test_scopes_and_populations_are_taken_from_everyone(store):
    book(store)
    SCORING_CACHE.clear()
    with store.connect() as conn:
        customers = score_accounts(conn, AS_OF, UTC_CONFIG)
        smb = score_accounts(conn, AS_OF, UTC_CONFIG, Scope(segment="smb"))
        assert [h.account.id for h in customers] == ["a0", "a1", "a2", "a3", "a4"]
        assert [h.account.id for h in smb] == ["a1", "a3"]
        assert smb == score_where(conn, AS_OF, UTC_CONFIG, [Account.segment == "smb", customer_on(AS_OF)])


def test_settings_code_and_date_each_have_their_own_scoring(store, monkeypatch):
    book(store)
    everyone(store)
    spy = Spy(monkeypatch)
    strict = KpiConfig("UTC", 1.0, HealthConfig({}, 80, 50))
    assert everyone(store, strict) == from_scratch(store, strict)
    assert len(spy.take()) == 7
    past = AS_OF - dt.timedelta(days=14)  # renewal dates left out: a key of its own
    assert everyone(store, as_of=past, today=AS_OF) == from_scratch(store, as_of=past, today=AS_OF)
    assert len(spy.take()) == 7
    assert everyone(store, strict) == from_scratch(store, strict)
    assert spy.take() == []


def test_a_rollup_rebuild_scores_everyone_again(store, monkeypatch):
    book(store)
    everyone(store)
    spy = Spy(monkeypatch)
    with store.begin() as conn:
        rebuild_rollups(conn, "UTC")
    assert everyone(store) == from_scratch(store)
    assert len(spy.take()) == 7


def test_uncommitted_writes_are_scored_but_never_stored(store):
    book(store)
    everyone(store)
    with store.connect() as conn:
        conn.execute(text("INSERT INTO surveys (response_id, account_id, survey, score, responded_at)"
                          " VALUES ('tmp', 'a0', 'nps', 0, :at)"), {"at": dt.datetime(2026, 3, 30, 10)})
        SCORING_CACHE.clear()
        seen = {h.account.id: h for h in score_accounts(conn, AS_OF, UTC_CONFIG)}
        assert seen["a0"].component("sentiment").facts["detractors"] == 2
        conn.rollback()
    after = {h.account.id: h for h in everyone(store)}
    assert after["a0"].component("sentiment").facts["detractors"] == 1


def test_triggers_record_changes_at_a_version_above_any_read_before(store):
    book(store)
    with store.connect() as conn:
        before = ensure_fresh(conn, "UTC").version
    load(store, surveys=[survey("x", "a1", "csat", 5, at(1))])
    versions = change_versions(store)
    with store.connect() as conn:
        after = ensure_fresh(conn, "UTC").version
    assert before < versions["a1"] <= after
    assert all(v <= before for a, v in versions.items() if a != "a1")
    load(store, usage=[usage("a2", "u9", at(0))])
    with store.connect() as conn:
        latest = ensure_fresh(conn, "UTC").version  # the refresh records the usage writer's accounts
    assert after < change_versions(store)["a2"] <= latest


def test_only_the_latest_sets_are_kept(store, monkeypatch):
    monkeypatch.setattr(scorings, "MAX_SETS", 2)
    book(store)
    for back in (3, 2, 1):
        everyone(store, as_of=AS_OF - dt.timedelta(days=back))
    with store.connect() as conn:
        kept = set(conn.scalars(select(health_scorings.c.as_of).distinct()))
    assert kept == {AS_OF - dt.timedelta(days=2), AS_OF - dt.timedelta(days=1)}


def test_a_failed_store_still_answers(store, monkeypatch, caplog):
    book(store)
    SCORING_CACHE.clear()

    def refuse(*args, **kwargs):
        raise SQLAlchemyError("read-only")

    monkeypatch.setattr(stored_health, "store", refuse)
    assert everyone(store) == from_scratch(store)
    assert "not stored" in caplog.text


def test_encoding_round_trips_every_field(store):
    book(store)
    for h in from_scratch(store):
        assert stored_health.decode(stored_health.encode(h), h.as_of) == h


def _sql(store, *statements: str) -> None:
    with store.begin() as conn:
        for s in statements:
            conn.execute(text(s))


def test_a_process_takes_rows_another_process_stored(store, monkeypatch):
    book(store)
    everyone(store, warm=True)
    mine = dict(stored_health._LIVE)  # this process's copy, before the write
    load(store, surveys=[survey("other", "a2", "nps", 10, at(1))])
    everyone(store)  # "another process" (no copy) scores a2 again and stores it
    stored_health._LIVE.clear()
    stored_health._LIVE.update(mine)
    spy = Spy(monkeypatch)
    assert everyone(store, warm=True) == from_scratch(store)
    assert spy.take() == []  # a2's stored row was current: read, not scored
