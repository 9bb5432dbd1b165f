"""`csbot sync` and `csbot status`: the sources file's sources, run now, and how fresh the store is."""

from __future__ import annotations

import sys

import click

from bot.cli_common import DB_OPTION, existing_store, kpi_config

__all__ = ["register"]



def _sources(what: str = "nothing was synced"):
    from bot.sources import configured_sources
    from storage.sources_file import SourcesFileError

    try:
        return configured_sources()
    except SourcesFileError as exc:
        click.echo(f"csbot: the sources file (CSBOT_SOURCES) has problems; {what}:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)


def check_sources_file() -> None:
    """At start (`csbot serve`): a broken sources file stops it with every problem listed."""
    _sources("fix them and start again")


def _slack_client():
    """A Slack client when SLACK_BOT_TOKEN is set (owners by e-mail), else None."""
    from bot.delivery import make_client
    from bot.settings import SettingsError, api_base_url, bot_token, setting

    if not setting("SLACK_BOT_TOKEN"):
        return None
    try:
        return make_client(bot_token(), api_base_url())
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def owner_notes(engine) -> list[str]:
    """Resolve owner e-mails now (with SLACK_BOT_TOKEN) and say what matched nobody."""
    from bot.jobs.sync_job import owner_notes as notes
    from kpi_core import clock

    return notes(engine, _slack_client(), clock.utcnow())


def register(main: click.Group) -> None:
    @main.command()
    @click.argument("names", nargs=-1, metavar="[SOURCE]...")
    @click.option("--dry-run", is_flag=True, help="Read and validate; report what would change; write nothing.")
    @DB_OPTION
    def sync(names: tuple[str, ...], dry_run: bool, db_url: str | None) -> None:
        """Sync the sources of CSBOT_SOURCES now (all, in file order, or the ones named)."""
        from bot.jobs.sync_job import run_sync
        from kpi_core import clock
        from storage.db import open_store

        sources = _sources()
        known = [s.name for s in sources]
        unknown = [n for n in names if n not in known]
        if unknown:
            listed = ", ".join(known) if known else "none (set CSBOT_SOURCES or STRIPE_API_KEY)"
            raise click.ClickException(f"unknown source {', '.join(unknown)}; the sources are: {listed}")
        if not sources:
            raise click.ClickException("no sources: set CSBOT_SOURCES to a sources file (see README, Sources)")
        chosen = [s for s in sources if not names or s.name in names]
        config = kpi_config()
        engine = open_store(db_url)
        failed = False
        try:
            for source in chosen:
                outcome = run_sync(engine, source, now=clock.utcnow(), reporting_tz=config.reporting_timezone,
                                   config=config, dry_run=dry_run, client=None if dry_run else _slack_client())
                if outcome.report is not None:
                    for line in outcome.report.lines():
                        click.echo(line)
                else:
                    failed = True
                    click.echo(f"{source.name}: failed; nothing was written", err=True)
                    for problem in outcome.problems:
                        click.echo(f"  {problem}", err=True)
        finally:
            engine.dispose()
        if failed:
            sys.exit(1)

    @main.command()
    @DB_OPTION
    def status(db_url: str | None) -> None:
        """Sources, their last runs and failures, table loads, unresolved owners and the schema version."""
        from bot.sources import status_report
        from kpi_core import clock

        config = kpi_config()
        engine = existing_store(db_url)  # reading only: a missing store is an error, never created
        try:
            lines = status_report(engine, config.tz, clock.utcnow())
        finally:
            engine.dispose()
        for line in lines:
            click.echo(line)
