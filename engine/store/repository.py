"""Every query the engine runs. Functions take an open Connection; the caller owns the transaction.

The statements every referral step runs are built once, at import, with their values bound at execution:
building a statement costs SQLAlchemy more than running it costs SQLite. Rows that one change asks for
again and again (services, OLA terms, calendar closures, an instance's correlations) are read once per
transaction (``_memo``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store.tables import (
    api_clients,
    audit_head,
    audit_log,
    calendar_closures,
    correlations,
    definition_files,
    definition_versions,
    definitions,
    deliveries,
    delivery_attempts,
    handoff_transitions,
    handoffs,
    idempotency_keys,
    instance_events,
    instances,
    milestones,
    notification_events,
    ola_clocks,
    ola_terms,
    referrals,
    services,
    subscriptions,
    user_tasks,
    waits,
)

# ---- Within one transaction -------------------------------------------------------------------------

_MEMO_KEY = "signpost.transaction_memo"


def _memo(conn: Connection) -> dict:
    """What this transaction has read already of the rows memoized here. The writers below drop what they
    change; the next transaction on the same pooled connection starts with an empty memo."""
    transaction = conn.get_transaction()
    if transaction is None:
        return {}
    held = conn.info.get(_MEMO_KEY)
    if held is None or held[0] is not transaction:
        held = conn.info[_MEMO_KEY] = (transaction, {})
    return held[1]


# ---- API clients -------------------------------------------------------------------------------------


def insert_client(
    conn: Connection,
    *,
    name,
    organisation,
    roles,
    token_hash,
    created_at,
    expires_at=None,
    service=None,
    external_subject=None,
) -> int:
    result = conn.execute(
        api_clients.insert().values(
            name=name,
            organisation=organisation,
            roles=sorted(roles),
            token_hash=token_hash,
            created_at=created_at,
            expires_at=expires_at,
            service=service,
            external_subject=external_subject,
        )
    )
    return result.inserted_primary_key[0]


def client_by_token_hash(conn: Connection, token_hash: str) -> RowMapping | None:
    return (
        conn.execute(sa.select(api_clients).where(api_clients.c.token_hash == token_hash)).mappings().first()
    )


def list_clients(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(sa.select(api_clients).order_by(api_clients.c.id)).mappings())


def client_row(conn: Connection, client_id: int) -> RowMapping | None:
    return conn.execute(sa.select(api_clients).where(api_clients.c.id == client_id)).mappings().first()


def revoke_client(conn: Connection, client_id: int, at: datetime) -> bool:
    result = conn.execute(
        api_clients.update()
        .where(api_clients.c.id == client_id, api_clients.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return result.rowcount == 1


def client_by_external_subject(conn: Connection, external_subject: str) -> RowMapping | None:
    query = sa.select(api_clients).where(api_clients.c.external_subject == external_subject)
    return conn.execute(query).mappings().first()


def update_external_client(
    conn: Connection, client_id: int, *, name, organisation, roles, service, last_used_at
) -> None:
    conn.execute(
        api_clients.update()
        .where(api_clients.c.id == client_id)
        .values(
            name=name,
            organisation=organisation,
            roles=sorted(roles),
            service=service,
            last_used_at=last_used_at,
        )
    )


def touch_client(conn: Connection, client_id: int, at: datetime) -> None:
    conn.execute(api_clients.update().where(api_clients.c.id == client_id).values(last_used_at=at))


# ---- Definitions ---------------------------------------------------------------------------------------


def definition(conn: Connection, key: str) -> RowMapping | None:
    return conn.execute(sa.select(definitions).where(definitions.c.key == key)).mappings().first()


def insert_definition(conn: Connection, *, key, name, created_at) -> None:
    conn.execute(definitions.insert().values(key=key, name=name, created_at=created_at))


def list_definitions(conn: Connection) -> list[RowMapping]:
    latest = (
        sa.select(
            definition_versions.c.definition_key, sa.func.max(definition_versions.c.number).label("latest")
        )
        .group_by(definition_versions.c.definition_key)
        .subquery()
    )
    query = (
        sa.select(definitions, latest.c.latest)
        .join(latest, latest.c.definition_key == definitions.c.key)
        .order_by(definitions.c.key)
    )
    return list(conn.execute(query).mappings())


VERSION_COLUMNS = [c for c in definition_versions.c if c.name != "compiled_spec"]


def versions_of(conn: Connection, key: str) -> list[RowMapping]:
    query = (
        sa.select(*VERSION_COLUMNS)
        .where(definition_versions.c.definition_key == key)
        .order_by(definition_versions.c.number)
    )
    return list(conn.execute(query).mappings())


def version_by_sha(conn: Connection, key: str, sha256: str) -> RowMapping | None:
    query = sa.select(*VERSION_COLUMNS).where(
        definition_versions.c.definition_key == key, definition_versions.c.sha256 == sha256
    )
    return conn.execute(query).mappings().first()


_VERSION = sa.select(*VERSION_COLUMNS).where(definition_versions.c.definition_key == sa.bindparam("key"))
_NUMBERED_VERSION = _VERSION.where(definition_versions.c.number == sa.bindparam("number"))
_LATEST_VERSION = _VERSION.order_by(definition_versions.c.number.desc()).limit(1)
_LATEST_APPROVED_VERSION = (
    _VERSION.where(definition_versions.c.approval == "approved")
    .order_by(definition_versions.c.number.desc())
    .limit(1)
)


def version(
    conn: Connection, key: str, number: int | None, *, approved_only: bool = False
) -> RowMapping | None:
    """The numbered version of ``key``, or its latest (latest approved, with ``approved_only``) when
    ``number`` is None."""
    if number is not None:
        return conn.execute(_NUMBERED_VERSION, {"key": key, "number": number}).mappings().first()
    query = _LATEST_APPROVED_VERSION if approved_only else _LATEST_VERSION
    return conn.execute(query, {"key": key}).mappings().first()


def approve_version(conn: Connection, version_id: int, approved_by: str, at: datetime) -> bool:
    result = conn.execute(
        definition_versions.update()
        .where(definition_versions.c.id == version_id, definition_versions.c.approval == "draft")
        .values(approval="approved", approved_by=approved_by, approved_at=at)
    )
    return result.rowcount == 1


def compiled_spec(conn: Connection, version_id: int) -> str:
    query = sa.select(definition_versions.c.compiled_spec).where(definition_versions.c.id == version_id)
    return conn.execute(query).scalar_one()


def next_version_number(conn: Connection, key: str) -> int:
    query = sa.select(sa.func.max(definition_versions.c.number)).where(
        definition_versions.c.definition_key == key
    )
    return (conn.execute(query).scalar() or 0) + 1


def insert_version(conn: Connection, **values) -> int:
    return conn.execute(definition_versions.insert().values(**values)).inserted_primary_key[0]


def insert_files(conn: Connection, version_id: int, files: Iterable[dict]) -> None:
    conn.execute(definition_files.insert(), [{"version_id": version_id, **f} for f in files])


def files_of_version(conn: Connection, version_id: int) -> list[RowMapping]:
    query = (
        sa.select(definition_files)
        .where(definition_files.c.version_id == version_id)
        .order_by(definition_files.c.filename)
    )
    return list(conn.execute(query).mappings())


# ---- Instances ---------------------------------------------------------------------------------------


_INSERT_INSTANCE = instances.insert()
_INSTANCE = sa.select(instances).where(instances.c.id == sa.bindparam("instance_id"))
_LOCK_INSTANCE = {
    False: _INSTANCE.with_for_update(),
    True: _INSTANCE.with_for_update(skip_locked=True),
}


def insert_instance(conn: Connection, **values) -> None:
    conn.execute(_INSERT_INSTANCE, values)


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


def events_of(conn: Connection, instance_id: str) -> list[RowMapping]:
    query = (
        sa.select(instance_events)
        .where(instance_events.c.instance_id == instance_id)
        .order_by(instance_events.c.id)
    )
    return list(conn.execute(query).mappings())


# ---- Waits: timers and messages -----------------------------------------------------------------------


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
    """(instance id, its earliest due time) for instances with a timer due by ``now``, most overdue first."""
    earliest = sa.func.min(waits.c.due_at)
    query = (
        sa.select(waits.c.instance_id, earliest)
        .where(waits.c.kind == "timer", waits.c.due_at <= now)
        .group_by(waits.c.instance_id)
        .order_by(earliest)
        .limit(limit)
    )
    return [(instance_id, _aware(due_at)) for instance_id, due_at in conn.execute(query)]


def count_timers_due(conn: Connection, now: datetime) -> int:
    query = (
        sa.select(sa.func.count()).select_from(waits).where(waits.c.kind == "timer", waits.c.due_at <= now)
    )
    return conn.execute(query).scalar_one()


def outbox_depth(conn: Connection) -> int:
    """Notifications not yet delivered (pending deliveries, including those waiting to retry)."""
    query = sa.select(sa.func.count()).select_from(deliveries).where(deliveries.c.status == "pending")
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


def routed_to_organisation(conn: Connection, instance_ids: list[str], organisation: str) -> list[str]:
    """Those of ``instance_ids`` with a hand-off routed to a service of ``organisation``."""
    if not instance_ids:
        return []
    query = (
        sa.select(handoffs.c.instance_id)
        .join(services, services.c.id == handoffs.c.to_service)
        .where(handoffs.c.instance_id.in_(instance_ids), services.c.organisation == organisation)
        .distinct()
    )
    return list(conn.execute(query).scalars())


_INSERT_CORRELATIONS = correlations.insert()


def insert_correlations(conn: Connection, instance_id: str, values: dict[str, str]) -> None:
    """The correlation values of a new instance (they never change afterwards)."""
    if values:
        conn.execute(
            _INSERT_CORRELATIONS,
            [{"instance_id": instance_id, "key": k, "value": v} for k, v in values.items()],
        )
    _memo(conn).setdefault("correlations", {})[instance_id] = dict(values)


# ---- User tasks ------------------------------------------------------------------------------------------


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
    result = conn.execute(
        user_tasks.update()
        .where(user_tasks.c.id == task_id, user_tasks.c.status == "ready")
        .values(status="claimed", claimed_by=claimed_by)
    )
    return result.rowcount == 1


_USER_TASKS = sa.select(
    user_tasks,
    referrals.c.id.label("referral_id"),
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
    conn: Connection, *, instance_ids=None, lane=None, status=None, task_id=None, scope=None, limit=100
) -> list[RowMapping]:
    query = _USER_TASKS
    if scope is not None:
        query = query.where(visible_referrals(scope))
    if task_id is not None:
        query = query.where(user_tasks.c.id == task_id)
    if instance_ids is not None:
        query = query.where(user_tasks.c.instance_id.in_(instance_ids))
    if lane is not None:
        query = query.where(user_tasks.c.lane == lane)
    if isinstance(status, str):
        query = query.where(user_tasks.c.status == status)
    elif status is not None:
        query = query.where(user_tasks.c.status.in_(status))
    return list(
        conn.execute(query.order_by(user_tasks.c.created_at, user_tasks.c.id).limit(limit)).mappings()
    )


# ---- Referrals ------------------------------------------------------------------------------------------


_INSERT_REFERRAL = referrals.insert()


def insert_referral(conn: Connection, **values) -> None:
    conn.execute(_INSERT_REFERRAL, values)


def referral(conn: Connection, referral_id: str) -> RowMapping | None:
    return conn.execute(sa.select(referrals).where(referrals.c.id == referral_id)).mappings().first()


_REFERRAL_OVERVIEW = (
    sa.select(
        referrals,
        instances.c.status,
        instances.c.data,
        instances.c.incident_task,
        instances.c.incident_error,
        instances.c.updated_at,
        instances.c.completed_at,
        definition_versions.c.definition_key,
        definition_versions.c.number.label("version_number"),
    )
    .join(instances, instances.c.id == referrals.c.instance_id)
    .join(definition_versions, definition_versions.c.id == instances.c.version_id)
)
_REFERRAL_OVERVIEW_BY_ID = _REFERRAL_OVERVIEW.where(referrals.c.id == sa.bindparam("key"))
_REFERRAL_OVERVIEW_BY_INSTANCE = _REFERRAL_OVERVIEW.where(referrals.c.instance_id == sa.bindparam("key"))


def referral_overview(conn: Connection, *, referral_id=None, instance_id=None) -> RowMapping | None:
    """A referral with its instance's status and data and its pathway version, in one query."""
    if referral_id is not None:
        query, key = _REFERRAL_OVERVIEW_BY_ID, referral_id
    else:
        query, key = _REFERRAL_OVERVIEW_BY_INSTANCE, instance_id
    return conn.execute(query, {"key": key}).mappings().first()


# ---- Idempotency ----------------------------------------------------------------------------------------


def idempotent_result(conn: Connection, client_id: int, scope: str, key: str) -> RowMapping | None:
    query = sa.select(idempotency_keys).where(
        idempotency_keys.c.client_id == client_id,
        idempotency_keys.c.scope == scope,
        idempotency_keys.c.key == key,
    )
    return conn.execute(query).mappings().first()


def insert_idempotent_result(conn: Connection, **values) -> None:
    conn.execute(idempotency_keys.insert().values(**values))


# ---- Services -------------------------------------------------------------------------------------------


_SERVICES_BY_ID = sa.select(services).where(services.c.id.in_(sa.bindparam("ids", expanding=True)))
_POINTS_OF_ACCESS = sa.select(services).where(services.c.kind == "point-of-access")


def upsert_service(conn: Connection, values: dict) -> None:
    _memo(conn).pop("services", None)
    updated = conn.execute(services.update().where(services.c.id == values["id"]).values(**values))
    if updated.rowcount == 0:
        conn.execute(services.insert().values(**values))


def service(conn: Connection, service_id: str) -> RowMapping | None:
    return services_by_id(conn, (service_id,)).get(service_id)


def points_of_access_for(conn: Connection, pathway_key: str) -> list[RowMapping]:
    """The points of access that handle referrals on ``pathway_key`` (few rows: filtered here, not in SQL,
    because JSON containment differs between the databases)."""
    rows = conn.execute(_POINTS_OF_ACCESS).mappings()
    return [row for row in rows if pathway_key in (row["pathways"] or ())]


def services_by_id(conn: Connection, service_ids: Iterable[str]) -> dict[str, RowMapping]:
    """The services among ``service_ids`` that exist, read once per transaction."""
    known = _memo(conn).setdefault("services", {})
    wanted = set(service_ids)
    missing = wanted - known.keys()
    if missing:
        found = {row["id"]: row for row in conn.execute(_SERVICES_BY_ID, {"ids": list(missing)}).mappings()}
        known.update({service_id: found.get(service_id) for service_id in missing})
    return {service_id: known[service_id] for service_id in wanted if known[service_id] is not None}


def list_services(conn: Connection, *, organisation: str | None = None) -> list[RowMapping]:
    query = sa.select(services).order_by(services.c.kind, services.c.id)
    if organisation is not None:
        query = query.where(services.c.organisation == organisation)
    return list(conn.execute(query).mappings())


# ---- Hand-offs ------------------------------------------------------------------------------------------


_INSERT_HANDOFF = handoffs.insert()
_HANDOFFS = sa.select(handoffs, referrals.c.id.label("referral_id")).join(
    referrals, referrals.c.instance_id == handoffs.c.instance_id, isouter=True
)
_HANDOFF = _HANDOFFS.where(handoffs.c.id == sa.bindparam("handoff_id"))
_HANDOFF_WITH_SERVICE = (
    _HANDOFFS.add_columns(
        services.c.id.label("service_id"),
        services.c.name.label("service_name"),
        services.c.organisation.label("service_organisation"),
    )
    .join(services, services.c.id == handoffs.c.to_service, isouter=True)
    .where(handoffs.c.id == sa.bindparam("handoff_id"))
)
_UPDATE_HANDOFF = handoffs.update().where(
    handoffs.c.id == sa.bindparam("b_id"), handoffs.c.version == sa.bindparam("b_version")
)
# The order hand-offs were made in, even when several share a time (made in one change): every hand-off's
# first transition is its routing, and transition ids increase.
_ROUTING_ORDER = (
    sa.select(sa.func.min(handoff_transitions.c.id))
    .where(handoff_transitions.c.handoff_id == handoffs.c.id)
    .scalar_subquery()
)
_HANDOFFS_OF_INSTANCE = _HANDOFFS.where(handoffs.c.instance_id == sa.bindparam("instance_id")).order_by(
    handoffs.c.created_at, _ROUTING_ORDER
)
_INSERT_TRANSITION = handoff_transitions.insert()


def insert_handoff(conn: Connection, values: dict) -> None:
    conn.execute(_INSERT_HANDOFF, values)


def handoff(conn: Connection, handoff_id: str) -> RowMapping | None:
    return conn.execute(_HANDOFF, {"handoff_id": handoff_id}).mappings().first()


def handoff_with_service(conn: Connection, handoff_id: str) -> RowMapping | None:
    """A hand-off (as ``handoff``) with the id, name and organisation of the service it is routed to, as
    ``service_id``, ``service_name`` and ``service_organisation`` (None when the service is unknown)."""
    return conn.execute(_HANDOFF_WITH_SERVICE, {"handoff_id": handoff_id}).mappings().first()


def update_handoff(conn: Connection, handoff_id: str, expected_version: int, values: dict) -> bool:
    result = conn.execute(
        _UPDATE_HANDOFF,
        {"b_id": handoff_id, "b_version": expected_version, "version": expected_version + 1, **values},
    )
    return result.rowcount == 1


def handoffs_of_instance(conn: Connection, instance_id: str) -> list[RowMapping]:
    return list(conn.execute(_HANDOFFS_OF_INSTANCE, {"instance_id": instance_id}).mappings())


def service_queue(
    conn: Connection, service_id: str, statuses: Iterable[str] | None, limit: int
) -> list[RowMapping]:
    query = (
        sa.select(handoffs, referrals.c.id.label("referral_id"))
        .join(referrals, referrals.c.instance_id == handoffs.c.instance_id, isouter=True)
        .where(handoffs.c.to_service == service_id)
        .order_by(handoffs.c.created_at, handoffs.c.id)
        .limit(limit)
    )
    if statuses is not None:
        query = query.where(handoffs.c.status.in_(list(statuses)))
    return list(conn.execute(query).mappings())


def insert_transition(conn: Connection, values: dict) -> None:
    conn.execute(_INSERT_TRANSITION, values)


def transitions_of_handoff(conn: Connection, handoff_id: str) -> list[RowMapping]:
    query = (
        sa.select(handoff_transitions)
        .where(handoff_transitions.c.handoff_id == handoff_id)
        .order_by(handoff_transitions.c.at, handoff_transitions.c.id)
    )
    return list(conn.execute(query).mappings())


def visible_referrals(scope) -> sa.ColumnElement[bool]:
    """The condition on ``referrals`` for an ``engine.access.ReferralScope``: any of its parts matching."""
    conditions = []
    if scope.submitted_by is not None:
        conditions.append(referrals.c.referrer_organisation == scope.submitted_by)
    if scope.point_of_access is not None:
        conditions.append(referrals.c.point_of_access == scope.point_of_access)
    if scope.operated_by is not None:
        conditions.append(referrals.c.operated_by == scope.operated_by)
    return sa.or_(*conditions) if conditions else sa.false()


def open_referrals_of_subject(conn: Connection, subject: str, scope) -> list[str]:
    query = (
        sa.select(referrals.c.id)
        .join(instances, instances.c.id == referrals.c.instance_id)
        .where(
            referrals.c.subject == subject,
            instances.c.status.not_in(("completed", "cancelled")),
            visible_referrals(scope),
        )
        .order_by(referrals.c.created_at)
    )
    return list(conn.execute(query).scalars())


def instances_in_scope(conn: Connection, instance_ids: list[str], scope) -> list[str]:
    """Those of ``instance_ids`` whose referral ``scope`` may see."""
    if not instance_ids:
        return []
    query = sa.select(referrals.c.instance_id).where(
        referrals.c.instance_id.in_(instance_ids), visible_referrals(scope)
    )
    return list(conn.execute(query).scalars())


def referrals_of_subject(conn: Connection, subject: str) -> list[str]:
    query = sa.select(referrals.c.id).where(referrals.c.subject == subject).order_by(referrals.c.created_at)
    return list(conn.execute(query).scalars())


def referrals_due_for_redaction(conn: Connection, ended_before: datetime, limit: int) -> list[RowMapping]:
    """Referrals whose pathway ended (completed or cancelled) before ``ended_before`` and still hold their
    personal data, oldest first."""
    query = (
        sa.select(referrals.c.id, referrals.c.instance_id)
        .join(instances, instances.c.id == referrals.c.instance_id)
        .where(instances.c.completed_at < ended_before, referrals.c.redacted_at.is_(None))
        .order_by(instances.c.completed_at)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


REDACTED = "[redacted]"


def redact_referral(conn: Connection, referral_id: str, instance_id: str, at: datetime) -> None:
    """Remove what identifies or describes the person; keep ids, statuses, times and OLA facts."""
    conn.execute(
        referrals.update()
        .where(referrals.c.id == referral_id)
        .values(
            referrer=REDACTED,
            subject=None,
            subject_verification=None,
            cancel_reason=None,
            redacted_at=at,
        )
    )
    conn.execute(
        instances.update()
        .where(instances.c.id == instance_id)
        # A finished pathway never runs again, so its serialized state is not needed to account for it.
        .values(state="{}", data="{}", incident_error=None)
    )
    conn.execute(
        instance_events.update().where(instance_events.c.instance_id == instance_id).values(detail=None)
    )
    handoff_ids = sa.select(handoffs.c.id).where(handoffs.c.instance_id == instance_id).scalar_subquery()
    conn.execute(
        handoff_transitions.update()
        .where(handoff_transitions.c.handoff_id.in_(handoff_ids))
        .values(detail=None)
    )
    conn.execute(
        handoffs.update()
        .where(handoffs.c.instance_id == instance_id)
        .values(
            payload={},
            reason=None,
            status_reason=None,
            question=None,
            answer=None,
            window=None,
            outcome=None,
        )
    )


def forget_idempotency_answers(conn: Connection, created_before: datetime) -> None:
    conn.execute(idempotency_keys.delete().where(idempotency_keys.c.created_at < created_before))


def set_referral_cancelled(conn: Connection, referral_id: str, at: datetime, reason: str) -> None:
    conn.execute(
        referrals.update().where(referrals.c.id == referral_id).values(cancelled_at=at, cancel_reason=reason)
    )


# ---- OLA terms and clocks --------------------------------------------------------------------------------


_OLA_TERMS = sa.select(ola_terms).order_by(ola_terms.c.name)
_INSERT_CLOCK = ola_clocks.insert()
_UPDATE_CLOCK = ola_clocks.update().where(ola_clocks.c.id == sa.bindparam("b_id"))
_CLOCKS_OF_HANDOFF = (
    sa.select(ola_clocks)
    .where(ola_clocks.c.handoff_id == sa.bindparam("handoff_id"))
    .order_by(ola_clocks.c.started_at)
)
_CLOCKS_OF_INSTANCE = (
    sa.select(ola_clocks)
    .where(ola_clocks.c.instance_id == sa.bindparam("instance_id"))
    .order_by(ola_clocks.c.started_at, ola_clocks.c.obligation)
)


def replace_ola_terms(conn: Connection, rows: list[dict]) -> None:
    _memo(conn).pop("ola_terms", None)
    conn.execute(ola_terms.delete())
    if rows:
        conn.execute(ola_terms.insert(), rows)


def ola_terms_rows(conn: Connection) -> list[RowMapping]:
    """Every OLA's terms, read once per transaction."""
    memo = _memo(conn)
    if "ola_terms" not in memo:
        memo["ola_terms"] = list(conn.execute(_OLA_TERMS).mappings())
    return list(memo["ola_terms"])


def insert_clock(conn: Connection, values: dict) -> None:
    conn.execute(_INSERT_CLOCK, values)


def update_clock(conn: Connection, clock_id: str, values: dict) -> None:
    conn.execute(_UPDATE_CLOCK, {"b_id": clock_id, **values})


def clocks_of_handoff(conn: Connection, handoff_id: str) -> list[RowMapping]:
    return list(conn.execute(_CLOCKS_OF_HANDOFF, {"handoff_id": handoff_id}).mappings())


def clocks_of_instance(conn: Connection, instance_id: str) -> list[RowMapping]:
    return list(conn.execute(_CLOCKS_OF_INSTANCE, {"instance_id": instance_id}).mappings())


def clocks_needing_attention(conn: Connection, now: datetime, limit: int) -> list[RowMapping]:
    """Running clocks with a warning or breach due by ``now``, served by their (state, next_check) index."""
    query = (
        sa.select(ola_clocks.c.id, ola_clocks.c.instance_id)
        .where(ola_clocks.c.state == "running", ola_clocks.c.next_check_at <= now)
        .order_by(ola_clocks.c.next_check_at)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def clock(conn: Connection, clock_id: str) -> RowMapping | None:
    return conn.execute(sa.select(ola_clocks).where(ola_clocks.c.id == clock_id)).mappings().first()


def clocks_at_risk(
    conn: Connection,
    *,
    states: list[str],
    due_before: datetime | None,
    to_services=None,
    scope=None,
    limit: int = 200,
) -> list[RowMapping]:
    """Clocks in ``states``, soonest due first; limited to hand-offs to ``to_services`` and/or referrals
    ``scope`` may see (either is enough) when given."""
    query = (
        sa.select(ola_clocks, referrals.c.id.label("referral_id"), referrals.c.reference)
        .join(referrals, referrals.c.instance_id == ola_clocks.c.instance_id)
        .where(ola_clocks.c.state.in_(states))
        .order_by(ola_clocks.c.due_at)
        .limit(limit)
    )
    if due_before is not None:
        query = query.where(ola_clocks.c.due_at <= due_before)
    visible = []
    if to_services is not None:
        visible.append(ola_clocks.c.to_service.in_(list(to_services)))
    if scope is not None:
        visible.append(visible_referrals(scope))
    if visible:
        query = query.where(sa.or_(*visible))
    return list(conn.execute(query).mappings())


def clocks_stopped_between(conn: Connection, start: datetime, end: datetime) -> list[RowMapping]:
    """Clocks that were met or breached in [start, end): what OLA reports count."""
    met = sa.and_(
        ola_clocks.c.state == "met", ola_clocks.c.stopped_at >= start, ola_clocks.c.stopped_at < end
    )
    breached = sa.and_(
        ola_clocks.c.state == "breached", ola_clocks.c.breached_at >= start, ola_clocks.c.breached_at < end
    )
    return list(conn.execute(sa.select(ola_clocks).where(sa.or_(met, breached))).mappings())


_INSERT_MILESTONES = milestones.insert()
_CLOSURES_OF_CALENDAR = (
    sa.select(calendar_closures)
    .where(calendar_closures.c.calendar == sa.bindparam("calendar"))
    .order_by(calendar_closures.c.starts_at)
)


def insert_milestones(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(_INSERT_MILESTONES, rows)


def closures_of_calendar(conn: Connection, calendar_name: str) -> list[RowMapping]:
    """A calendar's closures, read once per transaction."""
    known = _memo(conn).setdefault("closures", {})
    if calendar_name not in known:
        known[calendar_name] = list(
            conn.execute(_CLOSURES_OF_CALENDAR, {"calendar": calendar_name}).mappings()
        )
    return list(known[calendar_name])


def insert_closure(conn: Connection, **values) -> int:
    _memo(conn).pop("closures", None)
    return conn.execute(calendar_closures.insert().values(**values)).inserted_primary_key[0]


def closure(conn: Connection, closure_id: int) -> RowMapping | None:
    return (
        conn.execute(sa.select(calendar_closures).where(calendar_closures.c.id == closure_id))
        .mappings()
        .first()
    )


def delete_closure(conn: Connection, calendar_name: str, closure_id: int) -> bool:
    _memo(conn).pop("closures", None)
    result = conn.execute(
        calendar_closures.delete().where(
            calendar_closures.c.id == closure_id, calendar_closures.c.calendar == calendar_name
        )
    )
    return result.rowcount == 1


def running_clocks_on(conn: Connection, calendar_name: str) -> list[RowMapping]:
    query = sa.select(ola_clocks).where(
        ola_clocks.c.calendar == calendar_name, ola_clocks.c.state == "running"
    )
    return list(conn.execute(query).mappings())


_CORRELATION_VALUES = sa.select(correlations.c.key, correlations.c.value).where(
    correlations.c.instance_id == sa.bindparam("instance_id")
)


def correlation_values(conn: Connection, instance_id: str) -> dict[str, str]:
    """An instance's correlation values, read once per transaction."""
    known = _memo(conn).setdefault("correlations", {})
    if instance_id not in known:
        known[instance_id] = dict(conn.execute(_CORRELATION_VALUES, {"instance_id": instance_id}).all())
    return dict(known[instance_id])


# ---- Notifications --------------------------------------------------------------------------------------


def insert_subscription(conn: Connection, values: dict) -> None:
    conn.execute(subscriptions.insert().values(**values))


def subscription(conn: Connection, subscription_id: str, *, lock: bool = False) -> RowMapping | None:
    query = sa.select(subscriptions).where(subscriptions.c.id == subscription_id)
    return conn.execute(query.with_for_update() if lock else query).mappings().first()


def update_subscription(conn: Connection, subscription_id: str, values: dict) -> None:
    conn.execute(subscriptions.update().where(subscriptions.c.id == subscription_id).values(**values))


def subscriptions_with_secrets(conn: Connection) -> list[RowMapping]:
    """Every subscription holding a secret, locked (a secret rotated meanwhile must not be overwritten)."""
    query = (
        sa.select(subscriptions.c.id, subscriptions.c.secret, subscriptions.c.previous_secret)
        .where(sa.or_(subscriptions.c.secret.is_not(None), subscriptions.c.previous_secret.is_not(None)))
        .order_by(subscriptions.c.id)
        .with_for_update()
    )
    return list(conn.execute(query).mappings())


def subscriptions_of(conn: Connection, organisation: str) -> list[RowMapping]:
    query = (
        sa.select(subscriptions)
        .where(subscriptions.c.organisation == organisation)
        .order_by(subscriptions.c.created_at)
    )
    return list(conn.execute(query).mappings())


_SUBSCRIPTIONS_FOR_REFERRAL = (
    sa.select(subscriptions)
    .where(
        subscriptions.c.status == "active",
        sa.or_(
            subscriptions.c.referral_id == sa.bindparam("referral_id"),
            sa.and_(
                subscriptions.c.all_referrals.is_(True),
                subscriptions.c.organisation == sa.bindparam("organisation"),
            ),
        ),
    )
    .order_by(subscriptions.c.id)
    .with_for_update()
)
_INSERT_NOTIFICATION_EVENTS = notification_events.insert().returning(
    notification_events.c.id, sort_by_parameter_order=True
)
_INSERT_DELIVERIES = deliveries.insert()


def subscriptions_for_referral(conn: Connection, referral_id: str, organisation: str) -> list[RowMapping]:
    """Active subscriptions that cover a referral, locked in id order (the same order in every writer, so
    two transactions numbering events for one subscription queue instead of deadlocking)."""
    params = {"referral_id": referral_id, "organisation": organisation}
    return list(conn.execute(_SUBSCRIPTIONS_FOR_REFERRAL, params).mappings())


def insert_notification_events(conn: Connection, rows: list[dict]) -> list[int]:
    """Insert the events in one statement; returns their ids in the order of ``rows``."""
    if not rows:
        return []
    return list(conn.execute(_INSERT_NOTIFICATION_EVENTS, rows).scalars())


def notification_events_since(
    conn: Connection, subscription_id: str, since: int, limit: int
) -> list[RowMapping]:
    query = (
        sa.select(notification_events)
        .where(notification_events.c.subscription_id == subscription_id, notification_events.c.number > since)
        .order_by(notification_events.c.number)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def insert_deliveries(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(_INSERT_DELIVERIES, rows)


def claim_deliveries(conn: Connection, now: datetime, lease_until: datetime, limit: int) -> list[RowMapping]:
    """Claim the due head-of-line delivery of each subscription (so each receiver gets its events in order),
    skipping rows another worker holds; the claim is a lease that expires if this worker dies."""
    heads = (
        sa.select(sa.func.min(deliveries.c.id))
        .where(deliveries.c.status == "pending")
        .group_by(deliveries.c.subscription_id)
        .scalar_subquery()
    )
    query = (
        sa.select(deliveries)
        .where(
            deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now, deliveries.c.id.in_(heads)
        )
        .order_by(deliveries.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = list(conn.execute(query).mappings())
    for row in claimed:
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id == row["id"])
            .values(attempts=row["attempts"] + 1, next_attempt_at=lease_until)
        )
    return claimed


def finish_delivery(conn: Connection, delivery_id: int, claimed_attempts: int, values: dict) -> bool:
    """Record an attempt's result unless the claim was lost (its lease ran out and another worker took it)."""
    result = conn.execute(
        deliveries.update()
        .where(deliveries.c.id == delivery_id, deliveries.c.attempts == claimed_attempts + 1)
        .values(**values)
    )
    return result.rowcount == 1


def insert_attempt(conn: Connection, values: dict) -> None:
    conn.execute(delivery_attempts.insert().values(**values))


def delivery(conn: Connection, delivery_id: int) -> RowMapping | None:
    return conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).mappings().first()


def update_delivery(conn: Connection, delivery_id: int, values: dict) -> None:
    conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))


def disable_pending_deliveries(conn: Connection, subscription_id: str) -> None:
    conn.execute(
        deliveries.update()
        .where(deliveries.c.subscription_id == subscription_id, deliveries.c.status == "pending")
        .values(status="disabled", next_attempt_at=None)
    )


def delivery_log(
    conn: Connection, *, subscription_id=None, referral_id=None, limit: int = 500
) -> list[RowMapping]:
    query = (
        sa.select(deliveries, notification_events.c.number, notification_events.c.event_type)
        .join(notification_events, notification_events.c.id == deliveries.c.event_id)
        .order_by(deliveries.c.id)
        .limit(limit)
    )
    if subscription_id is not None:
        query = query.where(deliveries.c.subscription_id == subscription_id)
    if referral_id is not None:
        query = query.where(deliveries.c.referral_id == referral_id)
    return list(conn.execute(query).mappings())


def attempts_of(conn: Connection, delivery_ids: list[int]) -> list[RowMapping]:
    query = (
        sa.select(delivery_attempts)
        .where(delivery_attempts.c.delivery_id.in_(delivery_ids))
        .order_by(delivery_attempts.c.id)
    )
    return list(conn.execute(query).mappings())


def notification_event(conn: Connection, event_id: int) -> RowMapping | None:
    return (
        conn.execute(sa.select(notification_events).where(notification_events.c.id == event_id))
        .mappings()
        .first()
    )


# ---- Audit ------------------------------------------------------------------------------------------------


def lock_audit_head(conn: Connection) -> RowMapping | None:
    return (
        conn.execute(sa.select(audit_head).where(audit_head.c.id == 1).with_for_update()).mappings().first()
    )


def insert_audit(conn: Connection, values: dict) -> int:
    return conn.execute(audit_log.insert().values(**values)).inserted_primary_key[0]


def set_audit_head(conn: Connection, hash_: str, last_id: int, *, create: bool) -> None:
    if create:
        conn.execute(audit_head.insert().values(id=1, hash=hash_, last_id=last_id))
    else:
        conn.execute(audit_head.update().where(audit_head.c.id == 1).values(hash=hash_, last_id=last_id))


def audit_records(
    conn: Connection, *, referral_id: str | None = None, after_id: int = 0, limit: int | None = None
) -> list[RowMapping]:
    query = sa.select(audit_log).where(audit_log.c.id > after_id).order_by(audit_log.c.id)
    if referral_id is not None:
        query = query.where(audit_log.c.referral_id == referral_id)
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).mappings())


def audit_head_row(conn: Connection) -> RowMapping | None:
    return conn.execute(sa.select(audit_head).where(audit_head.c.id == 1)).mappings().first()
