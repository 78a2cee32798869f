"""The network edge of notifications: signed webhooks (Standard Webhooks) and email (SMTP).

Each channel is one method, ``send(message) -> Attempt``, so the deliverer never knows how a message
travels and tests can use a real local receiver or SMTP server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import smtplib
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from urllib.parse import urlparse

import httpx

from engine import clock
from engine.errors import InvalidInput

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class Message:
    webhook_id: str  # stable across retries: receivers drop duplicates by it
    body: str  # the JSON payload
    url: str | None
    email: str | None
    # The current secret, and the previous one during a rotation's grace period (kept out of any repr).
    secrets: tuple[str, ...] = field(repr=False)
    subject: str
    text: str


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    retry_after_seconds: float | None = None
    gone: bool = False  # the endpoint said 410 Gone: stop sending to it


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(secret: str, webhook_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64 HMAC-SHA256 of id.timestamp.body>`` keyed with the secret's bytes (Standard Webhooks)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that are not https (http only when private addresses are allowed, for development) or
    that resolve to loopback, private, link-local or otherwise non-public addresses (SSRF)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise InvalidInput(f"webhook url {url!r} must be an absolute https URL")
    if parsed.scheme == "http" and not allow_private:
        raise InvalidInput(f"webhook url {url!r} must use https")
    if allow_private:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parsed.hostname, parsed.port or 443)}
    except socket.gaierror:
        raise InvalidInput(f"webhook host {parsed.hostname!r} does not resolve") from None
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise InvalidInput(f"webhook url {url!r} resolves to a non-public address ({address})")


class WebhookChannel:
    def __init__(self, *, allow_private: bool, transport: httpx.BaseTransport | None = None):
        self._allow_private = allow_private
        self._client = httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, transport=transport)

    def send(self, message: Message) -> Attempt:
        try:
            # Checked again at send time: DNS may have changed since the subscription was made.
            check_webhook_url(message.url, allow_private=self._allow_private)
        except InvalidInput as refused:
            return Attempt(ok=False, error=refused.message)
        timestamp = int(clock.now().timestamp())
        headers = {
            "content-type": "application/json",
            "webhook-id": message.webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(
                signature(s, message.webhook_id, timestamp, message.body) for s in message.secrets
            ),
        }
        try:
            response = self._client.post(message.url, content=message.body.encode(), headers=headers)
        except httpx.HTTPError as error:
            return Attempt(ok=False, error=f"{type(error).__name__}: {error}"[:500])
        if 200 <= response.status_code < 300:
            return Attempt(ok=True, status_code=response.status_code)
        return Attempt(
            ok=False,
            status_code=response.status_code,
            error=f"HTTP {response.status_code}",
            retry_after_seconds=_retry_after(response.headers.get("retry-after")),
            gone=response.status_code == 410,
        )

    def close(self) -> None:
        self._client.close()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, (parsedate_to_datetime(value) - clock.now()).total_seconds())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "signpost@localhost"


class EmailChannel:
    def __init__(self, settings: SmtpSettings):
        self._settings = settings

    def send(self, message: Message) -> Attempt:
        email = EmailMessage()
        try:
            email["From"] = self._settings.sender
            email["To"] = message.email
            # One line: a status built from text a service supplied (a visit window) may hold line breaks,
            # which a header may not.
            email["Subject"] = " ".join(message.subject.split())
            email["Message-ID"] = f"<{message.webhook_id}@signpost>"  # stable: mail clients drop duplicates
        except ValueError as error:
            # A header the email library refuses fails this attempt (retried, then dead-lettered), not the
            # whole round of deliveries.
            return Attempt(ok=False, error=f"{type(error).__name__}: {error}"[:500])
        email.set_content(message.text)
        try:
            with smtplib.SMTP(self._settings.host, self._settings.port, timeout=TIMEOUT_SECONDS) as smtp:
                if self._settings.starttls:
                    smtp.starttls()
                if self._settings.username:
                    smtp.login(self._settings.username, self._settings.password or "")
                smtp.send_message(email)
        except (OSError, smtplib.SMTPException) as error:
            # The server's reply code when it answered (535 for a refused login, 451 for "try later"...).
            return Attempt(
                ok=False,
                status_code=getattr(error, "smtp_code", None),
                error=f"{type(error).__name__}: {error}"[:500],
            )
        return Attempt(ok=True, status_code=250)
