"""Read-only FHIR R4 views at the edge: a referral is a ``ServiceRequest``, each hand-off a ``Task``.

Resources are built as plain JSON-ready dicts from what the store holds, for the same readers and with the
same visibility as the rest of the engine:

- a client sees the referrals its organisation submitted, and an operator those its point of access works
  on, with all their hand-offs (``engine.access``); anything else reads as absent (``NotFound``), because
  whether a referral exists is itself information another organisation may not have;
- a client also sees the hand-offs routed to its organisation's services (as in ``Handoffs.get``), and the
  referral such a hand-off focuses on. Another organisation's hand-off is refused with ``NotAllowed``,
  the answer ``GET /api/v1/handoffs/{id}`` gives for the same id.

Only what a reader needs is carried: the person is named by NHS number alone, never by name.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from engine.errors import NotAllowed, NotFound
from engine.governance.access import sees_referral
from engine.governance.clients import Client
from engine.referrals.nhs_number import VERIFICATION_CODES
from engine.referrals.views import referral_view
from engine.routing.handoffs import services_named_by
from engine.routing.transitions import OPEN
from engine.store import handoffs as handoff_store
from engine.store import olas as ola_store
from engine.store import referrals as referral_store
from engine.store import services as service_store
from engine.store.db import Database

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
VERIFICATION_EXTENSION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
VERIFICATION_CODE_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
REFERENCE_SYSTEM = "https://signpost.invalid/referral-reference"
PATHWAY_SYSTEM = "https://signpost.invalid/pathway"
REFERRAL_TYPE_SYSTEM = "https://signpost.invalid/referral-type"
SERVICE_SYSTEM = "https://signpost.invalid/service"
ORGANISATION_SYSTEM = "https://signpost.invalid/organisation"
TASK_PARAMETER_SYSTEM = "https://signpost.invalid/task-parameter"
PAYLOAD_SYSTEM = "https://signpost.invalid/handoff-payload"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

# Hand-off statuses are FHIR Task statuses already (engine/handoffs.py); the map makes that a checked fact.
TASK_STATUS = {
    status: status
    for status in (
        "requested",
        "received",
        "accepted",
        "rejected",
        "in-progress",
        "completed",
        "cancelled",
        "on-hold",
        "failed",
    )
}
# Instance statuses: waiting and incident are both still open (an incident is a delay, not an outcome).
SERVICE_REQUEST_STATUS = {"waiting": "active", "incident": "active", "completed": "completed"}
# The hand-off owner meaning "back with the point of access" (engine.handoffs.POINT_OF_ACCESS) or unset.
POINT_OF_ACCESS_OWNERS = (None, "point-of-access")
# FHIR integer is a signed 32-bit value; larger whole numbers in a payload travel as text.
FHIR_INTEGER_MIN, FHIR_INTEGER_MAX = -(2**31), 2**31 - 1


class FhirViews:
    def __init__(self, database: Database):
        self._database = database

    def service_request(self, referral_id: str, viewer: Client) -> dict:
        with self._database.read() as conn:
            referral = referral_store.referral_overview(conn, referral_id=referral_id)
            if referral is None:
                raise NotFound(f"no ServiceRequest with id {referral_id}")
            handoffs = handoff_store.handoffs_of_instance(conn, referral["instance_id"])
            services = service_store.services_by_id(conn, {h["to_service"] for h in handoffs})
            # A service reads the referral while it holds an open hand-off of it; once that is rejected,
            # transferred or done, only the hand-off's own Task stays readable to it.
            if not sees_referral(viewer, referral) and not any(
                h["status"] in OPEN and _acts_for(viewer, services.get(h["to_service"])) for h in handoffs
            ):
                raise NotFound(f"no ServiceRequest with id {referral_id}")
            view = referral_view(conn, referral)
        return _service_request(referral, handoffs, view)

    def task(self, handoff_id: str, viewer: Client) -> dict:
        with self._database.read() as conn:
            handoff = handoff_store.handoff(conn, handoff_id)
            if handoff is None:
                raise NotFound(f"no Task with id {handoff_id}")
            referral = (
                referral_store.referral(conn, handoff["referral_id"]) if handoff["referral_id"] else None
            )
            services = service_store.services_by_id(conn, services_named_by([handoff]))
            target = services.get(handoff["to_service"])
            if not (referral is not None and sees_referral(viewer, referral)) and not _acts_for(
                viewer, target
            ):
                if "service" in viewer.roles:
                    raise NotAllowed(
                        f"this client acts for {viewer.organisation}; the Task was routed to a service of "
                        "another organisation"
                    )
                raise NotFound(f"no Task with id {handoff_id}")
            clocks = ola_store.clocks_of_handoff(conn, handoff_id)
        return _task(handoff, referral, services, clocks)

    def tasks_focused_on(self, referral_id: str, viewer: Client, fhir_base: str) -> dict:
        """A searchset Bundle of the referral's hand-offs that ``viewer`` may see: all of them for whoever
        sees the referral, those routed to its organisation's services for anyone else, none when the
        referral does not exist (a search answers what matched, so it never reveals existence)."""
        with self._database.read() as conn:
            referral = referral_store.referral(conn, referral_id)
            handoffs = handoff_store.handoffs_of_instance(conn, referral["instance_id"]) if referral else []
            services = service_store.services_by_id(conn, services_named_by(handoffs))
            clocks = ola_store.clocks_of_instance(conn, referral["instance_id"]) if referral else []
        if referral is not None and not sees_referral(viewer, referral):
            handoffs = [h for h in handoffs if _acts_for(viewer, services.get(h["to_service"]))]
        tasks = [
            _task(h, referral, services, [c for c in clocks if c["handoff_id"] == h["id"]]) for h in handoffs
        ]
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(tasks),
            "link": [{"relation": "self", "url": f"{fhir_base}/Task?focus=ServiceRequest/{referral_id}"}],
        }
        if tasks:
            bundle["entry"] = [
                {"fullUrl": f"{fhir_base}/Task/{task['id']}", "resource": task, "search": {"mode": "match"}}
                for task in tasks
            ]
        return bundle


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict:
    """An OperationOutcome with one issue; ``code`` is from the FHIR IssueType value set."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def service_request_status(referral, handoffs) -> str:
    """The FHIR RequestStatus of a referral (a row of ``referral_store.referral_overview``)."""
    if referral["status"] == "cancelled" or referral["cancelled_at"] is not None:
        return "revoked"
    if referral["status"] == "completed":
        return "completed"
    if any(h["status"] == "on-hold" for h in handoffs):
        return "on-hold"
    return SERVICE_REQUEST_STATUS[referral["status"]]


def task_due_by(clocks) -> datetime | None:
    """When the receiving service's next open obligation on this hand-off falls due (its OLA clocks):
    ``Task.restriction.period.end``. None while nothing is owed by the receiver or its clocks are paused."""
    due = [
        c["due_at"]
        for c in clocks
        if c["party"] == "receiver"
        and c["stopped_at"] is None
        and c["state"] in ("running", "breached")
        and c["due_at"] is not None
    ]
    return min(due, default=None)


# ---- building resources -------------------------------------------------------------------------------


def _service_request(referral, handoffs, view: dict) -> dict:
    resource = {
        "resourceType": "ServiceRequest",
        "id": referral["id"],
        "meta": {"lastUpdated": _instant(referral["updated_at"])},
        "identifier": [{"system": REFERENCE_SYSTEM, "value": referral["reference"]}],
        "status": service_request_status(referral, handoffs),
        "intent": "order",
        "code": {
            "coding": [{"system": PATHWAY_SYSTEM, "code": referral["definition_key"]}],
            "text": f"{referral['definition_key']} version {referral['version_number']}",
        },
        "subject": _patient(referral),
        "authoredOn": _instant(referral["created_at"]),
        "requester": _referrer(referral),
        "note": [{"text": view["status_text"]}],
    }
    referral_types = sorted({h["referral_type"] for h in handoffs})
    if referral_types:
        resource["category"] = [
            {"coding": [{"system": REFERRAL_TYPE_SYSTEM, "code": t}], "text": t} for t in referral_types
        ]
    if referral["cancel_reason"]:
        resource["note"].append({"text": f"{view['status_text']}: {referral['cancel_reason']}"})
    return resource


def _task(handoff, referral, services, clocks) -> dict:
    status = TASK_STATUS[handoff["status"]]
    resource: dict = {
        "resourceType": "Task",
        "id": handoff["id"],
        "meta": {"versionId": str(handoff["version"]), "lastUpdated": _instant(handoff["updated_at"])},
        "status": status,
        "intent": "order",
        "code": {
            "coding": [{"system": REFERRAL_TYPE_SYSTEM, "code": handoff["referral_type"]}],
            "text": handoff["referral_type"],
        },
        "authoredOn": _instant(handoff["created_at"]),
        "lastModified": _instant(handoff["updated_at"]),
    }
    if handoff["business_status"]:
        resource["businessStatus"] = {"text": handoff["business_status"]}
    if handoff["reason"]:
        resource["reasonCode"] = {"text": handoff["reason"]}
    if handoff["status_reason"] and status in ("rejected", "cancelled"):
        resource["statusReason"] = {"text": handoff["status_reason"]}
    if handoff["referral_id"]:
        resource["focus"] = {"reference": f"ServiceRequest/{handoff['referral_id']}"}
    if referral is not None and referral["subject"]:
        resource["for"] = _patient(referral)
    if handoff["from_service"]:
        resource["requester"] = _service_organisation(handoff["from_service"], services)
    elif referral is not None:
        resource["requester"] = _referrer(referral)
    resource["owner"] = _owner(handoff, referral, services)
    due_by = task_due_by(clocks)
    if due_by is not None:
        resource["restriction"] = {"period": {"end": _instant(due_by)}}
    inputs = [_parameter(PAYLOAD_SYSTEM, key, value) for key, value in (handoff["payload"] or {}).items()]
    if handoff["answer"] is not None:
        inputs.append(_parameter(TASK_PARAMETER_SYSTEM, "answer", handoff["answer"]))
    outputs = [
        _parameter(TASK_PARAMETER_SYSTEM, name, handoff[name])
        for name in ("question", "window", "outcome")
        if handoff[name] is not None
    ]
    resource["input"] = [i for i in inputs if i is not None]
    resource["output"] = outputs
    # FHIR has no empty arrays: an element is either present with content or absent.
    return {key: value for key, value in resource.items() if value != []}


def _patient(referral) -> dict:
    nhs_number = referral["subject"]
    if nhs_number is None:
        # ServiceRequest.subject is mandatory; a referral may arrive before the person is identified.
        return {"type": "Patient", "extension": [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"}]}
    identifier = {"system": NHS_NUMBER_SYSTEM, "value": nhs_number}
    status = referral["subject_verification"]
    if status is not None:
        identifier["extension"] = [
            {
                "url": VERIFICATION_EXTENSION,
                "valueCodeableConcept": {
                    "coding": [{"system": VERIFICATION_CODE_SYSTEM, "code": VERIFICATION_CODES[status]}],
                    "text": status,
                },
            }
        ]
    return {"type": "Patient", "identifier": identifier}


def _referrer(referral) -> dict:
    return {
        "type": "Organization",
        "identifier": {"system": ORGANISATION_SYSTEM, "value": referral["referrer_organisation"]},
        "display": referral["referrer"],
    }


def _service_organisation(service_id: str, services) -> dict:
    """A service as a Task.requester, which cannot be a HealthcareService: its organisation, named by it."""
    service = services.get(service_id)
    if service is None:
        return {"display": service_id}
    return {
        "type": "Organization",
        "identifier": {"system": ORGANISATION_SYSTEM, "value": service["organisation"]},
        "display": service["name"],
    }


def _owner(handoff, referral, services) -> dict:
    owner = handoff["owner"]
    if owner == "referrer" and referral is not None:
        return {**_referrer(referral), "display": f"referrer {referral['referrer']}"}
    if owner in POINT_OF_ACCESS_OWNERS:
        return {"display": "the point of access"}
    service = services.get(owner)
    return {
        "type": "HealthcareService",
        "identifier": {"system": SERVICE_SYSTEM, "value": owner},
        "display": service["name"] if service is not None else owner,
    }


def _parameter(system: str, name: str, value) -> dict | None:
    if value is None:
        return None
    parameter = {"type": {"coding": [{"system": system, "code": name}], "text": name}}
    if isinstance(value, bool):
        parameter["valueBoolean"] = value
    elif isinstance(value, int) and FHIR_INTEGER_MIN <= value <= FHIR_INTEGER_MAX:
        parameter["valueInteger"] = value
    elif isinstance(value, float):
        parameter["valueDecimal"] = value
    elif isinstance(value, str):
        parameter["valueString"] = value
    else:
        parameter["valueString"] = json.dumps(value, sort_keys=True)
    return parameter


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _acts_for(viewer: Client, service) -> bool:
    """Whether ``viewer`` may read a hand-off routed to ``service`` (the rule of ``Handoffs.get``)."""
    return (
        "service" in viewer.roles and service is not None and service["organisation"] == viewer.organisation
    )
