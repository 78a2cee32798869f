"""Trust boundaries found by an adversarial review, each attack made through the API.

- An operator tied to one point of access of a trust reads nothing of the referrals another point of access
  of the same trust works on: not their hand-offs, not their FHIR Tasks, and not whether they exist.
- A request refused for its role is recorded in the audit trail under the client that made it. (Requests
  without valid credentials or over a rate limit are counted, not chained: tests/test_audit.py.)

(An OpenID Connect token claiming another organisation's point of access is refused in tests/test_oidc.py,
beside the local issuer that mints it.)
"""

from __future__ import annotations

import pytest

from tests.support.personas import LPT, OPERATOR, Persona

REFERRAL = {
    "pathway": "community_nursing_referral",
    "referrer": "C81001",
    "subject": "9434765919",
    "data": {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False},
}
# The trust runs both points of access; community nursing referrals are worked on at the community health SPA.
MENTAL_HEALTH_OPERATOR = Persona(
    "lpt mental health spa", LPT, ("operator",), service="adult-mental-health-spa"
)
COMMUNITY_HEALTH_OPERATOR = Persona(
    "lpt community health spa", LPT, ("operator",), service="community-health-spa"
)
CLINICAL_TEXT = ("medication", "LE1 5WW", "9434765919")


@pytest.fixture
def nursing_referral(http, nursing, gp_headers) -> dict:
    started = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers)
    assert started.status_code == 201, started.json
    return started.json


def reveals_nothing(response) -> bool:
    text = response.get_data(as_text=True)
    return not any(fragment in text for fragment in CLINICAL_TEXT)


def test_an_operator_of_another_point_of_access_of_the_trust_does_not_see_its_hand_offs(
    http, enrolled, nursing_referral
):
    [handoff] = nursing_referral["handoffs"]
    elsewhere = enrolled(MENTAL_HEALTH_OPERATOR).headers

    read = http.get(f"/api/v1/handoffs/{handoff['id']}", headers=elsewhere)
    assert read.status_code == 404, read.json
    assert read.mimetype == "application/problem+json"
    assert reveals_nothing(read)
    # Answered as for a hand-off that does not exist: the id's existence is not revealed.
    absent = http.get("/api/v1/handoffs/no-such-handoff", headers=elsewhere)
    assert (absent.status_code, absent.json["title"]) == (404, read.json["title"])

    task = http.get(f"/fhir/Task/{handoff['id']}", headers=elsewhere)
    assert task.status_code == 404 and reveals_nothing(task)
    request = http.get(f"/fhir/ServiceRequest/{nursing_referral['id']}", headers=elsewhere)
    assert request.status_code == 404 and reveals_nothing(request)
    search = http.get(
        "/fhir/Task", query_string={"focus": f"ServiceRequest/{nursing_referral['id']}"}, headers=elsewhere
    )
    assert search.status_code == 200 and search.json["total"] == 0 and reveals_nothing(search)
    referral = http.get(f"/api/v1/referrals/{nursing_referral['id']}", headers=elsewhere)
    assert referral.status_code == 404
    # The service queue is for services only: an operator is refused whatever its point of access.
    queue = http.get(f"/api/v1/services/{handoff['to_service']}/handoffs", headers=elsewhere)
    assert queue.status_code == 403 and reveals_nothing(queue)


@pytest.mark.parametrize("persona", [COMMUNITY_HEALTH_OPERATOR, OPERATOR], ids=["its point of access", "all"])
def test_the_operators_of_the_point_of_access_working_on_the_referral_see_its_hand_offs(
    http, enrolled, nursing_referral, persona
):
    [handoff] = nursing_referral["handoffs"]
    headers = enrolled(persona).headers
    read = http.get(f"/api/v1/handoffs/{handoff['id']}", headers=headers)
    assert read.status_code == 200, read.json
    assert read.json["payload"]["clinical_need"] == "medication"
    assert http.get(f"/fhir/Task/{handoff['id']}", headers=headers).status_code == 200


def test_a_service_of_the_trust_still_reads_hand_offs_routed_to_the_trusts_services(
    http, nursing_team_headers, nursing_referral
):
    [handoff] = nursing_referral["handoffs"]
    assert http.get(f"/api/v1/handoffs/{handoff['id']}", headers=nursing_team_headers).status_code == 200


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_a_request_refused_for_its_role_is_audited_under_the_client_that_made_it(
    http, signpost, nursing_referral, auditor_headers, role
):
    client, token = signpost.clients.create(name=f"curious {role}", organisation="signpost", roles={role})
    refused = http.get(
        f"/api/v1/referrals/{nursing_referral['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 403

    trail = http.get(
        "/api/v1/audit", query_string={"referral": nursing_referral["id"]}, headers=auditor_headers
    )
    assert trail.status_code == 200, trail.json
    [record] = [r for r in trail.json if r["outcome"] == 403]
    assert (record["actor"], record["organisation"], record["roles"]) == (client.actor, "signpost", [role])
    assert (record["action"], record["resource"]) == ("read", "GET /api/v1/referrals/<string:referral_id>")
    assert not [r for r in trail.json if r["actor"] == "anonymous"]
