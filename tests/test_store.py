"""The store's own contract: a lost race on a unique key is DuplicateKey, other integrity errors are not, and
the readiness ping tells a reachable database from an unreachable one."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.errors import DuplicateKey
from engine.routing.routes import new_handoff, open_handoff
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


def test_hand_offs_made_at_one_instant_keep_the_order_they_were_made_in(signpost, nursing, gp):
    """A change reads the time once, so the hand-offs it makes share a time; their ids are random."""
    referral, _ = signpost.referrals.start(
        gp,
        pathway="community_nursing_referral",
        version=None,
        referrer="C81001",
        subject="9434765919",
        data={"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False},
    )
    [first] = referral["handoffs"]
    instance_id = signpost.referrals.instance_id(referral["id"])
    second = new_handoff(
        id="00000000-0000-4000-8000-000000000000",  # before any other id, in the order of ids
        instance_id=instance_id,
        element_id=None,
        from_service=None,
        to_service=first["to_service"],
        referral_type=first["referral_type"],
        reason=None,
        payload={},
        at=START,  # the clock stands still: the same instant as the first
    )
    with signpost.database.write() as conn:
        open_handoff(conn, second, "tests", START, {})
    with signpost.database.read() as conn:
        made = handoff_store.handoffs_of_instance(conn, instance_id)
    assert [h["created_at"] for h in made] == [START, START]
    assert [h["id"] for h in made] == [first["id"], second["id"]]
