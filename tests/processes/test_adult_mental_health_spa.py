"""processes/adult_mental_health_spa.bpmn end to end through the HTTP API: a professional's call with no RIO
record, a shared-record summary, a clinician's consultation and a very urgent route to the crisis team, with
the call's length recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.pathway_desk import PathwayDesk

PATHWAY = "adult_mental_health_spa"
FILES = ("adult_mental_health_spa.bpmn", "adult_mental_health_spa_routing.dmn")


@pytest.fixture
def desk(http, signpost, frozen_clock):
    return PathwayDesk.deployed(http, signpost, frozen_clock, "adult-mental-health-spa", PATHWAY, FILES)


def test_a_call_without_a_rio_record_is_summarised_consulted_on_and_routed_to_the_crisis_team(desk):
    started = desk.start(
        PATHWAY,
        {"caller_role": "paramedic", "caller_name": "P Jones", "presenting_concern": "acute psychosis"},
    )
    assert [t["topic"] for t in started["waiting_for"]["external_tasks"]] == ["rio-record-lookup"]

    desk.external_task("rio-record-lookup", error="record-not-found")
    assert desk.tasks() == ["prepare_shared_record_summary"]
    summarised = desk.complete("prepare_shared_record_summary", {"record_summary": "olanzapine since 2023"})
    assert summarised["data"]["record_source"] == "shared care record"
    assert [t["lane"] for t in summarised["waiting_for"]["tasks"]] == ["SPA clinician"]

    desk.wait(timedelta(minutes=25))
    routed = desk.complete(
        "clinician_consultation", {"urgency": "very_urgent", "consultation_notes": "no sleep"}
    )
    [handoff] = routed["handoffs"]
    assert (handoff["to_service"], handoff["referral_type"], handoff["from_service"]) == (
        "mental-health-crisis-team",
        "mental-health-crisis",
        "adult-mental-health-spa",
    )
    assert routed["data"]["call_length_minutes"] == 25.0
    assert routed["data"]["response_standard"] == "first contact within 4 hours"
    assert routed["status_text"] == "Sent to Mental Health Crisis Team, waiting for them to respond"

    done = desk.service_acts("mental-health-crisis-team", "accept", {"window": "within 4 hours"})
    assert done["status"] == "completed"
    assert done["data"]["caller_update"] == {
        "to": "C81001",
        "reference": started["reference"],
        "team": "mental-health-crisis-team",
        "call_length_minutes": 25.0,
    }
