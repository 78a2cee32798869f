"""Signing in to the web application at the OpenID Connect issuer: the authorization code flow with PKCE, run
by the server, ending in the same sealed session cookie an API token gets (tests/test_web_session.py).

The issuer is real and local (tests/support/oidc_issuer.py): its authorization endpoint is reached over
HTTP the way the browser would follow the redirect, and Signpost exchanges the code at its token endpoint
over HTTP. tests/browser/test_issuer_sign_in.py drives the same through Chromium.
"""

from __future__ import annotations

import base64
import hashlib
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import sqlalchemy as sa
import time_machine

from api import create_app
from engine.settings import Settings
from engine.store.tables import api_clients
from engine.system import build
from tests.conftest import AUDIT_KEYS, SECRET_KEYS, START
from tests.support.oidc_issuer import AUDIENCE, CLIENT_ID, Issuer

CALLBACK = "http://localhost/api/v1/session/oidc/callback"
DESIGNER_AT_ISSUER = {
    "sub": "dana",
    "name": "Dana Designer",
    "signpost_organisation": "signpost-design",
    "signpost_roles": ["designer"],
}


@pytest.fixture
def issuer():
    issuer = Issuer()
    issuer.new_key("key-1")
    issuer.person = dict(DESIGNER_AT_ISSUER)
    yield issuer
    issuer.close()


@pytest.fixture
def settings(settings, issuer) -> Settings:
    return replace(settings, oidc_issuer=issuer.url, oidc_audience=AUDIENCE, oidc_client_id=CLIENT_ID)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@contextmanager
def studio_client(settings: Settings):
    """A test client of a server built with ``settings``, for the tests whose settings differ."""
    system = build(settings)
    try:
        yield create_app(system).test_client()
    finally:
        system.close()


def leave_for_the_issuer(http, next_page: str = "/studio/library") -> str:
    """Start signing in: the URL of the issuer's authorization endpoint the browser is sent to."""
    started = http.get("/api/v1/session/oidc", query_string={"next": next_page})
    assert started.status_code == 302, started.get_data(as_text=True)
    return started.headers["Location"]


def come_back(http, authorization_url: str):
    """Follow the issuer's redirect back to Signpost, as the browser would."""
    at_issuer = httpx.get(authorization_url, follow_redirects=False)
    assert at_issuer.status_code == 302
    back = urlparse(at_issuer.headers["Location"])
    return http.get(back.path, query_string=back.query)


def people_from_the_issuer(signpost) -> list[str]:
    with signpost.database.read() as conn:
        query = sa.select(api_clients.c.name).where(api_clients.c.external_subject.is_not(None))
        return list(conn.execute(query).scalars())


def session_cookie(answer) -> str | None:
    return next((c for c in answer.headers.getlist("Set-Cookie") if c.startswith("signpost-session=")), None)


def problem_shown(answer) -> str:
    """The sentence the sign-in page is sent back with."""
    assert answer.status_code == 303
    location = urlparse(answer.headers["Location"])
    assert location.path == "/studio/sign-in"
    return parse_qs(location.query)["problem"][0]


def test_the_sign_in_page_is_told_the_issuer(http, issuer):
    options = http.get("/api/v1/session/sign-in-options")
    assert options.status_code == 200
    assert options.json == {
        "openid_connect": {"issuer": issuer.url, "start": "/api/v1/session/oidc"},
        "api_token": True,
    }


def test_a_designer_signs_in_at_the_issuer_with_pkce_and_gets_a_session_cookie(
    http, signpost, issuer, nursing
):
    authorization_url = leave_for_the_issuer(http, "/studio/approve/community_nursing_referral")
    sent = urlparse(authorization_url)
    assert f"{sent.scheme}://{sent.netloc}{sent.path}" == f"{issuer.url}/authorize"
    query = {name: values[0] for name, values in parse_qs(sent.query).items()}
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == CALLBACK and query["scope"] == "openid profile"
    assert query["code_challenge_method"] == "S256" and len(query["state"]) >= 32 and query["nonce"]

    back = come_back(http, authorization_url)
    assert back.status_code == 303, back.get_data(as_text=True)
    assert back.headers["Location"] == "/studio/approve/community_nursing_referral"
    cookie = session_cookie(back)
    assert cookie and all(part in cookie for part in ("HttpOnly", "SameSite=Strict", "Path=/"))
    assert "Max-Age=3600" in cookie  # the session ends when the issuer's access token does

    # Signpost proved it began this sign-in: the verifier whose S256 hash it sent is known to it alone.
    [exchange] = issuer.exchanges
    challenge = base64.urlsafe_b64encode(hashlib.sha256(exchange["code_verifier"].encode()).digest())
    assert challenge.rstrip(b"=").decode() == query["code_challenge"]
    assert exchange["code_verifier"] not in authorization_url
    assert exchange["redirect_uri"] == CALLBACK and exchange["client_id"] == CLIENT_ID

    who = http.get("/api/v1/session")
    assert who.status_code == 200, who.json
    assert (who.json["name"], who.json["organisation"], who.json["roles"]) == (
        "Dana Designer",
        "signpost-design",
        ["designer"],
    )
    assert who.json["expires_at"].startswith((START + timedelta(hours=1)).isoformat()[:19])
    assert http.get("/api/v1/definitions").status_code == 200
    assert people_from_the_issuer(signpost) == ["Dana Designer"]


def test_a_confidential_client_authenticates_at_the_token_endpoint(http, signpost, issuer, settings):
    issuer.client_secret = "registered-secret"
    with studio_client(replace(settings, oidc_client_secret="registered-secret")) as client:
        back = come_back(client, leave_for_the_issuer(client))
        assert back.status_code == 303 and back.headers["Location"] == "/studio/library"
        assert client.get("/api/v1/session").json["name"] == "Dana Designer"
    assert "client_id" not in issuer.exchanges[0]  # the client authenticated with HTTP Basic instead


def test_the_page_to_open_afterwards_is_always_the_studios(http, issuer):
    back = come_back(http, leave_for_the_issuer(http, "//evil.example/studio/"))
    assert back.headers["Location"] == "/studio/"
    back = come_back(http, leave_for_the_issuer(http, "https://evil.example/studio/"))
    assert back.headers["Location"] == "/studio/"


def forged_state(http, issuer):
    authorization_url = leave_for_the_issuer(http)
    at_issuer = httpx.get(authorization_url, follow_redirects=False)
    back = urlparse(at_issuer.headers["Location"])
    answer = {name: values[0] for name, values in parse_qs(back.query).items()}
    return http.get(back.path, query_string={**answer, "state": "attacker-chosen"})


def without_the_pending_cookie(http, issuer):
    authorization_url = leave_for_the_issuer(http)
    http.delete_cookie("signpost-oidc-sign-in", path="/api/v1/session/oidc")
    return come_back(http, authorization_url)


def replayed(http, issuer):
    authorization_url = leave_for_the_issuer(http)
    at_issuer = httpx.get(authorization_url, follow_redirects=False)
    back = urlparse(at_issuer.headers["Location"])
    assert http.get(back.path, query_string=back.query).status_code == 303
    http.delete_cookie("signpost-session")
    return http.get(back.path, query_string=back.query)


def too_slow(http, issuer, frozen_time):
    authorization_url = leave_for_the_issuer(http)
    frozen_time.shift(timedelta(minutes=11))
    return come_back(http, authorization_url)


def refused_by_the_issuer(http, issuer):
    issuer.refuse_sign_in = "access_denied"
    return come_back(http, leave_for_the_issuer(http))


def id_token_for_another_sign_in(http, issuer):
    issuer.id_token_claims = {"nonce": "from-another-sign-in"}
    return come_back(http, leave_for_the_issuer(http))


def id_token_for_another_client(http, issuer):
    issuer.id_token_claims = {"aud": "another-client"}
    return come_back(http, leave_for_the_issuer(http))


def access_token_for_another_api(http, issuer):
    issuer.access_token_claims = {"aud": "account"}
    return come_back(http, leave_for_the_issuer(http))


def client_secret_expected(http, issuer):
    issuer.client_secret = "only-a-confidential-client-has-it"
    return come_back(http, leave_for_the_issuer(http))


def platform_role_claimed(http, issuer):
    issuer.person = {**DESIGNER_AT_ISSUER, "signpost_roles": ["designer", "platform-admin"]}
    return come_back(http, leave_for_the_issuer(http))


REFUSALS = {
    forged_state: "started in another tab",
    without_the_pending_cookie: "started in another tab",
    replayed: "started in another tab",
    too_slow: "took too long",
    refused_by_the_issuer: "the issuer did not sign you in: access_denied",
    id_token_for_another_sign_in: "its nonce differs",
    id_token_for_another_client: f"not meant for this API (audience {CLIENT_ID})",
    access_token_for_another_api: f"must issue JWT access tokens for the audience {AUDIENCE}",
    client_secret_expected: "the issuer refused to finish signing in: invalid_client",
    platform_role_claimed: "platform roles",
}


@pytest.mark.parametrize("attempt", list(REFUSALS), ids=lambda attempt: attempt.__name__)
def test_a_sign_in_that_is_not_genuine_goes_back_to_the_sign_in_page_saying_why(
    http, signpost, issuer, frozen_time, attempt
):
    arguments = (http, issuer, frozen_time) if attempt is too_slow else (http, issuer)
    answer = attempt(*arguments)
    assert REFUSALS[attempt] in problem_shown(answer)
    assert session_cookie(answer) is None
    assert http.get("/api/v1/session").status_code == 401
    # Nothing changed: the one sign-in a replay needed succeeded, the rest made nobody.
    assert people_from_the_issuer(signpost) == (["Dana Designer"] if attempt is replayed else [])


def test_failed_sign_ins_count_against_the_address(http, signpost, issuer, settings):
    with studio_client(replace(settings, rate_limit_failed_auth="2/minute")) as client:
        issuer.refuse_sign_in = "access_denied"
        for _ in range(2):
            assert "access_denied" in problem_shown(come_back(client, leave_for_the_issuer(client)))
        refused = client.get("/api/v1/session/oidc")
        assert refused.status_code == 429 and refused.mimetype == "application/problem+json"


def test_without_a_client_id_there_is_no_issuer_sign_in(database_url, issuer):
    settings = Settings(
        database_url=database_url,
        secret_keys=SECRET_KEYS,
        audit_keys=AUDIT_KEYS,
        oidc_issuer=issuer.url,
        oidc_audience=AUDIENCE,
    )
    with studio_client(settings) as client:
        assert client.get("/api/v1/session/sign-in-options").json["openid_connect"] is None
        answer = client.get("/api/v1/session/oidc")
        assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
        assert "SIGNPOST_OIDC_CLIENT_ID" in answer.json["detail"]


def test_a_client_id_without_an_issuer_stops_start_up(database_url):
    settings = Settings(
        database_url=database_url, secret_keys=SECRET_KEYS, audit_keys=AUDIT_KEYS, oidc_client_id="studio"
    )
    with pytest.raises(ValueError, match="SIGNPOST_OIDC_CLIENT_ID needs SIGNPOST_OIDC_ISSUER"):
        build(settings)


def test_the_client_is_read_from_the_environment():
    settings = Settings.from_env(
        {
            "SIGNPOST_OIDC_CLIENT_ID": "signpost",
            "SIGNPOST_OIDC_CLIENT_SECRET": "s",
            "SIGNPOST_OIDC_SCOPES": "openid, profile email",
        }
    )
    assert (settings.oidc_client_id, settings.oidc_client_secret) == ("signpost", "s")
    assert settings.oidc_scopes == ("openid", "profile", "email")
    assert "'s'" not in repr(settings)
