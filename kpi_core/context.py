"""The context one KPI query runs in: period, scope, settings, and the SQL filters they imply."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.sql.elements import ColumnElement

from kpi_core.config import KpiConfig
from kpi_core.periods import Period
from kpi_core.sqlfuncs import local_date, utc_bounds
from kpi_core.types import Scope
from storage.models import Account

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Shape:
    """Which scope filters a question has, not their values: what decides the form of a reused statement's SQL.

    Its conditions compare with bound parameters (`scope_account`, `scope_segment`, `scope_owner`, `scope_feature`)
    that `QueryContext.params` supplies; kpi_core.statements builds a statement once per shape.
    """

    account: bool = False
    segment: bool = False
    owner: bool = False
    feature: bool = False

    @classmethod
    def of(cls, scope: Scope) -> Shape:
        return cls(scope.account is not None, bool(scope.segment), bool(scope.owner), bool(scope.feature))

    @property
    def scoped(self) -> bool:
        return self.account or self.segment or self.owner

    def account_conditions(self, account=Account) -> list[ColumnElement]:
        """`QueryContext.account_conditions` with bound values."""
        conds: list[ColumnElement] = []
        if self.account:
            conds.append(account.account_id == bindparam("scope_account"))
        if self.segment:
            conds.append(account.segment == bindparam("scope_segment"))
        if self.owner:
            conds.append(account.owner_slack_id == bindparam("scope_owner"))
        return conds

    def scope_filter(self, account_id_column) -> list[ColumnElement]:
        """`QueryContext.scope_filter` with bound values."""
        if not self.scoped:
            return []
        if self.account and not (self.segment or self.owner):
            return [account_id_column == bindparam("scope_account")]
        return [account_id_column.in_(select(Account.account_id).where(*self.account_conditions()))]


def in_utc_range(ts_column) -> ColumnElement:
    """`QueryContext.in_period` with bound values: `ts_column` in [:lo, :hi) (`QueryContext.utc_params`)."""
    return and_(ts_column >= bindparam("lo"), ts_column < bindparam("hi"))


@dataclass(frozen=True)
class QueryContext:
    period: Period
    scope: Scope
    config: KpiConfig

    @property
    def start(self) -> dt.date:
        return self.period.start

    @property
    def end(self) -> dt.date:
        return self.period.end

    def with_period(self, period: Period) -> QueryContext:
        return replace(self, period=period)

    @property
    def shape(self) -> Shape:
        return Shape.of(self.scope)

    def params(self, **values: Any) -> dict[str, Any]:
        """Bound values for a statement built for `self.shape`: the scope's values, then `values`."""
        scope = self.scope
        out: dict[str, Any] = {}
        if scope.account:
            out["scope_account"] = scope.account.id
        if scope.segment:
            out["scope_segment"] = scope.segment
        if scope.owner:
            out["scope_owner"] = scope.owner
        if scope.feature:
            out["scope_feature"] = scope.feature
        return out | values

    def utc_params(self) -> dict[str, dt.datetime]:
        """The period's naive-UTC bounds as the `lo` and `hi` of `in_utc_range`."""
        lo, hi = self.utc_range()
        return {"lo": lo, "hi": hi}

    def utc_range(self, start: dt.date | None = None, end: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
        """Naive-UTC [lo, hi) of the local dates [start, end] (default: the period)."""
        return utc_bounds(start or self.start, end or self.end, self.config.tz)

    def in_period(self, ts_column, start: dt.date | None = None, end: dt.date | None = None) -> ColumnElement:
        """`ts_column` (naive UTC) falls on a local date in [start, end] (default: the period)."""
        lo, hi = self.utc_range(start, end)
        return and_(ts_column >= lo, ts_column < hi)

    def local_day(self, ts_column) -> ColumnElement:
        """Local date of a naive-UTC timestamp column, exact inside the period."""
        lo, hi = self.utc_range()
        return local_date(ts_column, lo, hi, self.config.tz)

    @property
    def scoped(self) -> bool:
        return bool(self.scope.account or self.scope.segment or self.scope.owner)

    def account_conditions(self, account=Account) -> list[ColumnElement]:
        """Conditions on the accounts table (or an alias of it) that narrow it to the scope."""
        conds: list[ColumnElement] = []
        if self.scope.account:
            conds.append(account.account_id == self.scope.account.id)
        if self.scope.segment:
            conds.append(account.segment == self.scope.segment)
        if self.scope.owner:
            conds.append(account.owner_slack_id == self.scope.owner)
        return conds

    def scope_filter(self, account_id_column) -> list[ColumnElement]:
        """Conditions that narrow an event table (by its account_id column) to the scope; [] when unscoped."""
        if not self.scoped:
            return []
        if self.scope.account and not (self.scope.segment or self.scope.owner):
            return [account_id_column == self.scope.account.id]
        return [account_id_column.in_(self.scoped_account_ids())]

    def scoped_account_ids(self) -> Select:
        return select(Account.account_id).where(*self.account_conditions())


def customer_on(day: dt.date, account=Account) -> ColumnElement:
    """The account is a customer on `day`: became_customer_at <= day and not churned by then."""
    return and_(
        account.became_customer_at.is_not(None),
        account.became_customer_at <= day,
        or_(account.churned_at.is_(None), account.churned_at > day),
    )
