"""What a pathway simulation (engine/simulation/) reads: what changed since it last looked, when the next
timer or OLA check falls due, and the history it fits demand and service behaviour from."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.store.tables import (
    handoff_transitions,
    handoffs,
    instance_events,
    instances,
    ola_clocks,
    referrals,
    user_tasks,
    waits,
)


def last_event_id(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.max(instance_events.c.id))).scalar() or 0


def instances_changed_since(conn: Connection, event_id: int) -> tuple[list[str], int]:
    """The instances that logged an event after ``event_id`` (each once, in the order they first did), and
    the id of the last event."""
    query = (
        sa.select(instance_events.c.id, instance_events.c.instance_id)
        .where(instance_events.c.id > event_id)
        .order_by(instance_events.c.id)
    )
    seen: dict[str, None] = {}
    last = event_id
    for row_id, instance_id in conn.execute(query):
        seen.setdefault(instance_id, None)
        last = row_id
    return list(seen), last


def next_timer_at_or_after(conn: Connection, moment: datetime) -> datetime | None:
    """The earliest timer due at or after ``moment`` (one due before it has fired, or cannot: its instance is
    in incident)."""
    query = sa.select(sa.func.min(waits.c.due_at)).where(waits.c.kind == "timer", waits.c.due_at >= moment)
    return _aware(conn.execute(query).scalar())


def next_clock_check_after(conn: Connection, moment: datetime) -> datetime | None:
    query = sa.select(sa.func.min(ola_clocks.c.next_check_at)).where(
        ola_clocks.c.state == "running", ola_clocks.c.next_check_at > moment
    )
    return _aware(conn.execute(query).scalar())


def referrals_created_between(conn: Connection, start: datetime, end: datetime, pathways=None) -> list[dict]:
    """(pathway, point of access, created_at, instance data) of the referrals created in [start, end), oldest
    first; of ``pathways`` only when given. Redacted referrals come without their data."""
    query = (
        sa.select(
            referrals.c.pathway_key,
            referrals.c.point_of_access,
            referrals.c.created_at,
            referrals.c.referrer,
            referrals.c.subject,
            referrals.c.redacted_at,
            instances.c.data,
        )
        .join(instances, instances.c.id == referrals.c.instance_id)
        .where(referrals.c.created_at >= start, referrals.c.created_at < end)
        .order_by(referrals.c.created_at, referrals.c.id)
    )
    if pathways is not None:
        query = query.where(referrals.c.pathway_key.in_(list(pathways)))
    return [
        {
            "pathway": row.pathway_key,
            "point_of_access": row.point_of_access,
            "created_at": _aware(row.created_at),
            "referrer": row.referrer,
            "subject": None if row.redacted_at else row.subject,
            "data": None if row.redacted_at else row.data,
        }
        for row in conn.execute(query)
    ]


def handoff_histories(conn: Connection, start: datetime, end: datetime) -> list[dict]:
    """Every hand-off created in [start, end) with its transitions in order: {id, to_service, created_at,
    transitions: [(action, at)]}."""
    query = (
        sa.select(
            handoffs.c.id,
            handoffs.c.to_service,
            handoffs.c.created_at,
            handoff_transitions.c.action,
            handoff_transitions.c.at,
        )
        .join(handoff_transitions, handoff_transitions.c.handoff_id == handoffs.c.id)
        .where(handoffs.c.created_at >= start, handoffs.c.created_at < end)
        .order_by(handoffs.c.id, handoff_transitions.c.id)
    )
    found: dict[str, dict] = {}
    for row in conn.execute(query):
        handoff = found.setdefault(
            row.id,
            {
                "id": row.id,
                "to_service": row.to_service,
                "created_at": _aware(row.created_at),
                "transitions": [],
            },
        )
        handoff["transitions"].append((row.action, _aware(row.at)))
    return list(found.values())


def user_task_times(conn: Connection, start: datetime, end: datetime) -> list[dict]:
    """The user tasks created in [start, end) and completed: {element_id, point_of_access, created_at,
    completed_at}."""
    query = (
        sa.select(
            user_tasks.c.element_id,
            referrals.c.point_of_access,
            user_tasks.c.created_at,
            user_tasks.c.completed_at,
        )
        .join(referrals, referrals.c.instance_id == user_tasks.c.instance_id)
        .where(
            user_tasks.c.created_at >= start,
            user_tasks.c.created_at < end,
            user_tasks.c.completed_at.is_not(None),
        )
    )
    return [
        {
            "element_id": row.element_id,
            "point_of_access": row.point_of_access,
            "created_at": _aware(row.created_at),
            "completed_at": _aware(row.completed_at),
        }
        for row in conn.execute(query)
    ]


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def referral_statuses(conn: Connection) -> dict[str, int]:
    """How many referrals' instances are in each status (waiting, completed, cancelled, incident)."""
    query = (
        sa.select(instances.c.status, sa.func.count())
        .join(referrals, referrals.c.instance_id == instances.c.id)
        .group_by(instances.c.status)
    )
    return {status: count for status, count in conn.execute(query)}
