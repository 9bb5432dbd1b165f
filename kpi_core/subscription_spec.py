"""Reading `/digest subscribe [day] [HH:MM] [time zone] [kpi ids...]` into a schedule (pure, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from kpi_core.catalog import catalog
from kpi_core.types import UnknownKpiError, UserError

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_ALIASES = {d: i for i, d in enumerate(DAYS)} | {d[:3]: i for i, d in enumerate(DAYS)} | {
    "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3}
_TIME = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")
_CADENCES = {"weekly": "week", "monthly": "month"}

SUBSCRIBE_FORMS = (
    "`/digest subscribe [day] [HH:MM] [time zone] [kpi ids...]`, e.g. `/digest subscribe monday 09:00 "
    "Europe/Berlin nps mrr churn`. Day: monday-sunday (default monday); time: 24-hour HH:MM (default 09:00); "
    "time zone: an IANA name such as Europe/Berlin or America/New_York (default: the channel creator's, else "
    "UTC); KPIs: any ids from `/kpi list` (default: customers mrr nrr churn nps csat health); add `monthly` for a "
    "monthly digest (posted on the first such day of the month, covering the last month)."
)


@dataclass(frozen=True)
class DigestSchedule:
    weekday: int = 0
    at_time: str = "09:00"
    timezone: str | None = None  # None: the caller picks the channel creator's zone, else UTC
    kpis: tuple[str, ...] = ()  # empty: the default digest KPIs
    cadence: str = "week"

    @property
    def day_name(self) -> str:
        return DAYS[self.weekday].title()


def _zone(word: str) -> str | None:
    if "/" not in word and word.upper() not in {"UTC", "GMT"}:
        return None
    try:
        ZoneInfo(word)
        return word
    except (ZoneInfoNotFoundError, ValueError):
        lowered = {z.lower(): z for z in available_timezones()}
        return lowered.get(word.lower())


def parse_schedule(words: list[str] | tuple[str, ...]) -> DigestSchedule:
    """The schedule the words ask for; UserError naming every word it cannot use, with the accepted forms."""
    weekday, at_time, tz, cadence = None, None, None, "week"
    kpis: list[str] = []
    problems: list[str] = []
    for word in words:
        low = word.lower().rstrip(",")
        if low in _DAY_ALIASES and weekday is None:
            weekday = _DAY_ALIASES[low]
        elif low.rstrip("s") in _DAY_ALIASES and weekday is None:  # "mondays"
            weekday = _DAY_ALIASES[low.rstrip("s")]
        elif (m := _TIME.match(low)) and at_time is None:
            at_time = f"{int(m.group(1)):02d}:{m.group(2)}"
        elif low in _CADENCES:
            cadence = _CADENCES[low]
        elif (zone := _zone(word)) and tz is None:
            tz = zone
        elif low in catalog():
            kpi = catalog().get(low).id
            if kpi not in kpis:
                kpis.append(kpi)
        elif "/" in word:
            problems.append(f"'{word}' is not a time zone (use an IANA name such as Europe/Berlin)")
        elif re.match(r"^\d", low):
            problems.append(f"'{word}' is not a time (use 24-hour HH:MM such as 09:00 or 17:30)")
        else:
            try:
                catalog().get(low)
            except UnknownKpiError as exc:
                hint = f" (did you mean {' or '.join(exc.suggestions)}?)" if exc.suggestions else ""
                problems.append(f"'{word}' is not a day, time, time zone or KPI id{hint}")
    if problems:
        raise UserError("Cannot read that schedule: " + "; ".join(problems) + f".\nUsage: {SUBSCRIBE_FORMS}")
    return DigestSchedule(weekday if weekday is not None else 0, at_time or "09:00", tz, tuple(kpis), cadence)
