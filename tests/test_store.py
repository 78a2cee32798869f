"""The store's own contract: a lost race on a unique key is DuplicateKey, other integrity errors are not, and
the readiness ping tells a reachable database from an unreachable one."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.errors import DuplicateKey
from engine.store import api_clients as client_store
from engine.store import handoffs as handoff_store
from engine.store.db import Database
from tests.conftest import START


def insert_client(conn, token_hash: str) -> int:
    return client_store.insert_client(
        conn, name="gp", organisation="gp", roles={"referrer"}, token_hash=token_hash, created_at=START
    )


def test_a_second_row_with_the_same_unique_key_is_a_duplicate_key_and_changes_nothing(signpost):
    with signpost.database.write() as conn:
        first = insert_client(conn, "a" * 64)
    with (
        pytest.raises(DuplicateKey, match="another request stored the same thing"),
        signpost.database.write() as conn,
    ):
        client_store.touch_client(conn, first, START)  # rolled back with the failed insert
        insert_client(conn, "a" * 64)
    with signpost.database.read() as conn:
        [row] = client_store.list_clients(conn)
    assert (row["id"], row["last_used_at"]) == (first, None)


def test_a_broken_reference_is_not_taken_for_a_lost_race(signpost):
    handoff = {
        "id": "h-1",
        "instance_id": "no-such-instance",
        "to_service": "no-such-service",
        "referral_type": "community-nursing",
        "status": "requested",
        "owner": "no-such-service",
        "payload": {},
        "version": 1,
        "created_at": START,
        "updated_at": START,
    }
    with pytest.raises(sa.exc.IntegrityError) as raised, signpost.database.write() as conn:
        handoff_store.insert_handoff(conn, handoff)
    assert not isinstance(raised.value, DuplicateKey)


def test_the_ping_answers_only_when_the_database_does(signpost):
    signpost.database.ping()
    unreachable = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(sa.exc.OperationalError):
            unreachable.ping()
    finally:
        unreachable.dispose()
