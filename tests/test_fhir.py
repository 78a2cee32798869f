"""The read-only FHIR views, driven through real referrals of the community nursing pathway: every resource
served is validated against the FHIR models of the ``fhir.resources`` package (R4B, whose ServiceRequest,
Task, Bundle and OperationOutcome have the R4 structure) and against the R4 value sets of its codes, and its
content is checked at each step of a hand-off's life, together with errors and organisation scoping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from engine.referrals import fhir
from tests.conftest import SOPS, START

LPT = "leicestershire-partnership-nhs-trust"
ROUTINE = {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False}
NHS_NUMBER = "9434765919"
MODELS = {
    "ServiceRequest": ServiceRequest,
    "Task": Task,
    "Bundle": Bundle,
    "OperationOutcome": OperationOutcome,
}
# R4 value sets the models do not enforce (codes are plain strings to them).
REQUEST_STATUS = {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
TASK_STATUS = {
    "draft",
    "requested",
    "received",
    "accepted",
    "rejected",
    "ready",
    "cancelled",
    "in-progress",
    "on-hold",
    "failed",
    "completed",
    "entered-in-error",
}
REQUEST_INTENT = {"proposal", "plan", "directive", "order", "original-order", "reflex-order"}
REQUEST_INTENT |= {"filler-order", "instance-order", "option"}
TASK_INTENT = {"unknown", "proposal", "plan", "order", "original-order", "reflex-order"}
TASK_INTENT |= {"filler-order", "instance-order", "option"}
ISSUE_SEVERITY = {"fatal", "error", "warning", "information"}
ISSUE_TYPE = {"invalid", "structure", "required", "value", "invariant", "security", "login", "unknown"}
ISSUE_TYPE |= {"expired", "forbidden", "suppressed", "processing", "not-supported", "duplicate"}
ISSUE_TYPE |= {"multiple-matches", "not-found", "deleted", "too-long", "code-invalid", "extension"}
ISSUE_TYPE |= {"too-costly", "business-rule", "conflict", "transient", "lock-error", "no-store"}
ISSUE_TYPE |= {"exception", "timeout", "incomplete", "throttled", "informational"}


@pytest.fixture
def referral(http, nursing, gp_headers):
    response = http.post(
        "/api/v1/referrals",
        json={
            "pathway": "community_nursing_referral",
            "referrer": "C81001",
            "subject": NHS_NUMBER,
            "data": ROUTINE,
        },
        headers=gp_headers,
    )
    assert response.status_code == 201, response.json
    return response.json


def valid(response, resource_type: str, status: int = 200) -> dict:
    """The body of a FHIR response, after checking it is a valid R4 ``resource_type``."""
    assert (response.status_code, response.content_type) == (status, "application/fhir+json"), response.data
    body = response.json
    assert body["resourceType"] == resource_type
    check_resource(body)
    return body


def check_resource(resource: dict) -> None:
    """Valid to the FHIR model of its type, its codes in their R4 value sets, and no empty elements."""
    kind = resource["resourceType"]
    MODELS[kind].model_validate(resource)
    assert_nothing_empty(resource)
    if kind == "ServiceRequest":
        assert resource["status"] in REQUEST_STATUS
        assert resource["intent"] in REQUEST_INTENT
    elif kind == "Task":
        assert resource["status"] in TASK_STATUS
        assert resource["intent"] in TASK_INTENT
    elif kind == "Bundle":
        assert resource["type"] == "searchset"
        for entry in resource.get("entry", []):
            assert entry["search"]["mode"] == "match"
            check_resource(entry["resource"])
    elif kind == "OperationOutcome":
        for issue in resource["issue"]:
            assert issue["severity"] in ISSUE_SEVERITY
            assert issue["code"] in ISSUE_TYPE


def assert_nothing_empty(value, path: str = "") -> None:
    """FHIR JSON has no empty objects, arrays or strings and no nulls: an element has content or is absent."""
    assert value not in ({}, [], "", None), f"empty element at {path or 'the root'}"
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, child in children:
        assert_nothing_empty(child, f"{path}.{key}")


def outcome(response, status: int) -> dict:
    body = valid(response, "OperationOutcome", status)
    [issue] = body["issue"]
    assert issue["severity"] == "error" and issue["diagnostics"]
    return issue


def act(http, headers, handoff_id, action, body=None):
    response = http.post(f"/api/v1/handoffs/{handoff_id}/{action}", json=body or {}, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def parameters(task: dict, kind: str) -> dict:
    """A Task's input or output as {name: value}."""
    found = {}
    for parameter in task.get(kind, []):
        [value_key] = [k for k in parameter if k.startswith("value")]
        found[parameter["type"]["text"]] = parameter[value_key]
    return found


def get_task(http, headers, handoff_id) -> dict:
    response = http.get(f"/fhir/Task/{handoff_id}", headers=headers)
    task = valid(response, "Task")
    assert response.headers["ETag"] == f'W/"{task["meta"]["versionId"]}"'
    return task


def service_request(http, headers, referral_id) -> dict:
    return valid(http.get(f"/fhir/ServiceRequest/{referral_id}", headers=headers), "ServiceRequest")


def test_a_new_referral_reads_as_an_active_service_request_with_a_requested_task(
    http, referral, gp_headers, nursing_team_headers
):
    request = service_request(http, gp_headers, referral["id"])
    assert request["id"] == referral["id"]
    assert request["identifier"] == [{"system": fhir.REFERENCE_SYSTEM, "value": referral["reference"]}]
    assert (request["status"], request["intent"]) == ("active", "order")
    # A number given without a verification status is recorded as present but not traced (code 02).
    assert request["subject"] == {
        "type": "Patient",
        "identifier": {
            "system": "https://fhir.nhs.uk/Id/nhs-number",
            "value": NHS_NUMBER,
            "extension": [
                {
                    "url": fhir.VERIFICATION_EXTENSION,
                    "valueCodeableConcept": {
                        "coding": [{"system": fhir.VERIFICATION_CODE_SYSTEM, "code": "02"}],
                        "text": "unverified",
                    },
                }
            ],
        },
    }
    assert request["requester"]["display"] == "C81001"
    assert request["authoredOn"] == "2026-11-23T09:00:00.000Z"
    assert request["code"]["coding"] == [
        {"system": fhir.PATHWAY_SYSTEM, "code": "community_nursing_referral"}
    ]
    assert request["category"][0]["coding"][0]["code"] == "community-nursing"
    assert request["note"] == [{"text": "Sent to City community nursing, waiting for them to respond"}]
    assert request["note"][0]["text"] == referral["status_text"]

    [handoff] = referral["handoffs"]
    task = get_task(http, nursing_team_headers, handoff["id"])
    assert task["id"] == handoff["id"]
    assert (task["status"], task["intent"]) == ("requested", "order")
    assert "businessStatus" not in task
    assert task["focus"] == {"reference": f"ServiceRequest/{referral['id']}"}
    assert task["for"] == request["subject"]
    assert task["requester"] == {
        "type": "Organization",
        "identifier": {"system": fhir.ORGANISATION_SYSTEM, "value": LPT},
        "display": "Community Health Single Point of Access",
    }
    assert task["owner"] == {
        "type": "HealthcareService",
        "identifier": {"system": fhir.SERVICE_SYSTEM, "value": "community-nursing-city"},
        "display": "City community nursing",
    }
    assert task["reasonCode"] == {"text": "Community nursing referral, priority routine"}
    assert task["authoredOn"] == task["lastModified"] == "2026-11-23T09:00:00.000Z"
    assert task["meta"]["versionId"] == "1"
    assert parameters(task, "input") == {
        "clinical_need": "medication",
        "address_postcode": "LE1 5WW",
        "housebound": False,
        "priority": "routine",
    }
    assert "output" not in task
    assert "restriction" not in task  # no operating level agreement clock on hand-offs yet


def test_the_views_follow_a_hand_off_through_information_acceptance_and_completion(
    http, referral, gp_headers, nursing_team_headers, operator_headers, frozen_clock
):
    handoff_id = referral["handoffs"][0]["id"]
    frozen_clock.move_to(START + timedelta(hours=1))
    act(http, nursing_team_headers, handoff_id, "acknowledge")
    received = get_task(http, nursing_team_headers, handoff_id)
    assert (received["status"], received["meta"]["versionId"]) == ("received", "2")
    assert received["lastModified"] == "2026-11-23T10:00:00.000Z"
    assert received["authoredOn"] == "2026-11-23T09:00:00.000Z"

    act(
        http,
        nursing_team_headers,
        handoff_id,
        "request-information",
        {"question": "Is the patient diabetic?"},
    )
    held = get_task(http, nursing_team_headers, handoff_id)
    assert held["status"] == "on-hold"
    assert held["businessStatus"] == {"text": "waiting for information from the referrer"}
    assert held["owner"] == {
        "type": "Organization",
        "identifier": {"system": fhir.ORGANISATION_SYSTEM, "value": "city-gp-practice"},
        "display": "referrer C81001",
    }
    assert parameters(held, "output") == {"question": "Is the patient diabetic?"}
    on_hold = service_request(http, gp_headers, referral["id"])
    assert on_hold["status"] == "on-hold"
    assert on_hold["note"][0]["text"] == (
        "City community nursing has asked the referrer for more information: Is the patient diabetic?"
    )

    answered = http.post(
        f"/api/v1/referrals/{referral['id']}/information",
        json={"answer": {"diabetic": "yes, type 2"}},
        headers=gp_headers,
    )
    assert answered.status_code == 200, answered.json
    resumed = get_task(http, nursing_team_headers, handoff_id)
    assert (resumed["status"], resumed["businessStatus"]["text"]) == ("received", "information supplied")
    assert resumed["owner"]["identifier"]["value"] == "community-nursing-city"
    assert parameters(resumed, "input")["answer"] == '{"diabetic": "yes, type 2"}'
    assert service_request(http, gp_headers, referral["id"])["status"] == "active"

    act(http, nursing_team_headers, handoff_id, "accept", {"window": "Tue 14:00-16:00"})
    accepted = get_task(http, nursing_team_headers, handoff_id)
    assert accepted["status"] == "accepted"
    assert accepted["businessStatus"] == {"text": "visit booked Tue 14:00-16:00"}
    assert parameters(accepted, "output") == {
        "question": "Is the patient diabetic?",
        "window": "Tue 14:00-16:00",
    }
    request = service_request(http, gp_headers, referral["id"])
    assert (request["status"], request["note"][0]["text"]) == (
        "active",
        "Accepted by City community nursing — visit booked Tue 14:00-16:00",
    )

    act(http, nursing_team_headers, handoff_id, "start")
    assert get_task(http, nursing_team_headers, handoff_id)["status"] == "in-progress"
    act(http, nursing_team_headers, handoff_id, "complete", {"outcome": "wound dressed"})
    done = get_task(http, nursing_team_headers, handoff_id)
    assert (done["status"], done["businessStatus"]["text"]) == ("completed", "completed")
    assert parameters(done, "output")["outcome"] == "wound dressed"
    assert done["meta"]["versionId"] == "7"
    completed = service_request(http, gp_headers, referral["id"])
    assert completed["status"] == "completed"
    assert completed["note"][0]["text"] == "Completed by City community nursing: wound dressed"

    # Every reader entitled to the hand-off reads the same Task.
    assert get_task(http, gp_headers, handoff_id) == done
    assert get_task(http, operator_headers, handoff_id) == done


def test_a_search_by_focus_returns_the_referrals_tasks_in_a_bundle(
    http, referral, gp_headers, nursing_team_headers
):
    handoff_id = referral["handoffs"][0]["id"]
    act(
        http,
        nursing_team_headers,
        handoff_id,
        "transfer",
        {"to_service": "urgent-community-response", "reason": "needs a 2-hour response"},
    )
    response = http.get(f"/fhir/Task?focus=ServiceRequest/{referral['id']}", headers=gp_headers)
    bundle = valid(response, "Bundle")
    assert bundle["total"] == 2
    assert bundle["link"] == [
        {"relation": "self", "url": f"http://localhost/fhir/Task?focus=ServiceRequest/{referral['id']}"}
    ]
    moved, new = (entry["resource"] for entry in bundle["entry"])
    assert [entry["fullUrl"] for entry in bundle["entry"]] == [
        f"http://localhost/fhir/Task/{moved['id']}",
        f"http://localhost/fhir/Task/{new['id']}",
    ]
    assert moved == get_task(http, nursing_team_headers, handoff_id)
    assert (moved["status"], moved["businessStatus"]["text"]) == (
        "cancelled",
        "transferred to urgent-community-response",
    )
    assert moved["statusReason"] == {"text": "needs a 2-hour response"}
    assert moved["reasonCode"] == {"text": "Community nursing referral, priority routine"}  # why it was sent
    assert (new["status"], new["focus"]) == ("requested", moved["focus"])
    # The point of access that routed it stays the requester: a rejection would go back there.
    assert new["requester"]["display"] == "Community Health Single Point of Access"
    assert new["owner"]["identifier"] == {"system": fhir.SERVICE_SYSTEM, "value": "urgent-community-response"}
    assert service_request(http, gp_headers, referral["id"])["status"] == "active"

    absolute = http.get(
        f"/fhir/Task?focus=http://localhost/fhir/ServiceRequest/{referral['id']}", headers=gp_headers
    )
    assert valid(absolute, "Bundle") == bundle
    unknown = valid(
        http.get("/fhir/Task?focus=ServiceRequest/no-such-referral", headers=gp_headers), "Bundle"
    )
    assert (unknown["total"], "entry" in unknown) == (0, False)


def test_a_cancelled_referral_is_revoked_and_its_task_cancelled(
    http, referral, gp_headers, nursing_team_headers
):
    handoff_id = referral["handoffs"][0]["id"]
    act(http, nursing_team_headers, handoff_id, "accept", {"window": "Tue 14:00-16:00"})
    cancelled = http.post(
        f"/api/v1/referrals/{referral['id']}/cancel",
        json={"reason": "admitted to hospital"},
        headers=gp_headers,
    )
    assert cancelled.status_code == 200, cancelled.json
    request = service_request(http, gp_headers, referral["id"])
    assert request["status"] == "revoked"
    assert request["note"] == [
        {"text": "Cancelled by the referrer"},
        {"text": "Cancelled by the referrer: admitted to hospital"},
    ]
    task = get_task(http, nursing_team_headers, handoff_id)
    assert (task["status"], task["businessStatus"]["text"]) == ("cancelled", "cancelled by the referrer")
    assert task["statusReason"] == {"text": "admitted to hospital"}


def test_a_rejected_task_goes_back_to_the_sender(
    http, referral, gp_headers, nursing_team_headers, operator_headers
):
    handoff_id = referral["handoffs"][0]["id"]
    act(http, nursing_team_headers, handoff_id, "reject", {"reason": "not housebound"})
    task = get_task(http, nursing_team_headers, handoff_id)
    assert task["status"] == "rejected"
    assert task["statusReason"] == {"text": "not housebound"}
    assert task["owner"]["identifier"] == {"system": fhir.SERVICE_SYSTEM, "value": "community-health-spa"}
    # The pathway now waits for the operator to review the rejection: the referral is still open.
    assert service_request(http, operator_headers, referral["id"])["status"] == "active"


def test_a_referral_with_no_nhs_number_yet_is_still_a_valid_service_request(http, nursing, gp_headers):
    started = http.post(
        "/api/v1/referrals",
        json={"pathway": "community_nursing_referral", "referrer": "C81001", "data": ROUTINE},
        headers=gp_headers,
    )
    assert started.status_code == 201, started.json
    request = service_request(http, gp_headers, started.json["id"])
    assert request["status"] == "active"
    assert request["subject"] == {
        "type": "Patient",
        "extension": [{"url": fhir.DATA_ABSENT_REASON, "valueCode": "unknown"}],
    }
    assert request["note"] == [{"text": "Being reviewed by the point of access"}]
    assert "category" not in request  # nothing routed yet
    bundle = valid(
        http.get(f"/fhir/Task?focus=ServiceRequest/{started.json['id']}", headers=gp_headers), "Bundle"
    )
    assert bundle["total"] == 0


def test_unknown_ids_are_operation_outcomes_with_404(http, referral, gp_headers, nursing_team_headers):
    assert outcome(http.get("/fhir/ServiceRequest/no-such-referral", headers=gp_headers), 404)["code"] == (
        "not-found"
    )
    assert (
        outcome(http.get("/fhir/Task/no-such-hand-off", headers=nursing_team_headers), 404)["code"]
        == "not-found"
    )
    assert outcome(http.get("/fhir/Patient/1", headers=gp_headers), 404)["code"] == "not-found"


def test_authentication_and_roles_are_operation_outcomes(http, referral, designer_headers):
    url = f"/fhir/ServiceRequest/{referral['id']}"
    missing = http.get(url)
    assert outcome(missing, 401)["code"] == "login"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert outcome(http.get(url, headers={"Authorization": "Bearer sp_wrong"}), 401)["code"] == "login"
    assert outcome(http.get(url, headers=designer_headers), 403)["code"] == "forbidden"


def test_bad_searches_and_writes_are_operation_outcomes(http, referral, gp_headers):
    assert outcome(http.get("/fhir/Task", headers=gp_headers), 400)["code"] == "required"
    assert outcome(http.get("/fhir/Task?focus=Patient/1", headers=gp_headers), 400)["code"] == "invalid"
    two = f"/fhir/Task?focus=ServiceRequest/{referral['id']}&focus=ServiceRequest/x"
    assert outcome(http.get(two, headers=gp_headers), 400)["code"] == "not-supported"
    handoff_id = referral["handoffs"][0]["id"]
    written = http.put(f"/fhir/Task/{handoff_id}", json={"resourceType": "Task"}, headers=gp_headers)
    assert outcome(written, 405)["code"] == "not-supported"
    assert written.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_another_organisations_referrer_sees_nothing_of_the_referral(http, referral, token_for):
    stranger = token_for("referrer", organisation="another-gp-practice")
    handoff_id = referral["handoffs"][0]["id"]
    assert outcome(http.get(f"/fhir/ServiceRequest/{referral['id']}", headers=stranger), 404)
    assert outcome(http.get(f"/fhir/Task/{handoff_id}", headers=stranger), 404)
    search = http.get(f"/fhir/Task?focus=ServiceRequest/{referral['id']}", headers=stranger)
    assert valid(search, "Bundle")["total"] == 0


def test_a_service_sees_only_what_was_routed_to_its_organisation(
    http, referral, nursing_team_headers, token_for
):
    """Another organisation's service gets 403 for a Task, as GET /api/v1/handoffs/{id} answers for the
    same id (a 404 here would hide nothing that answer shows), and 404 for the ServiceRequest and an
    empty search, as for any referral it was never sent."""
    city_council = token_for("service", organisation="leicester-city-council")
    handoff_id = referral["handoffs"][0]["id"]
    assert outcome(http.get(f"/fhir/Task/{handoff_id}", headers=city_council), 403)["code"] == "forbidden"
    assert http.get(f"/api/v1/handoffs/{handoff_id}", headers=city_council).status_code == 403
    assert outcome(http.get(f"/fhir/ServiceRequest/{referral['id']}", headers=city_council), 404)
    search = http.get(f"/fhir/Task?focus=ServiceRequest/{referral['id']}", headers=city_council)
    assert valid(search, "Bundle")["total"] == 0

    # The receiving organisation reads the referral its hand-off focuses on, and its hand-offs.
    assert service_request(http, nursing_team_headers, referral["id"])["id"] == referral["id"]
    ours = valid(
        http.get(f"/fhir/Task?focus=ServiceRequest/{referral['id']}", headers=nursing_team_headers), "Bundle"
    )
    assert [e["resource"]["id"] for e in ours["entry"]] == [handoff_id]


def test_a_task_shows_when_the_receiver_must_act_by(
    http, signpost, nursing, gp_headers, nursing_team_headers
):
    signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")
    body = {
        "pathway": "community_nursing_referral",
        "referrer": "C81001",
        "subject": NHS_NUMBER,
        "data": ROUTINE,
    }
    referral = http.post("/api/v1/referrals", json=body, headers=gp_headers).json
    task = get_task(http, nursing_team_headers, referral["handoffs"][0]["id"])
    # The acknowledge clock (1 business hour on the 8-to-8 calendar) is the receiver's soonest obligation.
    assert task["restriction"] == {"period": {"end": "2026-11-23T10:00:00.000Z"}}
