"""Trust boundaries between organisations: auditors and admins act within their own organisation, the
platform-wide roles are granted by a platform admin only, every client records who created it and for which
person, client creation and revocation are audited, and the two-person approval rule compares people."""

from __future__ import annotations

import dataclasses
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from api import create_app
from engine.store.tables import api_clients, audit_log
from engine.system import build
from tests import bpmn_samples as samples
from tests.conftest import process_env
from tests.support.personas import GP_PRACTICE, LPT

NHS_NUMBER = "9434765919"
REFERRAL = {
    "pathway": "community_nursing_referral",
    "referrer": "Dr Example, C81001",
    "subject": NHS_NUMBER,
    "data": {"clinical_need": "wound_care", "address_postcode": "LE1 5WW", "housebound": True},
}
OTHER_PRACTICE = "other-gp-practice"


def run(database_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The ``signpost`` command, run as an operator would."""
    command = [sys.executable, "-m", "api.cli", *args]
    return subprocess.run(
        command, cwd=cwd, env=process_env(database_url), capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def referral(http, nursing, gp_headers) -> dict:
    """A referral the city GP practice submitted, routed to the trust's community nursing."""
    created = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers)
    assert created.status_code == 201, created.json
    return created.json


def export(http, headers) -> list[str]:
    response = http.post("/api/v1/subject-access-requests", json={"subject": NHS_NUMBER}, headers=headers)
    assert response.status_code == 200, response.json
    return [r["referral"]["id"] for r in response.json["referrals"]]


def test_an_auditor_exports_and_reads_only_what_its_organisation_is_party_to(http, token_for, referral):
    elsewhere = token_for("auditor", organisation=OTHER_PRACTICE)
    assert export(http, elsewhere) == []
    trail = http.get("/api/v1/audit", query_string={"referral": referral["id"]}, headers=elsewhere)
    assert trail.status_code == 404

    # The practice that submitted it, the trust that operates it and receives its hand-off, and the platform.
    for headers in (
        token_for("auditor", organisation=GP_PRACTICE),
        token_for("auditor", organisation=LPT),
        token_for("platform-auditor", organisation="information-governance"),
    ):
        assert export(http, headers) == [referral["id"]]
        trail = http.get("/api/v1/audit", query_string={"referral": referral["id"]}, headers=headers)
        assert trail.status_code == 200 and trail.json


def test_an_admin_manages_only_its_own_organisations_clients(http, signpost, token_for):
    admin = token_for("admin", organisation=OTHER_PRACTICE)
    for roles in (["referrer"], ["auditor"], ["admin"]):
        body = {"name": "intruder", "organisation": GP_PRACTICE, "roles": roles, "person": "mallory"}
        assert http.post("/api/v1/clients", json=body, headers=admin).status_code == 403
    for roles in (["platform-admin"], ["platform-auditor"], ["admin", "platform-admin"]):
        body = {"name": "escalate", "organisation": OTHER_PRACTICE, "roles": roles, "person": "mallory"}
        refused = http.post("/api/v1/clients", json=body, headers=admin)
        assert refused.status_code == 403 and "platform admin" in refused.json["detail"]

    gp_system = signpost.clients.create(name="gp system", organisation=GP_PRACTICE, roles={"referrer"})[0]
    own = http.post(
        "/api/v1/clients",
        json={"name": "own referrer", "organisation": OTHER_PRACTICE, "roles": ["referrer"]},
        headers=admin,
    )
    assert own.status_code == 201, own.json
    listed = {c["id"] for c in http.get("/api/v1/clients", headers=admin).json}
    assert own.json["id"] in listed and gp_system.id not in listed
    assert all(c["organisation"] == OTHER_PRACTICE for c in http.get("/api/v1/clients", headers=admin).json)
    assert http.post(f"/api/v1/clients/{gp_system.id}/revoke", headers=admin).status_code == 404
    assert signpost.clients.view(gp_system.id)["revoked_at"] is None
    assert http.post(f"/api/v1/clients/{own.json['id']}/revoke", headers=admin).status_code == 200
    platform = signpost.clients.create(name="p", organisation=OTHER_PRACTICE, roles={"platform-admin"})[0]
    assert http.post(f"/api/v1/clients/{platform.id}/revoke", headers=admin).status_code == 403
    assert signpost.clients.view(platform.id)["revoked_at"] is None


def test_only_a_platform_admin_grants_platform_roles_and_acts_across_organisations(http, token_for):
    platform = token_for("platform-admin", organisation="signpost")
    body = {"name": "ig lead", "organisation": "nhs-england", "roles": ["platform-auditor"], "person": "p1"}
    created = http.post("/api/v1/clients", json=body, headers=platform)
    assert created.status_code == 201, created.json
    body = {"name": "gp admin", "organisation": GP_PRACTICE, "roles": ["admin"], "person": "p2"}
    assert http.post("/api/v1/clients", json=body, headers=platform).status_code == 201
    listed = {c["organisation"] for c in http.get("/api/v1/clients", headers=platform).json}
    assert {"nhs-england", GP_PRACTICE} <= listed


def test_human_roles_name_their_person_and_every_client_records_its_creator(http, signpost, token_for):
    admin_client, admin_token = signpost.clients.create(
        name="lpt admin", organisation=LPT, roles={"admin"}, person="staff-1"
    )
    admin = {"Authorization": f"Bearer {admin_token}"}
    body = {"name": "ig", "organisation": LPT, "roles": ["auditor"]}
    nameless = http.post("/api/v1/clients", json=body, headers=admin)
    assert nameless.status_code == 422 and "person" in nameless.json["detail"]
    created = http.post("/api/v1/clients", json={**body, "person": "ig@lpt.nhs.uk"}, headers=admin)
    assert created.status_code == 201, created.json
    assert (created.json["person"], created.json["created_by"]) == ("ig@lpt.nhs.uk", admin_client.id)
    system = http.post(
        "/api/v1/clients",
        json={"name": "ward system", "organisation": LPT, "roles": ["service"]},
        headers=admin,
    )
    assert system.status_code == 201 and system.json["person"] is None  # a system acts for nobody
    revoked = http.post(f"/api/v1/clients/{created.json['id']}/revoke", headers=admin)
    assert revoked.status_code == 200

    with signpost.database.read() as conn:
        records = conn.execute(
            sa.select(
                audit_log.c.actor, audit_log.c.action, audit_log.c.resource_id, audit_log.c.organisation
            )
            .where(audit_log.c.action.in_(["create", "revoke"]), audit_log.c.resource_id.like("client:%"))
            .order_by(audit_log.c.id)
        ).all()
    new, other = f"client:{created.json['id']}", f"client:{system.json['id']}"
    assert [tuple(r) for r in records] == [
        (admin_client.actor, "create", new, LPT),
        (admin_client.actor, "create", other, LPT),
        (admin_client.actor, "revoke", new, LPT),
    ]
    assert signpost.audit.verify().intact


def test_the_command_line_requires_a_person_for_human_roles_and_audits_what_it_does(
    database_url, tmp_path, signpost
):
    refused = run(database_url, "clients", "create", "--org", LPT, "--role", "auditor", cwd=tmp_path)
    assert refused.returncode == 1 and "person" in refused.stderr
    created = run(
        database_url,
        *("clients", "create", "--org", LPT, "--role", "auditor", "--person", "ig@lpt.nhs.uk"),
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    client_id = int(re.search(r"^client (\d+) ", created.stdout, re.M).group(1))
    assert run(database_url, "clients", "revoke", str(client_id), cwd=tmp_path).returncode == 0
    with signpost.database.read() as conn:
        row = conn.execute(sa.select(api_clients).where(api_clients.c.id == client_id)).mappings().one()
        records = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.action).where(
                audit_log.c.resource_id == f"client:{client_id}"
            )
        ).all()
    assert (row["person"], row["created_by"]) == ("ig@lpt.nhs.uk", None)
    assert [tuple(r) for r in records] == [("signpost:cli", "create"), ("signpost:cli", "revoke")]


def test_the_start_up_admin_is_a_platform_admin(settings):
    token = "sp_start-up-admin-token-for-tests"
    system = build(dataclasses.replace(settings, admin_token=token))
    try:
        # Made before the platform roles existed: a plain admin, which start-up makes a platform admin.
        system.clients.create(
            name="admin (SIGNPOST_ADMIN_TOKEN)", organisation="signpost", roles={"admin"}, token=token
        )
        system.ensure_admin_client()
        assert system.clients.authenticate(token).roles == {"admin", "platform-admin"}
    finally:
        system.close()


@pytest.fixture
def strict(settings):
    system = build(dataclasses.replace(settings, require_pathway_approval=True))
    yield system
    system.close()


def test_a_second_client_of_the_same_person_cannot_approve_what_they_deployed(strict):
    http = create_app(strict).test_client()

    def bearer(roles: set[str], person: str) -> dict[str, str]:
        token = strict.clients.create(name=person, organisation="spa", roles=roles, person=person)[1]
        return {"Authorization": f"Bearer {token}"}

    designer = bearer({"designer"}, "dr-alice")
    alices_other_client = bearer({"clinical-approver"}, "dr-alice")
    upload = {"files": [(io.BytesIO(samples.script_then_user_task().encode()), "sample.bpmn")]}
    deployed = http.post(
        "/api/v1/definitions", data=upload, headers=designer, content_type="multipart/form-data"
    )
    assert deployed.status_code == 201, deployed.json
    reason = {"reason": "checked against the SOP"}
    refused = http.post(
        "/api/v1/definitions/sample/versions/1/approve", headers=alices_other_client, json=reason
    )
    assert refused.status_code == 403 and "deployed" in refused.json["detail"]
    approved = http.post(
        "/api/v1/definitions/sample/versions/1/approve",
        headers=bearer({"clinical-approver"}, "dr-bob"),
        json=reason,
    )
    assert approved.status_code == 200, approved.json
