"""The pathway library as the studio reads it, and approval with a reason.

``GET /api/v1/definitions`` (and ``/{key}``, ``/{key}/versions/{n}``) show per version whether it is a draft
or approved, who deployed and approved it (the people behind the clients) and when, why it was approved, how
many referrals run on it and how many started on it, and which version new referrals start on; the counts
come from one grouped query whatever the number of versions. ``POST …/approve`` takes the reason, which is
kept with the version and shown; a refused approval changes nothing."""

from __future__ import annotations

import dataclasses
import io

import pytest
import sqlalchemy as sa

from api import create_app
from engine.system import build
from tests import bpmn_samples as samples

REASON = "Matches the falls SOP v4; scenarios reviewed with the falls team"


@pytest.fixture
def strict(settings):
    system = build(dataclasses.replace(settings, require_pathway_approval=True))
    yield system
    system.close()


@pytest.fixture
def studio(strict):
    """The HTTP API of a system that requires approval, with its people's bearer headers."""
    http = create_app(strict).test_client()

    def bearer(name: str, roles: set[str], organisation: str, person: str | None = None) -> dict:
        token = strict.clients.create(name=name, organisation=organisation, roles=roles, person=person)[1]
        return {"Authorization": f"Bearer {token}"}

    return http, {
        "designer": bearer("alice's studio", {"designer"}, "signpost-design", "dr-alice"),
        "approver": bearer("bob's studio", {"clinical-approver"}, "clinical-safety", "dr-bob"),
        "alice approving": bearer("alice's approvals", {"clinical-approver"}, "clinical-safety", "dr-alice"),
        "gp": bearer("gp", {"referrer"}, "city-gp-practice"),
        "operator": bearer("practice operator", {"operator"}, "city-gp-practice"),
    }


def deploy(http, headers, script: str) -> dict:
    upload = {"files": [(io.BytesIO(samples.script_then_user_task(script).encode()), "sample.bpmn")]}
    response = http.post(
        "/api/v1/definitions", data=upload, headers=headers, content_type="multipart/form-data"
    )
    assert response.status_code == 201, response.json
    return response.json


def approve(http, headers, number: int, body=None):
    return http.post(
        f"/api/v1/definitions/sample/versions/{number}/approve",
        json={"reason": REASON} if body is None else body,
        headers=headers,
    )


def start(http, headers) -> dict:
    response = http.post(
        "/api/v1/referrals", json={"pathway": "sample", "referrer": "C81001", "data": {}}, headers=headers
    )
    assert response.status_code == 201, response.json
    return response.json


def test_the_library_shows_each_versions_status_people_reason_and_referrals(studio):
    http, people = studio
    deploy(http, people["designer"], "x = 1")
    nothing_yet = http.get("/api/v1/definitions", headers=people["designer"]).json
    assert [(d["key"], d["startable_version"], d["referrals_total"]) for d in nothing_yet] == [
        ("sample", None, 0)
    ]

    approved = approve(http, people["approver"], 1)
    assert approved.status_code == 200, approved.json
    deploy(http, people["designer"], "x = 2")  # a draft: new referrals stay on version 1
    finished, running = start(http, people["gp"]), start(http, people["gp"])
    [task] = finished["waiting_for"]["tasks"]
    done = http.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}, headers=people["operator"])
    assert done.json["status"] == "completed" and running["status"] == "waiting"

    [entry] = http.get("/api/v1/definitions", headers=people["designer"]).json
    assert {k: entry[k] for k in ("key", "name", "latest", "startable_version")} == {
        "key": "sample",
        "name": "Sample",
        "latest": 2,
        "startable_version": 1,
    }
    assert (entry["referrals_running"], entry["referrals_total"]) == (1, 2)
    first, second = entry["versions"]
    assert {k: first[k] for k in SHOWN} == {
        "number": 1,
        "status": "approved",
        "approval": "approved",
        "deployed_by_person": "dr-alice",
        "approved_by_person": "dr-bob",
        "approval_reason": REASON,
        "referrals_running": 1,
        "referrals_total": 2,
        "starts_new_referrals": True,
    }
    assert first["deployed_by"].endswith(":alice's studio") and first["approved_by"].endswith(":bob's studio")
    assert first["deployed_at"] and first["approved_at"]
    assert {k: second[k] for k in SHOWN} == {
        "number": 2,
        "status": "draft",
        "approval": "draft",
        "deployed_by_person": "dr-alice",
        "approved_by_person": None,
        "approval_reason": None,
        "referrals_running": 0,
        "referrals_total": 0,
        "starts_new_referrals": False,
    }
    assert second["approved_by"] is None and second["approved_at"] is None

    assert http.get("/api/v1/definitions/sample", headers=people["designer"]).json == entry
    version = http.get("/api/v1/definitions/sample/versions/1", headers=people["designer"]).json
    assert {k: version[k] for k in SHOWN} == {k: first[k] for k in SHOWN}
    assert [f["filename"] for f in version["files"]] == ["sample.bpmn"]

    assert approve(http, people["approver"], 2).status_code == 200
    [entry] = http.get("/api/v1/definitions", headers=people["designer"]).json
    assert entry["startable_version"] == 2
    assert [v["starts_new_referrals"] for v in entry["versions"]] == [False, True]


SHOWN = (
    "number",
    "status",
    "approval",
    "deployed_by_person",
    "approved_by_person",
    "approval_reason",
    "referrals_running",
    "referrals_total",
    "starts_new_referrals",
)


def test_without_required_approval_new_referrals_start_on_the_latest_version(
    signpost, http, designer_headers
):
    signpost.definitions.deploy([samples.source(samples.script_then_user_task("x = 1"))], "cli:alice")
    signpost.definitions.deploy([samples.source(samples.script_then_user_task("x = 2"))], "cli:alice")
    [entry] = http.get("/api/v1/definitions", headers=designer_headers).json
    assert entry["startable_version"] == 2
    assert [(v["status"], v["starts_new_referrals"]) for v in entry["versions"]] == [
        ("draft", False),
        ("draft", True),
    ]
    # A deployment from the command line names no client: its person is not known.
    assert [v["deployed_by_person"] for v in entry["versions"]] == [None, None]


def test_the_library_is_read_in_the_same_few_queries_whatever_the_number_of_versions(
    signpost, http, designer_headers, gp
):
    def statements_to_list() -> int:
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731 -- (conn, cursor, statement, …)
        sa.event.listen(signpost.database.engine, "before_cursor_execute", listener)
        try:
            assert http.get("/api/v1/definitions", headers=designer_headers).status_code == 200
        finally:
            sa.event.remove(signpost.database.engine, "before_cursor_execute", listener)
        return len(seen)

    signpost.definitions.deploy([samples.source(samples.script_then_user_task("x = 0"))], "tests")
    statements_to_list()  # the client's first request of the minute also records its use
    one_version = statements_to_list()
    for n in range(1, 6):
        signpost.definitions.deploy([samples.source(samples.script_then_user_task(f"x = {n}"))], "tests")
        signpost.referrals.start(gp, pathway="sample", version=None, referrer="r", subject=None, data={})
    other = samples.script_then_user_task("y = 1", process_id="other")
    signpost.definitions.deploy([samples.source(other, "other.bpmn")], "tests")
    assert statements_to_list() == one_version
    counted = [v["referrals_total"] for d in signpost.definitions.list() for v in d["versions"]]
    assert counted == [0, 0, 1, 1, 1, 1, 1]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 2001}, "reason"),
        ({"reason": 42}, "reason"),
        ({"reason": "fine", "extra": 1}, "extra"),
    ],
)
def test_an_approval_without_a_usable_reason_is_refused_naming_the_field(studio, body, fragment):
    http, people = studio
    deploy(http, people["designer"], "x = 1")
    refused = approve(http, people["approver"], 1, body)
    assert (refused.status_code, refused.content_type) == (422, "application/problem+json")
    assert fragment in refused.json["detail"] and fragment in str(refused.json["errors"])
    version = http.get("/api/v1/definitions/sample/versions/1", headers=people["designer"]).json
    assert (version["status"], version["approval_reason"]) == ("draft", None)


def test_the_deployer_approving_gets_a_clear_problem_and_the_approval_is_audited_with_the_version(
    studio, strict
):
    http, people = studio
    deploy(http, people["designer"], "x = 1")
    refused = approve(http, people["alice approving"], 1)
    assert (refused.status_code, refused.content_type) == (403, "application/problem+json")
    assert refused.json["detail"] == (
        "the person who deployed a version cannot also approve it: another person with the clinical-approver "
        "role must approve version 1 of 'sample'"
    )
    assert approve(http, people["approver"], 1).status_code == 200
    again = approve(http, people["approver"], 1)
    assert (again.status_code, again.json["detail"]) == (409, "version 1 of 'sample' is already approved")
    assert approve(http, people["approver"], 9).status_code == 404
    with strict.database.read() as conn:
        records = conn.execute(
            sa.text(
                "SELECT actor, action, resource, resource_id, outcome FROM audit_log WHERE action = 'approve'"
            )
        ).all()
        version_id = conn.execute(sa.text("SELECT id FROM definition_versions")).scalar()
    [(actor, action, resource, resource_id, outcome)] = records
    assert actor.endswith(":bob's studio")
    assert (action, resource, resource_id, outcome) == (
        "approve",
        "pathway sample version 1",
        str(version_id),
        200,
    )
    assert strict.audit.verify().intact
