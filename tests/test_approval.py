"""Clinical safety: a deployed version is a draft until a second person with the clinical-approver role
approves it, and only approved versions take new referrals."""

from __future__ import annotations

import dataclasses
import io

import pytest

from api import create_app
from engine.errors import Conflict, NotAllowed
from engine.system import build
from tests import bpmn_samples as samples

REASON = "Reviewed against the triage SOP v3; scenarios pass"


@pytest.fixture
def strict(settings):
    system = build(dataclasses.replace(settings, require_pathway_approval=True))
    yield system
    system.close()


def people(system):
    designer = system.clients.create(name="designer", organisation="spa", roles={"designer"})[0]
    approver = system.clients.create(name="clinical lead", organisation="spa", roles={"clinical-approver"})[0]
    both = system.clients.create(name="both", organisation="spa", roles={"designer", "clinical-approver"})[0]
    gp = system.clients.create(name="gp", organisation="gp", roles={"referrer"})[0]
    return designer, approver, both, gp


def start(system, gp, version=None):
    return system.referrals.start(gp, pathway="sample", version=version, referrer="r", subject=None, data={})[
        0
    ]


def test_a_draft_takes_no_referrals_until_a_second_person_approves_it(strict):
    designer, approver, _both, gp = people(strict)
    strict.definitions.deploy([samples.source(samples.script_then_user_task("x = 1"))], designer.actor)
    with pytest.raises(Conflict, match="no version of 'sample' has been clinically approved"):
        start(strict, gp)
    with pytest.raises(Conflict, match="draft awaiting clinical approval"):
        start(strict, gp, version=1)

    approved = strict.definitions.approve("sample", 1, approver, reason=REASON)
    assert (approved["approval"], approved["approved_by"]) == ("approved", approver.actor)
    assert start(strict, gp)["pathway"] == {"key": "sample", "version": 1}

    strict.definitions.deploy([samples.source(samples.script_then_user_task("x = 2"))], designer.actor)
    assert start(strict, gp)["data"]["x"] == 1  # new referrals stay on the latest approved version
    strict.definitions.approve("sample", 2, approver, reason=REASON)
    assert start(strict, gp)["data"]["x"] == 2
    with pytest.raises(Conflict, match="already approved"):
        strict.definitions.approve("sample", 2, approver, reason=REASON)


def test_the_deployer_cannot_approve_and_other_roles_cannot_either(strict):
    designer, _approver, both, _gp = people(strict)
    strict.definitions.deploy([samples.source(samples.script_then_user_task())], both.actor)
    with pytest.raises(NotAllowed, match="deployed a version cannot also approve it"):
        strict.definitions.approve("sample", 1, both, reason=REASON)
    with pytest.raises(NotAllowed, match="clinical-approver role"):
        strict.definitions.approve("sample", 1, designer, reason=REASON)


def test_approval_over_http_is_recorded_with_the_version_and_in_the_audit_trail(strict):
    http = create_app(strict).test_client()
    designer_token = strict.clients.create(name="d", organisation="spa", roles={"designer"})[1]
    designer = {"Authorization": f"Bearer {designer_token}"}
    approver = {
        "Authorization": "Bearer "
        + strict.clients.create(name="lead", organisation="spa", roles={"clinical-approver"})[1]
    }
    upload = {"files": [(io.BytesIO(samples.script_then_user_task().encode()), "sample.bpmn")]}
    deployed = http.post(
        "/api/v1/definitions", data=upload, headers=designer, content_type="multipart/form-data"
    )
    assert deployed.status_code == 201, deployed.json
    body = {"reason": REASON}
    assert (
        http.post("/api/v1/definitions/sample/versions/1/approve", headers=designer, json=body).status_code
        == 403
    )
    approved = http.post("/api/v1/definitions/sample/versions/1/approve", headers=approver, json=body)
    assert approved.status_code == 200, approved.json
    assert (approved.json["approval_reason"], approved.json["status"]) == (REASON, "approved")
    version = http.get("/api/v1/definitions/sample/versions/1", headers=designer).json
    assert version["approval"] == "approved" and version["approved_by"].endswith(":lead")
    assert version["approval_reason"] == REASON
    with strict.database.read() as conn:
        [record] = conn.exec_driver_sql(
            "SELECT action, resource, resource_id FROM audit_log WHERE action = 'approve'"
        ).all()
        version_id = conn.exec_driver_sql("SELECT id FROM definition_versions").scalar()
    assert record == ("approve", "pathway sample version 1", str(version_id))
    assert strict.audit.verify().intact
