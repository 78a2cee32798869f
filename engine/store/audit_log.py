"""The hash-chained audit trail and its head."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store.tables import (
    audit_head,
    audit_log,
)


def lock_audit_head(conn: Connection) -> RowMapping | None:
    return (
        conn.execute(sa.select(audit_head).where(audit_head.c.id == 1).with_for_update()).mappings().first()
    )


def insert_audit(conn: Connection, values: dict) -> int:
    return conn.execute(audit_log.insert().values(**values)).inserted_primary_key[0]


def set_audit_head(conn: Connection, hash_: str, last_id: int, *, create: bool) -> None:
    if create:
        conn.execute(audit_head.insert().values(id=1, hash=hash_, last_id=last_id))
    else:
        conn.execute(audit_head.update().where(audit_head.c.id == 1).values(hash=hash_, last_id=last_id))


def audit_records(
    conn: Connection, *, referral_id: str | None = None, after_id: int = 0, limit: int | None = None
) -> list[RowMapping]:
    query = sa.select(audit_log).where(audit_log.c.id > after_id).order_by(audit_log.c.id)
    if referral_id is not None:
        query = query.where(audit_log.c.referral_id == referral_id)
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).mappings())


def audit_head_row(conn: Connection) -> RowMapping | None:
    return conn.execute(sa.select(audit_head).where(audit_head.c.id == 1)).mappings().first()


def longest_text(column: str) -> int:
    """How many characters the audit log's text ``column`` holds."""
    return audit_log.c[column].type.length
