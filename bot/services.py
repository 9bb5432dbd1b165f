"""What the listeners need, injected once: the store, KPI settings, the clock and the Slack client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from bot.access import AccessPolicy
from bot.workers import AnswerPool
from kpi_core import clock
from kpi_core.config import KpiConfig


@dataclass(frozen=True)
class Services:
    engine: Engine
    kpi_config: KpiConfig
    today: Callable[[], dt.date]
    answers: AnswerPool = field(default_factory=AnswerPool)  # where slow work runs after the ack
    access: AccessPolicy = field(default_factory=AccessPolicy)

    @classmethod
    def create(cls, engine: Engine, kpi_config: KpiConfig, as_of: dt.date | None = None,
               answers: AnswerPool | None = None, access: AccessPolicy | None = None) -> Services:
        """`access` defaults to the lists in CSBOT_ALLOWED_USERS, CSBOT_REVENUE_VIEWERS and CSBOT_LEADS."""
        return cls(engine, kpi_config, lambda: clock.today(kpi_config, as_of), answers or AnswerPool.from_env(),
                   access or AccessPolicy.from_env())
