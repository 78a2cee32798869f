"""The session cookie of a person signed in to the web application (``engine.governance.sessions``).

The cookie is HttpOnly (the page's script cannot read the token in it), SameSite=Strict (no other site's
page sends it), Path=/ and, over https, Secure with the ``__Host-`` prefix (so that no sub-domain can plant
one). It authenticates a request that has no ``Authorization`` header, as the token inside it would.

Changes need more than the cookie: an unsafe request (POST, PUT, PATCH, DELETE) authenticated by it must
carry the session's CSRF token in ``X-CSRF-Token``, which only the studio's own page knows (it got it in
the sign-in answer or from ``GET /api/v1/session``, and keeps it in memory). A bearer-token request needs
no CSRF token: another site cannot make a browser send an ``Authorization`` header.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request

from engine import clock
from engine.errors import NotAllowed, NotFound
from engine.governance.oidc_sign_in import SIGN_IN_WINDOW, IssuerSignIn, SignInClient
from engine.governance.sessions import Session, Sessions
from engine.notifications.secrets_at_rest import box_for

COOKIE = "signpost-session"
SECURE_COOKIE = "__Host-signpost-session"  # over https: Secure, Path=/, no Domain, or browsers refuse it
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EXTENSION = "signpost.sessions"
ISSUER_EXTENSION = "signpost.issuer_sign_in"
# Sent back by the issuer's redirect, a navigation from another site: SameSite=Lax, not Strict, or the
# browser would leave it behind. It holds no token, only what proves the answer is to this browser's request.
PENDING_SIGN_IN_COOKIE = "signpost-oidc-sign-in"
PENDING_SIGN_IN_PATH = "/api/v1/session/oidc"


def register(app: Flask) -> None:
    """The app's sessions, sealed with the keys that encrypt secrets at rest (built once: a database without
    configured keys gets one key for the process, which every request must share)."""
    system = app.extensions["signpost"]
    settings = system.settings
    box = box_for(settings.secret_keys, system.database)
    app.extensions[EXTENSION] = Sessions(box)
    app.extensions[ISSUER_EXTENSION] = None
    if system.oidc is not None and settings.oidc_client_id:
        client = SignInClient(settings.oidc_client_id, settings.oidc_client_secret, settings.oidc_scopes)
        app.extensions[ISSUER_EXTENSION] = IssuerSignIn(system.oidc, client, box)


def sessions() -> Sessions:
    return current_app.extensions[EXTENSION]


def issuer_sign_in() -> IssuerSignIn | None:
    """Signing in at the OpenID Connect issuer, when an issuer and Signpost's client id there are set."""
    return current_app.extensions[ISSUER_EXTENSION]


def require_issuer_sign_in() -> IssuerSignIn:
    flow = issuer_sign_in()
    if flow is None:
        raise NotFound(
            "signing in at an OpenID Connect issuer is not configured here (SIGNPOST_OIDC_ISSUER and "
            "SIGNPOST_OIDC_CLIENT_ID): sign in with an API token"
        )
    return flow


def cookie_name() -> str:
    return SECURE_COOKIE if request.is_secure else COOKIE


def token_from_cookie() -> str | None:
    """The token of the request's session (remembered in ``g.web_session`` for the CSRF check), or None
    without a session cookie. An ended or forged session is ``NotAuthenticated``."""
    sealed = request.cookies.get(cookie_name())
    if sealed is None:
        return None
    g.web_session = sessions().open(sealed)
    return g.web_session.token


def current_session() -> Session | None:
    """The session that authenticated this request, if a session cookie did."""
    return g.get("web_session")


def check_csrf() -> None:
    """Refuse an unsafe request authenticated by the session cookie without the session's CSRF token."""
    session = current_session()
    if session is None or request.method in SAFE_METHODS:
        return
    if not session.csrf_matches(request.headers.get(CSRF_HEADER)):
        raise NotAllowed(
            f"a change made with the session cookie must carry the session's {CSRF_HEADER} header "
            "(reload the page to get it again)"
        )


def check_origin() -> None:
    """Refuse a request sent by another site's page (its browser names the page's origin): signing in or
    out is done from the studio only."""
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/") != request.host_url.rstrip("/"):
        raise NotAllowed("signing in or out is only possible from Signpost's own pages")


def set_cookie(response: Response, sealed: str, session: Session) -> None:
    response.set_cookie(
        cookie_name(),
        sealed,
        max_age=max(0, int((session.expires_at - clock.now()).total_seconds())),
        expires=session.expires_at,
        path="/",
        secure=request.is_secure,
        httponly=True,
        samesite="Strict",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(
        cookie_name(), path="/", secure=request.is_secure, httponly=True, samesite="Strict"
    )


def set_pending_sign_in_cookie(response: Response, sealed: str) -> None:
    response.set_cookie(
        PENDING_SIGN_IN_COOKIE,
        sealed,
        max_age=int(SIGN_IN_WINDOW.total_seconds()),
        path=PENDING_SIGN_IN_PATH,
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )


def clear_pending_sign_in_cookie(response: Response) -> None:
    response.delete_cookie(
        PENDING_SIGN_IN_COOKIE,
        path=PENDING_SIGN_IN_PATH,
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )
