"""Blueprint parameters and pathway variants of deployed versions, and the referrals on each variant."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store.tables import (
    definition_versions,
    instances,
    pathway_variants,
    referrals,
    version_blueprints,
)


def insert_blueprints(conn: Connection, version_id: int, rows: Iterable[dict]) -> None:
    rows = [{"version_id": version_id, **row} for row in rows]
    if rows:
        conn.execute(version_blueprints.insert(), rows)


def insert_variants(conn: Connection, version_id: int, rows: Iterable[dict]) -> None:
    rows = [{"version_id": version_id, **row} for row in rows]
    if rows:
        conn.execute(pathway_variants.insert(), rows)


def blueprints_of(conn: Connection, version_id: int) -> list[RowMapping]:
    query = (
        sa.select(version_blueprints)
        .where(version_blueprints.c.version_id == version_id)
        .order_by(version_blueprints.c.process_id)
    )
    return list(conn.execute(query).mappings())


def variants_of(conn: Connection, version_ids: Iterable[int] | None) -> list[RowMapping]:
    """The variants of the versions given (of every version when None), by version and name."""
    query = sa.select(pathway_variants).order_by(pathway_variants.c.version_id, pathway_variants.c.name)
    if version_ids is not None:
        query = query.where(pathway_variants.c.version_id.in_(list(version_ids)))
    return list(conn.execute(query).mappings())


def own_blueprints_of(conn: Connection, version_ids: Iterable[int] | None) -> list[RowMapping]:
    """The blueprint of each version's own process (the version's ``process_id``), of the versions given."""
    query = sa.select(version_blueprints).join(
        definition_versions,
        sa.and_(
            definition_versions.c.id == version_blueprints.c.version_id,
            definition_versions.c.process_id == version_blueprints.c.process_id,
        ),
    )
    if version_ids is not None:
        query = query.where(version_blueprints.c.version_id.in_(list(version_ids)))
    return list(conn.execute(query).mappings())


def variant(conn: Connection, version_id: int, name: str) -> RowMapping | None:
    query = sa.select(pathway_variants).where(
        pathway_variants.c.version_id == version_id, pathway_variants.c.name == name
    )
    return conn.execute(query).mappings().first()


def approve_variant(conn: Connection, variant_id: int, approved_by: str, at: datetime, reason: str) -> bool:
    result = conn.execute(
        pathway_variants.update()
        .where(pathway_variants.c.id == variant_id, pathway_variants.c.approval == "draft")
        .values(approval="approved", approved_by=approved_by, approved_at=at, approval_reason=reason)
    )
    return result.rowcount == 1


def referral_counts(conn: Connection, version_ids: Iterable[int] | None) -> dict[tuple[int, str], int]:
    """Referrals ever started on each variant of the versions given (of every version when None), by
    (version id, variant name), in one grouped query; referrals on no variant are not counted."""
    query = (
        sa.select(instances.c.version_id, referrals.c.variant, sa.func.count())
        .select_from(referrals.join(instances, instances.c.id == referrals.c.instance_id))
        .where(referrals.c.variant.is_not(None))
        .group_by(instances.c.version_id, referrals.c.variant)
    )
    if version_ids is not None:
        query = query.where(instances.c.version_id.in_(list(version_ids)))
    return {(version_id, name): count for version_id, name, count in conn.execute(query)}
