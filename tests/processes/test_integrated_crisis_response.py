"""processes/integrated_crisis_response.bpmn end to end through the HTTP API, deployed with the pathways it
calls: urgency triage, the three partners' input, a joint visit the roster cancels and books again, an onward
referral into community nursing (a call activity), and the person's death closing the open hand-off."""

from __future__ import annotations

import pytest

from tests.support.pathway_desk import PathwayDesk

PATHWAY = "integrated_crisis_response"
FILES = (
    "integrated_crisis_response.bpmn",
    "integrated_crisis_response_urgency.dmn",
    "community_nursing_referral.bpmn",
    "community_nursing_triage.dmn",
    "adult_social_care_front_door.bpmn",
    "adult_social_care_eligibility.dmn",
    "adult_social_care_front_door.variants.toml",
    "bed_bureau_admission.bpmn",
    "bed_bureau_admission_decision.dmn",
    "bed_bureau_hospital_choice.dmn",
)
INPUTS = ("community_health_input", "mental_health_input", "therapy_input")


@pytest.fixture
def desk(http, signpost, frozen_clock):
    return PathwayDesk.deployed(http, signpost, frozen_clock, "city-icrs", PATHWAY, FILES)


def test_a_rescheduled_joint_visit_refers_on_to_community_nursing_and_a_death_closes_the_hand_off(desk):
    started = desk.start(
        PATHWAY,
        {
            "presenting_need": "fall",
            "risk_of_admission": False,
            "lives_alone": True,
            "address_postcode": "LE1 5WW",
            "housebound": True,
            "age": 84,
        },
    )
    assert (started["data"]["urgency"], started["data"]["visit_within"]) == ("same_day", "PT8H")
    assert desk.tasks() == list(INPUTS)
    assert {t["lane"] for t in started["waiting_for"]["tasks"]} == {"ICRS joint team"}
    for element_id in INPUTS:
        desk.complete(element_id, {})
    assert [t["topic"] for t in desk.referral()["waiting_for"]["external_tasks"]] == ["icrs-rostering"]

    desk.external_task("icrs-rostering", {"visit_slot": "today 13:00-14:00"})
    assert desk.tasks() == ["joint_assessment_visit"]
    rescheduling = desk.message("icrs.visit_cancelled", {"reason": "staff sickness"})
    assert rescheduling["waiting_for"]["tasks"] == []
    desk.external_task("icrs-rostering", {"visit_slot": "today 15:00-16:00"})

    referred = desk.complete(
        "joint_assessment_visit",
        {
            "joint_visit_outcome": "community_nursing",
            "visit_summary": "pressure sore",
            "onward": {"clinical_need": "wound_care", "housebound": True},
        },
    )
    [handoff] = referred["handoffs"]
    assert (handoff["to_service"], handoff["referral_type"], handoff["status"]) == (
        "community-nursing-city",
        "community-nursing",
        "requested",
    )
    assert referred["status_text"] == "Sent to City community nursing, waiting for them to respond"

    closed = desk.message("icrs.person_died", {"reported_by": "GP"})
    assert closed["status"] == "completed"
    assert [(h["status"], h["status_reason"]) for h in closed["handoffs"]] == [
        ("cancelled", "The person has died")
    ]
    assert closed["data"]["icrs_outcome"] == "person_died"
    assert closed["status_text"] == "Closed: City ICRS has been told that the person has died"
    assert "handoff_closed" in desk.event_kinds()
