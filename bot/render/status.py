"""`csbot status` / `/kpi status` as lines of text (the same words in the terminal and in Slack)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from bot.render.formats import rows_text
from storage.source_status import StoreStatus

__all__ = ["status_lines"]


def _at(moment: dt.datetime | None, tz: ZoneInfo) -> str:
    if moment is None:
        return "never"
    return moment.replace(tzinfo=dt.UTC).astimezone(tz).strftime("%a %d %b %Y %H:%M")


def _age(moment: dt.datetime, now: dt.datetime) -> str:
    hours = (now.astimezone(dt.UTC).replace(tzinfo=None) - moment).total_seconds() / 3600
    return f"{hours:.0f} h ago" if hours < 48 else f"{hours / 24:.0f} days ago"


def status_lines(status: StoreStatus, tz: ZoneInfo, now: dt.datetime, problems: Sequence[str] = ()) -> list[str]:
    """Sources (last run, rows, failure), table loads, unresolved owner e-mails, schema version."""
    out = [f"Times in {tz.key}."]
    if problems:
        out.append("Sources file problems (nothing is synced until they are fixed):")
        out += [f"  {p}" for p in problems]
    out.append("Sources:" if status.sources else "Sources: none (set CSBOT_SOURCES; see README, Sources)")
    for s in status.sources:
        what = f"{s.kind}, daily at {s.schedule}" if s.kind else "no longer in the sources file"
        last = s.last
        if last is None:
            out.append(f"  {s.name} ({what}): never synced")
            continue
        if last.state == "ok":
            out.append(f"  {s.name} ({what}): last run {_at(last.started_at, tz)} ok, {rows_text(last.rows or 0)}")
        else:
            error = (last.error or "").splitlines()[0] if last.error else "unknown error"
            ok = f"; last success {_at(s.last_ok.started_at, tz)}" if s.last_ok else "; never succeeded"
            out.append(f"  {s.name} ({what}): FAILED {_at(last.finished_at or last.started_at, tz)}: {error}{ok}")
    out.append("Tables:" if status.loads else "Tables: nothing loaded yet (csbot import or csbot sync)")
    for ld in status.loads:
        out.append(f"  {ld.table}: {rows_text(ld.rows)} from {ld.source}, {_at(ld.loaded_at, tz)} "
                   f"({_age(ld.loaded_at, now)})")
    if status.unresolved_owners:
        out.append("Owner e-mails matching no Slack user:")
        out += [f"  {email} ({n} account{'s' if n != 1 else ''})" for email, n in status.unresolved_owners]
    else:
        out.append("Owner e-mails: all resolved")
    out.append(f"Schema version: {status.schema_version or 'none'}")
    return out
