"""Hand-offs between services and their transitions."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store.db import note_change
from engine.store.tables import (
    handoff_transitions,
    handoffs,
    referrals,
    services,
)


def routed_to_organisation(
    conn: Connection, instance_ids: list[str], organisation: str, statuses: Iterable[str]
) -> list[str]:
    """Those of ``instance_ids`` with a hand-off in one of ``statuses`` routed to a service of
    ``organisation``."""
    if not instance_ids:
        return []
    query = (
        sa.select(handoffs.c.instance_id)
        .join(services, services.c.id == handoffs.c.to_service)
        .where(
            handoffs.c.instance_id.in_(instance_ids),
            services.c.organisation == organisation,
            handoffs.c.status.in_(list(statuses)),
        )
        .distinct()
    )
    return list(conn.execute(query).scalars())


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
    note_change(conn, "instance", values["instance_id"])


def handoff(conn: Connection, handoff_id: str) -> RowMapping | None:
    return conn.execute(_HANDOFF, {"handoff_id": handoff_id}).mappings().first()


def handoff_with_service(conn: Connection, handoff_id: str) -> RowMapping | None:
    """A hand-off (as ``handoff``) with the id, name and organisation of the service it is routed to, as
    ``service_id``, ``service_name`` and ``service_organisation`` (None when the service is unknown)."""
    return conn.execute(_HANDOFF_WITH_SERVICE, {"handoff_id": handoff_id}).mappings().first()


def update_handoff(conn: Connection, handoff_id: str, expected_version: int, values: dict) -> bool:
    note_change(conn, "handoff", handoff_id)
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
