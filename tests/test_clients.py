"""API clients: hashed tokens shown once, expiry, revocation, last use, and admin management."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from engine.errors import InvalidInput, NotAuthenticated
from engine.governance.clients import hash_token

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_tokens_are_stored_only_as_hashes(signpost):
    _client, token = signpost.clients.create(name="gp", organisation="gp", roles={"referrer"})
    with signpost.database.read() as conn:
        stored = [row[0] for row in conn.execute(sa.text("SELECT token_hash FROM api_clients"))]
    assert stored == [hash_token(token)]
    assert token not in str(signpost.clients.list())


def test_a_token_expires_and_a_revoked_one_stops_at_once(signpost, frozen_clock):
    frozen_clock.move_to(NOON)
    client, token = signpost.clients.create(
        name="gp", organisation="gp", roles={"referrer"}, valid_for=timedelta(days=30)
    )
    frozen_clock.move_to(NOON + timedelta(days=29))
    assert signpost.clients.authenticate(token).id == client.id
    assert signpost.clients.list()[0]["last_used_at"] == (NOON + timedelta(days=29)).isoformat()
    with (
        time_machine.travel(NOON + timedelta(days=30, seconds=1), tick=False),
        pytest.raises(NotAuthenticated, match="expired"),
    ):
        signpost.clients.authenticate(token)

    other, other_token = signpost.clients.create(name="svc", organisation="lpt", roles={"service"})
    signpost.clients.revoke(other.id)
    with pytest.raises(NotAuthenticated, match="not valid"):
        signpost.clients.authenticate(other_token)
    with pytest.raises(InvalidInput, match="positive"):
        signpost.clients.create(name="x", organisation="x", roles={"referrer"}, valid_for=timedelta(0))


def test_admins_create_list_and_revoke_clients_over_http(http, token_for):
    admin = token_for("admin", "platform-admin", organisation="signpost")
    created = http.post(
        "/api/v1/clients",
        headers=admin,
        json={
            "name": "City GP system",
            "organisation": "city-gp-practice",
            "roles": ["referrer"],
            "valid_for_days": 90,
        },
    )
    assert created.status_code == 201, created.json
    token = created.json["token"]
    assert token.startswith("sp_") and created.json["expires_at"]
    as_new = {"Authorization": f"Bearer {token}"}
    assert http.get("/api/v1/services", headers=as_new).status_code == 200
    listed = http.get("/api/v1/clients", headers=admin).json
    assert all("token" not in c for c in listed)
    assert http.get("/api/v1/clients", headers=as_new).status_code == 403
    assert http.post(f"/api/v1/clients/{created.json['id']}/revoke", headers=admin).status_code == 200
    assert http.get("/api/v1/services", headers=as_new).status_code == 401
    bad = http.post(
        "/api/v1/clients", headers=admin, json={"name": "x", "organisation": "y", "roles": ["god"]}
    )
    assert bad.status_code == 422 and "roles must be some of" in bad.json["detail"]
