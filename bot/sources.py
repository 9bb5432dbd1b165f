"""The sources file and freshness policy as the settings give them (CSBOT_SOURCES, CSBOT_IMPORT_STALE_AFTER)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from bot.settings import SettingsError, setting
from kpi_core.freshness import FreshnessPolicy
from storage.sources_file import SourceDef, SourcesFileError, load_sources, parse_duration

__all__ = ["configured_sources", "freshness_policy", "status_report"]


def configured_sources(env: Mapping[str, str] | None = None) -> list[SourceDef]:
    """The sources of CSBOT_SOURCES (plus the implicit Stripe source); SourcesFileError lists every problem."""
    env = os.environ if env is None else env
    return load_sources(setting("CSBOT_SOURCES", env), env)


def freshness_policy(env: Mapping[str, str] | None = None) -> FreshnessPolicy:
    """Each source's stale_after, and CSBOT_IMPORT_STALE_AFTER for imported tables.

    A broken sources file does not stop answers: its sources then go stale after the default 36 h
    (`csbot sync`, `csbot status` and start-up name its problems).
    """
    env = os.environ if env is None else env
    raw = (setting("CSBOT_IMPORT_STALE_AFTER", env) or "").strip()
    import_after = parse_duration(raw) if raw else None
    if raw and import_after is None:
        raise SettingsError(f"CSBOT_IMPORT_STALE_AFTER is malformed: '{raw}' is not a duration; use e.g. 7d or 36h.")
    try:
        sources = configured_sources(env)
    except SourcesFileError:
        sources = []
    return FreshnessPolicy({s.name: s.stale_after for s in sources}, import_after=import_after)


def status_report(engine, tz, now) -> list[str]:
    """`csbot status` and `/kpi status`: sources (a broken sources file's problems too), their last runs and
    failures, table loads, unresolved owners and the schema version, as lines."""
    from bot.render.status import status_lines
    from storage.source_status import store_status

    problems: list[str] = []
    try:
        sources = configured_sources()
    except SourcesFileError as exc:
        sources, problems = [], exc.problems
    with engine.connect() as conn:
        found = store_status(conn, sources)
    return status_lines(found, tz, now, problems)
