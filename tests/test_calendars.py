"""Business calendars: business-time arithmetic across weekends, bank holidays, both DST changes and closures.

Expected instants are worked out by hand from the England and Wales bank holidays and the Europe/London
clock changes (2026: Sun 29 March and Sun 25 October; 2027: Sun 28 March).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from engine.errors import InvalidInput
from engine.olas.calendars import CALENDARS, Calendar, calendar, parse_duration

LONDON = ZoneInfo("Europe/London")
OFFICE = CALENDARS["office-hours"]
EIGHT_TO_EIGHT = CALENDARS["8-to-8-every-day"]
ALWAYS = CALENDARS["24x7"]


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


# --- office hours: weekends, bank holidays, both seasons ---------------------------------------------


def test_office_hours_friday_afternoon_carries_over_the_weekend_in_winter_and_summer():
    # January is GMT (local = UTC); July is BST (local = UTC+1).
    assert OFFICE.add(local(2026, 1, 16, 16), hours(2)) == utc(2026, 1, 19, 10)
    assert OFFICE.add(local(2026, 7, 10, 16), hours(2)) == utc(2026, 7, 13, 9)
    assert OFFICE.add(utc(2026, 7, 10, 15), hours(2)) == utc(2026, 7, 13, 9)


def test_the_result_is_utc():
    due = OFFICE.add(local(2026, 7, 10, 16), hours(2))
    assert due.utcoffset() == timedelta(0)
    assert due.astimezone(LONDON) == local(2026, 7, 13, 10)


def test_office_hours_skip_christmas_and_the_boxing_day_substitute():
    # Fri 25 Dec is Christmas Day, Sat 26 Boxing Day, Mon 28 its substitute bank holiday.
    assert OFFICE.add(local(2026, 12, 24, 16), hours(2)) == utc(2026, 12, 29, 10)
    assert OFFICE.elapsed(local(2026, 12, 24, 9), local(2026, 12, 29, 17)) == hours(16)


def test_office_hours_skip_easter_and_the_spring_forward_weekend_together():
    # Good Friday 26 March 2027, clocks forward Sun 28 March, Easter Monday 29 March.
    assert OFFICE.add(local(2027, 3, 25, 16), hours(2)) == local(2027, 3, 30, 10)
    assert OFFICE.add(local(2027, 3, 25, 16), hours(2)) == utc(2027, 3, 30, 9)


def test_bank_holidays_are_england_and_wales_not_scotland_or_northern_ireland():
    assert not OFFICE.is_open(local(2027, 1, 1, 10))  # New Year's Day
    assert not OFFICE.is_open(local(2026, 12, 28, 10))  # Boxing Day substitute
    assert not OFFICE.is_open(local(2027, 3, 29, 10))  # Easter Monday
    assert not OFFICE.is_open(local(2026, 8, 31, 10))  # Summer bank holiday (last Monday in August)
    assert OFFICE.is_open(local(2026, 8, 3, 10))  # Scotland's summer bank holiday: a working day here
    assert OFFICE.is_open(local(2026, 3, 17, 10))  # St Patrick's Day (Northern Ireland only)
    assert OFFICE.is_open(local(2026, 12, 29, 10))


def test_urgent_calendars_stay_open_on_bank_holidays():
    assert EIGHT_TO_EIGHT.add(local(2026, 12, 25, 10), hours(1)) == local(2026, 12, 25, 11)
    assert ALWAYS.add(local(2026, 12, 25, 10), hours(1)) == local(2026, 12, 25, 11)


def test_counting_from_outside_hours_starts_at_the_next_opening():
    assert OFFICE.add(local(2026, 1, 17, 11), hours(1)) == local(2026, 1, 19, 10)  # Saturday
    assert OFFICE.add(local(2026, 1, 19, 7, 30), hours(1)) == local(2026, 1, 19, 10)  # Monday early
    assert OFFICE.add(local(2026, 1, 19, 18), hours(1)) == local(2026, 1, 20, 10)  # Monday evening


def test_zero_duration_is_the_next_open_instant_or_the_start_itself():
    assert OFFICE.add(local(2026, 1, 17, 11), timedelta(0)) == local(2026, 1, 19, 9)
    assert OFFICE.add(local(2026, 1, 19, 11, 15), timedelta(0)) == local(2026, 1, 19, 11, 15)
    assert OFFICE.add(local(2026, 1, 16, 17), timedelta(0)) == local(2026, 1, 19, 9)  # closing is closed


def test_a_duration_running_out_at_closing_time_ends_at_closing_time():
    assert OFFICE.add(local(2026, 1, 15, 16), hours(1)) == local(2026, 1, 15, 17)
    assert OFFICE.add(local(2026, 1, 15, 9), hours(8)) == local(2026, 1, 15, 17)


def test_is_open_uses_half_open_intervals():
    assert OFFICE.is_open(local(2026, 1, 19, 9))
    assert OFFICE.is_open(local(2026, 1, 19, 16, 59, 59))
    assert not OFFICE.is_open(local(2026, 1, 19, 17))
    assert not OFFICE.is_open(local(2026, 1, 18, 12))  # Sunday
    assert EIGHT_TO_EIGHT.is_open(local(2026, 1, 18, 8))
    assert not EIGHT_TO_EIGHT.is_open(local(2026, 1, 18, 7, 59))
    assert ALWAYS.is_open(local(2026, 1, 18, 0))


# --- the clock changes ----------------------------------------------------------------------------


def test_24x7_counts_real_time_across_spring_forward():
    # 01:00 GMT on 29 March 2026 the clocks jump to 02:00 BST.
    assert ALWAYS.add(utc(2026, 3, 29, 0, 30), hours(1)) == utc(2026, 3, 29, 1, 30)
    assert ALWAYS.add(local(2026, 3, 29, 0, 30), hours(1)).astimezone(LONDON) == local(2026, 3, 29, 2, 30)
    assert ALWAYS.elapsed(local(2026, 3, 29), local(2026, 3, 30)) == hours(23)
    assert ALWAYS.add(local(2026, 3, 29), hours(23)) == local(2026, 3, 30)


def test_24x7_counts_real_time_across_fall_back():
    # 02:00 BST on 25 October 2026 the clocks go back to 01:00 GMT: 01:00-02:00 local happens twice.
    start = local(2026, 10, 25, 0, 30)  # BST, 23:30 UTC the day before
    assert ALWAYS.add(start, hours(1)) == utc(2026, 10, 25, 0, 30)  # 01:30 BST
    assert ALWAYS.add(start, hours(2)) == utc(2026, 10, 25, 1, 30)  # 01:30 GMT, the second time round
    assert ALWAYS.elapsed(local(2026, 10, 25), local(2026, 10, 26)) == hours(25)
    assert ALWAYS.add(local(2026, 10, 25), hours(25)) == local(2026, 10, 26)


def test_8_to_8_is_twelve_real_hours_on_both_change_days():
    for day in (local(2026, 3, 29), local(2026, 10, 25)):
        assert EIGHT_TO_EIGHT.elapsed(day, day + timedelta(days=1)) == hours(12)
    assert EIGHT_TO_EIGHT.add(local(2026, 3, 29, 8), hours(12)) == utc(2026, 3, 29, 19)  # 20:00 BST
    assert EIGHT_TO_EIGHT.add(local(2026, 10, 25, 8), hours(12)) == utc(2026, 10, 25, 20)  # 20:00 GMT


def test_8_to_8_overnight_including_both_change_nights():
    assert EIGHT_TO_EIGHT.add(local(2026, 1, 14, 19), hours(2)) == local(2026, 1, 15, 9)
    assert EIGHT_TO_EIGHT.add(local(2026, 1, 14, 19), hours(2)) == utc(2026, 1, 15, 9)
    # Sat 19:00 GMT -> Sun 09:00 BST, across the spring-forward night.
    assert EIGHT_TO_EIGHT.add(local(2026, 3, 28, 19), hours(2)) == utc(2026, 3, 29, 8)
    # Sat 19:00 BST -> Sun 09:00 GMT, across the fall-back night.
    assert EIGHT_TO_EIGHT.add(local(2026, 10, 24, 19), hours(2)) == utc(2026, 10, 25, 9)
    assert EIGHT_TO_EIGHT.elapsed(local(2026, 10, 24, 19), local(2026, 10, 25, 9)) == hours(2)


# --- long durations ------------------------------------------------------------------------------


def test_week_long_durations():
    # P1W is 168 business hours: four office weeks (160 h) from Mon 5 Jan, then one more day.
    assert OFFICE.add(local(2026, 1, 5, 9), parse_duration("P1W")) == local(2026, 2, 2, 17)
    # 24x7 across the spring-forward night: exactly 168 real hours.
    assert ALWAYS.add(utc(2026, 3, 25, 12), parse_duration("P1W")) == utc(2026, 4, 1, 12)
    # 8-to-8: fourteen twelve-hour days, Mon 23 March (GMT) to Sun 5 April (BST).
    assert EIGHT_TO_EIGHT.add(local(2026, 3, 23, 8), parse_duration("P1W")) == local(2026, 4, 5, 20)


def test_a_year_of_office_hours_counts_every_bank_holiday():
    # 2026 has 261 weekdays, of which 8 are England and Wales bank holidays (Boxing Day falls on a Saturday).
    assert OFFICE.elapsed(local(2026, 1, 1), local(2027, 1, 1)) == hours(8 * (261 - 8))
    assert OFFICE.add(local(2026, 1, 1), hours(8 * (261 - 8))) == local(2026, 12, 31, 17)


def test_long_spans_equal_the_sum_of_their_days():
    # Whole weeks are taken in one step; day-sized pieces never are, so the two must agree.
    for name, cal in CALENDARS.items():
        start = local(2026, 3, 1, 13, 17)
        pieces = [start + timedelta(days=n) for n in range(300)]
        by_day = sum((cal.elapsed(a, b) for a, b in pairwise(pieces)), timedelta(0))
        assert cal.elapsed(pieces[0], pieces[-1]) == by_day, name


# --- add and elapsed agree -----------------------------------------------------------------------


def test_elapsed_is_the_inverse_of_add():
    rng = random.Random(20260329)
    closed = OFFICE.with_closures(
        [(utc(2026, 6, 1, 12), utc(2026, 6, 10)), (utc(2026, 10, 20), utc(2026, 10, 27))]
    )
    for cal in (*CALENDARS.values(), closed):
        for _ in range(400):
            start = utc(2026, 1, 1) + timedelta(minutes=rng.randrange(60 * 24 * 730))
            duration = timedelta(minutes=rng.randrange(1, 60 * 24 * 30))
            due = cal.add(start, duration)
            assert cal.elapsed(start, due) == duration, (cal.name, start, duration)
            assert cal.elapsed(start, due - timedelta(seconds=1)) < duration
            assert cal.add(start, cal.elapsed(start, due)) == due
            assert cal.is_open(due - timedelta(seconds=1))


def test_elapsed_matches_is_open_minute_by_minute():
    # An independent count across the fall-back weekend, a bank holiday and 8-to-8 nights (stepping in UTC:
    # adding to a London-zoned datetime would step in wall-clock time).
    for cal in CALENDARS.values():
        for start in (utc(2026, 10, 23, 15, 30), utc(2026, 12, 24, 6, 45)):
            minutes = sum(cal.is_open(start + timedelta(minutes=m)) for m in range(60 * 24 * 4))
            assert cal.elapsed(start, start + timedelta(days=4)) == timedelta(minutes=minutes), cal.name


def test_elapsed_is_zero_when_end_is_not_after_start():
    assert OFFICE.elapsed(local(2026, 1, 19, 12), local(2026, 1, 19, 12)) == timedelta(0)
    assert OFFICE.elapsed(local(2026, 1, 19, 12), local(2026, 1, 19, 10)) == timedelta(0)


# --- closures ------------------------------------------------------------------------------------


def test_closures_hold_no_business_time():
    closed = calendar("office-hours", closures=[(local(2026, 1, 19, 12), local(2026, 1, 19, 14))])
    assert closed.add(local(2026, 1, 19, 11), hours(2)) == local(2026, 1, 19, 15)
    assert not closed.is_open(local(2026, 1, 19, 13))
    assert closed.elapsed(local(2026, 1, 19, 9), local(2026, 1, 19, 17)) == hours(6)
    assert OFFICE.add(local(2026, 1, 19, 11), hours(2)) == local(2026, 1, 19, 13)  # the shipped one unchanged
    assert calendar("office-hours") is OFFICE


def test_closures_spanning_days_and_weeks():
    closed = ALWAYS.with_closures([(utc(2026, 5, 4), utc(2026, 5, 7)), (utc(2026, 5, 6), utc(2026, 5, 8))])
    assert closed.closures == ((utc(2026, 5, 4), utc(2026, 5, 8)),)  # overlapping closures are joined
    assert closed.add(utc(2026, 5, 1), parse_duration("P1W")) == utc(2026, 5, 12)
    assert closed.elapsed(utc(2026, 5, 1), utc(2026, 5, 31)) == timedelta(days=26)
    # A closure from 20:00 to 09:00 over a whole 8-to-8 day removes that day and the next morning's hour.
    night = EIGHT_TO_EIGHT.with_closures([(local(2026, 2, 2, 20), local(2026, 2, 4, 9))])
    assert night.add(local(2026, 2, 2, 19), hours(2)) == local(2026, 2, 4, 10)


def test_closures_must_be_aware_and_forward():
    with pytest.raises(InvalidInput, match="timezone-aware"):
        OFFICE.with_closures([(datetime(2026, 1, 1), datetime(2026, 1, 2))])
    with pytest.raises(InvalidInput, match="must end after it starts"):
        OFFICE.with_closures([(utc(2026, 1, 2), utc(2026, 1, 1))])


# --- bad input -----------------------------------------------------------------------------------


def test_unknown_calendar_is_refused_with_the_known_names():
    with pytest.raises(InvalidInput) as refused:
        calendar("9-to-5")
    assert refused.value.message == "unknown calendar '9-to-5' (known: 24x7, 8-to-8-every-day, office-hours)"


def test_naive_instants_and_negative_durations_are_refused():
    with pytest.raises(InvalidInput, match="start must be a timezone-aware datetime"):
        OFFICE.add(datetime(2026, 1, 19, 9), hours(1))
    with pytest.raises(InvalidInput, match="end must be a timezone-aware datetime"):
        OFFICE.elapsed(local(2026, 1, 19, 9), datetime(2026, 1, 19, 10))
    with pytest.raises(InvalidInput, match="cannot be negative"):
        OFFICE.add(local(2026, 1, 19, 9), hours(-1))


def test_a_calendar_that_never_opens_or_overlaps_itself_is_refused():
    with pytest.raises(InvalidInput, match="must be open at some time"):
        Calendar("never", "Europe/London", {}, False)
    with pytest.raises(InvalidInput, match="not overlapping"):
        Calendar("twice", "Europe/London", {0: [(time(9), time(13)), (time(12), time(17))]}, False)
    with pytest.raises(InvalidInput, match="unknown time zone"):
        Calendar("nowhere", "Europe/Atlantis", {0: [(time(9), time(17))]}, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT2H", hours(2)),
        ("PT30M", timedelta(minutes=30)),
        ("PT45S", timedelta(seconds=45)),
        ("P1D", hours(24)),
        ("P2DT4H", hours(52)),
        ("P1W", hours(168)),
        ("PT1H30M", timedelta(minutes=90)),
        (" pt8h ", hours(8)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-PT2H", "'-PT2H' is negative"),
        ("PT0H", "'PT0H' is zero"),
        ("P0D", "'P0D' is zero"),
        ("P1M", "'P1M' uses months or years"),
        ("P1Y", "'P1Y' uses months or years"),
        ("PT1.5H", "'PT1.5H' has a fraction"),
        ("2 hours", "'2 hours' is not an ISO 8601 duration"),
        ("P", "'P' is not an ISO 8601 duration"),
        ("PT", "'PT' is not an ISO 8601 duration"),
        ("P1DT", "'P1DT' is not an ISO 8601 duration"),
        ("PT2H1D", "'PT2H1D' is not an ISO 8601 duration"),
        ("P521W", "'P521W' is longer than the longest allowed, 520 weeks"),
        ("P99999999999999W", "longer than the longest allowed"),
    ],
)
def test_bad_durations_are_refused_with_a_clear_message(text, message):
    with pytest.raises(InvalidInput, match=r"^target ") as refused:
        parse_duration(text)
    assert message in refused.value.message


def test_a_duration_must_be_text():
    with pytest.raises(InvalidInput, match="ISO 8601 duration"):
        parse_duration(7200)


def test_boundaries_inside_the_skipped_or_repeated_hour_never_count_an_instant_twice():
    # Skipped wall times map as if the clocks had not yet changed; repeated ones to their first occurrence.
    split = {6: [(time(0, 0), time(1, 30)), (time(2, 0), time(3, 0))]}
    spring = Calendar("split", "Europe/London", split, False)
    # 00:00 GMT to 03:00 BST is two real hours; the closed half hour 01:30-02:00 never happened.
    assert spring.elapsed(local(2026, 3, 29), local(2026, 3, 30)) == hours(2)
    joined = Calendar(
        "joined", "Europe/London", {6: [(time(0, 0), time(1, 30)), (time(1, 30), time(3))]}, False
    )
    # 00:00 BST to 03:00 GMT is four real hours, all open.
    assert joined.elapsed(local(2026, 10, 25), local(2026, 10, 26)) == hours(4)
