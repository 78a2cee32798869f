"""A webhook URL used to reach what is not public (SSRF): IPv6 forms that ``ipaddress`` calls global but that
lead to private IPv4 or local networks, ports other than 443, a DNS answer that changes between the check
and the connection (rebinding), and delivery logs that would tell open ports from closed ones.

The network is faked only at its edges: the resolver and httpcore's sockets given to ``WebhookChannel``
(nothing here reaches the outside network), or a real receiver on 127.0.0.1 in development mode."""

from __future__ import annotations

import socket

import httpcore
import pytest

from engine.notifications.channels import (
    UNREACHABLE,
    Attempt,
    Message,
    WebhookChannel,
    is_public_address,
    new_secret,
)
from engine.settings import Settings
from engine.system import build
from tests.conftest import AUDIT_KEYS, SECRET_KEYS
from tests.support.net import free_port
from tests.support.referrals import REFERRAL

PUBLIC = "93.184.215.14"  # a global unicast IPv4 address: never actually connected to here
NOT_PUBLIC = {
    "NAT64 of 10.0.0.1": "64:ff9b::a00:1",
    "NAT64 of 127.0.0.1": "64:ff9b::7f00:1",
    "NAT64 of the metadata service": "64:ff9b::a9fe:a9fe",
    "local-use NAT64": "64:ff9b:1::808:808",
    "6to4 of 10.0.0.1": "2002:a00:1::1",
    "6to4 of a public address": "2002:808:808::1",
    "IPv4-compatible 10.0.0.1": "::10.0.0.1",
    "IPv4-compatible 127.0.0.1": "::127.0.0.1",
    "site-local": "fec0::1",
    "IPv4-mapped 10.0.0.1": "::ffff:10.0.0.1",
    "IPv4-mapped metadata service": "::ffff:169.254.169.254",
    "Teredo": "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "IPv6 multicast": "ff0e::1",
    "IPv4 multicast": "224.0.0.251",
}


def url_of(address: str, path: str = "/hooks") -> str:
    return f"https://[{address}]{path}" if ":" in address else f"https://{address}{path}"


@pytest.fixture
def strict(database_url):
    """A system with production settings: private webhook addresses refused."""
    system = build(
        Settings(
            database_url=database_url,
            require_pathway_approval=False,
            secret_keys=SECRET_KEYS,
            audit_keys=AUDIT_KEYS,
        )
    )
    yield system
    system.close()


@pytest.fixture
def production(strict):
    from api import create_app

    return create_app(strict).test_client()


def test_the_address_policy():
    for address in NOT_PUBLIC.values():
        assert not is_public_address(address), address
    # What leads to a public address stays deliverable, DNS64's NAT64 answers included.
    for address in (PUBLIC, "2606:4700:4700::1111", "64:ff9b::808:808", "::ffff:8.8.8.8"):
        assert is_public_address(address), address


@pytest.mark.parametrize("address", NOT_PUBLIC.values(), ids=NOT_PUBLIC.keys())
def test_subscribing_a_webhook_on_an_address_that_is_not_public_is_refused(
    production, nursing, gp_headers, address
):
    refused = production.post("/api/v1/subscriptions", json={"url": url_of(address)}, headers=gp_headers)
    assert refused.status_code == 422, refused.json
    assert refused.json["detail"] == f"webhook host '{address}' is not a public address", refused.json
    started = production.post(
        "/api/v1/referrals", json={**REFERRAL, "notify": {"url": url_of(address)}}, headers=gp_headers
    )
    assert started.status_code == 422, started.json
    assert production.get("/api/v1/subscriptions", headers=gp_headers).json == []


def test_a_webhook_must_use_port_443(production, gp_headers):
    for url in ("https://hooks.example:8443/x", "https://hooks.example:22/x", "https://hooks.example:0/x"):
        refused = production.post("/api/v1/subscriptions", json={"url": url}, headers=gp_headers)
        assert refused.status_code == 422 and "must use port 443" in refused.json["detail"], refused.json


def development_system(signpost):
    """The same database served as a development server would: private webhook addresses allowed."""
    return build(
        Settings(
            database_url=signpost.settings.database_url,
            require_pathway_approval=False,
            secret_keys=SECRET_KEYS,
            audit_keys=AUDIT_KEYS,
            webhook_allow_private=True,
        )
    )


def test_a_subscription_made_where_private_addresses_were_allowed_is_not_sent_to_them(
    signpost, strict, http, nursing, gp_headers
):
    """Checked again at each send: here the subscription was made by a development server."""
    developing = development_system(signpost)
    from api import create_app

    made = []
    for address in ("64:ff9b::7f00:1", "::ffff:127.0.0.1", "fec0::1"):
        response = (
            create_app(developing)
            .test_client()
            .post(
                "/api/v1/subscriptions",
                json={"url": url_of(address), "events": ["referral.received"]},
                headers=gp_headers,
            )
        )
        assert response.status_code == 201, response.json
        made.append(response.json["id"])
    developing.close()
    assert http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers).status_code == 201
    assert strict.notifications.deliver_due() == 3
    for subscription in made:
        [delivery] = http.get(f"/api/v1/subscriptions/{subscription}/deliveries", headers=gp_headers).json
        assert delivery["status"] == "pending"
        assert "is not a public address" in delivery["last_error"], delivery


# ---- a refusal is no DNS oracle: names on the internal network -------------------------------------------
# What the system resolver answers for names under .example (the rest of the world is left alone): internal
# names, one that does not exist, and one whose answers are public and private at once.
INTERNAL_NAMES = {
    "db.corp.example": ["10.20.30.40"],
    "metadata.corp.example": ["169.254.169.254"],
    "vault.corp.example": ["fd12:3456::7"],
    "split.corp.example": [PUBLIC, "192.168.7.7"],
    "nowhere.corp.example": [],  # NXDOMAIN
}


@pytest.fixture
def internal_dns(monkeypatch):
    """The system resolver (``socket.getaddrinfo``) with the internal names above: the network's edge."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if not (isinstance(host, str) and host.endswith(".example")):
            return real(host, port, *args, **kwargs)
        answers = INTERNAL_NAMES.get(host, [])
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def internal_addresses() -> list[str]:
    return [a for answers in INTERNAL_NAMES.values() for a in answers if a != PUBLIC]


def test_a_refused_webhook_host_is_not_told_what_it_resolves_to_nor_whether_it_resolves(
    production, nursing, gp_headers, internal_dns
):
    """An address in the refusal would make subscribing a way to look up internal names (db.corp → 10.x),
    and "does not resolve" beside "resolves to a private address" a way to learn which names exist."""
    details = {}
    for host in INTERNAL_NAMES:
        url = f"https://{host}/hooks"
        refused = production.post("/api/v1/subscriptions", json={"url": url}, headers=gp_headers)
        assert refused.status_code == 422, refused.json
        assert refused.content_type == "application/problem+json"
        details[host] = refused.json["detail"]
        started = production.post(
            "/api/v1/referrals", json={**REFERRAL, "notify": {"url": url}}, headers=gp_headers
        )
        assert started.status_code == 422, started.json
        assert started.json["detail"] == details[host]
    for host, detail in details.items():
        assert detail == f"webhook host '{host}' does not resolve to a public address", detail
        assert not [a for a in internal_addresses() if a in detail], detail
    assert production.get("/api/v1/subscriptions", headers=gp_headers).json == []


def test_a_delivery_log_does_not_show_what_a_webhook_host_resolved_to(
    signpost, strict, http, nursing, gp_headers, internal_dns
):
    """Checked again at each send: subscriptions made by a development server, delivered by a production
    one. What their delivery logs say is the same for every internal name and for one that does not exist."""
    developing = development_system(signpost)
    from api import create_app

    development = create_app(developing).test_client()
    made = {}
    for host in INTERNAL_NAMES:
        body = {"url": f"https://{host}/hooks", "events": ["referral.received"]}
        response = development.post("/api/v1/subscriptions", json=body, headers=gp_headers)
        assert response.status_code == 201, response.json
        made[host] = response.json["id"]
    developing.close()
    assert http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers).status_code == 201
    assert strict.notifications.deliver_due() == len(INTERNAL_NAMES)
    for host, subscription in made.items():
        [delivery] = http.get(f"/api/v1/subscriptions/{subscription}/deliveries", headers=gp_headers).json
        said = f"webhook host '{host}' does not resolve to a public address"
        assert delivery["status"] == "pending", delivery
        assert delivery["last_error"] == said
        assert [a["error"] for a in delivery["attempt_log"]] == [said]
        assert not [a for a in internal_addresses() if a in str(delivery)], delivery


# ---- the network edge, faked: a resolver and httpcore's sockets -------------------------------------------


class Resolver:
    """Answers from a script, one answer per look-up (the last one repeated), counting the look-ups."""

    def __init__(self, *answers: list[str]):
        self.answers = list(answers)
        self.lookups: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append((host, port))
        return self.answers[min(len(self.lookups), len(self.answers)) - 1]


class FakeStream(httpcore.NetworkStream):
    def __init__(self, network: Network):
        self.network = network

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        self.network.tls_server_names.append(server_hostname)
        return self  # the handshake itself is the real network's business

    def write(self, buffer, timeout=None):
        self.network.sent += buffer

    def read(self, max_bytes, timeout=None):
        answer, self.network.answer = self.network.answer, b""
        return answer

    def close(self):
        pass


class Network(httpcore.NetworkBackend):
    """Records where each connection goes and what is sent; answers 204, or fails with ``failure``."""

    def __init__(self, failure: Exception | None = None):
        self.failure = failure
        self.connections: list[tuple[str, int]] = []
        self.tls_server_names: list[str | None] = []
        self.sent = b""
        self.answer = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connections.append((host, port))
        if self.failure is not None:
            raise self.failure
        return FakeStream(self)


def message(url: str, secret: str = "") -> Message:
    return Message(
        webhook_id="msg_1",
        body='{"type": "referral.received"}',
        url=url,
        email=None,
        secrets=(secret or new_secret(),),
        subject="",
        text="",
    )


def test_the_connection_goes_to_the_address_that_was_checked_whatever_dns_says_next():
    """DNS rebinding: a public answer for the check, then 127.0.0.1 for any later look-up."""
    resolver, network = Resolver([PUBLIC], ["127.0.0.1"]), Network()
    channel = WebhookChannel(allow_private=False, resolve=resolver, network=network)

    attempt = channel.send(message("https://hooks.example/signpost"))

    assert attempt == Attempt(ok=True, status_code=204)
    assert resolver.lookups == [("hooks.example", 443)]  # looked up once, to check
    assert network.connections == [(PUBLIC, 443)]  # and connected to what was checked
    assert network.tls_server_names == ["hooks.example"]  # TLS still names (and verifies) the host
    assert b"\r\nHost: hooks.example\r\n" in network.sent
    assert network.sent.startswith(b"POST /signpost HTTP/1.1\r\n")


def test_an_answer_that_turns_private_is_refused_without_connecting():
    resolver, network = Resolver([PUBLIC], ["64:ff9b::a00:1", PUBLIC]), Network()
    channel = WebhookChannel(allow_private=False, resolve=resolver, network=network)
    assert channel.send(message("https://hooks.example/")).ok
    refused = channel.send(message("https://hooks.example/"))
    said = "webhook host 'hooks.example' does not resolve to a public address"
    assert refused == Attempt(ok=False, error=said)  # not the address it resolved to
    assert network.connections == [(PUBLIC, 443)]  # the first send only


@pytest.mark.parametrize(
    "failure",
    [
        httpcore.ConnectError("[Errno 111] Connection refused"),
        httpcore.ConnectTimeout("timed out"),
        httpcore.ConnectError("[Errno 104] Connection reset by peer"),
        httpcore.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number"),
    ],
    ids=["refused", "timed out", "reset", "not TLS"],
)
def test_a_failed_connection_says_only_that_the_endpoint_could_not_be_reached(failure):
    """Refused, timed out or not speaking TLS would tell a subscriber which ports are open on a host."""
    channel = WebhookChannel(allow_private=False, resolve=Resolver([PUBLIC]), network=Network(failure))
    assert channel.send(message("https://hooks.example/")) == Attempt(ok=False, error=UNREACHABLE)


def test_an_answer_that_never_comes_says_the_same():
    network = Network()
    network.answer = b""  # the far side closes without answering
    channel = WebhookChannel(allow_private=False, resolve=Resolver([PUBLIC]), network=network)
    assert channel.send(message("https://hooks.example/")) == Attempt(ok=False, error=UNREACHABLE)


# ---- development mode, with a real receiver on 127.0.0.1 ------------------------------------------------


def test_in_development_the_checked_address_is_used_too(receiver):
    secret = new_secret()
    receiver.expect("/gp", secret)
    resolver = Resolver(["127.0.0.1"], ["192.0.2.1"])  # a second look-up would lead nowhere
    channel = WebhookChannel(allow_private=True, resolve=resolver)
    attempt = channel.send(message(f"http://receiver.test:{receiver.port}/gp", secret))
    assert attempt == Attempt(ok=True, status_code=204)
    assert resolver.lookups == [("receiver.test", receiver.port)]
    assert [r.answered for r in receiver.received("/gp")] == [204]


def test_a_delivery_log_does_not_tell_a_closed_port_from_an_open_one(signpost, http, nursing, gp_headers):
    """Through the API, in development mode (where any port may be named): nothing listens on the port."""
    import dataclasses

    from api import create_app

    developing = build(dataclasses.replace(signpost.settings, webhook_allow_private=True))
    client = create_app(developing).test_client()
    closed = f"http://127.0.0.1:{free_port()}/hooks"
    made = client.post(
        "/api/v1/subscriptions", json={"url": closed, "events": ["referral.received"]}, headers=gp_headers
    )
    assert made.status_code == 201, made.json
    assert client.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers).status_code == 201
    assert developing.notifications.deliver_due() == 1
    [delivery] = client.get(f"/api/v1/subscriptions/{made.json['id']}/deliveries", headers=gp_headers).json
    developing.close()
    assert delivery["last_error"] == UNREACHABLE
    assert [a["error"] for a in delivery["attempt_log"]] == [UNREACHABLE]
    assert "refused" not in str(delivery).lower()
