"""Hand-offs: a referral routed from one service to another, with a FHIR Task lifecycle.

    requested ─acknowledge→ received ─accept→ accepted ─start→ in-progress ─complete→ completed
        │                      │                 │
        ├──────── reject ──────┴→ rejected       ├─ schedule (stays accepted / in-progress; businessStatus)
        ├── request-information → on-hold ─(referrer supplies information)→ back where it was
        ├── transfer → cancelled (and a new hand-off to the other service, requested)
        └── (referrer cancels the referral) → cancelled

Each transition is made under the referral instance's row lock, bumps the hand-off's version (its ETag),
records who did what when, and delivers ``handoff.<event>`` to the pathway when the pathway waits for it,
so that designers model what happens next in the diagram.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from engine import clock
from engine.bpmn import Operation, Runtime, ServiceCall
from engine.errors import (
    Conflict,
    DuplicateKey,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NotFound,
    PreconditionFailed,
    StepFailed,
)
from engine.governance.access import operates, sees_referral
from engine.governance.clients import Client
from engine.governance.idempotency import earlier_answer, remember_answer, request_digest
from engine.olas import obligation_clocks
from engine.pathways.instances import Change, Instances
from engine.store import handoffs as handoff_store
from engine.store import referrals as referral_store
from engine.store import services as service_store
from engine.store.db import Database

ROUTE_OPERATION = "signpost.route"
OPEN = ("requested", "received", "accepted", "in-progress", "on-hold")
CLOSED = ("rejected", "completed", "cancelled", "failed")
REFERRER = "referrer"
# Owner of a rejected hand-off whose routing task named no from_service.
POINT_OF_ACCESS = "point-of-access"


@dataclass(frozen=True)
class Transition:
    action: str
    allowed_from: tuple[str, ...]
    to: str | None  # None: stays in its status (schedule)
    message: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)  # body field -> hand-off column


SERVICE_TRANSITIONS = {
    t.action: t
    for t in (
        Transition("acknowledge", ("requested",), "received", "handoff.acknowledged"),
        Transition(
            "accept",
            ("requested", "received"),
            "accepted",
            "handoff.accepted",
            optional=("window",),
            fields={"window": "window"},
        ),
        Transition(
            "reject",
            ("requested", "received"),
            "rejected",
            "handoff.rejected",
            required=("reason",),
            fields={"reason": "status_reason"},
        ),
        Transition(
            "request-information",
            ("requested", "received", "accepted"),
            "on-hold",
            "handoff.information_requested",
            required=("question",),
            fields={"question": "question"},
        ),
        Transition(
            "schedule",
            ("accepted", "in-progress"),
            None,
            "handoff.scheduled",
            required=("window",),
            fields={"window": "window"},
        ),
        Transition("start", ("accepted",), "in-progress", "handoff.started"),
        Transition(
            "complete",
            ("accepted", "in-progress"),
            "completed",
            "handoff.completed",
            required=("outcome",),
            fields={"outcome": "outcome"},
        ),
        Transition(
            "transfer",
            ("requested", "received", "accepted"),
            "cancelled",
            "handoff.transferred",
            required=("to_service", "reason"),
            fields={"reason": "status_reason"},
        ),
    )
}
SUPPLY_INFORMATION = Transition(
    "supply-information",
    ("on-hold",),
    None,
    "handoff.information_supplied",
    required=("answer",),
    fields={"answer": "answer"},
)
# A referrer may withdraw a referral until a service has begun delivering it.
CANCELLABLE = ("requested", "received", "accepted", "on-hold")


def _answer_route(params: dict) -> dict:
    service, referral_type = params.get("service"), params.get("referral_type")
    for name, value in (("service", service), ("referral_type", referral_type)):
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"routing parameter '{name}' must give a non-empty string, got {value!r}")
    payload = params.get("payload")
    if payload is not None and not isinstance(payload, dict):
        raise InvalidInput(f"routing parameter 'payload' must give a dict, got {type(payload).__name__}")
    return {
        "id": str(uuid.uuid4()),
        "to_service": service,
        "referral_type": referral_type,
        "status": "requested",
    }


ROUTE = Operation(
    name=ROUTE_OPERATION,
    required=frozenset({"service", "referral_type"}),
    optional=frozenset({"reason", "payload", "from_service"}),
    answer=_answer_route,
)
OPERATIONS = {ROUTE.name: ROUTE}


def record_routes(conn, instance_id: str, calls: list[ServiceCall]) -> list[dict]:
    """Create the hand-offs that a run's routing service tasks asked for (ServiceCallHandler)."""
    events = []
    now = clock.now()
    for call in calls:
        if call.operation != ROUTE_OPERATION:
            continue
        to_service = call.result["to_service"]
        # Both ends at once: the sender's entry is wanted later in this transaction too (its name, its
        # calendar), and the directory is read once per transaction.
        from_service = call.params.get("from_service")
        ends = service_store.services_by_id(
            conn, [to_service, from_service] if isinstance(from_service, str) else [to_service]
        )
        service = ends.get(to_service)
        problem = _routing_problem(service, to_service, call.result["referral_type"])
        if problem:
            raise StepFailed(
                f"task '{call.task_name}' cannot route to {problem}",
                element_id=call.element_id,
                task_name=call.task_name,
            )
        handoff_id = call.result["id"]
        handoff = {
            "id": handoff_id,
            "instance_id": instance_id,
            "element_id": call.element_id,
            "from_service": call.params.get("from_service"),
            "to_service": to_service,
            "referral_type": call.result["referral_type"],
            "status": "requested",
            "owner": to_service,
            "reason": call.params.get("reason"),
            "payload": call.params.get("payload") or {},
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        handoff_store.insert_handoff(conn, handoff)
        _log_transition(
            conn,
            handoff,
            "route",
            None,
            "engine",
            now,
            {"element_id": call.element_id},
            event="requested",
            new=True,
        )
        events.append(
            {
                "kind": "handoff_requested",
                "actor": "engine",
                "at": now,
                "task_id": None,
                "task_name": call.task_name,
                "detail": {"handoff_id": handoff_id, "to_service": to_service},
            }
        )
    return events


def _routing_problem(service, service_id: str, referral_type: str) -> str | None:
    """Why a '{referral_type}' referral cannot go to the service, as the end of "cannot route to …"."""
    if service is None:
        return f"unknown service '{service_id}'"
    if referral_type not in service["accepts"]:
        return (
            f"{service['name']} ({service_id}), which accepts only {', '.join(service['accepts'])} "
            f"referrals, not '{referral_type}'"
        )
    return None


class Handoffs:
    def __init__(self, database: Database, instances: Instances, runtime: Runtime):
        self._database = database
        self._instances = instances
        self._runtime = runtime

    # ---- reading --------------------------------------------------------------------------------------

    def queue(
        self, service_id: str, client: Client, statuses: list[str] | None, limit: int = 100
    ) -> list[dict]:
        with self._database.read() as conn:
            service = service_store.service(conn, service_id)
            if service is None:
                raise NotFound(f"no service with id '{service_id}'")
            _check_acts_for(client, service)
            return [
                handoff_view(row) for row in handoff_store.service_queue(conn, service_id, statuses, limit)
            ]

    def get(self, handoff_id: str, client: Client) -> dict:
        """A hand-off with the history of its transitions."""
        with self._database.read() as conn:
            row, service = self._handoff_and_service(conn, handoff_id)
            referral = referral_store.referral_overview(conn, instance_id=row["instance_id"])
            if referral is None or not operates(client, referral):
                _check_acts_for(client, service)
            history = [
                {
                    "action": t["action"],
                    "from_status": t["from_status"],
                    "to_status": t["to_status"],
                    "by": t["actor"],
                    "at": t["at"].isoformat(),
                }
                for t in handoff_store.transitions_of_handoff(conn, handoff_id)
            ]
            return {**handoff_view(row), "transitions": history}

    # ---- changing -------------------------------------------------------------------------------------

    def act(
        self,
        handoff_id: str,
        action: str,
        body: dict,
        client: Client,
        *,
        if_match: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict:
        """Make ``action`` happen to a hand-off for the receiving service's client."""
        transition = SERVICE_TRANSITIONS.get(action)
        if transition is None:
            raise NotFound(f"no hand-off action '{action}' (actions: {', '.join(SERVICE_TRANSITIONS)})")
        body = _checked_body(transition, body)
        scope = f"handoff.{action}"
        request_sha256 = request_digest({"handoff": handoff_id, "body": body})
        if idempotency_key:
            replay = earlier_answer(self._database, client, scope, idempotency_key, request_sha256)
            if replay is not None:
                return replay
        with self._database.read_once() as conn:
            row, service = self._handoff_and_service(conn, handoff_id)
        _check_acts_for(client, service)

        def apply(workflow, conn) -> Change:
            current = self._locked_current(conn, handoff_id, if_match)
            _check_allowed(transition, current)
            target = None
            if action == "transfer":
                target = self._transfer_target(conn, current, body["to_service"])
            changed = self._transition(conn, current, transition, body, client.actor)
            payload = _message_payload(changed, transition, body)
            if target is not None:
                new_id = self._route_again(conn, current, target, body["reason"], client.actor)
                payload["new_handoff_id"] = new_id
            self._notify_pathway(workflow, transition.message, payload)
            # The row as the update left it: nothing else changes a hand-off under the instance's lock.
            view = handoff_view(changed)
            if idempotency_key:
                remember_answer(conn, client, scope, idempotency_key, request_sha256, 200, view)
            return Change(events=[_handoff_event(transition, current, client.actor, payload)], result=view)

        try:
            outcome = self._instances.advance(
                row["instance_id"], apply, actor=client.actor, finished_too=True
            )
        except DuplicateKey:
            if idempotency_key:
                replay = earlier_answer(self._database, client, scope, idempotency_key, request_sha256)
                if replay is not None:
                    return replay
            raise
        return outcome.result

    def supply_information(self, referral_id: str, answer: dict, client: Client) -> dict:
        """The referrer answers the open information request(s) of a referral."""
        body = _checked_body(SUPPLY_INFORMATION, {"answer": answer})
        instance_id = self._instance_of_referral_for(referral_id, client)

        def apply(workflow, conn) -> Change:
            waiting = [
                h for h in handoff_store.handoffs_of_instance(conn, instance_id) if h["status"] == "on-hold"
            ]
            if not waiting:
                raise Conflict(f"referral {referral_id} has no outstanding information request")
            events = []
            for current in waiting:
                changed = self._transition(conn, current, SUPPLY_INFORMATION, body, client.actor)
                payload = _message_payload(changed, SUPPLY_INFORMATION, body)
                self._notify_pathway(workflow, SUPPLY_INFORMATION.message, payload)
                events.append(_handoff_event(SUPPLY_INFORMATION, current, client.actor, payload))
            return Change(events=events)

        self._instances.advance(instance_id, apply, actor=client.actor, finished_too=True)
        return self._handoffs_of(instance_id)

    def cancel(self, referral_id: str, reason: str, client: Client) -> None:
        """The referrer withdraws a referral: open hand-offs are cancelled and the pathway is told (or
        cancelled itself if it does not wait for ``referral.cancelled``)."""
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("say why the referral is cancelled ('reason')")
        instance_id = self._instance_of_referral_for(referral_id, client)

        def apply(workflow, conn) -> Change:
            current = handoff_store.handoffs_of_instance(conn, instance_id)
            started = [h for h in current if h["status"] in ("in-progress", "completed")]
            if started:
                raise Conflict(
                    f"referral {referral_id} cannot be cancelled: {started[0]['to_service']} has "
                    f"already {'started' if started[0]['status'] == 'in-progress' else 'completed'} it"
                )
            if workflow is None:
                raise Conflict(f"referral {referral_id} has already finished")
            for handoff in current:
                if handoff["status"] in CANCELLABLE:
                    self._transition(conn, handoff, _CANCEL, {"reason": reason}, client.actor)
            referral_store.set_referral_cancelled(conn, referral_id, clock.now(), reason)
            event = {
                "kind": "cancelled",
                "actor": client.actor,
                "at": clock.now(),
                "task_id": None,
                "task_name": None,
                "detail": {"reason": reason},
            }
            waits_for_cancel = self._notify_pathway(workflow, "referral.cancelled", {"reason": reason})
            return Change(events=[event], cancel=not waits_for_cancel)

        self._instances.advance(instance_id, apply, actor=client.actor, finished_too=True)

    # ---- internals ---------------------------------------------------------------------------------------

    def _handoffs_of(self, instance_id: str) -> list[dict]:
        with self._database.read() as conn:
            return [handoff_view(h) for h in handoff_store.handoffs_of_instance(conn, instance_id)]

    def _instance_of_referral_for(self, referral_id: str, client: Client) -> str:
        with self._database.read() as conn:
            referral = referral_store.referral_overview(conn, referral_id=referral_id)
        if referral is None or not sees_referral(client, referral):
            raise NotFound(f"no referral with id {referral_id}")
        return referral["instance_id"]

    @staticmethod
    def _handoff_and_service(conn, handoff_id: str):
        """The hand-off and the name and organisation of the service it is routed to (None if unknown)."""
        row = handoff_store.handoff_with_service(conn, handoff_id)
        if row is None:
            raise NotFound(f"no hand-off with id {handoff_id}")
        if row["service_id"] is None:
            return row, None
        return row, {"name": row["service_name"], "organisation": row["service_organisation"]}

    @staticmethod
    def _locked_current(conn, handoff_id: str, if_match: str | None):
        # The instance row is locked already: every change to this referral's hand-offs waits for it.
        current = handoff_store.handoff(conn, handoff_id)
        if if_match is not None and if_match.strip() not in (etag(current), "*"):
            raise PreconditionFailed(
                f"If-Match {if_match} does not match the hand-off's current ETag "
                f"{etag(current)}: read it again and retry"
            )
        return current

    @staticmethod
    def _transfer_target(conn, current, target_id):
        target = service_store.service(conn, target_id)
        problem = _routing_problem(target, target_id, current["referral_type"])
        if problem:
            raise InvalidInput(f"cannot transfer to {problem}")
        if target_id == current["to_service"]:
            raise InvalidInput("cannot transfer a hand-off to the service that already holds it")
        return target

    @staticmethod
    def _transition(conn, current, transition: Transition, body: dict, actor: str) -> dict:
        now = clock.now()
        values = {column: body[name] for name, column in transition.fields.items() if name in body}
        values.update(_consequences(current, transition, body))
        values["updated_at"] = now
        if not handoff_store.update_handoff(conn, current["id"], current["version"], values):
            raise Conflict(f"hand-off {current['id']} changed while this request was made; read it and retry")
        changed = {**current, **values, "version": current["version"] + 1}
        _log_transition(
            conn,
            changed,
            transition.action,
            current["status"],
            actor,
            now,
            body or None,
            event=transition.message.split(".", 1)[1],
        )
        return changed

    @staticmethod
    def _route_again(conn, current, target, reason: str, actor: str) -> str:
        now = clock.now()
        new_id = str(uuid.uuid4())
        handoff = {
            "id": new_id,
            "instance_id": current["instance_id"],
            "element_id": current["element_id"],
            "from_service": current["from_service"],  # ownership still returns to the original sender
            "to_service": target["id"],
            "referral_type": current["referral_type"],
            "status": "requested",
            "owner": target["id"],
            "reason": reason,
            "payload": current["payload"],
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        handoff_store.insert_handoff(conn, handoff)
        _log_transition(
            conn,
            handoff,
            "route",
            None,
            actor,
            now,
            {"transferred_from": current["id"]},
            event="requested",
            new=True,
        )
        return new_id

    def _notify_pathway(self, workflow, message: str, payload: dict) -> bool:
        """Deliver ``message`` if the pathway waits for it; a pathway that does not care is not an error."""
        if workflow is None:
            return False
        return self._runtime.deliver_message(workflow, message, payload) > 0


_CANCEL = Transition(
    "cancel", CANCELLABLE, "cancelled", "referral.cancelled", fields={"reason": "status_reason"}
)


def _log_transition(
    conn, handoff, action, from_status, actor, at, detail, *, event: str, new: bool = False
) -> None:
    """Record a transition of ``handoff`` (as it is after it) and let its OLA clocks react to the event,
    in the same transaction. ``new``: the hand-off was made in this transaction (so it has no clocks)."""
    handoff_store.insert_transition(
        conn,
        {
            "handoff_id": handoff["id"],
            "action": action,
            "from_status": from_status,
            "to_status": handoff["status"],
            "actor": actor,
            "at": at,
            "detail": detail,
        },
    )
    obligation_clocks.on_handoff_event(conn, handoff, event, at, new=new)


def _consequences(current, transition: Transition, body: dict) -> dict:
    """Status, owner and businessStatus after ``transition``."""
    values: dict = {}
    if transition.to is not None:
        values["status"] = transition.to
    action = transition.action
    if action == "reject":
        # As in BaRS: a rejection hands the referral back to whoever sent it.
        values["owner"] = current["from_service"] or POINT_OF_ACCESS
        values["business_status"] = "rejected: ownership returned to the sender"
    elif action == "request-information":
        values["owner"] = REFERRER
        values["status_before_hold"] = current["status"]
        values["business_status"] = "waiting for information from the referrer"
    elif action == "supply-information":
        values["status"] = current["status_before_hold"] or "received"
        values["owner"] = current["to_service"]
        values["status_before_hold"] = None
        values["business_status"] = "information supplied"
    elif action in ("accept", "schedule") and body.get("window"):
        values["business_status"] = f"visit booked {body['window']}"
    elif action == "start":
        values["business_status"] = "in progress"
    elif action == "complete":
        values["business_status"] = "completed"
    elif action == "transfer":
        values["business_status"] = f"transferred to {body['to_service']}"
    elif action == "cancel":
        values["business_status"] = "cancelled by the referrer"
    return values


def _checked_body(transition: Transition, body: dict) -> dict:
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    allowed = set(transition.required) | set(transition.optional)
    unknown = set(body) - allowed
    if unknown:
        takes = ", ".join(sorted(allowed)) or "no fields"
        raise InvalidInput(f"'{transition.action}' takes {takes}; unknown: {', '.join(sorted(unknown))}")
    for name in transition.required:
        value = body.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise InvalidInput(f"'{transition.action}' needs '{name}'")
    return {k: v for k, v in body.items() if v is not None}


def _check_allowed(transition: Transition, current) -> None:
    if current["status"] not in transition.allowed_from:
        possible = [a for a, t in SERVICE_TRANSITIONS.items() if current["status"] in t.allowed_from]
        raise IllegalTransition(
            f"cannot {transition.action} a hand-off that is {current['status']}; allowed now: "
            f"{', '.join(possible) or 'nothing (it is closed)'}",
            allowed=possible,
        )


def _check_acts_for(client: Client, service) -> None:
    if service is None or service["organisation"] != client.organisation:
        raise NotAllowed(
            f"this client acts for {client.organisation}; the hand-off belongs to "
            f"{service['name'] if service else 'another service'} of another organisation"
        )


def _message_payload(changed: dict, transition: Transition, body: dict) -> dict:
    payload = {"handoff_id": changed["id"], "service": changed["to_service"], "status": changed["status"]}
    payload.update(body)
    return payload


def _handoff_event(transition: Transition, current, actor: str, payload: dict) -> dict:
    return {
        "kind": transition.message.replace(".", "_"),
        "actor": actor,
        "at": clock.now(),
        "task_id": None,
        "task_name": None,
        "detail": {**payload, "from_status": current["status"]},
    }


def etag(row) -> str:
    return f'"{row["id"]}.{row["version"]}"'


def handoff_view(row) -> dict:
    return {
        "id": row["id"],
        "referral_id": row.get("referral_id"),
        "from_service": row["from_service"],
        "to_service": row["to_service"],
        "referral_type": row["referral_type"],
        "status": row["status"],
        "business_status": row["business_status"],
        "owner": row["owner"],
        "reason": row["reason"],
        "status_reason": row["status_reason"],
        "question": row["question"],
        "answer": row["answer"],
        "window": row["window"],
        "outcome": row["outcome"],
        "payload": row["payload"],
        "version": row["version"],
        "etag": etag(row),
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }
