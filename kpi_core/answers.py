"""Answering a parsed command: the one path shared by `csbot ask`, `csbot demo` and Slack."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine

from kpi_core.catalog import KpiDef, catalog
from kpi_core.commands import (
    AtRiskCommand,
    CatalogCommand,
    Command,
    DigestCommand,
    HealthCommand,
    KpiCommand,
    parse_command,
)
from kpi_core.config import KpiConfig
from kpi_core.engine import query
from kpi_core.health import AccountHealth, HealthOverview, account_health, health_overview
from kpi_core.risk import AtRisk, at_risk
from kpi_core.types import KpiResult, Scope, UserError


@dataclass(frozen=True)
class CatalogAnswer:
    command: str
    kpis: tuple[KpiDef, ...]
    focus: KpiDef | None = None


@dataclass(frozen=True)
class HealthAnswer:
    command: str
    health: AccountHealth


@dataclass(frozen=True)
class OverviewAnswer:
    command: str
    overview: HealthOverview
    scope: Scope


@dataclass(frozen=True)
class AtRiskAnswer:
    command: str
    as_of: dt.date
    scope: Scope
    accounts: tuple[AtRisk, ...]


@dataclass(frozen=True)
class KpiAnswer:
    command: str
    result: KpiResult


Answer = KpiAnswer | CatalogAnswer | HealthAnswer | OverviewAnswer | AtRiskAnswer


def run(engine: Engine, command: Command, config: KpiConfig) -> Answer:
    """Compute the answer to a parsed command (not the digest or subscription verbs: the bot owns those)."""
    if isinstance(command, KpiCommand):
        return KpiAnswer(command.command, query(engine, command.request, config))
    if isinstance(command, CatalogCommand):
        focus = catalog().get(command.kpi) if command.kpi else None
        return CatalogAnswer(command.command, tuple(catalog().all()), focus)
    if isinstance(command, HealthCommand):
        with engine.connect() as conn:
            if command.backtest:
                raise UserError("`/health backtest` works in Slack; in the terminal run `csbot backtest`.")
            if command.scope.account:
                return HealthAnswer(command.command, account_health(conn, command.scope.account.id,
                                                                    command.as_of, config, today=command.today))
            return OverviewAnswer(command.command, health_overview(conn, command.as_of, config, command.scope,
                                                                   today=command.today),
                                  command.scope)
    if isinstance(command, AtRiskCommand) and command.verb is None:
        with engine.connect() as conn:
            found = at_risk(conn, command.as_of, config, command.scope)
        return AtRiskAnswer(command.command, command.as_of, command.scope, tuple(found))
    if isinstance(command, AtRiskCommand | DigestCommand):
        raise UserError(f"`{command.command} {command.verb}` works in Slack only, in the channel it is for.")
    raise TypeError(f"unknown command {command!r}")


def ask(engine: Engine, text: str, today: dt.date, config: KpiConfig) -> Answer:
    """Parse and answer one command text."""
    with engine.connect() as conn:
        command = parse_command(conn, text, today)
    return run(engine, command, config)
