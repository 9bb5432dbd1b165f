"""`csbot`: the one entry point (demo, ask, import, demo-data, init-db, and the Slack commands)."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path

import click
from rich.console import Console

from bot.cli_common import AS_OF_OPTION, DB_OPTION, err, existing_store, kpi_config, today_from
from bot.render.formats import rows_text
from kpi_core import clock
from kpi_core.answers import ask as answer_text
from kpi_core.commands import help_text
from kpi_core.config import KpiConfig
from kpi_core.periods import PeriodError
from kpi_core.types import AmbiguousAccountError, UserError
from storage.db import StoreMissingError, database_url, has_data, open_existing_store, open_store

DEMO_DATABASE_URL = "sqlite:///csbot-demo.db"



@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """csbot: customer-success KPIs, health scores and churn-risk warnings, in Slack and in the terminal."""


@main.command("init-db")
@DB_OPTION
def init_db(db_url: str | None) -> None:
    """Create or upgrade the store's schema (every command also does this by itself), and build the usage rollups
    in the reporting time zone when they are missing or in another zone."""
    from storage.rollups import sync_rollups

    engine = open_store(db_url)
    try:
        with engine.begin() as conn:
            sync_rollups(conn, kpi_config().reporting_timezone)
    finally:
        engine.dispose()
    click.echo(f"Store ready at {_safe_url(db_url)}")


@main.command("rebuild-rollups")
@DB_OPTION
def rebuild_rollups_cmd(db_url: str | None) -> None:
    """Rebuild the usage rollups from the usage events in the reporting time zone (run after changing it)."""
    import time

    from storage.rollups import rebuild_rollups

    zone = kpi_config().reporting_timezone
    engine = open_store(db_url)
    started = time.perf_counter()
    try:
        with engine.begin() as conn:
            rebuild_rollups(conn, zone)
    finally:
        engine.dispose()
    click.echo(f"Usage rollups rebuilt in {zone} in {time.perf_counter() - started:.1f} s")


def _safe_url(db_url: str | None) -> str:
    from sqlalchemy.engine import make_url

    return make_url(database_url(db_url)).render_as_string(hide_password=True)


def _confirm_removal(yes: bool):
    """The confirmation callback of --replace / delete-account: --yes, else a y/N question on a terminal."""

    def confirm(plan) -> bool:
        click.echo(plan.describe(), err=True)
        if yes:
            return True
        if not sys.stdin.isatty():
            click.echo("Not confirmed: add --yes to delete them from a script.", err=True)
            return False
        return click.confirm("Delete them?", default=False, err=True)

    return confirm


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--replace", is_flag=True,
              help="Also delete stored rows of the imported kinds that the files lack (accounts with their data).")
@click.option("--yes", is_flag=True, help="With --replace: delete without asking.")
@DB_OPTION
def import_cmd(paths: tuple[Path, ...], replace: bool, yes: bool, db_url: str | None) -> None:
    """Import CSV files, or folders of them (accounts.csv, revenue.csv, ...; see docs/data.md).

    Only the columns in a file's header are written; without --replace no row is ever removed.
    """
    from storage.importer import CsvImportError, import_paths
    from storage.removal import RemovalCancelled

    config = kpi_config()
    engine = open_store(db_url)
    try:
        report = import_paths(engine, list(paths), reporting_tz=config.reporting_timezone,
                              progress=sys.stderr.isatty(), replace=replace, confirm=_confirm_removal(yes))
    except CsvImportError as exc:
        err.print("[bold red]Import rejected; the store is unchanged.[/]", markup=True)
        err.print(str(exc), markup=False, highlight=False)
        sys.exit(1)
    except RemovalCancelled:
        click.echo("Nothing was imported or deleted; the store is unchanged.", err=True)
        sys.exit(1)
    else:
        for f in report.files:
            click.echo(f"{f.kind}: {rows_text(f.rows)} from {f.path} ({f.inserted:,} new, {f.updated:,} updated)")
            for warning in f.warnings:
                click.echo(f"  warning: {warning}")
        if any(f.kind == "accounts" for f in report.files):
            _resolve_owner_emails(engine)
    finally:
        engine.dispose()


def _resolve_owner_emails(engine) -> None:
    """Owner e-mails just imported become Slack users when SLACK_BOT_TOKEN is set (else at the next sync)."""
    from bot.cli_sources import owner_notes

    for note in owner_notes(engine):
        click.echo(f"  {note}")


@main.command("delete-account")
@click.argument("ids", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Delete without asking.")
@DB_OPTION
def delete_account(ids: tuple[str, ...], yes: bool, db_url: str | None) -> None:
    """Delete accounts (by exact account_id) and every row that belongs to them."""
    from storage.removal import RemovalCancelled, delete_accounts

    engine = existing_store(db_url)
    try:
        with engine.begin() as conn:
            plan = delete_accounts(conn, ids, _confirm_removal(yes))
    except ValueError as exc:
        click.echo(f"csbot: {exc}", err=True)
        sys.exit(1)
    except RemovalCancelled:
        click.echo("Nothing was deleted.", err=True)
        sys.exit(1)
    finally:
        engine.dispose()
    click.echo(plan.describe().replace("This deletes", "Deleted", 1))


def _load_demo(engine, accounts: int, seed: int, as_of) -> None:
    from storage.demo_data import write_demo_csvs
    from storage.importer import CsvImportError, import_paths

    with tempfile.TemporaryDirectory(prefix="csbot-demo-") as tmp:
        paths = write_demo_csvs(Path(tmp), accounts=accounts, seed=seed, as_of=as_of)
        try:
            import_paths(engine, paths, reporting_tz=kpi_config().reporting_timezone, progress=sys.stderr.isatty(),
                         demo=True)
        except CsvImportError as exc:
            raise click.ClickException(str(exc)) from exc


@main.command("demo-data")
@click.option("--accounts", default=200, show_default=True, help="How many accounts to generate.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same data).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the CSV files to this folder instead of loading them into the store.")
@AS_OF_OPTION
@DB_OPTION
def demo_data(accounts: int, seed: int, out: Path | None, as_of: str | None, db_url: str | None) -> None:
    """Generate the synthetic demo data set (and load it into the store unless --out is given)."""
    from storage.demo_data import write_demo_csvs

    today = today_from(as_of)
    if out:
        for path in write_demo_csvs(out, accounts=accounts, seed=seed, as_of=today):
            click.echo(str(path))
        return
    engine = open_store(db_url)
    try:
        _load_demo(engine, accounts, seed, today)
    finally:
        engine.dispose()
    click.echo(f"Loaded demo data ({accounts} accounts, seed {seed}, as of {today}) into {_safe_url(db_url)}")


@main.command()
@click.argument("text")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object instead of a card (its fields: README.md, 'Command line').")
@AS_OF_OPTION
@DB_OPTION
def ask(text: str, as_json: bool, as_of: str | None, db_url: str | None) -> None:
    """Answer one command, e.g. csbot ask "/nps last-quarter segment:enterprise"."""
    from bot.personal import expand_mine
    from bot.render.json_out import answer_to_json
    from bot.render.terminal import plain_mentions, render

    config = kpi_config()
    try:
        engine = open_existing_store(db_url)
    except StoreMissingError as exc:
        if as_json:
            click.echo(json.dumps({"error": str(exc)}))
        else:
            click.echo(f"csbot: {exc}", err=True)
        sys.exit(1)
    if _is_status(text):
        try:
            lines = _status_lines(engine, config)
        finally:
            engine.dispose()
        click.echo(json.dumps({"command": "/kpi", "status": lines}) if as_json else "\n".join(lines))
        return
    try:
        today = clock.today(config, as_of)
        answer = answer_text(engine, expand_mine(text, None), today, config)  # `mine` needs a Slack user
        fresh = _freshness(engine, answer)
    except (UserError, PeriodError) as exc:
        if as_json:
            payload: dict = {"error": str(exc)}
            if isinstance(exc, AmbiguousAccountError):
                payload["candidates"] = [{"id": c.id, "name": c.name} for c in exc.candidates]
            click.echo(json.dumps(payload))
        else:
            err.print(plain_mentions(str(exc)), style="red", markup=False, highlight=False)
        sys.exit(1)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(answer_to_json(answer) | fresh.as_json(), default=str))
    else:
        Console().print(render(answer))
        _print_freshness(fresh, config)


def _freshness(engine, answer):
    """How fresh the data behind `answer` is (sources.md), with the configured stale thresholds."""
    from bot.settings import SettingsError
    from bot.sources import freshness_policy
    from kpi_core.freshness import answer_freshness

    try:
        policy = freshness_policy()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    with engine.connect() as conn:
        return answer_freshness(conn, answer, clock.utcnow(), policy)


def _print_freshness(fresh, config: KpiConfig) -> None:
    words = fresh.words(config.tz)
    if words:
        Console().print(words, style="dim", markup=False, highlight=False)
    for warning in fresh.warnings(config.tz):
        Console().print(f"Warning: {warning}", style="yellow", markup=False, highlight=False)


@main.command()
@click.option("--accounts", default=200, show_default=True, help="Accounts in the demo data set (first run).")
@AS_OF_OPTION
@DB_OPTION
def demo(accounts: int, as_of: str | None, db_url: str | None) -> None:
    """Create and fill the demo store (csbot-demo.db, never your own) on first run, then answer at a prompt."""
    from bot.render.terminal import plain_mentions, render

    config = kpi_config()
    console = Console()
    db_url = db_url or DEMO_DATABASE_URL
    engine = open_store(db_url)
    today = today_from(as_of)
    if not has_data(engine):
        console.print(f"Creating the demo store ({accounts} accounts) at {_safe_url(db_url)} ...")
        _load_demo(engine, accounts, 7, today)
    elif not _holds_demo(engine):
        engine.dispose()
        raise click.ClickException(f"{_safe_url(db_url)} holds your own data, not the demo data set; "
                                   "`csbot demo` uses a store of its own (leave out --db), and "
                                   "`csbot ask` answers from yours.")
    interactive = sys.stdin.isatty()
    if interactive:
        _enable_history()
        console.print(
            "[bold]csbot demo[/] - type a command as in Slack, e.g. [cyan]/nps last-quarter[/], "
            "[cyan]/health acme[/], [cyan]/atrisk[/], [cyan]/kpi list[/]. [cyan]help[/] lists them; "
            "[cyan]quit[/] leaves. Nothing is posted anywhere."
        )
    while True:
        try:
            line = input("csbot> " if interactive else "")
        except (EOFError, KeyboardInterrupt):
            if interactive:
                console.print()  # Ctrl-D / Ctrl-C: end the prompt's line so the shell starts on a fresh one
            break
        line = line.strip()
        if not line:
            continue
        if line.lower() in {"quit", "exit", "q"}:
            break
        if line.lower() in {"help", "?", "/help"}:
            console.print(help_text(), highlight=False, markup=False)
            continue
        try:
            if _is_digest_preview(line):
                console.print(_digest_preview(engine, config, today))
                continue
            if _is_status(line):
                console.print("\n".join(_status_lines(engine, config)), markup=False, highlight=False)
                continue
            answer = answer_text(engine, line, today, config)
            console.print(render(answer))
            _print_freshness(_freshness(engine, answer), config)
        except (UserError, PeriodError) as exc:
            console.print(plain_mentions(str(exc)), style="red", markup=False, highlight=False)
    engine.dispose()


def _is_status(text: str) -> bool:
    """`/kpi status`: in the terminal as in Slack (bot/listeners/status.py)."""
    return " ".join(text.lower().split()) == "/kpi status"


def _status_lines(engine, config: KpiConfig) -> list[str]:
    from bot.sources import status_report

    return status_report(engine, config.tz, clock.utcnow())


def _is_digest_preview(line: str) -> bool:
    from kpi_core.commands import split_command

    try:
        head, words = split_command(line)
    except UserError:
        return False
    return head == "digest" and (not words or words[0].lower() == "preview")


def _digest_preview(engine, config: KpiConfig, today):
    """`/digest preview` at the prompt: the default weekly digest as it would be posted now."""
    from bot.render.terminal import render_digest
    from kpi_core.digest import build_digest

    return render_digest(build_digest(engine, today, config))


def _holds_demo(engine) -> bool:
    from storage.importer import holds_demo_data

    with engine.connect() as conn:
        return holds_demo_data(conn)


def _enable_history() -> None:
    try:
        import atexit
        import readline

        history = Path.home() / ".csbot_history"
        if history.exists():
            readline.read_history_file(history)
        atexit.register(readline.write_history_file, history)
    except (ImportError, OSError):
        pass


@main.command()
@click.option("--port", type=int, default=None, help="HTTP port (default: CSBOT_PORT or 3000).")
@DB_OPTION
def serve(port: int | None, db_url: str | None) -> None:
    """Run the Slack app: Socket Mode when SLACK_APP_TOKEN is set, else HTTP at /slack/events."""
    from slack_bolt.error import BoltError

    from bot.app import build_app
    from bot.server import configure_logging, make_http_server, socket_mode_handler
    from bot.services import Services
    from bot.settings import SettingsError, check_limits, http_limits, load_slack_settings, setting

    try:
        settings = load_slack_settings()
        check_limits()
    except SettingsError as exc:
        click.echo(f"csbot serve: {exc}", err=True)
        sys.exit(2)
    configure_logging(setting("CSBOT_LOG_LEVEL") or "INFO",
                      [settings.bot_token, settings.signing_secret or "", settings.app_token or "",
                       setting("STRIPE_API_KEY") or "", setting("STRIPE_WEBHOOK_SECRET") or "",
                       *((settings.oauth.client_secret, settings.oauth.state_secret) if settings.oauth else ())])
    _check_sources_file()
    config = kpi_config()
    engine = existing_store(db_url)
    try:
        app = build_app(settings, Services.create(engine, config))
    except BoltError as exc:
        click.echo(f"csbot serve: Slack did not accept SLACK_BOT_TOKEN ({_first_line(exc)}).", err=True)
        sys.exit(2)
    service = _start_scheduler(engine, config, settings.bot_token, settings) if _scheduler_on() else None
    _exit_on_sigterm()
    try:
        if settings.socket_mode:
            click.echo("csbot: connecting to Slack in Socket Mode")
            socket_mode_handler(app, settings.app_token).start()
            return
        port = port or int(setting("CSBOT_PORT") or 3000)
        webhook = _stripe_webhook(engine, config, settings.bot_token)
        server = make_http_server(app, engine, setting("CSBOT_HOST") or "0.0.0.0", port, limits=http_limits(),
                                  signing_secret=settings.signing_secret, stripe_webhook=webhook)
        click.echo(f"csbot: listening on port {server.effective_port} at /slack/events (health: /healthz"
                   + (", Stripe: /stripe/webhook)" if webhook else ")"))
        server.run()
    finally:
        if service is not None:
            service.stop()


def _stripe_webhook(engine, config: KpiConfig, token: str):
    """The /stripe/webhook handler when STRIPE_WEBHOOK_SECRET is set (and the Stripe key with it), else None."""
    from bot.delivery import make_client
    from bot.jobs.context import JobContext
    from bot.settings import SettingsError, api_base_url, setting, stripe_settings
    from bot.stripe_source import account_of, sync_from_settings
    from bot.stripe_webhook import StripeWebhook

    secret = setting("STRIPE_WEBHOOK_SECRET")
    if not secret:
        return None
    try:
        stripe_settings()
        ctx = JobContext.from_env(engine, make_client(token, api_base_url()), config)
    except (SettingsError, UserError) as exc:
        raise click.ClickException(str(exc)) from exc
    return StripeWebhook(ctx, secret, lambda customer: sync_from_settings(engine, config, customer=customer),
                         account_of)


def _check_sources_file() -> None:
    """Validate CSBOT_SOURCES at start: every problem listed, then exit 2 (sources.md)."""
    from bot.cli_sources import check_sources_file

    check_sources_file()


def _exit_on_sigterm() -> None:
    """SIGTERM (docker stop, systemd) leaves like Ctrl-C: the server returns and the scheduler stops cleanly."""
    import signal

    def _exit(signum, _frame) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _exit)


def _scheduler_on() -> bool:
    from bot.settings import SettingsError, scheduler_enabled

    try:
        return scheduler_enabled()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _start_scheduler(engine, config: KpiConfig, token: str, slack=None):
    """Start the leader-elected scheduler (it posts only while this process holds the lock). With OAuth
    installs (`slack.oauth`), each subscription posts with its own workspace's token."""
    from bot.delivery import make_client
    from bot.jobs.scheduler import SchedulerService
    from bot.settings import SettingsError, api_base_url

    overrides = {}
    if slack is not None and slack.oauth is not None:
        from bot.oauth import team_clients

        overrides["client_for_team"] = team_clients(slack.oauth, engine, api_base_url())
    try:
        service = SchedulerService.from_env(engine, config, make_client(token or None, api_base_url()), **overrides)
    except (SettingsError, UserError) as exc:
        raise click.ClickException(str(exc)) from exc
    service.start()
    return service


def _job_setup(db_url: str | None, need_slack: bool = True):
    """Logging, KPI settings, the store and (when posting) the checked bot token, for the job commands."""
    from bot.server import configure_logging
    from bot.settings import SettingsError, bot_token, setting

    token = ""
    if need_slack:
        try:
            token = bot_token()
        except SettingsError as exc:
            click.echo(f"csbot: {exc}", err=True)
            sys.exit(2)
    configure_logging(setting("CSBOT_LOG_LEVEL") or "INFO", [token])
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return kpi_config(), existing_store(db_url), token


def _job_context(engine, config: KpiConfig, token: str):
    from bot.delivery import make_client
    from bot.jobs.context import JobContext
    from bot.settings import SettingsError, api_base_url

    try:
        return JobContext.from_env(engine, make_client(token or "xoxb-dry-run", api_base_url()), config)
    except (SettingsError, UserError) as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@DB_OPTION
def scheduler(db_url: str | None) -> None:
    """Run the digest and risk-scan scheduler until stopped (SIGTERM or Ctrl-C).

    Any number may run: one process per database posts (the leader), the others stand by and take over
    within 15 s when it stops. Not needed when `csbot serve` runs with CSBOT_SCHEDULER=on (the default).
    """
    import signal
    import threading

    config, engine, token = _job_setup(db_url)
    service = _start_scheduler(engine, config, token)
    stop = threading.Event()

    def _stop(signum, _frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"csbot scheduler: running as {service.ctx.identity} on {_safe_url(db_url)}", err=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        service.stop()
        engine.dispose()
    click.echo("csbot scheduler: stopped", err=True)


@main.command()
@click.option("--channel", required=True, metavar="ID", help="Slack channel id to post to (e.g. C0123ABCD).")
@click.option("--dry-run", is_flag=True, help="Print the digest's text and Block Kit JSON; post nothing.")
@click.option("--chart-out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="PATH",
              help="With --dry-run: also write the digest chart (PNG) to PATH.")
@AS_OF_OPTION
@DB_OPTION
def digest(channel: str, dry_run: bool, chart_out: Path | None, as_of: str | None, db_url: str | None) -> None:
    """Post the digest to a channel now (with its subscription's KPIs and cadence, or the defaults)."""
    from bot.jobs.digest_job import build_message, post_now
    from bot.jobs.posting import DeliveryFailure
    from storage.subscriptions import find_subscription

    config, engine, token = _job_setup(db_url, need_slack=not dry_run)
    try:
        today = today_from(as_of)
        sub = find_subscription(engine, channel, "digest")
        if dry_run:
            message = build_message(engine, config, sub, today)
            click.echo(message.text)
            click.echo(json.dumps(message.blocks, indent=2, ensure_ascii=False))
            if chart_out is not None:
                _write_chart(message.content, chart_out)
            return
        if chart_out is not None:
            raise click.UsageError("--chart-out goes with --dry-run (a posted digest uploads its chart to Slack).")
        ctx = _job_context(engine, config, token)
        try:
            posted = post_now(ctx, channel=channel, sub=sub, today=today)
        except DeliveryFailure as exc:
            raise click.ClickException(f"the digest was not posted to {channel}: {exc}") from exc
        click.echo(f"Posted the digest to {channel} (ts {posted.ts}).")
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()


def _write_chart(content, path: Path) -> None:
    from bot.render.chart import digest_chart

    png = digest_chart(content)
    if png is None:
        click.echo(f"No chart written to {path}: no charted KPI has a value in these periods.", err=True)
        return
    path.write_bytes(png)
    click.echo(f"Chart written to {path} ({len(png):,} bytes).", err=True)


@main.command("scan-risk")
@click.option("--dry-run", is_flag=True, help="Say what would be posted; post and record nothing.")
@click.option("--channel", default=None, metavar="ID", help="Only this channel's /atrisk subscription.")
@AS_OF_OPTION
@DB_OPTION
def scan_risk(dry_run: bool, channel: str | None, as_of: str | None, db_url: str | None) -> None:
    """Run the churn-risk scan now for every /atrisk subscription (one warning per account and episode)."""
    from bot.jobs.posting import DeliveryFailure
    from bot.jobs.risk_job import preview, scan_now
    from storage.subscriptions import active_subscriptions

    config, engine, token = _job_setup(db_url, need_slack=not dry_run)
    failed = False
    try:
        today = today_from(as_of)
        ctx = _job_context(engine, config, token)
        subscribed = [s for s in active_subscriptions(engine, "risk") if channel in (None, s.channel_id)]
        if not subscribed:
            items = ctx.find_at_risk(engine, today, config)
            click.echo(f"No /atrisk subscription{' in ' + channel if channel else ''}: nothing to post. "
                       f"{len(items)} account(s) at risk on {today}" + (":" if items else "."))
            for item in items:
                click.echo(f"  {item.health.account.name} ({item.health.account.id}): "
                           + "; ".join(r.text for r in item.rules))
            return
        for sub in subscribed:
            if dry_run:
                items, plans = preview(ctx, sub, today)
                names = {i.health.account.id: i for i in items}
                click.echo(f"{sub.channel_id}: {len(items)} at risk on {today}; would warn about {len(plans)}")
                for plan in plans:
                    item = names[plan.account_id]
                    click.echo(f"  {item.health.account.name} ({plan.reason}): "
                               + "; ".join(r.text for r in item.rules))
                continue
            try:
                result = scan_now(ctx, sub, today)
            except DeliveryFailure as exc:
                click.echo(f"{sub.channel_id}: the scan did not finish: {exc}", err=True)
                failed = True
                continue
            click.echo(f"{sub.channel_id}: {len(result.items)} at risk on {today}; {result.posted} warning(s) "
                       f"posted, {result.recovered} found already posted")
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    if failed:
        sys.exit(1)


@main.command()
@click.option("--url", default=None, metavar="URL",
              help="Public https URL of /slack/events for HTTP mode (default: a Socket Mode manifest).")
def manifest(url: str | None) -> None:
    """Print the Slack app manifest (YAML) to create the app from."""
    from bot.manifest import manifest_yaml

    click.echo(manifest_yaml(url), nl=False)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def _add_history_commands() -> None:
    from bot.cli_history import backtest_cmd, health_backfill, tune_health

    for command in (health_backfill, backtest_cmd, tune_health):
        main.add_command(command)


_add_history_commands()

def _register_more_commands() -> None:
    from bot.cli_sources import register

    register(main)


_register_more_commands()

if __name__ == "__main__":
    main()
