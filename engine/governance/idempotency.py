"""Idempotency-Key / X-Request-ID: a repeated request gets the first answer, and is never processed twice.

The answer is stored in the same transaction as the change it answers, so a key either has both or neither.
Two requests with one key racing each other: the second one's transaction meets the first one's stored key
(``DuplicateKey``) and is answered with the first one's answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from engine.errors import DuplicateKey, IdempotencyConflict, InvalidInput
from engine.governance.clients import Client
from engine.store import idempotency_keys as idempotency_store
from engine.store.db import Connection, Database

# The length of the idempotency_keys.key column: a longer key could never be remembered.
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class KeyedRequest:
    """A request as its Idempotency-Key names it: by client, scope (what kind of request) and key, with a
    digest of its content to tell a true repeat from a different request reusing the key. Without a key
    (``key`` None) nothing is looked up or remembered."""

    client: Client
    scope: str
    key: str | None
    digest: str

    @classmethod
    def of(cls, client: Client, scope: str, key: str | None, request: dict) -> KeyedRequest:
        if key and len(key) > MAX_KEY_LENGTH:
            raise InvalidInput(
                f"an Idempotency-Key (or X-Request-ID) has at most {MAX_KEY_LENGTH} characters"
            )
        digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()
        return cls(client, scope, key or None, digest)

    def earlier_answer(self, database: Database) -> dict | None:
        """The stored answer to an earlier request with this key, or None; a different request with the
        same key is refused."""
        if self.key is None:
            return None
        with database.read_once() as conn:
            earlier = idempotency_store.idempotent_result(conn, self.client.id, self.scope, self.key)
        if earlier is None:
            return None
        if earlier["request_sha256"] != self.digest:
            raise IdempotencyConflict(
                f"Idempotency-Key '{self.key}' was already used with a different request"
            )
        return earlier["response_body"]

    def remember(self, conn: Connection, status: int, answer: dict, now: datetime) -> None:
        """Store the answer in the transaction of the change it answers."""
        if self.key is None:
            return
        idempotency_store.insert_idempotent_result(
            conn,
            client_id=self.client.id,
            scope=self.scope,
            key=self.key,
            request_sha256=self.digest,
            response_status=status,
            response_body=answer,
            created_at=now,
        )


def answer_once(database: Database, keyed: KeyedRequest, act: Callable[[], dict]) -> tuple[dict, bool]:
    """``act()``'s answer and False, or the answer to an earlier request with the same key and True. ``act``
    makes the change and calls ``keyed.remember`` in its transaction; when a concurrent request with the
    same key commits first, its answer is returned instead."""
    replay = keyed.earlier_answer(database)
    if replay is not None:
        return replay, True
    try:
        return act(), False
    except DuplicateKey:
        replay = keyed.earlier_answer(database)
        if replay is None:
            raise
        return replay, True
