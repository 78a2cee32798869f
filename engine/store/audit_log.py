"""The audit trail: its records, the referrals each concerns, and the heads of its lanes."""

from __future__ import annotations

import random

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from engine.store.db import Database, changes_noted, transaction_memo
from engine.store.tables import (
    audit_head,
    audit_log,
    audit_referrals,
    external_tasks,
    handoffs,
    referrals,
    user_tasks,
)

# Lanes a busy PostgreSQL database appends to at once: each writer takes one that no other transaction
# holds. SQLite lets one writer in at a time, so there every record goes to lane 1.
LANES = 8
GENESIS = "0" * 64
_LANE_MEMO = "audit_lane"
_KEYS_OPTION = "signpost_audit_keys"

_FREE_LANE = (
    sa.select(audit_head)
    .where(audit_head.c.id.between(1, LANES))
    .order_by(audit_head.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)
)


def attach_keys(database: Database, keys: object) -> None:
    """Let every connection of ``database`` reach the keys that sign the trail, whichever feature appends
    (they travel as an execution option, which every connection inherits from its engine)."""
    database.engine.update_execution_options(**{_KEYS_OPTION: keys})


def attached_keys(conn: Connection) -> object | None:
    return conn.get_execution_options().get(_KEYS_OPTION)


def take_lane(conn: Connection) -> dict:
    """The head of the lane this transaction appends to, locked until it ends: the one it took already, or
    a free one (any lane, when all are held: then it waits for it)."""
    memo = transaction_memo(conn)
    if _LANE_MEMO in memo:
        return memo[_LANE_MEMO]
    if conn.dialect.name == "sqlite":
        row = _lock_lane(conn, 1)
    else:
        row = conn.execute(_FREE_LANE).mappings().first()
        if row is None and _lanes_missing(conn):
            # Made apart and committed at once: rows this transaction inserted would hold every other
            # writer back until it ends.
            with conn.engine.connect() as apart, apart.begin():
                _create_missing_lanes(apart)
            row = conn.execute(_FREE_LANE).mappings().first()
        if row is None:  # every lane is held: wait for one
            row = _lock_lane(conn, random.randint(1, LANES))  # noqa: S311 - spreads waiters, not a secret
    memo[_LANE_MEMO] = head = dict(row)
    return head


def _lock_lane(conn: Connection, lane: int) -> RowMapping:
    query = sa.select(audit_head).where(audit_head.c.id == lane).with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:  # on SQLite, where this transaction is the only writer
        _create_missing_lanes(conn)
        row = conn.execute(query).mappings().one()
    return row


def _lanes_missing(conn: Connection) -> bool:
    return conn.execute(sa.select(sa.func.count()).select_from(audit_head)).scalar_one() < LANES


def _create_missing_lanes(conn: Connection) -> None:
    """Make the lanes the migration made, when something removed them (a test's TRUNCATE)."""
    present = set(conn.execute(sa.select(audit_head.c.id)).scalars())
    missing = [
        {"id": lane, "hash": GENESIS, "last_id": 0} for lane in range(1, LANES + 1) if lane not in present
    ]
    if missing:
        insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(audit_head)
        conn.execute(insert.on_conflict_do_nothing(), missing)


def append_record(conn: Connection, head: dict, values: dict, referral_ids: list[str]) -> int:
    """Insert a record (with the other referrals it concerns) and make it its lane's head."""
    if conn.dialect.name == "postgresql":
        record_id = conn.execute(_append_statement(values), {"listed": referral_ids}).scalar_one()
        head.update(hash=values["hash"], last_id=record_id)
        return record_id
    record_id = conn.execute(audit_log.insert().values(**values)).inserted_primary_key[0]
    if referral_ids:
        conn.execute(
            audit_referrals.insert(), [{"record_id": record_id, "referral_id": r} for r in referral_ids]
        )
    conn.execute(
        audit_head.update()
        .where(audit_head.c.id == head["id"])
        .values(hash=values["hash"], last_id=record_id)
    )
    head.update(hash=values["hash"], last_id=record_id)
    return record_id


def _append_statement(values: dict):
    """PostgreSQL: the record, the referrals it lists and its lane's new head in one statement (one round
    trip instead of three), with ``listed`` as a parameter."""
    inserted = audit_log.insert().values(**values).returning(audit_log.c.id).cte("inserted")
    listed = sa.select(
        inserted.c.id, sa.func.unnest(sa.bindparam("listed", type_=postgresql.ARRAY(sa.String)))
    )
    listing = audit_referrals.insert().from_select(["record_id", "referral_id"], listed).cte("listing")
    return (
        audit_head.update()
        .where(audit_head.c.id == values["lane"])
        .values(hash=values["hash"], last_id=sa.select(inserted.c.id).scalar_subquery())
        .returning(audit_head.c.last_id)
        .add_cte(listing)
    )


def referrals_changed(conn: Connection) -> set[str]:
    """The referrals whose rows this transaction wrote, from what the store's writers noted."""
    noted = changes_noted(conn)
    found = set(noted.get("referral", ()))
    # One statement: the referrals of the instances changed, and of the instances whose rows were changed.
    # A UNION of look-ups by index: an OR of IN (subquery) conditions reads every referral instead.
    lookups = []
    if noted.get("instance"):
        lookups.append(
            sa.select(referrals.c.id).where(referrals.c.instance_id.in_(sorted(noted["instance"])))
        )
    for kind, table in (("handoff", handoffs), ("user_task", user_tasks), ("external_task", external_tasks)):
        if noted.get(kind):
            lookups.append(
                sa.select(referrals.c.id)
                .join(table, table.c.instance_id == referrals.c.instance_id)
                .where(table.c.id.in_(sorted(noted[kind])))
            )
    if lookups:
        found.update(conn.execute(sa.union_all(*lookups) if len(lookups) > 1 else lookups[0]).scalars())
    return found


def audit_records(
    conn: Connection, *, referral_id: str | None = None, after_id: int = 0, limit: int | None = None
) -> list[RowMapping]:
    """Records in the order they were written; with ``referral_id``, those concerning that referral (named
    as the record's referral or among the referrals of a list it answered)."""
    query = sa.select(audit_log).where(audit_log.c.id > after_id).order_by(audit_log.c.id)
    if referral_id is not None:
        listed = sa.select(audit_referrals.c.record_id).where(audit_referrals.c.referral_id == referral_id)
        query = query.where(sa.or_(audit_log.c.referral_id == referral_id, audit_log.c.id.in_(listed)))
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).mappings())


def listed_referrals(conn: Connection, first_id: int, last_id: int) -> dict[int, list[str]]:
    """The other referrals of each record from ``first_id`` to ``last_id``, sorted."""
    query = (
        sa.select(audit_referrals)
        .where(audit_referrals.c.record_id.between(first_id, last_id))
        .order_by(audit_referrals.c.record_id, audit_referrals.c.referral_id)
    )
    listed: dict[int, list[str]] = {}
    for row in conn.execute(query).mappings():
        listed.setdefault(row["record_id"], []).append(row["referral_id"])
    return listed


def lane_heads(conn: Connection) -> dict[int, RowMapping]:
    return {
        row["id"]: row for row in conn.execute(sa.select(audit_head).order_by(audit_head.c.id)).mappings()
    }


def longest_text(column: str) -> int:
    """How many characters the audit log's text ``column`` holds."""
    return audit_log.c[column].type.length
