"""Authentication (a bearer token, or the session cookie of a person signed in to the web application:
``api.web_session``), rate limits and role checks for views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import g, request

from api import rate_limits, web_session
from api.engine_access import signpost
from engine.errors import NotAllowed, NotAuthenticated
from engine.governance.clients import Client
from engine.governance.oidc import looks_like_jwt


def current_client() -> Client:
    return g.client


def requires(*roles: str) -> Callable:
    """Allow the view to clients holding any of ``roles``, and to nobody else: admins included, who manage
    clients, services and calendars but do not read referral data unless they also hold a role that may."""
    allowed = frozenset(roles)

    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            client = _authenticate_counted()
            if not client.roles & allowed:
                raise NotAllowed(
                    f"this needs one of the roles {', '.join(sorted(allowed))}; "
                    f"the client has {', '.join(sorted(client.roles))}"
                )
            g.client = client
            return view(*args, **kwargs)

        guarded.allowed_roles = allowed
        return rate_limits.documented(guarded)

    return decorate


def _authenticate_counted(token_of: Callable[[], str | None] | None = None) -> Client:
    """The calling client, with this request counted against its rate limit. A request whose credentials
    are refused counts against its remote address instead; an address over that limit is refused before its
    credentials are looked at, so a right guess cannot be told from a wrong one until it may try again.
    The credentials are the request's (``token_of`` gives others: the token a person signs in with)."""
    limits = signpost().rate_limits
    address = request.remote_addr or "unknown"
    rate_limits.refuse_if_over(
        limits.address_refusal(address), "too many failed authentications from this address"
    )
    try:
        client = _authenticate((token_of or _request_token)())
    except NotAuthenticated:
        rate_limits.note(limits.count_failed_authentication(address))
        raise
    # Who is calling, known before anything refuses it (its roles, its rate limit): the audit trail names the
    # caller of a refused request too. ``g.client`` is set only once the view's roles allow it.
    g.caller = client
    rate_limits.refuse_if_over(limits.count_request(client.id), "too many requests from this client")
    web_session.check_csrf()
    return client


def sign_in(token: str) -> Client:
    """The client ``token`` authenticates, checked and counted as any request's credentials are."""
    return _authenticate_counted(lambda: token)


def _request_token() -> str | None:
    """The bearer token of the ``Authorization`` header; without that header, the session cookie's."""
    header = request.headers.get("Authorization")
    if header is None:
        return web_session.token_from_cookie()
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _authenticate(token: str | None) -> Client:
    system = signpost()
    # Signpost's own tokens never contain a dot, so a JWT cannot be mistaken for one.
    if token and system.oidc is not None and looks_like_jwt(token):
        return system.clients.from_verified_claims(system.oidc.verify(token))
    return system.clients.authenticate(token)
