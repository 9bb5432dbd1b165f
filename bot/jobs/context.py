"""What every job needs, injected once: the store, KPI settings, the clock, the Slack client, who we are."""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.settings import grace_hours
from kpi_core import clock
from kpi_core.config import KpiConfig
from kpi_core.risk import AtRisk, at_risk
from kpi_core.types import UserError
from storage.sources_file import SourceDef

LATE_AFTER = dt.timedelta(minutes=2)
"""A run posted more than this after its scheduled time is marked as delayed."""

FindAtRisk = Callable[[Engine, dt.date, KpiConfig], list[AtRisk]]


def find_at_risk(engine: Engine, today: dt.date, config: KpiConfig) -> list[AtRisk]:
    with engine.connect() as conn:
        return at_risk(conn, today, config)


def process_identity() -> str:
    """host:pid:random - unique per process run, stored as `claimed_by`."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _sources(env: Mapping[str, str]) -> tuple[SourceDef, ...]:
    """The sources to sync on schedule; every problem of the sources file stops the start (UserError)."""
    from bot.sources import configured_sources
    from storage.sources_file import SourcesFileError

    try:
        return tuple(configured_sources(env))
    except SourcesFileError as exc:
        raise UserError("the sources file (CSBOT_SOURCES) has problems:\n  " + "\n  ".join(exc.problems)) from None


def _always() -> bool:
    return True


@dataclass(frozen=True)
class JobContext:
    engine: Engine
    client: WebClient
    config: KpiConfig
    clock: Callable[[], dt.datetime] = clock.utcnow  # aware UTC
    identity: str = field(default_factory=process_identity)
    grace: dt.timedelta = dt.timedelta(hours=6)
    as_of: dt.date | None = None  # CSBOT_AS_OF: pins the data's "today" for every job
    still_leader: Callable[[], bool] = _always  # checked right before each post
    find_at_risk: FindAtRisk = find_at_risk
    sleep: Callable[[float], None] = time.sleep  # between retries of an ambiguous post
    sources: tuple[SourceDef, ...] = ()  # the sources file's sources, synced on their schedules
    client_for_team: Callable[[str], WebClient] | None = None  # OAuth installs: each workspace's own token

    @classmethod
    def from_env(cls, engine: Engine, client: WebClient, config: KpiConfig,
                 env: Mapping[str, str] | None = None, **overrides) -> JobContext:
        """Grace from CSBOT_DIGEST_GRACE_HOURS, "today" from CSBOT_AS_OF, "now" from CSBOT_NOW (else the clock)."""
        env = os.environ if env is None else env
        pinned = (env.get("CSBOT_AS_OF") or "").strip()
        values = {
            "grace": dt.timedelta(hours=grace_hours(env)),
            "as_of": clock.parse_as_of(pinned, "CSBOT_AS_OF") if pinned else None,
            "sources": _sources(env),
        }
        values.update(overrides)
        return cls(engine, client, config, **values)

    def for_team(self, team_id: str) -> JobContext:
        """This context with the client of `team_id`'s installation (OAuth installs), else itself."""
        if self.client_for_team is None:
            return self
        return replace(self, client=self.client_for_team(team_id))

    def now(self) -> dt.datetime:
        value = self.clock()
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)

    def today_for(self, local_day: dt.date) -> dt.date:
        """The data's "today" for a run on `local_day` (its date where the subscriber is), or CSBOT_AS_OF."""
        return self.as_of or local_day
