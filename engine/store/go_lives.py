"""Go-lives of pathway versions and the points of access they apply at (``go_lives``, ``go_live_points``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store.tables import definition_versions, definitions, go_live_points, go_lives, services

_POINTS = (
    sa.select(
        go_live_points.c.id,
        go_live_points.c.go_live_id,
        go_live_points.c.point_of_access,
        go_live_points.c.rolled_back_at,
        go_live_points.c.rolled_back_by,
        go_live_points.c.rollback_reason,
        go_lives.c.definition_key,
        go_lives.c.version_id,
        definition_versions.c.number,
        go_lives.c.kind,
        go_lives.c.live_from,
        go_lives.c.recorded_at,
        go_lives.c.recorded_by,
        go_lives.c.organisation,
        go_lives.c.reason,
        services.c.name.label("point_of_access_name"),
        services.c.organisation.label("point_of_access_organisation"),
    )
    .select_from(
        go_live_points.join(go_lives, go_lives.c.id == go_live_points.c.go_live_id)
        .join(definition_versions, definition_versions.c.id == go_lives.c.version_id)
        .outerjoin(services, services.c.id == go_live_points.c.point_of_access)
    )
    .order_by(go_lives.c.definition_key, go_lives.c.live_from, go_lives.c.id, go_live_points.c.id)
)


def points(conn: Connection, key: str | None) -> list[RowMapping]:
    """Every point of every go-live of ``key`` (of every pathway when None), rolled back or not, with the
    go-live's version number and the point of access's name and organisation; by key, then in the order the
    go-lives take effect (their time, then the order they were recorded in)."""
    query = _POINTS if key is None else _POINTS.where(go_lives.c.definition_key == key)
    return list(conn.execute(query).mappings())


def lock_definition(conn: Connection, key: str) -> RowMapping | None:
    """The definition's row, locked until the transaction ends: go-lives of one pathway are recorded one at a
    time (SQLite's write transactions are serialised already)."""
    query = sa.select(definitions).where(definitions.c.key == key).with_for_update()
    return conn.execute(query).mappings().first()


def insert_go_live(conn: Connection, point_ids: Iterable[str | None], **values) -> int:
    """A go-live (``values``: the columns of ``go_lives``) at each of ``point_ids`` (None: everywhere)."""
    go_live_id = conn.execute(go_lives.insert().values(**values)).inserted_primary_key[0]
    conn.execute(
        go_live_points.insert(), [{"go_live_id": go_live_id, "point_of_access": p} for p in point_ids]
    )
    return go_live_id


def roll_back(conn: Connection, point_row_ids: Iterable[int], *, at: datetime, by: str, reason: str) -> int:
    """Mark the points not yet rolled back among ``point_row_ids`` as rolled back; how many were."""
    result = conn.execute(
        go_live_points.update()
        .where(go_live_points.c.id.in_(list(point_row_ids)), go_live_points.c.rolled_back_at.is_(None))
        .values(rolled_back_at=at, rolled_back_by=by, rollback_reason=reason)
    )
    return result.rowcount
