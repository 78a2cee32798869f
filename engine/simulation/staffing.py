"""A service's people, as a SimPy resource whose size follows the hour of the week.

The resource is as large as the service's busiest hour; in quieter hours the slots nobody staffs are taken by
"off duty" requests of a higher priority, which, like people ending a shift, wait for the hand-off in hand to
be finished rather than dropping it. Hand-offs queue for a slot first come, first served.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import simpy

# Off-duty requests go before any hand-off waiting for a slot.
OFF_DUTY, WORK = 0, 1
UNLIMITED = 1_000_000


class Staff:
    def __init__(
        self,
        env: simpy.Environment,
        capacity_at: Callable[[datetime], int] | None,
        peak: int,
        moment_of: Callable[[int], datetime],
        microseconds_until: Callable[[datetime], int],
    ):
        self._env = env
        self._capacity_at = capacity_at
        self._peak = UNLIMITED if capacity_at is None else max(peak, 1)
        self.resource = simpy.PriorityResource(env, capacity=self._peak)
        self._off: list = []
        self._moment_of = moment_of
        self._microseconds_until = microseconds_until
        self.waiting = 0
        self.working = 0
        if capacity_at is not None:
            # Before anyone asks for a slot: a service first needed at night has nobody on duty.
            self._adjust()
            env.process(self._shifts())

    @property
    def unlimited(self) -> bool:
        return self._capacity_at is None

    def request(self):
        return self.resource.request(priority=WORK)

    def on_duty(self) -> int:
        return UNLIMITED if self._capacity_at is None else self._peak - len(self._off)

    def _adjust(self) -> None:
        """Put on or take off duty the people the hour calls for."""
        now = self._moment_of(self._env.now)
        wanted_off = self._peak - min(self._peak, max(0, self._capacity_at(now)))
        while len(self._off) < wanted_off:
            self._off.append(self.resource.request(priority=OFF_DUTY))
        while len(self._off) > wanted_off:
            request = self._off.pop()
            if request.triggered:
                self.resource.release(request)
            else:
                request.cancel()

    def _shifts(self):
        while True:
            now = self._moment_of(self._env.now)
            following = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            yield self._env.timeout(max(1, self._microseconds_until(following)))
            self._adjust()
