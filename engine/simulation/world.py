"""One simulated stretch of time: SimPy drives the real engine on a store of its own.

SimPy's clock counts whole microseconds from ``origin``; before every call into the engine the virtual clock
(``engine.clock.VirtualClock``, which SpiffWorkflow's timer check reads too) is moved to SimPy's time. The
simulation then acts as the world outside the engine would:

    arrivals    each stream of demand starts referrals at random (Poisson) times, at its rate for the hour
    the ticker  sleeps until the next BPMN timer or OLA warning/breach falls due (both read from the store)
                and then does what ``signpost worker`` does: fires due timers and attends to due clocks; any
                change the engine makes wakes it to look again
    watching    after every change, the instances whose event log grew are read for work the world must do:
                a hand-off requested of a service, a user task for an operator, an external task for a system;
                each becomes a SimPy process (``people.py``)
    monitor     every simulated hour: queue lengths per service, progress, and the chance to cancel
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import simpy

from engine.clock import VirtualClock
from engine.errors import SignpostError
from engine.olas.calendars import Calendar, calendar
from engine.simulation.hours import LONDON as LONDON_ZONE
from engine.simulation.hours import hour_of_week, next_hour
from engine.simulation.people import Actors, Referral, external_task_work, handoff_work, user_task_work
from engine.simulation.profiles import Behaviour, Demand, Stream
from engine.simulation.samples import Samples
from engine.simulation.staffing import Staff
from engine.simulation.whatifs import WhatIf
from engine.store import external_tasks as external_task_store
from engine.store import handoffs as handoff_store
from engine.store import instances as instance_store
from engine.store import simulation as simulation_store
from engine.system import Signpost

MICROSECOND = timedelta(microseconds=1)
HOUR = 3_600_000_000


@dataclass
class Setup:
    signpost: Signpost
    clock: VirtualClock
    origin: datetime
    end: datetime
    versions: dict[str, int | None]  # pathway -> the version its referrals start on (None: the latest)
    demand: Demand
    behaviour: Behaviour
    samples: Samples
    what_if: WhatIf
    seed: int
    # Called every simulated hour with (hours done, referrals started); may raise to stop the run.
    on_hour: object = None


@dataclass
class Outcome:
    referrals: int = 0
    refused: int = 0
    notes: Counter = field(default_factory=Counter)
    # service -> [(hour from the origin, hand-offs waiting for a free slot, being worked)]
    queues: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)


class World:
    def __init__(self, setup: Setup):
        self.setup = setup
        self.signpost = setup.signpost
        self.behaviour = setup.behaviour
        self.samples = setup.samples
        self.env = simpy.Environment()
        self.actors = Actors(setup.signpost)
        self.outcome = Outcome()
        self._referrals: dict[str, Referral] = {}
        self._seen: set[str] = set()
        self._staff: dict[str, Staff] = {}
        self._calendars: dict[str, Calendar] = {}
        self._wake = self.env.event()
        self._due: datetime | None = None
        with self.signpost.database.read() as conn:
            self._last_event = simulation_store.last_event_id(conn)

    # ---- time ---------------------------------------------------------------------------------------------

    def moment(self, microseconds: int) -> datetime:
        return self.setup.origin + timedelta(microseconds=microseconds)

    def microseconds_until(self, moment: datetime) -> int:
        return (moment - self.setup.origin) // MICROSECOND - self.env.now

    def now(self) -> datetime:
        return self.moment(self.env.now)

    def real(self, seconds: float):
        return self.env.timeout(max(0, round(seconds * 1_000_000)))

    def business(self, service_id: str | None, seconds: float):
        """A wait of ``seconds`` of business time on the service's calendar (real time without one)."""
        if service_id is None:
            return self.real(seconds)
        ends = self.calendar_of(service_id).add(self.now(), timedelta(seconds=seconds))
        return self.env.timeout(max(0, self.microseconds_until(ends)))

    def calendar_of(self, service_id: str) -> Calendar:
        if service_id not in self._calendars:
            self._calendars[service_id] = calendar(self.signpost.services.get(service_id).calendar)
        return self._calendars[service_id]

    def rng(self, *key) -> random.Random:
        # Draws of a simulation, reproducible from its seed: not secrets.
        return random.Random(":".join(str(part) for part in (self.setup.seed, *key)))  # noqa: S311

    # ---- running -------------------------------------------------------------------------------------------

    def run(self) -> Outcome:
        self.env.process(self._ticker())
        self.env.process(self._monitor())
        for stream in self.setup.demand.streams:
            self.env.process(self._arrivals(stream))
        self.env.run(until=(self.setup.end - self.setup.origin) // MICROSECOND)
        return self.outcome

    def engine(self, call, *args, **kwargs):
        """Make one call into the engine at SimPy's time, then look at what it changed."""
        self.setup.clock.move_to(self.now())
        try:
            return call(*args, **kwargs)
        finally:
            self.watch()

    def note(self, what: str) -> None:
        self.outcome.notes[what] += 1

    def staff(self, service_id: str) -> Staff:
        if service_id not in self._staff:
            self._staff[service_id] = self._staff_for(service_id)
        return self._staff[service_id]

    def _staff_for(self, service_id: str) -> Staff:
        capacity = self.setup.what_if.capacity_of(service_id, self.behaviour.of(service_id).capacity)
        closed = self.setup.what_if.closed_days(service_id)
        if capacity is None:
            capacity_at, peak = None, 0
        elif isinstance(capacity, tuple):
            pattern = capacity
            capacity_at, peak = (lambda at: int(pattern[hour_of_week(at)])), int(max(pattern))
        else:
            open_hours = self.calendar_of(service_id)
            staffed = capacity
            # Staffed in an hour its calendar is open in at all (opening at 08:00 or closing at 17:30).
            capacity_at = lambda at: staffed if open_hours.elapsed(at, at + timedelta(hours=1)) else 0  # noqa: E731
            peak = capacity
        if closed and capacity_at is not None:
            inner = capacity_at
            capacity_at = lambda at: 0 if at.astimezone(LONDON_ZONE).date() in closed else inner(at)  # noqa: E731
        elif closed:
            capacity_at, peak = (
                (lambda at: 0 if at.astimezone(LONDON_ZONE).date() in closed else 10_000),
                10_000,
            )
        return Staff(self.env, capacity_at, peak, self.moment, self.microseconds_until)

    def _arrivals(self, stream: Stream):
        number = 0
        rng = self.rng("arrivals", stream.pathway, stream.point_of_access)
        while True:
            begins = self.now()
            ends = next_hour(begins)
            rate = stream.per_hour[hour_of_week(begins)]
            at = self.env.now
            limit = at + self.microseconds_until(ends)
            while rate > 0:
                at += round(rng.expovariate(rate) * HOUR)
                if at >= limit:
                    break
                yield self.env.timeout(at - self.env.now)
                number += 1
                self._start(stream, f"{stream.pathway}:{stream.point_of_access}:{number}")
            yield self.env.timeout(max(0, limit - self.env.now))

    def _start(self, stream: Stream, key: str) -> None:
        rng = self.rng("start", key)
        sample = self.samples.start_for(stream.pathway, rng)
        self.setup.clock.move_to(self.now())
        try:
            # Not through ``engine``: the referral is made known before its first changes are looked at.
            view, _ = self.signpost.referrals.start(
                self.actors.referrer,
                pathway=stream.pathway,
                version=self.setup.versions.get(stream.pathway),
                referrer=sample.referrer,
                subject=sample.subject,
                data=dict(sample.data),
                point_of_access=stream.point_of_access,
            )
        except SignpostError as refused:
            self.watch()
            self.outcome.refused += 1
            self.note(f"a referral was refused: {refused.message}")
            return
        self.outcome.referrals += 1
        instance_id = self.signpost.referrals.instance_id(view["id"])
        self._referrals[instance_id] = Referral(
            key, view["id"], instance_id, stream.pathway, view.get("point_of_access")
        )
        self.watch()

    def _ticker(self):
        while True:
            self._wake = self.env.event()
            due = self._due
            if due is None:
                yield self._wake
                continue
            at = self.env.now + max(0, self.microseconds_until(due))
            yield self.env.any_of([self.env.timeout(at - self.env.now), self._wake])
            if self.env.now >= at:
                self.setup.clock.move_to(self.now())
                self.signpost.timers.fire_due()
                self.signpost.olas.attend_due()
                self.watch()

    def _next_due(self, conn) -> datetime | None:
        now = self.now()
        timer = simulation_store.next_timer_at_or_after(conn, now)
        check = simulation_store.next_clock_check_after(conn, now)
        # SpiffWorkflow fires a timer once its due time has passed: a microsecond after it.
        moments = [m for m in (timer + MICROSECOND if timer else None, check) if m is not None]
        return min(moments, default=None)

    def _monitor(self):
        hours = 0
        while True:
            for service_id, staff in self._staff.items():
                self.outcome.queues.setdefault(service_id, []).append((hours, staff.waiting, staff.working))
            if self.setup.on_hour is not None:
                self.setup.on_hour(hours, self.outcome.referrals)
            hours += 1
            yield self.env.timeout(HOUR)

    # ---- watching ------------------------------------------------------------------------------------------

    def watch(self) -> None:
        """Read, in one transaction, the work the last change made for the world and when the engine next
        needs its ticker; start a process for each new piece of work and wake the ticker if that is sooner."""
        with self.signpost.database.read() as conn:
            changed, self._last_event = simulation_store.instances_changed_since(conn, self._last_event)
            ours = sorted((i for i in changed if i in self._referrals), key=lambda i: self._referrals[i].key)
            found = [
                (
                    self._referrals[i],
                    handoff_store.handoffs_of_instance(conn, i),
                    instance_store.open_tasks_of_instance(conn, i),
                    external_task_store.open_tasks_of_instance(conn, i),
                )
                for i in ours
            ]
            due = self._next_due(conn)
        for referral, handoffs, tasks, external in found:
            for handoff in handoffs:
                if handoff["status"] == "requested" and self._first_sight(handoff["id"]):
                    self.env.process(handoff_work(self, referral, handoff["id"], handoff["to_service"]))
            for task in tasks:
                if self._first_sight(task["id"]):
                    self.env.process(
                        user_task_work(self, referral, task["id"], task["element_id"], task["title"])
                    )
            for task in external:
                if task["status"] == "open" and self._first_sight(task["id"]):
                    self.env.process(external_task_work(self, referral, task["topic"]))
        if due != self._due:
            self._due = due
            if not self._wake.triggered:
                self._wake.succeed()

    def _first_sight(self, item_id: str) -> bool:
        if item_id in self._seen:
            return False
        self._seen.add(item_id)
        return True
