"""How a referral reads to the people who ask about it: one plain-language status, who holds it now, its
hand-offs and a timeline of what happened when."""

from __future__ import annotations

import json
from datetime import datetime

from engine import clock
from engine.olas.obligation_clocks import CalendarBook, clock_view
from engine.routing.handoffs import handoff_view, services_named_by
from engine.routing.transitions import CANCELLED_BY_REFERRER, OPEN
from engine.store import external_tasks as external_task_store
from engine.store import handoffs as handoff_store
from engine.store import instances as instance_store
from engine.store import olas as ola_store
from engine.store import repeat_contacts as repeat_contact_store
from engine.store import services as service_store

# A pathway sets this data field (e.g. in its sign-posting script) to tell the referrer, in its own words,
# where the referral stands when no service holds it.
PATHWAY_STATUS_FIELD = "status_for_referrer"
POINT_OF_ACCESS = "the point of access"
# Engine-internal events (each automated step) are in the event log, not in a referrer's timeline.
# A worker's failed attempt at an external task is retried by the engine: the referrer hears of the outcome.
NOT_IN_TIMELINE = ("step_completed", "task_claimed", "task_released", "retried", "external_task_failed")
# Who a repeat contact's timeline entry says acted: a point of access, unnamed (see ``timeline``).
REPEAT_CONTACT_ACTOR = "a point of access"
# A status a service wrote free text into (a question, a reason, an outcome), as a repeat contact is answered
# from it: without the text, which can be clinical (``caller_status``).
WITHOUT_FREE_TEXT = {
    "on-hold": "{name} has asked the referrer for more information",
    "rejected": "Declined by {name}; back with {owner}",
    "completed": "Completed by {name}; the point of access is finishing the referral",
}


def referral_view(conn, referral, now: datetime | None = None) -> dict:
    """``referral`` is a row of ``referral_store.referral_overview``; its OLA clocks are shown as they
    stand at ``now`` (the time of the change that asks, or this moment)."""
    instance_id = referral["instance_id"]
    waits = instance_store.waits_of(conn, instance_id)
    tasks = instance_store.open_tasks_of_instance(conn, instance_id)
    handoffs = handoff_store.handoffs_of_instance(conn, instance_id)
    names = service_store.service_names(conn, services_named_by(handoffs))
    status_text, owner = plain_status(
        referral, handoffs, names, has_open_tasks=bool(tasks), cancelled_by=_cancelled_by(conn, referral)
    )
    now = now or clock.now()
    book = CalendarBook(conn)
    return {
        "id": referral["id"],
        "reference": referral["reference"],
        "pathway": {"key": referral["definition_key"], "version": referral["version_number"]},
        # The variant of a blueprint pathway it runs (None: not a blueprint, or the blueprint's defaults).
        "variant": referral["variant"],
        "referrer": referral["referrer"],
        "referrer_organisation": referral["referrer_organisation"],
        "subject": referral["subject"],
        "subject_verification": referral["subject_verification"],
        "point_of_access": referral["point_of_access"],
        "channel": referral["channel"],
        "redacted_at": referral["redacted_at"].isoformat() if referral["redacted_at"] else None,
        "status": referral["status"],
        "status_text": status_text,
        "owner": owner,
        "incident": {"task": referral["incident_task"], "error": referral["incident_error"]}
        if referral["status"] == "incident"
        else None,
        "handoffs": [_handoff_summary(h, names) for h in handoffs],
        "clocks": [clock_view(book, c, names, now) for c in ola_store.clocks_of_instance(conn, instance_id)],
        "repeat_contacts": [
            {"at": c["recorded_at"].isoformat(), "answer": c["answer"]}
            for c in repeat_contact_store.contacts_of_referral(conn, referral["id"])
        ],
        "waiting_for": {
            "tasks": [task_view(t) for t in tasks],
            "messages": sorted({w["name"] for w in waits if w["kind"] == "message"}),
            "signals": sorted({w["name"] for w in waits if w["kind"] == "signal"}),
            "timers": [
                {"name": w["name"], "due_at": w["due_at"].isoformat()} for w in waits if w["kind"] == "timer"
            ],
            "external_tasks": [
                {k: t[k] for k in ("id", "topic", "element_id", "title", "status")}
                for t in external_task_store.open_tasks_of_instance(conn, instance_id)
            ],
        },
        "data": json.loads(referral["data"]),
        "created_at": referral["created_at"].isoformat(),
        "updated_at": referral["updated_at"].isoformat(),
        "completed_at": referral["completed_at"].isoformat() if referral["completed_at"] else None,
    }


def timeline(conn, referral) -> list[dict]:
    events = instance_store.events_of(conn, referral["instance_id"])
    handoffs = handoff_store.handoffs_of_instance(conn, referral["instance_id"])
    names = service_store.service_names(conn, services_named_by(handoffs))
    entries = [
        (
            e["at"],
            {"at": e["at"].isoformat(), "what": _describe(e, names), "kind": e["kind"], "by": e["actor"]},
        )
        for e in events
        if e["kind"] not in NOT_IN_TIMELINE
    ]
    # Contacts about the referral taken anywhere (engine/referrals/repeat_contacts.py): which point of access
    # took one is the caller's business, not the referral's, so the entry says only what they were told.
    entries += [
        (c["recorded_at"], _repeat_contact_entry(c))
        for c in repeat_contact_store.contacts_of_referral(conn, referral["id"])
    ]
    return [entry for _at, entry in sorted(entries, key=lambda pair: pair[0])]


def _repeat_contact_entry(contact) -> dict:
    return {
        "at": contact["recorded_at"].isoformat(),
        "what": f'Repeat contact: the caller was told "{contact["answer"]}"',
        "kind": "repeat_contact",
        "by": REPEAT_CONTACT_ACTOR,
    }


def plain_status(
    referral,
    handoffs,
    names: dict[str, str],
    *,
    has_open_tasks: bool,
    cancelled_by: str = CANCELLED_BY_REFERRER,
) -> tuple[str, str]:
    """(what a referrer reads, who holds the referral now)."""
    if referral["status"] == "cancelled" or referral["cancelled_at"] is not None:
        return f"Cancelled by {cancelled_by}", "nobody"
    if referral["status"] == "incident":
        return "Delayed: the point of access is sorting out a problem with this referral", POINT_OF_ACCESS
    live = [h for h in handoffs if not _transferred_away(h)]
    said_by_pathway = json.loads(referral["data"]).get(PATHWAY_STATUS_FIELD)
    if (
        isinstance(said_by_pathway, str)
        and said_by_pathway.strip()
        and not (live and live[-1]["status"] in OPEN)
    ):
        # While a service holds the referral its status speaks; otherwise the pathway's own words do.
        return said_by_pathway.strip(), POINT_OF_ACCESS if referral["status"] == "waiting" else "nobody"
    if not live:
        if referral["status"] == "completed":
            return "Closed by the point of access", "nobody"
        if has_open_tasks:
            return "Being reviewed by the point of access", POINT_OF_ACCESS
        return "Received and being triaged", POINT_OF_ACCESS
    latest = live[-1]
    name = names.get(latest["to_service"], latest["to_service"])
    owner = _owner(latest, names)
    booked = f" — visit booked {latest['window']}" if latest["window"] else ""
    text = {
        "requested": f"Sent to {name}, waiting for them to respond",
        "received": f"Received by {name}, waiting for their decision",
        "accepted": f"Accepted by {name}{booked}",
        "in-progress": f"{name} has started{booked}",
        "on-hold": f"{name} has asked the referrer for more information: {latest['question']}",
        "rejected": f"Declined by {name}: {latest['status_reason']}"
        + ("" if referral["status"] in ("completed", "cancelled") else f" — back with {owner}"),
        "completed": f"Completed by {name}: {latest['outcome']}",
        "cancelled": f"Cancelled with {name}",
        "failed": f"Could not be delivered to {name}; the point of access is following it up",
    }[latest["status"]]
    return text, owner if latest["status"] not in ("completed", "cancelled") else "nobody"


def caller_status(conn, referral) -> tuple[str, str]:
    """(what a repeat contact about ``referral`` is told, who holds it): its plain status as its referrer
    reads it, without the free text a service or its pathway wrote into it (a question, a reason, an outcome,
    the pathway's own words) — the caller may be at another organisation. ``referral`` is a row of
    ``referral_store.referral_overview``."""
    handoffs = handoff_store.handoffs_of_instance(conn, referral["instance_id"])
    names = service_store.service_names(conn, services_named_by(handoffs))
    has_open_tasks = bool(instance_store.open_tasks_of_instance(conn, referral["instance_id"]))
    text, owner = plain_status({**referral, "data": "{}"}, handoffs, names, has_open_tasks=has_open_tasks)
    live = [h for h in handoffs if not _transferred_away(h)]
    if referral["status"] == "waiting" and live and live[-1]["status"] in WITHOUT_FREE_TEXT:
        name = names.get(live[-1]["to_service"], live[-1]["to_service"])
        if live[-1]["status"] == "completed":
            owner = POINT_OF_ACCESS  # the service is done; the pathway has not finished yet
        text = WITHOUT_FREE_TEXT[live[-1]["status"]].format(name=name, owner=owner)
    return text, owner


def _transferred_away(handoff) -> bool:
    return handoff["status"] == "cancelled" and (handoff["business_status"] or "").startswith("transferred")


def _owner(handoff, names: dict[str, str]) -> str:
    if handoff["owner"] == "referrer":
        return "the referrer"
    if handoff["owner"] in (None, "point-of-access"):
        return POINT_OF_ACCESS
    return names.get(
        handoff["owner"], POINT_OF_ACCESS if handoff["status"] == "rejected" else handoff["owner"]
    )


def _handoff_summary(row, names: dict[str, str]) -> dict:
    return {**handoff_view(row), "to_service_name": names.get(row["to_service"])}


def _describe(event, names: dict[str, str]) -> str:
    detail = event["detail"] or {}
    service_id = detail.get("service") or detail.get("to_service")
    service = names.get(service_id, service_id or "the service")
    transferred_to = names.get(detail.get("to_service"), detail.get("to_service"))
    window = f", visit booked {detail['window']}" if detail.get("window") else ""
    kind = event["kind"]
    described = {
        "started": "Referral received",
        "completed": "Pathway finished",
        "cancelled": f"Cancelled by {canceller_of(detail)}: {detail.get('reason', '')}".rstrip(": "),
        "incident": "Delayed by a problem the point of access is sorting out",
        "timer_fired": f"Time limit reached: {detail.get('timer', 'timer')}",
        "task_completed": f"Point of access completed '{event['task_name']}'",
        "external_task_completed": f"'{event['task_name']}' done",
        "external_task_error": f"'{event['task_name']}' could not be done ({detail.get('code', 'error')})",
        "message_received": f"Update received: {detail.get('message', '')}",
        "handoff_requested": f"Sent to {service}",
        "handoff_acknowledged": f"Received by {service}",
        "handoff_accepted": f"Accepted by {service}{window}",
        "handoff_rejected": f"Declined by {service}: {detail.get('reason', '')}",
        "handoff_information_requested": f"{service} asked: {detail.get('question', '')}",
        "handoff_information_supplied": "The referrer supplied the information asked for",
        "handoff_scheduled": f"{service} booked a visit: {detail.get('window', '')}",
        "handoff_started": f"{service} started",
        "handoff_completed": f"Completed by {service}: {detail.get('outcome', '')}",
        "handoff_transferred": f"{service} transferred it to {transferred_to}: {detail.get('reason', '')}",
        "handoff_closed": f"Closed with {service} by the point of access: {detail.get('reason', '')}",
        "repeat_contact_recorded": f"Recorded on the open referral {detail.get('reference', '')}",
    }
    if kind in ("ola_warning", "ola_breached"):
        owed = service if detail.get("party") == "receiver" else "The referrer"
        deed = detail.get("obligation", "act").replace("-", " ")
        if kind == "ola_breached":
            return f"{owed} missed its time limit to {deed}"
        return f"{owed} is {round(100 * detail.get('threshold', 0))}% through its time limit to {deed}"
    return described.get(kind, kind.replace("_", " "))


def canceller_of(detail: dict) -> str:
    """Who a ``cancelled`` event says cancelled the referral (events from before operators could: the
    referrer)."""
    return detail.get("by") or CANCELLED_BY_REFERRER


def _cancelled_by(conn, referral) -> str:
    if referral["cancelled_at"] is None:
        return CANCELLED_BY_REFERRER
    events = instance_store.events_of(conn, referral["instance_id"])
    cancellations = [e for e in events if e["kind"] == "cancelled"]
    return canceller_of(cancellations[-1]["detail"] or {}) if cancellations else CANCELLED_BY_REFERRER


def task_view(row, now: datetime | None = None) -> dict:
    at_risk_from = row.get("at_risk_from")
    return {
        "id": row["id"],
        "referral_id": row["referral_id"],
        "reference": row.get("reference"),
        "pathway": row.get("pathway_key"),
        "priority": row.get("priority"),
        "due_at": row["due_at"].isoformat() if row.get("due_at") else None,
        "at_risk": at_risk_from is not None and at_risk_from <= (now or clock.now()),
        "element_id": row["element_id"],
        "title": row["title"],
        "lane": row["lane"],
        "status": row["status"],
        "claimed_by": row["claimed_by"],
        "created_at": row["created_at"].isoformat(),
        "completed_at": row["completed_at"].isoformat() if row["completed_at"] else None,
        "completed_by": row["completed_by"],
    }
