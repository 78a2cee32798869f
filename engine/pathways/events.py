"""The entries of an instance's event log, built in one shape wherever they are made."""

from __future__ import annotations

from datetime import datetime

# The actor of what the engine does by itself: automated steps, timers, OLA warnings and breaches.
ENGINE_ACTOR = "engine"


def instance_event(
    kind: str,
    actor: str,
    at: datetime,
    *,
    task_id: str | None = None,
    task_name: str | None = None,
    detail: dict | None = None,
    instance_id: str | None = None,
) -> dict:
    """One event for an instance's log. ``instance_id`` is filled in when the event is logged, unless the
    event is logged outside a change of the instance (a task claimed)."""
    event = {
        "kind": kind,
        "actor": actor,
        "at": at,
        "task_id": task_id,
        "task_name": task_name,
        "detail": detail,
    }
    if instance_id is not None:
        event["instance_id"] = instance_id
    return event
