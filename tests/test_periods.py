"""Periods (commands.md "Periods", kpis.md "previous period"): every expected date below is worked out by hand.

Main reference day: TODAY = Sunday 2026-11-22, ISO week 47 of 2026 (Monday 2026-11-16 .. Sunday 2026-11-22),
in Q4 2026 (2026-10-01 .. 2026-12-31). Other "today"s are used for edge cases and say why.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from kpi_core.periods import ACCEPTED_FORMS, Period, PeriodError, extract_period, looks_like_period, parse_period

TODAY = date(2026, 11, 22)  # a Sunday


def d(text: str) -> date:
    return date.fromisoformat(text)


def span(p: Period) -> tuple[str, str]:
    return p.start.isoformat(), p.end.isoformat()


# ------------------------------------------------------------------------------------------ the canonical forms

CANONICAL = [
    # text, start, end, kind, truncated
    ("today", "2026-11-22", "2026-11-22", "day", False),
    ("yesterday", "2026-11-21", "2026-11-21", "day", False),
    # 2026-11-22 is a Sunday: this ISO week runs Mon 16 .. Sun 22 and is complete today, so not cut.
    ("this-week", "2026-11-16", "2026-11-22", "week", False),
    # The ISO week before: Mon 9 .. Sun 15.
    ("last-week", "2026-11-09", "2026-11-15", "week", False),
    # Month to date: 1 .. 22 November; November really ends on the 30th, so the end was cut at today.
    ("this-month", "2026-11-01", "2026-11-22", "month", True),
    ("last-month", "2026-10-01", "2026-10-31", "month", False),
    # Q4 = Oct-Dec, to date.
    ("this-quarter", "2026-10-01", "2026-11-22", "quarter", True),
    # Q3 = Jul-Sep.
    ("last-quarter", "2026-07-01", "2026-09-30", "quarter", False),
    ("this-year", "2026-01-01", "2026-11-22", "year", True),
    ("ytd", "2026-01-01", "2026-11-22", "year", True),
    ("last-year", "2025-01-01", "2025-12-31", "year", False),
    # last-Nd ends yesterday (21 Nov). 7 days: 15..21.
    ("last-7d", "2026-11-15", "2026-11-21", "days", False),
    # 30 days: Nov 1..21 is 21 days, plus Oct 23..31 (9 days) = 30.
    ("last-30d", "2026-10-23", "2026-11-21", "days", False),
    # 90 days: Nov 1..21 (21) + Oct (31) + Sep (30) = 82, plus Aug 24..31 (8) = 90.
    ("last-90d", "2026-08-24", "2026-11-21", "days", False),
    # last-1d is exactly yesterday.
    ("last-1d", "2026-11-21", "2026-11-21", "days", False),
    ("2026-Q3", "2026-07-01", "2026-09-30", "quarter", False),
    ("2026-Q1", "2026-01-01", "2026-03-31", "quarter", False),
    ("2026-Q2", "2026-04-01", "2026-06-30", "quarter", False),
    # Q4 2026 asked on 22 Nov: it has started but ends in the future -> cut at today.
    ("2026-Q4", "2026-10-01", "2026-11-22", "quarter", True),
    ("2026-10", "2026-10-01", "2026-10-31", "month", False),
    ("2026-09", "2026-09-01", "2026-09-30", "month", False),
    ("2026-11", "2026-11-01", "2026-11-22", "month", True),
    ("2025", "2025-01-01", "2025-12-31", "year", False),
    ("2026", "2026-01-01", "2026-11-22", "year", True),
    ("2026-10-01", "2026-10-01", "2026-10-01", "day", False),
    ("2026-11-22", "2026-11-22", "2026-11-22", "day", False),
    ("2026-01-15..2026-02-14", "2026-01-15", "2026-02-14", "range", False),
    # One-day range is fine (start == end).
    ("2026-03-03..2026-03-03", "2026-03-03", "2026-03-03", "range", False),
    # A range reaching into the future is cut at today.
    ("2026-11-20..2026-12-05", "2026-11-20", "2026-11-22", "range", True),
]


@pytest.mark.parametrize(("text", "start", "end", "kind", "truncated"), CANONICAL)
def test_canonical_forms(text, start, end, kind, truncated):
    p = parse_period(text, TODAY)
    assert span(p) == (start, end)
    assert p.kind == kind
    assert p.truncated is truncated


@pytest.mark.parametrize(("text", "start", "end", "kind", "truncated"), CANONICAL)
def test_canonical_forms_are_case_insensitive(text, start, end, kind, truncated):
    for variant in (text.upper(), text.title(), f"  {text}  "):
        p = parse_period(variant, TODAY)
        assert (span(p), p.kind, p.truncated) == ((start, end), kind, truncated)


NATURAL = [
    # natural spelling -> the canonical form it must equal
    ("last quarter", "last-quarter"),
    ("Last Quarter", "last-quarter"),
    ("last month", "last-month"),
    ("last week", "last-week"),
    ("last year", "last-year"),
    ("this quarter", "this-quarter"),
    ("this month", "this-month"),
    ("this week", "this-week"),
    ("this year", "this-year"),
    ("year to date", "ytd"),
    ("YTD", "ytd"),
    ("last 30 days", "last-30d"),
    ("last 7 days", "last-7d"),
    ("past 30 days", "last-30d"),
    ("last 30d", "last-30d"),
    ("last30d", "last-30d"),
    ("last-30-days", "last-30d"),
    ("last 1 day", "last-1d"),
    ("Q3 2026", "2026-Q3"),
    ("q3-2026", "2026-Q3"),
    ("Q3-2026", "2026-Q3"),
    ("2026 Q3", "2026-Q3"),
    ("2026q3", "2026-Q3"),
    ("October 2026", "2026-10"),
    ("october 2026", "2026-10"),
    ("Oct 2026", "2026-10"),
    ("oct-2026", "2026-10"),
    ("Oct. 2026", "2026-10"),
    ("2026 October", "2026-10"),
    ("Sept 2026", "2026-09"),
    ("September 2026", "2026-09"),
    ("2026-1", "2026-01"),
    ("2026-01-15 to 2026-02-14", "2026-01-15..2026-02-14"),
    ("2026-01-15 .. 2026-02-14", "2026-01-15..2026-02-14"),
]


@pytest.mark.parametrize(("natural", "canonical"), NATURAL)
def test_natural_spellings(natural, canonical):
    a, b = parse_period(natural, TODAY), parse_period(canonical, TODAY)
    assert (span(a), a.kind, a.truncated) == (span(b), b.kind, b.truncated)


def test_labels_are_words():
    assert parse_period("last-quarter", TODAY).label == "last quarter (Q3 2026)"
    assert parse_period("this-month", TODAY).label == "this month (November 2026, to date)"
    assert parse_period("2026-10", TODAY).label == "October 2026"
    assert parse_period("October 2026", TODAY).label == "October 2026"
    assert parse_period("2026-Q4", TODAY).label == "Q4 2026 (to date)"
    assert parse_period("last-30d", TODAY).label == "last 30 days"
    assert parse_period("last 30 days", TODAY).label == "last 30 days"
    assert parse_period("last-1d", TODAY).label == "last 1 day"
    assert parse_period("2026-01-15..2026-02-14", TODAY).label == "2026-01-15 to 2026-02-14"
    assert parse_period("2026-11-20..2026-12-05", TODAY).label == "2026-11-20 to 2026-11-22 (cut at today)"
    assert parse_period("today", TODAY).label == "today"
    assert parse_period("yesterday", TODAY).label == "yesterday"
    assert parse_period("2026-10-01", TODAY).label == "1 October 2026"
    assert parse_period("last-week", TODAY).label == "last week (week 46 of 2026)"
    assert parse_period("this-year", TODAY).label == "this year (2026, to date)"
    assert parse_period("last-year", TODAY).label == "last year (2025)"


def test_describe_gives_label_and_dates():
    p = parse_period("last-quarter", TODAY)
    assert p.describe() == "last quarter (Q3 2026) (2026-07-01 – 2026-09-30)"
    assert parse_period("today", TODAY).describe() == "today (2026-11-22 – 2026-11-22)"


def test_days_counts_both_ends():
    assert parse_period("today", TODAY).days == 1
    assert parse_period("last-30d", TODAY).days == 30
    assert parse_period("2026-01-15..2026-02-14", TODAY).days == 31  # 17 days of Jan (15..31) + 14 of Feb
    assert parse_period("last-quarter", TODAY).days == 92  # Jul 31 + Aug 31 + Sep 30
    assert parse_period("this-month", TODAY).days == 22


def test_today_may_be_a_datetime():
    p = parse_period("this-month", datetime(2026, 11, 22, 23, 59))
    assert span(p) == ("2026-11-01", "2026-11-22")


# ---------------------------------------------------------------------------------------------- weeks and years


def test_iso_week_across_a_year_boundary():
    # 2027-01-01 is a Friday in ISO week 53 of 2026, which starts Monday 2026-12-28.
    friday = date(2027, 1, 1)
    this_week = parse_period("this-week", friday)
    assert span(this_week) == ("2026-12-28", "2027-01-01")
    assert this_week.truncated  # the week really ends on Sunday 2027-01-03
    assert this_week.label == "this week (week 53 of 2026, to date)"
    # The week before: Mon 2026-12-21 .. Sun 2026-12-27.
    assert span(parse_period("last-week", friday)) == ("2026-12-21", "2026-12-27")
    # Monday 2027-01-04 starts ISO week 1 of 2027; last week is week 53 of 2026, spanning both years.
    monday = date(2027, 1, 4)
    last_week = parse_period("last-week", monday)
    assert span(last_week) == ("2026-12-28", "2027-01-03")
    assert last_week.label == "last week (week 53 of 2026)"
    assert span(parse_period("this-week", monday)) == ("2027-01-04", "2027-01-04")
    # this-year on 2027-01-01 is the single day 2027-01-01; last-year is all of 2026.
    assert span(parse_period("this-year", friday)) == ("2027-01-01", "2027-01-01")
    assert span(parse_period("last-year", friday)) == ("2026-01-01", "2026-12-31")
    # last-7d on 2027-01-01: the 7 days ending 2026-12-31 -> 2026-12-25..2026-12-31.
    assert span(parse_period("last-7d", friday)) == ("2026-12-25", "2026-12-31")


def test_this_week_mid_week_is_monday_to_today():
    wednesday = date(2026, 11, 18)
    p = parse_period("this-week", wednesday)
    assert span(p) == ("2026-11-16", "2026-11-18")
    assert p.truncated


def test_leap_years():
    # 2024 is a leap year: February has 29 days.
    feb = parse_period("2024-02", TODAY)
    assert span(feb) == ("2024-02-01", "2024-02-29")
    assert feb.days == 29
    assert span(parse_period("February 2024", TODAY)) == ("2024-02-01", "2024-02-29")
    # 2026 is not: 28 days, and 2026-02-29 does not exist.
    assert span(parse_period("2026-02", TODAY)) == ("2026-02-01", "2026-02-28")
    assert span(parse_period("2024-02-29", TODAY)) == ("2024-02-29", "2024-02-29")
    with pytest.raises(PeriodError, match="not a valid date"):
        parse_period("2026-02-29", TODAY)
    # last-year asked on 2025-03-01 is all of 2024: 366 days.
    last_year = parse_period("last-year", date(2025, 3, 1))
    assert span(last_year) == ("2024-01-01", "2024-12-31")
    assert last_year.days == 366
    # last-month on 2024-03-15 is February 2024 with its 29th.
    assert span(parse_period("last-month", date(2024, 3, 15))) == ("2024-02-01", "2024-02-29")
    # Q1 2024 = 31 + 29 + 31 = 91 days.
    assert parse_period("2024-Q1", TODAY).days == 91


def test_quarter_boundaries():
    # First day of Q2: this-quarter is that one day, last-quarter is all of Q1.
    april_1 = date(2026, 4, 1)
    assert span(parse_period("this-quarter", april_1)) == ("2026-04-01", "2026-04-01")
    assert span(parse_period("last-quarter", april_1)) == ("2026-01-01", "2026-03-31")
    # Last day of Q1: this-quarter is complete, so not cut.
    march_31 = date(2026, 3, 31)
    q1 = parse_period("this-quarter", march_31)
    assert span(q1) == ("2026-01-01", "2026-03-31")
    assert not q1.truncated
    # In January, last-quarter is Q4 of the year before.
    assert span(parse_period("last-quarter", date(2026, 1, 10))) == ("2025-10-01", "2025-12-31")
    # Quarters hold the right months: Q3 starts in July and ends in September, for any day in them.
    for day in (date(2026, 7, 1), date(2026, 8, 15), date(2026, 9, 30)):
        assert parse_period("this-quarter", day).start == date(2026, 7, 1)


def test_month_ends():
    # last-month on 2026-03-31 is February (28 days in 2026); on 2026-01-05 it is December 2025.
    assert span(parse_period("last-month", date(2026, 3, 31))) == ("2026-02-01", "2026-02-28")
    assert span(parse_period("last-month", date(2026, 1, 5))) == ("2025-12-01", "2025-12-31")
    # On the last day of a month, this-month is complete.
    p = parse_period("this-month", date(2026, 4, 30))
    assert span(p) == ("2026-04-01", "2026-04-30")
    assert not p.truncated


# ------------------------------------------------------------------------------------------------------ last-Nd


def test_last_nd_bounds():
    # 3660 days ending 2026-11-21. 2016-11-22..2026-11-21 is ten years = 3650 + 2 leap days (2020, 2024) = 3652;
    # 8 more days back: 2016-11-14.
    p = parse_period("last-3660d", TODAY)
    assert span(p) == ("2016-11-14", "2026-11-21")
    assert p.days == 3660
    with pytest.raises(PeriodError, match="3660"):
        parse_period("last-3661d", TODAY)
    with pytest.raises(PeriodError):
        parse_period("last-0d", TODAY)
    with pytest.raises(PeriodError):
        parse_period("last 0 days", TODAY)
    with pytest.raises(PeriodError):
        parse_period("last-4000d", TODAY)


# ------------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "text",
    [
        "2026-13",  # no month 13
        "2026-00",
        "2026-Q5",  # no fifth quarter
        "Q0 2026",
        "2026-02-30",  # no such day
        "2026-02-14..2026-01-15",  # start after end
        "2026-01..2026-03",  # a range needs full dates
        "last 3 months",  # only days can be counted back
        "last-2w",
        "last 30",  # how many what?
        "q3",  # which year?
        "1850",  # bare years outside the accepted range are not periods
        "acme",
        "2026corp",
        "",
        "   ",
        "next month",
        "tomorrow",
    ],
)
def test_unreadable_or_invalid_periods_raise(text):
    with pytest.raises(PeriodError) as info:
        parse_period(text, TODAY)
    assert ACCEPTED_FORMS in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "2027",  # next year
        "2026-12",  # next month
        "2027-Q1",
        "December 2026",
        "2026-11-23",  # tomorrow
        "2026-12-01..2026-12-31",
        "2026-11-23..2026-11-30",
        "1899-12",  # compound forms: years before 1900 are refused
    ],
)
def test_periods_that_start_in_the_future_or_too_early_raise(text):
    with pytest.raises(PeriodError):
        parse_period(text, TODAY)


def test_future_start_error_says_so():
    with pytest.raises(PeriodError, match="after today"):
        parse_period("2027", TODAY)


def test_period_error_is_a_value_error_with_reason_and_forms():
    with pytest.raises(ValueError) as info:
        parse_period("2026-13", TODAY)
    err = info.value
    assert isinstance(err, PeriodError)
    assert "13" in err.reason
    assert str(err).startswith(err.reason)
    assert str(err).endswith(ACCEPTED_FORMS)


def test_accepted_forms_lists_every_form():
    for form in (
        "today",
        "yesterday",
        "this-week",
        "last-week",
        "this-month",
        "last-month",
        "this-quarter",
        "last-quarter",
        "this-year",
        "ytd",
        "last-year",
        "last-30d",
        "last-Nd",
        "2026-Q3",
        "Q3 2026",
        "2026-10",
        "October 2026",
        "2026",
        "2026-10-01",
        "2026-01-15..2026-02-14",
        "last 30 days",
    ):
        assert form in ACCEPTED_FORMS, form


def test_period_rejects_start_after_end_and_unknown_kind():
    with pytest.raises(ValueError):
        Period(d("2026-02-02"), d("2026-02-01"), "x", "range")
    with pytest.raises(ValueError):
        Period(d("2026-02-01"), d("2026-02-01"), "x", "fortnight")


# ----------------------------------------------------------------------------------------------------- previous


def prev(text: str, today: date = TODAY) -> Period:
    return parse_period(text, today).previous()


def test_previous_of_days_and_days_kinds():
    # today -> yesterday; yesterday -> the day before.
    assert span(prev("today")) == ("2026-11-21", "2026-11-21")
    assert span(prev("yesterday")) == ("2026-11-20", "2026-11-20")
    assert prev("today").kind == "day"
    # last-30d = 10-23..11-21 -> the 30 days ending 10-22: Oct 1..22 (22) + Sep 23..30 (8).
    p = prev("last-30d")
    assert span(p) == ("2026-09-23", "2026-10-22")
    assert (p.days, p.kind) == (30, "days")
    # last-1d = 11-21 -> 11-20.
    assert span(prev("last-1d")) == ("2026-11-20", "2026-11-20")


def test_previous_of_an_explicit_range_is_the_same_length_before():
    # 2026-01-15..2026-02-14 is 31 days; the 31 days ending 2026-01-14: Jan 1..14 (14) + Dec 15..31 (17).
    p = prev("2026-01-15..2026-02-14")
    assert span(p) == ("2025-12-15", "2026-01-14")
    assert p.days == 31
    assert p.kind == "range"
    # A range cut at today compares with the same number of days as were kept: 11-20..11-22 (3) -> 11-17..11-19.
    assert span(prev("2026-11-20..2026-12-05")) == ("2026-11-17", "2026-11-19")
    # A range that happens to be a calendar month is still a range: same length, not the previous month.
    # 2026-03-01..2026-03-31 is 31 days -> 2026-01-29..2026-02-28.
    assert span(prev("2026-03-01..2026-03-31")) == ("2026-01-29", "2026-02-28")


def test_previous_of_complete_calendar_periods_is_the_previous_calendar_one():
    assert span(prev("last-month")) == ("2026-09-01", "2026-09-30")  # Oct -> Sep
    assert prev("last-month").label == "September 2026"
    assert span(prev("2026-03")) == ("2026-02-01", "2026-02-28")  # 31 days -> 28 days: calendar, not length
    assert span(prev("2024-03")) == ("2024-02-01", "2024-02-29")
    assert span(prev("last-quarter")) == ("2026-04-01", "2026-06-30")  # Q3 -> Q2
    assert span(prev("2026-Q1")) == ("2025-10-01", "2025-12-31")  # Q1 -> Q4 of the year before
    assert prev("2026-Q1").label == "Q4 2025"
    assert span(prev("last-year")) == ("2024-01-01", "2024-12-31")  # 2025 -> 2024 (366 days)
    assert span(prev("last-week")) == ("2026-11-02", "2026-11-08")  # week 46 -> week 45
    # this-week on Sunday 11-22 is complete -> the whole ISO week before.
    assert span(prev("this-week")) == ("2026-11-09", "2026-11-15")
    # January -> December of the year before.
    assert span(prev("2026-01")) == ("2025-12-01", "2025-12-31")
    for text in ("last-month", "2026-Q1", "last-year", "last-week"):
        p = parse_period(text, TODAY)
        assert p.previous().kind == p.kind
        assert not p.previous().truncated


def test_previous_of_iso_week_across_the_year():
    # last-week on Monday 2027-01-04 is week 53 of 2026 (12-28..01-03); before it, week 52: 12-21..12-27.
    p = prev("last-week", date(2027, 1, 4))
    assert span(p) == ("2026-12-21", "2026-12-27")
    assert p.label == "week 52 of 2026"
    # this-week on Friday 2027-01-01 is Mon..Fri (5 days) -> Mon..Fri of the week before: 12-21..12-25.
    assert span(prev("this-week", date(2027, 1, 1))) == ("2026-12-21", "2026-12-25")


def test_previous_of_to_date_periods_is_like_for_like():
    # Month to date on 22 Nov (22 days) -> 1..22 October.
    p = prev("this-month")
    assert span(p) == ("2026-10-01", "2026-10-22")
    assert p.label == "October 2026, first 22 days"
    assert p.kind == "month"
    assert not p.truncated
    # Month to date on the 10th -> 1..10 of the previous month.
    assert span(prev("this-month", date(2026, 6, 10))) == ("2026-05-01", "2026-05-10")
    # Clamped at the previous month's end: 30 days of March 2026 -> all 28 days of February.
    clamped = prev("this-month", date(2026, 3, 30))
    assert span(clamped) == ("2026-02-01", "2026-02-28")
    assert clamped.label == "February 2026"
    # Leap year: 30 days of March 2024 -> all 29 days of February 2024.
    assert span(prev("this-month", date(2024, 3, 30))) == ("2024-02-01", "2024-02-29")
    # Quarter to date: Oct 1..Nov 22 = 31 + 22 = 53 days -> Q3 from Jul 1: Jul (31) + Aug 1..22 (22).
    assert span(prev("this-quarter")) == ("2026-07-01", "2026-08-22")
    # The same rule for a calendar period cut at today (2026-Q4 on 22 Nov).
    assert span(prev("2026-Q4")) == ("2026-07-01", "2026-08-22")
    # Year to date: 2026-01-01..11-22 = 326 days -> the first 326 days of 2025 = 2025-01-01..2025-11-22.
    assert span(prev("ytd")) == ("2025-01-01", "2025-11-22")
    # Days are counted, not dates matched: 2024 to 1 March = 31 + 29 + 1 = 61 days -> 2023 Jan (31) + Feb (28)
    # = 59, plus 2 -> 2023-03-02.
    assert span(prev("this-year", date(2024, 3, 1))) == ("2023-01-01", "2023-03-02")
    # Week to date on Wednesday 11-18 (Mon..Wed, 3 days) -> Mon..Wed of the week before: 11-09..11-11.
    assert span(prev("this-week", date(2026, 11, 18))) == ("2026-11-09", "2026-11-11")
    # Month to date on the 1st is one day -> the 1st of the previous month.
    one = prev("this-month", date(2026, 11, 1))
    assert span(one) == ("2026-10-01", "2026-10-01")
    assert one.label == "October 2026, first 1 day"


def test_previous_chains_keep_like_for_like():
    # Previous of "October 1..22" (a partial month) is "September 1..22", not the whole of September.
    p = prev("this-month").previous()
    assert span(p) == ("2026-09-01", "2026-09-22")
    # Previous of the previous full quarter.
    assert span(prev("2026-Q1").previous()) == ("2025-07-01", "2025-09-30")


# ------------------------------------------------------------------------------------------- looks_like_period


@pytest.mark.parametrize(
    "text",
    [
        "today",
        "Yesterday",
        "last-30d",
        "LAST-7D",
        "last-0d",  # invalid but period-shaped: reported as a bad period, not looked up as an account
        "last-4000d",
        "this-week",
        "ytd",
        "2026",
        "2026-10",
        "2026-13",
        "2026-Q3",
        "q3-2026",
        "Q3 2026",
        "October 2026",
        "last quarter",
        "last 30 days",
        "2026-10-01",
        "2026-01-15..2026-02-14",
        "q3",
    ],
)
def test_looks_like_period_true(text):
    assert looks_like_period(text)


@pytest.mark.parametrize(
    "text",
    [
        "acme",
        "Acme Corp",
        "2026corp",
        "corp2026",
        "acc-001",
        "4711",  # numeric account id, not a plausible year
        "42",
        "last",
        "this",
        "quarter",
        "may",  # "may" without a year is a word (think of "May Foods"), not a period; other month names are
        "may 4711",  # a year as a word of its own must be plausible (1900-2100), else it is an id
        "4711 may",
        "Q3 4711",
        "segment:enterprise",
        "owner:@ana",
        "",
    ],
)
def test_looks_like_period_false(text):
    assert not looks_like_period(text)


# ----------------------------------------------------------------------------------------------- extract_period


def test_extract_single_word_in_any_position():
    for words, rest in [
        (["last-30d", "acme"], ["acme"]),
        (["acme", "last-30d"], ["acme"]),
        (["acme", "last-30d", "segment:smb"], ["acme", "segment:smb"]),
    ]:
        p, remaining = extract_period(words, TODAY)
        assert p is not None and span(p) == ("2026-10-23", "2026-11-21")
        assert remaining == rest


@pytest.mark.parametrize(
    ("words", "start", "end", "rest"),
    [
        (["last", "quarter"], "2026-07-01", "2026-09-30", []),
        (["acme", "last", "quarter"], "2026-07-01", "2026-09-30", ["acme"]),
        (["last", "quarter", "acme", "corp"], "2026-07-01", "2026-09-30", ["acme", "corp"]),
        (["segment:smb", "last", "30", "days", "acme"], "2026-10-23", "2026-11-21", ["segment:smb", "acme"]),
        (["past", "30", "days"], "2026-10-23", "2026-11-21", []),
        (["last", "7", "days", "owner:@ana"], "2026-11-15", "2026-11-21", ["owner:@ana"]),
        (["Q3", "2026", "acme"], "2026-07-01", "2026-09-30", ["acme"]),
        (["acme", "q3-2026"], "2026-07-01", "2026-09-30", ["acme"]),
        (["October", "2026", "Acme", "Corp"], "2026-10-01", "2026-10-31", ["Acme", "Corp"]),
        (["acme", "Oct", "2026"], "2026-10-01", "2026-10-31", ["acme"]),
        (["this", "month", "acme"], "2026-11-01", "2026-11-22", ["acme"]),
        (["year", "to", "date"], "2026-01-01", "2026-11-22", []),
        (["acme", "2026-01-15", "to", "2026-02-14"], "2026-01-15", "2026-02-14", ["acme"]),
        (["2026-10-01", "acme"], "2026-10-01", "2026-10-01", ["acme"]),
        (["acme", "2025"], "2025-01-01", "2025-12-31", ["acme"]),
        # "last" not followed by a period word stays a word; the period is found later.
        (["last", "mile", "logistics", "last-month"], "2026-10-01", "2026-10-31", ["last", "mile", "logistics"]),
        (["this", "company", "2026-Q3"], "2026-07-01", "2026-09-30", ["this", "company"]),
    ],
)
def test_extract_multi_word(words, start, end, rest):
    p, remaining = extract_period(words, TODAY)
    assert p is not None
    assert span(p) == (start, end)
    assert remaining == rest


def test_extract_none_when_no_period():
    words = ["acme", "corp", "segment:smb", "2026corp", "4711", "may"]
    assert extract_period(words, TODAY) == (None, words)
    assert extract_period([], TODAY) == (None, [])


def test_extract_does_not_modify_its_input():
    words = ["acme", "last", "quarter"]
    extract_period(words, TODAY)
    assert words == ["acme", "last", "quarter"]


@pytest.mark.parametrize(
    "words",
    [
        ["acme", "2026-13"],
        ["last-0d", "acme"],
        ["acme", "last-4000d"],
        ["2026-02-14..2026-01-15"],
        ["acme", "2027"],  # starts in the future
        ["2026-12-01", "acme"],
        ["last", "3", "months", "acme"],
        ["q3", "acme"],
        ["last-month", "acme", "2026-Q3"],  # two periods
    ],
)
def test_extract_raises_on_period_shaped_mistakes(words):
    with pytest.raises(PeriodError):
        extract_period(words, TODAY)


def test_extract_future_end_is_cut():
    p, rest = extract_period(["acme", "2026-Q4"], TODAY)
    assert p is not None and span(p) == ("2026-10-01", "2026-11-22") and p.truncated
    assert rest == ["acme"]


# ------------------------------------------------------------------------ natural spellings added by issue 8


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("past quarter", "2026-07-01", "2026-09-30"),
        ("previous quarter", "2026-07-01", "2026-09-30"),
        ("Previous-Month", "2026-10-01", "2026-10-31"),
        ("past week", "2026-11-09", "2026-11-15"),
        ("past 30 days", "2026-10-23", "2026-11-21"),
        ("october", "2026-10-01", "2026-10-31"),  # the latest October not in the future (today 2026-11-22)
        ("December", "2025-12-01", "2025-12-31"),  # December 2026 has not started: the one before
        ("november", "2026-11-01", "2026-11-22"),  # the current month, to date
        ("Oct 2026", "2026-10-01", "2026-10-31"),
    ],
)
def test_past_previous_and_bare_month_spellings(text, start, end):
    assert span(parse_period(text, TODAY)) == (start, end)


def test_bare_month_is_found_among_words_but_may_stays_a_word():
    p, rest = extract_period(["acme", "october"], TODAY)
    assert span(p) == ("2026-10-01", "2026-10-31") and rest == ["acme"]
    assert extract_period(["may", "foods"], TODAY) == (None, ["may", "foods"])
