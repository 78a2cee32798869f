"""The network edge of notifications: signed webhooks (Standard Webhooks) and email (SMTP).

Each channel is one method, ``send(message) -> Attempt``, so the deliverer never knows how a message
travels and tests can use a real local receiver or SMTP server.

A webhook reaches public addresses only (SSRF): https on port 443, its host resolved once per attempt, every
address checked (``is_public_address``) and the connection made to the checked address — with the URL's
host name in the ``Host`` header and TLS's SNI and certificate check — so a DNS answer that changes between
the check and the connection (rebinding) cannot move it. What a subscriber reads of a failed attempt says
that the endpoint could not be reached or what HTTP status it answered, never why a connection failed
(refused, reset or timed out would map which ports are open on a host), and that a refused host does not
resolve to a public address, never the address it resolves to nor whether it resolves at all (either would
map names on the internal network). ``SIGNPOST_WEBHOOK_ALLOW_PRIVATE`` (development only) allows plain http,
any port and any address.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import logging
import secrets
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from urllib.parse import urlparse

import httpcore
import httpx

from engine import clock
from engine.errors import InvalidInput

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
TIMEOUT_SECONDS = 15.0
WEBHOOK_PORT = 443  # the only port a production webhook reaches
# What a subscriber's delivery log says of any failure below HTTP: no reason that would tell ports apart.
UNREACHABLE = "could not deliver to the endpoint (no HTTP answer)"

# IPv6 ranges refused although ``ipaddress`` calls them global. The well-known NAT64 prefix (64:ff9b::/96)
# and IPv4-mapped addresses are judged by the IPv4 address they carry (``is_public_address``).
NOT_PUBLIC_IPV6 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::/96",  # IPv4-compatible (deprecated, RFC 4291): ::10.0.0.1 is carried to 10.0.0.1
        "64:ff9b:1::/48",  # NAT64 for local use (RFC 8215): translated to addresses inside a network
        "2002::/16",  # 6to4 (deprecated, RFC 7526): tunnelled to the IPv4 address it embeds, private or not
        "2001::/32",  # Teredo: tunnelled to an obfuscated IPv4 address
        "fec0::/10",  # site-local (deprecated, RFC 3879): an organisation's own network
        "3fff::/20",  # documentation (RFC 9637)
    )
)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

# ``resolve(host, port)`` -> the host's addresses, as text; raises OSError when it has none.
Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


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


def is_public_address(text: str) -> bool:
    """Whether a webhook may connect to this address: globally routed unicast, by IANA's registries, with
    the IPv6 forms that carry or reach an IPv4 or a local address judged by where they lead."""
    address = ipaddress.ip_address(text.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public_address(str(address.ipv4_mapped))
        if address in NAT64:  # a NAT64 gateway connects to the IPv4 address in the last 32 bits
            return is_public_address(str(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)))
        if any(address in network for network in NOT_PUBLIC_IPV6):
            return False
    return address.is_global and not address.is_multicast and not address.is_reserved


def check_webhook_url(url: str, *, allow_private: bool, resolve: Resolver = system_resolver) -> None:
    """Refuse URLs that are not https on port 443 (http and other ports only when private addresses are
    allowed, for development) or whose host resolves to any non-public address (SSRF)."""
    _destination(url, allow_private=allow_private, resolve=None if allow_private else resolve)


def _destination(url: str, *, allow_private: bool, resolve: Resolver | None) -> str | None:
    """The checked address to connect to for ``url`` (the first of its host's), or None without ``resolve``;
    raises ``InvalidInput`` saying what is wrong with the URL."""
    parsed = urlparse(url)
    try:
        port = parsed.port
    except ValueError:
        raise InvalidInput(f"webhook url {url!r} has an invalid port") from None
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise InvalidInput(f"webhook url {url!r} must be an absolute https URL")
    if parsed.scheme == "http" and not allow_private:
        raise InvalidInput(f"webhook url {url!r} must use https")
    if port not in (None, WEBHOOK_PORT) and not allow_private:
        raise InvalidInput(f"webhook url {url!r} must use port {WEBHOOK_PORT} (the https default)")
    if resolve is None:
        return None
    host = parsed.hostname
    try:
        addresses = resolve(host, port or (WEBHOOK_PORT if parsed.scheme == "https" else 80))
    except (OSError, UnicodeError):
        addresses = []
    if allow_private and not addresses:
        raise InvalidInput(f"webhook host {host!r} does not resolve")
    refused = [a for a in addresses if not allow_private and not is_public_address(a)]
    if not addresses or refused:
        # The subscriber is told neither the address nor whether the name resolves at all: either would make
        # webhooks a way to look up names on the internal network. The operator's log says which it was.
        log.info(
            "webhook host %r refused: %s",
            host,
            f"resolves to {', '.join(refused)}, not public" if refused else "does not resolve",
        )
        if _is_address(host):
            raise InvalidInput(f"webhook host {host!r} is not a public address")
        raise InvalidInput(f"webhook host {host!r} does not resolve to a public address")
    return addresses[0]


def _is_address(host: str) -> bool:
    """Whether a URL's host is an IP address written out (its own answer), not a name to look up."""
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return True


class _PinnedNetwork(httpcore.NetworkBackend):
    """Connects every request to the one address that was checked, whatever host name the URL gives (that
    name still goes in the Host header and TLS's SNI and certificate check)."""

    def __init__(self, address: str, network: httpcore.NetworkBackend):
        self._address = address
        self._network = network

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return self._network.connect_tcp(self._address, port, timeout, local_address, socket_options)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("webhooks do not use unix sockets")

    def sleep(self, seconds: float) -> None:
        self._network.sleep(seconds)


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context (certificates checked against the URL's host name), made once."""
    return httpx.create_ssl_context()


class _PinnedTransport(httpx.HTTPTransport):
    def __init__(self, address: str, network: httpcore.NetworkBackend):
        super().__init__(verify=_tls())
        self._pool = httpcore.ConnectionPool(
            ssl_context=_tls(), network_backend=_PinnedNetwork(address, network)
        )


class WebhookChannel:
    """``resolve`` and ``network`` (httpcore's sockets) are the network's two edges, for tests to replace."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolve: Resolver = system_resolver,
        network: httpcore.NetworkBackend | None = None,
    ):
        self._allow_private = allow_private
        self._resolve = resolve
        self._network = network or httpcore.SyncBackend()

    def send(self, message: Message) -> Attempt:
        try:
            # Checked again at send time (DNS may have changed since the subscription was made), and the
            # connection goes to the address checked now: the host is not looked up a second time.
            address = _destination(message.url, allow_private=self._allow_private, resolve=self._resolve)
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
        # A client per attempt: a pooled connection must not outlive the address check that allowed it.
        # Proxy settings in the environment are not used: a proxy would look the host up again itself.
        with httpx.Client(
            transport=_PinnedTransport(address, self._network),
            timeout=TIMEOUT_SECONDS,
            follow_redirects=False,
            trust_env=False,
        ) as client:
            try:
                response = client.post(message.url, content=message.body.encode(), headers=headers)
            except httpx.HTTPError as error:
                log.info("webhook delivery %s: no HTTP answer (%s)", message.webhook_id, type(error).__name__)
                return Attempt(ok=False, error=UNREACHABLE)
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
        """Nothing to release: each attempt opens and closes its own connection."""


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
