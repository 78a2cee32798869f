"""Referrals: who may see which, a person's open referrals, cancelling, and redacting personal data."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store.db import note_change
from engine.store.tables import (
    definition_versions,
    handoff_transitions,
    handoffs,
    instance_events,
    instances,
    referrals,
    services,
)

_INSERT_REFERRAL = referrals.insert()


def insert_referral(conn: Connection, **values) -> None:
    conn.execute(_INSERT_REFERRAL, values)
    note_change(conn, "referral", values["id"])


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


def concerns_organisation(conn: Connection, referral_id: str, organisation: str) -> bool:
    """Whether ``organisation`` submitted the referral, operates it (runs its point of access) or runs a
    service a hand-off of it was routed to: what an organisation's auditor may read about."""
    routed = (
        sa.select(handoffs.c.id)
        .join(services, services.c.id == handoffs.c.to_service)
        .where(handoffs.c.instance_id == referrals.c.instance_id, services.c.organisation == organisation)
        .exists()
    )
    query = sa.select(referrals.c.id).where(
        referrals.c.id == referral_id,
        sa.or_(
            referrals.c.referrer_organisation == organisation, referrals.c.operated_by == organisation, routed
        ),
    )
    return conn.execute(query).first() is not None


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


def visible_referrals_page(
    conn: Connection, scope, limit: int, after: tuple[datetime, str] | None = None
) -> list[tuple[str, datetime]]:
    """(id, created_at) of up to ``limit`` referrals ``scope`` may see, newest first, from just after the
    referral ``after`` names (its created_at and id): a keyset page, as quick deep in the list as on top."""
    query = sa.select(referrals.c.id, referrals.c.created_at).where(visible_referrals(scope))
    if after is not None:
        created_at, referral_id = after
        query = query.where(
            sa.or_(
                referrals.c.created_at < created_at,
                sa.and_(referrals.c.created_at == created_at, referrals.c.id < referral_id),
            )
        )
    query = query.order_by(referrals.c.created_at.desc(), referrals.c.id.desc()).limit(limit)
    return [(row.id, row.created_at) for row in conn.execute(query)]


def instances_of_version(
    conn: Connection, version_id: int, start: datetime, end: datetime, scope, *, limit: int
) -> list[str]:
    """The instances of the referrals started on a pathway version in [start, end), within ``scope`` (every
    one when it is None), up to ``limit``."""
    query = (
        sa.select(referrals.c.instance_id)
        .join(instances, instances.c.id == referrals.c.instance_id)
        .where(
            instances.c.version_id == version_id,
            referrals.c.created_at >= start,
            referrals.c.created_at < end,
        )
    )
    if scope is not None:
        query = query.where(visible_referrals(scope))
    return list(conn.execute(query.limit(limit)).scalars())


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
    note_change(conn, "referral", referral_id)
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


def set_referral_cancelled(conn: Connection, referral_id: str, at: datetime, reason: str) -> None:
    note_change(conn, "referral", referral_id)
    conn.execute(
        referrals.update().where(referrals.c.id == referral_id).values(cancelled_at=at, cancel_reason=reason)
    )
