"""Milestones, subscriptions, numbered notification events, deliveries and their attempts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store.tables import (
    deliveries,
    delivery_attempts,
    milestones,
    notification_events,
    subscriptions,
)


def outbox_depth(conn: Connection) -> int:
    """Notifications not yet delivered (pending deliveries, including those waiting to retry)."""
    query = sa.select(sa.func.count()).select_from(deliveries).where(deliveries.c.status == "pending")
    return conn.execute(query).scalar_one()


_INSERT_MILESTONES = milestones.insert()


def insert_milestones(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(_INSERT_MILESTONES, rows)


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
