"""Every path through processes/community_nursing_referral.bpmn, driven through the engine.

Each input is its own transaction: the instance is loaded from the database, advanced and saved again, so
every step below also proves a save/load round trip at that wait state.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import stored_instance
from tests.support.personas import OPERATOR

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

COMPLETE_ROUTINE = {
    "clinical_need": "medication",
    "address_postcode": "LE1 5WW",
    "housebound": False,
}


def start(signpost, gp, data, subject="9434765919"):
    referral, _ = signpost.referrals.start(
        gp,
        pathway="community_nursing_referral",
        version=None,
        referrer="C81001",
        subject=subject,
        data=data,
    )
    assert_state_round_trips(signpost, referral)
    return referral


def service_acts(signpost, team, referral, action, body=None):
    """The receiving service does ``action`` to the referral's open hand-off; returns the referral after, as
    an operator at the trust reads it."""
    [handoff] = [h for h in handoffs_of(signpost, referral) if h["status"] not in ("rejected", "completed")]
    signpost.handoffs.act(handoff["id"], action, body or {}, team)
    assert_state_round_trips(signpost, referral)
    return signpost.referrals.get(referral["id"], OPERATOR.client_in(signpost))


def handoffs_of(signpost, referral):
    return signpost.referrals.get(referral["id"], OPERATOR.client_in(signpost))["handoffs"]


def complete_task(signpost, operator, task, data):
    after = signpost.referrals.complete_task(task["id"], data, operator)
    assert_state_round_trips(signpost, after)
    return after


def assert_state_round_trips(signpost, referral):
    """Loading the stored state and saving it again must give back exactly what was stored."""
    row = stored_instance(signpost, referral["id"])
    workflow = signpost.runtime.load(
        signpost.definitions.pathway(row["version_id"]), row["state"], row["serializer_version"]
    )
    assert signpost.runtime.dump(workflow) == row["state"]


def only_task(referral, element_id):
    tasks = referral["waiting_for"]["tasks"]
    assert [t["element_id"] for t in tasks] == [element_id]
    return tasks[0]


def test_complete_routine_referral_is_triaged_routed_accepted_and_completed(
    signpost, nursing, gp, operator, nursing_team, frozen_clock
):
    frozen_clock.move_to(START)
    referral = start(signpost, gp, COMPLETE_ROUTINE)
    assert referral["status"] == "waiting"
    assert referral["data"]["priority"] == "routine"
    assert referral["data"]["locality_team"] == "community-nursing-city"
    assert referral["waiting_for"]["messages"] == ["handoff.accepted", "handoff.rejected"]
    [timer] = referral["waiting_for"]["timers"]
    assert datetime.fromisoformat(timer["due_at"]) == START + timedelta(days=1)

    [handoff] = referral["handoffs"]
    assert (handoff["to_service"], handoff["status"], handoff["referral_type"]) == (
        "community-nursing-city",
        "requested",
        "community-nursing",
    )
    assert handoff["payload"] == {
        "clinical_need": "medication",
        "housebound": False,
        "address_postcode": "LE1 5WW",
        "priority": "routine",
    }
    assert referral["data"]["handoff"]["id"] == handoff["id"]

    frozen_clock.move_to(START + timedelta(hours=3))
    service_acts(signpost, nursing_team, referral, "acknowledge")
    accepted = service_acts(signpost, nursing_team, referral, "accept", {"window": "Tue 14:00-16:00"})
    assert accepted["waiting_for"]["messages"] == ["handoff.completed"]
    assert accepted["waiting_for"]["timers"] == []  # acceptance cancels the overdue timer
    assert accepted["data"]["acceptance"]["window"] == "Tue 14:00-16:00"
    assert accepted["handoffs"][0]["business_status"] == "visit booked Tue 14:00-16:00"

    service_acts(signpost, nursing_team, referral, "start")
    done = service_acts(signpost, nursing_team, referral, "complete", {"outcome": "wound dressed"})
    assert done["status"] == "completed"
    assert done["data"]["completion_letter"] == {"to": "C81001", "outcome": "wound dressed"}
    kinds = [e["kind"] for e in signpost.referrals.events(referral["id"], operator)]
    assert kinds[0] == "started" and kinds[-1] == "completed"
    assert [k for k in kinds if k.startswith("handoff_")] == [
        "handoff_requested",
        "handoff_acknowledged",
        "handoff_accepted",
        "handoff_started",
        "handoff_completed",
    ]


def test_incomplete_referral_goes_to_the_operator_until_the_dataset_is_complete(
    signpost, nursing, gp, operator
):
    referral = start(signpost, gp, {**COMPLETE_ROUTINE, "clinical_need": None, "address_postcode": ""})
    task = only_task(referral, "complete_missing_information")
    assert task["lane"] == "Point of access operator"
    assert referral["data"]["missing_fields"] == ["clinical_need", "address_postcode"]

    still_missing = complete_task(signpost, operator, task, {"clinical_need": "wound_care"})
    again = only_task(still_missing, "complete_missing_information")
    assert again["id"] != task["id"]
    assert still_missing["data"]["missing_fields"] == ["address_postcode"]

    complete = complete_task(signpost, operator, again, {"address_postcode": "LE15 6AB"})
    assert complete["waiting_for"]["tasks"] == []
    assert complete["data"]["locality_team"] == "community-nursing-rutland"
    assert complete["waiting_for"]["messages"] == ["handoff.accepted", "handoff.rejected"]
    completed_tasks = signpost.referrals.tasks(operator, referral_id=referral["id"], status="completed")
    assert {t["completed_by"] for t in completed_tasks} == {operator.actor}


def test_urgent_referral_escalates_when_acceptance_is_overdue_and_keeps_waiting(
    signpost, nursing, gp, operator, nursing_team, frozen_clock
):
    frozen_clock.move_to(START)
    referral = start(signpost, gp, {**COMPLETE_ROUTINE, "clinical_need": "end_of_life"})
    assert referral["data"]["priority"] == "urgent"
    assert signpost.timers.fire_due() == 0
    frozen_clock.move_to(START + timedelta(hours=1, minutes=59))
    assert signpost.timers.fire_due() == 0
    frozen_clock.move_to(START + timedelta(hours=2, seconds=1))
    assert signpost.timers.fire_due() == 1
    assert signpost.timers.fire_due() == 0  # fired once, not again
    escalated = signpost.referrals.get(referral["id"], operator)
    task = only_task(escalated, "escalate_to_duty_manager")
    assert task["lane"] == "Duty manager"
    assert "handoff.accepted" in escalated["waiting_for"]["messages"]
    assert escalated["waiting_for"]["timers"] == []

    complete_task(signpost, operator, task, {"escalation_note": "rang the team lead"})
    service_acts(signpost, nursing_team, referral, "accept", {"window": "today 15:00-17:00"})
    done = service_acts(signpost, nursing_team, referral, "complete", {"outcome": "symptoms controlled"})
    assert done["status"] == "completed"
    kinds = [e["kind"] for e in signpost.referrals.events(referral["id"], operator)]
    assert kinds.count("timer_fired") == 1


def test_rejected_referral_returns_to_the_operator_and_closes(signpost, nursing, gp, operator, nursing_team):
    referral = start(signpost, gp, {**COMPLETE_ROUTINE, "address_postcode": "NN1 1AA"})
    assert referral["data"]["locality_team"] == "community-health-spa"
    rejected = service_acts(signpost, nursing_team, referral, "reject", {"reason": "out of area"})
    task = only_task(rejected, "review_rejection")
    assert rejected["data"]["rejection"]["reason"] == "out of area"
    assert rejected["handoffs"][0]["status"] == "rejected"
    assert rejected["waiting_for"]["messages"] == []
    assert rejected["waiting_for"]["timers"] == []

    closed = complete_task(signpost, operator, task, {"action_taken": "signposted to GP"})
    assert closed["status"] == "completed"
    assert "completion_letter" not in closed["data"]


@pytest.mark.parametrize(
    ("need", "housebound", "postcode", "priority", "team"),
    [
        ("wound_care", True, "LE11 3AB", "urgent", "community-nursing-county-north"),
        ("wound_care", False, "le10 1aa", "routine", "community-nursing-county-south"),
        ("catheter", True, "LE5 0AA", "urgent", "community-nursing-city"),
        ("continence", False, "LE155AB", "routine", "community-nursing-rutland"),
    ],
)
def test_triage_decides_priority_and_locality(
    signpost, nursing, gp, need, housebound, postcode, priority, team
):
    referral = start(
        signpost, gp, {"clinical_need": need, "housebound": housebound, "address_postcode": postcode}
    )
    assert (referral["data"]["priority"], referral["data"]["locality_team"]) == (priority, team)
