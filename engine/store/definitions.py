"""Pathway definitions, their versions (with the compiled spec stored once per version) and source files."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store.tables import (
    definition_files,
    definition_versions,
    definitions,
    instances,
    referrals,
)

# PostgreSQL enforces the length and refuses NUL characters in text; SQLite would store both.
LONGEST_FILENAME = definition_files.c.filename.type.length


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


def versions_of(conn: Connection, key: str | None) -> list[RowMapping]:
    """The versions of ``key`` (of every definition when None), by key and number."""
    query = sa.select(*VERSION_COLUMNS).order_by(
        definition_versions.c.definition_key, definition_versions.c.number
    )
    if key is not None:
        query = query.where(definition_versions.c.definition_key == key)
    return list(conn.execute(query).mappings())


def referral_counts(
    conn: Connection, version_ids: Iterable[int] | None, finished: tuple[str, ...]
) -> dict[int, tuple[int, int]]:
    """Referrals per version as (running, in all), in one grouped query: of the versions given, or of every
    version when None. A referral runs until its instance's status is one of ``finished``. Versions without
    referrals are absent."""
    running = sa.func.sum(sa.case((instances.c.status.in_(finished), 0), else_=1))
    query = (
        sa.select(instances.c.version_id, running, sa.func.count())
        .select_from(referrals.join(instances, instances.c.id == referrals.c.instance_id))
        .group_by(instances.c.version_id)
    )
    if version_ids is not None:
        query = query.where(instances.c.version_id.in_(list(version_ids)))
    return {version_id: (int(run or 0), total) for version_id, run, total in conn.execute(query)}


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


def approve_version(conn: Connection, version_id: int, approved_by: str, at: datetime, reason: str) -> bool:
    result = conn.execute(
        definition_versions.update()
        .where(definition_versions.c.id == version_id, definition_versions.c.approval == "draft")
        .values(approval="approved", approved_by=approved_by, approved_at=at, approval_reason=reason)
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


def files_ending_with(conn: Connection, version_id: int, suffix: str) -> list[RowMapping]:
    """The files of a version whose name ends with ``suffix`` (e.g. its forms)."""
    query = (
        sa.select(definition_files.c.filename, definition_files.c.content)
        .where(
            definition_files.c.version_id == version_id,
            definition_files.c.filename.endswith(suffix, autoescape=True),
        )
        .order_by(definition_files.c.filename)
    )
    return list(conn.execute(query).mappings())


def version_id_of_instance(conn: Connection, instance_id: str) -> int | None:
    return conn.execute(sa.select(instances.c.version_id).where(instances.c.id == instance_id)).scalar()
