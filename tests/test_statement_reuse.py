"""Reused KPI statements (kpi_core.statements) answer exactly as freshly built ones, on SQLite and Postgres.

Each KPI is asked a question, then another of the same shape (which scope filters are present) with other values:
other dates, time zone, segment, owner or account. The second answer, given by the statements the first one built,
must equal the answer computed after every built statement is forgotten: a value baked into a reused statement, or a
statement shared across shapes, fails here.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from kpi_core import statements
from kpi_core.breakdowns import breakdown
from kpi_core.config import KpiConfig
from kpi_core.engine import list_kpis, query
from kpi_core.types import AccountRef, KpiRequest, Scope, UserError
from storage.demo_data import write_demo_csvs
from storage.importer import import_paths
from storage.models import Account
from tests.kpi_helpers import UTC_CONFIG, period

NEW_YORK = KpiConfig("America/New_York")
Q1, Q4 = period("2026-01-01", "2026-03-31"), period("2025-10-01", "2025-12-31")
MID_MONTHS = period("2025-11-10", "2026-01-20")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    write_demo_csvs(out, accounts=80, seed=5, as_of=dt.date(2026, 3, 31), usage_scale=0.01)
    return out


def _answer(store: Engine, kpi: str, question: tuple) -> object:
    """The KPI's answer to (period, scope, config), or the user error it raises."""
    the_period, scope, config = question
    try:
        return query(store, KpiRequest(kpi, the_period, scope), config)
    except UserError as error:
        return f"UserError: {error}"


def _pairs(store: Engine) -> list[tuple[tuple, tuple]]:
    """(first, second) questions of the same shape with different values."""
    with store.connect() as conn:
        rows = conn.execute(select(Account.account_id, Account.name, Account.segment, Account.owner_slack_id)
                            .order_by(Account.account_id)).all()
    segments = sorted({r.segment for r in rows if r.segment})
    owners = sorted({r.owner_slack_id for r in rows if r.owner_slack_id})
    pairs_of = {(r.segment, r.owner_slack_id) for r in rows if r.segment and r.owner_slack_id}
    (s1, o1), (s2, o2) = sorted(pairs_of)[0], sorted(pairs_of)[-1]
    a1, a2 = (AccountRef(r.account_id, r.name) for r in (rows[0], rows[-1]))
    assert len(segments) >= 2 and len(owners) >= 2 and (s1, o1) != (s2, o2)
    return [
        ((Q1, Scope(), UTC_CONFIG), (Q4, Scope(), UTC_CONFIG)),
        ((Q1, Scope(), UTC_CONFIG), (Q1, Scope(), NEW_YORK)),
        ((Q4, Scope(), UTC_CONFIG), (MID_MONTHS, Scope(), UTC_CONFIG)),
        ((Q1, Scope(segment=segments[0]), UTC_CONFIG), (Q4, Scope(segment=segments[1]), UTC_CONFIG)),
        ((Q1, Scope(owner=owners[0]), UTC_CONFIG), (Q1, Scope(owner=owners[-1]), UTC_CONFIG)),
        ((Q4, Scope(segment=s1, owner=o1), UTC_CONFIG), (Q1, Scope(segment=s2, owner=o2), UTC_CONFIG)),
        ((Q1, Scope(account=a1), UTC_CONFIG), (Q4, Scope(account=a2), UTC_CONFIG)),
    ]


def test_every_kpi_asked_again_with_other_values_answers_as_if_built_afresh(store: Engine, demo_dir: Path) -> None:
    import_paths(store, [demo_dir])
    pairs = _pairs(store)
    for kdef in list_kpis():
        for first, second in pairs:
            _answer(store, kdef.id, first)
            reused = _answer(store, kdef.id, second)
            statements.clear()
            assert reused == _answer(store, kdef.id, second), (kdef.id, first, second)


def test_breakdowns_asked_again_for_another_period_answer_as_if_built_afresh(store: Engine, demo_dir: Path) -> None:
    import_paths(store, [demo_dir])
    for kdef in list_kpis():
        if kdef.grouped is None:
            continue
        for by in ("segment", "owner"):
            breakdown(store, KpiRequest(kdef.id, Q1), by, UTC_CONFIG)
            reused = breakdown(store, KpiRequest(kdef.id, MID_MONTHS), by, UTC_CONFIG)
            statements.clear()
            assert reused == breakdown(store, KpiRequest(kdef.id, MID_MONTHS), by, UTC_CONFIG), (kdef.id, by)


def test_threads_sharing_built_statements_answer_as_one_thread_does(store: Engine, demo_dir: Path) -> None:
    """The bot answers on a thread pool: statements built and reused concurrently give the sequential answers."""
    import_paths(store, [demo_dir])
    reused = [k.id for k in list_kpis() if not k.uses_feature and k.id != "health"]  # the KPIs that reuse statements
    questions = [(kpi, q) for kpi in reused for pair in _pairs(store) for q in pair]
    statements.clear()
    expected = [_answer(store, kpi, q) for kpi, q in questions]
    statements.clear()
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda kq: _answer(store, *kq), questions))
    assert answers == expected


def test_a_statement_is_built_once_per_shape(store: Engine) -> None:
    statements.clear()
    query(store, KpiRequest("retention", Q1), UTC_CONFIG)
    built = statements.built_count()
    assert built >= 1
    query(store, KpiRequest("retention", Q4, Scope()), UTC_CONFIG)
    assert statements.built_count() == built  # same shape: nothing new
    query(store, KpiRequest("retention", Q4, Scope(segment="smb")), UTC_CONFIG)
    assert statements.built_count() == built + 1  # a segment filter is another shape


def test_a_value_left_out_is_an_error_not_a_stale_value(store: Engine) -> None:
    from kpi_core.context import Shape
    from kpi_core.kpis.customers import _movement_statement

    with store.connect() as conn, pytest.raises(Exception, match="value is required for bind parameter"):
        conn.execute(_movement_statement(Shape(segment=True)), {"start": Q1.start, "end": Q1.end,
                                                                "before": Q1.start - dt.timedelta(days=1)})
