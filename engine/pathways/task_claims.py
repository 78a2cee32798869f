"""Claiming a user task, so that two operators do not work it at once, and releasing it again. Neither
moves the pathway: a claim is recorded on the task and in the referral's event log, in one transaction."""

from __future__ import annotations

from engine import clock
from engine.errors import NotFound, TaskNotReady
from engine.pathways.events import instance_event
from engine.store import instances as instance_store
from engine.store.db import Database


def claim_user_task(database: Database, task_id: str, actor: str) -> dict:
    """Give the task to ``actor`` (claiming one's own claim again changes nothing)."""
    with database.write() as conn:
        task = instance_store.user_task(conn, task_id)
        if task is None:
            raise NotFound(f"no task with id {task_id}")
        if task["status"] == "claimed" and task["claimed_by"] == actor:
            return dict(task)
        if not instance_store.claim_user_task(conn, task_id, actor):
            holder = f" by {task['claimed_by']}" if task["claimed_by"] else ""
            raise TaskNotReady(f"task {task_id} is {task['status']}{holder}, so it cannot be claimed")
        instance_store.append_events(
            conn,
            [
                instance_event(
                    "task_claimed",
                    actor,
                    clock.now(),
                    task_id=task_id,
                    task_name=task["title"],
                    instance_id=task["instance_id"],
                )
            ],
        )
        return dict(instance_store.user_task(conn, task_id))


def release_user_task(database: Database, task_id: str, actor: str) -> None:
    """Put a task ``actor`` claimed back in the worklist, for someone else to claim."""
    with database.write() as conn:
        task = instance_store.user_task(conn, task_id)
        if task is None:
            raise NotFound(f"no task with id {task_id}")
        if not instance_store.release_user_task(conn, task_id, actor):
            holder = f"claimed by {task['claimed_by']}" if task["claimed_by"] else "not claimed"
            raise TaskNotReady(f"task {task_id} is {holder}, so you cannot release it")
        event = instance_event("task_released", actor, clock.now(), task_id=task_id, task_name=task["title"])
        instance_store.append_events(conn, [{**event, "instance_id": task["instance_id"]}])
