"""SpiffWorkflow's timers read the engine's clock.

SpiffWorkflow computes a timer's due time and checks whether it has passed with ``datetime``'s ``now``
inside its timer module. Here that module's ``datetime`` becomes one whose ``now`` asks ``engine.clock``, so
that a timer's due time and its firing follow the same clock as everything else the engine records: the wall
clock normally, a scenario run's virtual clock inside ``engine.clock.running_on`` (and time-machine in tests,
which moves the wall clock under both). Everything else the module does with ``datetime`` is unchanged and
gives plain datetimes.
"""

from __future__ import annotations

from datetime import datetime

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

from engine import clock


class _PlainDatetimeCheck(type):
    """``isinstance(x, EngineTime)`` holds for every datetime, as the timer module's checks expect."""

    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, datetime)


class EngineTime(datetime, metaclass=_PlainDatetimeCheck):
    """``datetime`` for SpiffWorkflow's timer module: ``now`` is ``engine.clock.now``; the other constructors
    it uses give plain datetimes."""

    @classmethod
    def now(cls, tz=None):
        current = clock.now()
        return current.astimezone(tz) if tz is not None else current.astimezone().replace(tzinfo=None)

    @classmethod
    def fromisoformat(cls, text):
        return datetime.fromisoformat(text)

    @classmethod
    def combine(cls, *args, **kwargs):
        return datetime.combine(*args, **kwargs)

    @classmethod
    def fromisocalendar(cls, year, week, day):
        return datetime.fromisocalendar(year, week, day)


def install() -> None:
    """Make SpiffWorkflow's timers read the engine's clock (idempotent)."""
    spiff_timer.datetime = EngineTime


install()
