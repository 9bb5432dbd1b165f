"""The CSV data contract (shared/spec/data.md) as data: the columns of each file, cell parsers, row rules.

Pure Python, no database: `storage.importer` streams rows through a `RowPlan` and writes what passes.

Cell conventions:
- surrounding whitespace is stripped from every cell; an empty (or all-blank) cell is missing (NULL);
- ids and other text are kept as written (`007` stays the string `007`), only length-checked
  against the column sizes of `storage.models`;
- the fixed vocabularies (survey kind, priority, cost category) are matched case-insensitively
  and stored in lower case;
- an optional column may be left out of the header: new rows then have it empty, and rows already in the
  store keep their value (only the columns present are written; an empty cell in a present column clears).

Parsers raise `CellError` whose text says what is wrong and, where it helps, what to write instead;
the importer prefixes it with `file:line: column: `.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, Table

from storage.models import Account, Cost, Invoice, Revenue, Survey, Ticket, UsageEvent


class CellError(ValueError):
    """One cell breaks the contract; the message says what is wrong (without file, line or column)."""


class _Bad:
    """Marker for a cell that failed to parse (or a required column absent from the header)."""

    def __repr__(self) -> str:
        return "BAD"


BAD: Any = _Bad()

_INT32_MAX = 2**31 - 1
_MONEY_LIMIT = Decimal(10) ** 12  # NUMERIC(14, 2)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_MONTH_RE = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
_INT_RE = re.compile(r"[+-]?\d+", re.ASCII)
_MONEY_RE = re.compile(r"-?\d+(?:\.(\d+))?", re.ASCII)
_CURRENCY_RE = re.compile(r"[$€£¥₹¢]|[A-Za-z]{3}")


# --- cell parsers -------------------------------------------------------------------------------


def text(max_length: int | None) -> Callable[[str], str]:
    """A string kept exactly as written (after stripping), at most `max_length` characters."""

    def parse(s: str) -> str:
        if max_length is not None and len(s) > max_length:
            raise CellError(f"is {len(s)} characters long; at most {max_length} are allowed")
        if "\x00" in s:
            raise CellError("contains a NUL character; remove it")
        return s

    return parse


def parse_date(s: str) -> dt.date:
    if not _DATE_RE.fullmatch(s):
        raise CellError(f"{s!r} is not a date; use YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise CellError(f"{s!r} is not a date (no such day); use YYYY-MM-DD") from None


def parse_month(s: str) -> dt.date:
    """A `YYYY-MM` month, stored as the first day of that month."""
    m = _MONTH_RE.fullmatch(s)
    if m and 1 <= int(m.group(2)) <= 12 and int(m.group(1)) >= 1:
        return dt.date(int(m.group(1)), int(m.group(2)), 1)
    raise CellError(f"{s!r} is not a month; use YYYY-MM (e.g. 2026-03)")


def datetime_parser(tz: ZoneInfo) -> Callable[[str], dt.datetime]:
    """ISO 8601 date-time -> naive UTC. `Z` or an offset is honoured; no offset means the time zone `tz`.

    A date alone (`2026-03-04`) means midnight. A wall time that does not exist or occurs twice in
    `tz` (daylight-saving changes) is read with the offset in force before the change (fold=0).
    """
    is_utc = tz.key == "UTC"

    def parse(s: str) -> dt.datetime:
        try:
            if not _DATE_RE.match(s) or (len(s) > 10 and s[10] not in "Tt "):
                raise ValueError
            if s[-1] in "Zz":  # the common case, UTC: no time zone arithmetic needed
                d = dt.datetime.fromisoformat(s[:-1])
                if d.tzinfo is None:
                    return d
                raise ValueError
            d = dt.datetime.fromisoformat(s)
            offset = d.utcoffset()
            if offset is None:
                if is_utc:
                    return d
                d = d.replace(tzinfo=tz)
                offset = d.utcoffset()
            return (d - offset).replace(tzinfo=None)
        except (ValueError, OverflowError):
            raise CellError(
                f"{s!r} is not a datetime; use ISO 8601, e.g. 2026-03-04T10:15:00Z, 2026-03-04T12:15:00+02:00"
                " or 2026-03-04 10:15:00 (no offset = the reporting time zone)"
            ) from None

    return parse


_SLACK_USER_ID_RE = re.compile(r"[UW][A-Z0-9]{2,}", re.ASCII)


def slack_user_id(s: str) -> str:
    """A Slack user id (`U0123ABCD`, or `W...` on Enterprise Grid): what mentions and DMs need."""
    if _SLACK_USER_ID_RE.fullmatch(s):
        return s
    if "@" in s:
        raise CellError(
            f"{s!r} is an e-mail address, not a Slack user id; write the person's member id (U0123ABCD: in Slack, "
            "their profile > ... > Copy member ID), or put the e-mail in the `owner_email` column instead: csbot "
            "looks it up in Slack (users.lookupByEmail) when it imports or syncs"
        )
    raise CellError(f"{s!r} is not a Slack user id; use the member id, e.g. U0123ABCD (U or W, then capitals "
                    "and digits)")


def money(s: str) -> Decimal:
    """A non-negative amount with at most 2 decimals and no currency sign."""
    m = _MONEY_RE.fullmatch(s)
    if m is None:
        if _CURRENCY_RE.search(s) and any(c.isdigit() for c in s):
            raise CellError(f"{s!r} has a currency sign or code; write the plain number, e.g. 1234.50")
        if "," in s:
            raise CellError(
                f"{s!r} is not an amount; write it without thousands separators and with a dot, e.g. 1234.50"
            )
        raise CellError(f"{s!r} is not an amount; use a decimal number, e.g. 1234.50")
    if m.group(1) is not None and len(m.group(1)) > 2:
        raise CellError(f"{s!r} has more than 2 decimals; round it to cents")
    value = Decimal(s)
    if value < 0:
        raise CellError(f"{s} is negative; it must be >= 0")
    if value >= _MONEY_LIMIT:
        raise CellError(f"{s} is too large; at most 999999999999.99")
    return value


_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def email(s: str) -> str:
    """An e-mail address (stored in lower case), at most 320 characters."""
    if len(s) > 320 or not _EMAIL_RE.fullmatch(s):
        raise CellError(f"{s!r} is not an e-mail address; use name@example.com")
    return s.lower()


def integer(minimum: int | None = None, why: str = "") -> Callable[[str], int]:
    """A whole number, at least `minimum` when given (`why` explains the bound)."""

    def parse(s: str) -> int:
        if not _INT_RE.fullmatch(s):
            raise CellError(f"{s!r} is not a whole number")
        value = int(s)
        if minimum is not None and value < minimum:
            raise CellError(f"{value} is below {minimum}; it must be >= {minimum}{why}")
        if abs(value) > _INT32_MAX:
            raise CellError(f"{value} is too large; at most {_INT32_MAX}")
        return value

    return parse


def choice(options: Sequence[str], what: str) -> Callable[[str], str]:
    """One of `options`, matched case-insensitively, stored in lower case."""
    allowed = frozenset(options)
    listed = ", ".join(options[:-1]) + " or " + options[-1]

    def parse(s: str) -> str:
        value = s.lower()
        if value not in allowed:
            raise CellError(f"{s!r} is not a {what}; use {listed}")
        return value

    return parse


# --- row rules (only called with the parsed values; BAD or None means skip) ----------------------

Problems = list[tuple[str, str]]


def _ok(value: Any) -> bool:
    return value is not None and value is not BAD


def account_rules(v: dict[str, Any], raw: dict[str, str]) -> Problems:
    out: Problems = []
    signed, became, churned = v["signed_up_at"], v["became_customer_at"], v["churned_at"]
    if _ok(became) and _ok(signed) and became < signed:
        out.append(("became_customer_at", f"{became} is before signed_up_at {signed}; it must be on or after it"))
    if _ok(churned):
        if became is None:
            what = "is set but became_customer_at is empty; fill in became_customer_at or clear churned_at"
            out.append(("churned_at", what))
        elif _ok(became) and churned <= became:
            out.append(("churned_at", f"{churned} is not after became_customer_at {became}; it must be later"))
    return out


SCORE_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 5)}


def survey_rules(v: dict[str, Any], raw: dict[str, str]) -> Problems:
    kind, score = v["survey"], v["score"]
    if _ok(kind) and _ok(score):
        low, high = SCORE_RANGES[kind]
        if not low <= score <= high:
            return [("score", f"{score} is outside {low}-{high} for {kind}")]
    return []


def ticket_rules(v: dict[str, Any], raw: dict[str, str]) -> Problems:
    opened, resolved = v["opened_at"], v["resolved_at"]
    if _ok(opened) and _ok(resolved) and resolved < opened:
        return [("resolved_at", f"{raw['resolved_at']!r} is before opened_at {raw['opened_at']!r}; it must not be")]
    return []


# --- file specs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    parse: Callable[[str], Any]
    required: bool = False
    default: Any = None  # value of an empty cell of an optional column


@dataclass(frozen=True)
class FileSpec:
    kind: str
    table: Table
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # natural key (upsert target); () = none (usage)
    rules: Callable[[dict[str, Any], dict[str, str]], Problems] | None = None

    @property
    def file_name(self) -> str:
        return f"{self.kind}.csv"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def references_accounts(self) -> bool:
        return self.kind != "accounts" and "account_id" in self.names


KINDS = ("accounts", "revenue", "invoices", "surveys", "tickets", "usage", "costs")
"""Every file kind, in import order (accounts first: the others refer to it)."""

FILE_NAMES = tuple(f"{k}.csv" for k in KINDS)


def file_specs(tz: ZoneInfo) -> dict[str, FileSpec]:
    """The contract of every file, with datetimes read in reporting time zone `tz`."""
    when = datetime_parser(tz)

    def cols(table: Table, *specs: tuple[str, Callable[[str], Any] | None, bool] | Column) -> tuple[Column, ...]:
        out = []
        for spec in specs:
            if isinstance(spec, Column):
                out.append(spec)
                continue
            name, parse, required = spec
            if parse is None:
                column_type = table.c[name].type
                parse = text(column_type.length if isinstance(column_type, String) else None)
            out.append(Column(name, parse, required))
        return tuple(out)

    a, r, i, s, t, u, c = (m.__table__ for m in (Account, Revenue, Invoice, Survey, Ticket, UsageEvent, Cost))
    specs = [
        FileSpec(
            "accounts",
            a,
            cols(
                a,
                ("account_id", None, True),
                ("name", None, True),
                ("segment", None, False),
                ("owner_slack_id", slack_user_id, False),
                ("owner_email", email, False),
                ("signed_up_at", parse_date, True),
                ("became_customer_at", parse_date, False),
                ("first_value_at", parse_date, False),
                ("churned_at", parse_date, False),
                ("acquisition_source", None, False),
                ("renewal_date", parse_date, False),
            ),
            ("account_id",),
            account_rules,
        ),
        FileSpec(
            "revenue",
            r,
            cols(
                r,
                ("account_id", None, True),
                ("month", parse_month, True),
                Column("product", text(r.c.product.type.length), default="core"),
                ("mrr", money, True),
            ),
            ("account_id", "month", "product"),
        ),
        FileSpec(
            "invoices",
            i,
            cols(
                i,
                ("invoice_id", None, True),
                ("account_id", None, True),
                ("issued_at", parse_date, True),
                ("amount", money, True),
            ),
            ("invoice_id",),
        ),
        FileSpec(
            "surveys",
            s,
            cols(
                s,
                ("response_id", None, True),
                ("account_id", None, True),
                ("survey", choice(("nps", "csat", "ces"), "survey kind"), True),
                ("score", integer(), True),
                ("responded_at", when, True),
                ("contact", None, False),
                ("comment", None, False),
            ),
            ("response_id",),
            survey_rules,
        ),
        FileSpec(
            "tickets",
            t,
            cols(
                t,
                ("ticket_id", None, True),
                ("account_id", None, True),
                ("opened_at", when, True),
                ("resolved_at", when, False),
                ("contacts", integer(1, " (1 = resolved at first contact)"), False),
                ("priority", choice(("low", "normal", "high", "urgent"), "priority"), False),
            ),
            ("ticket_id",),
            ticket_rules,
        ),
        FileSpec(
            "usage",
            u,
            cols(
                u,
                ("account_id", None, True),
                ("user_id", None, True),
                ("occurred_at", when, True),
                ("feature", None, False),
                ("duration_seconds", integer(0), False),
            ),
            (),
        ),
        FileSpec(
            "costs",
            c,
            cols(
                c,
                ("month", parse_month, True),
                ("category", choice(("acquisition", "retention"), "cost category"), True),
                ("amount", money, True),
            ),
            ("month", "category"),
        ),
    ]
    return {spec.kind: spec for spec in specs}


# --- one file's header and rows ------------------------------------------------------------------


class RowPlan:
    """How to read the rows of one file, given its header.

    `header_problems` and `warnings` are `(column, message)` pairs about line 1. `parse(cells)` returns
    `(values, problems)`: values in `spec.columns` order (BAD where a cell failed) and `(column, message)`
    pairs (column "" for a whole-row problem).
    """

    def __init__(self, spec: FileSpec, header: list[str]) -> None:
        self.spec = spec
        names = [h.strip() for h in header]
        self.width = len(names)
        self.header_problems: Problems = []
        self.warnings: Problems = []
        known = set(spec.names)
        position: dict[str, int] = {}
        for index, name in enumerate(names):
            if name not in position:
                position[name] = index
            elif name in known:
                self.header_problems.append((name, "appears twice in the header; keep one"))
        extra = [n for n in position if n not in known]
        for column in spec.columns:
            if column.required and column.name not in position:
                hint = difflib.get_close_matches(column.name, extra, n=1, cutoff=0.6)
                if len(names) == 1 and ";" in names[0]:
                    what = "required column is missing from the header; the file seems to use ';' - save it with ','"
                elif hint:
                    what = f"required column is missing from the header; rename {hint[0]!r} to {column.name}"
                else:
                    what = f"required column is missing from the header; add it (columns: {', '.join(spec.names)})"
                self.header_problems.append((column.name, what))
        for name in extra:
            self.warnings.append((name or "(blank)", f"unknown column, ignored (known: {', '.join(spec.names)})"))
        self.plan = [(c, position.get(c.name)) for c in spec.columns]
        self.index = {c.name: i for i, c in enumerate(spec.columns)}
        self.present = tuple(c.name for c in spec.columns if c.name in position)
        """Columns in the header: the only ones an import writes over stored rows."""
        self.absent = frozenset(spec.names) - set(self.present)
        self.stored: dict[Any, dict[str, Any]] | None = None
        """Stored values of absent columns by key (set by the importer), so rules judge the row as it will be."""

    def parse(self, cells: list[str]) -> tuple[list[Any], Problems]:
        problems: Problems = []
        if len(cells) != self.width:
            problems.append(
                ("", f"has {len(cells)} cells but the header has {self.width} columns; quote cells that contain commas")
            )
            return [BAD] * len(self.plan), problems
        values: list[Any] = []
        append = values.append
        for column, index in self.plan:
            if index is None:  # absent from the header: empty (a missing required column is reported once)
                append(BAD if column.required else column.default)
                continue
            cell = cells[index].strip()
            if not cell:
                if column.required:
                    problems.append((column.name, "is empty; this column is required, fill it in"))
                    append(BAD)
                else:
                    append(column.default)
                continue
            try:
                append(column.parse(cell))
            except CellError as exc:
                problems.append((column.name, str(exc)))
                append(BAD)
        rules = self.spec.rules
        if rules is not None:
            by_name = dict(zip(self.spec.names, values, strict=True))
            if self.absent:  # not in the file: the stored value stays (a new row gets the column's default)
                kept = self.stored.get(tuple(by_name[k] for k in self.spec.key), {}) if self.stored is not None else {}
                for name in self.absent:
                    by_name[name] = kept.get(name, by_name[name]) if self.stored is not None else BAD
                    if name in kept:  # the row offered to the database satisfies its CHECKs as the stored one
                        values[self.index[name]] = kept[name]
            raw = {c.name: cells[i].strip() for c, i in self.plan if i is not None}
            problems.extend(rules(by_name, raw))
        return values, problems
