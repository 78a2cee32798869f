"""Milestones of a referral's journey and the numbered notification events they become.

A milestone is derived from the instance events of a change and written in that change's transaction, as is
one numbered event (and one delivery) per subscription that wants it — so a change and its notifications
commit together or not at all, and each subscription's numbers have no gaps.

What a notification says is thin on purpose: ids, reference, a status word and a plain-language status built
from the service's name only — never a reason, question, outcome or other free text that may be clinical.
"""

from __future__ import annotations

from datetime import datetime

from engine.store import instances as instance_store
from engine.store import notifications as notification_store
from engine.store import services as service_store

EVENT_TYPES = (
    "referral.received",
    "referral.triaged",
    "referral.routed",
    "referral.accepted",
    "referral.rejected",
    "referral.information_requested",
    "referral.visit_scheduled",
    "referral.completed",
    "referral.cancelled",
    "ola.warning",
    "ola.breached",
)


def milestones_of(event: dict) -> list[str]:
    """The milestone types an instance event marks (most mark none)."""
    kind, detail = event["kind"], event.get("detail") or {}
    if kind == "step_completed":
        return ["referral.triaged"] if detail.get("kind") == "BusinessRuleTask" else []
    if kind == "handoff_accepted" and detail.get("window"):
        return ["referral.accepted", "referral.visit_scheduled"]
    return {
        "started": ["referral.received"],
        "handoff_requested": ["referral.routed"],
        "handoff_accepted": ["referral.accepted"],
        "handoff_rejected": ["referral.rejected"],
        "handoff_information_requested": ["referral.information_requested"],
        "handoff_scheduled": ["referral.visit_scheduled"],
        "completed": ["referral.completed"],
        "cancelled": ["referral.cancelled"],
        "ola_warning": ["ola.warning"],
        "ola_breached": ["ola.breached"],
    }.get(kind, [])


def record_milestones(conn, instance_id: str, events: list[dict], now: datetime) -> None:
    """Write the milestones these events of a change (made at ``now``) mark, and fan them out to the
    subscriptions that want them (the last stage of ``engine.pathways.pipeline``)."""
    marked = [(milestone, event) for event in events for milestone in milestones_of(event)]
    if not marked:
        return
    keys = instance_store.correlation_values(conn, instance_id)
    referral_id = keys.get("referral_id")
    if referral_id is None:
        return  # not a referral's instance: nobody to tell
    names = {}
    service_ids = {
        (e.get("detail") or {}).get("service") or (e.get("detail") or {}).get("to_service") for _, e in marked
    }
    if service_ids - {None}:
        names = service_store.service_names(conn, service_ids - {None})
    written = [(milestone, event, _milestone_data(milestone, event, names)) for milestone, event in marked]
    notification_store.insert_milestones(
        conn,
        [
            {"referral_id": referral_id, "event_type": milestone, "data": data, "created_at": event["at"]}
            for milestone, event, data in written
        ],
    )
    subscribers = notification_store.subscriptions_for_referral(
        conn, referral_id, keys.get("organisation", "")
    )
    if subscribers:
        _number_and_queue(conn, subscribers, referral_id, keys.get("reference"), written, now)


def _number_and_queue(conn, subscribers, referral_id, reference, written, now: datetime) -> None:
    """Number the milestones each subscription wants, in order, and queue one delivery for each."""
    # The subscription rows are locked (subscriptions_for_referral) and read in this transaction, so their
    # counters are current: numbering goes on from there in memory.
    numbers = {s["id"]: s["last_event_number"] for s in subscribers}
    events = []
    for milestone, event, data in written:
        for subscription in subscribers:
            if milestone not in subscription["events"] and "*" not in subscription["events"]:
                continue
            numbers[subscription["id"]] += 1
            number = numbers[subscription["id"]]
            payload = {
                "type": milestone,
                "timestamp": event["at"].isoformat(),
                "data": {
                    "referral_id": referral_id,
                    "reference": reference,
                    "status": data["status"],
                    "status_text": data["status_text"],
                    "event_number": number,
                    "links": {
                        "referral": f"/api/v1/referrals/{referral_id}",
                        "catch_up": f"/api/v1/subscriptions/{subscription['id']}/events?since={number - 1}",
                    },
                },
            }
            events.append(
                {
                    "subscription_id": subscription["id"],
                    "number": number,
                    "referral_id": referral_id,
                    "event_type": milestone,
                    "payload": payload,
                    "created_at": now,
                }
            )
    for subscription in subscribers:
        if numbers[subscription["id"]] != subscription["last_event_number"]:
            notification_store.update_subscription(
                conn, subscription["id"], {"last_event_number": numbers[subscription["id"]]}
            )
    event_ids = notification_store.insert_notification_events(conn, events)
    notification_store.insert_deliveries(
        conn,
        [
            {
                "event_id": event_id,
                "subscription_id": event["subscription_id"],
                "referral_id": referral_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for event_id, event in zip(event_ids, events, strict=True)
        ],
    )


def _milestone_data(milestone: str, event: dict, names: dict[str, str]) -> dict:
    detail = event.get("detail") or {}
    service_id = detail.get("service") or detail.get("to_service")
    service = names.get(service_id, "the service")
    owed = service if detail.get("party") == "receiver" else "The referrer"
    deed = str(detail.get("obligation", "act")).replace("-", " ")
    status, text = {
        "referral.received": ("received", "Referral received"),
        "referral.triaged": ("triaged", "Triaged by the point of access"),
        "referral.routed": ("routed", f"Sent to {service}"),
        "referral.accepted": ("accepted", f"Accepted by {service}"),
        "referral.rejected": ("rejected", f"Declined by {service}; the point of access is reviewing it"),
        "referral.information_requested": (
            "information-requested",
            f"{service} has asked the referrer for more information",
        ),
        "referral.visit_scheduled": (
            "visit-scheduled",
            f"Visit booked by {service}: {detail.get('window', '')}",
        ),
        "referral.completed": ("completed", "Completed"),
        "referral.cancelled": ("cancelled", f"Cancelled by {detail.get('by') or 'the referrer'}"),
        "ola.warning": (
            "ola-warning",
            f"{owed} is {round(100 * detail.get('threshold', 0))}% through its time limit to {deed}",
        ),
        "ola.breached": ("ola-breached", f"{owed} missed its time limit to {deed}"),
    }[milestone]
    return {"status": status, "status_text": text.rstrip(": "), "service": service_id}
