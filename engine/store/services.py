"""The service directory (read once per transaction)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store.db import transaction_memo
from engine.store.tables import (
    services,
)

_SERVICES_BY_ID = sa.select(services).where(services.c.id.in_(sa.bindparam("ids", expanding=True)))

_POINTS_OF_ACCESS = sa.select(services).where(services.c.kind == "point-of-access")


def upsert_service(conn: Connection, values: dict) -> None:
    transaction_memo(conn).pop("services", None)
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
    known = transaction_memo(conn).setdefault("services", {})
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


def service_names(conn: Connection, service_ids: Iterable[str]) -> dict[str, str]:
    """The names of the services of ``service_ids`` that the directory holds, by id."""
    return {service_id: row["name"] for service_id, row in services_by_id(conn, service_ids).items()}
