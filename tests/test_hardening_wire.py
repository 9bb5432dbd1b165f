"""Under load and hostile input, at the wire: acks never wait for answers, refusals are cheap and correct,
idle connections do not take the server down, slow answers time out with a message. SQLite and Postgres."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
import urllib.parse
import urllib.request
import uuid

import pytest
from sqlalchemy import event

from bot.services import Services
from bot.workers import BUSY_TEXT, AnswerPool
from tests.kpi_helpers import account, load, revenue, survey
from tests.slack_stack import CONFIG, SECRET, TODAY, Stack, _answer_text, _stack
from tests.slack_wire import FakeSlackApi, sign, signed_headers, slash_command_body


@pytest.fixture
def data(store):
    load(store,
         accounts=[account("acme", name="Acme Corp", customer="2025-02-01")],
         surveys=[survey("r1", "acme", "nps", 10, "2026-11-01T10:00:00")],
         revenue=[revenue("acme", m, 1000) for m in ("2026-10", "2026-11")])
    return store


def _running(data, pool: AnswerPool):
    api = FakeSlackApi().start()
    server, thread, base = _stack(data, api, services=Services.create(data, CONFIG, TODAY, answers=pool))
    return api, server, thread, base


@pytest.fixture
def make_stack(data):
    started = []

    def make(pool: AnswerPool | None = None) -> Stack:
        api, server, thread, base = _running(data, pool or AnswerPool(2, 4))
        started.append((api, server, thread))
        return Stack(f"{base}/slack/events", api, data)

    yield make
    for api, server, thread in started:
        server.close()
        thread.join(timeout=5)
        api.stop()


def _final(stack: Stack, name: str, timeout: float = 20) -> dict:
    """The answer to a command (after a 'Working on it…' note, if one came first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = stack.api.wait_for_response(name, timeout=max(0.1, deadline - time.monotonic()))
        answers = [c.json for c in calls if c.json.get("text") != "Working on it…"]
        if answers:
            return answers[0]
        time.sleep(0.05)
    raise TimeoutError(name)


# ------------------------------------------------------------------------ acks never wait for answers


class _Gate:
    """Holds every statement that reads the revenue table until released: a KPI made slow on purpose."""

    def __init__(self, engine):
        self.engine = engine
        self.release = threading.Event()
        self.waiting = 0
        self._lock = threading.Lock()

    def __call__(self, _conn, _cursor, statement, *_args) -> None:
        if "revenue" in statement.lower() and not self.release.is_set():
            with self._lock:
                self.waiting += 1
            self.release.wait(30)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_exc):
        self.release.set()
        time.sleep(0.2)  # the answers were awaited; let their threads return their connections
        event.remove(self.engine, "before_cursor_execute", self)


def _wait_until(check, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)


def test_a_fast_command_is_acked_and_answered_while_slow_answers_fill_the_pool(make_stack):
    stack = make_stack(AnswerPool(2, 4))
    with _Gate(stack.engine) as gate:
        slow = [stack.command("/mrr", "2026-11") for _ in range(2)]
        assert all(s[0] == 200 and s[3] < 3 for s in slow)
        _wait_until(lambda: gate.waiting >= 2)  # both answer threads are stuck in the slow KPI
        status, body, fast, took = stack.command("/nps", "2026-11")
        assert status == 200 and took < 1.0 and body == ""
        gate.release.set()
        assert "100" in _answer_text(_final(stack, fast))
        for _, _, name, _ in slow:
            assert "1,000.00" in _answer_text(_final(stack, name))
    time.sleep(0.3)
    for name in [fast, *(s[2] for s in slow)]:  # each answered once (plus, at most, one 'Working on it…' note)
        answers = [c for c in stack.api.calls("response_url") if c.path == f"/response/{name}"
                   and c.json.get("text") != "Working on it…"]
        assert len(answers) == 1


def test_a_full_queue_answers_busy_at_once_and_runs_nothing(make_stack):
    stack = make_stack(AnswerPool(1, 1))
    with _Gate(stack.engine) as gate:
        first = stack.command("/mrr", "2026-11")
        _wait_until(lambda: gate.waiting >= 1)
        queued = stack.command("/mrr", "2026-10")
        status, body, busy, took = stack.command("/nps", "2026-11")
        assert status == 200 and took < 1.0
        assert json.loads(body) == {"response_type": "ephemeral", "text": BUSY_TEXT}
        gate.release.set()
        _final(stack, first[2])
        _final(stack, queued[2])
    time.sleep(0.3)
    assert [c for c in stack.api.calls("response_url") if c.path == f"/response/{busy}"] == []


def test_a_slow_answer_shows_working_on_it_then_replaces_it(make_stack):
    stack = make_stack(AnswerPool(2, 2, working_after=0.2))
    with _Gate(stack.engine) as gate:
        _, _, name, _ = stack.command("/mrr", "2026-11")
        working = stack.api.wait_for_response(name, timeout=10)[0].json
        assert working == {"response_type": "ephemeral", "text": "Working on it…"}
        gate.release.set()
        answer = stack.api.wait_for_response(name, count=2, timeout=10)[1].json
    assert answer["replace_original"] is True and "1,000.00" in _answer_text(answer)


def test_a_quick_answer_comes_alone(make_stack):
    stack = make_stack(AnswerPool(2, 2, working_after=5))
    _, _, name, _ = stack.command("/nps", "2026-11")
    answer = stack.answer(name)
    time.sleep(0.3)
    assert len(stack.api.wait_for_response(name)) == 1 and "replace_original" not in answer


def _sleeper(engine):
    """Before every statement, a query that runs for a long time (on the statement's own connection)."""
    slow = ("SELECT pg_sleep(5)" if engine.dialect.name == "postgresql" else
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 50000000) SELECT count(*) FROM c")

    def before(_conn, cursor, statement, *_args):
        if "revenue" in statement.lower():
            cursor.execute(slow)

    return before


def test_a_query_over_the_statement_timeout_is_stopped_with_a_message(make_stack, caplog):
    stack = make_stack(AnswerPool(2, 2, statement_timeout=0.5, working_after=30))
    sleeper = _sleeper(stack.engine)
    event.listen(stack.engine, "before_cursor_execute", sleeper)
    try:
        started = time.monotonic()
        _, _, name, _ = stack.command("/mrr", "2026-11")
        text = _answer_text(stack.answer(name, timeout=20))
        took = time.monotonic() - started
    finally:
        event.remove(stack.engine, "before_cursor_execute", sleeper)
    assert "took too long" in text and "over 0.5 s" in text and "reference" in text
    assert took < 4.5  # stopped, not waited out (the query alone would run 5 s or more)
    # the database still answers afterwards, on the same pool
    _, _, again, _ = stack.command("/mrr", "2026-11")
    assert "1,000.00" in _answer_text(stack.answer(again))


# ------------------------------------------------------------------------------- refusals


def _raw(url: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest("POST", parts.path)
        for name, value in headers:
            conn.putheader(name, value)
        if not any(n.lower() == "content-length" for n, _ in headers):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        conn.send(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _command_body(stack: Stack) -> str:
    return slash_command_body("/mrr", "2026-11", response_url=stack.api.response_url(uuid.uuid4().hex[:8]))


@pytest.mark.parametrize("timestamps,signature", [
    (["abc"], "good"),
    (["1.7e9"], "good"),
    ([""], "good"),
    ([], "good"),
    (["now", "now"], "good"),
    (["now"], None),
    (["now"], ""),
    (["now"], "v0=zz"),
    (["now"], "twice"),
])
def test_malformed_signature_headers_get_401_before_anything_is_parsed(make_stack, caplog, timestamps, signature):
    stack = make_stack()
    body = _command_body(stack)
    now = str(int(time.time()))
    headers = [("Content-Type", "application/x-www-form-urlencoded")]
    headers += [("X-Slack-Request-Timestamp", now if t == "now" else t) for t in timestamps]
    good = sign(SECRET, int(now), body)
    if signature == "twice":
        headers += [("X-Slack-Signature", good), ("X-Slack-Signature", good)]
    elif signature is not None:
        headers.append(("X-Slack-Signature", good if signature == "good" else signature))
    with caplog.at_level(logging.WARNING):
        status, _ = _raw(stack.url, headers, body.encode())
    assert status == 401
    refusals = [r.getMessage() for r in caplog.records if r.name == "csbot.gate"]
    assert len(refusals) == 1 and refusals[0].startswith("refused 401 /slack/events")
    assert "response_url" not in caplog.text and "fake-verification-token" not in caplog.text
    assert not any(r.exc_info for r in caplog.records)
    time.sleep(0.2)
    assert stack.api.calls("response_url") == []


@pytest.mark.parametrize("content_type,body", [
    ("application/x-www-form-urlencoded", "payload={bad"),
    ("application/x-www-form-urlencoded", "payload=%5B1%5D"),
    ("application/x-www-form-urlencoded", "not form data"),
    ("application/json", "{bad json"),
    ("application/json", "[1, 2]"),
    ("text/plain", "command=%2Fmrr"),
])
def test_a_signed_body_that_is_not_slack_data_gets_400(make_stack, caplog, content_type, body):
    stack = make_stack()
    with caplog.at_level(logging.WARNING):
        status, _ = _raw(stack.url, list(signed_headers(SECRET, body, content_type=content_type).items()),
                         body.encode())
    assert status == 400
    assert not any(r.exc_info for r in caplog.records)
    assert [r.getMessage().split(":")[0] for r in caplog.records if r.name == "csbot.gate"] == [
        "refused 400 /slack/events"]


def test_a_body_over_the_limit_gets_413_and_a_short_log_line(make_stack, caplog):
    stack = make_stack()
    big = "text=" + "x" * 100_000
    with caplog.at_level(logging.WARNING):
        status, _ = _raw(stack.url, list(signed_headers(SECRET, big).items()), big.encode())
    assert status == 413
    lines = [r.getMessage() for r in caplog.records if r.name == "csbot.gate"]
    assert len(lines) == 1 and "413" in lines[0] and "100005" in lines[0] and len(lines[0]) < 200


def test_an_unsigned_huge_request_is_refused_from_its_headers(make_stack, caplog):
    stack = make_stack()
    parts = urllib.parse.urlsplit(stack.url)
    with caplog.at_level(logging.WARNING), socket.create_connection((parts.hostname, parts.port), timeout=10) as s:
        s.sendall(f"POST {parts.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  f"Content-Length: {100 * 1024 * 1024}\r\n\r\n".encode() + b"x" * 1000)
        reply = s.recv(200)  # answered without the other 100 MB ever being sent
    assert reply.startswith(b"HTTP/1.1 413")
    assert sum(len(r.getMessage()) for r in caplog.records) < 1000


def test_a_signed_command_still_works_through_the_gate(make_stack):
    stack = make_stack()
    status, _, name, _ = stack.command("/mrr", "2026-11")
    assert status == 200 and "1,000.00" in _answer_text(stack.answer(name))


# ------------------------------------------------------------------------------- idle connections


def test_150_idle_connections_do_not_stop_commands_or_healthz(make_stack):
    stack = make_stack()
    parts = urllib.parse.urlsplit(stack.url)
    idle = []
    try:
        for i in range(150):
            s = socket.create_connection((parts.hostname, parts.port), timeout=5)
            if i % 2:
                s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")  # a slow client, headers unfinished
            idle.append(s)
        status, _, name, took = stack.command("/mrr", "2026-11")
        assert status == 200 and took < 3
        assert "1,000.00" in _answer_text(stack.answer(name))
        base = stack.url.rsplit("/slack/events", 1)[0]
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as resp:
            assert resp.status == 200
    finally:
        for s in idle:
            s.close()


@pytest.mark.parametrize("env,named", [
    ({"CSBOT_ANSWER_WORKERS": "0"}, "CSBOT_ANSWER_WORKERS"),
    ({"CSBOT_ANSWER_QUEUE": "many"}, "CSBOT_ANSWER_QUEUE"),
    ({"CSBOT_STATEMENT_TIMEOUT": "-1"}, "CSBOT_STATEMENT_TIMEOUT"),
    ({"CSBOT_DB_CONNECT_TIMEOUT": "2.5"}, "CSBOT_DB_CONNECT_TIMEOUT"),
    ({"CSBOT_MAX_BODY_BYTES": "10"}, "CSBOT_MAX_BODY_BYTES"),
    ({"CSBOT_HTTP_CONNECTION_LIMIT": "x"}, "CSBOT_HTTP_CONNECTION_LIMIT"),
])
def test_a_malformed_limit_names_its_setting(env, named):
    from bot.settings import SettingsError, check_limits

    with pytest.raises(SettingsError) as info:
        check_limits(env)
    assert str(info.value).startswith(named) and "\n" not in str(info.value)


def test_limits_default_to_the_documented_values():
    from bot.settings import HttpLimits, http_limits

    assert http_limits({}) == HttpLimits(65536, 8, 1000, 30)
    pool = AnswerPool.from_env({})
    assert (pool.size, pool.queue_limit, pool.statement_timeout) == (4, 20, 20.0)
