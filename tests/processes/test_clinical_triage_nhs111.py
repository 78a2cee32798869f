"""processes/clinical_triage_nhs111.bpmn end to end through the HTTP API: NHS 111's warm hand-over to the
clinical navigation hub and back with a disposition that routes; a hand-over nobody picks up is taken back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.pathway_desk import PathwayDesk

PATHWAY = "clinical_triage_nhs111"
FILES = ("clinical_triage_nhs111.bpmn", "clinical_triage_nhs111_disposition.dmn")
HUB = "clinical-navigation-hub"
CALL = {"presenting_symptoms": "abdominal pain", "call_summary": "since yesterday", "callback_number": "0116"}


@pytest.fixture
def desk(http, signpost, frozen_clock):
    return PathwayDesk.deployed(http, signpost, frozen_clock, "nhs-111", PATHWAY, FILES)


def test_the_hubs_disposition_comes_back_and_routes_to_the_emergency_department(desk):
    started = desk.start(PATHWAY, CALL, referrer="nhs-111-call-1")
    [handover] = started["handoffs"]
    assert (handover["to_service"], handover["referral_type"], handover["from_service"]) == (
        HUB,
        "clinical-triage",
        "nhs-111",
    )
    assert started["waiting_for"]["messages"] == ["handoff.completed", "handoff.rejected"]

    desk.service_acts(HUB, "accept")
    routed = desk.service_acts(HUB, "complete", {"outcome": "emergency_department"})
    assert routed["data"]["disposition"] == "emergency_department"
    assert [(h["to_service"], h["status"]) for h in routed["handoffs"]] == [
        (HUB, "completed"),
        ("emergency-department", "requested"),
    ]
    done = desk.service_acts("emergency-department", "accept")
    assert done["status"] == "completed"
    assert done["data"]["caller_update"]["service"] == "emergency-department"


def test_a_hand_over_not_picked_up_in_20_minutes_is_taken_back_by_the_111_clinician(desk):
    desk.start(PATHWAY, CALL)
    assert desk.wait(timedelta(minutes=19))["waiting_for"]["tasks"] == []
    taken_back = desk.wait(timedelta(minutes=2))
    assert [(h["to_service"], h["status"]) for h in taken_back["handoffs"]] == [(HUB, "cancelled")]
    assert desk.tasks() == ["clinician_disposition"]
    done = desk.complete("clinician_disposition", {"disposition": "self_care"})
    assert (done["status"], done["status_text"]) == ("completed", "Self-care advice given by a clinician")
