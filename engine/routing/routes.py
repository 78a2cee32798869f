"""Routing: the ``signpost.route`` and ``signpost.close_handoffs`` operations that pathways call.

A routing service task asks for a hand-off to a service of the directory; the routes stage of the step
pipeline (``engine.pathways.pipeline``) turns each such call into a requested hand-off in the service's
queue, in the step's transaction, and its first transition starts the hand-off's OLA clocks. A transfer
makes a new hand-off the same way (``open_handoff``). The optional ``calendar`` parameter names the calendar
the receiver's clocks of that hand-off run on instead of the service's own (a blueprint variant's local
agreement, e.g. ``local["duty_team_calendar"]``); an obligation whose OLA term names a calendar keeps it.

A ``signpost.close_handoffs`` service task closes every hand-off of the referral that is still open
(requested, received, accepted, in-progress or on-hold), whoever holds it: the pathway's own way to stand the
services down when the referral can go no further (the person died, the need went away). Each becomes
``cancelled`` with the task's ``reason``, and its clocks that have not stopped are cancelled with it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from engine.bpmn import Operation, ServiceCall
from engine.errors import InvalidInput, StepFailed
from engine.olas import obligation_clocks
from engine.olas.calendars import CALENDARS
from engine.pathways.events import ENGINE_ACTOR, instance_event
from engine.routing.transitions import OPEN
from engine.store import handoffs as handoff_store
from engine.store import services as service_store
from engine.store.db import Connection

ROUTE_OPERATION = "signpost.route"
CLOSE_OPERATION = "signpost.close_handoffs"


def _answer_route(params: dict) -> dict:
    service, referral_type = params.get("service"), params.get("referral_type")
    for name, value in (("service", service), ("referral_type", referral_type)):
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"routing parameter '{name}' must give a non-empty string, got {value!r}")
    payload = params.get("payload")
    if payload is not None and not isinstance(payload, dict):
        raise InvalidInput(f"routing parameter 'payload' must give a dict, got {type(payload).__name__}")
    calendar = params.get("calendar")
    if calendar is not None and calendar not in CALENDARS:
        raise InvalidInput(
            f"routing parameter 'calendar' must name one of the calendars {', '.join(CALENDARS)}, "
            f"got {calendar!r}"
        )
    return {
        "id": str(uuid.uuid4()),
        "to_service": service,
        "referral_type": referral_type,
        "status": "requested",
    }


ROUTE = Operation(
    name=ROUTE_OPERATION,
    required=frozenset({"service", "referral_type"}),
    optional=frozenset({"reason", "payload", "from_service", "calendar"}),
    answer=_answer_route,
)


def _answer_close(params: dict) -> dict:
    reason = params.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput(f"parameter 'reason' must give a non-empty string, got {reason!r}")
    return {"reason": reason.strip()}


CLOSE = Operation(
    name=CLOSE_OPERATION, required=frozenset({"reason"}), optional=frozenset(), answer=_answer_close
)
OPERATIONS = {ROUTE.name: ROUTE, CLOSE.name: CLOSE}


def record_routes(conn: Connection, instance_id: str, calls: list[ServiceCall], now: datetime) -> list[dict]:
    """The routes stage of the step pipeline: a requested hand-off for each routing call of the run, every
    open hand-off closed for each closing call, in the order the run made them; StepFailed names the task
    whose target cannot take the referral."""
    events = []
    for call in calls:
        if call.operation == CLOSE_OPERATION:
            events.extend(close_open_handoffs(conn, instance_id, call, now))
            continue
        if call.operation != ROUTE_OPERATION:
            continue
        to_service = call.result["to_service"]
        # Both ends at once: the sender's entry is wanted later in this transaction too (its name, its
        # calendar), and the directory is read once per transaction.
        from_service = call.params.get("from_service")
        ends = service_store.services_by_id(
            conn, [to_service, from_service] if isinstance(from_service, str) else [to_service]
        )
        problem = routing_problem(ends.get(to_service), to_service, call.result["referral_type"])
        if problem:
            raise StepFailed(
                f"task '{call.task_name}' cannot route to {problem}",
                element_id=call.element_id,
                task_name=call.task_name,
            )
        handoff = new_handoff(
            id=call.result["id"],
            instance_id=instance_id,
            element_id=call.element_id,
            from_service=from_service,
            to_service=to_service,
            referral_type=call.result["referral_type"],
            reason=call.params.get("reason"),
            payload=call.params.get("payload") or {},
            at=now,
            calendar=call.params.get("calendar"),
        )
        open_handoff(conn, handoff, ENGINE_ACTOR, now, {"element_id": call.element_id})
        events.append(
            instance_event(
                "handoff_requested",
                ENGINE_ACTOR,
                now,
                task_name=call.task_name,
                detail={"handoff_id": handoff["id"], "to_service": to_service},
            )
        )
    return events


def close_open_handoffs(conn: Connection, instance_id: str, call: ServiceCall, now: datetime) -> list[dict]:
    """Cancel every open hand-off of the instance for a ``signpost.close_handoffs`` call."""
    reason = call.result["reason"]
    events = []
    for current in handoff_store.handoffs_of_instance(conn, instance_id):
        if current["status"] not in OPEN:
            continue
        values = {
            "status": "cancelled",
            "status_reason": reason,
            "business_status": "closed by the point of access",
            "updated_at": now,
        }
        if not handoff_store.update_handoff(conn, current["id"], current["version"], values):
            raise StepFailed(
                f"task '{call.task_name}' could not close hand-off {current['id']}: it changed meanwhile",
                element_id=call.element_id,
                task_name=call.task_name,
            )
        closed = {**current, **values, "version": current["version"] + 1}
        log_transition(
            conn, closed, "close", current["status"], ENGINE_ACTOR, now, {"reason": reason}, event="cancelled"
        )
        events.append(
            instance_event(
                "handoff_closed",
                ENGINE_ACTOR,
                now,
                task_name=call.task_name,
                detail={"handoff_id": current["id"], "to_service": current["to_service"], "reason": reason},
            )
        )
    return events


def new_handoff(
    *,
    instance_id: str,
    element_id: str | None,
    from_service: str | None,
    to_service: str,
    referral_type: str,
    reason: str | None,
    payload: dict,
    at: datetime,
    id: str | None = None,
    calendar: str | None = None,
) -> dict:
    """A hand-off as it is first stored: requested, owned by the service it is routed to; ``calendar``: the
    one its receiver's OLA clocks run on, when the pathway agreed one."""
    return {
        "id": id or str(uuid.uuid4()),
        "instance_id": instance_id,
        "element_id": element_id,
        "from_service": from_service,
        "to_service": to_service,
        "referral_type": referral_type,
        "status": "requested",
        "owner": to_service,
        "reason": reason,
        "payload": payload,
        "calendar": calendar,
        "version": 1,
        "created_at": at,
        "updated_at": at,
    }


def open_handoff(conn: Connection, handoff: dict, actor: str, at: datetime, detail: dict) -> None:
    """Store a new hand-off with its first transition (``route``), which starts its OLA clocks."""
    handoff_store.insert_handoff(conn, handoff)
    log_transition(conn, handoff, "route", None, actor, at, detail, event="requested", new=True)


def log_transition(
    conn: Connection, handoff, action, from_status, actor, at, detail, *, event: str, new: bool = False
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


def routing_problem(service, service_id: str, referral_type: str) -> str | None:
    """Why a '{referral_type}' referral cannot go to the service, as the end of "cannot route to …"."""
    if service is None:
        return f"unknown service '{service_id}'"
    if referral_type not in service["accepts"]:
        return (
            f"{service['name']} ({service_id}), which accepts only {', '.join(service['accepts'])} "
            f"referrals, not '{referral_type}'"
        )
    return None
