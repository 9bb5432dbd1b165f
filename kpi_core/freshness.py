"""How fresh the data behind an answer is (shared/spec/sources.md, Freshness).

    fresh = answer_freshness(conn, answer, now, policy)
    fresh.as_json()   # {"data_as_of": "2026-11-30T05:02:00Z", "stale": false}
    fresh.words(tz)   # "data as of Mon 30 Nov 05:02, warehouse + import"

`data_as_of` is the last successful load of the least recently loaded table the answer read (a table's
load = its newest load by any source). `stale` is true when that table's load is older than the
`stale_after` of the source that made it (import: only when CSBOT_IMPORT_STALE_AFTER says so); every
table read whose load is stale is listed in `stale_tables` for the warning words. Sources whose last run
failed are listed with their error, so a digest can say its numbers were not refreshed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from kpi_core.answers import Answer, AtRiskAnswer, CatalogAnswer, HealthAnswer, KpiAnswer, OverviewAnswer, ValuesAnswer
from kpi_core.catalog import catalog
from storage.freshness import table_loads
from storage.sync import last_runs

__all__ = ["DEFAULT_STALE_AFTER", "Freshness", "FreshnessPolicy", "answer_freshness", "answer_tables",
           "freshness"]

DEFAULT_STALE_AFTER = dt.timedelta(hours=36)
_CONTRACT_NAME = {"usage_events": "usage"}
"""Store table names that differ from their data-contract (and table_loads) name."""


@dataclass(frozen=True)
class FreshnessPolicy:
    """When loads go stale: per source name; other synced sources after `default_after`; import never
    unless `import_after` is set."""

    stale_after: Mapping[str, dt.timedelta] = field(default_factory=dict)
    default_after: dt.timedelta = DEFAULT_STALE_AFTER
    import_after: dt.timedelta | None = None

    def after(self, source: str) -> dt.timedelta | None:
        if source == "import":
            return self.import_after
        return self.stale_after.get(source, self.default_after)


@dataclass(frozen=True)
class Failure:
    source: str
    at: dt.datetime  # naive UTC
    error: str


@dataclass(frozen=True)
class Freshness:
    """Freshness of one answer or digest. Times are naive UTC."""

    data_as_of: dt.datetime | None = None
    stale: bool = False
    sources: tuple[str, ...] = ()
    stale_tables: tuple[tuple[str, dt.datetime], ...] = ()  # (table, its oldest stale load)
    failures: tuple[Failure, ...] = ()

    def as_json(self) -> dict[str, object]:
        """The `"data_as_of"` and `"stale"` fields of every `--json` answer."""
        at = self.data_as_of.strftime("%Y-%m-%dT%H:%M:%SZ") if self.data_as_of else None
        return {"data_as_of": at, "stale": self.stale}

    def words(self, tz: ZoneInfo) -> str:
        """One line for people: when, from what; empty when nothing was ever loaded."""
        if self.data_as_of is None:
            return ""
        return f"data as of {_local(self.data_as_of, tz)}, {' + '.join(self.sources)}"

    def warnings(self, tz: ZoneInfo) -> list[str]:
        """The stale and failed-source warnings, one line each."""
        out = [f"stale: {table} was last loaded {_local(at, tz)}" for table, at in self.stale_tables]
        out += [f"{f.source} failed to sync at {_local(f.at, tz)}: {f.error.splitlines()[0] if f.error else ''}"
                for f in self.failures]
        return out


def _local(at: dt.datetime, tz: ZoneInfo) -> str:
    return at.replace(tzinfo=dt.UTC).astimezone(tz).strftime("%a %d %b %H:%M")


def kpi_tables(kpi_ids: Iterable[str]) -> tuple[str, ...]:
    """The data-contract tables the KPIs `kpi_ids` read (`usage`, not `usage_events`), each once."""
    names = (n for k in kpi_ids for n in catalog().get(k).tables)
    return tuple(dict.fromkeys(_CONTRACT_NAME.get(n, n) for n in names))


def answer_tables(answer: Answer) -> tuple[str, ...]:
    """The data-contract tables an answer read."""
    if isinstance(answer, KpiAnswer):
        names = catalog().get(answer.result.kpi).tables
        scope = answer.result.scope
        if scope.segment or scope.owner:  # the scope is read from the accounts table
            names = (*names, "accounts")
    elif isinstance(answer, HealthAnswer | OverviewAnswer | AtRiskAnswer):
        names = catalog().get("health").tables
    elif isinstance(answer, ValuesAnswer):  # feature values come from usage, the others from accounts
        names = ("usage_events",) if answer.dimension == "feature" else ("accounts",)
    elif isinstance(answer, CatalogAnswer):
        names = ()
    else:
        raise TypeError(f"unknown answer {answer!r}")
    return tuple(dict.fromkeys(_CONTRACT_NAME.get(n, n) for n in names))


def answer_freshness(conn: Connection, answer: Answer, now: dt.datetime, policy: FreshnessPolicy) -> Freshness:
    return freshness(conn, answer_tables(answer), now, policy)


def freshness(conn: Connection, tables: Iterable[str], now: dt.datetime, policy: FreshnessPolicy) -> Freshness:
    """Freshness of reading `tables` (data-contract names) at `now` (see the module doc)."""
    now = now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now
    wanted = set(tables)
    if not wanted:
        return Freshness()
    loads = [ld for ld in table_loads(conn) if ld.table in wanted]
    newest: dict[str, tuple[dt.datetime, str]] = {}  # table -> (its newest load, by which source)
    sources: list[str] = []
    for ld in loads:
        if ld.table not in newest or ld.loaded_at > newest[ld.table][0]:
            newest[ld.table] = (ld.loaded_at, ld.source)
        if ld.source not in sources:
            sources.append(ld.source)

    def is_stale(table: str) -> bool:
        at, source = newest[table]
        after = policy.after(source)
        return after is not None and now - at > after

    stale = {table: newest[table][0] for table in newest if is_stale(table)}
    oldest = min(newest, key=lambda t: newest[t][0]) if newest else None
    feeding = set(sources)
    failures = []
    for source, runs in sorted(last_runs(conn).items()):
        last = runs.get("last")
        if last is not None and last.state == "failed" and (source in feeding or "ok" not in runs):
            failures.append(Failure(source, last.finished_at or last.started_at, last.error or ""))
    return Freshness(
        data_as_of=newest[oldest][0] if oldest else None,
        stale=oldest is not None and is_stale(oldest),
        sources=tuple(sorted(sources, key=lambda s: (s == "import", s))),
        stale_tables=tuple(sorted(stale.items())),
        failures=tuple(failures),
    )
