"""Rate limit headers, and the 429 in the OpenAPI document of every operation that counts requests.

``api.auth.requires`` counts each request (see ``engine/rate_limits.py``) and leaves where the caller stands
in ``g.rate_limit``; every response to a counted request carries it as ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds), and a 429 carries ``Retry-After`` too. Operations
that count nothing (/healthz, /readyz, /metrics, the docs and the OpenAPI document) are never limited.
"""

from __future__ import annotations

from copy import deepcopy

from flask import Flask, Response, g

from engine.governance.rate_limits import Allowance

TOO_MANY_REQUESTS = 429
# The 429's headers as the OpenAPI document states them (for problem+json and FHIR answers alike).
RATE_LIMIT_HEADERS = {
    "Retry-After": {
        "description": "seconds to wait before the next request can be served",
        "schema": {"type": "integer", "minimum": 1},
        "required": True,
    },
    "RateLimit-Limit": {
        "description": "requests allowed per window",
        "schema": {"type": "integer", "minimum": 1},
        "required": True,
    },
    "RateLimit-Remaining": {
        "description": "requests still allowed in the current window",
        "schema": {"type": "integer", "minimum": 0},
        "required": True,
    },
    "RateLimit-Reset": {
        "description": "seconds until the window has room again",
        "schema": {"type": "integer", "minimum": 1},
        "required": True,
    },
}
TOO_MANY_REQUESTS_DESCRIPTION = (
    "Too many requests: the client (or, after failed authentications, the address) is over its rate limit"
)


def note(allowance: Allowance | None) -> None:
    """Remember where the caller stands, for this response's headers."""
    if allowance is not None:
        g.rate_limit = allowance


def refuse_if_over(allowance: Allowance | None, too_many: str) -> None:
    """Note ``allowance`` and raise the 429 when it refused the request."""
    note(allowance)
    if allowance is not None and not allowance.admitted:
        raise allowance.refusal(too_many)


def documented(view):
    """``view`` with a 429 added to its responses in the OpenAPI document (flask-smorest reads
    ``_apidoc``; its other decorators copy it, so it is copied here too rather than changed in place)."""
    apidoc = deepcopy(getattr(view, "_apidoc", {}))
    apidoc.setdefault("response", {}).setdefault("responses", {}).setdefault(TOO_MANY_REQUESTS, []).append(
        "TOO_MANY_REQUESTS"
    )
    view._apidoc = apidoc
    return view


def _add_headers(response: Response) -> Response:
    allowance = g.pop("rate_limit", None)
    if allowance is None:
        return response
    response.headers["RateLimit-Limit"] = str(allowance.limit)
    response.headers["RateLimit-Remaining"] = str(allowance.remaining)
    response.headers["RateLimit-Reset"] = str(allowance.reset_seconds)
    if response.status_code == TOO_MANY_REQUESTS:
        response.headers["Retry-After"] = str(allowance.reset_seconds)
    return response


def register(app: Flask) -> None:
    app.after_request(_add_headers)
