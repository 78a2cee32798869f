"""OpenID Connect bearer JWTs: a token signed by the configured issuer is a client, in the organisation and
roles its claims name, known by a row of its own that audit records point at and an admin can revoke.

The issuer is real and local (tests/support/oidc_issuer.py): an HTTP server on 127.0.0.1 publishing a
discovery document and a JWKS of keys made with ``cryptography``; tokens are signed with PyJWT (or by hand,
for the forgeries PyJWT will not make). Time moves with ``time_machine``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import sqlalchemy as sa
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from engine.governance.oidc import KEYS_MAX_AGE, REFETCH_INTERVAL
from engine.settings import Settings
from engine.store.tables import api_clients
from engine.system import build
from tests.conftest import AUDIT_KEYS, SECRET_KEYS
from tests.support.oidc_issuer import AUDIENCE, Issuer
from tests.support.personas import GP_PRACTICE

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
REFERRAL = {
    "pathway": "community_nursing_referral",
    "referrer": "C81001",
    "subject": "9434765919",
    "data": {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False},
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict, claims: dict, sign) -> str:
    """A token put together by hand, for the forgeries PyJWT refuses to make."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def issuer():
    issuer = Issuer()
    issuer.new_key("key-1")
    yield issuer
    issuer.close()


@pytest.fixture
def settings(settings, issuer) -> Settings:
    return replace(settings, oidc_issuer=issuer.url, oidc_audience=AUDIENCE)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def jwt_clients(signpost) -> list[dict]:
    with signpost.database.read() as conn:
        query = sa.select(api_clients).where(api_clients.c.external_subject.is_not(None)).order_by("id")
        return [dict(row) for row in conn.execute(query).mappings()]


def referral_count(signpost) -> int:
    with signpost.database.read() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM referrals")).scalar_one()


# ---- accepted ----------------------------------------------------------------------------------------


def test_a_referrer_signed_in_at_the_issuer_starts_a_referral_and_reads_it_back(
    http, signpost, issuer, nursing, auditor_headers
):
    token = issuer.token()
    services = http.get("/api/v1/services", headers=bearer(token))
    assert services.status_code == 200, services.json

    started = http.post("/api/v1/referrals", json=REFERRAL, headers=bearer(token))
    assert started.status_code == 201, started.json
    read = http.get(f"/api/v1/referrals/{started.json['id']}", headers=bearer(token))
    assert read.status_code == 200, read.json
    assert read.json["id"] == started.json["id"]

    [client] = jwt_clients(signpost)
    assert client["external_subject"] == f"{issuer.url} alice"
    assert (client["name"], client["organisation"], client["roles"]) == (
        "Alice Smith",
        GP_PRACTICE,
        ["referrer"],
    )
    assert client["token_hash"] is None and client["revoked_at"] is None
    assert client["last_used_at"] == START
    with signpost.database.read() as conn:
        created_by = conn.execute(
            sa.text("SELECT created_by FROM referrals WHERE id = :id"), {"id": started.json["id"]}
        ).scalar_one()
    assert created_by == client["id"]
    # One discovery and one JWKS fetch serve every request after the first.
    assert issuer.requests == ["/.well-known/openid-configuration", "/jwks"]

    trail = http.get("/api/v1/audit", query_string={"referral": started.json["id"]}, headers=auditor_headers)
    assert trail.status_code == 200, trail.json
    by_alice = [r for r in trail.json if r["actor"] == f"client:{client['id']}:Alice Smith"]
    assert [(r["action"], r["organisation"], r["roles"], r["outcome"]) for r in by_alice] == [
        ("create", GP_PRACTICE, ["referrer"], 201),
        ("read", GP_PRACTICE, ["referrer"], 200),
    ]


def test_the_subjects_row_follows_its_latest_token(http, signpost, issuer, directory, admin_headers):
    assert http.get("/api/v1/services", headers=bearer(issuer.token())).status_code == 200
    moved = issuer.token(
        name=None,
        preferred_username="alice.smith",
        signpost_organisation="leicestershire-partnership-nhs-trust",
        # A space-separated string, as some issuers send scopes; roles Signpost does not know are ignored.
        signpost_roles="operator superuser service",
        signpost_service="community-health-spa",
    )
    assert http.get("/api/v1/services", headers=bearer(moved)).status_code == 200

    [client] = jwt_clients(signpost)
    assert client["name"] == "alice.smith"
    assert client["organisation"] == "leicestershire-partnership-nhs-trust"
    assert client["roles"] == ["operator", "service"]
    assert client["service"] == "community-health-spa"

    listed = http.get("/api/v1/clients", headers=admin_headers)
    assert listed.status_code == 200
    [entry] = [c for c in listed.json if c["id"] == client["id"]]
    assert entry["external_subject"] == f"{issuer.url} alice"


def test_a_token_signed_with_an_ec_key_and_nested_role_claims(http, signpost, issuer, database_url):
    issuer.new_key("ec-1", kind="EC")
    keycloak_style = replace(
        signpost.settings, oidc_roles_claim="realm_access.roles", database_url=database_url
    )
    system = build(keycloak_style)
    try:
        from api import create_app

        client = create_app(system).test_client()
        token = issuer.token(
            "ec-1", signpost_roles=None, realm_access={"roles": ["referrer", "offline_access"]}
        )
        assert jwt.get_unverified_header(token)["alg"] == "ES256"
        answer = client.get("/api/v1/services", headers=bearer(token))
        assert answer.status_code == 200, answer.json
    finally:
        system.close()


def test_keys_come_from_the_configured_jwks_url_without_discovery(issuer, settings):
    system = build(
        replace(
            settings,
            oidc_issuer=issuer.url,
            oidc_audience=AUDIENCE,
            oidc_jwks_url=f"{issuer.url}/jwks",
        )
    )
    try:
        from api import create_app

        answer = create_app(system).test_client().get("/api/v1/services", headers=bearer(issuer.token()))
        assert answer.status_code == 200, answer.json
        assert issuer.requests == ["/jwks"]
    finally:
        system.close()


# ---- refused -------------------------------------------------------------------------------------------


def forged_hs256(issuer: Issuer) -> str:
    """HS256 with the issuer's public key as the HMAC secret: the classic algorithm-confusion forgery."""
    public_pem = (
        issuer.private_keys["key-1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return handmade(
        {"alg": "HS256", "typ": "JWT", "kid": "key-1"},
        issuer.claims(),
        lambda data: hmac.new(public_pem, data, hashlib.sha256).digest(),
    )


def unsigned(issuer: Issuer) -> str:
    return handmade({"alg": "none", "typ": "JWT", "kid": "key-1"}, issuer.claims(), lambda _data: b"")


def another_key(issuer: Issuer) -> str:
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return issuer.token(signing_key=impostor)


REFUSALS = {
    "expired": (
        lambda issuer: issuer.token(exp=int((START + timedelta(minutes=5)).timestamp())),
        timedelta(minutes=6),
        "the token has expired",
    ),
    "not yet valid": (
        lambda issuer: issuer.token(nbf=int((START + timedelta(minutes=5)).timestamp())),
        timedelta(0),
        "not valid yet",
    ),
    "without an expiry": (lambda issuer: issuer.token(exp=None), timedelta(0), "no 'exp' claim"),
    "wrong audience": (
        lambda issuer: issuer.token(aud="another-api"),
        timedelta(0),
        f"not meant for this API (audience {AUDIENCE})",
    ),
    "wrong issuer": (
        lambda issuer: issuer.token(iss="https://login.elsewhere.example"),
        timedelta(0),
        "the token was not issued by http://127.0.0.1:",
    ),
    "signed by another key": (another_key, timedelta(0), "signature does not verify with the issuer's key"),
    "alg none": (unsigned, timedelta(0), "must be signed with one of RS256, ES256"),
    "HS256 with the public key": (forged_hs256, timedelta(0), "must be signed with one of RS256, ES256"),
    "no roles claim": (
        lambda issuer: issuer.token(signpost_roles=None),
        timedelta(0),
        "grants no roles: it has no 'signpost_roles' claim",
    ),
    "no known role": (
        lambda issuer: issuer.token(signpost_roles=["superuser", "root"]),
        timedelta(0),
        "'signpost_roles' claim grants none of the roles admin, auditor",
    ),
    "no organisation": (
        lambda issuer: issuer.token(signpost_organisation=None),
        timedelta(0),
        "names no organisation in its 'signpost_organisation' claim",
    ),
    "no subject": (lambda issuer: issuer.token(sub=None), timedelta(0), "no 'sub' claim"),
    # Token clients are refused the same with a 422 (engine.governance.clients._check_point_of_access).
    "another organisation's point of access": (
        lambda issuer: issuer.token(signpost_roles=["operator"], signpost_service="community-health-spa"),
        timedelta(0),
        "'community-health-spa' is run by leicestershire-partnership-nhs-trust, not by city-gp-practice",
    ),
    "a service that is not a point of access": (
        lambda issuer: issuer.token(signpost_roles=["operator"], signpost_service="community-nursing-city"),
        timedelta(0),
        "'community-nursing-city' is not a point of access",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_tokens_are_told_why_and_create_nothing(http, signpost, issuer, nursing, frozen_time, case):
    make, later, detail = REFUSALS[case]
    token = make(issuer)
    frozen_time.move_to(START + later)

    answer = http.post("/api/v1/referrals", json=REFERRAL, headers=bearer(token))

    assert answer.status_code == 401, answer.json
    assert answer.mimetype == "application/problem+json"
    assert detail in answer.json["detail"]
    assert "alice" not in answer.get_data(as_text=True)  # nothing of the token is echoed back
    assert jwt_clients(signpost) == []
    assert referral_count(signpost) == 0


PLATFORM_ROLE_CLAIMS = {
    "platform-admin": ["admin", "platform-admin"],
    "platform-auditor": ["platform-auditor"],
    "beside an ordinary role, space-separated": "referrer platform-admin",
}


@pytest.mark.parametrize("roles", PLATFORM_ROLE_CLAIMS.values(), ids=PLATFORM_ROLE_CLAIMS.keys())
def test_a_token_claiming_a_platform_role_is_refused_and_creates_nothing(
    http, signpost, issuer, nursing, gp_headers, admin_headers, roles
):
    """Platform roles act across every organisation: only a platform admin grants them, to a client it
    makes. An issuer that puts one in a token (a misconfigured group mapping, a user editing their own
    attributes) does not make its subject a platform admin or auditor, not even alongside other roles."""
    started = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers)
    assert started.status_code == 201, started.json
    clients_before = http.get("/api/v1/clients", headers=admin_headers).json
    token = issuer.token(sub="mallory", name="Mallory", signpost_roles=roles)
    backdoor = {"name": "b", "organisation": "signpost", "roles": ["platform-admin"], "person": "m@x.org"}
    for method, path, body in [
        ("GET", "/api/v1/clients", None),  # every organisation's clients, for a platform admin
        ("POST", "/api/v1/clients", backdoor),  # a platform admin of its own making
        ("GET", f"/api/v1/audit?referral={started.json['id']}", None),  # any referral's trail, for an auditor
        ("GET", "/api/v1/services", None),  # nor is the token good for what its other roles allow
    ]:
        answer = http.open(path, method=method, json=body, headers=bearer(token))
        assert answer.status_code == 401, (path, answer.status_code, answer.get_data(as_text=True))
        assert answer.mimetype == "application/problem+json"
        detail = answer.json["detail"]
        said = "platform roles (platform-admin, platform-auditor) are granted only to API clients made by"
        assert said in detail and "a platform admin, never by an OpenID Connect token" in detail, detail
        assert "mallory" not in answer.get_data(as_text=True).lower()
    assert jwt_clients(signpost) == []
    assert http.get("/api/v1/clients", headers=admin_headers).json == clients_before

    # The same subject, once the issuer grants it ordinary roles only, is let in as what those allow.
    ordinary = issuer.token(sub="mallory", name="Mallory", signpost_roles=["referrer"])
    assert http.get("/api/v1/services", headers=bearer(ordinary)).status_code == 200
    [client] = jwt_clients(signpost)
    assert client["roles"] == ["referrer"]


def test_an_operator_token_claiming_another_organisations_point_of_access_reads_nothing(
    http, signpost, issuer, nursing, gp_headers
):
    started = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers)
    assert started.status_code == 201, started.json
    [handoff] = started.json["handoffs"]
    # An operator of the city council whose issuer puts the trust's community health SPA in its token.
    claimed = issuer.token(
        sub="mallory",
        signpost_organisation="leicester-city-council",
        signpost_roles=["operator"],
        signpost_service="community-health-spa",
    )
    for path in (
        f"/api/v1/referrals/{started.json['id']}",
        f"/api/v1/handoffs/{handoff['id']}",
        "/api/v1/tasks",
    ):
        answer = http.get(path, headers=bearer(claimed))
        assert answer.status_code == 401, (path, answer.status_code)
        assert answer.mimetype == "application/problem+json"
        detail = answer.json["detail"]
        assert "run by leicestershire-partnership-nhs-trust, not by leicester-city-council" in detail
        assert "medication" not in answer.get_data(as_text=True)
    task = http.get(f"/fhir/Task/{handoff['id']}", headers=bearer(claimed))
    assert task.status_code == 401 and "medication" not in task.get_data(as_text=True)
    assert jwt_clients(signpost) == []

    # The trust's own operator, at the point of access working on the referral, is let in.
    own = issuer.token(
        sub="olivia",
        signpost_organisation="leicestershire-partnership-nhs-trust",
        signpost_roles=["operator"],
        signpost_service="community-health-spa",
    )
    assert http.get(f"/api/v1/handoffs/{handoff['id']}", headers=bearer(own)).status_code == 200


def test_a_token_that_never_expires_is_refused(http, signpost, issuer):
    # Python's JSON parser reads Infinity; PyJWT signs whatever it is given, so this signature is real.
    payload = json.dumps(issuer.claims(exp=0)).replace('"exp": 0', '"exp": Infinity')
    token = jwt.api_jws.encode(payload.encode(), issuer.private_keys["key-1"], "RS256", {"kid": "key-1"})
    answer = http.get("/api/v1/services", headers=bearer(token))
    assert answer.status_code == 401
    assert "'exp' claim must be a number of seconds" in answer.json["detail"]
    assert jwt_clients(signpost) == []


def test_an_unknown_key_id_refetches_the_jwks_once_and_at_a_bounded_rate(http, issuer, frozen_time):
    assert http.get("/api/v1/services", headers=bearer(issuer.token())).status_code == 200
    assert issuer.fetches("/jwks") == 1

    frozen_time.move_to(START + timedelta(minutes=2))
    stranger = issuer.new_key("made-up-0", publish=False)
    refused = http.get("/api/v1/services", headers=bearer(issuer.token("made-up-0", signing_key=stranger)))
    assert refused.status_code == 401
    assert refused.json["detail"] == "the token is signed with a key the issuer does not publish"
    assert issuer.fetches("/jwks") == 2

    # A flood of made-up key ids does not become a flood of requests to the issuer.
    for n in range(1, 21):
        answer = http.get(
            "/api/v1/services", headers=bearer(issuer.token(f"made-up-{n}", signing_key=stranger))
        )
        assert answer.status_code == 401
    assert issuer.fetches("/jwks") == 2

    # The issuer rotates to a new key: after the interval, the first token signed with it fetches it.
    issuer.new_key("key-2")
    frozen_time.move_to(START + timedelta(minutes=2) + REFETCH_INTERVAL)
    rotated = http.get("/api/v1/services", headers=bearer(issuer.token("key-2")))
    assert rotated.status_code == 200, rotated.json
    assert issuer.fetches("/jwks") == 3
    assert issuer.fetches("/.well-known/openid-configuration") == 1


def test_a_key_the_issuer_withdraws_stops_being_accepted(http, issuer, frozen_time):
    assert http.get("/api/v1/services", headers=bearer(issuer.token())).status_code == 200
    issuer.new_key("key-2")
    issuer.published.remove("key-1")

    later = START + KEYS_MAX_AGE + timedelta(minutes=1)
    frozen_time.move_to(later)
    times = {"iat": int(later.timestamp()), "exp": int(later.timestamp()) + 600}
    withdrawn = http.get("/api/v1/services", headers=bearer(issuer.token("key-1", **times)))
    assert withdrawn.status_code == 401
    assert withdrawn.json["detail"] == "the token is signed with a key the issuer does not publish"
    assert http.get("/api/v1/services", headers=bearer(issuer.token("key-2", **times))).status_code == 200
    assert issuer.fetches("/jwks") == 2


def test_a_revoked_subject_is_refused_and_stays_revoked(http, signpost, issuer, admin_headers):
    assert http.get("/api/v1/services", headers=bearer(issuer.token())).status_code == 200
    [client] = jwt_clients(signpost)
    assert http.post(f"/api/v1/clients/{client['id']}/revoke", headers=admin_headers).status_code == 200

    fresh = issuer.token(iat=int(START.timestamp()) + 10, signpost_roles=["referrer", "operator"])
    refused = http.get("/api/v1/services", headers=bearer(fresh))
    assert refused.status_code == 401
    assert refused.json["detail"] == "this subject's access has been revoked"
    [still] = jwt_clients(signpost)
    assert still["revoked_at"] is not None and still["roles"] == ["referrer"]

    # Another subject of the same issuer is unaffected.
    bob = issuer.token(sub="bob", name="Bob Jones")
    assert http.get("/api/v1/services", headers=bearer(bob)).status_code == 200


def test_a_discovery_document_naming_another_issuer_is_not_trusted(http, signpost, issuer):
    issuer.discovery_issuer = "https://login.elsewhere.example"
    answer = http.get("/api/v1/services", headers=bearer(issuer.token()))
    assert answer.status_code == 401
    assert "signing keys could not be fetched" in answer.json["detail"]
    assert issuer.fetches("/jwks") == 0
    # Within the refetch interval nobody makes us ask again.
    http.get("/api/v1/services", headers=bearer(issuer.token()))
    assert issuer.fetches("/.well-known/openid-configuration") == 1


# ---- configuration -------------------------------------------------------------------------------------


def test_without_an_issuer_a_jwt_is_just_an_unknown_token(issuer, settings):
    system = build(replace(settings, oidc_issuer=None, oidc_audience=None))
    try:
        from api import create_app

        answer = create_app(system).test_client().get("/api/v1/services", headers=bearer(issuer.token()))
        assert answer.status_code == 401
        assert answer.json["detail"] == "the bearer token is not valid"
        assert issuer.requests == []
    finally:
        system.close()


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"SIGNPOST_OIDC_ISSUER": "https://login.example"}, "SIGNPOST_OIDC_AUDIENCE is required"),
        (
            {
                "SIGNPOST_OIDC_ISSUER": "https://login.example",
                "SIGNPOST_OIDC_AUDIENCE": "a",
                "SIGNPOST_OIDC_ALGORITHMS": "RS256 HS256",
            },
            "SIGNPOST_OIDC_ALGORITHMS must be some of",
        ),
        (
            {
                "SIGNPOST_OIDC_ISSUER": "https://login.example",
                "SIGNPOST_OIDC_AUDIENCE": "a",
                "SIGNPOST_OIDC_ALGORITHMS": "none",
            },
            "SIGNPOST_OIDC_ALGORITHMS must be some of",
        ),
        (
            {"SIGNPOST_OIDC_ISSUER": "http://login.example", "SIGNPOST_OIDC_AUDIENCE": "a"},
            "SIGNPOST_OIDC_ISSUER must be an https URL",
        ),
    ],
)
def test_unsafe_or_incomplete_configuration_stops_start_up(database_url, environment, message):
    settings = Settings.from_env(
        {
            "SIGNPOST_DATABASE_URL": database_url,
            "SIGNPOST_SECRET_KEYS": ",".join(SECRET_KEYS),
            "SIGNPOST_AUDIT_KEYS": ",".join(AUDIT_KEYS),
            **environment,
        }
    )
    with pytest.raises(ValueError, match=message):
        build(settings)


def test_configuration_is_read_from_the_environment():
    settings = Settings.from_env(
        {
            "SIGNPOST_OIDC_ISSUER": "https://login.example/realms/nhs",
            "SIGNPOST_OIDC_AUDIENCE": "signpost",
            "SIGNPOST_OIDC_ROLES_CLAIM": "realm_access.roles",
            "SIGNPOST_OIDC_ALGORITHMS": "ES256, PS256",
        }
    )
    assert settings.oidc_issuer == "https://login.example/realms/nhs"
    assert settings.oidc_audience == "signpost"
    assert settings.oidc_jwks_url is None
    assert settings.oidc_roles_claim == "realm_access.roles"
    assert settings.oidc_organisation_claim == "signpost_organisation"
    assert settings.oidc_service_claim == "signpost_service"
    assert settings.oidc_algorithms == ("ES256", "PS256")
