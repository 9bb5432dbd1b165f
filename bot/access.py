"""Who may see what: allowed users, revenue viewers, leads (user ids or user groups, resolved and cached),
money KPIs, and channels shared with other organisations (Slack Connect)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.settings import id_list, subscription_admins
from kpi_core.catalog import KpiDef, catalog

log = logging.getLogger("csbot.access")

CACHE_SECONDS = 300.0
MONEY_FAMILIES = ("revenue",)
MONEY_UNITS = ("money",)
REVENUE_LIMITED = "Revenue figures are limited to the people in CSBOT_REVENUE_VIEWERS"
EXTERNAL_REFUSED = ("This channel is shared with another organisation (Slack Connect), so csbot does not {what} "
                    "here.")


def is_money_kpi(kpi: KpiDef) -> bool:
    """MRR, NRR, GRR, expansion, ARPA, CAC, retention cost, CLV, movements: anything about money."""
    return kpi.family in MONEY_FAMILIES or kpi.unit in MONEY_UNITS or kpi.id.startswith("mrr")


def money_kpi_ids() -> frozenset[str]:
    return frozenset(k.id for k in catalog().all() if is_money_kpi(k))


def user_of(body: Mapping) -> str | None:
    """The Slack user behind a command, a click or an event."""
    if body.get("user_id"):
        return body["user_id"]
    user = body.get("user")
    if isinstance(user, dict) and user.get("id"):
        return user["id"]
    event = body.get("event") or {}
    return event.get("user") if isinstance(event.get("user"), str) else None


class _TtlCache:
    """A small thread-safe cache whose entries expire after `seconds`."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds, self.clock = seconds, clock
        self._data: dict[tuple, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, load: Callable[[], object]) -> object:
        with self._lock:
            hit = self._data.get(key)
            if hit and hit[0] > self.clock():
                return hit[1]
        value = load()
        with self._lock:
            self._data[key] = (self.clock() + self.seconds, value)
        return value


@dataclass
class AccessPolicy:
    """The lists from the settings; user groups are looked up with `usergroups.users.list` and cached."""

    allowed: frozenset[str] = frozenset()
    revenue_viewers: frozenset[str] = frozenset()
    leads: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()
    cache_seconds: float = CACHE_SECONDS
    _cache: _TtlCache = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cache = _TtlCache(self.cache_seconds)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AccessPolicy:
        return cls(id_list("CSBOT_ALLOWED_USERS", env), id_list("CSBOT_REVENUE_VIEWERS", env),
                   id_list("CSBOT_LEADS", env), subscription_admins(env))

    # -------------------------------------------------------------------------------- groups

    def _group_ids(self, client: WebClient, team: str) -> dict[str, str]:
        """handle -> usergroup id for the workspace (only needed for `@handle` entries)."""
        def load() -> dict[str, str]:
            groups = client.usergroups_list(include_disabled=False).get("usergroups") or []
            return {g["handle"].lower(): g["id"] for g in groups if g.get("handle") and g.get("id")}
        return self._cache.get(("handles", team), load)  # type: ignore[return-value]

    def _members(self, client: WebClient, team: str, group_id: str) -> frozenset[str]:
        def load() -> frozenset[str]:
            return frozenset(client.usergroups_users_list(usergroup=group_id).get("users") or [])
        return self._cache.get(("members", team, group_id), load)  # type: ignore[return-value]

    def _in(self, entries: frozenset[str], client: WebClient, team: str, user: str | None) -> bool:
        if not user:
            return False
        if user in entries:
            return True
        for entry in entries:
            try:
                if entry.startswith("@"):
                    group = self._group_ids(client, team).get(entry[1:].lower())
                elif entry.startswith("S"):
                    group = entry
                else:
                    continue
                if group and user in self._members(client, team, group):
                    return True
            except SlackApiError as exc:  # a group we cannot read grants nothing; say so in the log
                log.warning("could not read user group %s: %s", entry, exc.response.get("error"))
        return False

    # -------------------------------------------------------------------------------- rules

    def allows(self, client: WebClient, team: str, user: str | None) -> bool:
        """May this person use csbot at all (CSBOT_ALLOWED_USERS; everyone when unset)?"""
        return not self.allowed or self._in(self.allowed, client, team, user)

    def sees_money(self, client: WebClient, team: str, user: str | None) -> bool:
        """May this person see revenue figures (CSBOT_REVENUE_VIEWERS; everyone when unset)?"""
        return not self.revenue_viewers or self._in(self.revenue_viewers, client, team, user)

    def is_lead(self, client: WebClient, team: str, user: str | None) -> bool:
        return bool(self.leads) and self._in(self.leads, client, team, user)

    def is_admin(self, user: str | None) -> bool:
        """Listed in CSBOT_SUBSCRIPTION_ADMINS (never true when the list is empty)."""
        return bool(user) and user in self.admins

    def sharing(self, client: WebClient, channel: str | None) -> str:
        """'internal', 'external' (shared with another organisation: `is_ext_shared`, also pending shares) or
        'unknown: <error>' when Slack would not say (not cached, so the next request asks again)."""
        if not channel or channel[:1] == "D":
            return "internal"
        key = ("external", channel)
        try:
            return str(self._cache.get(key, lambda: self._read_sharing(client, channel)))
        except SlackApiError as exc:
            error = exc.response.get("error") or "error"
            log.warning("could not read channel %s (%s): treated as shared", channel, error)
            return f"unknown: {error}"

    @staticmethod
    def _read_sharing(client: WebClient, channel: str) -> str:
        info = client.conversations_info(channel=channel)["channel"]
        return "external" if info.get("is_ext_shared") or info.get("is_pending_ext_shared") else "internal"

    def is_external(self, client: WebClient, channel: str | None) -> bool:
        """True for a channel shared with another organisation, and for one csbot cannot read (the safe side)."""
        return self.sharing(client, channel) != "internal"


def refusal(sharing: str, what: str) -> str:
    """Why csbot will not `what` in a channel that is shared, or that it could not check."""
    if sharing.startswith("unknown"):
        error = sharing.partition(": ")[2]
        return (f"csbot could not check whether this channel is shared with another organisation ({error}), so it "
                f"does not {what} here. Invite csbot to the channel (`/invite @csbot`) and try again.")
    return EXTERNAL_REFUSED.format(what=what)


def limited_text() -> str:
    """The polite line shown instead of money."""
    return f"{REVENUE_LIMITED}; ask your csbot admin if you need them."
