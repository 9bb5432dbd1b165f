"""Reporting periods: read what people type ("last quarter", "2026-10", "last-30d"...) into date ranges.

The grammar is the "Periods" section of the spec commands.md; the "previous period" rule is from kpis.md
("Shared terms"). Everything here is pure: "today" is always passed in by the caller (reporting time zone,
``--as-of`` or ``CSBOT_AS_OF``), and the default period (``last-30d``) is the caller's business.

Public API:

- ``parse_period(text, today)`` -> ``Period`` (raises ``PeriodError``)
- ``looks_like_period(text)`` -> bool, a cheap shape check (no ``today`` needed)
- ``extract_period(words, today)`` -> ``(Period | None, remaining_words)``
- ``Period`` with ``start``/``end`` (inclusive), ``label``, ``kind``, ``truncated``, ``days``, ``previous()``,
  ``describe()``
- ``ACCEPTED_FORMS``, the help text that every ``PeriodError`` carries
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

__all__ = [
    "ACCEPTED_FORMS",
    "KINDS",
    "MAX_DAYS",
    "Period",
    "PeriodError",
    "extract_period",
    "looks_like_period",
    "parse_period",
    "split_period",
]

ACCEPTED_FORMS = """Accepted periods (case-insensitive):
  today, yesterday
  this-week, last-week            ISO weeks, Monday to Sunday ("this-" = Monday to today)
  this-month, last-month          calendar months ("this-" = to date)
  this-quarter, last-quarter      calendar quarters, Q1 = Jan-Mar ("this-" = to date)
  this-year (or ytd), last-year   calendar years ("this-" = to date)
  last-30d, last-7d, last-Nd      the N complete days ending yesterday (N from 1 to 3660)
  2026-Q3, Q3 2026                a quarter
  2026-10, October 2026, Oct 2026 a month
  october                         the latest October that has started (any full month name but May)
  2026                            a year
  2026-10-01                      a single day
  2026-01-15..2026-02-14          an inclusive range of dates
Spaces work instead of hyphens: "last quarter", "last 30 days", "past 30 days";
"past" and "previous" mean "last" ("previous quarter")."""

KINDS = ("day", "week", "month", "quarter", "year", "days", "range")
CALENDAR_KINDS = ("week", "month", "quarter", "year")
MAX_DAYS = 3660
MIN_YEAR = 1900
# A bare 4-digit number is read as a year only in this range, so that numeric account ids such as "4711"
# stay account ids. Compound forms ("2026-10", "2026-Q3", dates) accept any year from MIN_YEAR.
BARE_YEAR_RANGE = (1900, 2100)

_ONE_DAY = timedelta(days=1)

MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_BY_NAME: dict[str, int] = {}
for _number, _name in enumerate(MONTH_NAMES, start=1):
    _MONTH_BY_NAME[_name] = _number
    _MONTH_BY_NAME[_name[:3]] = _number
_MONTH_BY_NAME["sept"] = 9


class PeriodError(ValueError):
    """A period the user typed cannot be used. ``str()`` gives the reason followed by ``ACCEPTED_FORMS``.

    ``reason`` (also ``args[0]``) is the one-line explanation alone.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.reason}\n{ACCEPTED_FORMS}"


# --------------------------------------------------------------------------------------------- calendar units


def _unit_start(kind: str, d: date) -> date:
    if kind == "week":
        return d - timedelta(days=d.weekday())
    if kind == "month":
        return d.replace(day=1)
    if kind == "quarter":
        return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    if kind == "year":
        return date(d.year, 1, 1)
    raise ValueError(f"not a calendar kind: {kind}")


def _unit_end(kind: str, d: date) -> date:
    if kind == "week":
        return _unit_start("week", d) + timedelta(days=6)
    if kind == "month":
        return _next_month_start(d) - _ONE_DAY
    if kind == "quarter":
        q_start = _unit_start("quarter", d)
        return _next_month_start(_next_month_start(_next_month_start(q_start))) - _ONE_DAY
    if kind == "year":
        return date(d.year, 12, 31)
    raise ValueError(f"not a calendar kind: {kind}")


def _next_month_start(d: date) -> date:
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)


def _n_days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def _day_name(d: date) -> str:
    return f"{d.day} {MONTH_NAMES[d.month - 1].capitalize()} {d.year}"


def _unit_name(kind: str, start: date) -> str:
    """The absolute name of the calendar unit that contains ``start``: "Q3 2026", "October 2026"..."""
    if kind == "week":
        iso = start.isocalendar()
        return f"week {iso.week} of {iso.year}"
    if kind == "month":
        return f"{MONTH_NAMES[start.month - 1].capitalize()} {start.year}"
    if kind == "quarter":
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    if kind == "year":
        return str(start.year)
    raise ValueError(f"not a calendar kind: {kind}")


# ------------------------------------------------------------------------------------------------------ Period


@dataclass(frozen=True)
class Period:
    """An inclusive range of calendar dates ``[start, end]``, with its name in words.

    ``kind`` is one of ``KINDS``: "day", "week" (ISO, Monday-Sunday), "month", "quarter", "year" (calendar units,
    always starting on the unit's first day), "days" (last-Nd) or "range" (explicit dates).
    ``truncated`` is True when the period as asked ended after today and its end was cut at today
    (this-month on the 10th, 2026-Q4 asked in November, a range reaching into the future).
    """

    start: date
    end: date
    label: str
    kind: str
    truncated: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown period kind {self.kind!r}; expected one of {KINDS}")
        if self.start > self.end:
            raise ValueError(f"period start {self.start} is after its end {self.end}")

    @property
    def days(self) -> int:
        """Number of days in the period, both ends included."""
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period to compare against (kpis.md: same length, ending the day before ``start``).

        - "day", "days", "range": the same number of days ending the day before ``start``
          (last-30d -> the 30 days before those; 2026-01-15..2026-02-14 (31 days) -> 2025-12-15..2026-01-14).
        - complete calendar periods ("week", "month", "quarter", "year"): the previous full calendar one
          (Q1 2026 -> Q4 2025, October 2026 -> September 2026, ISO week -> the ISO week before).
        - partial calendar periods (to date: this-month on the 22nd, this-quarter, this-year, this-week, or any
          calendar period cut at today): like for like, the previous calendar unit from its first day over the
          same number of days, clamped to that unit's end. November 1-22 -> October 1-22; March 1-30 ->
          February 1-28 (clamped); Q4 to 22 November (53 days) -> 1 July - 22 August; 2026 to 22 November
          (326 days) -> 2025-01-01..2025-11-22. Days are counted, not dates matched, so across a leap day the
          last date shifts by one (2024 to 1 March = 61 days -> 2023-01-01..2023-03-02).

        The result is never truncated (it lies entirely in the past). Its kind is the same as this one's.
        """
        if self.kind in CALENDAR_KINDS and self.start == _unit_start(self.kind, self.start):
            prev_end_full = self.start - _ONE_DAY
            prev_start = _unit_start(self.kind, prev_end_full)
            name = _unit_name(self.kind, prev_start)
            if self.end == _unit_end(self.kind, self.start):
                return Period(prev_start, prev_end_full, name, self.kind)
            end = min(prev_start + timedelta(days=self.days - 1), prev_end_full)
            if end == prev_end_full:
                return Period(prev_start, end, name, self.kind)
            return Period(prev_start, end, f"{name}, first {_n_days(self.days)}", self.kind)

        end = self.start - _ONE_DAY
        start = end - timedelta(days=self.days - 1)
        if self.kind == "day":
            label = _day_name(start)
        elif self.kind == "days":
            label = f"previous {_n_days(self.days)}"
        else:
            label = f"{start.isoformat()} to {end.isoformat()}"
        return Period(start, end, label, "range" if self.kind in CALENDAR_KINDS else self.kind)

    def describe(self) -> str:
        """The period in words and dates: "last quarter (Q3 2026) (2026-07-01 – 2026-09-30)"."""
        return f"{self.label} ({self.start.isoformat()} – {self.end.isoformat()})"


# ----------------------------------------------------------------------------------------------------- builders


def _build(start: date, natural_end: date, kind: str, today: date, label: Callable[[bool], str]) -> Period:
    """Check ``start`` is not in the future, cut ``natural_end`` at today; ``label(truncated)`` names it."""
    if start > today:
        raise PeriodError(f"{label(False)} starts on {start.isoformat()}, after today ({today.isoformat()}).")
    truncated = natural_end > today
    return Period(start, today if truncated else natural_end, label(truncated), kind, truncated)


def _calendar(kind: str, anchor: date, today: date, relative: str | None = None) -> Period:
    start = _unit_start(kind, anchor)
    name = _unit_name(kind, start)

    def label(truncated: bool) -> str:
        absolute = f"{name}, to date" if truncated else name
        if relative:
            return f"{relative} ({absolute})"
        return f"{name} (to date)" if truncated else name

    return _build(start, _unit_end(kind, anchor), kind, today, label)


def _relative_calendar(which: str, unit: str, today: date) -> Period:
    if which == "next":
        raise PeriodError(f"next {unit} is in the future; periods must have started by today.")
    kind = unit
    anchor = today
    if which == "last":
        anchor = _unit_start(kind, today) - _ONE_DAY
    return _calendar(kind, anchor, today, relative=f"{which} {unit}")


def _last_days(n: int, today: date) -> Period:
    if n < 1:
        raise PeriodError(f"last-{n}d has no days; use a number of days from 1 to {MAX_DAYS}.")
    if n > MAX_DAYS:
        raise PeriodError(f"last-{n}d is too long; the longest is last-{MAX_DAYS}d (about 10 years).")
    end = today - _ONE_DAY
    label = f"last {_n_days(n)}"
    return Period(end - timedelta(days=n - 1), end, label, "days")


def _check_year(year: int, text: str) -> None:
    if year < MIN_YEAR:
        raise PeriodError(f"{text!r}: years before {MIN_YEAR} are not supported.")


def _make_date(year: str, month: str, day: str, text: str) -> date:
    _check_year(int(year), text)
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise PeriodError(f"{text!r} is not a valid date ({year}-{month}-{day} does not exist).") from None


def _month(year: int, month: int, today: date, text: str) -> Period:
    _check_year(year, text)
    if not 1 <= month <= 12:
        raise PeriodError(f"{text!r}: there is no month {month}; months go from 01 to 12.")
    return _calendar("month", date(year, month, 1), today)


def _latest_month(month: int, today: date) -> Period:
    """A month named without a year: the latest one that has started by today (October in May = last October)."""
    year = today.year if month <= today.month else today.year - 1
    return _calendar("month", date(year, month, 1), today)


def _quarter(year: int, quarter: int, today: date, text: str) -> Period:
    _check_year(year, text)
    if not 1 <= quarter <= 4:
        raise PeriodError(f"{text!r}: there is no quarter {quarter}; quarters are Q1 to Q4.")
    return _calendar("quarter", date(year, 3 * (quarter - 1) + 1, 1), today)


def _day(d: date, today: date) -> Period:
    return _build(d, d, "day", today, lambda _truncated: _day_name(d))


def _range(start: date, end: date, today: date, text: str) -> Period:
    if start > end:
        raise PeriodError(f"{text!r}: the start {start.isoformat()} is after the end {end.isoformat()}.")

    def label(truncated: bool) -> str:
        shown_end = today if truncated else end
        base = f"{start.isoformat()} to {shown_end.isoformat()}"
        return f"{base} (cut at today)" if truncated else base

    return _build(start, end, "range", today, label)


def _fail(reason: str) -> Callable[[date], Period]:
    def raise_it(_today: date) -> Period:
        raise PeriodError(reason)

    return raise_it


# ------------------------------------------------------------------------------------------------------ grammar

# Text is normalised before matching: lower case, runs of whitespace -> one space. In the patterns below "[- ]"
# lets a space stand for a hyphen ("last quarter" = "last-quarter"); "[- ]?" also allows nothing ("last30d").
_DATE = r"(\d{4})-(\d{1,2})-(\d{1,2})"
_MONTHS = "|".join(sorted(_MONTH_BY_NAME, key=len, reverse=True))
_UNITS_NOT_DAYS = r"w|wk|wks|weeks?|m|mo|mos|months?|q|qtrs?|quarters?|y|yr|yrs|years?|h|hrs?|hours?"

_RE_RELATIVE = re.compile(r"(this|last|past|previous|prev|next)[- ](week|month|quarter|year)")
# A full month name alone is the latest such month ("october"), except "may", which stays a word ("May Foods").
_RE_BARE_MONTH_NAME = re.compile("|".join(m for m in MONTH_NAMES if m != "may"))
_RE_YTD = re.compile(r"ytd|year[- ]to[- ]date")
_RE_LAST_DAYS = re.compile(r"(?:last|past)[- ]?(\d+)[- ]?(?:d|days?)")
_RE_LAST_OTHER = re.compile(rf"(?:last|past)[- ]?(\d+)[- ]?({_UNITS_NOT_DAYS})")
_RE_LAST_BARE = re.compile(r"(?:last|past)[- ]?(\d+)")
_RE_QUARTER_YEAR_FIRST = re.compile(r"(\d{4})[- ]?q(\d)")
_RE_QUARTER_YEAR_LAST = re.compile(r"q(\d)[- ]?(\d{4})")
_RE_BARE_QUARTER = re.compile(r"q[1-4]")
_RE_MONTH_NAME_YEAR = re.compile(rf"({_MONTHS})\.?[- ]?(\d{{4}})")
_RE_YEAR_MONTH_NAME = re.compile(rf"(\d{{4}})[- ]({_MONTHS})")
_RE_RANGE = re.compile(rf"{_DATE} ?(?:\.\.\.?|–|—| to ) ?{_DATE}")
_RE_BROKEN_RANGE = re.compile(r"[\w-]*\d[\w-]* ?(?:\.\.\.?) ?[\w-]*")
_RE_DATE = re.compile(_DATE)
_RE_YEAR_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_RE_YEAR = re.compile(r"\d{4}")


def _year_word_ok(s: str, year: str) -> bool:
    """A year standing as a word of its own ("2026", "Q3 2026", "May 2026") must be a plausible year, so that
    "4711" or "may 4711" are left to the account lookup. Glued forms ("2026-Q3", "may2026") take any year."""
    return (" " not in s and s != year) or BARE_YEAR_RANGE[0] <= int(year) <= BARE_YEAR_RANGE[1]


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _match(text: str) -> Callable[[date], Period] | None:
    """The reader for ``text`` if it has the shape of a period (valid or not), else None.

    Shapes that are clearly meant as periods but cannot be used ("2026-13", "last 3 months", "q3" without a
    year, "next month") return a reader that raises ``PeriodError``, so they are reported, not taken for names.
    """
    s = _normalise(text)
    if not s:
        return None
    original = text.strip()

    if s in ("today", "yesterday"):
        return lambda today: replace(_day(today if s == "today" else today - _ONE_DAY, today), label=s)
    if s == "tomorrow":
        return _fail("tomorrow is in the future; periods must have started by today.")
    if m := _RE_RELATIVE.fullmatch(s):
        which, unit = m.groups()
        which = "last" if which in ("past", "previous", "prev") else which
        return lambda today: _relative_calendar(which, unit, today)
    if _RE_BARE_MONTH_NAME.fullmatch(s):
        month = _MONTH_BY_NAME[s]
        return lambda today: _latest_month(month, today)
    if _RE_YTD.fullmatch(s):
        return lambda today: _relative_calendar("this", "year", today)
    if m := _RE_LAST_DAYS.fullmatch(s):
        n = int(m.group(1))
        return lambda today: _last_days(n, today)
    if m := _RE_LAST_OTHER.fullmatch(s):
        return _fail(
            f"{original!r}: only days can be counted back (last-Nd); for example last-90d, "
            "or a calendar period such as last-quarter."
        )
    if _RE_LAST_BARE.fullmatch(s):
        return _fail(f"{original!r}: say how many days, for example last-30d or last 30 days.")
    if (m := _RE_QUARTER_YEAR_FIRST.fullmatch(s)) and _year_word_ok(s, m.group(1)):
        year, quarter = int(m.group(1)), int(m.group(2))
        return lambda today: _quarter(year, quarter, today, original)
    if (m := _RE_QUARTER_YEAR_LAST.fullmatch(s)) and _year_word_ok(s, m.group(2)):
        quarter, year = int(m.group(1)), int(m.group(2))
        return lambda today: _quarter(year, quarter, today, original)
    if _RE_BARE_QUARTER.fullmatch(s):
        return _fail(f"{original!r}: say which year, for example {s.upper()} 2026 or 2026-{s.upper()}.")
    if (m := _RE_MONTH_NAME_YEAR.fullmatch(s)) and _year_word_ok(s, m.group(2)):
        month, year = _MONTH_BY_NAME[m.group(1)], int(m.group(2))
        return lambda today: _month(year, month, today, original)
    if (m := _RE_YEAR_MONTH_NAME.fullmatch(s)) and _year_word_ok(s, m.group(1)):
        year, month = int(m.group(1)), _MONTH_BY_NAME[m.group(2)]
        return lambda today: _month(year, month, today, original)
    if m := _RE_RANGE.fullmatch(s):
        g = m.groups()

        def read_range(today: date) -> Period:
            return _range(_make_date(*g[:3], original), _make_date(*g[3:], original), today, original)

        return read_range
    if _RE_BROKEN_RANGE.fullmatch(s):
        return _fail(f"{original!r}: a range needs two full dates, for example 2026-01-15..2026-02-14.")
    if m := _RE_DATE.fullmatch(s):
        g = m.groups()
        return lambda today: _day(_make_date(*g, original), today)
    if m := _RE_YEAR_MONTH.fullmatch(s):
        year, month = int(m.group(1)), int(m.group(2))
        return lambda today: _month(year, month, today, original)
    if _RE_YEAR.fullmatch(s) and _year_word_ok(s, s):
        year = int(s)
        return lambda today: _calendar("year", date(year, 1, 1), today)
    return None


def _as_date(today: date) -> date:
    return today.date() if isinstance(today, datetime) else today


# --------------------------------------------------------------------------------------------------- public API


def parse_period(text: str, today: date) -> Period:
    """Read ``text`` (the whole text is one period) relative to ``today``.

    Raises ``PeriodError`` when the text cannot be read, the period starts after today, or its numbers are out
    of range. A period ending after today is cut at today (``truncated=True``).
    """
    reader = _match(text)
    if reader is None:
        shown = text.strip()
        raise PeriodError(f"{shown!r} is not a period I can read." if shown else "No period given.")
    return reader(_as_date(today))


def looks_like_period(token_text: str) -> bool:
    """True when ``token_text`` as a whole has the shape of a period, even an invalid one ("2026-13").

    No date is needed: this only tells a period from an account name or id ("acme", "2026corp", "4711" are not
    periods; "last-30d", "2026", "Q3 2026", "last quarter" are). A lone "last" or "this" is not a period.
    """
    return _match(token_text) is not None


def split_period(period: Period, kind: str, *, whole_first: bool = False) -> list[Period]:
    """The calendar months or ISO weeks (`kind` "month"/"week") covering ``period``, in order, each cut to it.

    The last one ends at the period's end. The first starts at the period's start, or with ``whole_first`` at
    the start of its calendar unit (month-based KPIs compare whole months). A piece that is a whole unit, or a
    unit from its first day cut at the end, keeps the unit's kind and name; a piece cut at its start is a range.
    """
    if kind not in ("month", "week"):
        raise ValueError(f"cannot split by {kind!r}")
    pieces: list[Period] = []
    cursor = _unit_start(kind, period.start) if whole_first else period.start
    while cursor <= period.end:
        unit_start = _unit_start(kind, cursor)
        end = min(_unit_end(kind, cursor), period.end)
        name = _unit_name(kind, unit_start)
        if cursor == unit_start:
            cut = end < _unit_end(kind, cursor)
            at_today = cut and end == period.end and period.truncated
            pieces.append(Period(cursor, end, f"{name}, to {end.isoformat()}" if cut else name, kind, at_today))
        else:
            pieces.append(Period(cursor, end, f"{cursor.isoformat()} to {end.isoformat()}", "range"))
        cursor = end + _ONE_DAY
    return pieces


_MAX_PHRASE_WORDS = 3  # "last 30 days", "year to date", "2026-01-15 to 2026-02-14"


def extract_period(words: list[str], today: date) -> tuple[Period | None, list[str]]:
    """Find the period among ``words`` (any position; one or several words) and return it with the other words.

    At each position the longest phrase (up to three words) that has the shape of a period wins, so
    ["nps", "last", "30", "days", "acme"] -> (last 30 days, ["nps", "acme"]). Returns ``(None, words)`` when no
    period is there. Raises ``PeriodError`` when a period-shaped phrase is invalid ("2026-13", "last-0d", a
    range ending before it starts, a period starting after today) or when two periods are given.
    """
    today = _as_date(today)
    found: tuple[Period, str] | None = None
    rest: list[str] = []
    i = 0
    while i < len(words):
        for length in range(min(_MAX_PHRASE_WORDS, len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + length])
            reader = _match(phrase)
            if reader is None:
                continue
            period = reader(today)
            if found is not None:
                raise PeriodError(f"Two periods given ({found[1]!r} and {phrase!r}); give one.")
            found = (period, phrase)
            i += length
            break
        else:
            rest.append(words[i])
            i += 1
    return (found[0] if found else None), rest
