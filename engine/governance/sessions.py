"""Sessions of people signed in to the web application, with no table on the server.

A session is the API token the person signed in with (one of Signpost's own, or an OpenID Connect JWT),
sealed together with a CSRF token and an expiry by a ``Sealer`` (Fernet under ``SIGNPOST_SECRET_KEYS``: the
first key seals, every key opens, so keys rotate as the webhook secrets' do). The sealed text travels in an
HttpOnly cookie; the browser's script never sees the token, only the CSRF token it must echo on changes.

Each request opens the seal and authenticates the token inside it exactly as a bearer token is
authenticated, so a session acts as its API client: same organisation, roles, audit trail and rate limit,
and revoking the client ends its sessions at once. Without a table, signing out removes the cookie from the
browser but cannot withdraw a copy of it: a copied cookie works until it expires (``LIFETIME``) or its
client is revoked, and rotating the keys ends every session.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from engine import clock
from engine.errors import NotAuthenticated

LIFETIME = timedelta(hours=8)  # a working day: the person signs in again the next morning
PURPOSE = "signpost-web-session"  # sealed text made for anything else (a stored webhook secret) never opens
ENDED = "your session has ended: sign in again"
# Fernet output is url-safe base64 (under 4 KB for an OIDC token): anything else is not one of our cookies.
MAX_SEALED_CHARS = 8192


# What every sealed text begins with. The sealer reads text without it as stored in the clear (secrets kept
# before encryption was introduced), so text without it is refused here before the sealer sees it: a cookie
# holding a session written in the clear must never open.
SEALED_PREFIX = "fernet:"


class Sealer(Protocol):
    """Authenticated encryption with rotating keys (``engine.notifications.secrets_at_rest.SecretBox``):
    ``seal`` answers text beginning with ``SEALED_PREFIX``."""

    def seal(self, secret: str | None) -> str | None: ...

    def open(self, stored: str | None) -> str | None: ...


@dataclass(frozen=True)
class Session:
    token: str  # the API token the person signed in with: never sent to the browser's script
    csrf_token: str
    expires_at: datetime

    def csrf_matches(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(presented.encode(), self.csrf_token.encode())


class Sessions:
    def __init__(self, sealer: Sealer, lifetime: timedelta = LIFETIME):
        self._sealer = sealer
        self.lifetime = lifetime

    def issue(self, token: str, not_after: datetime | None = None) -> tuple[Session, str]:
        """A new session for ``token`` (already authenticated by the caller) and its sealed form; it ends
        after ``lifetime``, or at ``not_after`` (when the token itself expires) if that is sooner."""
        expires_at = (clock.now() + self.lifetime).replace(microsecond=0)
        if not_after is not None:
            expires_at = min(expires_at, not_after.replace(microsecond=0))
        session = Session(token, secrets.token_urlsafe(32), expires_at)
        payload = {"token": token, "csrf": session.csrf_token, "expires": int(expires_at.timestamp())}
        return session, seal_payload(self._sealer, PURPOSE, payload)

    def open(self, sealed: str) -> Session:
        """The session ``sealed`` holds; ``NotAuthenticated`` when it was not sealed by us (forged, changed,
        sealed with a key no longer configured) or has expired."""
        payload = open_payload(self._sealer, sealed, PURPOSE, MAX_SEALED_CHARS)
        if payload is None:
            raise NotAuthenticated(ENDED)
        token, csrf, expires = payload.get("token"), payload.get("csrf"), payload.get("expires")
        if not (isinstance(token, str) and isinstance(csrf, str) and isinstance(expires, int)):
            raise NotAuthenticated(ENDED)
        expires_at = datetime.fromtimestamp(expires, UTC)
        if expires_at <= clock.now():
            raise NotAuthenticated(ENDED)
        return Session(token, csrf, expires_at)


def seal_payload(sealer: Sealer, purpose: str, payload: dict) -> str:
    """``payload`` sealed for ``purpose``: it opens (``open_payload``) for that purpose only."""
    sealed = sealer.seal(json.dumps({"purpose": purpose, **payload}, separators=(",", ":")))
    if not sealed or not sealed.startswith(SEALED_PREFIX):
        raise ValueError("the sealer's output does not begin with SEALED_PREFIX: it could not be opened")
    return sealed


def open_payload(sealer: Sealer, sealed: str | None, purpose: str, max_chars: int) -> dict | None:
    """What ``seal_payload`` sealed for ``purpose``; None for anything else: forged, changed, sealed with a
    key no longer configured, made for another purpose, or longer than any we make."""
    if not sealed or len(sealed) > max_chars or not sealed.startswith(SEALED_PREFIX):
        return None
    try:
        payload = json.loads(sealer.open(sealed) or "")
    except Exception:  # a forged or garbled text: whatever the cipher or the JSON decoder says
        return None
    if not isinstance(payload, dict) or payload.get("purpose") != purpose:
        return None
    return payload
