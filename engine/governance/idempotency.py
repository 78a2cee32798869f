"""Idempotency-Key / X-Request-ID: a repeated request gets the first answer, and is never processed twice.

The answer is stored in the same transaction as the change it answers, so a key either has both or neither.
"""

from __future__ import annotations

import hashlib
import json

from engine import clock
from engine.errors import IdempotencyConflict, InvalidInput
from engine.governance.clients import Client
from engine.store import idempotency_keys as idempotency_store
from engine.store.db import Database

# The length of the idempotency_keys.key column: a longer key could never be remembered.
MAX_KEY_LENGTH = 200


def request_digest(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def earlier_answer(database: Database, client: Client, scope: str, key: str, digest: str) -> dict | None:
    """The stored answer to an earlier request with this key, or None; a different request with the same
    key is refused, and so is a key too long to remember."""
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"an Idempotency-Key (or X-Request-ID) has at most {MAX_KEY_LENGTH} characters")
    with database.read_once() as conn:
        earlier = idempotency_store.idempotent_result(conn, client.id, scope, key)
    if earlier is None:
        return None
    if earlier["request_sha256"] != digest:
        raise IdempotencyConflict(f"Idempotency-Key '{key}' was already used with a different request")
    return earlier["response_body"]


def remember_answer(
    conn, client: Client, scope: str, key: str, digest: str, status: int, answer: dict
) -> None:
    idempotency_store.insert_idempotent_result(
        conn,
        client_id=client.id,
        scope=scope,
        key=key,
        request_sha256=digest,
        response_status=status,
        response_body=answer,
        created_at=clock.now(),
    )
