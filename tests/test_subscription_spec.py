"""`/digest subscribe` words -> schedule: defaults, any order, every error named."""

import pytest

from kpi_core.subscription_spec import DigestSchedule, parse_schedule
from kpi_core.types import UserError


def test_defaults():
    assert parse_schedule([]) == DigestSchedule(0, "09:00", None, (), "week")


def test_all_parts_in_any_order():
    s = parse_schedule(["nps", "Europe/Berlin", "17:30", "friday", "MRR", "arpu"])
    assert s == DigestSchedule(4, "17:30", "Europe/Berlin", ("nps", "mrr", "arpa"), "week")
    assert s.day_name == "Friday"


@pytest.mark.parametrize("word,weekday", [("mon", 0), ("Tuesday", 1), ("wed", 2), ("thurs", 3), ("sun", 6),
                                          ("mondays", 0)])
def test_day_spellings(word, weekday):
    assert parse_schedule([word]).weekday == weekday


@pytest.mark.parametrize("word,expected", [("9:00", "09:00"), ("09:05", "09:05"), ("23:59", "23:59"),
                                           ("0:00", "00:00"), ("8h30", "08:30")])
def test_time_spellings(word, expected):
    assert parse_schedule([word]).at_time == expected


def test_time_zone_case_and_utc_and_monthly():
    assert parse_schedule(["america/new_york"]).timezone == "America/New_York"
    assert parse_schedule(["UTC"]).timezone == "UTC"
    assert parse_schedule(["monthly"]).cadence == "month"


@pytest.mark.parametrize("words,message", [
    (["25:00"], "'25:00' is not a time"),
    (["9:60"], "'9:60' is not a time"),
    (["Mars/Olympus"], "'Mars/Olympus' is not a time zone"),
    (["nrrr"], "did you mean nrr"),
    (["banana"], "'banana' is not a day, time, time zone or KPI id"),
])
def test_errors_name_the_word_and_list_the_forms(words, message):
    with pytest.raises(UserError) as info:
        parse_schedule(words)
    assert message in str(info.value)
    assert "/digest subscribe [day] [HH:MM]" in str(info.value)


def test_every_problem_at_once():
    with pytest.raises(UserError) as info:
        parse_schedule(["25:00", "Mars/Olympus"])
    assert "'25:00'" in str(info.value) and "'Mars/Olympus'" in str(info.value)
