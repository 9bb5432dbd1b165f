"""`csbot health-backfill`, `csbot backtest` and `csbot tune-health`: health history from the terminal."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from bot.cli_common import AS_OF_OPTION, DB_OPTION, err, kpi_config, today_from
from kpi_core.types import UserError
from storage.db import open_store


def _date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD, e.g. 2026-01-31.",
                                 param_hint=name) from exc


@click.command("health-backfill")
@click.option("--from", "start", required=True, metavar="YYYY-MM-DD", help="First day to score.")
@click.option("--to", "end", required=True, metavar="YYYY-MM-DD", help="Last day to score (at most today).")
@click.option("--every", type=click.Choice(["day", "week", "month"]), default="week", show_default=True,
              help="Step between the days scored.")
@AS_OF_OPTION
@DB_OPTION
def health_backfill(start: str, end: str, every: str, as_of: str | None, db_url: str | None) -> None:
    """Store health snapshots of past days, scored point in time (days that have one are left as they are)."""
    from kpi_core.history import backfill, backfill_dates

    config = kpi_config()
    today = today_from(as_of)
    first, last = _date(start, "--from"), _date(end, "--to")
    if last > today:
        raise click.BadParameter(f"{last} is after today ({today}); a snapshot can only be of a day that began.",
                                 param_hint="--to")
    engine = open_store(db_url)
    try:
        dates = backfill_dates(first, last, every)
        progress = (lambda day, n: err.print(f"{day}: {n:,} customers", highlight=False)) \
            if sys.stderr.isatty() else None
        result = backfill(engine, dates, config, today, progress)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    click.echo(f"Stored {len(result.written)} snapshot day(s) ({result.rows:,} rows) from {first} to {last}, "
               f"every {every}; {len(result.existing)} day(s) already had one (left unchanged); "
               f"{len(result.empty)} day(s) had no customer.")


@click.command("backtest")
@click.option("--from", "start", default=None, metavar="YYYY-MM-DD", help="First snapshot date.")
@click.option("--to", "end", default=None, metavar="YYYY-MM-DD", help="Last snapshot date.")
@click.option("--every", type=click.Choice(["month", "week"]), default="month", show_default=True)
@click.option("--horizon", default=90, show_default=True, type=int, metavar="DAYS",
              help="Churned within this many days after the snapshot date counts as churned.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the report.")
@click.option("--scores-out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE.csv",
              help="Write every (date, account) pair to this CSV, to recompute the AUC.")
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE.png",
              help="Write the chart (churn rate by band over time) to this PNG.")
@AS_OF_OPTION
@DB_OPTION
def backtest_cmd(start: str | None, end: str | None, every: str, horizon: int, as_json: bool,
                 scores_out: Path | None, chart: Path | None, as_of: str | None, db_url: str | None) -> None:
    """The renewal litmus test: does the health score predict churn? (default: the first of each month over the
    24 months before today minus the horizon; missing snapshots are backfilled first)."""
    from bot.render.backtest import backtest_chart, report_text
    from kpi_core.backtest import report_json
    from kpi_core.history import run_backtest, write_scores_csv

    config = kpi_config()
    today = today_from(as_of)
    engine = open_store(db_url)
    try:
        run = run_backtest(engine, config, today, _date(start, "--from"), _date(end, "--to"), every, horizon)
    except UserError as exc:
        if as_json:
            click.echo(json.dumps({"error": str(exc)}))
            sys.exit(1)
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    if run.filled.written:
        err.print(f"Scored {len(run.filled.written)} snapshot date(s) that had none (point in time) and stored them.",
                  highlight=False)
    if run.censored:
        err.print(f"Left out {len(run.censored)} date(s) less than {horizon} days before {today}: their outcome "
                  "is not known yet.", highlight=False)
    if scores_out:
        n = write_scores_csv(scores_out, run.pairs, horizon)
        err.print(f"Wrote {n:,} pairs to {scores_out}", highlight=False)
    if chart:
        chart.write_bytes(backtest_chart(run.report))
        err.print(f"Wrote the chart to {chart}", highlight=False)
    if as_json:
        click.echo(json.dumps(report_json(run.report)))
    else:
        click.echo(report_text(run.report))


@click.command("tune-health")
@click.option("--from", "start", default=None, metavar="YYYY-MM-DD", help="First snapshot date.")
@click.option("--to", "end", default=None, metavar="YYYY-MM-DD", help="Last snapshot date.")
@click.option("--every", type=click.Choice(["month", "week"]), default="month", show_default=True)
@click.option("--horizon", default=90, show_default=True, type=int, metavar="DAYS")
@click.option("--bands", "fit_bands", is_flag=True, help="Also suggest the red threshold (bands.yellow).")
@AS_OF_OPTION
@DB_OPTION
def tune_health(start: str | None, end: str | None, every: str, horizon: int, fit_bands: bool,
                as_of: str | None, db_url: str | None) -> None:
    """Suggest health weights fitted on older snapshots and checked on the newest (changes no setting)."""
    from kpi_core.history import run_backtest
    from kpi_core.tuning import tune

    config = kpi_config()
    today = today_from(as_of)
    engine = open_store(db_url)
    try:
        run = run_backtest(engine, config, today, _date(start, "--from"), _date(end, "--to"), every, horizon)
        result = tune(run.pairs, horizon, config, fit_bands)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()

    def auc(v):
        return "–" if v is None else f"{v:.3f}"

    def pct(v):
        return "–" if v is None else f"{100 * v:.1f}%"

    t, v = result.train_dates, result.valid_dates
    click.echo(f"Trained on {len(t)} snapshot dates ({t[0]} to {t[-1]}): {result.train_pairs:,} pairs, "
               f"{result.train_churned} churned within {horizon} days.")
    click.echo(f"Validated on the {len(v)} newest ({v[0]} to {v[-1]}): {result.valid_pairs:,} pairs, "
               f"{result.valid_churned} churned.")
    click.echo(f"{'':24}{'before':>10}{'after':>10}")
    click.echo(f"{'AUC (validation)':24}{auc(result.before.auc):>10}{auc(result.after.auc):>10}")
    click.echo(f"{'red-band precision':24}{pct(result.before.red_precision):>10}{pct(result.after.red_precision):>10}")
    click.echo(f"{'red-band pairs':24}{result.before.red_flagged:>10}{result.after.red_flagged:>10}")
    click.echo("\nSuggested settings (not applied; put them in your CSBOT_CONFIG file to use them):\n")
    click.echo(result.yaml(), nl=False)
