"""The Idempotency-Key request header (X-Request-ID, as BaRS senders use, when it is absent), in one place."""

from __future__ import annotations

from flask import request

from engine.governance.idempotency import MAX_KEY_LENGTH

IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
    "description": "repeat a request safely: the same key returns the original response; the same key with a "
    "different body is a 409 (X-Request-ID is used when this header is absent)",
}


def idempotency_key() -> str | None:
    return request.headers.get("Idempotency-Key") or request.headers.get("X-Request-ID") or None
