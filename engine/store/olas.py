"""OLA terms, the clocks of the obligations on each hand-off, and calendar closures."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store import reference_data
from engine.store.referrals import visible_referrals
from engine.store.tables import (
    calendar_closures,
    ola_clocks,
    ola_terms,
    referrals,
)

# A clock in these states has not stopped (stopping one makes it met, cancelled or breached).
NEVER_STOPPED = ("running", "paused")

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
    reference_data.changed(conn)
    conn.execute(ola_terms.delete())
    if rows:
        conn.execute(ola_terms.insert(), rows)


def ola_terms_rows(conn: Connection) -> list[RowMapping]:
    """Every OLA's terms (kept between transactions while they are unchanged: ``reference_data``)."""
    return list(reference_data.read(conn, "ola_terms", lambda: list(conn.execute(_OLA_TERMS).mappings())))


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
    open_only: bool = False,
) -> list[RowMapping]:
    """Clocks in ``states``, soonest due first (paused ones, which have no due time, last); limited to
    hand-offs to ``to_services`` and/or referrals ``scope`` may see (either is enough) when given; with
    ``open_only``, only those not stopped (a breached clock stays breached once met late).

    Each state is asked for on its own, walking an index in due time order (the open clocks' partial one
    when it applies) and stopping at ``limit``, and the database merges them: one query for several states
    at once would sort all their clocks first, and breached clocks pile up as history."""
    visible = []
    if to_services is not None:
        visible.append(ola_clocks.c.to_service.in_(list(to_services)))
    if scope is not None:
        visible.append(visible_referrals(scope))
    per_state = []
    for state in dict.fromkeys(states):
        query = (
            sa.select(ola_clocks, referrals.c.id.label("referral_id"), referrals.c.reference)
            .join(referrals, referrals.c.instance_id == ola_clocks.c.instance_id)
            .where(ola_clocks.c.state == state)
            .order_by(ola_clocks.c.due_at)
            .limit(limit)
        )
        if open_only or state in NEVER_STOPPED:
            query = query.where(ola_clocks.c.stopped_at.is_(None))
        if due_before is not None:
            query = query.where(ola_clocks.c.due_at <= due_before)
        if visible:
            query = query.where(sa.or_(*visible))
        per_state.append(sa.select(query.subquery()))
    if not per_state:
        return []
    merged = sa.union_all(*per_state).subquery()
    # Paused clocks have no due time: after every due time, on every database.
    query = sa.select(merged).order_by(merged.c.due_at.asc().nulls_last(), merged.c.id).limit(limit)
    return list(conn.execute(query).mappings())


def clocks_stopped_between(
    conn: Connection, start: datetime, end: datetime, organisation: str | None = None
) -> list[RowMapping]:
    """Clocks that were met or breached in [start, end): what OLA reports count; with ``organisation``,
    only those of hand-offs it sent or received."""
    met = sa.and_(
        ola_clocks.c.state == "met", ola_clocks.c.stopped_at >= start, ola_clocks.c.stopped_at < end
    )
    breached = sa.and_(
        ola_clocks.c.state == "breached", ola_clocks.c.breached_at >= start, ola_clocks.c.breached_at < end
    )
    query = sa.select(ola_clocks).where(sa.or_(met, breached))
    if organisation is not None:
        query = query.where(
            sa.or_(
                ola_clocks.c.from_organisation == organisation, ola_clocks.c.to_organisation == organisation
            )
        )
    return list(conn.execute(query).mappings())


_CLOSURES_OF_CALENDAR = (
    sa.select(calendar_closures)
    .where(calendar_closures.c.calendar == sa.bindparam("calendar"))
    .order_by(calendar_closures.c.starts_at)
)


def closures_of_calendar(conn: Connection, calendar_name: str) -> list[RowMapping]:
    """A calendar's closures (kept between transactions while they are unchanged: ``reference_data``)."""
    closures = reference_data.read(
        conn,
        ("closures", calendar_name),
        lambda: list(conn.execute(_CLOSURES_OF_CALENDAR, {"calendar": calendar_name}).mappings()),
    )
    return list(closures)


def insert_closure(conn: Connection, **values) -> int:
    reference_data.changed(conn)
    return conn.execute(calendar_closures.insert().values(**values)).inserted_primary_key[0]


def closure(conn: Connection, closure_id: int) -> RowMapping | None:
    return (
        conn.execute(sa.select(calendar_closures).where(calendar_closures.c.id == closure_id))
        .mappings()
        .first()
    )


def delete_closure(conn: Connection, calendar_name: str, closure_id: int) -> bool:
    reference_data.changed(conn)
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
