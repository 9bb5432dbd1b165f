"""Answering a parsed command: the one path shared by `csbot ask`, `csbot demo` and Slack."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, select

from kpi_core.breakdowns import Group, breakdown
from kpi_core.catalog import KpiDef, catalog
from kpi_core.commands import (
    AtRiskCommand,
    CatalogCommand,
    Command,
    DigestCommand,
    HealthCommand,
    KpiCommand,
    ValuesCommand,
    parse_command,
)
from kpi_core.config import KpiConfig
from kpi_core.engine import query
from kpi_core.health import AccountHealth, HealthOverview, account_health, health_overview
from kpi_core.risk import AtRisk, at_risk
from kpi_core.scope_values import ValueCount, known_values
from kpi_core.text_checks import check_command_text
from kpi_core.types import KpiResult, Scope, UserError
from storage.models import Account


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
    by: str | None = None  # a breakdown (`by segment`...): `groups` holds one value per group
    groups: tuple[Group, ...] | None = None


@dataclass(frozen=True)
class ValuesAnswer:
    """`/kpi segments|owners|features`: the values in the store with their account counts."""

    command: str
    dimension: str
    values: tuple[ValueCount, ...]


Answer = KpiAnswer | CatalogAnswer | HealthAnswer | OverviewAnswer | AtRiskAnswer | ValuesAnswer


def run(engine: Engine, command: Command, config: KpiConfig) -> Answer:
    """Compute the answer to a parsed command (not the digest or subscription verbs: the bot owns those)."""
    if isinstance(command, KpiCommand):
        result = query(engine, command.request, config)
        if command.by is None:
            return KpiAnswer(command.command, result)
        groups = tuple(breakdown(engine, command.request, command.by, config))
        return KpiAnswer(command.command, result, command.by, groups)
    if isinstance(command, ValuesCommand):
        with engine.connect() as conn:
            return ValuesAnswer(command.command, command.dimension, tuple(known_values(conn, command.dimension)))
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


class EmptyStoreError(UserError):
    """The store has no accounts: every answer would be "no data", so say how to fill it instead."""

    def __init__(self) -> None:
        super().__init__("The csbot store has no accounts yet, so there is nothing to answer from: run "
                         "`csbot import` first, or check --db / CSBOT_DATABASE_URL.")


def _has_accounts(conn) -> bool:
    return conn.scalar(select(Account.account_id).limit(1)) is not None


def ask(engine: Engine, text: str, today: dt.date, config: KpiConfig) -> Answer:
    """Parse and answer one command text (an empty store answers with how to fill it, not "no data")."""
    check_command_text(text)
    with engine.connect() as conn:
        try:
            command = parse_command(conn, text, today)
        except UserError:
            if not _has_accounts(conn):
                raise EmptyStoreError() from None
            raise
        if not isinstance(command, CatalogCommand | DigestCommand) and not _has_accounts(conn):
            raise EmptyStoreError()
    return run(engine, command, config)
