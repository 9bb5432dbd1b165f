"""What every `csbot` subcommand module shares: the --db and --as-of options, the KPI settings, "today" and
the existing store of a reading command.

Its own module so that bot/cli_history.py and bot/cli_sources.py need not import bot.cli (which
`python -m bot.cli` runs as __main__, so importing it would load the whole CLI a second time).
"""

from __future__ import annotations

import datetime as dt
import sys

import click
from rich.console import Console
from sqlalchemy import Engine

from kpi_core import clock
from kpi_core.config import ConfigError, KpiConfig, load_config
from kpi_core.types import UserError
from storage.db import StoreMissingError, open_existing_store

__all__ = ["AS_OF_OPTION", "DB_OPTION", "err", "existing_store", "kpi_config", "today_from"]

DB_OPTION = click.option("--db", "db_url", default=None, metavar="URL",
                         help="Database URL (default: CSBOT_DATABASE_URL or sqlite:///csbot.db).")
AS_OF_OPTION = click.option("--as-of", default=None, metavar="YYYY-MM-DD",
                            help="Pin 'today' (default: CSBOT_AS_OF or today in the reporting time zone).")

err = Console(stderr=True)


def kpi_config() -> KpiConfig:
    """The KPI settings (CSBOT_CONFIG); a broken file stops the command with its problems."""
    try:
        return load_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def today_from(as_of: str | None) -> dt.date:
    """"Today": --as-of, else CSBOT_AS_OF, else today in the reporting time zone."""
    try:
        return clock.today(kpi_config(), as_of)
    except UserError as exc:
        raise click.BadParameter(str(exc)) from exc


def existing_store(db_url: str | None) -> Engine:
    """The store a reading command uses; a missing one is a one-line error and nothing is created."""
    try:
        return open_existing_store(db_url)
    except StoreMissingError as exc:
        click.echo(f"csbot: {exc}", err=True)
        sys.exit(1)
