"""What a sync (`csbot sync`: Stripe, SQL or CRM sources) reports, and how it fails.

Shared by every source kind so `csbot sync`, the scheduler and `csbot status` print one format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["SyncError", "SyncReport", "TableChanges"]


@dataclass
class TableChanges:
    """Rows of one data-contract table that a sync added, changed and removed."""

    added: int = 0
    changed: int = 0
    removed: int = 0


@dataclass
class SyncReport:
    """One source's sync: per-table changes, notes (e.g. lines left out and why), time taken."""

    source: str
    tables: dict[str, TableChanges] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False

    def table(self, name: str) -> TableChanges:
        """The changes of `name`, created empty on first use."""
        return self.tables.setdefault(name, TableChanges())

    def lines(self) -> list[str]:
        """The report as a person reads it: one line per table, then the notes, then the time."""
        verb = "would change" if self.dry_run else "changed"
        out = [f"{self.source}: {verb} (dry run, nothing written)" if self.dry_run else f"{self.source}: {verb}"]
        for name, c in self.tables.items():
            out.append(f"  {name}: {c.added} added, {c.changed} changed, {c.removed} removed")
        out.extend(f"  {note}" for note in self.notes)
        out.append(f"  took {self.seconds:.1f} s")
        return out


class SyncError(Exception):
    """A sync that wrote nothing; `problems` names each one (`SOURCE:TABLE:row N: column: what is wrong`)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(self.problems)
