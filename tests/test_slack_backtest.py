"""`/health backtest` at the wire: the real app on loopback, signed requests, the Slack stand-in (both engines)."""

from __future__ import annotations

import json

import pytest

from bot.services import Services
from storage.demo_data import write_demo_csvs
from storage.importer import import_paths
from tests.kpi_helpers import account, load, usage
from tests.slack_stack import CONFIG, TODAY, Stack, _stack
from tests.slack_wire import FakeSlackApi


def _run(engine):
    api = FakeSlackApi().__enter__()
    server, thread, base = _stack(engine, api, services=Services.create(engine, CONFIG, TODAY))
    return api, server, thread, Stack(f"{base}/slack/events", api, engine)


@pytest.fixture
def stack_for(request):
    opened = []

    def make(engine) -> Stack:
        api, server, thread, stack = _run(engine)
        opened.append((api, server, thread))
        return stack

    yield make
    for api, server, thread in opened:
        server.close()
        thread.join(timeout=5)
        api.__exit__(None, None, None)


def _limits_kept(blocks: list[dict]) -> None:
    assert 1 <= len(blocks) <= 50
    for b in blocks:
        if b["type"] == "section":
            assert len(b["text"]["text"]) <= 3000
        if b["type"] == "header":
            assert len(b["text"]["text"]) <= 150


def test_health_backtest_answers_within_block_kit_limits_and_uploads_the_chart(store, stack_for, tmp_path):
    import_paths(store, write_demo_csvs(tmp_path, accounts=200, seed=7, as_of=TODAY), reporting_tz="UTC")
    stack = stack_for(store)
    status, _, name, took = stack.command("/health", "backtest")
    assert status == 200 and took < 3
    message = stack.answer(name, timeout=120)
    _limits_kept(message["blocks"])
    text = json.dumps(message["blocks"])
    assert "Does health predict churn?" in text and "Churn rate by band" in text and "usage_drop" in text
    assert message["text"].startswith("AUC 0.") and "Too little history" not in text
    stack.api.wait_for("files.completeUploadExternal", timeout=30)
    (png,) = stack.api.uploads.values()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_health_backtest_says_plainly_when_there_is_too_little_history(store, stack_for):
    load(store, accounts=[account("a", customer="2025-01-01"), account("b", customer="2025-01-01",
                                                                       churned="2025-06-01")],
         usage=[usage("a", "u1", "2025-03-01T10:00:00"), usage("b", "u1", "2025-03-01T10:00:00")])
    stack = stack_for(store)
    _, _, name, _ = stack.command("/health", "backtest")
    message = stack.answer(name, timeout=60)
    _limits_kept(message["blocks"])
    # b churned on 2025-06-01: within 90 days of the 2025-04-01 and 2025-05-01 snapshots, one account
    assert "Too little history to trust these numbers: 1 account(s) churned within 90 days of a snapshot (2 " \
           "churned pairs" in json.dumps(message["blocks"])
