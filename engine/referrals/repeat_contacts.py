"""Repeat contacts: a contact about a person who already has an open referral, matched to it, recorded on it.

Someone phones a point of access about a person ("where's my nurse?", 002:893). The repeat contact pathway
(processes/repeat_contact.bpmn) runs as the contact's own referral and reaches the engine through two
operations, as every pathway reaches it (service tasks, engine/bpmn/operations.py):

    signpost.match_open_referral   reads (``Operation.reads``) the person's open referrals at every point of
                                   access and answers with the one to weigh the contact against: the newest
                                   on one of ``prefer_pathways``, else the newest of all. The person is the
                                   contact referral's own subject, an NHS number checked (modulus 11) when it
                                   started — never a number the pathway names, so pathway code cannot ask
                                   about anyone else.
    signpost.attach_contact        records the contact on the open referral the pathway names by its
                                   reference, in the transaction of the step that asked (the routes stage of
                                   the step pipeline); the referral must be an open referral of that same
                                   person, or the step fails on the task.

What the pathway, and so the caller, learns of a referral another organisation may hold is what its referrer
reads, less anything written in free text: its reference, pathway, when it was made and its age, its status
without questions, reasons, outcomes or the pathway's own words (``views.caller_status``) and who holds it.
Never its data, the hand-offs' payloads or its tasks. The referral's own timeline and view show the contact
with what the caller was told, not where it was taken. Each contact recorded keeps the organisation pair that
held the referral at that moment: the OLA report counts them per pair as failure demand.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from engine.bpmn import Operation, ServiceCall
from engine.errors import InvalidInput, StepFailed
from engine.pathways.events import ENGINE_ACTOR, instance_event
from engine.pathways.pipeline import StepContext
from engine.referrals.nhs_number import validate_nhs_number
from engine.referrals.views import caller_status
from engine.routing.transitions import OPEN
from engine.store import handoffs as handoff_store
from engine.store import instances as instance_store
from engine.store import referrals as referral_store
from engine.store import repeat_contacts as repeat_contact_store
from engine.store import services as service_store
from engine.store.db import Connection, note_change

MATCH_OPERATION = "signpost.match_open_referral"
ATTACH_OPERATION = "signpost.attach_contact"
SECONDS_A_DAY = 86_400


def _answer_match(params: dict, step: StepContext | None) -> dict:
    if step is None:
        raise InvalidInput(f"'{MATCH_OPERATION}' matches a referral's contact: it runs only in a referral")
    prefer = params.get("prefer_pathways") or []
    if not isinstance(prefer, list) or not all(isinstance(p, str) for p in prefer):
        raise InvalidInput(f"parameter 'prefer_pathways' must give a list of pathway keys, got {prefer!r}")
    subject = contact_subject(step.conn, step.instance_id)
    if subject is None:
        return _no_match("no NHS number")
    try:
        subject = validate_nhs_number(subject)
    except InvalidInput:
        return _no_match("invalid NHS number")
    found = repeat_contact_store.open_referrals_of_person(
        step.conn, subject, besides_instance=step.instance_id
    )
    if not found:
        return _no_match("no open referral")
    chosen = next((r for r in found if r["pathway_key"] in prefer), found[0])
    overview = referral_store.referral_overview(step.conn, referral_id=chosen["id"])
    status, held_by = caller_status(step.conn, overview)
    # Its status was read for a caller: the audit record of this change names the referral.
    note_change(step.conn, "referral", chosen["id"])
    return {
        "matched": True,
        "reason": "open referral",
        "open_referrals": len(found),
        "open_referral": {
            "reference": chosen["reference"],
            "pathway": chosen["pathway_key"],
            "opened_at": chosen["created_at"].isoformat(),
            "age_days": int((step.now - chosen["created_at"]).total_seconds() // SECONDS_A_DAY),
            "status": status,
            "held_by": held_by,
        },
    }


def _no_match(reason: str) -> dict:
    return {"matched": False, "reason": reason, "open_referrals": 0, "open_referral": None}


MATCH = Operation(
    name=MATCH_OPERATION,
    required=frozenset(),
    optional=frozenset({"prefer_pathways"}),
    answer=_answer_match,
    reads=True,
)


def _answer_attach(params: dict) -> dict:
    reference = params.get("reference")
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidInput(
            f"parameter 'reference' must give the open referral's reference, got {reference!r}"
        )
    return {"reference": reference.strip()}


ATTACH = Operation(
    name=ATTACH_OPERATION, required=frozenset({"reference"}), optional=frozenset(), answer=_answer_attach
)
OPERATIONS = {MATCH.name: MATCH, ATTACH.name: ATTACH}


def contact_subject(conn: Connection, instance_id: str) -> str | None:
    """The NHS number the contact whose instance this is is about: its referral's subject. While that referral
    is being made — the pathway's first run, inside the transaction that starts it, before the referral row
    is written — it is the number the engine put in the start data, which the instance row holds until that
    run is saved (``lock_version`` 0). Never the instance's data after that: the pathway may change it."""
    referral = referral_store.referral_overview(conn, instance_id=instance_id)
    if referral is not None:
        return referral["subject"]
    instance = instance_store.instance(conn, instance_id)
    if instance is None or instance["lock_version"] != 0:
        return None
    return json.loads(instance["data"]).get("subject_nhs_number")


def record_contacts(
    conn: Connection, instance_id: str, calls: list[ServiceCall], now: datetime
) -> list[dict]:
    """The step pipeline's stage for ``signpost.attach_contact``: each call records the contact on the open
    referral it names, once; StepFailed names the task when that is no open referral of the same person."""
    events = []
    for call in calls:
        if call.operation != ATTACH_OPERATION:
            continue
        reference = call.result["reference"]
        subject = contact_subject(conn, instance_id)
        candidates = (
            []
            if subject is None
            else repeat_contact_store.open_referrals_of_person(conn, subject, besides_instance=instance_id)
        )
        found = next((r for r in candidates if r["reference"] == reference), None)
        if found is None:
            raise StepFailed(
                f"task '{call.task_name}' cannot attach the contact to {reference}: it is not an open "
                "referral of the person the contact is about",
                element_id=call.element_id,
                task_name=call.task_name,
            )
        if repeat_contact_store.is_recorded(conn, found["id"], instance_id):
            continue
        overview = referral_store.referral_overview(conn, referral_id=found["id"])
        answer, _held_by = caller_status(conn, overview)
        service, from_organisation, to_organisation = _holder(conn, overview)
        repeat_contact_store.insert_repeat_contact(
            conn,
            {
                "id": str(uuid.uuid4()),
                "referral_id": found["id"],
                "contact_instance_id": instance_id,
                "answer": answer,
                "held_by_service": service,
                "from_organisation": from_organisation,
                "to_organisation": to_organisation,
                "recorded_at": now,
            },
        )
        events.append(
            instance_event(
                "repeat_contact_recorded",
                ENGINE_ACTOR,
                now,
                task_name=call.task_name,
                detail={"reference": reference},
            )
        )
    return events


def _holder(conn: Connection, referral) -> tuple[str | None, str | None, str]:
    """(service, from organisation, to organisation) holding ``referral`` now: its latest open hand-off's,
    as an OLA clock of that hand-off would name them (from None: the referrer); before any hand-off is open,
    its point of access, from the referrer."""
    open_handoffs = [
        h for h in handoff_store.handoffs_of_instance(conn, referral["instance_id"]) if h["status"] in OPEN
    ]
    if not open_handoffs:
        return referral["point_of_access"], None, referral["operated_by"]
    latest = open_handoffs[-1]
    ends = service_store.services_by_id(
        conn, [s for s in (latest["to_service"], latest["from_service"]) if s]
    )
    sender = ends.get(latest["from_service"]) if latest["from_service"] else None
    return (
        latest["to_service"],
        sender["organisation"] if sender else None,
        ends[latest["to_service"]]["organisation"],
    )
