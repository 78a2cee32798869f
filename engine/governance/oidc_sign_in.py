"""Signing in to the web application at the OpenID Connect issuer: the authorization code flow with PKCE
(RFC 7636), run by Signpost's server so that no token ever reaches the browser's script, a URL or its
storage.

``begin`` sends the browser to the issuer's ``authorization_endpoint`` with a fresh ``state``, ``nonce``
and S256 code challenge, and gives back the pending sign-in sealed (``SignInSealer``: Fernet under
``SIGNPOST_SECRET_KEYS``) for a short-lived cookie. ``finish`` takes the issuer's answer: the ``state``
must be the cookie's, the code is exchanged at the ``token_endpoint`` with the code verifier only this
server knows, and the ID token must be signed by the issuer for this client with the cookie's ``nonce``. The
access token it answers with becomes the session's token: each request authenticates it exactly as a bearer
JWT (``oidc.OidcVerifier``), so an issuer whose access tokens are not JWTs for ``SIGNPOST_OIDC_AUDIENCE``
cannot sign people in, and is told so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlparse

import httpx

from engine import clock
from engine.errors import NotAuthenticated
from engine.governance.oidc import (
    KEYS_MAX_AGE,
    REFETCH_INTERVAL,
    OidcVerifier,
    fetch_json,
    post_form,
    require_https,
)
from engine.governance.sessions import Sealer, open_payload, seal_payload

SIGN_IN_WINDOW = timedelta(minutes=10)  # from leaving for the issuer to coming back
PURPOSE = "signpost-oidc-sign-in"  # a sealed session or webhook secret never opens as a pending sign-in
MAX_SEALED_CHARS = 4096
DEFAULT_NEXT = "/studio/"
APPLICATION_PATHS = ("/studio/", "/console/")
STARTED_AGAIN = "the sign-in at the issuer took too long or was started in another tab: sign in again"


@dataclass(frozen=True)
class SignInClient:
    """Signpost as a client registered at the issuer."""

    client_id: str
    client_secret: str | None = None  # a confidential client; none for a public client (PKCE alone)
    scopes: tuple[str, ...] = ("openid", "profile")


@dataclass(frozen=True)
class PendingSignIn:
    state: str
    nonce: str
    code_verifier: str
    next_path: str
    expires_at: datetime


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_at: datetime  # the access token's ``exp``: the session ends with it
    next_path: str


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a page of the web application, never another site."""
    if not path or not path.startswith(APPLICATION_PATHS) or "\\" in path or "//" in path:
        return DEFAULT_NEXT
    parsed = urlparse(path)
    return path if not parsed.scheme and not parsed.netloc else DEFAULT_NEXT


class IssuerSignIn:
    def __init__(self, verifier: OidcVerifier, client: SignInClient, sealer: Sealer):
        self._verifier = verifier
        self._client = client
        self._sealer = sealer
        self._lock = threading.Lock()
        self._endpoints: tuple[str, str] | None = None
        self._endpoints_fetched_at: datetime | None = None
        self._endpoints_attempted_at: datetime | None = None

    @property
    def issuer(self) -> str:
        return self._verifier.config.issuer

    def begin(self, redirect_uri: str, next_path: str | None) -> tuple[str, str]:
        """The issuer's authorization URL to send the browser to, and the pending sign-in sealed for its
        cookie."""
        authorization_endpoint, _ = self._issuer_endpoints()
        pending = PendingSignIn(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(64),  # 86 characters: within RFC 7636's 43-128
            next_path=safe_next(next_path),
            expires_at=(clock.now() + SIGN_IN_WINDOW).replace(microsecond=0),
        )
        query = {
            "response_type": "code",
            "client_id": self._client.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self._client.scopes),
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": _challenge(pending.code_verifier),
            "code_challenge_method": "S256",
        }
        separator = "&" if urlparse(authorization_endpoint).query else "?"
        return f"{authorization_endpoint}{separator}{urlencode(query)}", self._seal(pending)

    def finish(self, sealed: str | None, answer: Mapping[str, str], redirect_uri: str) -> IssuedTokens:
        """The tokens the issuer's ``answer`` (the callback's query) leads to; ``NotAuthenticated``, saying
        why, for anything but a genuine answer to the sign-in this browser began."""
        pending = self._open(sealed)
        state = answer.get("state") or ""
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise NotAuthenticated(STARTED_AGAIN)
        if answer.get("error"):
            described = answer.get("error_description") or answer["error"]
            raise NotAuthenticated(f"the issuer did not sign you in: {described[:300]}")
        code = answer.get("code")
        if not code:
            raise NotAuthenticated("the issuer's answer has no authorization code")
        tokens = self._exchange(code, pending.code_verifier, redirect_uri)
        self._check_id_token(tokens.get("id_token"), pending.nonce)
        access_token = tokens.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise NotAuthenticated("the issuer answered without an access token")
        try:
            claims = self._verifier.verified_claims(access_token)
        except NotAuthenticated as refused:
            raise NotAuthenticated(
                f"the issuer's access token is not one Signpost accepts ({refused.message}): the issuer must "
                f"issue JWT access tokens for the audience {self._verifier.config.audience}"
            ) from None
        return IssuedTokens(access_token, datetime.fromtimestamp(claims["exp"], UTC), pending.next_path)

    def _exchange(self, code: str, code_verifier: str, redirect_uri: str) -> dict:
        _, token_endpoint = self._issuer_endpoints()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        client = self._client
        if client.client_secret is None:
            form["client_id"] = client.client_id
        auth = (client.client_id, client.client_secret) if client.client_secret is not None else None
        try:
            answer = post_form(self._verifier.http, token_endpoint, form, auth)
        except (httpx.HTTPError, ValueError, RecursionError):
            raise NotAuthenticated(
                "the issuer could not be reached to finish signing in: try again"
            ) from None
        if "error" in answer:
            described = answer.get("error_description") or answer["error"]
            raise NotAuthenticated(f"the issuer refused to finish signing in: {str(described)[:300]}")
        return answer

    def _check_id_token(self, id_token, nonce: str) -> None:
        if not isinstance(id_token, str) or not id_token:
            raise NotAuthenticated("the issuer answered without an ID token (is 'openid' among the scopes?)")
        try:
            claims = self._verifier.verified_claims(id_token, audience=self._client.client_id)
        except NotAuthenticated as refused:
            raise NotAuthenticated(f"the issuer's ID token was refused: {refused.message}") from None
        presented = claims.get("nonce")
        if not isinstance(presented, str) or not hmac.compare_digest(presented.encode(), nonce.encode()):
            raise NotAuthenticated("the issuer's ID token was made for another sign-in (its nonce differs)")

    def _issuer_endpoints(self) -> tuple[str, str]:
        """The issuer's authorization and token endpoints, from its discovery document (fetched again
        after ``KEYS_MAX_AGE``, and at most once per ``REFETCH_INTERVAL`` while it fails)."""
        now = clock.now()
        with self._lock:
            fresh = (
                self._endpoints_fetched_at is not None and now - self._endpoints_fetched_at <= KEYS_MAX_AGE
            )
            recently_tried = (
                self._endpoints_attempted_at is not None
                and now - self._endpoints_attempted_at < REFETCH_INTERVAL
            )
            if not fresh and not recently_tried:
                self._endpoints_attempted_at = now
                try:
                    self._endpoints = self._discover()
                    self._endpoints_fetched_at = now
                except (httpx.HTTPError, ValueError, RecursionError):
                    pass  # the endpoints held (if any) stay in use until the issuer answers again
            if self._endpoints is None:
                raise NotAuthenticated("the issuer could not be reached to sign in: try again shortly")
            return self._endpoints

    def _discover(self) -> tuple[str, str]:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        discovery = fetch_json(self._verifier.http, url)
        if discovery.get("issuer") != self.issuer:
            raise ValueError(f"the discovery document at {url} names another issuer")
        endpoints = []
        for name in ("authorization_endpoint", "token_endpoint"):
            endpoint = discovery.get(name)
            if not isinstance(endpoint, str):
                raise ValueError(f"the discovery document at {url} has no {name}")
            require_https(endpoint, f"the discovery document's {name}")
            endpoints.append(endpoint)
        return endpoints[0], endpoints[1]

    def _seal(self, pending: PendingSignIn) -> str:
        payload = {
            "state": pending.state,
            "nonce": pending.nonce,
            "verifier": pending.code_verifier,
            "next": pending.next_path,
            "expires": int(pending.expires_at.timestamp()),
        }
        return seal_payload(self._sealer, PURPOSE, payload)

    def _open(self, sealed: str | None) -> PendingSignIn:
        payload = open_payload(self._sealer, sealed, PURPOSE, MAX_SEALED_CHARS)
        if payload is None:
            raise NotAuthenticated(STARTED_AGAIN)
        fields = [payload.get(name) for name in ("state", "nonce", "verifier", "next")]
        expires = payload.get("expires")
        if not all(isinstance(value, str) and value for value in fields) or not isinstance(expires, int):
            raise NotAuthenticated(STARTED_AGAIN)
        expires_at = datetime.fromtimestamp(expires, UTC)
        if expires_at <= clock.now():
            raise NotAuthenticated(STARTED_AGAIN)
        state, nonce, verifier, next_path = fields
        return PendingSignIn(state, nonce, verifier, safe_next(next_path), expires_at)


def _challenge(code_verifier: str) -> str:
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
