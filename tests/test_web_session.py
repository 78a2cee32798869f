"""The web application's session: an API token exchanged for an HttpOnly, SameSite=Strict cookie holding it
sealed (no table on the server), which then authenticates every API request as the token would, with the
session's CSRF token required on every change. tests/browser/ drives the same through a real browser."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from api.web import CONTENT_SECURITY_POLICY, DIST
from engine.governance.sessions import ENDED, LIFETIME, SEALED_PREFIX, Sessions
from engine.notifications.secrets_at_rest import SecretBox
from tests.conftest import NURSING_FILES, PROCESSES, SECRET_KEYS
from tests.support.personas import DESIGNER

COOKIE = "signpost-session"


def upload() -> dict:
    return {"files": [((PROCESSES / name).open("rb"), name) for name in NURSING_FILES]}


@pytest.fixture
def designer(enrolled):
    return enrolled(DESIGNER)


@pytest.fixture
def signed_in(http, designer, nursing):
    """The test client signed in as the designer: the answer's CSRF token."""
    answer = http.post("/api/v1/session", json={"token": designer.token})
    assert answer.status_code == 201, answer.json
    return answer.json["csrf_token"]


def test_signing_in_sets_a_sealed_http_only_strict_cookie_and_answers_who_and_the_csrf_token(http, designer):
    answer = http.post("/api/v1/session", json={"token": designer.token})
    assert answer.status_code == 201
    assert answer.json["name"] == "designer" and answer.json["roles"] == ["designer"]
    assert answer.json["organisation"] == "signpost-design" and answer.json["csrf_token"]
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}={SEALED_PREFIX}")
    assert all(part in cookie for part in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"))
    assert "Secure" not in cookie  # plain http (development): a Secure cookie would never come back
    assert designer.token not in cookie


def test_over_https_the_cookie_is_secure_and_host_only(http, designer):
    answer = http.post("/api/v1/session", json={"token": designer.token}, base_url="https://studio.example")
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("__Host-signpost-session=") and "Secure" in cookie and "Domain" not in cookie


def test_a_refused_token_sets_no_cookie(http):
    answer = http.post("/api/v1/session", json={"token": "sp_nobody"})
    assert answer.status_code == 401 and "Set-Cookie" not in answer.headers


def test_another_sites_page_cannot_sign_anyone_in_or_out(http, designer):
    answer = http.post(
        "/api/v1/session", json={"token": designer.token}, headers={"Origin": "https://elsewhere.example"}
    )
    assert answer.status_code == 403 and "Set-Cookie" not in answer.headers
    assert http.delete("/api/v1/session", headers={"Origin": "https://elsewhere.example"}).status_code == 403


def test_the_cookie_authenticates_reads_and_changes_need_the_csrf_token(http, signed_in):
    who = http.get("/api/v1/session")
    assert who.status_code == 200 and who.json["csrf_token"] == signed_in
    assert http.get("/api/v1/definitions").status_code == 200
    for headers in ({}, {"X-CSRF-Token": "guessed"}):
        refused = http.post("/api/v1/definitions", data=upload(), headers=headers)
        assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
        assert "X-CSRF-Token" in refused.json["detail"]
    deployed = http.post("/api/v1/definitions", data=upload(), headers={"X-CSRF-Token": signed_in})
    assert deployed.status_code == 200  # identical content: the existing version, not a refusal


def test_a_bearer_token_needs_no_csrf_token_even_beside_a_session_cookie(http, signed_in, designer):
    deployed = http.post("/api/v1/definitions", data=upload(), headers=designer.headers)
    assert deployed.status_code == 200
    assert http.get("/api/v1/session", headers=designer.headers).json["csrf_token"] is None


def test_a_session_ends_when_it_expires_or_its_client_is_revoked(
    http, signed_in, signpost, designer, frozen_clock
):
    frozen_clock.shift(LIFETIME - timedelta(seconds=1))
    assert http.get("/api/v1/definitions").status_code == 200
    frozen_clock.shift(timedelta(seconds=1))
    ended = http.get("/api/v1/definitions")
    assert ended.status_code == 401 and ended.json["detail"] == ENDED

    answer = http.post("/api/v1/session", json={"token": designer.token})
    assert http.get("/api/v1/definitions").status_code == 200
    signpost.clients.revoke(designer.client.id)
    assert http.get("/api/v1/definitions").status_code == 401
    assert answer.status_code == 201


def test_signing_out_removes_the_cookie_and_a_live_session_needs_its_csrf_token(http, signed_in):
    assert http.delete("/api/v1/session").status_code == 403
    signed_out = http.delete("/api/v1/session", headers={"X-CSRF-Token": signed_in})
    assert signed_out.status_code == 204 and "Max-Age=0" in signed_out.headers["Set-Cookie"]
    assert http.get("/api/v1/session").status_code == 401
    http.set_cookie(COOKIE, SEALED_PREFIX + "ended-long-ago")
    assert http.delete("/api/v1/session").status_code == 204  # nothing left to protect


def test_only_sessions_sealed_with_the_servers_keys_open(designer):
    sessions = Sessions(SecretBox(SECRET_KEYS))
    session, sealed = sessions.issue(designer.token)
    assert sessions.open(sealed) == session
    in_the_clear = json.dumps(
        {"purpose": "signpost-web-session", "token": designer.token, "csrf": "x", "expires": 2**40}
    )
    other_key = Sessions(SecretBox(["hV4pFq0m3u9oVq8y7N3xJ1lK2cD5eF6gH7iJ8kL9mN0="])).issue(designer.token)[1]
    stored_secret = SecretBox(SECRET_KEYS).seal("a webhook secret")
    for forged in (in_the_clear, sealed[:-10] + "A" * 10, other_key, stored_secret, "", "x" * 9000):
        with pytest.raises(Exception, match="your session has ended"):
            sessions.open(forged)


@pytest.mark.skipif(not (DIST / "index.html").is_file(), reason="the web application is not built")
def test_the_studio_is_served_under_a_strict_content_security_policy(http):
    for path in ("/studio/", "/studio/pathways/x/versions/1", "/studio/sign-in"):
        page = http.get(path)
        assert page.status_code == 200 and b'<script type="module" src="/assets/studio.js">' in page.data
        assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert page.headers["X-Frame-Options"] == "DENY"
    assert http.get("/studio").status_code == 308
    assert http.get("/assets/studio.js").mimetype == "text/javascript"
    assert http.get("/assets/nothing.js").status_code == 404
    assert http.get("/assets/../../pyproject.toml").status_code == 404
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY.replace("style-src-attr 'unsafe-inline'", "")
