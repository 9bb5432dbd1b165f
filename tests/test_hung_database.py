"""A hung database (connections accepted, nothing answered), through a TCP proxy that stalls: /healthz says 503
in time, commands say "the database is not answering" within seconds, and all recovers without a restart.
Postgres only: an embedded SQLite file cannot hang on a network."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest

from bot.services import Services
from bot.workers import AnswerPool
from storage.db import make_engine, upgrade
from tests.kpi_helpers import account, load, revenue
from tests.slack_stack import CONFIG, TODAY, Stack, _answer_text, _stack
from tests.slack_wire import FakeSlackApi
from tests.stall_proxy import StallProxy


def _health(base: str) -> tuple[int, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as resp:
            status = resp.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.monotonic() - started


def _final_answer(stack: Stack, name: str, timeout: float) -> str:
    calls = stack.api.wait_for_response(name, timeout=timeout)
    deadline = time.monotonic() + timeout
    while calls[-1].json.get("text") == "Working on it…" and time.monotonic() < deadline:
        calls = stack.api.wait_for_response(name, count=len(calls) + 1, timeout=timeout)
    return _answer_text(calls[-1].json)


@pytest.fixture
def proxied(pg_url, monkeypatch):
    direct = make_engine(pg_url)
    upgrade(direct)
    load(direct, accounts=[account("acme", name="Acme Corp", customer="2025-02-01")],
         revenue=[revenue("acme", m, 1000) for m in ("2026-10", "2026-11")])
    direct.dispose()
    monkeypatch.setenv("CSBOT_DB_CONNECT_TIMEOUT", "2")
    with StallProxy("127.0.0.1", 5432) as proxy:
        engine = make_engine(pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
        with FakeSlackApi() as api:
            services = Services.create(engine, CONFIG, TODAY, answers=AnswerPool(4, 8, statement_timeout=2))
            server, thread, base = _stack(engine, api, services=services)
            try:
                yield proxy, Stack(f"{base}/slack/events", api, engine), base
            finally:
                proxy.resume()
                server.close()
                thread.join(timeout=5)
                engine.dispose()


def test_a_hung_database_is_reported_in_time_and_recovered_from_without_a_restart(proxied):
    proxy, stack, base = proxied
    _, _, name, _ = stack.command("/mrr", "2026-11")
    assert "1,000.00" in _final_answer(stack, name, 15)  # the pool holds a live connection now
    assert _health(base)[0] == 200

    proxy.stall()
    status, took = _health(base)
    assert status == 503 and took < 3  # its own 2 s timeout, not the database's silence
    started = time.monotonic()
    status, _, name, ack = stack.command("/mrr", "2026-11")
    assert status == 200 and ack < 3
    text = _final_answer(stack, name, 30)
    assert "database is not answering" in text and "reference" in text
    assert time.monotonic() - started < 15  # seconds, not the minutes a hung socket would take

    proxy.resume()
    deadline = time.monotonic() + 20
    while _health(base)[0] != 200:
        assert time.monotonic() < deadline, "/healthz did not recover"
        time.sleep(0.2)
    _, _, name, _ = stack.command("/mrr", "2026-11")
    assert "1,000.00" in _final_answer(stack, name, 15)
