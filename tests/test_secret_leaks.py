"""No secret leaks into a log line, an error answer or the database, in normal use or when things go wrong.

One run drives the API the way a deployment lives: an admin creates a client (a bearer token), the client
subscribes a webhook (a ``whsec_`` secret) and an email address (sent through an SMTP server that wants a
password), a user signed in at an OpenID Connect issuer (a bearer JWT) reads along, referrals are made and
their milestones delivered, the secret is rotated, and an auditor reads the trail. Then everything fails
once: unknown, forged and expired tokens, broken bodies, a webhook receiver that is down or unreachable, an
SMTP server that refuses the login, and an engine holding the wrong encryption key. All the while every
logger writes at DEBUG into the capture. (The issuer is the local one of tests/support/oidc_issuer.py.)

The haystack is every log record (with tracebacks), everything printed, every answer body except the few
that show a secret to its owner once (a new client's token, a new or rotated webhook secret), the reprs of
the settings, and every row of every table. No secret may be found in it: not a token, not a webhook secret
nor the base64 key inside it, not the SMTP password, not an encryption key.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from engine.errors import SecretKeysUnavailable
from engine.notifications.secrets_at_rest import new_key
from engine.settings import Settings
from engine.store.tables import metadata
from engine.system import build
from tests.conftest import AUDIT_KEYS
from tests.support.net import free_port
from tests.support.oidc_issuer import AUDIENCE, Issuer
from tests.support.referrals import REFERRAL

SMTP_USERNAME = "signpost-relay"
SMTP_PASSWORD = "smtp-pw-" + secrets.token_urlsafe(16)
ENCRYPTION_KEYS = (new_key(), new_key())  # a current key and the one before it
SHOWN_ONCE = "shown once"


def jwt_shaped_token() -> str:
    """A bearer token as an OpenID Connect provider issues them (Signpost does not know this one)."""

    def part(value: dict | bytes) -> str:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    header = {"alg": "RS256", "typ": "JWT", "kid": "key-2026"}
    claims = {
        "iss": "https://login.example.org/",
        "sub": "gp-system-17",
        "aud": "signpost",
        "exp": 4102444800,
    }
    return ".".join((part(header), part(claims), part(secrets.token_bytes(64))))


class Relay:
    """An SMTP server (aiosmtpd) that wants SMTP_USERNAME / SMTP_PASSWORD, or refuses every login."""

    def __init__(self):
        self.refusing_logins = False
        self.delivered = 0

    def authenticate(self, _server, _session, _envelope, _mechanism, auth_data) -> AuthResult:
        known = (auth_data.login, auth_data.password) == (SMTP_USERNAME.encode(), SMTP_PASSWORD.encode())
        return AuthResult(success=known and not self.refusing_logins, handled=False)

    async def handle_DATA(self, _server, _session, _envelope):
        self.delivered += 1
        return "250 OK"


@pytest.fixture
def relay():
    handler = Relay()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=handler.authenticate,
        auth_require_tls=False,  # a local test server without a certificate
    )
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def issuer():
    issuer = Issuer()
    issuer.new_key("key-1")
    issuer.new_key("unpublished", publish=False)
    yield issuer
    issuer.close()


@pytest.fixture
def everything_logged(caplog):
    """Every logger, the ones that exist now and any made later, at DEBUG into ``caplog``."""
    caplog.set_level(logging.DEBUG)
    apart = []
    for name in sorted(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
        logger = logging.getLogger(name)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
            apart.append(logger)
    yield caplog
    for logger in apart:
        logger.removeHandler(caplog.handler)


@pytest.fixture
def settings(everything_logged, database_url, relay, issuer) -> Settings:
    return Settings(
        database_url=database_url,
        require_pathway_approval=False,
        webhook_allow_private=True,
        smtp_host="127.0.0.1",
        smtp_port=relay.port,
        smtp_username=SMTP_USERNAME,
        smtp_password=SMTP_PASSWORD,
        secret_keys=ENCRYPTION_KEYS,
        audit_keys=AUDIT_KEYS,
        oidc_issuer=issuer.url,
        oidc_audience=AUDIENCE,
    )


class Answers:
    """The test client, keeping every answer: the ones that show a secret once are kept apart."""

    def __init__(self, http):
        self._http = http
        self.bodies: list[str] = []
        self.problems: list[str] = []
        self.shown_once: list[str] = []

    def call(self, method: str, path: str, *, expect: int, shows_a_secret: bool = False, **kwargs):
        response = self._http.open(path, method=method, **kwargs)
        assert response.status_code == expect, (method, path, response.get_data(as_text=True))
        text = response.get_data(as_text=True)
        if response.mimetype == "application/problem+json":
            self.problems.append(text)
        (self.shown_once if shows_a_secret else self.bodies).append(text)
        return response


def test_no_secret_appears_in_logs_error_answers_or_the_database(
    everything_logged,
    capfd,
    signpost,
    settings,
    http,
    nursing,
    admin_headers,
    auditor_headers,
    receiver,
    relay,
    issuer,
):
    answers = Answers(http)
    now = int(datetime.now(UTC).timestamp())
    signed_in = issuer.token(iat=now, exp=now + 3600)
    unknown_jwt = jwt_shaped_token()
    forged = issuer.token("unpublished", iat=now, exp=now + 3600)
    expired = issuer.token(iat=now - 7200, exp=now - 3600)

    # ---- normal use ------------------------------------------------------------------------------------
    created = answers.call(
        "POST",
        "/api/v1/clients",
        json={"name": "City GP system", "organisation": "city-gp-practice", "roles": ["referrer"]},
        headers=admin_headers,
        expect=201,
        shows_a_secret=True,
    )
    token = created.json["token"]
    gp = {"Authorization": f"Bearer {token}"}
    hook = answers.call(
        "POST",
        "/api/v1/subscriptions",
        json={"url": receiver.url("/gp")},
        headers=gp,
        expect=201,
        shows_a_secret=True,
    ).json
    receiver.expect("/gp", hook["secret"])
    answers.call(
        "POST", "/api/v1/subscriptions", json={"email": "referrals@city-gp.example"}, headers=gp, expect=201
    )
    one_off_request = {
        "json": {**REFERRAL, "notify": {"url": receiver.url("/one-off")}},
        "headers": {**gp, "Idempotency-Key": "gp-msg-0001"},
    }
    referral = answers.call(
        "POST", "/api/v1/referrals", expect=201, shows_a_secret=True, **one_off_request
    ).json
    one_off_secret = referral["notification_subscription"]["secret"]
    receiver.expect("/one-off", one_off_secret)
    answers.call("POST", "/api/v1/referrals", expect=201, shows_a_secret=True, **one_off_request)  # a retry
    assert signpost.notifications.deliver_due() == 9  # received, triaged, routed: by webhook, email, one-off
    assert [r.answered for r in receiver.received()] == [204] * 6 and relay.delivered == 3

    rotated = answers.call(
        "POST",
        f"/api/v1/subscriptions/{hook['id']}/rotate-secret",
        json={},
        headers=gp,
        expect=200,
        shows_a_secret=True,
    ).json
    receiver.expect("/gp", hook["secret"], rotated["secret"])
    second = answers.call("POST", "/api/v1/referrals", json=REFERRAL, headers=gp, expect=201).json
    signpost.notifications.deliver_due()
    for path in (
        f"/api/v1/subscriptions/{hook['id']}",
        "/api/v1/subscriptions",
        f"/api/v1/subscriptions/{hook['id']}/deliveries",
        f"/api/v1/subscriptions/{hook['id']}/events?since=0",
        f"/api/v1/referrals/{referral['id']}",
        f"/api/v1/referrals/{second['id']}/deliveries",
    ):
        answers.call("GET", path, headers=gp, expect=200)
    answers.call("GET", "/api/v1/clients", headers=admin_headers, expect=200)
    answers.call("GET", "/api/v1/subscriptions", headers={"Authorization": f"Bearer {signed_in}"}, expect=200)
    answers.call(
        "GET",
        f"/api/v1/referrals/{referral['id']}",
        headers={"Authorization": f"Bearer {signed_in}"},
        expect=200,
    )
    answers.call("GET", f"/api/v1/audit?referral={referral['id']}", headers=auditor_headers, expect=200)

    # ---- failures --------------------------------------------------------------------------------------
    for authorization in (
        f"Bearer {unknown_jwt}",
        f"Bearer {forged}",
        f"Bearer {expired}",
        f"Bearer {signed_in}x",
        f"Bearer {token}x",
        f"Bearer x{token}",
        f"Basic {base64.b64encode(f'city-gp:{token}'.encode()).decode()}",
        token,
    ):
        answers.call("GET", "/api/v1/subscriptions", headers={"Authorization": authorization}, expect=401)
    answers.call(
        "POST",
        "/api/v1/subscriptions",
        data="{not json",
        headers=gp,
        content_type="application/json",
        expect=400,
    )
    answers.call("POST", "/api/v1/subscriptions", json={"url": 17, "events": "all"}, headers=gp, expect=422)
    answers.call("POST", "/api/v1/subscriptions", json={"url": "ftp://files.example"}, headers=gp, expect=422)
    answers.call(
        "POST", "/api/v1/referrals", json={"pathway": "community_nursing_referral"}, headers=gp, expect=422
    )
    answers.call("POST", "/api/v1/referrals", json={**REFERRAL, "data": "\x00"}, headers=gp, expect=400)
    answers.call(
        "POST",
        f"/api/v1/subscriptions/{hook['id']}/rotate-secret",
        json={"grace_seconds": -1},
        headers=gp,
        expect=422,
    )
    answers.call(
        "POST",
        "/api/v1/clients",
        json={"name": "x", "organisation": "y", "roles": ["root"]},
        headers=admin_headers,
        expect=422,
    )
    answers.call("GET", "/api/v1/audit?referral=x", headers=gp, expect=403)

    receiver.mode = "down"
    relay.refusing_logins = True
    unreachable = answers.call(
        "POST",
        "/api/v1/subscriptions",
        json={"url": f"http://127.0.0.1:{free_port()}/closed"},
        headers=gp,
        expect=201,
        shows_a_secret=True,
    ).json
    failing = answers.call("POST", "/api/v1/referrals", json=REFERRAL, headers=gp, expect=201).json
    signpost.notifications.deliver_due()
    log = answers.call("GET", f"/api/v1/referrals/{failing['id']}/deliveries", headers=gp, expect=200).json
    assert {(d["last_status_code"], d["status"]) for d in log if d["attempts"]} == {
        (503, "pending"),  # the receiver is down
        (535, "pending"),  # the SMTP server refused the login
        (None, "pending"),  # nobody listens on that port
    }

    wrong_key = build(
        Settings(database_url=settings.database_url, secret_keys=(new_key(),), audit_keys=AUDIT_KEYS)
    )
    try:
        receiver.mode = "up"
        with signpost.database.write() as conn:  # everything due again now
            conn.execute(
                sa.text("UPDATE deliveries SET next_attempt_at = created_at WHERE status = 'pending'")
            )
        wrong_key.notifications.deliver_due()  # no secret decrypts: logged and recorded, nothing sent
    finally:
        wrong_key.close()
    with pytest.raises(SecretKeysUnavailable) as malformed:
        build(Settings(database_url=settings.database_url, secret_keys=(ENCRYPTION_KEYS[0][:-4],)))

    # ---- the haystack ----------------------------------------------------------------------------------
    with signpost.database.read() as conn:
        rows = [
            repr(tuple(row)) for table in metadata.sorted_tables for row in conn.execute(sa.select(table))
        ]
    printed = capfd.readouterr()
    haystack = {
        "logs": everything_logged.text,
        "printed": printed.out + printed.err,
        "answers": "\n".join(answers.bodies),
        "the database": "\n".join(rows),
        "the settings": repr(settings) + repr(signpost.settings) + malformed.value.message,
    }
    whsec_secrets = [hook["secret"], rotated["secret"], one_off_secret, unreachable["secret"]]
    needles = {
        "the new client's token": token,
        "the admin's token": admin_headers["Authorization"].split()[1],
        "the auditor's token": auditor_headers["Authorization"].split()[1],
        "the OpenID Connect token": signed_in,
        "its signature": signed_in.rsplit(".", 1)[1],
        "an unknown JWT": unknown_jwt,
        "a forged JWT": forged,
        "an expired JWT": expired,
        "the SMTP password": SMTP_PASSWORD,
        "an encryption key": ENCRYPTION_KEYS[0],
        "the previous encryption key": ENCRYPTION_KEYS[1],
        "the malformed encryption key": ENCRYPTION_KEYS[0][:-4],
        "the audit trail's key": AUDIT_KEYS[0].partition(":")[2],
        **{f"webhook secret {n}": secret for n, secret in enumerate(whsec_secrets)},
        **{
            f"the key inside webhook secret {n}": s.removeprefix("whsec_")
            for n, s in enumerate(whsec_secrets)
        },
    }
    # The capture really holds what a leak would be in: DEBUG records of every layer, and the problems.
    logged_by = {record.name.split(".")[0] for record in everything_logged.records}
    assert {"sqlalchemy", "httpx", "httpcore", "engine"} <= logged_by, logged_by
    assert len(answers.problems) == 16 and all(p in answers.bodies for p in answers.problems)
    assert any("cannot be decrypted" in r.getMessage() for r in everything_logged.records)
    assert all(any(s in shown for shown in answers.shown_once) for s in (token, *whsec_secrets))

    found = [
        f"{what} in {where}"
        for what, needle in needles.items()
        for where, text in haystack.items()
        if needle in text
    ]
    assert found == []
