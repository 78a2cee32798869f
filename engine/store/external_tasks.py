"""Queries of the external tasks queue (``external_tasks``): kept in line with each instance after every
change, fetched and locked by workers with a lease."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from engine.store.db import Connection, note_change
from engine.store.tables import external_tasks, instances, referrals

# Each row with what scopes it: the referral of its instance, the organisation operating that referral, and
# the instance's status (only a waiting instance's tasks can be worked).
_SCOPED = (
    sa.select(
        external_tasks,
        referrals.c.id.label("referral_id"),
        referrals.c.operated_by,
        instances.c.status.label("instance_status"),
        instances.c.data.label("instance_data"),
    )
    .join(instances, instances.c.id == external_tasks.c.instance_id)
    .outerjoin(referrals, referrals.c.instance_id == external_tasks.c.instance_id)
)


def sync(conn: Connection, instance_id: str, tasks: list[dict], now: datetime) -> None:
    """Make the instance's rows the external tasks it waits on now (``tasks``: id, element_id, title, topic).
    A task kept from before keeps its lease and retries, unless its failure had put the instance in incident:
    then the instance was retried, and the work is open to fetch again from scratch."""
    note_change(conn, "instance", instance_id)
    held = {
        row["id"]: row
        for row in conn.execute(
            sa.select(external_tasks.c.id, external_tasks.c.status).where(
                external_tasks.c.instance_id == instance_id
            )
        ).mappings()
    }
    wanted = {task["id"]: task for task in tasks}
    gone = set(held) - set(wanted)
    if gone:
        conn.execute(external_tasks.delete().where(external_tasks.c.id.in_(gone)))
    failed = [task_id for task_id in wanted if task_id in held and held[task_id]["status"] == "failed"]
    if failed:
        conn.execute(
            external_tasks.update()
            .where(external_tasks.c.id.in_(failed))
            .values(
                status="open",
                locked_by=None,
                worker_id=None,
                lock_expires_at=None,
                failures=0,
                retries=None,
                available_at=None,
            )
        )
    new = [
        {**task, "instance_id": instance_id, "status": "open", "failures": 0, "created_at": now}
        for task_id, task in wanted.items()
        if task_id not in held
    ]
    if new:
        conn.execute(external_tasks.insert(), new)


def _fetchable(organisation: str, topics: list[str], now: datetime):
    free = sa.or_(external_tasks.c.lock_expires_at.is_(None), external_tasks.c.lock_expires_at <= now)
    due = sa.or_(external_tasks.c.available_at.is_(None), external_tasks.c.available_at <= now)
    return (
        external_tasks.c.topic.in_(topics),
        external_tasks.c.status == "open",
        instances.c.status == "waiting",
        referrals.c.operated_by == organisation,
        free,
        due,
    )


def lock_fetchable(
    conn: Connection, organisation: str, topics: list[str], limit: int, now: datetime
) -> list[RowMapping]:
    """Up to ``limit`` tasks of ``topics`` that ``organisation`` may work, free and due at ``now``, oldest
    first, locked for this transaction (rows another transaction holds are skipped, on PostgreSQL)."""
    query = (
        _SCOPED.where(*_fetchable(organisation, topics, now))
        .order_by(external_tasks.c.created_at, external_tasks.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=external_tasks)
    )
    return list(conn.execute(query).mappings())


def lock_task(conn: Connection, task_id: str) -> RowMapping | None:
    """The task with its scope, its row locked until the transaction ends."""
    query = _SCOPED.where(external_tasks.c.id == task_id).with_for_update(of=external_tasks)
    return conn.execute(query).mappings().first()


def task(conn: Connection, task_id: str) -> RowMapping | None:
    return conn.execute(_SCOPED.where(external_tasks.c.id == task_id)).mappings().first()


def delete(conn: Connection, task_id: str) -> None:
    note_change(conn, "external_task", task_id)
    conn.execute(external_tasks.delete().where(external_tasks.c.id == task_id))


def update(conn: Connection, task_ids: list[str], **values) -> None:
    note_change(conn, "external_task", *task_ids)
    conn.execute(external_tasks.update().where(external_tasks.c.id.in_(task_ids)).values(**values))


def open_tasks_of_instance(conn: Connection, instance_id: str) -> list[RowMapping]:
    query = (
        sa.select(external_tasks)
        .where(external_tasks.c.instance_id == instance_id)
        .order_by(external_tasks.c.created_at, external_tasks.c.id)
    )
    return list(conn.execute(query).mappings())


def queue(conn: Connection, organisation: str, topic: str | None, limit: int) -> list[RowMapping]:
    """The external tasks of the referrals ``organisation`` operates (of one topic), oldest first."""
    query = _SCOPED.where(referrals.c.operated_by == organisation)
    if topic is not None:
        query = query.where(external_tasks.c.topic == topic)
    return list(
        conn.execute(query.order_by(external_tasks.c.created_at, external_tasks.c.id).limit(limit)).mappings()
    )
