"""Repeat contacts through the HTTP API (processes/repeat_contact.bpmn, engine/referrals/repeat_contacts.py):
a contact about a person with an open referral is matched by the engine on the referral's NHS number, recorded
on the open referral — its view, its timeline, the OLA report's failure demand — and answered from that
referral's status; no match opens a new referral; an undecided match goes to an operator's form; an invalid
NHS number is refused; a caller at another organisation learns the status and nothing else. Pathway code
cannot point the match or the attach at anyone else."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine.bpmn import SourceFile
from engine.errors import DefinitionInvalid
from engine.pathways.scenario_files import read_scenario_file
from tests.bpmn_samples import process
from tests.conftest import SOPS, START, pathway_files
from tests.support.personas import AUDITOR, GP, LPT, NURSING_TEAM, Persona

PERSON = "9434765919"
SOMEONE_ELSE = "4010232137"
CONTACT_FILES = (
    "repeat_contact.bpmn",
    "repeat_contact_decision.dmn",
    "repeat_contact_choice.form.json",
    "community_nursing_referral.bpmn",
    "community_nursing_triage.dmn",
    "adult_social_care_front_door.bpmn",
    "adult_social_care_front_door.variants.toml",
    "adult_social_care_eligibility.dmn",
)
NURSING_FILES = ("community_nursing_referral.bpmn", "community_nursing_triage.dmn")
# The Community Health SPA takes "where's my nurse?" calls; the county's contact centre takes calls too.
SPA_OPERATOR = Persona("spa operator", LPT, ("operator",), service="community-health-spa")
COUNTY = "leicestershire-county-council"
COUNTY_OPERATOR = Persona("county operator", COUNTY, ("operator",), service="county-customer-service-centre")
WAITING = "Sent to City community nursing, waiting for them to respond"
CHASING_NURSE = {
    "need": "community_nursing",
    "chasing": True,
    "contact_notes": "No nurse yet",
    "details": None,
}


@pytest.fixture
def region(signpost):
    signpost.services.load_directory((SOPS / "services.toml").read_text(), "sops/services.toml", "tests")
    signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")
    signpost.definitions.deploy(pathway_files(*NURSING_FILES), "tests")
    signpost.definitions.deploy(pathway_files(*CONTACT_FILES), "tests", key="repeat_contact")
    return signpost


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.json
    return response.json


def nursing_referral(http, gp, **data) -> dict:
    body = {
        "pathway": "community_nursing_referral",
        "referrer": "C81001",
        "subject": PERSON,
        "data": {"clinical_need": "wound_care", "address_postcode": "LE1 5WW", "housebound": True, **data},
    }
    return ok(http.post("/api/v1/referrals", json=body, headers=gp), 201)


def contact(http, operator, data: dict, subject: str | None = PERSON):
    body = {"pathway": "repeat_contact", "referrer": "phone: the person's daughter", "data": data}
    if subject is not None:
        body["subject"] = subject
    return http.post("/api/v1/referrals", json=body, headers=operator)


def referral_count(signpost) -> int:
    with signpost.database.read() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM referrals")).scalar_one()


def failure_demand(http, operator) -> list[dict]:
    window = {"from": (START - timedelta(days=1)).isoformat(), "to": (START + timedelta(days=90)).isoformat()}
    return ok(http.get("/api/v1/reports/ola", query_string=window, headers=operator))["failure_demand"]


def test_a_repeat_contact_about_the_same_person_is_attached_to_the_open_referral_and_answered_from_it(
    http, region, enrolled, frozen_clock
):
    gp, spa = enrolled(GP).headers, enrolled(SPA_OPERATOR).headers
    open_referral = nursing_referral(http, gp)
    asked_at = START + timedelta(days=2, hours=3)
    frozen_clock.move_to(asked_at)

    answered = ok(contact(http, spa, CHASING_NURSE, subject="943 476 5919"), 201)

    assert answered["status"] == "completed"
    assert (
        answered["status_text"] == f"Answered from the open referral {open_referral['reference']}: {WAITING}"
    )
    match = answered["data"]["match"]
    assert match["open_referral"]["reference"] == open_referral["reference"]
    assert (match["open_referral"]["age_days"], answered["data"]["decision"]) == (2, "attach")
    contact_timeline = ok(http.get(f"/api/v1/referrals/{answered['id']}/timeline", headers=spa))
    assert f"Recorded on the open referral {open_referral['reference']}" in [
        e["what"] for e in contact_timeline
    ]

    # The open referral carries the contact, as its referrer reads it.
    seen_by_gp = ok(http.get(f"/api/v1/referrals/{open_referral['id']}", headers=gp))
    assert seen_by_gp["repeat_contacts"] == [{"at": asked_at.isoformat(), "answer": WAITING}]
    assert seen_by_gp["status_text"] == WAITING  # the contact changed nothing else
    timeline = ok(http.get(f"/api/v1/referrals/{open_referral['id']}/timeline", headers=gp))
    assert timeline[-1] == {
        "at": asked_at.isoformat(),
        "what": f'Repeat contact: the caller was told "{WAITING}"',
        "kind": "repeat_contact",
        "by": "a point of access",
    }

    # Failure demand of the pair holding the referral: the SPA's hand-off to the nursing team (the trust's).
    assert failure_demand(http, spa) == [{"group": [LPT, LPT], "repeat_contacts": 1}]
    window = {"from": START.isoformat(), "to": (START + timedelta(days=7)).isoformat()}
    csv_lines = (
        http.get("/api/v1/reports/ola.csv", query_string=window, headers=spa).data.decode().splitlines()
    )
    assert csv_lines[0].endswith(",repeat_contacts")
    assert f"failure_demand,{LPT} / {LPT},,,,,,1" in csv_lines

    # And in the MI report, on the pathway and point of access of the referral chased.
    mi = ok(http.get("/api/v1/reports/referrals", query_string=window, headers=spa))
    chased = {(g["pathway"], g["point_of_access"]): g["repeat_contacts"] for g in mi["groups"]}
    assert chased[("community_nursing_referral", open_referral["point_of_access"])] == 1
    assert chased[("repeat_contact", "community-health-spa")] == 0


def test_a_caller_at_another_organisation_learns_the_status_and_nothing_of_the_referral_itself(
    http, region, enrolled, frozen_clock
):
    gp, county = enrolled(GP).headers, enrolled(COUNTY_OPERATOR).headers
    auditor = enrolled(AUDITOR).headers
    open_referral = nursing_referral(http, gp)
    [handoff] = open_referral["handoffs"]
    question = {"question": "Is the wound infected? Send the swab result"}
    nursing = enrolled(NURSING_TEAM).headers
    ok(http.post(f"/api/v1/handoffs/{handoff['id']}/request-information", json=question, headers=nursing))
    frozen_clock.shift(timedelta(hours=1))

    answered = ok(contact(http, county, CHASING_NURSE), 201)

    told = "City community nursing has asked the referrer for more information"
    assert answered["status_text"].endswith(f": {told}")
    assert answered["data"]["match"] == {
        "matched": True,
        "reason": "open referral",
        "open_referrals": 1,
        "open_referral": {
            "reference": open_referral["reference"],
            "pathway": "community_nursing_referral",
            "opened_at": open_referral["created_at"],
            "age_days": 0,
            "status": told,
            "held_by": "the referrer",
        },
    }
    said = json.dumps(answered) + json.dumps(
        ok(http.get(f"/api/v1/referrals/{answered['id']}", headers=county))
    )
    for clinical in ("wound", "swab", "infected", "LE1 5WW", open_referral["id"]):
        assert clinical not in said
    # The open referral itself stays out of reach of the county's operators.
    assert http.get(f"/api/v1/referrals/{open_referral['id']}", headers=county).status_code == 404
    assert http.get(f"/api/v1/referrals/{open_referral['id']}/timeline", headers=county).status_code == 404
    # Its own people see that a contact came and what was said, not where it was taken.
    recorded = ok(http.get(f"/api/v1/referrals/{open_referral['id']}", headers=gp))["repeat_contacts"]
    assert [c["answer"] for c in recorded] == [told]
    assert "county" not in json.dumps(
        ok(http.get(f"/api/v1/referrals/{open_referral['id']}/timeline", headers=gp))
    )
    # Who learned of the referral is on its audit trail: the county's contact names it.
    trail = http.get("/api/v1/audit", query_string={"referral": open_referral["id"]}, headers=auditor)
    assert ("POST /api/v1/referrals", COUNTY, 201) in [
        (r["resource"], r["organisation"], r["outcome"]) for r in ok(trail)
    ]
    # The pair holding the referral is the trust's, not the county's: its report counts the contact.
    assert failure_demand(http, county) == []
    assert failure_demand(http, enrolled(SPA_OPERATOR).headers) == [
        {"group": [LPT, LPT], "repeat_contacts": 1}
    ]


def test_no_open_referral_opens_a_new_community_nursing_referral(http, region, enrolled):
    gp, spa = enrolled(GP).headers, enrolled(SPA_OPERATOR).headers
    closed = nursing_referral(http, gp)
    ok(http.post(f"/api/v1/referrals/{closed['id']}/cancel", json={"reason": "Moved away"}, headers=gp))
    details = {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False}

    taken = ok(contact(http, spa, {**CHASING_NURSE, "details": details}), 201)

    assert taken["data"]["match"] == {
        "matched": False,
        "reason": "no open referral",
        "open_referrals": 0,
        "open_referral": None,
    }
    assert taken["status"] == "waiting"
    assert [(h["to_service"], h["status"]) for h in taken["handoffs"]] == [
        ("community-nursing-city", "requested")
    ]
    assert taken["status_text"] == WAITING
    assert ok(http.get(f"/api/v1/referrals/{closed['id']}", headers=gp))["repeat_contacts"] == []
    assert failure_demand(http, spa) == []


def test_an_undecided_match_goes_to_an_operator_whose_form_is_checked_before_anything_changes(
    http, region, enrolled, frozen_clock
):
    gp, spa = enrolled(GP).headers, enrolled(SPA_OPERATOR).headers
    open_referral = nursing_referral(http, gp)
    frozen_clock.shift(timedelta(days=40))

    waiting = ok(contact(http, spa, CHASING_NURSE), 201)

    assert (waiting["status"], waiting["data"]["decision"]) == ("waiting", "undecided")
    [task] = waiting["waiting_for"]["tasks"]
    assert task["element_id"] == "choose_attach_or_new"
    read = ok(http.get(f"/api/v1/tasks/{task['id']}", headers=spa))
    assert read["form"]["filename"] == "repeat_contact_choice.form.json"
    refused = http.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"data": {"operator_decision": "maybe"}}, headers=spa
    )
    assert refused.status_code == 422
    assert refused.content_type == "application/problem+json"
    assert refused.json["errors"] == [
        {"field": "operator_decision", "message": "must be one of: attach, new_referral"}
    ]
    assert ok(http.get(f"/api/v1/referrals/{open_referral['id']}", headers=gp))["repeat_contacts"] == []

    chosen = {"operator_decision": "attach", "operator_note": "Same referral, six weeks on"}
    done = ok(http.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": chosen}, headers=spa))

    assert done["status"] == "completed"
    assert done["status_text"].endswith(WAITING)
    assert len(ok(http.get(f"/api/v1/referrals/{open_referral['id']}", headers=gp))["repeat_contacts"]) == 1


def test_an_invalid_nhs_number_is_refused_unrecorded_and_a_contact_without_one_is_not_matched(
    http, region, enrolled
):
    gp, spa = enrolled(GP).headers, enrolled(SPA_OPERATOR).headers
    open_referral = nursing_referral(http, gp)

    refused = contact(http, spa, CHASING_NURSE, subject="9434765918")

    assert refused.status_code == 422
    assert refused.content_type == "application/problem+json"
    assert "check digit" in refused.json["detail"]
    assert referral_count(region) == 1  # the open referral only
    assert ok(http.get(f"/api/v1/referrals/{open_referral['id']}", headers=gp))["repeat_contacts"] == []

    anonymous = ok(contact(http, spa, CHASING_NURSE, subject=None), 201)
    assert anonymous["data"]["match"]["reason"] == "no NHS number"
    # A new community nursing referral, whose operator completes what the caller could not give.
    assert [t["element_id"] for t in anonymous["waiting_for"]["tasks"]] == ["complete_missing_information"]


SCRIPT_THEN = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="pretend" name="Pretend">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:serviceTask id="call" name="Call">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="{operation}" resultVariable="answer">
          <spiffworkflow:parameters>{parameters}</spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:userTask id="after" name="After"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pretend"/>
    <bpmn:sequenceFlow id="f2" sourceRef="pretend" targetRef="call"/>
    <bpmn:sequenceFlow id="f3" sourceRef="call" targetRef="after"/>
    <bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end"/>"""


def prying(signpost, script: str, operation: str, parameters: str = "") -> None:
    body = SCRIPT_THEN.format(script=script, operation=operation, parameters=parameters)
    signpost.definitions.deploy([SourceFile("prying.bpmn", process(body, "prying").encode())], "tests")


def test_pathway_code_cannot_match_or_attach_a_contact_to_anyone_else(http, region, enrolled, token_for):
    """The match reads the referral's own NHS number (a script cannot change it), and an attach must name an
    open referral of that same person."""
    gp = enrolled(GP).headers
    body = {
        "pathway": "community_nursing_referral",
        "referrer": "C81001",
        "subject": SOMEONE_ELSE,
        "data": {"clinical_need": "catheter", "address_postcode": "LE1 5WW", "housebound": True},
    }
    other = ok(http.post("/api/v1/referrals", json=body, headers=gp), 201)
    operator = token_for("operator", organisation="city-gp-practice")

    # A script naming another person's number before the match: the match still reads the referral's own,
    # whether it has one or not.
    prying(region, f'subject_nhs_number = "{SOMEONE_ELSE}"', "signpost.match_open_referral")
    for subject, reason in ((PERSON, "no open referral"), (None, "no NHS number")):
        body = {"pathway": "prying", "referrer": "x", "subject": subject, "data": {}}
        started = ok(http.post("/api/v1/referrals", json=body, headers=operator), 201)
        assert started["data"]["answer"] == {
            "matched": False,
            "reason": reason,
            "open_referrals": 0,
            "open_referral": None,
        }

    # An attach naming another person's referral: the step fails on the task and nothing is recorded.
    parameter = (
        f'<spiffworkflow:parameter id="reference" type="str" value="&quot;{other["reference"]}&quot;"/>'
    )
    prying(region, "x = 1", "signpost.attach_contact", parameter)
    body = {"pathway": "prying", "referrer": "x", "subject": PERSON, "data": {}}
    stopped = ok(http.post("/api/v1/referrals", json=body, headers=operator), 201)
    assert stopped["status"] == "incident"
    assert "is not an open referral of the person the contact is about" in stopped["incident"]["error"]
    assert ok(http.get(f"/api/v1/referrals/{other['id']}", headers=gp))["repeat_contacts"] == []


def test_a_scenario_reads_the_persons_open_referrals_strictly():
    text = """
scenarios:
  - name: with an open referral
    start:
      subject: "9434765919"
      open_referrals:
        - {pathway: community_nursing_referral, ago: P3D, data: {clinical_need: wound_care}}
        - {pathway: community_nursing_referral, ago: 2 working days}
        - {ago: P1D, colour: red}
"""
    with pytest.raises(DefinitionInvalid) as refused:
        read_scenario_file(SourceFile("x.scenarios.yaml", text.encode()))
    messages = [p.message for p in refused.value.problems]
    assert any("ISO 8601 duration of real time" in m for m in messages)
    assert any("colour" in m for m in messages)
    assert any("pathway" in m for m in messages)
    good = text.split("        - {pathway: community_nursing_referral, ago: 2")[0]
    [scenario] = read_scenario_file(SourceFile("x.scenarios.yaml", good.encode())).scenarios
    [earlier] = scenario.start.open_referrals
    assert (earlier.pathway, earlier.ago, earlier.data) == (
        "community_nursing_referral",
        timedelta(days=3),
        {"clinical_need": "wound_care"},
    )
    assert scenario.start.lead_time == timedelta(days=3)
