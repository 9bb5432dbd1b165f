"""Turn the rows a source produced (dicts of Python values) into validated data-contract rows.

The one validation of every source kind: the values are written out as CSV cells would be and go
through the same `RowPlan` as CSV import, so a source gets the same messages, prefixed
`SOURCE:TABLE:row N: column: what is wrong`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from storage.csv_rules import BAD, FileSpec, RowPlan, parse_month

__all__ = ["ValidatedTable", "as_cell", "validate_rows"]

MAX_PROBLEMS = 200
"""Problems kept per table (all are counted)."""


class ValidatedTable:
    """The rows of one table that passed, the columns they carry, and every problem found."""

    def __init__(self, spec: FileSpec, present: tuple[str, ...]) -> None:
        self.spec = spec
        self.present = present
        self.rows: list[list[Any]] = []
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.total_problems = 0

    def problem(self, message: str) -> None:
        self.total_problems += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)


def as_cell(value: Any, month: bool = False) -> str:
    """A database or API value as the CSV cell that means the same (None -> empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m") if month and value.day == 1 else value.isoformat()
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    text = str(value)
    if month and len(text) == 10 and text.endswith("-01") and text[4] == "-":
        return text[:7]  # a month as the ISO date of its first day (how databases without DATE give it)
    return text


def validate_rows(
    prefix: str,
    spec: FileSpec,
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    known_accounts: set[str],
) -> ValidatedTable:
    """Validate rows (mappings by column name, or sequences in `columns` order) of `spec`'s table.

    `prefix` is `SOURCE:TABLE`; `known_accounts` holds the account ids of the store and of this sync
    (account ids of valid `accounts` rows are added to it).
    """
    plan = RowPlan(spec, list(columns))
    present = tuple(n for n in spec.names if n in {c.strip() for c in columns})
    out = ValidatedTable(spec, present)
    for column, what in plan.header_problems:
        out.problem(f"{prefix}: {column}: {what.replace('from the header', 'from the SELECT')}")
    out.warnings = [f"{prefix}: {column}: {what}" for column, what in plan.warnings]
    if out.problems:
        return out
    months = {c.name for c in spec.columns if c.parse is parse_month}
    cell_columns = [c.strip() for c in columns]
    account_at = plan.index.get("account_id")
    key_at = [plan.index[k] for k in spec.key]
    first_row_of: dict[tuple, int] = {}
    is_accounts = spec.kind == "accounts"
    for number, row in enumerate(rows, start=1):
        raw = [row.get(c) for c in cell_columns] if isinstance(row, Mapping) else list(row)
        cells = [as_cell(v, month=c in months) for c, v in zip(cell_columns, raw, strict=True)]
        values, problems = plan.parse(cells)
        if account_at is not None and values[account_at] is not BAD:
            account = values[account_at]
            if is_accounts:
                if not problems:
                    known_accounts.add(account)
            elif account not in known_accounts:
                problems.append(("account_id", f"{account!r} is not a known account; add it to the accounts "
                                               "of a source or an import, or fix the id"))
        if key_at:
            key = tuple(values[k] for k in key_at)
            if all(v is not BAD for v in key):
                first = first_row_of.setdefault(key, number)
                if first != number:
                    shown = ", ".join(repr(v.isoformat() if isinstance(v, dt.date) else v) for v in key)
                    problems.append((", ".join(spec.key), f"{shown} is on rows {first} and {number}; "
                                                          "return one row per key"))
        if problems:
            for column, what in problems:
                out.problem(f"{prefix}:row {number}: {column}: {what}" if column
                            else f"{prefix}:row {number}: {what}")
        else:
            out.rows.append(values)
    return out
