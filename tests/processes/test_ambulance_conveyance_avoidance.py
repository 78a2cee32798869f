"""processes/ambulance_conveyance_avoidance.bpmn end to end through the HTTP API: a crew's referral answered
within minutes on the 24x7 calendar, and one the service leaves unanswered, stood down after 15 minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.pathway_desk import PathwayDesk

PATHWAY = "ambulance_conveyance_avoidance"
FILES = ("ambulance_conveyance_avoidance.bpmn", "ambulance_conveyance_avoidance_service.dmn")
FALL = {
    "referred_by": "crew",
    "callsign": "4417",
    "need": "fall_no_injury",
    "address_postcode": "LE3 0BQ",
    "on_scene_findings": "no injury",
}


@pytest.fixture
def desk(http, signpost, frozen_clock):
    return PathwayDesk.deployed(http, signpost, frozen_clock, "ambulance-clinical-hub", PATHWAY, FILES)


def test_the_crews_referral_is_accepted_in_minutes_and_the_status_returned(desk):
    started = desk.start(PATHWAY, FALL, referrer="EMAS-4417")
    [handoff] = started["handoffs"]
    assert (handoff["to_service"], handoff["referral_type"]) == ("city-icrs", "conveyance-avoidance")
    [timer] = started["waiting_for"]["timers"]
    assert timer["name"] == "No answer in 15 minutes"

    desk.wait(timedelta(minutes=3))
    desk.service_acts("city-icrs", "acknowledge")
    desk.wait(timedelta(minutes=5))
    done = desk.service_acts("city-icrs", "accept", {"window": "within the hour"})
    assert done["status"] == "completed"
    assert done["data"]["crew_status"] == {
        "callsign": "4417",
        "reference": started["reference"],
        "service": "city-icrs",
        "window": "within the hour",
    }
    assert (
        done["status_text"]
        == "Accepted by City Integrated Crisis Response Service — visit booked within the hour"
    )


def test_an_unanswered_referral_is_stood_down_after_15_minutes_and_the_crew_decides(desk):
    desk.start(PATHWAY, FALL)
    stood_down = desk.wait(timedelta(minutes=15, seconds=30))
    assert [(h["to_service"], h["status"]) for h in stood_down["handoffs"]] == [("city-icrs", "cancelled")]
    assert desk.event_kinds().count("ola_breached") == 2
    assert desk.tasks() == ["crew_decides"]
    done = desk.complete("crew_decides", {"crew_decision": "convey", "crew_notes": "to LRI"})
    assert (done["status"], done["status_text"]) == ("completed", "Conveyed to hospital by the crew")
