"""Remembered answers to requests carrying an Idempotency-Key."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store.tables import (
    idempotency_keys,
)


def idempotent_result(conn: Connection, client_id: int, scope: str, key: str) -> RowMapping | None:
    query = sa.select(idempotency_keys).where(
        idempotency_keys.c.client_id == client_id,
        idempotency_keys.c.scope == scope,
        idempotency_keys.c.key == key,
    )
    return conn.execute(query).mappings().first()


def insert_idempotent_result(conn: Connection, **values) -> None:
    conn.execute(idempotency_keys.insert().values(**values))


def forget_idempotency_answers(conn: Connection, created_before: datetime) -> None:
    conn.execute(idempotency_keys.delete().where(idempotency_keys.c.created_at < created_before))
