"""The service directory (kept between transactions while it is unchanged: ``reference_data``)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store import reference_data
from engine.store.tables import (
    services,
)

_DIRECTORY = sa.select(services)


def upsert_service(conn: Connection, values: dict) -> None:
    reference_data.changed(conn)
    updated = conn.execute(services.update().where(services.c.id == values["id"]).values(**values))
    if updated.rowcount == 0:
        conn.execute(services.insert().values(**values))


def service(conn: Connection, service_id: str) -> RowMapping | None:
    return services_by_id(conn, (service_id,)).get(service_id)


def points_of_access_for(conn: Connection, pathway_key: str) -> list[RowMapping]:
    """The points of access that handle referrals on ``pathway_key`` (few rows: filtered here, not in SQL,
    because JSON containment differs between the databases)."""
    directory = reference_data.read(conn, "services", lambda: _directory(conn))
    return [
        row
        for _, row in sorted(directory.items())
        if row["kind"] == "point-of-access" and pathway_key in (row["pathways"] or ())
    ]


def services_by_id(conn: Connection, service_ids: Iterable[str]) -> dict[str, RowMapping]:
    """The services among ``service_ids`` that exist (the directory is read whole: a few dozen rows)."""
    directory = reference_data.read(conn, "services", lambda: _directory(conn))
    return {service_id: directory[service_id] for service_id in set(service_ids) if service_id in directory}


def _directory(conn: Connection) -> dict[str, RowMapping]:
    return {row["id"]: row for row in conn.execute(_DIRECTORY).mappings()}


def list_services(conn: Connection, *, organisation: str | None = None) -> list[RowMapping]:
    query = sa.select(services).order_by(services.c.kind, services.c.id)
    if organisation is not None:
        query = query.where(services.c.organisation == organisation)
    return list(conn.execute(query).mappings())


def service_names(conn: Connection, service_ids: Iterable[str]) -> dict[str, str]:
    """The names of the services of ``service_ids`` that the directory holds, by id."""
    return {service_id: row["name"] for service_id, row in services_by_id(conn, service_ids).items()}
