"""The people and systems around the engine in a simulation, each a SimPy process acting through the engine's
public services as their API clients would.

A receiving service works a hand-off (``handoff_work``): it waits for one of the service's people to be free
(``staffing.Staff``), acknowledges it on picking it up (at the service's acknowledgement rate), works on it,
and then asks the referrer for information, rejects or accepts it; a question sends it back to the referrer
(who answers in the service's business time) and then to the back of the queue; an accepted hand-off is
started and completed after delays in the service's business time. Every random draw a hand-off needs is made
when it is first seen, from a generator seeded by the referral and the hand-off's place in it: two arms of a
comparison give the same referral the same luck (common random numbers).

An operator completes a user task after its task time (business time at the point of access) with sample
data; a system completes an external task after its time with a sample answer. An action the engine refuses
(the pathway moved on: a hand-off cancelled on escalation, a task interrupted by a timer) ends that process
and is counted in the run's notes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from engine.errors import InvalidInput, SignpostError
from engine.governance.clients import Client
from engine.simulation.samples import MERGE_FROM_VISIT

REFERRERS = "simulated-referrers"
WORKER = "simulation"
LEASE_SECONDS = 3600
BODIES = {
    "acknowledge": {},
    "accept": {"window": "next available visit"},
    "reject": {"reason": "does not meet the service's criteria (simulated)"},
    "request-information": {"question": "please send the latest care plan (simulated)"},
    "start": {},
    "complete": {"outcome": "seen and treated (simulated)"},
}
ANSWER = {"note": "care plan attached (simulated)"}
# An operator meeting the same task this many times in one referral stops working it.
MOST_VISITS = 6


@dataclass
class Referral:
    key: str
    id: str
    instance_id: str
    pathway: str
    point_of_access: str | None
    seen: Counter = field(default_factory=Counter)

    def next(self, what: str) -> int:
        self.seen[what] += 1
        return self.seen[what]


class Actors:
    """The API clients the simulated people act as, made on first use."""

    def __init__(self, signpost):
        self._signpost = signpost
        self._clients: dict[tuple, Client] = {}
        # The directory does not change during a run: each service's organisation is read once.
        self._organisations: dict[str, str] = {}

    def _client(self, role: str, organisation: str, service: str | None = None) -> Client:
        key = (role, organisation, service)
        if key not in self._clients:
            self._clients[key] = self._signpost.clients.create(
                name=f"simulated {role}", organisation=organisation, roles={role}, service=service
            )[0]
        return self._clients[key]

    @property
    def referrer(self) -> Client:
        return self._client("referrer", REFERRERS)

    def organisation_of(self, service_id: str | None) -> str:
        if not service_id:
            return REFERRERS
        if service_id not in self._organisations:
            self._organisations[service_id] = self._signpost.services.get(service_id).organisation
        return self._organisations[service_id]

    def operator(self, point_of_access: str | None) -> Client:
        return self._client("operator", self.organisation_of(point_of_access), point_of_access)

    def service(self, service_id: str) -> Client:
        return self._client("service", self.organisation_of(service_id))

    def worker(self, point_of_access: str | None) -> Client:
        return self._client("service", self.organisation_of(point_of_access))


@dataclass(frozen=True)
class Luck:
    """Every draw one hand-off needs, made up front."""

    acknowledges: float
    asks: float
    rejects: float
    starts: float
    work: tuple[float, float]
    answer: float
    to_start: float
    to_complete: float


def handoff_work(world, referral: Referral, handoff_id: str, service_id: str):
    behaviour = world.behaviour.of(service_id)
    rng = world.rng(referral.key, "handoff", service_id, referral.next(f"handoff:{service_id}"))
    luck = Luck(
        rng.random(),
        rng.random(),
        rng.random(),
        rng.random(),
        (behaviour.work.draw(rng), behaviour.work.draw(rng)),
        behaviour.answer.draw(rng),
        behaviour.to_start.draw(rng),
        behaviour.to_complete.draw(rng),
    )
    staff = world.staff(service_id)
    acknowledged = asked = False
    while True:
        slot = staff.request()
        staff.waiting += 1
        yield slot
        staff.waiting -= 1
        staff.working += 1
        try:
            if not acknowledged and luck.acknowledges < behaviour.acknowledges:
                if not _act(world, handoff_id, "acknowledge", service_id):
                    return
                acknowledged = True
            yield world.real(luck.work[1 if asked else 0])
            if not asked and luck.asks < behaviour.information_rate:
                decision = "request-information"
            elif luck.rejects < behaviour.reject_rate:
                decision = "reject"
            else:
                decision = "accept"
            if not _act(world, handoff_id, decision, service_id):
                return
        finally:
            staff.working -= 1
            staff.resource.release(slot)
        if decision == "reject":
            return
        if decision == "accept":
            break
        asked = True
        yield world.business(service_id, luck.answer)
        if not _supply(world, referral):
            return
    if luck.starts < behaviour.starts:
        yield world.business(service_id, luck.to_start)
        if not _act(world, handoff_id, "start", service_id):
            return
        yield world.business(service_id, luck.to_complete)
    else:
        yield world.business(service_id, luck.to_start + luck.to_complete)
    _act(world, handoff_id, "complete", service_id)


def _act(world, handoff_id: str, action: str, service_id: str) -> bool:
    try:
        world.engine(
            world.signpost.handoffs.act, handoff_id, action, BODIES[action], world.actors.service(service_id)
        )
    except SignpostError:
        world.note(f"{service_id} could not {action} a hand-off: the pathway had moved it on")
        return False
    return True


def _supply(world, referral: Referral) -> bool:
    try:
        world.engine(world.signpost.handoffs.supply_information, referral.id, ANSWER, world.actors.referrer)
    except SignpostError:
        world.note("a referrer's answer to an information request came too late: the pathway had moved on")
        return False
    return True


def user_task_work(world, referral: Referral, task_id: str, element_id: str, title: str | None):
    visit = referral.next(f"task:{element_id}")
    if visit > MOST_VISITS:
        # The samples never satisfy the pathway (a version deployed without scenario files, say): the
        # operator leaves the task rather than loop until the instance's task tree is too deep.
        world.note(f"task {element_id} kept coming back: no sample data completes it (give --samples)")
        return
    rng = world.rng(referral.key, "task", element_id, visit)
    yield world.business(referral.point_of_access, world.behaviour.task_time(element_id).draw(rng))
    operator = world.actors.operator(referral.point_of_access)
    for attempt in (visit, MERGE_FROM_VISIT):
        data = world.samples.task_data(element_id, title, attempt, rng)
        try:
            world.engine(world.signpost.referrals.complete_task, task_id, data, operator)
            return
        except InvalidInput:
            continue
        except SignpostError:
            world.note(f"task {element_id} was no longer open when its operator came to it")
            return
    world.note(f"task {element_id} could not be completed: no sample data fits its form")


def external_task_work(world, referral: Referral, topic: str):
    rng = world.rng(referral.key, "external", topic, referral.next(f"external:{topic}"))
    yield world.real(world.behaviour.external_task_time(topic).draw(rng))
    worker = world.actors.worker(referral.point_of_access)
    external = world.signpost.external_tasks
    try:
        locked = world.engine(external.fetch_and_lock, worker, WORKER, [topic], 1, LEASE_SECONDS)
        if not locked:
            return
        answer = world.samples.external_answer(topic, rng)
        if answer.error_code:
            world.engine(
                external.bpmn_error,
                locked[0]["id"],
                WORKER,
                answer.error_code,
                answer.error_message,
                answer.data,
                worker,
            )
        else:
            world.engine(external.complete, locked[0]["id"], WORKER, answer.data, worker)
    except SignpostError as refused:
        world.note(f"external task {topic} was refused: {refused.message}")
