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
