"""The lifecycle of a hand-off (a FHIR Task): which action is allowed from which status, and what it changes.

    requested ─acknowledge→ received ─accept→ accepted ─start→ in-progress ─complete→ completed
        │                      │                 │
        ├──────── reject ──────┴→ rejected       ├─ schedule (stays accepted / in-progress; businessStatus)
        ├── request-information → on-hold ─(referrer supplies information)→ back where it was
        ├── transfer → cancelled (and a new hand-off to the other service, requested)
        └── (referrer cancels the referral) → cancelled

Each action reaches the pathway as the BPMN message ``handoff.<event>`` (``Transition.message``), so that
designers model what happens next in the diagram. Nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.errors import IllegalTransition, InvalidInput

# Who cancelled a referral, as its status and timeline say it.
CANCELLED_BY_REFERRER = "the referrer"
CANCELLED_BY_POINT_OF_ACCESS = "the point of access"
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
CANCEL = Transition(
    "cancel", CANCELLABLE, "cancelled", "referral.cancelled", fields={"reason": "status_reason"}
)


def consequences(current, transition: Transition, body: dict) -> dict:
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


def checked_body(transition: Transition, body: dict) -> dict:
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


def check_allowed(transition: Transition, current) -> None:
    if current["status"] not in transition.allowed_from:
        possible = [a for a, t in SERVICE_TRANSITIONS.items() if current["status"] in t.allowed_from]
        raise IllegalTransition(
            f"cannot {transition.action} a hand-off that is {current['status']}; allowed now: "
            f"{', '.join(possible) or 'nothing (it is closed)'}",
            allowed=possible,
        )
