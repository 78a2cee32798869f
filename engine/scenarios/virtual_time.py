"""Letting time pass in a scenario: the virtual clock jumps from one due moment to the next.

Between the start and the end of a ``wait`` (or an ``at``), the clock stops at every moment something falls
due for the scenario's referral — a BPMN timer, an OLA clock's warning or breach — and the engine attends to
it there, as the ticker would, so that what one timer sets off (another timer, a message to the pathway)
happens at its own time and in order. Days pass in milliseconds of real time. Notifications are never
delivered: a scenario store has no subscribers, and nothing a scenario does may reach the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine.clock import VirtualClock
from engine.errors import InvalidInput
from engine.olas.calendars import calendar
from engine.pathways.scenario_files import Duration
from engine.store import instances as instance_store
from engine.store import olas as ola_store
from engine.system import Signpost

# SpiffWorkflow fires a timer once its due time has *passed*: the clock stops just after it.
JUST_AFTER = timedelta(microseconds=1)


@dataclass
class Timekeeper:
    signpost: Signpost
    clock: VirtualClock
    instance_id: str
    max_wakes: int
    # Called at every stop: raises when the run is out of time.
    deadline_check: Callable[[], None] | None = None

    def until(self, duration: Duration, calendar_name: str | None) -> datetime:
        """When a ``wait`` of ``duration`` ends, from now (``calendar_name`` for working time)."""
        now = self.clock.now()
        if duration.real is not None:
            return now + duration.real
        business = calendar(calendar_name)
        if duration.working_unit == "days":
            return business.working_days_later(now, duration.working_amount)
        amount = timedelta(**{duration.working_unit: duration.working_amount})
        return business.add(now, amount)

    def pass_until(self, until: datetime) -> int:
        """Move the clock to ``until``, attending to everything that falls due on the way; returns how many
        stops it made."""
        self._attend()
        stops = 0
        while (due := self._next_due()) is not None and due <= until:
            stops += 1
            if stops > self.max_wakes:
                raise InvalidInput(
                    f"more than {self.max_wakes} timers and OLA checks fell due in one step "
                    f"(the last at {due.isoformat()}): is a timer cycle endless?"
                )
            self.clock.move_to(due)
            self._attend()
        self.clock.move_to(until)
        self._attend()
        return stops

    def _attend(self) -> None:
        if self.deadline_check is not None:
            self.deadline_check()
        self.signpost.timers.fire_due()
        self.signpost.olas.attend_due()

    def _next_due(self) -> datetime | None:
        """The next moment after now at which a timer or an OLA clock of the referral falls due. Something
        already due that the engine could not attend to (an instance in incident) is not waited for again."""
        now = self.clock.now()
        with self.signpost.database.read() as conn:
            timers = [
                _aware(w["due_at"]) + JUST_AFTER
                for w in instance_store.waits_of(conn, self.instance_id)
                if w["kind"] == "timer" and w["due_at"] is not None
            ]
            checks = [
                _aware(c["next_check_at"])
                for c in ola_store.clocks_of_instance(conn, self.instance_id)
                if c["state"] == "running" and c["next_check_at"] is not None
            ]
        later = [moment for moment in timers + checks if moment > now]
        return min(later, default=None)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
