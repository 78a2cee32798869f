"""The one place that reads the time.

Everything the engine stores is timezone-aware UTC. Tests move this clock (and SpiffWorkflow's own
timer check, which reads the system clock) together with ``time-machine``.

A scenario run (``engine/scenarios/``) runs the real engine in virtual time: ``running_on(VirtualClock(…))``
makes ``now()`` answer the virtual clock in that context only (a context variable: other threads, and other
requests served by the same process, keep the wall clock). SpiffWorkflow's timer check asks ``now()`` too
(``engine/bpmn/engine_time.py``), and pathway code in the sandbox gets the time of its step from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime


class VirtualClock:
    """A clock that stands still until it is moved, and only ever forwards."""

    def __init__(self, start: datetime):
        if start.utcoffset() is None:
            raise ValueError("a virtual clock starts at a timezone-aware instant")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def move_to(self, when: datetime) -> None:
        if when.utcoffset() is None:
            raise ValueError("a virtual clock moves to a timezone-aware instant")
        if when < self._now:
            raise ValueError(f"a virtual clock does not go back (from {self._now} to {when})")
        self._now = when.astimezone(UTC)


_virtual: ContextVar[VirtualClock | None] = ContextVar("signpost_virtual_clock", default=None)


def now() -> datetime:
    """The current instant, timezone-aware, in UTC (the virtual clock's, inside ``running_on``)."""
    virtual = _virtual.get()
    if virtual is not None:
        return virtual.now()
    return datetime.now(UTC)


@contextmanager
def running_on(virtual: VirtualClock) -> Iterator[VirtualClock]:
    """Within the block, ``now()`` in this context is ``virtual``'s time."""
    token = _virtual.set(virtual)
    try:
        yield virtual
    finally:
        _virtual.reset(token)
