"""Hours of the week and durations, as simulation profiles write them.

An hour of the week is counted from Monday 00:00 to Sunday 23:00 in Europe/London (the services' own zone):
0 is Monday 00:00-01:00, 167 Sunday 23:00-24:00. A value per hour of the week is written as one number (every
hour), as 168 numbers, or as a table whose keys say which days and hours, later keys overriding earlier ones:

    {"Mon-Fri 08:00-18:00": 6, "Sat-Sun 10:00-16:00": 2}     # every other hour: 0
    {"every day": 1, "Mon 09:00-12:00": 4}

A duration is an ISO 8601 duration ("PT20M", "P1DT2H"); a distribution of durations is ``{median, p90}``
(log-normal through both), ``{mean}`` (exponential), ``{fixed}``, or ``{samples: [seconds…]}`` (drawn as
observed).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from engine.errors import InvalidInput
from engine.olas.calendars import parse_duration

HOURS_IN_WEEK = 168
LONDON = ZoneInfo("Europe/London")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The 90th percentile of the standard normal distribution.
Z90 = 1.2815515655446004
_DAY_RANGE = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)(?:-(mon|tue|wed|thu|fri|sat|sun))?$")
_HOUR_RANGE = re.compile(r"^(\d{1,2})(?::00)?-(\d{1,2})(?::00)?$")


def hour_of_week(moment: datetime) -> int:
    local = moment.astimezone(LONDON)
    return local.weekday() * 24 + local.hour


def next_hour(moment: datetime) -> datetime:
    """The start of the next whole hour (Europe/London's offsets are whole hours, so UTC's hours are its)."""
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def hourly(value, what: str, *, whole: bool = False) -> tuple[float, ...]:
    """168 values from a number, a list of 168 numbers or a table of day and hour ranges."""
    if isinstance(value, bool):
        raise InvalidInput(f"{what}: expected a number, 168 numbers or a table of hours, not {value!r}")
    if isinstance(value, int | float):
        return tuple(_number(value, what, whole) for _ in range(HOURS_IN_WEEK))
    if isinstance(value, list):
        if len(value) != HOURS_IN_WEEK:
            raise InvalidInput(
                f"{what}: a list gives one value per hour of the week, 168 of them, not {len(value)}"
            )
        return tuple(_number(v, f"{what}, hour {i}", whole) for i, v in enumerate(value))
    if isinstance(value, dict):
        hours = [0.0] * HOURS_IN_WEEK
        for key, amount in value.items():
            number = _number(amount, f"{what} {key!r}", whole)
            for hour in _hours_named(str(key), what):
                hours[hour] = number
        return tuple(hours)
    raise InvalidInput(f"{what}: expected a number, 168 numbers or a table of hours, not {value!r}")


def _number(value, what: str, whole: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InvalidInput(f"{what}: {value!r} is not a number")
    if value < 0:
        raise InvalidInput(f"{what}: {value} is negative; rates and capacities are 0 or more")
    if math.isinf(value):
        raise InvalidInput(f"{what}: must be finite")
    if whole and value != int(value):
        raise InvalidInput(f"{what}: {value} is not a whole number")
    return float(value)


def _hours_named(key: str, what: str) -> list[int]:
    """The hours of the week a key such as "Mon-Fri 08:00-18:00", "Sat", "every day 10-16" names."""
    words = key.strip().lower().split()
    hour_part = words[-1] if words and _HOUR_RANGE.match(words[-1]) else None
    day_words = words[:-1] if hour_part else words
    day_text = " ".join(day_words)
    if day_text in ("every day", "daily", ""):
        days = list(range(7))
    elif day_text == "weekdays":
        days = list(range(5))
    elif day_text == "weekends":
        days = [5, 6]
    else:
        match = _DAY_RANGE.match(day_text.replace(" ", ""))
        if not match:
            raise InvalidInput(
                f"{what}: cannot read {key!r}: write days and hours as 'Mon-Fri 08:00-18:00', 'Sat', "
                "'every day 10:00-16:00'"
            )
        first = DAYS.index(match[1])
        last = DAYS.index(match[2] or match[1])
        days = list(range(first, last + 1)) if first <= last else [*range(first, 7), *range(0, last + 1)]
    begin, end = 0, 24
    if hour_part:
        hour_match = _HOUR_RANGE.match(hour_part)
        begin, end = int(hour_match[1]), int(hour_match[2])
        if not (0 <= begin < end <= 24):
            raise InvalidInput(f"{what}: {key!r}: hours run from 00:00 to 24:00, the start before the end")
    return [day * 24 + hour for day in days for hour in range(begin, end)]


def seconds_of(text, what: str) -> float:
    if not isinstance(text, str):
        raise InvalidInput(f'{what}: a duration is written as ISO 8601, such as "PT20M", not {text!r}')
    try:
        return parse_duration(text).total_seconds()
    except InvalidInput as bad:
        raise InvalidInput(f"{what}: {bad.message}") from None


def iso(seconds: float) -> str:
    """A duration in whole minutes (at least one) as ISO 8601."""
    minutes = max(1, round(seconds / 60))
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    text = "P" + (f"{days}D" if days else "")
    if hours or minutes:
        text += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text


@dataclass(frozen=True)
class Durations:
    """How long something takes, drawn afresh each time."""

    kind: str  # "lognormal" | "exponential" | "fixed" | "samples"
    a: float = 0.0  # lognormal: mu; exponential: mean seconds; fixed: seconds
    b: float = 0.0  # lognormal: sigma
    samples: tuple[float, ...] = ()

    @classmethod
    def median_p90(cls, median: float, p90: float) -> Durations:
        if p90 <= median:
            return cls("fixed", median)
        return cls("lognormal", math.log(median), (math.log(p90) - math.log(median)) / Z90)

    @classmethod
    def read(cls, value, what: str) -> Durations:
        if isinstance(value, str):
            return cls("fixed", seconds_of(value, what))
        if not isinstance(value, dict) or not value:
            raise InvalidInput(
                f"{what}: give {{median, p90}}, {{mean}}, {{fixed}} or {{samples}}, not {value!r}"
            )
        keys = set(value)
        if keys == {"median", "p90"}:
            median, p90 = (
                seconds_of(value["median"], f"{what} median"),
                seconds_of(value["p90"], f"{what} p90"),
            )
            if p90 < median:
                raise InvalidInput(
                    f"{what}: the p90 ({value['p90']}) is shorter than the median ({value['median']})"
                )
            return cls.median_p90(median, p90)
        if keys == {"mean"}:
            return cls("exponential", seconds_of(value["mean"], f"{what} mean"))
        if keys == {"fixed"}:
            return cls("fixed", seconds_of(value["fixed"], f"{what} fixed"))
        if keys == {"samples"} and isinstance(value["samples"], list) and value["samples"]:
            return cls(
                "samples", samples=tuple(_number(v, f"{what} samples", False) for v in value["samples"])
            )
        raise InvalidInput(
            f"{what}: give {{median, p90}}, {{mean}}, {{fixed}} or {{samples: [seconds…]}}; "
            f"got {', '.join(sorted(keys))}"
        )

    def draw(self, rng: random.Random) -> float:
        if self.kind == "lognormal":
            return rng.lognormvariate(self.a, self.b)
        if self.kind == "exponential":
            return rng.expovariate(1 / self.a)
        if self.kind == "samples":
            return rng.choice(self.samples)
        return self.a

    def median(self) -> float:
        if self.kind == "lognormal":
            return math.exp(self.a)
        if self.kind == "exponential":
            return self.a * math.log(2)
        if self.kind == "samples":
            ordered = sorted(self.samples)
            return ordered[len(ordered) // 2]
        return self.a

    def describe(self):
        if self.kind == "lognormal":
            return {"median": iso(math.exp(self.a)), "p90": iso(math.exp(self.a + Z90 * self.b))}
        if self.kind == "exponential":
            return {"mean": iso(self.a)}
        if self.kind == "samples":
            return {"samples": [round(s) for s in self.samples]}
        return {"fixed": iso(self.a)}
