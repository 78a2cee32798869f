"""Every path through processes/adult_social_care_front_door.bpmn, driven through the engine.

Each input is its own transaction: the instance is loaded from the database, advanced and saved again, and
after every step the stored state must survive a load and a dump unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.bpmn import SourceFile
from tests.conftest import PROCESSES, stored_instance

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
FRONT_DOOR_FILES = (
    "adult_social_care_front_door.bpmn",
    "adult_social_care_eligibility.dmn",
    "adult_social_care_front_door.variants.toml",
)
CITY_SPOC = "city-single-point-of-contact"
CITY_TEAM = "City duty social work team"

CONTACT = {
    "needs_description": "Struggling to wash and dress since a fall; daughter visits weekly",
    "need_type": "personal_care",
    "address_postcode": "LE2 1AA",
    "age": 82,
    "consent_given": True,
    "safeguarding_concern": False,
    "risk_indicators": None,
    "open_case_worker": None,
}


@pytest.fixture
def front_door(signpost, directory):
    """The adult social care front door, deployed, with the service directory it routes to."""
    files = [SourceFile(name, (PROCESSES / name).read_bytes()) for name in FRONT_DOOR_FILES]
    return signpost.definitions.deploy(files, "tests")


@pytest.fixture
def point_of_access(signpost):
    """A support worker's, duty worker's or duty manager's client at the City Single Point of Contact."""
    return signpost.clients.create(
        name="city spoc", organisation="leicester-city-council", roles={"operator"}
    )[0]


@pytest.fixture
def city_council_service(signpost):
    """The system of Leicester City Council's social work teams."""
    return signpost.clients.create(
        name="city social work", organisation="leicester-city-council", roles={"service"}
    )[0]


@pytest.fixture
def county_council_service(signpost):
    """The system of Leicestershire County Council's social work teams."""
    return signpost.clients.create(
        name="county social work", organisation="leicestershire-county-council", roles={"service"}
    )[0]


@pytest.fixture
def trust_service(signpost):
    """The system of the trust that runs Urgent Community Response."""
    return signpost.clients.create(
        name="lpt", organisation="leicestershire-partnership-nhs-trust", roles={"service"}
    )[0]


def start(signpost, gp, **changes):
    referral, _ = signpost.referrals.start(
        gp,
        pathway="adult_social_care_front_door",
        version=None,
        referrer="C81001",
        subject="9434765919",
        data={**CONTACT, **changes},
    )
    assert_state_round_trips(signpost, referral)
    return referral


def complete_task(signpost, client, task, data):
    after = signpost.referrals.complete_task(task["id"], data, client)
    assert_state_round_trips(signpost, after)
    return after


def service_acts(signpost, service, reader, referral, action, body=None):
    """The receiving service does ``action`` to the referral's open hand-off; returns the referral after."""
    handoffs = referral_now(signpost, reader, referral)["handoffs"]
    [handoff] = [h for h in handoffs if h["status"] in ("requested", "received", "accepted", "in-progress")]
    signpost.handoffs.act(handoff["id"], action, body or {}, service)
    assert_state_round_trips(signpost, referral)
    return referral_now(signpost, reader, referral)


def referral_now(signpost, reader, referral):
    return signpost.referrals.get(referral["id"], reader)


def assert_state_round_trips(signpost, referral):
    """Loading the stored state and saving it again must give back exactly what was stored."""
    row = stored_instance(signpost, referral["id"])
    workflow = signpost.runtime.load(
        signpost.definitions.pathway(row["version_id"]), row["state"], row["serializer_version"]
    )
    assert signpost.runtime.dump(workflow) == row["state"]


def only_task(referral, element_id, lane):
    tasks = referral["waiting_for"]["tasks"]
    assert [(t["element_id"], t["lane"]) for t in tasks] == [(element_id, lane)]
    return tasks[0]


def ends_reached(signpost, reader, referral) -> list[str]:
    return [
        e["detail"]["element_id"]
        for e in signpost.referrals.events(referral["id"], reader)
        if e["kind"] == "step_completed" and e["detail"]["element_id"].startswith("end_")
    ]


def triaged(signpost, gp, point_of_access, confirmation=None, **changes):
    """A contact captured, screened and confirmed by the support worker."""
    referral = start(signpost, gp, **changes)
    task = only_task(referral, "confirm_eligibility", "Support worker")
    return complete_task(signpost, point_of_access, task, confirmation or {"triage_notes": "agree"})


# ---- sign-posting ------------------------------------------------------------------------------------------


def test_prevention_need_is_signposted_to_first_contact_plus_and_the_referrer_reads_why(
    signpost, front_door, gp, point_of_access
):
    referral = start(signpost, gp, need_type="social_isolation")
    assert referral["status_text"] == "Being reviewed by the point of access"
    assert (referral["data"]["eligible"], referral["data"]["signpost_to"]) == (False, "First Contact Plus")
    task = only_task(referral, "confirm_eligibility", "Support worker")

    closed = complete_task(signpost, point_of_access, task, {"triage_notes": "lonely, no care need"})
    assert closed["status"] == "completed"
    assert closed["handoffs"] == []
    assert ends_reached(signpost, point_of_access, referral) == ["end_signposted"]

    seen_by_referrer = referral_now(signpost, gp, referral)
    assert seen_by_referrer["status_text"] == "Closed by the point of access"
    assert seen_by_referrer["data"]["signposting_note"] == {
        "to": "C81001",
        "signposted_to": "First Contact Plus",
        "reason": "Prevention need: First Contact Plus gives advice and low-level support",
    }
    assert seen_by_referrer["data"]["front_door_outcome"] == "signposted"
    assert seen_by_referrer["data"]["triage_notes"] == "lonely, no care need"


def test_support_worker_overrides_the_screen_and_signposts(signpost, front_door, gp, point_of_access):
    referral = start(signpost, gp)
    assert referral["data"]["eligible"] is True
    task = only_task(referral, "confirm_eligibility", "Support worker")

    closed = complete_task(
        signpost,
        point_of_access,
        task,
        {
            "eligible": False,
            "signpost_to": "Age UK Leicester Shire & Rutland",
            "eligibility_reason": "Needs met by a private carer already booked",
        },
    )
    assert closed["status"] == "completed"
    assert closed["handoffs"] == []
    assert closed["data"]["signposting_note"] == {
        "to": "C81001",
        "signposted_to": "Age UK Leicester Shire & Rutland",
        "reason": "Needs met by a private carer already booked",
    }
    assert ends_reached(signpost, point_of_access, referral) == ["end_signposted"]


# ---- capture -----------------------------------------------------------------------------------------------


def test_incomplete_contact_goes_to_the_support_worker_until_the_dataset_is_complete(
    signpost, front_door, gp, point_of_access
):
    referral = start(signpost, gp, age=None, consent_given=None)
    task = only_task(referral, "complete_contact_details", "Support worker")
    assert referral["data"]["missing_fields"] == ["age", "consent_given"]
    assert "eligible" not in referral["data"]

    still_missing = complete_task(signpost, point_of_access, task, {"age": 82})
    again = only_task(still_missing, "complete_contact_details", "Support worker")
    assert again["id"] != task["id"]
    assert still_missing["data"]["missing_fields"] == ["consent_given"]

    complete = complete_task(signpost, point_of_access, again, {"consent_given": True})
    only_task(complete, "confirm_eligibility", "Support worker")
    assert complete["data"]["missing_fields"] == []
    assert (complete["data"]["eligible"], complete["data"]["priority"]) == (True, "routine")
    completed_tasks = signpost.referrals.tasks(
        point_of_access, referral_id=referral["id"], status="completed"
    )
    assert [t["element_id"] for t in completed_tasks] == ["complete_contact_details"] * 2


# ---- warm transfer to the allocated worker of an open case -------------------------------------------------


def test_open_case_is_warm_transferred_to_the_allocated_worker(
    signpost, front_door, gp, point_of_access, city_council_service
):
    transferred = triaged(
        signpost,
        gp,
        point_of_access,
        open_case_worker="Priya Shah (SW-1042)",
        address_postcode="LE3 9QP",
    )
    assert transferred["waiting_for"]["tasks"] == []
    assert transferred["waiting_for"]["messages"] == ["handoff.accepted", "handoff.rejected"]
    assert transferred["waiting_for"]["timers"] == []
    assert transferred["status_text"] == f"Sent to {CITY_TEAM}, waiting for them to respond"
    [handoff] = transferred["handoffs"]
    assert (handoff["to_service"], handoff["from_service"], handoff["referral_type"], handoff["status"]) == (
        "city-duty-social-work",
        CITY_SPOC,
        "adult-social-care",
        "requested",
    )
    assert handoff["reason"] == "Open case: warm transfer to the allocated worker, Priya Shah (SW-1042)"
    assert handoff["payload"] == {
        "allocated_worker": "Priya Shah (SW-1042)",
        "need_type": "personal_care",
        "needs_description": CONTACT["needs_description"],
        "address_postcode": "LE3 9QP",
        "safeguarding_concern": False,
        "risk_indicators": None,
        "priority": "routine",
    }
    assert transferred["data"]["handoff"]["id"] == handoff["id"]

    service_acts(signpost, city_council_service, point_of_access, transferred, "acknowledge")
    accepted = service_acts(signpost, city_council_service, point_of_access, transferred, "accept")
    # Still listening for a rejection: an accepting service may transfer the hand-off to one that rejects it.
    assert accepted["waiting_for"]["messages"] == ["handoff.completed", "handoff.rejected"]
    assert accepted["status_text"] == f"Accepted by {CITY_TEAM}"
    assert accepted["data"]["acceptance"]["handoff_id"] == handoff["id"]

    done = service_acts(
        signpost,
        city_council_service,
        point_of_access,
        transferred,
        "complete",
        {"outcome": "care plan reviewed"},
    )
    assert done["status"] == "completed"
    assert done["status_text"] == f"Completed by {CITY_TEAM}: care plan reviewed"
    assert done["data"]["outcome_letter"] == {
        "to": "C81001",
        "service": "city-duty-social-work",
        "outcome": "care plan reviewed",
    }
    assert done["data"]["front_door_outcome"] == "completed_by_service"
    assert ends_reached(signpost, point_of_access, transferred) == ["end_completed"]


@pytest.mark.parametrize(
    ("postcode", "team"),
    [("LE11 3AB", "county-duty-social-work"), ("le15 6ab", "rutland-adult-social-care")],
)
def test_warm_transfer_goes_to_the_duty_team_of_the_locality(
    signpost, front_door, gp, point_of_access, postcode, team
):
    transferred = triaged(
        signpost, gp, point_of_access, open_case_worker="J. Singh", address_postcode=postcode
    )
    [handoff] = transferred["handoffs"]
    assert (handoff["to_service"], handoff["payload"]["allocated_worker"]) == (team, "J. Singh")


def test_rejected_warm_transfer_goes_back_to_the_support_worker_who_sends_it_to_a_duty_worker(
    signpost, front_door, gp, point_of_access, city_council_service
):
    transferred = triaged(signpost, gp, point_of_access, open_case_worker="Priya Shah (SW-1042)")
    rejected = service_acts(
        signpost,
        city_council_service,
        point_of_access,
        transferred,
        "reject",
        {"reason": "case closed on 2 November"},
    )
    task = only_task(rejected, "review_rejected_handoff", "Support worker")
    assert rejected["data"]["rejection"]["reason"] == "case closed on 2 November"
    assert rejected["status_text"] == (
        f"Declined by {CITY_TEAM}: case closed on 2 November — back with City Single Point of Contact"
    )
    assert rejected["owner"] == "City Single Point of Contact"
    assert rejected["waiting_for"]["messages"] == []

    to_duty_worker = complete_task(
        signpost,
        point_of_access,
        task,
        {"open_case_worker": None, "rejection_action": "case closed: duty worker to assess"},
    )
    duty_task = only_task(to_duty_worker, "duty_worker_assessment", "Duty worker")
    [timer] = to_duty_worker["waiting_for"]["timers"]
    assert timer["name"] == "Assessment overdue"

    rerouted = complete_task(
        signpost,
        point_of_access,
        duty_task,
        {"assessment_outcome": "allocate_social_worker", "assessment_summary": "needs a care act assessment"},
    )
    first, second = rerouted["handoffs"]
    assert (first["status"], second["status"]) == ("rejected", "requested")
    assert second["to_service"] == "city-duty-social-work"
    assert "allocated_worker" not in second["payload"]
    assert second["payload"]["assessment_summary"] == "needs a care act assessment"
    assert rerouted["data"]["handoff"]["id"] == second["id"]
    assert rerouted["waiting_for"]["messages"] == ["handoff.accepted", "handoff.rejected"]


def test_transferred_handoff_rejected_after_acceptance_goes_back_to_the_support_worker(
    signpost, front_door, gp, point_of_access, city_council_service, county_council_service
):
    transferred = triaged(signpost, gp, point_of_access, open_case_worker="Priya Shah (SW-1042)")
    service_acts(signpost, city_council_service, point_of_access, transferred, "accept")
    moved = service_acts(
        signpost,
        city_council_service,
        point_of_access,
        transferred,
        "transfer",
        {"to_service": "county-duty-social-work", "reason": "moved to Loughborough last week"},
    )
    assert moved["waiting_for"]["messages"] == ["handoff.completed", "handoff.rejected"]
    assert [(h["to_service"], h["status"]) for h in moved["handoffs"]] == [
        ("city-duty-social-work", "cancelled"),
        ("county-duty-social-work", "requested"),
    ]

    rejected = service_acts(
        signpost,
        county_council_service,
        point_of_access,
        transferred,
        "reject",
        {"reason": "no open case here"},
    )
    task = only_task(rejected, "review_rejected_handoff", "Support worker")
    assert rejected["data"]["rejection"]["service"] == "county-duty-social-work"
    assert rejected["waiting_for"]["messages"] == []

    queued = complete_task(
        signpost,
        point_of_access,
        task,
        {"open_case_worker": None, "duty_team": "county-duty-social-work", "address_postcode": "LE11 3AB"},
    )
    only_task(queued, "duty_worker_assessment", "Duty worker")


def test_support_worker_signposts_after_urgent_community_response_rejects(
    signpost, front_door, gp, point_of_access, trust_service
):
    queued = triaged(signpost, gp, point_of_access)
    duty_task = only_task(queued, "duty_worker_assessment", "Duty worker")
    routed = complete_task(
        signpost,
        point_of_access,
        duty_task,
        {"assessment_outcome": "urgent_community_response", "assessment_summary": "unsafe at home tonight"},
    )
    rejected = service_acts(
        signpost, trust_service, point_of_access, routed, "reject", {"reason": "needs a GP review first"}
    )
    task = only_task(rejected, "review_rejected_handoff", "Support worker")
    assert rejected["status_text"] == (
        "Declined by Urgent Community Response: needs a GP review first"
        " — back with City Single Point of Contact"
    )
    assert rejected["handoffs"][0]["owner"] == CITY_SPOC

    closed = complete_task(
        signpost,
        point_of_access,
        task,
        {
            "eligible": False,
            "signpost_to": "the person's GP practice",
            "eligibility_reason": "GP review first",
        },
    )
    assert closed["status"] == "completed"
    assert [h["status"] for h in closed["handoffs"]] == ["rejected"]
    assert closed["data"]["signposting_note"] == {
        "to": "C81001",
        "signposted_to": "the person's GP practice",
        "reason": "GP review first",
    }
    assert ends_reached(signpost, point_of_access, routed) == ["end_signposted"]


# ---- duty worker assessment --------------------------------------------------------------------------------


def test_duty_worker_closes_with_no_further_action(signpost, front_door, gp, point_of_access, frozen_clock):
    frozen_clock.move_to(START)
    queued = triaged(signpost, gp, point_of_access)
    duty_task = only_task(queued, "duty_worker_assessment", "Duty worker")
    assert queued["data"]["assessment_due"] == "P1D"
    [timer] = queued["waiting_for"]["timers"]
    assert datetime.fromisoformat(timer["due_at"]) == START + timedelta(days=1)

    closed = complete_task(
        signpost,
        point_of_access,
        duty_task,
        {"assessment_outcome": "no_further_action", "assessment_summary": "daughter now visits daily"},
    )
    assert closed["status"] == "completed"
    assert closed["status_text"] == "Closed by the point of access"
    assert closed["handoffs"] == []
    assert closed["waiting_for"] == {
        "tasks": [],
        "messages": [],
        "signals": [],
        "timers": [],
        "external_tasks": [],
    }
    assert closed["data"]["closure_note"] == {
        "to": "C81001",
        "outcome": "No further action",
        "summary": "daughter now visits daily",
    }
    assert closed["data"]["front_door_outcome"] == "no_further_action"
    assert ends_reached(signpost, point_of_access, queued) == ["end_no_further_action"]


@pytest.mark.parametrize(
    "assessment",
    [
        {"assessment_outcome": "allocate_social_worker", "assessment_summary": "care act assessment"},
        # An outcome left out takes the default flow: a social worker looks at it rather than nobody.
        {"assessment_summary": "care act assessment"},
    ],
)
def test_duty_worker_allocates_a_social_worker(
    signpost, front_door, gp, point_of_access, city_council_service, assessment
):
    queued = triaged(signpost, gp, point_of_access, address_postcode="LE4 6AB")
    duty_task = only_task(queued, "duty_worker_assessment", "Duty worker")

    routed = complete_task(signpost, point_of_access, duty_task, assessment)
    [handoff] = routed["handoffs"]
    assert (handoff["to_service"], handoff["from_service"], handoff["referral_type"]) == (
        "city-duty-social-work",
        CITY_SPOC,
        "adult-social-care",
    )
    assert handoff["reason"] == "Duty worker assessment: allocate a social worker, priority routine"
    assert handoff["payload"] == {
        "need_type": "personal_care",
        "needs_description": CONTACT["needs_description"],
        "address_postcode": "LE4 6AB",
        "safeguarding_concern": False,
        "risk_indicators": None,
        "priority": "routine",
        "assessment_summary": "care act assessment",
    }
    assert routed["waiting_for"]["timers"] == []  # the assessment is done: its reminder is gone

    service_acts(signpost, city_council_service, point_of_access, routed, "accept")
    service_acts(signpost, city_council_service, point_of_access, routed, "start")
    done = service_acts(
        signpost,
        city_council_service,
        point_of_access,
        routed,
        "complete",
        {"outcome": "social worker allocated"},
    )
    assert done["status"] == "completed"
    assert done["data"]["outcome_letter"]["outcome"] == "social worker allocated"
    assert ends_reached(signpost, point_of_access, routed) == ["end_completed"]


def test_duty_worker_routes_to_urgent_community_response(
    signpost, front_door, gp, point_of_access, trust_service, frozen_clock
):
    frozen_clock.move_to(START)
    queued = triaged(signpost, gp, point_of_access, risk_indicators=["falls", "lives_alone"])
    assert queued["data"]["priority"] == "urgent"
    assert queued["data"]["assessment_due"] == "PT4H"
    [timer] = queued["waiting_for"]["timers"]
    assert datetime.fromisoformat(timer["due_at"]) == START + timedelta(hours=4)
    duty_task = only_task(queued, "duty_worker_assessment", "Duty worker")

    routed = complete_task(
        signpost,
        point_of_access,
        duty_task,
        {"assessment_outcome": "urgent_community_response", "assessment_summary": "fallen twice today"},
    )
    [handoff] = routed["handoffs"]
    assert (handoff["to_service"], handoff["referral_type"]) == (
        "urgent-community-response",
        "urgent-community-response",
    )
    assert handoff["payload"]["risk_indicators"] == ["falls", "lives_alone"]
    assert routed["status_text"] == "Sent to Urgent Community Response, waiting for them to respond"

    accepted = service_acts(
        signpost, trust_service, point_of_access, routed, "accept", {"window": "today 14:00-16:00"}
    )
    assert accepted["status_text"] == "Accepted by Urgent Community Response — visit booked today 14:00-16:00"
    assert accepted["data"]["acceptance"]["window"] == "today 14:00-16:00"
    done = service_acts(
        signpost, trust_service, point_of_access, routed, "complete", {"outcome": "reablement started"}
    )
    assert done["status"] == "completed"
    assert done["data"]["outcome_letter"] == {
        "to": "C81001",
        "service": "urgent-community-response",
        "outcome": "reablement started",
    }
    assert ends_reached(signpost, point_of_access, routed) == ["end_completed"]


def test_overdue_assessment_escalates_to_the_duty_manager_and_the_assessment_stays_open(
    signpost, front_door, gp, point_of_access, frozen_clock
):
    frozen_clock.move_to(START)
    queued = triaged(signpost, gp, point_of_access)
    assert signpost.timers.fire_due() == 0
    frozen_clock.move_to(START + timedelta(hours=23, minutes=59))
    assert signpost.timers.fire_due() == 0
    frozen_clock.move_to(START + timedelta(days=1, seconds=1))
    assert signpost.timers.fire_due() == 1
    assert signpost.timers.fire_due() == 0  # fired once, not again
    assert_state_round_trips(signpost, queued)
    escalated = referral_now(signpost, point_of_access, queued)
    tasks = {t["element_id"]: t for t in escalated["waiting_for"]["tasks"]}
    assert {(element_id, t["lane"]) for element_id, t in tasks.items()} == {
        ("duty_worker_assessment", "Duty worker"),
        ("escalate_overdue_assessment", "Duty manager"),
    }
    assert escalated["waiting_for"]["timers"] == []

    handled = complete_task(
        signpost, point_of_access, tasks["escalate_overdue_assessment"], {"escalation_note": "reallocated"}
    )
    assert handled["status"] == "waiting"  # the assessment is still to do
    only_task(handled, "duty_worker_assessment", "Duty worker")

    closed = complete_task(
        signpost,
        point_of_access,
        tasks["duty_worker_assessment"],
        {"assessment_outcome": "no_further_action"},
    )
    assert closed["status"] == "completed"
    assert sorted(ends_reached(signpost, point_of_access, queued)) == [
        "end_escalated",
        "end_no_further_action",
    ]
    kinds = [e["kind"] for e in signpost.referrals.events(queued["id"], point_of_access)]
    assert kinds.count("timer_fired") == 1


# ---- the screen (DMN adult_social_care_eligibility) --------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "eligible", "priority", "signpost_to", "duty_team"),
    [
        (
            {"age": 16, "safeguarding_concern": True},
            False,
            None,
            "Children's social care",
            "city-duty-social-work",
        ),
        (
            {"address_postcode": "NN1 1AA"},
            False,
            None,
            "The adult social care front door of the council where the person lives",
            None,
        ),
        (
            {"safeguarding_concern": True, "consent_given": False},
            True,
            "urgent",
            None,
            "city-duty-social-work",
        ),
        ({"consent_given": False}, False, None, "First Contact Plus", "city-duty-social-work"),
        (
            {"need_type": "housing", "risk_indicators": ["no_heating"]},
            True,
            "urgent",
            None,
            "city-duty-social-work",
        ),
        (
            {"need_type": "finance", "risk_indicators": []},
            False,
            None,
            "First Contact Plus",
            "city-duty-social-work",
        ),
        (
            {"need_type": "carer_breakdown", "address_postcode": "LE67 1AA"},
            True,
            "urgent",
            None,
            "county-duty-social-work",
        ),
        (
            {"need_type": "memory", "address_postcode": "LE156AB"},
            True,
            "routine",
            None,
            "rutland-adult-social-care",
        ),
    ],
)
def test_screen_suggests_eligibility_priority_and_locality(
    signpost, front_door, gp, changes, eligible, priority, signpost_to, duty_team
):
    data = start(signpost, gp, **changes)["data"]
    assert (data["eligible"], data["priority"], data["signpost_to"], data["duty_team"]) == (
        eligible,
        priority,
        signpost_to,
        duty_team,
    )
