"""Helpers for the scheduler, delivery and risk-alert tests: a settable clock, channels that remember what was
posted (so conversations.history can answer from them, as Slack does), contexts and subscriptions."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.delivery import make_client
from bot.jobs.context import JobContext
from kpi_core.config import HealthConfig, KpiConfig
from kpi_core.health import AccountHealth, ComponentScore
from kpi_core.risk import AtRisk, FiredRule
from kpi_core.types import AccountRef
from storage import subscriptions as subs
from tests.slack_wire import FakeSlackApi

ROOT = Path(__file__).resolve().parents[1]
UTC_CONFIG = KpiConfig("UTC", 1.0, HealthConfig({}, 70, 40))
CREATED = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)  # before every scheduled run in these tests
TEAM = "T0TEST001"
OWNER = "U0SUBSCR1"


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


class SetClock:
    """A clock a test sets by hand: no sleeping until Monday."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, now: dt.datetime | str) -> dt.datetime:
        self.now = utc(now) if isinstance(now, str) else now
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now = self.now + dt.timedelta(**delta)
        return self.now


@dataclass
class FakeChannels:
    """chat.postMessage and conversations.history of FakeSlackApi, backed by per-channel message lists.

    Failure and delay injection (`fail_next`, `delay_next`) still apply: a failed call stores nothing; a delayed
    call stores its message at once and only holds the answer back, like Slack receiving a post whose answer
    never reaches the poster. History is newest first, with metadata only for `include_all_metadata`; it
    ignores `oldest` (test clocks and the fake's ts are different clocks).
    """

    api: FakeSlackApi
    messages: dict[str, list[dict]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # channel -> the error every post there gets
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.api.set_response("chat.postMessage", self._post)
        self.api.set_response("conversations.history", self._history)

    def _post(self, params: dict) -> dict:  # called by the fake with its lock held: touch only our own state
        channel = params.get("channel") or ""
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel[:1] in ("U", "W"):
            channel = "D" + channel[1:]
        if channel in self.broken:
            return {"ok": False, "error": self.broken[channel]}
        with self._lock:
            ts = f"{1767000000 + next(self._ts)}.000100"
            message = {"type": "message", "ts": ts, "text": params.get("text", ""), "user": self.api.bot_user_id}
            for key in ("blocks", "metadata"):
                if params.get(key) is not None:
                    message[key] = params[key]
            self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _history(self, params: dict) -> dict:
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        with self._lock:
            found = list(reversed(self.messages.get(params.get("channel") or "", [])))
        if not with_metadata:
            found = [{k: v for k, v in m.items() if k != "metadata"} for m in found]
        return {"ok": True, "messages": found, "has_more": False}

    def in_channel(self, channel: str) -> list[dict]:
        with self._lock:
            return list(self.messages.get(channel, []))

    def keys(self, channel: str) -> list[str]:
        return [m["metadata"]["event_payload"]["key"] for m in self.in_channel(channel) if "metadata" in m]


def client_for(api: FakeSlackApi, timeout: int = 15) -> WebClient:
    client = make_client("xoxb-test-token", api.base_url)
    client.timeout = timeout
    return client


def make_ctx(store: Engine, api: FakeSlackApi, clock: SetClock, **overrides) -> JobContext:
    values = {"clock": clock, "identity": "test:1:live", "grace": dt.timedelta(hours=6), "sleep": lambda _s: None}
    values.update(overrides)
    client = values.pop("client", None) or client_for(api)
    return JobContext(store, client, values.pop("config", UTC_CONFIG), **values)


def digest_sub(store: Engine, channel: str = "C0DIGEST1", *, weekday: int = 0, at: str = "09:00",
               tz: str = "Europe/Berlin", created: dt.datetime = CREATED, **extra) -> subs.SubscriptionRow:
    return subs.subscribe(store, team_id=TEAM, channel_id=channel, kind="digest", weekday=weekday, at_time=at,
                          timezone=tz, now=created, created_by=extra.pop("created_by", OWNER), **extra)


def risk_sub(store: Engine, channel: str = "C0RISK001", *, at: str = "09:00", tz: str = "UTC",
             created: dt.datetime = CREATED) -> subs.SubscriptionRow:
    return subs.subscribe(store, team_id=TEAM, channel_id=channel, kind="risk", weekday=None, at_time=at,
                          timezone=tz, now=created, created_by=OWNER)


# ------------------------------------------------------------------------------------------ at-risk items


def health(account_id: str, score: float | None, *, as_of: dt.date, owner: str | None = "U0OWNER01",
           users: tuple[int, int] = (10, 10)) -> AccountHealth:
    band = None if score is None else ("green" if score >= 70 else "yellow" if score >= 40 else "red")
    engagement = ComponentScore("engagement", score, 0.3, "", {"users_recent": users[0], "users_previous": users[1]})
    lifecycle = ComponentScore("lifecycle", score, 0.15, "", {"days_to_renewal": None})
    return AccountHealth(AccountRef(account_id, account_id.title() + " Corp"), owner, "smb", as_of, score, band,
                         (engagement, lifecycle), (), ())


def risky(account_id: str, score: float | None, rules: list[str], *, as_of: dt.date,
          users: tuple[int, int] = (10, 10)) -> AtRisk:
    texts = {"red_band": f"health is red ({score})", "detractor": "a detractor NPS response in the last 30 days",
             "usage_drop": f"active users down vs the previous 30 days ({users[1]} -> {users[0]})",
             "health_drop": "health fell 15 points in 14 days", "renewal_not_green": "renews in 30 days"}
    return AtRisk(health(account_id, score, as_of=as_of, users=users), tuple(FiredRule(r, texts[r]) for r in rules))


class ScriptedRisk:
    """`find_at_risk` for a JobContext: the accounts at risk on each day, as the test says."""

    def __init__(self, by_day: Callable[[dt.date], list[AtRisk]]):
        self.by_day = by_day
        self.asked: list[dt.date] = []

    def __call__(self, _engine: Engine, today: dt.date, _config: KpiConfig) -> list[AtRisk]:
        self.asked.append(today)
        return self.by_day(today)


# ---------------------------------------------------------------------------------------------- processes


def wait_until(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition",
               interval: float = 0.05) -> object:
    """Poll `condition` until it is truthy (returned) or raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Proc:
    """A `csbot` subprocess whose output goes to a file (read while it runs, no pipe to fill)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        full_env = {**os.environ, **env}
        self.popen = subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=full_env,
                                      stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def stop(self, timeout: float = 20) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._out.close()
        return self.popen.returncode
