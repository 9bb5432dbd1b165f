"""Frozen request/result types of the KPI engine, and its user-facing errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kpi_core.periods import Period


class UserError(ValueError):
    """An error caused by what the user typed; its message is shown as is."""


class UnknownKpiError(UserError):
    def __init__(self, name: str, suggestions: list[str]):
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean {' or '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"There is no KPI called '{name}'.{hint} Type `/kpi list` to see them all.")


class UnknownAccountError(UserError):
    def __init__(self, text: str):
        self.text = text
        super().__init__(
            f"No account matches '{text}'. Type its account id or a part of its name (e.g. `/health acme`)."
        )


@dataclass(frozen=True)
class AccountRef:
    id: str
    name: str


class AmbiguousAccountError(UserError):
    def __init__(self, text: str, candidates: list[AccountRef]):
        self.text = text
        self.candidates = candidates
        listed = ", ".join(f"{c.name} ({c.id})" for c in candidates)
        super().__init__(f"'{text}' matches several accounts: {listed}. Which one did you mean?")


@dataclass(frozen=True)
class Scope:
    """What the answer is narrowed to; empty means all accounts."""

    account: AccountRef | None = None
    segment: str | None = None
    owner: str | None = None
    feature: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.account or self.segment or self.owner or self.feature)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.account:
            out["account"] = {"id": self.account.id, "name": self.account.name}
        if self.segment:
            out["segment"] = self.segment
        if self.owner:
            out["owner"] = self.owner
        if self.feature:
            out["feature"] = self.feature
        return out

    def describe(self) -> str:
        parts = []
        if self.account:
            parts.append(self.account.name)
        if self.segment:
            parts.append(f"segment {self.segment}")
        if self.owner:
            parts.append(f"owner <@{self.owner}>")
        if self.feature:
            parts.append(f"feature {self.feature}")
        return ", ".join(parts) if parts else "all accounts"


@dataclass(frozen=True)
class KpiRequest:
    kpi: str
    period: Period
    scope: Scope = field(default_factory=Scope)


@dataclass(frozen=True)
class Measure:
    """What one KPI computes for one period: value (None = no data, with reason), sample and breakdown."""

    value: float | None
    sample: int
    breakdown: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True)
class PreviousValue:
    value: float | None
    period: Period
    sample: int | None = None


@dataclass(frozen=True)
class KpiResult:
    kpi: str
    name: str
    unit: str
    higher_is_better: bool
    period: Period
    scope: Scope
    value: float | None
    sample: int
    sample_label: str
    breakdown: dict[str, Any]
    reason: str | None
    previous: PreviousValue | None
    formula: str
    min_sample: int = 0  # KpiConfig.min_sample for sampled KPIs, 0 for counts and sums

    @property
    def too_few(self) -> bool:
        """This period's or the previous one's sample is below the KPI setting `min_sample`: not comparable."""
        samples = [self.sample] + ([self.previous.sample] if self.previous and self.previous.sample is not None
                                   and self.previous.value is not None else [])
        return any(0 < n < self.min_sample for n in samples if n is not None)

    @property
    def delta(self) -> float | None:
        if self.value is None or self.previous is None or self.previous.value is None:
            return None
        return round(self.value - self.previous.value, 4)
