"""A service speaks for a referral only while it holds an open hand-off of it: once its hand-off is rejected
(or transferred away, or done), its messages and signals no longer reach the referral and the referral's
FHIR ServiceRequest reads as absent to it; the hand-off's own Task stays readable."""

from __future__ import annotations

import io

import pytest

from tests import bpmn_samples as samples

ROUTED_THEN_WAITS = samples.process(
    samples.routing_task("community-nursing-city", "community-nursing", incoming="f1", outgoing="f2")
    + """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="update">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="case_update"/></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="route"/>
    <bpmn:sequenceFlow id="f2" sourceRef="route" targetRef="update"/>
    <bpmn:sequenceFlow id="f3" sourceRef="update" targetRef="end"/>""",
    "routed_then_waits",
).replace("<bpmn:process ", '<bpmn:message id="case_update" name="case.update"/>\n  <bpmn:process ', 1)


@pytest.fixture
def referral(http, directory, designer_headers, gp_headers):
    deployed = http.post(
        "/api/v1/definitions",
        data={"files": [(io.BytesIO(ROUTED_THEN_WAITS.encode()), "routed.bpmn")]},
        headers=designer_headers,
        content_type="multipart/form-data",
    )
    assert deployed.status_code == 201, deployed.json

    def start() -> dict:
        response = http.post(
            "/api/v1/referrals",
            json={"pathway": "routed_then_waits", "referrer": "C81001", "data": {}},
            headers=gp_headers,
        )
        assert response.status_code == 201, response.json
        return response.json

    return start


def update(http, headers, referral):
    return http.post(
        "/api/v1/messages",
        json={
            "name": "case.update",
            "correlation": {"referral_id": referral["id"]},
            "data": {"note": "seen"},
        },
        headers=headers,
    )


def test_a_service_holding_an_open_hand_off_speaks_for_the_referral(http, referral, nursing_team_headers):
    open_one = referral()
    assert http.get(f"/fhir/ServiceRequest/{open_one['id']}", headers=nursing_team_headers).status_code == 200
    assert update(http, nursing_team_headers, open_one).status_code == 202


def test_a_service_whose_hand_off_was_rejected_no_longer_reaches_the_referral(
    http, referral, nursing_team_headers, gp_headers
):
    rejected = referral()
    [handoff] = rejected["handoffs"]
    response = http.post(
        f"/api/v1/handoffs/{handoff['id']}/reject",
        json={"reason": "not our area"},
        headers=nursing_team_headers,
    )
    assert response.status_code == 200, response.json

    refused = update(http, nursing_team_headers, rejected)
    assert refused.status_code == 409  # as if nothing waited: it learns nothing more of the referral
    after = http.get(f"/api/v1/referrals/{rejected['id']}", headers=gp_headers).json
    assert after["waiting_for"]["messages"] == ["case.update"] and "note" not in after["data"]

    signal = http.post("/api/v1/signals", json={"name": "case.closed"}, headers=nursing_team_headers)
    assert signal.json["delivered_to"] == []
    assert http.get(f"/fhir/ServiceRequest/{rejected['id']}", headers=nursing_team_headers).status_code == 404
    task = http.get(f"/fhir/Task/{handoff['id']}", headers=nursing_team_headers)
    assert (task.status_code, task.json["status"]) == (200, "rejected")  # its own hand-off, as it ended
