"""What the store keeps of an instance besides its state, so that it can be found without being loaded: its
waits (timers by due time, messages by name and correlation), its open user tasks and the external service
tasks it waits on (for workers to fetch). Written after every change, and only as far as they changed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from engine.bpmn import Runtime, Snapshot, Wait
from engine.errors import SignpostError
from engine.pathways.changes import Change
from engine.store import external_tasks as external_task_store
from engine.store import instances as instance_store
from engine.store.db import Connection
from engine.store.tables import NO_DUE_TIME


@dataclass(frozen=True)
class Indexed:
    """What the store holds for an instance besides its row: the waits and the open user tasks."""

    waits: list[Wait]
    open_task_ids: frozenset[str]
    external_task_ids: frozenset[str] = frozenset()


# A new instance has no waits or user tasks in the store yet: nothing to read or delete first.
NEW_INSTANCE = Indexed([], frozenset())


def indexed_before(runtime: Runtime, workflow) -> Indexed | None:
    """What the store holds for an instance just loaded that is not in incident: every save of such an
    instance indexed the waits and ready user tasks of the state it saved, which is the state loaded
    (claiming a task leaves it open). None if that cannot be told."""
    try:
        waits = runtime.waits(workflow)
    except SignpostError:
        return None
    user_tasks, external = runtime.open_tasks(workflow)
    return Indexed(waits, frozenset(t.id for t in user_tasks), frozenset(t.id for t in external))


def write_indexes(
    conn: Connection,
    instance_id: str,
    snapshot: Snapshot,
    change: Change,
    now: datetime,
    indexed: Indexed | None,
) -> None:
    """Bring the waits and user tasks in the store in line with ``snapshot``; ``indexed``: what the store
    holds for the instance, when known without asking it."""
    # Many inputs leave the waits as they were (a hand-off acknowledged, a task claimed): rewrite them
    # only when they changed, or when what the store holds is not known.
    if indexed is None or _wait_keys(indexed.waits) != _wait_keys(snapshot.waits):
        instance_store.replace_waits(
            conn,
            instance_id,
            [{"kind": w.kind, "name": w.name, "due_at": w.due_at} for w in snapshot.waits],
            had_waits=indexed is None or bool(indexed.waits),
        )
    open_ids = (
        set(indexed.open_task_ids)
        if indexed is not None
        else instance_store.ready_task_ids(conn, instance_id)
    )
    ready = {t.id: t for t in snapshot.user_tasks}
    if change.completed_task_id:
        instance_store.close_user_tasks(
            conn, [change.completed_task_id], status="completed", at=now, by=change.events[0]["actor"]
        )
        open_ids.discard(change.completed_task_id)
    instance_store.close_user_tasks(conn, open_ids - set(ready), status="cancelled", at=now)
    instance_store.insert_user_tasks(
        conn,
        [
            {
                "id": t.id,
                "instance_id": instance_id,
                "element_id": t.element_id,
                "title": t.title,
                "lane": t.lane,
                "status": "ready",
                "created_at": now,
                "priority": t.priority,
                "due_at": now + t.due_after if t.due_after else None,
                "at_risk_from": now + t.due_after * 3 / 4 if t.due_after else None,
                "due_order": now + t.due_after if t.due_after else NO_DUE_TIME,
            }
            for task_id, t in ready.items()
            if task_id not in open_ids
        ],
    )
    _write_external_tasks(conn, instance_id, snapshot, now, indexed)


def _wait_keys(waits: list[Wait]) -> Counter:
    return Counter((w.kind, w.name, w.due_at) for w in waits)


def _write_external_tasks(
    conn: Connection, instance_id: str, snapshot: Snapshot, now: datetime, indexed: Indexed | None
) -> None:
    """The external tasks the instance waits on, for workers to fetch (engine/pathways/external_tasks.py)."""
    if indexed is not None and not indexed.external_task_ids and not snapshot.external_tasks:
        return
    external_task_store.sync(
        conn,
        instance_id,
        [
            {"id": t.id, "element_id": t.element_id, "title": t.title, "topic": t.topic}
            for t in snapshot.external_tasks
        ],
        now,
    )
