"""The HTTP API end to end: deploy, start a referral, work its task, send messages, read its status."""

from __future__ import annotations

import io
import threading

import pytest

from tests import bpmn_samples as samples
from tests.conftest import NURSING_FILES, PROCESSES

COMPLETE_REFERRAL = {
    "pathway": "community_nursing_referral",
    "referrer": "C81001",
    "subject": "943 476 5919",
    "data": {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False},
}


def upload(*names: str, key: str | None = None) -> dict:
    form = {"files": [(io.BytesIO((PROCESSES / n).read_bytes()), n) for n in names]}
    if key:
        form["key"] = key
    return form


@pytest.fixture
def deployed(http, designer_headers, directory):
    response = http.post(
        "/api/v1/definitions",
        data=upload(*NURSING_FILES),
        headers=designer_headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    return response.json


def test_deploy_returns_a_numbered_version_and_identical_content_returns_it_again(
    http, designer_headers, deployed
):
    assert deployed["key"] == "community_nursing_referral"
    assert deployed["number"] == 1
    assert sorted(f["filename"] for f in deployed["files"]) == sorted(NURSING_FILES)
    again = http.post(
        "/api/v1/definitions",
        data=upload(*NURSING_FILES),
        headers=designer_headers,
        content_type="multipart/form-data",
    )
    assert again.status_code == 200
    assert (again.json["number"], again.json["created"]) == (1, False)

    listing = http.get("/api/v1/definitions", headers=designer_headers).json
    assert [(d["key"], d["latest"]) for d in listing] == [("community_nursing_referral", 1)]
    version = http.get(
        "/api/v1/definitions/community_nursing_referral/versions/1", headers=designer_headers
    ).json
    assert {f["filename"] for f in version["files"]} == set(NURSING_FILES)
    assert all(f["content"].lstrip().startswith("<?xml") for f in version["files"])


def test_referral_lifecycle_over_http(http, deployed, gp_headers, operator_headers, nursing_team_headers):
    started = http.post("/api/v1/referrals", json=COMPLETE_REFERRAL, headers=gp_headers)
    assert started.status_code == 201, started.json
    referral = started.json
    assert started.headers["Location"].endswith(referral["id"])
    assert referral["subject"] == "9434765919"
    assert referral["reference"].startswith("SP-")
    assert referral["waiting_for"]["messages"] == ["handoff.accepted", "handoff.rejected"]
    assert referral["status_text"] == "Sent to City community nursing, waiting for them to respond"

    queue = http.get(
        "/api/v1/services/community-nursing-city/handoffs?status=requested", headers=nursing_team_headers
    )
    [handoff] = queue.json
    accepted = http.post(
        f"/api/v1/handoffs/{handoff['id']}/accept",
        json={"window": "Tue 14:00-16:00"},
        headers={**nursing_team_headers, "If-Match": handoff["etag"]},
    )
    assert accepted.status_code == 200, accepted.json
    assert accepted.headers["ETag"] == accepted.json["etag"] != handoff["etag"]
    status = http.get(f"/api/v1/referrals/{referral['id']}", headers=gp_headers).json
    assert status["status_text"] == "Accepted by City community nursing — visit booked Tue 14:00-16:00"

    completed = http.post(
        f"/api/v1/handoffs/{handoff['id']}/complete", json={"outcome": "seen"}, headers=nursing_team_headers
    )
    assert completed.json["status"] == "completed"

    status = http.get(f"/api/v1/referrals/{referral['id']}", headers=gp_headers).json
    assert status["status"] == "completed"
    events = http.get(f"/api/v1/referrals/{referral['id']}/events", headers=operator_headers).json
    assert events[0]["kind"] == "started"
    assert "handoff_accepted" in [e["kind"] for e in events]


def test_operator_claims_and_completes_a_task_over_http(
    http, deployed, gp_headers, operator_headers, token_for
):
    incomplete = {**COMPLETE_REFERRAL, "data": {**COMPLETE_REFERRAL["data"], "clinical_need": None}}
    referral = http.post("/api/v1/referrals", json=incomplete, headers=gp_headers).json
    tasks = http.get(f"/api/v1/tasks?referral={referral['id']}", headers=operator_headers).json
    assert [t["element_id"] for t in tasks] == ["complete_missing_information"]
    by_lane = http.get(
        "/api/v1/tasks", query_string={"lane": "Point of access operator"}, headers=operator_headers
    ).json
    assert [t["id"] for t in by_lane] == [tasks[0]["id"]]

    claimed = http.post(f"/api/v1/tasks/{tasks[0]['id']}/claim", headers=operator_headers)
    assert claimed.status_code == 200 and claimed.json["status"] == "claimed"
    other_operator = token_for("operator", organisation="leicestershire-partnership-nhs-trust")
    stolen = http.post(f"/api/v1/tasks/{tasks[0]['id']}/complete", json={"data": {}}, headers=other_operator)
    assert stolen.status_code == 409
    assert stolen.content_type == "application/problem+json"

    done = http.post(
        f"/api/v1/tasks/{tasks[0]['id']}/complete",
        json={"data": {"clinical_need": "catheter"}},
        headers=operator_headers,
    )
    assert done.status_code == 200, done.json
    assert done.json["data"]["priority"] == "routine"
    assert http.get(f"/api/v1/tasks?referral={referral['id']}", headers=operator_headers).json == []


def test_idempotent_start_replays_the_original_and_refuses_a_different_body(
    http, deployed, gp_headers, signpost
):
    headers = {**gp_headers, "Idempotency-Key": "gp-msg-0001"}
    first = http.post("/api/v1/referrals", json=COMPLETE_REFERRAL, headers=headers)
    replay = http.post("/api/v1/referrals", json=COMPLETE_REFERRAL, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.json == first.json
    assert replay.headers["Idempotent-Replayed"] == "true"

    different = http.post(
        "/api/v1/referrals", json={**COMPLETE_REFERRAL, "referrer": "C99999"}, headers=headers
    )
    assert different.status_code == 409
    assert "Idempotency-Key" in different.json["detail"]
    with signpost.database.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM referrals").scalar() == 1


def test_concurrent_idempotent_starts_create_one_referral(http, app, deployed, gp_headers, signpost):
    headers = {**gp_headers, "Idempotency-Key": "same-key"}
    responses = []

    def post():
        with app.test_client() as each:
            responses.append(each.post("/api/v1/referrals", json=COMPLETE_REFERRAL, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in responses] == [201] * 4
    assert len({r.json["id"] for r in responses}) == 1
    with signpost.database.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM referrals").scalar() == 1


def test_a_referrer_cannot_read_another_organisations_referral(http, deployed, gp_headers, token_for):
    referral = http.post("/api/v1/referrals", json=COMPLETE_REFERRAL, headers=gp_headers).json
    other = token_for("referrer", organisation="county-gp-practice")
    response = http.get(f"/api/v1/referrals/{referral['id']}", headers=other)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer sp_not-a-token"}, 401), ({"Authorization": "Basic abc"}, 401)],
)
def test_requests_without_a_valid_token_are_refused(http, headers, status):
    response = http.get("/api/v1/definitions", headers=headers)
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_role_without_permission_gets_403(http, gp_headers):
    response = http.post(
        "/api/v1/definitions",
        data=upload(*NURSING_FILES),
        headers=gp_headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert "designer" in response.json["detail"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"referrer": "C81001"}, "pathway"),
        ({**COMPLETE_REFERRAL, "surprise": 1}, "surprise"),
        ({**COMPLETE_REFERRAL, "subject": "1234567890"}, "NHS number"),
        ({**COMPLETE_REFERRAL, "data": {"__class__": 1}}, "identifiers"),
        ({**COMPLETE_REFERRAL, "pathway": "no_such_pathway"}, "no_such_pathway"),
    ],
)
def test_bad_referrals_get_a_clear_problem_and_store_nothing(
    http, deployed, gp_headers, signpost, body, fragment
):
    response = http.post("/api/v1/referrals", json=body, headers=gp_headers)
    assert response.status_code in (404, 422), response.json
    assert response.content_type == "application/problem+json"
    assert fragment in response.json["detail"]
    with signpost.database.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM instances").scalar() == 0


ANSWER_WAIT = samples.process(
    """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="answer"/></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>""",
    "answer_wait",
).replace("<bpmn:process ", '<bpmn:message id="answer" name="case.answer"/>\n  <bpmn:process ', 1)


def test_a_message_goes_to_the_referral_it_correlates_with_and_one_nobody_waits_for_is_a_409(
    http, designer_headers, gp_headers, practice_operator_headers
):
    deployed = http.post(
        "/api/v1/definitions",
        data={"files": [(io.BytesIO(ANSWER_WAIT.encode()), "answer_wait.bpmn")]},
        headers=designer_headers,
        content_type="multipart/form-data",
    )
    assert deployed.status_code == 201, deployed.json
    referral = http.post(
        "/api/v1/referrals",
        json={"pathway": "answer_wait", "referrer": "C81001", "data": {}},
        headers=gp_headers,
    ).json
    nobody = http.post(
        "/api/v1/messages",
        headers=practice_operator_headers,
        json={"name": "case.question", "correlation": {"referral_id": referral["id"]}, "data": {}},
    )
    assert nobody.status_code == 409
    assert "case.question" in nobody.json["detail"]
    answered = http.post(
        "/api/v1/messages",
        headers=practice_operator_headers,
        json={
            "name": "case.answer",
            "correlation": {"reference": referral["reference"]},
            "data": {"answer": "told by phone"},
        },
    )
    assert answered.status_code == 202, answered.json
    [after] = answered.json["delivered_to"]
    assert (after["id"], after["status"], after["data"]["answer"]) == (
        referral["id"],
        "completed",
        "told by phone",
    )


def test_a_hand_off_event_sent_as_a_message_is_refused_with_a_pointer_to_the_action(
    http, deployed, gp_headers, operator_headers
):
    """The README walk-through once sent handoff.accepted as a message: the pathway moved on while the
    hand-off stayed requested, its OLA clocks kept running and the status text said it was still waiting."""
    referral = http.post("/api/v1/referrals", json=COMPLETE_REFERRAL, headers=gp_headers).json
    response = http.post(
        "/api/v1/messages",
        headers=operator_headers,
        json={
            "name": "handoff.accepted",
            "correlation": {"referral_id": referral["id"]},
            "data": {"window": "Tue 14:00-16:00"},
        },
    )
    assert (response.status_code, response.content_type) == (422, "application/problem+json")
    assert "/api/v1/handoffs/{handoff id}/accept" in response.json["detail"]
    after = http.get(f"/api/v1/referrals/{referral['id']}", headers=gp_headers).json
    assert after["waiting_for"]["messages"] == ["handoff.accepted", "handoff.rejected"]
    assert after["handoffs"][0]["status"] == "requested" and after["status_text"] == referral["status_text"]


def test_openapi_document_and_offline_docs_are_served(http):
    spec = http.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for path in (
        "/api/v1/definitions",
        "/api/v1/referrals",
        "/api/v1/tasks/{task_id}/complete",
        "/api/v1/messages",
    ):
        assert path in spec["paths"]
    page = http.get("/api/docs")
    assert page.status_code == 200
    assert b"/api/docs/assets/swagger-ui-bundle.js" in page.data
    assert b"http" not in page.data  # every asset comes from this server: no CDN on an offline network
    asset = http.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000


def test_unknown_routes_wrong_methods_and_oversized_bodies_are_problems(
    http, app, designer_headers, gp_headers
):
    missing = http.get("/api/v1/nowhere", headers=designer_headers)
    assert (missing.status_code, missing.content_type) == (404, "application/problem+json")
    wrong_method = http.delete("/api/v1/referrals", headers=designer_headers)
    assert (wrong_method.status_code, wrong_method.content_type) == (405, "application/problem+json")
    oversized = http.post(
        "/api/v1/referrals",
        data=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
        headers={**gp_headers, "Content-Type": "application/json"},
    )
    assert (oversized.status_code, oversized.content_type) == (413, "application/problem+json")


def test_malformed_json_is_a_problem_naming_the_body(http, gp_headers):
    response = http.post(
        "/api/v1/referrals", data=b"{not json", headers={**gp_headers, "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.content_type == "application/problem+json"


def test_hand_off_problems_have_the_right_status_codes(
    http, deployed, gp_headers, nursing_team_headers, token_for
):
    referral = http.post("/api/v1/referrals", json=COMPLETE_REFERRAL, headers=gp_headers).json
    handoff = referral["handoffs"][0]
    url = f"/api/v1/handoffs/{handoff['id']}"

    illegal = http.post(f"{url}/complete", json={"outcome": "x"}, headers=nursing_team_headers)
    assert (illegal.status_code, illegal.content_type) == (409, "application/problem+json")
    assert illegal.json["allowed"] == ["acknowledge", "accept", "reject", "request-information", "transfer"]

    missing_reason = http.post(f"{url}/reject", json={}, headers=nursing_team_headers)
    assert missing_reason.status_code == 422
    assert "needs 'reason'" in missing_reason.json["detail"]

    other_org = token_for("service", organisation="leicester-city-council")
    assert http.post(f"{url}/accept", json={}, headers=other_org).status_code == 403

    stale = {**nursing_team_headers, "If-Match": handoff["etag"]}
    assert http.post(f"{url}/acknowledge", json={}, headers=stale).status_code == 200
    refused = http.post(f"{url}/accept", json={}, headers=stale)
    assert refused.status_code == 412

    replayed = {**nursing_team_headers, "X-Request-ID": "service-msg-7"}
    first = http.post(f"{url}/accept", json={"window": "Mon"}, headers=replayed)
    again = http.post(f"{url}/accept", json={"window": "Mon"}, headers=replayed)
    assert first.status_code == again.status_code == 200 and first.json == again.json

    assert http.post(f"{url}/teleport", json={}, headers=nursing_team_headers).status_code == 404
    assert http.get(url, headers=nursing_team_headers).headers["ETag"] == first.json["etag"]


def test_the_referrer_answers_and_cancels_over_http(http, deployed, gp_headers, nursing_team_headers):
    referral = http.post("/api/v1/referrals", json=COMPLETE_REFERRAL, headers=gp_headers).json
    url = f"/api/v1/handoffs/{referral['handoffs'][0]['id']}"
    http.post(f"{url}/request-information", json={"question": "Any allergies?"}, headers=nursing_team_headers)
    answered = http.post(
        f"/api/v1/referrals/{referral['id']}/information",
        json={"answer": {"allergies": "none"}},
        headers=gp_headers,
    )
    assert answered.status_code == 200, answered.json
    assert answered.json[0]["status"] == "requested"

    cancelled = http.post(
        f"/api/v1/referrals/{referral['id']}/cancel", json={"reason": "resolved"}, headers=gp_headers
    )
    assert cancelled.status_code == 200, cancelled.json
    assert cancelled.json["status_text"] == "Cancelled by the referrer"
    timeline = http.get(f"/api/v1/referrals/{referral['id']}/timeline", headers=gp_headers).json
    assert timeline[-1]["what"] == "Cancelled by the referrer: resolved"

    listed = http.get("/api/v1/referrals", query_string={"subject": "9434765919"}, headers=gp_headers)
    assert listed.status_code == 200 and listed.json == []


def test_the_service_directory_is_listed_and_admins_change_it(http, directory, gp_headers, admin_headers):
    services = http.get(
        "/api/v1/services", query_string={"accepts": "community-nursing"}, headers=gp_headers
    ).json
    assert "community-nursing-city" in [s["id"] for s in services]
    assert all("community-nursing" in s["accepts"] for s in services)
    entry = {
        "name": "Night nursing",
        "organisation": "leicestershire-partnership-nhs-trust",
        "kind": "receiving",
        "accepts": ["community-nursing"],
        "calendar": "24x7",
        "delivery": {"mode": "pull"},
    }
    assert http.put("/api/v1/services/night-nursing", json=entry, headers=gp_headers).status_code == 403
    created = http.put("/api/v1/services/night-nursing", json=entry, headers=admin_headers)
    assert created.status_code == 201, created.json
    bad = http.put(
        "/api/v1/services/night-nursing", json={**entry, "calendar": "lunar"}, headers=admin_headers
    )
    assert bad.status_code == 422 and "unknown calendar 'lunar'" in bad.json["detail"]
    assert http.get("/api/v1/services/night-nursing", headers=gp_headers).json["calendar"] == "24x7"


def test_authentication_comes_before_validation(http):
    response = http.post("/api/v1/referrals", json={"nonsense": True})
    assert response.status_code == 401
