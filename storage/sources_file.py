"""The sources file (`CSBOT_SOURCES`, shared/spec/sources.md): named sources, read and validated as a whole.

    sources = load_sources("sources.yml", env=os.environ)   # SourcesFileError lists every problem

`${VAR}` in any string value is replaced by the environment variable VAR (a problem when unset). Every
problem is reported at once as `FILE: SOURCE: KEY: what is wrong`. A `stripe` source exists implicitly
(named `stripe`) when STRIPE_API_KEY is set and the file declares no source of kind `stripe`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from storage.csv_rules import KINDS

__all__ = [
    "DEFAULT_OVERLAP",
    "DEFAULT_SCHEDULE",
    "DEFAULT_STALE_AFTER",
    "HUBSPOT_COLUMNS",
    "KINDS_OF_SOURCE",
    "SourceDef",
    "SourcesFileError",
    "load_sources",
    "parse_duration",
    "parse_sources",
]

KINDS_OF_SOURCE = ("sql", "stripe", "hubspot")
DEFAULT_SCHEDULE = "05:00"
DEFAULT_OVERLAP = dt.timedelta(days=3)
DEFAULT_STALE_AFTER = dt.timedelta(hours=36)

HUBSPOT_COLUMNS = ("account_id", "name", "segment", "signed_up_at", "became_customer_at", "churned_at",
                   "acquisition_source", "renewal_date")
"""Account columns a `hubspot` source may map from company properties (the owner comes from the company's
HubSpot owner, as `owner_email`)."""

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?", re.ASCII)
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_COMMON_KEYS = {"kind", "schedule", "overlap", "stale_after"}
_KEYS = {
    "sql": _COMMON_KEYS | {"url", "tables"},
    "hubspot": _COMMON_KEYS | {"base_url", "properties", "owner"},
    "stripe": _COMMON_KEYS | {"api_base"},
}


@dataclass(frozen=True)
class SourceDef:
    """One declared source. `tables` (sql): data-contract table -> SELECT; `properties` (hubspot): account
    column -> company property; `options`: the other kind-specific keys as written."""

    name: str
    kind: str
    schedule: str = DEFAULT_SCHEDULE
    overlap: dt.timedelta = DEFAULT_OVERLAP
    stale_after: dt.timedelta = DEFAULT_STALE_AFTER
    url: str | None = None
    tables: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    implicit: bool = False

    def __repr__(self) -> str:  # the URL may hold a password
        return f"SourceDef({self.name!r}, kind={self.kind!r}, tables={sorted(self.tables)})"


class SourcesFileError(ValueError):
    """The sources file is unusable; `problems` lists every problem (`FILE: SOURCE: KEY: what is wrong`)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(problems)

    def __str__(self) -> str:
        return "\n".join(self.problems)


def parse_duration(text: str) -> dt.timedelta | None:
    """`3d`, `36h`, `90m`, `1d12h` -> timedelta; None when malformed or zero."""
    m = _DURATION.fullmatch(text.strip())
    if not m or not any(m.groups()):
        return None
    days, hours, minutes = (int(g or 0) for g in m.groups())
    value = dt.timedelta(days=days, hours=hours, minutes=minutes)
    return value or None


def load_sources(path: str | Path | None, env: Mapping[str, str] | None = None) -> list[SourceDef]:
    """The sources of the file at `path` (none when `path` is None), plus the implicit Stripe source."""
    env = os.environ if env is None else env
    if path is None:
        return _with_implicit_stripe([], env)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourcesFileError([f"{path}: cannot read the sources file ({exc.strerror or exc}); "
                                "check CSBOT_SOURCES"]) from None
    return parse_sources(text, env, label=str(path))


def parse_sources(text: str, env: Mapping[str, str], label: str = "sources") -> list[SourceDef]:
    """Parse and validate the YAML text of a sources file (see the module doc)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SourcesFileError([f"{label}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"]) from None
    problems: list[str] = []
    if not isinstance(data, dict) or set(data) != {"sources"} or not isinstance(data["sources"], dict):
        raise SourcesFileError([f"{label}: the file must hold one key, `sources:`, mapping names to sources "
                                "(see README, Sources)"])
    out: list[SourceDef] = []
    for name, body in data["sources"].items():
        found = _source(label, str(name), body, env, problems)
        if found is not None:
            out.append(found)
    if problems:
        raise SourcesFileError(problems)
    return _with_implicit_stripe(out, env)


def _with_implicit_stripe(sources: list[SourceDef], env: Mapping[str, str]) -> list[SourceDef]:
    if (env.get("STRIPE_API_KEY") or "").strip() and not any(s.kind == "stripe" for s in sources):
        if any(s.name == "stripe" for s in sources):
            return sources  # the name is taken; declare `kind: stripe` to sync Stripe
        return [*sources, SourceDef("stripe", "stripe", implicit=True)]
    return sources


def _expand(value: Any, env: Mapping[str, str], where: str, problems: list[str]) -> Any:
    """Replace ${VAR} in strings (recursively in lists and mappings)."""
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            var = m.group(1)
            if var not in env:
                problems.append(f"{where}: environment variable {var} is not set")
                return ""
            return env[var]

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, env, where, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, where, problems) for v in value]
    return value


def _source(label: str, name: str, body: Any, env: Mapping[str, str],
            problems: list[str]) -> SourceDef | None:
    at = f"{label}: {name}"
    if not _NAME.fullmatch(name):
        problems.append(f"{at}: the name may hold only letters, digits, '-' and '_' (at most 64)")
    if not isinstance(body, dict):
        problems.append(f"{at}: must be a mapping with at least `kind:`")
        return None
    kind = body.get("kind")
    if kind not in KINDS_OF_SOURCE:
        problems.append(f"{at}: kind: {kind!r} is not a source kind; use {', '.join(KINDS_OF_SOURCE)}")
        return None
    for key in sorted(set(body) - _KEYS[kind], key=str):
        problems.append(f"{at}: {key}: unknown key for kind {kind} (known: {', '.join(sorted(_KEYS[kind]))})")
    body = {key: _expand(value, env, f"{at}: {key}", problems) for key, value in body.items()}
    schedule = str(body.get("schedule", DEFAULT_SCHEDULE)).strip()
    if not _HHMM.fullmatch(schedule):
        problems.append(f"{at}: schedule: {schedule!r} is not a time of day; use HH:MM, e.g. \"05:00\"")
    overlap = _duration(at, "overlap", body.get("overlap"), DEFAULT_OVERLAP, problems)
    stale_after = _duration(at, "stale_after", body.get("stale_after"), DEFAULT_STALE_AFTER, problems)
    source = SourceDef(name, kind, schedule, overlap, stale_after)
    if kind == "sql":
        return _sql(at, source, body, problems)
    if kind == "hubspot":
        return _hubspot(at, source, body, problems)
    options = {k: body[k] for k in ("api_base",) if k in body}
    return SourceDef(name, kind, schedule, overlap, stale_after, options=options)


def _duration(at: str, key: str, raw: Any, default: dt.timedelta, problems: list[str]) -> dt.timedelta:
    if raw is None:
        return default
    value = parse_duration(str(raw))
    if value is None:
        problems.append(f"{at}: {key}: {raw!r} is not a duration; use e.g. 3d, 36h or 90m")
        return default
    return value


def _sql(at: str, source: SourceDef, body: dict[str, Any], problems: list[str]) -> SourceDef:
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        if not any(p.startswith(f"{at}: url: environment variable") for p in problems):
            problems.append(f"{at}: url: missing; give the SQLAlchemy URL of the database to read, "
                            "e.g. url: ${WAREHOUSE_URL}")
        url = None
    else:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(url)
        except ArgumentError:
            problems.append(f"{at}: url: not a SQLAlchemy URL; use e.g. postgresql://user@host/db")
    tables = body.get("tables")
    checked: dict[str, str] = {}
    if not isinstance(tables, dict) or not tables:
        problems.append(f"{at}: tables: missing; map data-contract tables ({', '.join(KINDS)}) to one SELECT each")
    else:
        for table, select in tables.items():
            if table not in KINDS:
                problems.append(f"{at}: tables: {table}: not a data-contract table; use {', '.join(KINDS)}")
            elif not isinstance(select, str) or not select.strip():
                problems.append(f"{at}: tables: {table}: needs one SELECT statement (text)")
            else:
                checked[table] = select.strip()
    return SourceDef(source.name, "sql", source.schedule, source.overlap, source.stale_after,
                     url=url, tables={t: checked[t] for t in KINDS if t in checked})


def _hubspot(at: str, source: SourceDef, body: dict[str, Any], problems: list[str]) -> SourceDef:
    properties = body.get("properties")
    checked: dict[str, str] = {}
    if not isinstance(properties, dict) or not properties:
        problems.append(f"{at}: properties: missing; map account columns to company properties, "
                        "e.g. account_id: csbot_account_id, name: name")
    else:
        for column, prop in properties.items():
            if column not in HUBSPOT_COLUMNS:
                problems.append(f"{at}: properties: {column}: not an account column a CRM can fill; use "
                                f"{', '.join(HUBSPOT_COLUMNS)}")
            elif not isinstance(prop, str) or not prop.strip():
                problems.append(f"{at}: properties: {column}: needs a HubSpot company property name")
            else:
                checked[column] = prop.strip()
        for required in ("account_id", "name"):
            if required not in checked and isinstance(properties, dict) and required not in properties:
                problems.append(f"{at}: properties: {required}: required; name the company property that holds it")
    owner = body.get("owner", True)
    if not isinstance(owner, bool):
        problems.append(f"{at}: owner: use true (owner e-mail from the company's HubSpot owner) or false")
        owner = True
    options: dict[str, Any] = {"owner": owner}
    if "base_url" in body:
        options["base_url"] = str(body["base_url"])
    return SourceDef(source.name, "hubspot", source.schedule, source.overlap, source.stale_after,
                     properties=checked, options=options)
