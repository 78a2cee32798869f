"""Bearer-token authentication and role checks for views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import g, request

from api.engine_access import signpost
from engine.clients import Client
from engine.errors import NotAllowed


def current_client() -> Client:
    return g.client


def requires(*roles: str, admin: bool = True) -> Callable:
    """Allow the view to clients holding any of ``roles``; ``admin`` too unless ``admin=False`` (for acts that
    need a particular person's authority, such as a clinical approval)."""
    allowed = frozenset(roles) | ({"admin"} if admin else frozenset())

    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            client = _authenticate()
            if not client.roles & allowed:
                raise NotAllowed(
                    f"this needs one of the roles {', '.join(sorted(allowed))}; "
                    f"the client has {', '.join(sorted(client.roles))}"
                )
            g.client = client
            return view(*args, **kwargs)

        guarded.allowed_roles = allowed
        return guarded

    return decorate


def _authenticate() -> Client:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else None
    return signpost().clients.authenticate(token)
