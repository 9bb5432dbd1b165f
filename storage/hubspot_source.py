"""Kind `hubspot`: companies (and their owners' e-mails) through the official `hubspot-api-client`.

Every company becomes an `accounts` row: the sources file maps account columns to company properties
(`account_id: csbot_account_id`, `name: name`, ...); `signed_up_at` defaults to the company's `createdate`.
With `owner: true` (the default) the company's `hubspot_owner_id` is looked up among the CRM's owners and
its e-mail becomes `owner_email` (resolved to a Slack user after the sync). Companies without a value for
the `account_id` property are left out (counted in the report): they are not linked to a csbot account.
The whole company list is read (paged with `after`), so companies gone from the CRM are removed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from storage.sources_file import SourceDef
from storage.sync import TableRows
from storage.sync_report import SyncError

__all__ = ["DEFAULT_API_URL", "OWNER_PROPERTY", "read_hubspot_source"]

DEFAULT_API_URL = "https://api.hubapi.com"
OWNER_PROPERTY = "hubspot_owner_id"
PAGE_SIZE = 100
_DATE_COLUMNS = {"signed_up_at", "became_customer_at", "churned_at", "renewal_date"}
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T.*")
_EPOCH_MS = re.compile(r"\d{12,13}")


def _client(source: SourceDef, env: Mapping[str, str]) -> Any:
    from hubspot import HubSpot
    from urllib3.util.retry import Retry

    token = (env.get("HUBSPOT_ACCESS_TOKEN") or "").strip()
    if not token:
        raise SyncError([f"{source.name}: HUBSPOT_ACCESS_TOKEN is not set; create a private app with the scopes "
                         "crm.objects.companies.read and crm.objects.owners.read and set its token"])
    host = str(source.options.get("base_url") or env.get("HUBSPOT_API_URL") or DEFAULT_API_URL).rstrip("/")
    retry = Retry(total=3, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504),
                  allowed_methods=("GET",))
    return HubSpot(access_token=token, host=host, retry=retry)


def _failure(source: SourceDef, what: str, exc: Exception) -> SyncError:
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None) or exc.__class__.__name__
    hint = "; check HUBSPOT_ACCESS_TOKEN and its scopes" if status in (401, 403) else ""
    shown = f"HTTP {status} {reason}" if status else str(exc).splitlines()[0] if str(exc) else reason
    return SyncError([f"{source.name}:accounts: reading HubSpot {what} failed: {shown}{hint}"])


def _pages(fetch: Any) -> list[Any]:
    """Every result of a paged v3 list, following `paging.next.after`."""
    out: list[Any] = []
    after = None
    while True:
        page = fetch(after)
        out.extend(page.results or [])
        paging = page.paging
        after = paging.next.after if paging is not None and paging.next is not None else None
        if not after:
            return out


def _owners(api: Any, source: SourceDef) -> dict[str, str | None]:
    try:
        owners = _pages(lambda after: api.crm.owners.owners_api.get_page(limit=PAGE_SIZE, after=after))
    except Exception as exc:  # the client raises its own ApiException, or urllib3's errors
        raise _failure(source, "owners", exc) from None
    return {str(o.id): (o.email or None) for o in owners}


def _date(value: str, tz: ZoneInfo) -> str:
    """A HubSpot date or datetime property as the date it is in the reporting time zone."""
    if _EPOCH_MS.fullmatch(value):
        return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC).astimezone(tz).date().isoformat()
    if _INSTANT.fullmatch(value):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return (moment.astimezone(tz) if moment.tzinfo else moment).date().isoformat()
    return value


def read_hubspot_source(source: SourceDef, since: dt.datetime, env: Mapping[str, str],
                        reporting_tz: str = "UTC") -> list[TableRows]:
    """All companies as `accounts` rows of the mapped columns (see the module doc)."""
    tz = ZoneInfo(reporting_tz)
    api = _client(source, env)
    mapping = dict(source.properties)
    mapping.setdefault("signed_up_at", "createdate")
    with_owner = bool(source.options.get("owner", True))
    wanted = sorted(set(mapping.values()) | ({OWNER_PROPERTY} if with_owner else set()))
    try:
        companies = _pages(lambda after: api.crm.companies.basic_api.get_page(
            limit=PAGE_SIZE, after=after, properties=wanted, archived=False))
    except Exception as exc:
        raise _failure(source, "companies", exc) from None
    owners = _owners(api, source) if with_owner else {}
    columns = [*mapping, *(["owner_email"] if with_owner else [])]
    rows: list[tuple] = []
    unlinked = 0
    for company in companies:
        props = company.properties or {}
        if not (props.get(mapping["account_id"]) or "").strip():
            unlinked += 1
            continue
        row = []
        for column, prop in mapping.items():
            value = props.get(prop)
            row.append(_date(value, tz) if value and column in _DATE_COLUMNS else value)
        if with_owner:
            owner_id = props.get(OWNER_PROPERTY)
            row.append(owners.get(str(owner_id)) if owner_id else None)
        rows.append(tuple(row))
    notes = (f"accounts: {unlinked} compan{'y' if unlinked == 1 else 'ies'} without {mapping['account_id']} "
             "left out",) if unlinked else ()
    return [TableRows("accounts", tuple(columns), rows, whole=True, notes=notes)]
