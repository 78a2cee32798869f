"""API clients: their hashed tokens, roles and organisations."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store.tables import (
    api_clients,
)


def insert_client(
    conn: Connection,
    *,
    name,
    organisation,
    roles,
    token_hash,
    created_at,
    expires_at=None,
    service=None,
    external_subject=None,
    person=None,
    created_by=None,
) -> int:
    result = conn.execute(
        api_clients.insert().values(
            name=name,
            organisation=organisation,
            roles=sorted(roles),
            token_hash=token_hash,
            created_at=created_at,
            expires_at=expires_at,
            service=service,
            external_subject=external_subject,
            person=person,
            created_by=created_by,
        )
    )
    return result.inserted_primary_key[0]


def client_by_token_hash(conn: Connection, token_hash: str) -> RowMapping | None:
    return (
        conn.execute(sa.select(api_clients).where(api_clients.c.token_hash == token_hash)).mappings().first()
    )


def list_clients(conn: Connection, organisation: str | None = None) -> list[RowMapping]:
    """Every client, or those of ``organisation``."""
    query = sa.select(api_clients).order_by(api_clients.c.id)
    if organisation is not None:
        query = query.where(api_clients.c.organisation == organisation)
    return list(conn.execute(query).mappings())


def set_client_roles(conn: Connection, client_id: int, roles) -> None:
    conn.execute(api_clients.update().where(api_clients.c.id == client_id).values(roles=sorted(roles)))


def client_row(conn: Connection, client_id: int) -> RowMapping | None:
    return conn.execute(sa.select(api_clients).where(api_clients.c.id == client_id)).mappings().first()


def people_of_clients(conn: Connection, client_ids) -> dict[int, str | None]:
    """The person each client acts for (its ``person``, else an OpenID Connect token's subject), by id."""
    ids = sorted(set(client_ids))
    if not ids:
        return {}
    query = sa.select(api_clients.c.id, api_clients.c.person, api_clients.c.external_subject).where(
        api_clients.c.id.in_(ids)
    )
    return {client_id: person or subject for client_id, person, subject in conn.execute(query)}


def revoke_client(conn: Connection, client_id: int, at: datetime) -> bool:
    result = conn.execute(
        api_clients.update()
        .where(api_clients.c.id == client_id, api_clients.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return result.rowcount == 1


def client_by_external_subject(conn: Connection, external_subject: str) -> RowMapping | None:
    query = sa.select(api_clients).where(api_clients.c.external_subject == external_subject)
    return conn.execute(query).mappings().first()


def update_external_client(
    conn: Connection, client_id: int, *, name, organisation, roles, service, last_used_at
) -> None:
    conn.execute(
        api_clients.update()
        .where(api_clients.c.id == client_id)
        .values(
            name=name,
            organisation=organisation,
            roles=sorted(roles),
            service=service,
            last_used_at=last_used_at,
        )
    )


def touch_client(conn: Connection, client_id: int, at: datetime) -> None:
    conn.execute(api_clients.update().where(api_clients.c.id == client_id).values(last_used_at=at))
