"""Process instances with their event log, waits (timers and messages), correlation keys and user tasks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store.db import note_change, transaction_memo
from engine.store.referrals import visible_referrals
from engine.store.tables import (
    correlations,
    handoffs,
    instance_events,
    instances,
    referrals,
    user_tasks,
    waits,
)

_INSERT_INSTANCE = instances.insert()

_INSTANCE = sa.select(instances).where(instances.c.id == sa.bindparam("instance_id"))

_LOCK_INSTANCE = {
    False: _INSTANCE.with_for_update(),
    True: _INSTANCE.with_for_update(skip_locked=True),
}


# The instance a hand-off belongs to (which never changes), found and locked in one statement.
_INSTANCE_OF_HANDOFF = sa.select(handoffs.c.instance_id).where(handoffs.c.id == sa.bindparam("handoff_id"))
_LOCK_INSTANCE_OF_HANDOFF = (
    sa.select(instances)
    .where(instances.c.id == _INSTANCE_OF_HANDOFF.scalar_subquery())
    .with_for_update(of=instances)
)


def lock_instance_of_handoff(conn: Connection, handoff_id: str) -> RowMapping | None:
    """``lock_instance`` for the instance of a hand-off; None when there is no such hand-off."""
    return conn.execute(_LOCK_INSTANCE_OF_HANDOFF, {"handoff_id": handoff_id}).mappings().first()


def insert_instance(conn: Connection, **values) -> None:
    conn.execute(_INSERT_INSTANCE, values)
    note_change(conn, "instance", values["id"])


def lock_instance(conn: Connection, instance_id: str, *, skip_locked: bool = False) -> RowMapping | None:
    """Read the instance row holding its write lock until the transaction ends (PostgreSQL row lock;
    on SQLite the write transaction already holds the database's write lock). With ``skip_locked`` a row
    another transaction holds is not waited for: None comes back, as for a missing row."""
    return conn.execute(_LOCK_INSTANCE[bool(skip_locked)], {"instance_id": instance_id}).mappings().first()


def instance_exists(conn: Connection, instance_id: str) -> bool:
    return conn.execute(sa.select(instances.c.id).where(instances.c.id == instance_id)).first() is not None


def instance(conn: Connection, instance_id: str) -> RowMapping | None:
    return conn.execute(sa.select(instances).where(instances.c.id == instance_id)).mappings().first()


# The columns set are the parameters named after columns; the b_ parameters fill the WHERE clause.
_SAVE_INSTANCE = instances.update().where(
    instances.c.id == sa.bindparam("b_id"), instances.c.lock_version == sa.bindparam("b_lock_version")
)

_INSERT_EVENTS = instance_events.insert()


def save_instance(conn: Connection, instance_id: str, expected_lock_version: int, **values) -> bool:
    """Write new state if nobody saved since we read ``expected_lock_version``; False if somebody did."""
    note_change(conn, "instance", instance_id)
    result = conn.execute(
        _SAVE_INSTANCE,
        {
            "b_id": instance_id,
            "b_lock_version": expected_lock_version,
            "lock_version": expected_lock_version + 1,
            **values,
        },
    )
    return result.rowcount == 1


def append_events(conn: Connection, events: list[dict]) -> None:
    if events:
        conn.execute(_INSERT_EVENTS, events)
        note_change(conn, "instance", *{event["instance_id"] for event in events})


def events_of(conn: Connection, instance_id: str) -> list[RowMapping]:
    query = (
        sa.select(instance_events)
        .where(instance_events.c.instance_id == instance_id)
        .order_by(instance_events.c.id)
    )
    return list(conn.execute(query).mappings())


def events_of_kinds(conn: Connection, instance_ids: list[str], kinds: tuple[str, ...]):
    """(instance_id, at, kind, detail) of the events of ``kinds`` of several instances, each instance's in
    the order they happened."""
    query = (
        sa.select(
            instance_events.c.instance_id,
            instance_events.c.at,
            instance_events.c.kind,
            instance_events.c.detail,
        )
        .where(instance_events.c.instance_id.in_(instance_ids), instance_events.c.kind.in_(kinds))
        .order_by(instance_events.c.instance_id, instance_events.c.id)
    )
    return conn.execute(query).all()


_DELETE_WAITS = waits.delete().where(waits.c.instance_id == sa.bindparam("instance_id"))

_INSERT_WAITS = waits.insert()

_WAITS_OF = (
    sa.select(waits)
    .where(waits.c.instance_id == sa.bindparam("instance_id"))
    .order_by(waits.c.due_at, waits.c.name)
)


def replace_waits(
    conn: Connection, instance_id: str, new_waits: list[dict], *, had_waits: bool = True
) -> None:
    """Make ``new_waits`` the instance's waits; ``had_waits=False`` when it is known to have none yet."""
    if had_waits:
        conn.execute(_DELETE_WAITS, {"instance_id": instance_id})
    if new_waits:
        conn.execute(_INSERT_WAITS, [{"instance_id": instance_id, **w} for w in new_waits])


def waits_of(conn: Connection, instance_id: str) -> list[RowMapping]:
    return list(conn.execute(_WAITS_OF, {"instance_id": instance_id}).mappings())


def instances_with_due_timers(conn: Connection, now: datetime, limit: int) -> list[tuple[str, datetime]]:
    """(instance id, its earliest due time) for instances with a timer due before ``now``, most overdue first
    (SpiffWorkflow fires a timer once its due time has passed, not at the due instant itself)."""
    earliest = sa.func.min(waits.c.due_at)
    query = (
        sa.select(waits.c.instance_id, earliest)
        .where(waits.c.kind == "timer", waits.c.due_at < now)
        .group_by(waits.c.instance_id)
        .order_by(earliest)
        .limit(limit)
    )
    return [(instance_id, _aware(due_at)) for instance_id, due_at in conn.execute(query)]


def claim_due_timer(conn: Connection, now: datetime, passed_over: Iterable[str] = ()) -> RowMapping | None:
    """Lock the instance with the most overdue timer that no other transaction holds, and read it (with
    ``timer_due_at``, that timer's due time); None when no such instance is left. The look-up and the
    claim are one statement: workers sharing PostgreSQL each take a different instance (``SKIP LOCKED``)
    instead of all walking the same list and finding it taken. On SQLite the write transaction already
    holds the database's only write lock. ``passed_over``: instances this caller will not take again."""
    query = (
        sa.select(instances, waits.c.due_at.label("timer_due_at"))
        .join(waits, waits.c.instance_id == instances.c.id)
        .where(waits.c.kind == "timer", waits.c.due_at < now)
    )
    passed_over = sorted(passed_over)
    if passed_over:
        query = query.where(waits.c.instance_id.not_in(passed_over))
    query = query.order_by(waits.c.due_at).limit(1).with_for_update(of=instances, skip_locked=True)
    return conn.execute(query).mappings().first()


def count_timers_due(conn: Connection, now: datetime) -> int:
    query = sa.select(sa.func.count()).select_from(waits).where(waits.c.kind == "timer", waits.c.due_at < now)
    return conn.execute(query).scalar_one()


def _aware(value: datetime) -> datetime:
    # An aggregate loses the column's type on SQLite, so the stored naive UTC comes back as it is.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def instances_waiting_for_message(conn: Connection, name: str, correlation: dict[str, str]) -> list[str]:
    query = sa.select(waits.c.instance_id).where(waits.c.kind == "message", waits.c.name == name)
    for index, (key, value) in enumerate(sorted(correlation.items())):
        alias = correlations.alias(f"correlation_{index}")
        query = query.join(
            alias,
            sa.and_(alias.c.instance_id == waits.c.instance_id, alias.c.key == key, alias.c.value == value),
        )
    return list(conn.execute(query.distinct()).scalars())


def instances_waiting_for_signal(conn: Connection, name: str) -> list[str]:
    query = sa.select(waits.c.instance_id).where(waits.c.kind == "signal", waits.c.name == name)
    return list(conn.execute(query.distinct()).scalars())


_INSERT_CORRELATIONS = correlations.insert()


def insert_correlations(conn: Connection, instance_id: str, values: dict[str, str]) -> None:
    """The correlation values of a new instance (they never change afterwards)."""
    if values:
        conn.execute(
            _INSERT_CORRELATIONS,
            [{"instance_id": instance_id, "key": k, "value": v} for k, v in values.items()],
        )
    transaction_memo(conn).setdefault("correlations", {})[instance_id] = dict(values)


_READY_TASK_IDS = sa.select(user_tasks.c.id).where(
    user_tasks.c.instance_id == sa.bindparam("instance_id"), user_tasks.c.status.in_(("ready", "claimed"))
)


def ready_task_ids(conn: Connection, instance_id: str) -> set[str]:
    return set(conn.execute(_READY_TASK_IDS, {"instance_id": instance_id}).scalars())


def insert_user_tasks(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(user_tasks.insert(), rows)


def close_user_tasks(
    conn: Connection, task_ids: Iterable[str], *, status: str, at: datetime, by=None
) -> None:
    task_ids = list(task_ids)
    if task_ids:
        conn.execute(
            user_tasks.update()
            .where(user_tasks.c.id.in_(task_ids))
            .values(status=status, completed_at=at, completed_by=by)
        )


def user_task(conn: Connection, task_id: str) -> RowMapping | None:
    return conn.execute(sa.select(user_tasks).where(user_tasks.c.id == task_id)).mappings().first()


def claim_user_task(conn: Connection, task_id: str, claimed_by: str) -> bool:
    note_change(conn, "user_task", task_id)
    result = conn.execute(
        user_tasks.update()
        .where(user_tasks.c.id == task_id, user_tasks.c.status == "ready")
        .values(status="claimed", claimed_by=claimed_by)
    )
    return result.rowcount == 1


OPEN_TASKS = ("ready", "claimed")

_USER_TASKS = sa.select(
    user_tasks,
    referrals.c.id.label("referral_id"),
    referrals.c.reference,
    referrals.c.pathway_key,
    referrals.c.referrer_organisation,
    referrals.c.point_of_access,
    referrals.c.operated_by,
).join(referrals, referrals.c.instance_id == user_tasks.c.instance_id, isouter=True)

_OPEN_TASKS_OF_INSTANCE = (
    _USER_TASKS.where(
        user_tasks.c.instance_id == sa.bindparam("instance_id"),
        user_tasks.c.status.in_(("ready", "claimed")),
    )
    .order_by(user_tasks.c.created_at, user_tasks.c.id)
    .limit(100)
)


def open_tasks_of_instance(conn: Connection, instance_id: str) -> list[RowMapping]:
    """``list_user_tasks(conn, instance_ids=[instance_id], status=("ready", "claimed"))``, prepared."""
    return list(conn.execute(_OPEN_TASKS_OF_INSTANCE, {"instance_id": instance_id}).mappings())


def list_user_tasks(
    conn: Connection,
    *,
    instance_ids=None,
    lane=None,
    status=None,
    task_id=None,
    scope=None,
    limit=100,
    pathway: str | None = None,
    priority: str | None = None,
    created_before: datetime | None = None,
    at_risk_at: datetime | None = None,
    after: tuple[datetime, datetime, str] | None = None,
) -> list[RowMapping]:
    """User tasks soonest due first (those without a due time last), then oldest first, filtered, from just
    after ``after`` (a task's due_order, created_at and id): a keyset page.

    The page's tasks are chosen from ``user_tasks`` alone, the referral conditions asked as a sub-query, so
    that the planner walks the open tasks' index in the worklist's order and stops at the page's end
    (joined first, SQLite would gather every task of the scope and sort them); their referrals are read
    for that page only."""
    chosen = sa.select(user_tasks.c.id)
    of_referrals = []
    if scope is not None:
        of_referrals.append(visible_referrals(scope))
    if pathway is not None:
        of_referrals.append(referrals.c.pathway_key == pathway)
    if of_referrals:
        # Asked of each task as the index hands it over (the referral found by its unique instance_id), so
        # that a page costs its own tasks' lookups, however many tasks the scope holds.
        chosen = chosen.where(
            sa.select(referrals.c.id)
            .where(referrals.c.instance_id == user_tasks.c.instance_id, *of_referrals)
            .exists()
        )
    if priority is not None:
        chosen = chosen.where(user_tasks.c.priority == priority)
    if created_before is not None:
        chosen = chosen.where(user_tasks.c.created_at < created_before)
    if at_risk_at is not None:
        chosen = chosen.where(user_tasks.c.at_risk_from <= at_risk_at)
    worklist_order = (user_tasks.c.due_order, user_tasks.c.created_at, user_tasks.c.id)
    if after is not None:
        chosen = chosen.where(sa.tuple_(*worklist_order) > sa.tuple_(*(sa.literal(v) for v in after)))
    if task_id is not None:
        chosen = chosen.where(user_tasks.c.id == task_id)
    if instance_ids is not None:
        chosen = chosen.where(user_tasks.c.instance_id.in_(instance_ids))
    if lane is not None:
        chosen = chosen.where(user_tasks.c.lane == lane)
    if isinstance(status, str):
        chosen = chosen.where(user_tasks.c.status == status)
    elif status is not None and tuple(status) == OPEN_TASKS:
        # Written as the partial index's own condition, so that the planner may walk that index.
        chosen = chosen.where(sa.text("user_tasks.status IN ('ready', 'claimed')"))
    elif status is not None:
        chosen = chosen.where(user_tasks.c.status.in_(status))
    ids = list(conn.execute(chosen.order_by(*worklist_order).limit(limit)).scalars())
    if not ids:
        return []
    found = {row["id"]: row for row in conn.execute(_USER_TASKS.where(user_tasks.c.id.in_(ids))).mappings()}
    return [found[task_id] for task_id in ids]


def release_user_task(conn: Connection, task_id: str, claimed_by: str) -> bool:
    """Put a task claimed by ``claimed_by`` back in the worklist; False if it is not claimed by them."""
    note_change(conn, "user_task", task_id)
    released = conn.execute(
        user_tasks.update()
        .where(
            user_tasks.c.id == task_id,
            user_tasks.c.status == "claimed",
            user_tasks.c.claimed_by == claimed_by,
        )
        .values(status="ready", claimed_by=None)
    )
    return released.rowcount == 1


_CORRELATION_VALUES = sa.select(correlations.c.key, correlations.c.value).where(
    correlations.c.instance_id == sa.bindparam("instance_id")
)


def correlation_values(conn: Connection, instance_id: str) -> dict[str, str]:
    """An instance's correlation values, read once per transaction."""
    known = transaction_memo(conn).setdefault("correlations", {})
    if instance_id not in known:
        known[instance_id] = dict(conn.execute(_CORRELATION_VALUES, {"instance_id": instance_id}).all())
    return dict(known[instance_id])
