"""A file as Camunda Modeler saves it — error boundary, event-based gateway, a bare ISO 8601 duration, an
external service task and a business rule task with ``camunda:decisionRef`` — deployed unchanged and run end
to end through the API, its external task worked by the README's example worker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.readme import readme_worker

DIAGRAMS = Path(__file__).resolve().parent / "diagrams"
FILES = ("camunda_address_check.bpmn", "falls_priority.dmn")


@pytest.fixture
def practice_system(token_for):
    """The GP practice's own system: the referrals are operated by the practice, so it works their tasks."""
    return token_for("service", organisation="city-gp-practice")


@pytest.fixture
def referral(http, designer_headers, gp_headers):
    uploads = [(open(DIAGRAMS / name, "rb"), name) for name in FILES]  # noqa: SIM115 - closed by the client
    deployed = http.post(
        "/api/v1/definitions",
        data={"files": uploads},
        headers=designer_headers,
        content_type="multipart/form-data",
    )
    assert deployed.status_code == 201, deployed.json
    stored = http.get(
        f"/api/v1/definitions/camunda_address_check/versions/{deployed.json['number']}",
        headers=designer_headers,
    ).json
    # Stored as the modeler saved it: the dialect is read, never rewritten.
    assert {f["filename"]: f["content"] for f in stored["files"]} == {
        name: (DIAGRAMS / name).read_text() for name in FILES
    }
    started = http.post(
        "/api/v1/referrals",
        json={
            "pathway": "camunda_address_check",
            "referrer": "C81001",
            "data": {"age": 85, "falls_last_year": 2},
        },
        headers=gp_headers,
    )
    assert started.status_code == 201, started.json
    return started.json


def referral_now(http, gp_headers, referral) -> dict:
    return http.get(f"/api/v1/referrals/{referral['id']}", headers=gp_headers).json


def test_the_readme_worker_does_the_lookup_and_the_clinic_accepts_in_time(
    app, http, referral, gp_headers, practice_system, practice_operator_headers
):
    assert referral["data"]["priority"] == "urgent"  # the decision table, with its required decision
    [task] = referral["waiting_for"]["external_tasks"]
    assert task["topic"] == "address-lookup"
    with httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="http://signpost.test", headers=practice_system
    ) as client:
        readme_worker()["run_worker"](client, rounds=1)
    waiting = referral_now(http, gp_headers, referral)
    assert waiting["data"]["uprn"] == "100030"
    assert waiting["waiting_for"]["messages"] == ["clinic.accepted"]
    assert [t["name"] for t in waiting["waiting_for"]["timers"]] == ["Five days"]
    sent = http.post(
        "/api/v1/messages",
        json={"name": "clinic.accepted", "correlation": {"referral_id": referral["id"]}, "data": {}},
        headers=practice_operator_headers,
    )
    assert sent.status_code == 202, sent.json
    assert referral_now(http, gp_headers, referral)["status"] == "completed"


def test_no_answer_in_five_days_escalates(
    app, http, signpost, referral, gp_headers, practice_system, practice_operator_headers, frozen_clock
):
    with httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="http://signpost.test", headers=practice_system
    ) as client:
        readme_worker()["run_worker"](client, rounds=1)
    frozen_clock.shift(timedelta(days=5, seconds=1))
    assert signpost.timers.fire_due() == 1
    escalated = referral_now(http, gp_headers, referral)
    assert [t["element_id"] for t in escalated["waiting_for"]["tasks"]] == ["Activity_escalate"]
    assert escalated["waiting_for"]["messages"] == []


def test_a_worker_that_finds_no_address_takes_the_error_path(
    http, referral, gp_headers, practice_system, practice_operator_headers
):
    [task] = http.post(
        "/api/v1/external-tasks/fetch-and-lock",
        json={"worker_id": "gazetteer-2", "topics": ["address-lookup"], "max_tasks": 1, "lease_seconds": 60},
        headers=practice_system,
    ).json
    thrown = http.post(
        f"/api/v1/external-tasks/{task['id']}/bpmn-error",
        json={"worker_id": "gazetteer-2", "code": "NO_ADDRESS", "message": "no match in the gazetteer"},
        headers=practice_system,
    )
    assert thrown.status_code == 200, thrown.json
    asking = referral_now(http, gp_headers, referral)
    assert [t["element_id"] for t in asking["waiting_for"]["tasks"]] == ["Activity_ask_referrer"]
    assert asking["waiting_for"]["external_tasks"] == [] and asking["waiting_for"]["messages"] == []
