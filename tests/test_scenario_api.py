"""The scenario-run API: a draft's files run without being deployed, a stored version's scenario files run as
stored; every result in one body; a broken file is a 422 problem and nothing is stored."""

from __future__ import annotations

import io

import pytest

from tests.conftest import NURSING_FILES, PROCESSES, SOPS

SCENARIOS = "community_nursing_referral.scenarios.yaml"
FAILING = b"""\
pathway: community_nursing_referral
scenarios:
  - name: expects a task that never opens
    start:
      subject: "9434765919"
      data: {clinical_need: medication, address_postcode: LE1 5WW, housebound: false}
    steps:
      - service: community-nursing-city
        action: accept
        expect: {tasks: [review_rejection]}
"""


def upload(*files: tuple[str, bytes]) -> dict:
    return {"files": [(io.BytesIO(content), name) for name, content in files]}


def shipped(*names: str) -> list[tuple[str, bytes]]:
    return [(name, (PROCESSES / name).read_bytes()) for name in names]


@pytest.fixture
def olas(signpost, directory):
    """The shipped OLA terms, loaded (after the service directory they name)."""
    return signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")


def post_draft(http, headers, *files):
    return http.post(
        "/api/v1/scenario-runs", data=upload(*files), headers=headers, content_type="multipart/form-data"
    )


def test_a_draft_runs_without_being_stored(http, designer_headers, signpost, olas):
    response = post_draft(http, designer_headers, *shipped(*NURSING_FILES, SCENARIOS))
    assert response.status_code == 200, response.json
    body = response.json
    assert body["passed"] is True
    assert [(s["name"], s["passed"], s["failures"]) for s in body["scenarios"]] == [
        ("A routine referral is accepted with a visit window and completed", True, []),
        ("Missing information comes back to the operator until the dataset is complete", True, []),
        ("The team rejects the referral and the operator reviews it", True, []),
        ("Urgent acceptance overdue escalates to the duty manager while the wait goes on", True, []),
    ]
    first = body["scenarios"][0]
    assert (first["file"], first["line"], first["pathway"]) == (SCENARIOS, 8, "community_nursing_referral")
    assert first["timeline"][0] == {
        "step": 0,
        "at": "2026-01-05T09:00:00+00:00",
        "did": "started community_nursing_referral",
        "status": "waiting",
        "status_text": "Sent to City community nursing, waiting for them to respond",
    }
    coverage = body["coverage"]["community_nursing_referral"]
    assert (coverage["covered"], coverage["total"], coverage["flows_covered"], coverage["flows_total"]) == (
        32,
        32,
        15,
        15,
    )
    assert coverage["elements"]["review_rejection"] is True and coverage["flows"]["Flow_rejected"] is True
    assert coverage["file"] == "community_nursing_referral.bpmn"
    # Nothing of the draft reached the database: no definition, no referral, no client.
    assert signpost.definitions.list() == []
    assert http.get("/api/v1/definitions", headers=designer_headers).json == []
    assert signpost.audit.verify().intact


def test_a_failing_scenario_is_answered_with_its_step_and_line(http, designer_headers, olas):
    response = post_draft(http, designer_headers, *shipped(*NURSING_FILES), (SCENARIOS, FAILING))
    assert response.status_code == 200
    [scenario] = response.json["scenarios"]
    assert response.json["passed"] is False
    assert scenario["failures"] == [
        {"step": 1, "line": 10, "message": "tasks: open tasks are [none], expected [review_rejection]"}
    ]
    coverage = response.json["coverage"]["community_nursing_referral"]
    assert coverage["flows"]["Flow_accepted"] is True
    assert coverage["flows"]["Flow_visit_completed"] is False  # the visit was never completed
    assert coverage["elements"]["await_visit_outcome"] is True


def test_scenarios_route_against_the_callers_service_directory(http, designer_headers):
    """The caller's database holds no directory here, so routing has nowhere to go: the run says so."""
    response = post_draft(http, designer_headers, *shipped(*NURSING_FILES), (SCENARIOS, FAILING))
    [scenario] = response.json["scenarios"]
    assert scenario["timeline"][0]["status"] == "incident"
    assert "community-nursing-city" in scenario["failures"][0]["message"]


def test_a_broken_scenario_file_is_a_422_problem_and_nothing_runs_or_is_stored(
    http, designer_headers, signpost, olas
):
    broken = (
        b"scenarios:\n  - name: a\n    steps:\n      - service: community-nursing-city\n        do: accept\n"
    )
    response = post_draft(http, designer_headers, *shipped(*NURSING_FILES), (SCENARIOS, broken))
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.json["type"].endswith("/definition-invalid")
    assert [(p["file"], p["line"], p["message"][:40]) for p in response.json["problems"]] == [
        (SCENARIOS, 4, "action is missing (one of acknowledge, a"),
        (SCENARIOS, 5, 'unknown key "do" in a step (allowed: com'),
    ]
    assert signpost.definitions.list() == []
    unreadable = post_draft(http, designer_headers, ("bad.bpmn", b"<not xml"), (SCENARIOS, b"scenarios: []"))
    assert unreadable.status_code == 422 and unreadable.json["problems"][0]["file"] == "bad.bpmn"
    nothing = http.post(
        "/api/v1/scenario-runs", data={}, headers=designer_headers, content_type="multipart/form-data"
    )
    assert nothing.status_code == 422


def test_a_stored_versions_scenarios_run_for_the_designer_and_the_clinical_approver(
    http, designer_headers, token_for, olas
):
    deployed = http.post(
        "/api/v1/definitions",
        data=upload(*shipped(*NURSING_FILES, SCENARIOS)),
        headers=designer_headers,
        content_type="multipart/form-data",
    )
    assert deployed.status_code == 201, deployed.json
    path = f"/api/v1/definitions/community_nursing_referral/versions/{deployed.json['number']}/scenario-runs"
    approver = token_for("clinical-approver", organisation="signpost-design")
    for headers in (designer_headers, approver):
        response = http.post(path, headers=headers)
        assert response.status_code == 200, response.json
        assert response.json["passed"] is True and len(response.json["scenarios"]) == 4
        assert list(response.json["coverage"]) == ["community_nursing_referral"]
    assert http.post(path, headers=token_for("referrer")).status_code == 403
    missing = http.post(
        "/api/v1/definitions/community_nursing_referral/versions/9/scenario-runs", headers=approver
    )
    assert missing.status_code == 404


def test_a_broken_scenario_file_refuses_a_deployment_with_its_line(http, designer_headers, signpost):
    response = http.post(
        "/api/v1/definitions",
        data=upload(
            *shipped(*NURSING_FILES), (SCENARIOS, b"scenarios:\n  - name: a\n    expect: {tasks: 3}\n")
        ),
        headers=designer_headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert [(p["file"], p["line"]) for p in response.json["problems"]] == [(SCENARIOS, 3)]
    assert signpost.definitions.list() == []
