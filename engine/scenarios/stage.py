"""One scenario's world: its own Signpost, its virtual clock, the clients acting in it and its referral.

Each step goes through the engine's public services as the API would call them, as the client the step
speaks for: the referrer starts, answers information requests and cancels; the operators of the point of
access handling the referral complete its user tasks and send messages and signals; a receiving service's
system acts on the hand-offs routed to it; the operating organisation's worker does external tasks. A step
the engine refuses raises its error, whose message becomes the step's failure.
"""

from __future__ import annotations

from engine.clock import VirtualClock
from engine.errors import InvalidInput, NoMatchingWait, NotFound
from engine.governance.clients import Client
from engine.pathways.scenario_files import Start, Step
from engine.routing.transitions import OPEN
from engine.scenarios.virtual_time import Timekeeper
from engine.store import instances as instance_store
from engine.system import Signpost

# The organisation of the referrer in every scenario (a pathway never sees it; access rules do).
REFERRER_ORGANISATION = "scenario-referrers"
WORKER_ID = "scenario-worker"
LEASE_SECONDS = 300


class Stage:
    def __init__(self, signpost: Signpost, clock: VirtualClock, *, max_wakes: int, deadline_check=None):
        self.signpost = signpost
        self.clock = clock
        self._max_wakes = max_wakes
        self._deadline_check = deadline_check
        self._clients: dict[tuple[str, str, str | None], Client] = {}
        self.referral_id: str | None = None
        self.instance_id: str | None = None
        self.view: dict = {}

    # ---- the people and systems ----------------------------------------------------------------------

    def _client(self, role: str, organisation: str, service: str | None = None) -> Client:
        key = (role, organisation, service)
        if key not in self._clients:
            self._clients[key] = self.signpost.clients.create(
                name=f"scenario {role}", organisation=organisation, roles={role}, service=service
            )[0]
        return self._clients[key]

    @property
    def referrer(self) -> Client:
        return self._client("referrer", REFERRER_ORGANISATION)

    @property
    def operator(self) -> Client:
        """An operator at the point of access handling the referral (the referrer's organisation runs a
        referral no point of access handles)."""
        point_of_access = self.view.get("point_of_access")
        if point_of_access:
            return self._client(
                "operator", self.signpost.services.get(point_of_access).organisation, point_of_access
            )
        return self._client("operator", REFERRER_ORGANISATION)

    def _service_system(self, service_id: str) -> Client:
        return self._client("service", self.signpost.services.get(service_id).organisation)

    def _worker(self) -> Client:
        point_of_access = self.view.get("point_of_access")
        organisation = (
            self.signpost.services.get(point_of_access).organisation
            if point_of_access
            else REFERRER_ORGANISATION
        )
        return self._client("service", organisation)

    # ---- what happens ----------------------------------------------------------------------------------

    def start(self, pathway: str, start: Start) -> str:
        begins = self.clock.now() + start.lead_time
        for earlier in sorted(start.open_referrals, key=lambda r: r.ago, reverse=True):
            self.clock.move_to(begins - earlier.ago)
            self.signpost.referrals.start(
                self.referrer,
                pathway=earlier.pathway,
                version=None,
                referrer=start.referrer,
                subject=start.subject,
                data=earlier.data,
                point_of_access=earlier.point_of_access,
            )
        self.clock.move_to(begins)
        view, _ = self.signpost.referrals.start(
            self.referrer,
            pathway=pathway,
            version=None,
            referrer=start.referrer,
            subject=start.subject,
            data=start.data,
            point_of_access=start.point_of_access,
        )
        self.referral_id = view["id"]
        self.instance_id = self.signpost.referrals.instance_id(self.referral_id)
        self.refresh()
        return f"started {pathway}"

    def refresh(self) -> dict:
        self.view = self.signpost.referrals.get(self.referral_id, self.referrer)
        return self.view

    def perform(self, step: Step) -> str:
        """Do what ``step`` says; returns a line for the timeline."""
        done = getattr(self, f"_{step.kind}")(step)
        self.refresh()
        return done

    def _expect(self, _step: Step) -> str:
        return "checked"

    def _complete(self, step: Step) -> str:
        tasks = self.view["waiting_for"]["tasks"]
        matching = [t for t in tasks if step.target in (t["element_id"], t["title"])]
        if not matching:
            raise NotFound(f"no open task '{step.target}' ({_open_tasks(tasks)})")
        self.signpost.referrals.complete_task(matching[0]["id"], step.data, self.operator)
        return f"completed task {matching[0]['element_id']}"

    def _service(self, step: Step) -> str:
        to_service = [h for h in self.view["handoffs"] if h["to_service"] == step.target]
        if not to_service:
            made = ", ".join(f"{h['to_service']} ({h['status']})" for h in self.view["handoffs"]) or "none"
            raise NotFound(f"no hand-off to {step.target} (hand-offs: {made})")
        handoff = next((h for h in reversed(to_service) if h["status"] in OPEN), to_service[-1])
        self.signpost.handoffs.act(handoff["id"], step.action, step.data, self._service_system(step.target))
        return f"{step.target}: {step.action}"

    def _supply_information(self, step: Step) -> str:
        self.signpost.handoffs.supply_information(self.referral_id, step.data, self.referrer)
        return "the referrer supplied information"

    def _cancel(self, step: Step) -> str:
        self.signpost.handoffs.cancel(self.referral_id, step.target, self.referrer)
        return f"the referrer cancelled: {step.target}"

    def _message(self, step: Step) -> str:
        self.signpost.referrals.deliver_message(
            step.target, {"referral_id": self.referral_id}, step.data, self.operator
        )
        return f"message {step.target}"

    def _signal(self, step: Step) -> str:
        answer = self.signpost.referrals.send_signal(step.target, step.data, self.operator)
        if not any(r["id"] == self.referral_id for r in answer["delivered_to"]):
            raise NoMatchingWait(f"the referral is not waiting for signal '{step.target}'")
        return f"signal {step.target}"

    def _external_task(self, step: Step) -> str:
        worker = self._worker()
        locked = self.signpost.external_tasks.fetch_and_lock(
            worker, WORKER_ID, [step.target], 1, LEASE_SECONDS
        )
        if not locked:
            waiting = ", ".join(
                f"{t['topic']} ({t['status']})" for t in self.view["waiting_for"]["external_tasks"]
            )
            raise NotFound(
                f"no external task on topic '{step.target}' to fetch (the referral's: {waiting or 'none'})"
            )
        task_id = locked[0]["id"]
        if step.error_code is not None:
            self.signpost.external_tasks.bpmn_error(
                task_id, WORKER_ID, step.error_code, step.error_message, step.data, worker
            )
            return f"external task {step.target}: BPMN error {step.error_code}"
        self.signpost.external_tasks.complete(task_id, WORKER_ID, step.data, worker)
        return f"external task {step.target} done"

    def _wait(self, step: Step) -> str:
        keeper = self._timekeeper()
        calendar_name = step.target.calendar
        if step.target.real is None and calendar_name is None:
            calendar_name = self._holder_calendar()
        stops = keeper.pass_until(keeper.until(step.target, calendar_name))
        on = f" on {calendar_name}" if step.target.real is None and step.target.calendar is None else ""
        return f"waited {step.target.text}{on}" + (
            f" ({stops} timers and OLA checks on the way)" if stops else ""
        )

    def _at(self, step: Step) -> str:
        if step.target < self.clock.now():
            raise InvalidInput(
                f"the clock cannot go back from {self.clock.now().isoformat()} to {step.target.isoformat()}"
            )
        stops = self._timekeeper().pass_until(step.target)
        return "the clock moved on" + (f" ({stops} timers and OLA checks on the way)" if stops else "")

    def _timekeeper(self) -> Timekeeper:
        return Timekeeper(self.signpost, self.clock, self.instance_id, self._max_wakes, self._deadline_check)

    def _holder_calendar(self) -> str:
        """The calendar of the service holding the referral: the one its latest open hand-off went to,
        else its point of access."""
        open_handoffs = [h for h in self.view["handoffs"] if h["status"] in OPEN]
        holder = open_handoffs[-1]["to_service"] if open_handoffs else self.view.get("point_of_access")
        if holder is None:
            raise InvalidInput(
                "no service holds the referral, so working time has no calendar: "
                'say which, e.g. "2 working days on office-hours"'
            )
        return self.signpost.services.get(holder).calendar

    # ---- reading ---------------------------------------------------------------------------------------

    def workflow(self):
        """The referral's instance, loaded from the store as the engine would load it."""
        with self.signpost.database.read() as conn:
            row = instance_store.instance(conn, self.instance_id)
        pathway = self.signpost.definitions.pathway(row["version_id"])
        return self.signpost.runtime.load(pathway, row["state"], row["serializer_version"])

    def events(self) -> list:
        with self.signpost.database.read() as conn:
            return instance_store.events_of(conn, self.instance_id)


def _open_tasks(tasks: list[dict]) -> str:
    if not tasks:
        return "no task is open"
    return "open: " + ", ".join(
        f"{t['element_id']} ({t['title']})" if t["title"] else t["element_id"] for t in tasks
    )
