"""Business calendars: when a service counts as open, and business-time arithmetic over its opening hours.

An OLA target is business time: "PT8H" on ``office-hours`` is one working day, on ``24x7`` eight real hours.
Opening hours are wall-clock times in the calendar's zone (Europe/London); every boundary is turned into a
UTC instant for its own local date, so an 8:00-20:00 day is twelve real hours on the nights the clocks change
too, and ``24x7`` counts real elapsed time (23 hours on the spring-forward day, 25 on the fall-back day).

Bank holidays are England and Wales's: the ``holidays`` package files them under subdivision "ENG", and its
"WLS" gives the same days (one list for both nations under the Banking and Financial Dealings Act 1971);
Scotland's and Northern Ireland's extra days are not closures here. Closures added by admins are UTC spans
with no business time inside them.

A wall time that the spring-forward gap skips maps as if the clocks had not changed yet (PEP 495 ``fold=0``),
and an ambiguous fall-back time to its first occurrence; no shipped calendar has a boundary in that hour.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from engine.errors import InvalidInput

ZERO = timedelta(0)
ONE_DAY = timedelta(days=1)
ONE_WEEK = timedelta(weeks=1)
LONGEST_TARGET = timedelta(weeks=520)
MIDNIGHT_ENDS = (time(0, 0), time.max)  # an interval ending at either runs to the next local midnight


@dataclass(frozen=True)
class Calendar:
    """Opening hours per weekday (0 is Monday) in ``time_zone``, optionally closed on bank holidays.

    ``opening`` is read when the calendar is made: build a new calendar rather than changing it.
    """

    name: str
    time_zone: str
    opening: dict[int, list[tuple[time, time]]]
    closed_on_bank_holidays: bool
    closures: tuple[tuple[datetime, datetime], ...] = ()

    def __post_init__(self):
        closures = _merged(self.closures)
        object.__setattr__(self, "closures", closures)
        object.__setattr__(self, "_closure_ends", tuple(end for _, end in closures))
        schedule = _shared_schedule(self.time_zone, self.opening, self.closed_on_bank_holidays)
        object.__setattr__(self, "_schedule", schedule)

    def __hash__(self):
        return hash((self.name, self._schedule.rules, self.closures))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The UTC instant at which ``duration`` of business time has elapsed counting from ``start``.

        Counting starts at the next opening when ``start`` is closed; a zero duration gives that opening (or
        ``start`` itself when open); a duration running out exactly at a closing time gives that closing time.
        """
        cursor = _utc(start, "start")
        if duration < ZERO:
            raise InvalidInput("a business-time duration cannot be negative")
        remaining = duration
        day = self._schedule.local_date(cursor)
        while True:
            for opens, closes in self._open(day):
                if closes <= cursor:
                    continue
                opens = max(opens, cursor)
                if remaining <= closes - opens:
                    return opens + remaining
                remaining -= closes - opens
            day += ONE_DAY
            # Whole weeks that end before the target are taken in one step, so long targets stay cheap.
            while True:
                week_starts, week_ends, in_week = self._schedule.week(day)
                if remaining <= in_week or self._touches_closure(week_starts, week_ends):
                    break
                remaining -= in_week
                day += ONE_WEEK

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants; zero when ``end`` is not after ``start``."""
        start, end = _utc(start, "start"), _utc(end, "end")
        total = ZERO
        if end <= start:
            return total
        day, last = self._schedule.local_date(start), self._schedule.local_date(end)
        first = day
        while day <= last:
            if day > first:
                week_starts, week_ends, in_week = self._schedule.week(day)
                if week_ends <= end and not self._touches_closure(week_starts, week_ends):
                    total += in_week
                    day += ONE_WEEK
                    continue
            for opens, closes in self._open(day):
                overlap = min(closes, end) - max(opens, start)
                if overlap > ZERO:
                    total += overlap
            day += ONE_DAY
        return total

    def working_days_later(self, start: datetime, days: int) -> datetime:
        """The same local wall time on the ``days``-th working day after ``start``'s local date: a working day
        is one on which the calendar opens at all (weekends, bank holidays and whole-day closures skipped).
        From Friday 10:00 on office-hours, 2 working days later is Tuesday 10:00: 16 business hours on."""
        cursor = _utc(start, "start")
        if days < 0:
            raise InvalidInput("a number of working days cannot be negative")
        local = cursor.astimezone(self._schedule.zone)
        day, counted = local.date(), 0
        while counted < days:
            day += ONE_DAY
            if self._open(day):
                counted += 1
            elif day - local.date() > LONGEST_TARGET:
                raise InvalidInput(f"calendar {self.name!r} has no {days} working days ahead")
        wall = datetime.combine(day, local.time(), tzinfo=self._schedule.zone)
        return wall.astimezone(UTC)

    def is_open(self, at: datetime) -> bool:
        at = _utc(at, "at")
        return any(opens <= at < closes for opens, closes in self._open(self._schedule.local_date(at)))

    def with_closures(self, closures) -> Calendar:
        """A copy whose admin closures are ``closures`` (replacing any this calendar had)."""
        return replace(self, closures=tuple(closures))

    def _open(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's opening intervals as UTC instants, less bank holidays and admin closures."""
        day_starts, day_ends, intervals = self._schedule.day(day)
        if not self.closures or not intervals:
            return intervals
        cuts = []
        for span in islice(self.closures, bisect_right(self._closure_ends, day_starts), None):
            if span[0] >= day_ends:
                break
            cuts.append(span)
        return _subtract(intervals, cuts) if cuts else intervals

    def _touches_closure(self, starts: datetime, ends: datetime) -> bool:
        first = bisect_right(self._closure_ends, starts)
        return first < len(self.closures) and self.closures[first][0] < ends


class _Schedule:
    """Opening intervals per local date for one set of rules, remembered because clocks ask about the same
    few days over and over. Calendars with the same rules (e.g. with different closures) share one."""

    CACHE_LIMIT = 50_000

    def __init__(self, rules: tuple):
        self.rules = rules
        self.zone = ZoneInfo(rules[0])
        self._days: dict[date, tuple] = {}
        self._weeks: dict[date, tuple] = {}

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def day(self, day: date) -> tuple[datetime, datetime, tuple[tuple[datetime, datetime], ...]]:
        """(local midnight, next local midnight, opening intervals) as UTC instants."""
        known = self._days.get(day)
        if known is None:
            if len(self._days) > self.CACHE_LIMIT:
                self._days.clear()
            known = self._days[day] = self._compute_day(day)
        return known

    def week(self, day: date) -> tuple[datetime, datetime, timedelta]:
        """(local midnight of ``day``, local midnight seven days on, opening time in between)."""
        known = self._weeks.get(day)
        if known is None:
            if len(self._weeks) > self.CACHE_LIMIT:
                self._weeks.clear()
            days = [self.day(day + timedelta(days=n)) for n in range(7)]
            in_week = sum((closes - opens for _, _, spans in days for opens, closes in spans), ZERO)
            known = self._weeks[day] = (days[0][0], days[-1][1], in_week)
        return known

    def _compute_day(self, day: date) -> tuple:
        _, opening, closed_on_bank_holidays = self.rules
        starts, ends = self._instant(day, time(0, 0)), self._instant(day + ONE_DAY, time(0, 0))
        if closed_on_bank_holidays and day in _bank_holidays(day.year):
            return starts, ends, ()
        intervals: list[tuple[datetime, datetime]] = []
        for opens_at, closes_at in opening[day.weekday()]:
            opens = self._instant(day, opens_at)
            closes = ends if closes_at is None else self._instant(day, closes_at)
            if intervals:
                # Wall times skipped by the spring-forward gap can map past a later one: never overlap.
                opens = max(opens, intervals[-1][1])
            if opens < closes:
                intervals.append((opens, closes))
        return starts, ends, tuple(intervals)

    def _instant(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)


_SCHEDULES: dict[tuple, _Schedule] = {}


def _shared_schedule(time_zone: str, opening: dict, closed_on_bank_holidays: bool) -> _Schedule:
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(f"unknown time zone {time_zone!r}") from None
    rules = (time_zone, _normalised(opening), bool(closed_on_bank_holidays))
    return _SCHEDULES.get(rules) or _SCHEDULES.setdefault(rules, _Schedule(rules))


def _normalised(opening: dict) -> tuple:
    """Seven tuples (Monday first) of (opens, closes) wall times, ``closes`` None for midnight; checked."""
    if not isinstance(opening, dict) or set(opening) - set(range(7)):
        raise InvalidInput("opening hours are keyed by weekday number, 0 (Monday) to 6 (Sunday)")
    week = []
    for weekday in range(7):
        day, previous_close = [], time(0, 0)
        for opens, closes in sorted(opening.get(weekday, [])):
            if not all(isinstance(t, time) and t.tzinfo is None for t in (opens, closes)):
                raise InvalidInput(f"weekday {weekday}: opening hours are local wall times without a zone")
            closes = None if closes in MIDNIGHT_ENDS else closes
            if (closes is not None and closes <= opens) or (day and opens < previous_close):
                raise InvalidInput(
                    f"weekday {weekday}: intervals must be ordered, non-empty, not overlapping"
                )
            day.append((opens, closes))
            previous_close = closes or time.max
        week.append(tuple(day))
    if not any(week):
        raise InvalidInput("a calendar must be open at some time of the week")
    return tuple(week)


@lru_cache(maxsize=256)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def _utc(value, what: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInput(f"{what} must be a timezone-aware datetime, not {value!r}")
    return value.astimezone(UTC)


def _merged(closures) -> tuple[tuple[datetime, datetime], ...]:
    """Closures as UTC, sorted, with overlapping or touching ones joined."""
    spans = []
    for span in closures:
        if not isinstance(span, tuple | list) or len(span) != 2:
            raise InvalidInput(f"a closure is a (start, end) pair, not {span!r}")
        starts, ends = _utc(span[0], "a closure's start"), _utc(span[1], "a closure's end")
        if ends <= starts:
            raise InvalidInput(
                f"a closure must end after it starts ({starts.isoformat()} to {ends.isoformat()})"
            )
        spans.append((starts, ends))
    merged: list[tuple[datetime, datetime]] = []
    for starts, ends in sorted(spans):
        if merged and starts <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], ends))
        else:
            merged.append((starts, ends))
    return tuple(merged)


def _subtract(intervals, cuts) -> tuple[tuple[datetime, datetime], ...]:
    """``intervals`` less ``cuts``; both sorted, ``cuts`` disjoint."""
    kept = []
    for opens, closes in intervals:
        for cut_starts, cut_ends in cuts:
            if cut_ends <= opens or cut_starts >= closes:
                continue
            if cut_starts > opens:
                kept.append((opens, cut_starts))
            opens = max(opens, cut_ends)
            if opens >= closes:
                break
        if opens < closes:
            kept.append((opens, closes))
    return tuple(kept)


LONDON = "Europe/London"
CALENDARS: dict[str, Calendar] = {
    # Crisis services: every hour of every day; business time is real elapsed time.
    "24x7": Calendar("24x7", LONDON, {d: [(time(0, 0), time(0, 0))] for d in range(7)}, False),
    # Urgent community response: 08:00-20:00 local every day, bank holidays included.
    "8-to-8-every-day": Calendar(
        "8-to-8-every-day", LONDON, {d: [(time(8), time(20))] for d in range(7)}, False
    ),
    # Most admin teams: Monday to Friday 09:00-17:00, closed on England and Wales bank holidays.
    "office-hours": Calendar("office-hours", LONDON, {d: [(time(9), time(17))] for d in range(5)}, True),
}


def calendar(name: str, closures=()) -> Calendar:
    """The shipped calendar called ``name``, with the given admin closures."""
    if name not in CALENDARS:
        raise InvalidInput(f"unknown calendar {name!r} (known: {', '.join(CALENDARS)})")
    return CALENDARS[name].with_closures(closures) if closures else CALENDARS[name]


_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)

_UNIT_SECONDS = {"weeks": 604_800, "days": 86_400, "hours": 3_600, "minutes": 60, "seconds": 1}


def parse_duration(text: str) -> timedelta:
    """An OLA target as business time, from an ISO 8601 duration: "PT4H", "PT30M", "P2DT4H", "P1W".

    Days and weeks are exact multiples of business hours: "P1D" is 24 hours of business time (three working
    days on office-hours, two on 8-to-8-every-day); write "PT8H" for one office-hours working day. Months and
    years have no fixed length and are refused, as are fractions, zero and negative targets.
    """
    if not isinstance(text, str):
        raise InvalidInput(f'a target must be an ISO 8601 duration such as "PT4H", not {text!r}')
    cleaned = text.strip().upper()
    date_part = cleaned.split("T", 1)[0]
    if cleaned.startswith("-"):
        raise InvalidInput(f"target {text!r} is negative: a target must be a positive duration")
    if cleaned.startswith("P") and ("Y" in date_part or "M" in date_part):
        raise InvalidInput(
            f"target {text!r} uses months or years, which have no fixed length: "
            "give weeks, days, hours or minutes"
        )
    if "." in cleaned or "," in cleaned:
        raise InvalidInput(f"target {text!r} has a fraction: use whole numbers (PT90M rather than PT1.5H)")
    match = _DURATION.fullmatch(cleaned)
    if not match or not any(match.groupdict().values()):
        raise InvalidInput(f"target {text!r} is not an ISO 8601 duration such as PT4H, PT30M, P1D or P1W")
    seconds = sum(int(match[unit] or 0) * size for unit, size in _UNIT_SECONDS.items())
    if seconds == 0:
        raise InvalidInput(f"target {text!r} is zero: a target must be a positive duration")
    if seconds > LONGEST_TARGET.total_seconds():
        raise InvalidInput(
            f"target {text!r} is longer than the longest allowed, {LONGEST_TARGET.days // 7} weeks"
        )
    return timedelta(seconds=seconds)
