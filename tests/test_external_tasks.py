"""External service tasks through the API: a pathway waits on work that a worker outside Signpost fetches,
locks with a lease and answers (completes, fails, throws a BPMN error). Every step goes through the API, so
the instance is saved and loaded again between steps."""

from __future__ import annotations

import io
from datetime import timedelta

import httpx
import pytest

from engine import clock
from engine.bpmn import SourceFile
from engine.store import external_tasks as external_task_store
from tests import bpmn_samples as samples
from tests.support.readme import readme_worker

POINT_OF_ACCESS = "community-health-spa"  # run by the partnership trust, whose service system is the worker
OTHER_ORG = "leicester-city-council"
TOPIC = "address-lookup"
CAMUNDA_HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler">\n'
)


def external_task_then_user_task(task_attributes: str, extension: str = "", boundary: str = "") -> str:
    """start -> external service task 'lookup' -> end; an error boundary event on it (when given) leads to
    user task 'handle_error'."""
    return f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="lookup" name="Look up address" {task_attributes}>
      {extension}
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="lookup"/>
    <bpmn:sequenceFlow id="f2" sourceRef="lookup" targetRef="end"/>
    {boundary}"""


SPIFF_EXTERNAL = f"""<bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="signpost.external">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="topic" type="str" value="'{TOPIC}'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>"""

ERROR_BOUNDARY = """
    <bpmn:boundaryEvent id="not_found" attachedToRef="lookup">
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:errorEventDefinition errorRef="address_not_found"/>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="handle_error" name="Find the address by phone">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end_error"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="not_found" targetRef="handle_error"/>
    <bpmn:sequenceFlow id="f4" sourceRef="handle_error" targetRef="end_error"/>"""

ERROR_DEFINITION = '<bpmn:error id="address_not_found" name="Address not found" errorCode="NOT_FOUND"/>'


def spiff_pathway(boundary: str = "") -> str:
    text = samples.process(external_task_then_user_task("", SPIFF_EXTERNAL, boundary), "lookup_pathway")
    if boundary:
        text = text.replace("</bpmn:definitions>", f"  {ERROR_DEFINITION}\n</bpmn:definitions>")
    return text


def camunda_pathway() -> str:
    """As Camunda Modeler saves it: camunda:type="external" and camunda:topic on the service task."""
    body = external_task_then_user_task(f'camunda:type="external" camunda:topic="{TOPIC}"')
    return (
        f'{CAMUNDA_HEADER}  <bpmn:process id="lookup_pathway" name="Lookup" isExecutable="true">\n{body}\n'
        "  </bpmn:process>\n</bpmn:definitions>\n"
    )


@pytest.fixture
def deploy(signpost, directory):
    def deploy_text(text: str, filename: str = "lookup_pathway.bpmn"):
        return signpost.definitions.deploy([SourceFile(filename, text.encode())], "tests")

    return deploy_text


@pytest.fixture
def refer(http, gp_headers):
    def start() -> dict:
        response = http.post(
            "/api/v1/referrals",
            headers=gp_headers,
            json={
                "pathway": "lookup_pathway",
                "referrer": "C81001",
                "point_of_access": POINT_OF_ACCESS,
                "data": {"postcode": "LE1 5WW"},
            },
        )
        assert response.status_code == 201, response.json
        return response.json

    return start


def fetch(http, headers, worker: str, lease_seconds: int = 60, max_tasks: int = 5) -> list[dict]:
    response = http.post(
        "/api/v1/external-tasks/fetch-and-lock",
        headers=headers,
        json={"worker_id": worker, "topics": [TOPIC], "max_tasks": max_tasks, "lease_seconds": lease_seconds},
    )
    assert response.status_code == 200, response.json
    return response.json


def upload(http, headers, text: str):
    files = {"files": [(io.BytesIO(text.encode()), "lookup_pathway.bpmn")]}
    return http.post("/api/v1/definitions", headers=headers, data=files, content_type="multipart/form-data")


def answer(http, headers, task_id: str, action: str, **body):
    return http.post(f"/api/v1/external-tasks/{task_id}/{action}", headers=headers, json=body)


def referral(http, headers, referral_id: str) -> dict:
    response = http.get(f"/api/v1/referrals/{referral_id}", headers=headers)
    assert response.status_code == 200
    return response.json


def test_an_external_task_waits_is_listed_and_a_worker_completes_it(
    http, deploy, refer, gp_headers, nursing_team_headers, operator_headers
):
    deploy(spiff_pathway())
    started = refer()
    assert started["status"] == "waiting"
    [waiting] = started["waiting_for"]["external_tasks"]
    assert (waiting["topic"], waiting["element_id"], waiting["status"]) == (TOPIC, "lookup", "open")
    assert started["waiting_for"]["tasks"] == []  # not an operator's task
    listed = http.get("/api/v1/tasks", headers=operator_headers, query_string={"referral": started["id"]})
    assert listed.status_code == 200 and listed.json == []

    [task] = fetch(http, nursing_team_headers, "worker-1")
    assert task["id"] == waiting["id"] and task["status"] == "locked" and task["worker_id"] == "worker-1"
    assert task["data"]["postcode"] == "LE1 5WW" and task["referral_id"] == started["id"]
    assert fetch(http, nursing_team_headers, "worker-2") == []  # locked: nobody else gets it
    queue = http.get("/api/v1/external-tasks", headers=nursing_team_headers, query_string={"topic": TOPIC})
    assert [(t["id"], t["status"]) for t in queue.json] == [(task["id"], "locked")]

    extended = answer(
        http, nursing_team_headers, task["id"], "extend-lease", worker_id="worker-1", lease_seconds=600
    )
    assert extended.status_code == 200 and extended.json["lock_expires_at"] > task["lock_expires_at"]
    done = answer(
        http, nursing_team_headers, task["id"], "complete", worker_id="worker-1", data={"uprn": "100030"}
    )
    assert done.status_code == 200, done.json
    assert done.json["instance_status"] == "completed"

    after = referral(http, gp_headers, started["id"])
    assert after["status"] == "completed" and after["data"]["uprn"] == "100030"
    assert after["waiting_for"]["external_tasks"] == []
    again = answer(http, nursing_team_headers, task["id"], "complete", worker_id="worker-1", data={})
    assert again.status_code == 404  # the task is gone with its instance's wait


def test_only_the_worker_holding_the_lease_may_answer_and_another_organisation_sees_nothing(
    http, deploy, refer, nursing_team_headers, token_for
):
    deploy(spiff_pathway())
    refer()
    [task] = fetch(http, nursing_team_headers, "worker-1")

    stranger = answer(http, nursing_team_headers, task["id"], "complete", worker_id="worker-2", data={})
    assert stranger.status_code == 409
    assert stranger.headers["Content-Type"] == "application/problem+json"
    assert "does not hold the lease" in stranger.json["detail"]

    council = token_for("service", organisation=OTHER_ORG)
    assert fetch(http, council, "worker-1") == []
    for action, body in (
        ("complete", {"data": {}}),
        ("extend-lease", {"lease_seconds": 60}),
        ("failure", {"error": "boom"}),
        ("bpmn-error", {"code": "NOT_FOUND"}),
    ):
        response = answer(http, council, task["id"], action, worker_id="worker-1", **body)
        assert response.status_code == 404, (action, response.json)
    assert http.get("/api/v1/external-tasks", headers=council).json == []


def test_an_expired_lease_returns_the_work_and_the_late_answer_is_refused(
    http, deploy, refer, gp_headers, nursing_team_headers, frozen_clock
):
    deploy(spiff_pathway())
    started = refer()
    [task] = fetch(http, nursing_team_headers, "slow-worker", lease_seconds=30)
    frozen_clock.shift(timedelta(seconds=31))

    [again] = fetch(http, nursing_team_headers, "quick-worker")
    assert again["id"] == task["id"]
    late = answer(http, nursing_team_headers, task["id"], "complete", worker_id="slow-worker", data={"x": 1})
    assert late.status_code == 409
    assert referral(http, gp_headers, started["id"])["status"] == "waiting"

    done = answer(http, nursing_team_headers, task["id"], "complete", worker_id="quick-worker", data={})
    assert done.status_code == 200 and done.json["instance_status"] == "completed"


def test_an_expired_lease_nobody_took_is_refused_too(http, deploy, refer, nursing_team_headers, frozen_clock):
    deploy(spiff_pathway())
    refer()
    [task] = fetch(http, nursing_team_headers, "worker-1", lease_seconds=30)
    frozen_clock.shift(timedelta(seconds=30))
    late = answer(http, nursing_team_headers, task["id"], "complete", worker_id="worker-1", data={})
    assert late.status_code == 409 and "expired" in late.json["detail"]


def test_failures_retry_with_back_off_then_an_incident_that_an_operator_retry_clears(
    http, deploy, refer, gp_headers, nursing_team_headers, operator_headers, frozen_clock
):
    deploy(spiff_pathway())
    started = refer()
    [task] = fetch(http, nursing_team_headers, "worker-1")
    failed = answer(
        http,
        nursing_team_headers,
        task["id"],
        "failure",
        worker_id="worker-1",
        error="gazetteer down",
        retries=1,
    )
    assert failed.status_code == 200 and failed.json["instance_status"] == "waiting"
    assert fetch(http, nursing_team_headers, "worker-1") == []  # backing off: 30 seconds by default
    frozen_clock.shift(timedelta(seconds=30))
    [retried] = fetch(http, nursing_team_headers, "worker-1")
    assert (retried["id"], retried["retries"], retried["error_message"]) == (task["id"], 1, "gazetteer down")

    exhausted = answer(
        http, nursing_team_headers, task["id"], "failure", worker_id="worker-1", error="still down", retries=0
    )
    assert exhausted.status_code == 200 and exhausted.json["instance_status"] == "incident"
    stopped = referral(http, gp_headers, started["id"])
    assert stopped["status"] == "incident"
    assert stopped["incident"]["task"] == "Look up address"
    assert "still down" in stopped["incident"]["error"] and TOPIC in stopped["incident"]["error"]
    assert stopped["waiting_for"]["external_tasks"][0]["status"] == "failed"
    frozen_clock.shift(timedelta(hours=2))
    assert fetch(http, nursing_team_headers, "worker-1") == []

    timeline = http.get(f"/api/v1/referrals/{started['id']}/timeline", headers=gp_headers).json
    assert "external_task_failed" not in [entry["kind"] for entry in timeline]  # the engine's own retries
    retry = http.post(f"/api/v1/referrals/{started['id']}/retry", headers=operator_headers, json={"data": {}})
    assert retry.status_code == 200, retry.json
    assert retry.json["status"] == "waiting"
    [back] = fetch(http, nursing_team_headers, "worker-1")
    assert back["id"] == task["id"] and back["retries"] is None
    done = answer(http, nursing_team_headers, task["id"], "complete", worker_id="worker-1", data={})
    assert done.json["instance_status"] == "completed"


def test_a_caught_bpmn_error_takes_the_error_path(
    http, deploy, refer, gp_headers, nursing_team_headers, operator_headers
):
    deploy(spiff_pathway(boundary=ERROR_BOUNDARY))
    started = refer()
    [task] = fetch(http, nursing_team_headers, "worker-1")
    thrown = answer(
        http,
        nursing_team_headers,
        task["id"],
        "bpmn-error",
        worker_id="worker-1",
        code="NOT_FOUND",
        message="no such postcode",
        data={"searched": "LE1 5WW"},
    )
    assert thrown.status_code == 200, thrown.json
    assert thrown.json["instance_status"] == "waiting"
    after = referral(http, gp_headers, started["id"])
    assert after["waiting_for"]["external_tasks"] == []
    [user_task] = after["waiting_for"]["tasks"]
    assert user_task["element_id"] == "handle_error"
    assert after["data"]["searched"] == "LE1 5WW" and after["data"]["error_code"] == "NOT_FOUND"
    timeline = http.get(f"/api/v1/referrals/{started['id']}/timeline", headers=gp_headers).json
    assert "'Look up address' could not be done (NOT_FOUND)" in [entry["what"] for entry in timeline]
    done = http.post(f"/api/v1/tasks/{user_task['id']}/complete", headers=operator_headers, json={"data": {}})
    assert done.status_code == 200 and done.json["status"] == "completed"


def test_an_uncaught_bpmn_error_is_an_incident_naming_the_code(
    http, deploy, refer, gp_headers, nursing_team_headers
):
    deploy(spiff_pathway(boundary=ERROR_BOUNDARY))
    started = refer()
    [task] = fetch(http, nursing_team_headers, "worker-1")
    thrown = answer(
        http, nursing_team_headers, task["id"], "bpmn-error", worker_id="worker-1", code="TIMEOUT"
    )
    assert thrown.status_code == 200 and thrown.json["instance_status"] == "incident"
    stopped = referral(http, gp_headers, started["id"])
    assert stopped["status"] == "incident" and "TIMEOUT" in stopped["incident"]["error"]
    assert stopped["incident"]["task"] == "Look up address"


def test_a_camunda_modeler_file_with_an_external_topic_deploys_unchanged(
    http, directory, refer, designer_headers, nursing_team_headers
):
    text = camunda_pathway()
    deployed = upload(http, designer_headers, text)
    assert deployed.status_code == 201, deployed.json
    version = deployed.json
    stored = http.get(
        f"/api/v1/definitions/{version['key']}/versions/{version['number']}", headers=designer_headers
    )
    assert [f["content"] for f in stored.json["files"]] == [text]
    started = refer()
    [waiting] = started["waiting_for"]["external_tasks"]
    assert waiting["topic"] == TOPIC
    [task] = fetch(http, nursing_team_headers, "worker-1")
    done = answer(
        http, nursing_team_headers, task["id"], "complete", worker_id="worker-1", data={"uprn": "1"}
    )
    assert done.json["instance_status"] == "completed"


@pytest.mark.parametrize(
    ("extension", "expected"),
    [
        (SPIFF_EXTERNAL.replace("'address-lookup'", "topic_variable"), "must be a quoted string"),
        (SPIFF_EXTERNAL.replace("'address-lookup'", "''"), "needs a topic"),
    ],
)
def test_an_external_task_without_a_usable_topic_is_refused_at_deployment(
    http, designer_headers, extension, expected
):
    text = samples.process(external_task_then_user_task("", extension), "lookup_pathway")
    response = upload(http, designer_headers, text)
    assert response.status_code == 422
    [problem] = response.json["problems"]
    assert expected in problem["message"] and problem["element_id"] == "lookup"


def test_the_readme_example_worker_completes_the_work(app, deploy, refer, gp_headers, nursing_team_headers):
    deploy(spiff_pathway())
    started = refer()
    namespace = readme_worker()
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(
        transport=transport, base_url="http://signpost.test", headers=nursing_team_headers
    ) as client:
        namespace["run_worker"](client, rounds=1)
        done = client.get(f"/api/v1/referrals/{started['id']}", headers=gp_headers).json()
    assert done["status"] == "completed" and done["data"]["uprn"] == "100030"


def test_workers_fetching_at_the_same_moment_never_get_the_same_task(signpost, settings, deploy, refer):
    """PostgreSQL: a task one worker's transaction is locking is skipped by the other's, not waited for.
    (SQLite has one writer at a time, so there the second fetch simply comes after the first.)"""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("row locks with SKIP LOCKED are PostgreSQL's")
    deploy(spiff_pathway())
    first_referral, second_referral = refer(), refer()
    now = clock.now()
    organisation = "leicestershire-partnership-nhs-trust"
    with signpost.database.write() as first:
        [taken] = external_task_store.lock_fetchable(first, organisation, [TOPIC], 1, now)
        with signpost.database.write() as second:
            others = external_task_store.lock_fetchable(second, organisation, [TOPIC], 5, now)
    assert [row["id"] for row in others] != [taken["id"]] and len(others) == 1
    assert {taken["referral_id"], others[0]["referral_id"]} == {first_referral["id"], second_referral["id"]}
