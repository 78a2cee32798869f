"""Every path through processes/bed_bureau_admission.bpmn, driven through the engine.

Each input is its own transaction: the instance is loaded from the database, advanced and saved again, and
after every step the stored state is loaded and dumped again to prove the save/load round trip. The clock is
frozen and moved on a minute before each step, so hand-offs created by different steps sort by time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.conftest import pathway_files, stored_instance

FILES = (
    "bed_bureau_admission.bpmn",
    "bed_bureau_admission_decision.dmn",
    "bed_bureau_hospital_choice.dmn",
)
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
STEP = timedelta(minutes=1)
GP_PRACTICE = "C81001"
NHS_NUMBER = "9434765919"

LRI = "leicester-royal-infirmary-admissions"
GLENFIELD = "glenfield-hospital-admissions"
GENERAL = "leicester-general-hospital-admissions"
TRANSPORT = "patient-transport"
ORGANISATION_OF = {
    "city-icrs": "leicester-city-council",
    "clinical-navigation-hub": "leicestershire-partnership-nhs-trust",
    LRI: "university-hospitals-of-leicester",
    GLENFIELD: "university-hospitals-of-leicester",
    GENERAL: "university-hospitals-of-leicester",
    TRANSPORT: "east-midlands-ambulance-service",
}

BREATHLESS_BY_AMBULANCE = {
    "presenting_problem": "breathlessness",
    "news2_score": 6,
    "specialty": "respiratory",
    "needs_ambulance": True,
    "pickup_address": "12 Narborough Road, Leicester LE3 0BQ",
    "preferred_hospital": None,
    "clinical_summary": "COPD exacerbation, saturation 88% on air",
}
FALL_AT_HOME = {
    "presenting_problem": "fall",
    "news2_score": 2,
    "specialty": "acute_medicine",
    "needs_ambulance": False,
    "pickup_address": None,
    "preferred_hospital": None,
    "clinical_summary": "Found on the floor, no injury, carer unable to cope",
}
LOW_ACUITY_INFECTION = {
    "presenting_problem": "infection",
    "news2_score": 3,
    "specialty": "acute_medicine",
    "needs_ambulance": False,
    "pickup_address": None,
    "preferred_hospital": GENERAL,
    "clinical_summary": "Urinary infection, not improving on oral antibiotics",
}


@pytest.fixture
def bed_bureau(signpost, directory):
    """The bed bureau pathway and its two decisions, deployed with the service directory it routes to."""
    return signpost.definitions.deploy(pathway_files(*FILES), "tests")


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


class Desk:
    """The bed bureau's point of view: a GP starts a request, the clerk and the clinician work its tasks,
    receiving services act on its hand-offs; every step is checked to survive a save/load round trip."""

    def __init__(self, signpost, clock):
        self.signpost = signpost
        self.clock = clock
        self.gp = self._client("gp", "city-gp-practice", "referrer")
        self.clerk = self._client("bed bureau clerk", "university-hospitals-of-leicester", "operator")
        self.clinician = self._client("bed bureau clinician", "university-hospitals-of-leicester", "operator")
        self._service_clients = {}
        self.referral_id = None

    def _client(self, name, organisation, role):
        return self.signpost.clients.create(name=name, organisation=organisation, roles={role})[0]

    def start(self, data) -> dict:
        self.clock.shift(STEP)
        referral, _ = self.signpost.referrals.start(
            self.gp,
            pathway="bed_bureau_admission",
            version=None,
            referrer=GP_PRACTICE,
            subject=NHS_NUMBER,
            data=data,
        )
        self.referral_id = referral["id"]
        self.assert_state_round_trips()
        return referral

    def referral(self) -> dict:
        return self.signpost.referrals.get(self.referral_id, self.clerk)

    def complete(self, element_id, data, by) -> dict:
        task = only_task(self.referral(), element_id)
        self.clock.shift(STEP)
        after = self.signpost.referrals.complete_task(task["id"], data, by)
        self.assert_state_round_trips()
        return after

    def service_acts(self, to_service, action, body=None) -> dict:
        """The receiving service's system does ``action`` to its open hand-off of this referral."""
        [handoff] = [
            h
            for h in self.referral()["handoffs"]
            if h["to_service"] == to_service and h["status"] not in ("rejected", "completed", "cancelled")
        ]
        self.clock.shift(STEP)
        self.signpost.handoffs.act(handoff["id"], action, body or {}, self.service_client(to_service))
        self.assert_state_round_trips()
        return self.referral()

    def service_client(self, service_id):
        organisation = ORGANISATION_OF[service_id]
        if organisation not in self._service_clients:
            self._service_clients[organisation] = self._client(organisation, organisation, "service")
        return self._service_clients[organisation]

    def fire_timers_at(self, moment) -> int:
        self.clock.move_to(moment)
        fired = self.signpost.timers.fire_due()
        self.assert_state_round_trips()
        return fired

    def assert_state_round_trips(self):
        """Loading the stored state and saving it again must give back exactly what was stored."""
        row = stored_instance(self.signpost, self.referral_id)
        workflow = self.signpost.runtime.load(
            self.signpost.definitions.pathway(row["version_id"]), row["state"], row["serializer_version"]
        )
        assert self.signpost.runtime.dump(workflow) == row["state"]

    def events(self) -> list[dict]:
        return self.signpost.referrals.events(self.referral_id, self.clerk)

    def elements_completed(self) -> list[str]:
        return [e["detail"]["element_id"] for e in self.events() if e["kind"] == "step_completed"]

    def timer_firings(self) -> int:
        return [e["kind"] for e in self.events()].count("timer_fired")

    def admit_to(self, hospital) -> dict:
        """The clerk names ``hospital`` at the bed check and the hospital accepts."""
        self.complete("bed_check", {"hospital": hospital}, self.clerk)
        self.service_acts(hospital, "acknowledge")
        return self.service_acts(hospital, "accept")


@pytest.fixture
def desk(signpost, bed_bureau, clock):
    return Desk(signpost, clock)


def only_task(referral, element_id):
    tasks = referral["waiting_for"]["tasks"]
    assert [t["element_id"] for t in tasks] == [element_id]
    return tasks[0]


def handoffs_to(referral, service_id):
    return [h for h in referral["handoffs"] if h["to_service"] == service_id]


def test_high_acuity_request_is_admitted_and_the_ambulance_confirms_in_time(desk, signpost):
    started = desk.start(BREATHLESS_BY_AMBULANCE)
    assert started["status"] == "waiting"
    assert started["data"]["missing_fields"] == []
    assert started["data"]["admission_decision"] == "admit"
    assert started["data"]["suggested_hospital"] == GLENFIELD
    assert started["data"]["hospital_choice_reason"] == (
        "cardiology and respiratory admissions go to Glenfield Hospital"
    )
    task = only_task(started, "bed_check")
    assert (task["title"], task["lane"]) == ("Bed check", "Bed bureau clerk")
    assert started["handoffs"] == []
    assert started["status_text"] == "Being reviewed by the point of access"

    routed = desk.complete("bed_check", {"hospital": GLENFIELD}, desk.clerk)
    [to_hospital] = routed["handoffs"]
    assert (to_hospital["to_service"], to_hospital["from_service"], to_hospital["referral_type"]) == (
        GLENFIELD,
        "bed-bureau",
        "hospital-admission",
    )
    assert to_hospital["reason"] == "GP admission request: respiratory"
    assert to_hospital["payload"] == {
        "presenting_problem": "breathlessness",
        "news2_score": 6,
        "specialty": "respiratory",
        "clinical_summary": "COPD exacerbation, saturation 88% on air",
        "needs_ambulance": True,
    }
    assert routed["data"]["hospital_handoff"]["id"] == to_hospital["id"]
    assert routed["status_text"] == "Sent to Glenfield Hospital admissions, waiting for them to respond"
    assert routed["waiting_for"] == {
        "tasks": [],
        "messages": ["handoff.accepted", "handoff.rejected"],
        "signals": [],
        "timers": [],
        "external_tasks": [],
    }

    desk.service_acts(GLENFIELD, "acknowledge")
    booking = desk.service_acts(GLENFIELD, "accept")
    booked_at = datetime.now(UTC)
    assert booking["data"]["hospital_acceptance"]["service"] == GLENFIELD
    [to_transport] = handoffs_to(booking, TRANSPORT)
    assert (to_transport["from_service"], to_transport["referral_type"], to_transport["status"]) == (
        "bed-bureau",
        "ambulance-transport",
        "requested",
    )
    assert to_transport["reason"] == f"Admission to {GLENFIELD}"
    assert to_transport["payload"] == {
        "pickup_address": "12 Narborough Road, Leicester LE3 0BQ",
        "destination": GLENFIELD,
        "presenting_problem": "breathlessness",
        "news2_score": 6,
    }
    assert booking["status_text"] == "Sent to Ambulance patient transport, waiting for them to respond"
    assert booking["waiting_for"]["messages"] == ["handoff.accepted", "handoff.rejected"]
    [timer] = booking["waiting_for"]["timers"]
    assert timer["name"] == "Booking not confirmed in 30 minutes"
    assert datetime.fromisoformat(timer["due_at"]) == booked_at + timedelta(minutes=30)

    assert desk.fire_timers_at(booked_at + timedelta(minutes=20)) == 0
    done = desk.service_acts(TRANSPORT, "accept", {"window": "09:45-10:15"})
    assert done["status"] == "completed"
    assert done["waiting_for"] == {
        "tasks": [],
        "messages": [],
        "signals": [],
        "timers": [],
        "external_tasks": [],
    }
    assert done["data"]["pickup_window"] == "09:45-10:15"
    assert done["data"]["gp_notification"] == {
        "to": GP_PRACTICE,
        "reference": started["reference"],
        "outcome": "admission arranged",
        "hospital": GLENFIELD,
        "pickup_window": "09:45-10:15",
        "transport": "Ambulance booked with patient transport",
    }
    assert done["data"]["ward_notification"] == {
        "to": GLENFIELD,
        "reference": started["reference"],
        "handoff_id": to_hospital["id"],
        "pickup_window": "09:45-10:15",
        "transport": "Ambulance booked with patient transport",
    }
    assert done["status_text"].startswith("Accepted by Ambulance patient transport")
    assert "09:45-10:15" in done["status_text"]
    assert desk.elements_completed()[-1] == "end_admission_arranged"
    assert desk.timer_firings() == 0
    kinds = [e["kind"] for e in desk.events()]
    assert kinds.count("handoff_requested") == 2 and kinds[-1] == "completed"


def test_incomplete_request_goes_to_the_clerk_until_it_is_complete(desk):
    started = desk.start(
        {**BREATHLESS_BY_AMBULANCE, "news2_score": None, "specialty": " ", "pickup_address": None}
    )
    task = only_task(started, "complete_admission_request")
    assert task["lane"] == "Bed bureau clerk"
    assert started["data"]["missing_fields"] == ["news2_score", "specialty", "pickup_address"]
    assert started["status_text"] == "Being reviewed by the point of access"
    assert "admission_decision" not in started["data"]

    still_missing = desk.complete(
        "complete_admission_request", {"news2_score": "7", "specialty": "surgery"}, desk.clerk
    )
    again = only_task(still_missing, "complete_admission_request")
    assert again["id"] != task["id"]
    assert still_missing["data"]["missing_fields"] == ["news2_score", "pickup_address"]

    complete = desk.complete(
        "complete_admission_request",
        {"news2_score": 7, "pickup_address": "3 London Road, Leicester LE2 0QB"},
        desk.clerk,
    )
    only_task(complete, "bed_check")
    assert complete["data"]["missing_fields"] == []
    assert complete["data"]["admission_decision"] == "admit"
    assert complete["data"]["suggested_hospital"] == LRI
    assert complete["handoffs"] == []
    completed_tasks = desk.signpost.referrals.tasks(
        desk.clerk, referral_id=desk.referral_id, status="completed"
    )
    assert [t["completed_by"] for t in completed_tasks] == [desk.clerk.actor, desk.clerk.actor]


def test_low_acuity_fall_goes_to_city_icrs_and_ends_as_alternative_to_admission(desk):
    started = desk.start(FALL_AT_HOME)
    assert (started["data"]["admission_decision"], started["data"]["alternative_service"]) == (
        "alternative",
        "city-icrs",
    )
    [handoff] = started["handoffs"]
    assert (handoff["to_service"], handoff["from_service"], handoff["referral_type"]) == (
        "city-icrs",
        "bed-bureau",
        "crisis-response",
    )
    assert handoff["reason"] == "Alternative to admission: fall"
    assert handoff["payload"] == {
        "presenting_problem": "fall",
        "news2_score": 2,
        "clinical_summary": "Found on the floor, no injury, carer unable to cope",
    }
    assert started["data"]["alternative_handoff"]["id"] == handoff["id"]
    assert started["status_text"] == (
        "Sent to City Integrated Crisis Response Service, waiting for them to respond"
    )
    assert started["waiting_for"]["messages"] == ["handoff.accepted", "handoff.rejected"]
    assert started["waiting_for"]["tasks"] == []

    accepted = desk.service_acts("city-icrs", "accept")
    assert accepted["status"] == "completed"
    assert accepted["status_text"] == "Accepted by City Integrated Crisis Response Service"
    assert accepted["data"]["alternative_acceptance"]["handoff_id"] == handoff["id"]
    assert accepted["data"]["gp_notification"] == {
        "to": GP_PRACTICE,
        "reference": started["reference"],
        "outcome": "alternative to admission",
        "service": "city-icrs",
    }
    assert desk.elements_completed()[-1] == "end_alternative"
    assert "hospital_handoff" not in accepted["data"]

    # The bed bureau's part is over, but the GP still sees the crisis team's progress.
    visited = desk.service_acts("city-icrs", "complete", {"outcome": "care package restarted at home"})
    assert visited["status_text"] == (
        "Completed by City Integrated Crisis Response Service: care package restarted at home"
    )


def test_declined_alternative_goes_to_the_clinician_who_admits_without_an_ambulance(desk):
    started = desk.start(LOW_ACUITY_INFECTION)
    [to_hub] = started["handoffs"]
    assert (to_hub["to_service"], to_hub["referral_type"]) == (
        "clinical-navigation-hub",
        "hospital-admission",
    )

    declined = desk.service_acts("clinical-navigation-hub", "reject", {"reason": "needs acute assessment"})
    task = only_task(declined, "review_declined_alternative")
    assert (task["title"], task["lane"]) == ("Review declined alternative", "Bed bureau clinician")
    assert declined["data"]["alternative_rejection"]["reason"] == "needs acute assessment"
    assert declined["status_text"] == (
        "Declined by Clinical navigation hub: needs acute assessment — back with Bed Bureau"
    )
    assert declined["waiting_for"]["messages"] == []

    admitted = desk.complete("review_declined_alternative", {"clinician_decision": "admit"}, desk.clinician)
    only_task(admitted, "bed_check")
    assert admitted["data"]["suggested_hospital"] == GENERAL
    assert admitted["data"]["hospital_choice_reason"] == "the GP's preferred hospital"

    done = desk.admit_to(GENERAL)
    assert done["status"] == "completed"
    assert [h["to_service"] for h in done["handoffs"]] == ["clinical-navigation-hub", GENERAL]
    [to_general] = handoffs_to(done, GENERAL)
    assert done["data"]["gp_notification"] == {
        "to": GP_PRACTICE,
        "reference": started["reference"],
        "outcome": "admission arranged",
        "hospital": GENERAL,
        "pickup_window": None,
        "transport": "No ambulance needed",
    }
    assert done["data"]["ward_notification"]["handoff_id"] == to_general["id"]
    assert done["status_text"] == "Accepted by Leicester General Hospital admissions"
    assert desk.elements_completed()[-1] == "end_admission_arranged"
    [review] = desk.signpost.referrals.tasks(
        desk.clerk, referral_id=desk.referral_id, lane="Bed bureau clinician", status="completed"
    )
    assert review["completed_by"] == desk.clinician.actor


def test_declined_alternative_is_returned_to_the_gp_by_the_clinician(desk):
    desk.start({**FALL_AT_HOME, "pickup_address": None})
    declined = desk.service_acts("city-icrs", "reject", {"reason": "outside the city"})
    only_task(declined, "review_declined_alternative")

    closed = desk.complete(
        "review_declined_alternative",
        {"clinician_decision": "return_to_gp", "advice_to_gp": "Falls clinic referral; review in 48 hours"},
        desk.clinician,
    )
    assert closed["status"] == "completed"
    assert closed["waiting_for"] == {
        "tasks": [],
        "messages": [],
        "signals": [],
        "timers": [],
        "external_tasks": [],
    }
    assert closed["data"]["gp_notification"] == {
        "to": GP_PRACTICE,
        "reference": closed["reference"],
        "outcome": "not admitted: returned to the GP with advice",
    }
    assert closed["data"]["advice_to_gp"] == "Falls clinic referral; review in 48 hours"
    assert closed["status_text"] == "Declined by City Integrated Crisis Response Service: outside the city"
    assert len(closed["handoffs"]) == 1
    assert desk.elements_completed()[-1] == "end_returned_to_gp"


def test_hospital_declines_and_the_clerk_finds_a_bed_elsewhere(desk):
    started = desk.start(
        {**LOW_ACUITY_INFECTION, "presenting_problem": "chest_pain", "specialty": "cardiology"}
    )
    assert started["data"]["admission_decision"] == "admit"  # red flag, whatever the score
    assert started["data"]["suggested_hospital"] == GLENFIELD  # the specialty outranks the GP's preference
    first = only_task(started, "bed_check")

    not_a_hospital = desk.complete("bed_check", {"hospital": "clinical-navigation-hub"}, desk.clerk)
    second = only_task(not_a_hospital, "bed_check")
    assert second["id"] != first["id"]
    assert not_a_hospital["handoffs"] == []

    desk.complete("bed_check", {"hospital": GLENFIELD}, desk.clerk)
    declined = desk.service_acts(GLENFIELD, "reject", {"reason": "no cardiology beds"})
    only_task(declined, "bed_check")
    assert declined["data"]["declined_hospitals"] == [GLENFIELD]
    assert declined["data"]["hospital"] is None
    assert declined["data"]["hospital_rejection"]["reason"] == "no cardiology beds"
    assert declined["status_text"] == (
        "Declined by Glenfield Hospital admissions: no cardiology beds — back with Bed Bureau"
    )
    assert declined["waiting_for"]["messages"] == []

    rerouted = desk.complete("bed_check", {"hospital": LRI}, desk.clerk)
    assert [(h["to_service"], h["status"]) for h in rerouted["handoffs"]] == [
        (GLENFIELD, "rejected"),
        (LRI, "requested"),
    ]
    assert (
        rerouted["status_text"] == "Sent to Leicester Royal Infirmary admissions, waiting for them to respond"
    )

    done = desk.service_acts(LRI, "accept")
    assert done["status"] == "completed"
    assert done["data"]["gp_notification"]["hospital"] == LRI
    assert done["data"]["ward_notification"]["to"] == LRI
    assert desk.elements_completed()[-1] == "end_admission_arranged"


def admitted_waiting_for_ambulance(desk) -> datetime:
    """Start a request that needs an ambulance and get it admitted; returns when the booking wait began."""
    desk.start(BREATHLESS_BY_AMBULANCE)
    desk.admit_to(GLENFIELD)
    return datetime.now(UTC)


def test_unconfirmed_ambulance_is_chased_once_then_confirmed(desk):
    waiting_since = admitted_waiting_for_ambulance(desk)
    due = waiting_since + timedelta(minutes=30)

    assert desk.fire_timers_at(due - timedelta(seconds=1)) == 0
    assert desk.fire_timers_at(due + timedelta(seconds=1)) == 1
    assert desk.signpost.timers.fire_due() == 0  # fired once, not again
    chasing = desk.referral()
    task = only_task(chasing, "chase_ambulance")
    assert (task["title"], task["lane"]) == ("Chase ambulance booking", "Bed bureau clerk")
    assert chasing["waiting_for"]["messages"] == []  # the timer interrupted the wait
    assert chasing["waiting_for"]["timers"] == []
    assert handoffs_to(chasing, TRANSPORT)[0]["status"] == "requested"

    waiting_again = desk.complete("chase_ambulance", {"chase_note": "crew allocation pending"}, desk.clerk)
    assert waiting_again["data"]["ambulance_chases"] == 1
    assert waiting_again["waiting_for"]["messages"] == ["handoff.accepted", "handoff.rejected"]
    [timer] = waiting_again["waiting_for"]["timers"]
    assert datetime.fromisoformat(timer["due_at"]) == datetime.now(UTC) + timedelta(minutes=30)

    done = desk.service_acts(TRANSPORT, "accept", {"window": "10:30-11:00"})
    assert done["status"] == "completed"
    assert done["data"]["gp_notification"]["pickup_window"] == "10:30-11:00"
    assert desk.timer_firings() == 1
    assert desk.elements_completed()[-1] == "end_admission_arranged"


def test_booking_confirmed_while_the_clerk_chases_is_recorded_by_the_clerk(desk):
    waiting_since = admitted_waiting_for_ambulance(desk)
    assert desk.fire_timers_at(waiting_since + timedelta(minutes=31)) == 1
    only_task(desk.referral(), "chase_ambulance")

    # Nobody waits for the booking while the chase task is open: the hand-off records it all the same.
    accepted = desk.service_acts(TRANSPORT, "accept", {"window": "11:00-11:30"})
    assert handoffs_to(accepted, TRANSPORT)[0]["window"] == "11:00-11:30"
    only_task(accepted, "chase_ambulance")

    done = desk.complete("chase_ambulance", {"pickup_window": "11:00-11:30"}, desk.clerk)
    assert done["status"] == "completed"
    assert done["data"]["gp_notification"]["pickup_window"] == "11:00-11:30"
    assert done["data"]["gp_notification"]["transport"] == "Ambulance booked with patient transport"
    assert "ambulance_booking" not in done["data"]
    assert desk.elements_completed()[-6:] == [
        "chase_again",
        "merge_booking_confirmed",
        "record_ambulance_booking",
        "merge_notify",
        "notify_gp_and_ward",
        "end_admission_arranged",
    ]


def test_ambulance_unconfirmed_after_three_chases_goes_to_the_clinician(desk):
    desk_time = admitted_waiting_for_ambulance(desk)
    for chase in (1, 2, 3):
        assert desk.fire_timers_at(desk_time + timedelta(minutes=30, seconds=1)) == 1
        task = only_task(desk.referral(), "chase_ambulance")
        after = desk.complete("chase_ambulance", {"chase_note": f"no answer ({chase})"}, desk.clerk)
        desk_time = datetime.now(UTC)
        assert after["data"]["ambulance_chases"] == chase
    assert task["lane"] == "Bed bureau clerk"

    escalated = desk.referral()
    task = only_task(escalated, "arrange_transport_otherwise")
    assert task["lane"] == "Bed bureau clinician"
    assert escalated["waiting_for"]["messages"] == [] and escalated["waiting_for"]["timers"] == []
    assert desk.fire_timers_at(desk_time + timedelta(hours=2)) == 0  # the loop is over: no more chases
    assert desk.timer_firings() == 3

    done = desk.complete(
        "arrange_transport_otherwise",
        {"transport_arrangement": "999 ambulance requested by the GP", "pickup_window": None},
        desk.clinician,
    )
    assert done["status"] == "completed"
    assert done["data"]["gp_notification"]["transport"] == "999 ambulance requested by the GP"
    assert done["data"]["ward_notification"]["transport"] == "999 ambulance requested by the GP"
    assert desk.elements_completed()[-1] == "end_admission_arranged"


def test_declined_ambulance_goes_to_the_clinician_who_arranges_transport(desk):
    admitted_waiting_for_ambulance(desk)
    declined = desk.service_acts(TRANSPORT, "reject", {"reason": "needs a paramedic crew: call 999"})
    task = only_task(declined, "arrange_transport_otherwise")
    assert task["lane"] == "Bed bureau clinician"
    assert declined["data"]["ambulance_rejection"]["reason"] == "needs a paramedic crew: call 999"
    assert declined["waiting_for"]["timers"] == []  # the decline also cancelled the confirmation timer

    done = desk.complete(
        "arrange_transport_otherwise",
        {"transport_arrangement": "999 ambulance", "pickup_window": "within the hour"},
        desk.clinician,
    )
    assert done["status"] == "completed"
    assert done["data"]["gp_notification"]["pickup_window"] == "within the hour"
    assert done["data"]["gp_notification"]["transport"] == "999 ambulance"
    assert desk.timer_firings() == 0
    assert desk.elements_completed()[-1] == "end_admission_arranged"


@pytest.mark.parametrize(
    ("score", "problem", "decision", "service", "referral_type"),
    [
        (5, "fall", "admit", None, None),
        (0, "gi_bleed", "admit", None, None),
        (4, "carer_breakdown", "alternative", "city-icrs", "crisis-response"),
        (4, "social_crisis", "alternative", "city-icrs", "crisis-response"),
        (1, "frailty", "alternative", "clinical-navigation-hub", "hospital-admission"),
    ],
)
def test_admission_decision(desk, score, problem, decision, service, referral_type):
    started = desk.start({**FALL_AT_HOME, "news2_score": score, "presenting_problem": problem})
    data = started["data"]
    assert (data["admission_decision"], data["alternative_service"], data["alternative_referral_type"]) == (
        decision,
        service,
        referral_type,
    )


@pytest.mark.parametrize(
    ("specialty", "preferred", "suggested"),
    [
        ("cardiology", LRI, GLENFIELD),
        ("urology", None, GENERAL),
        ("renal", GLENFIELD, GENERAL),
        ("surgery", GENERAL, GENERAL),
        ("surgery", "somewhere-else", LRI),
        ("gynaecology", None, LRI),
    ],
)
def test_hospital_suggestion(desk, specialty, preferred, suggested):
    started = desk.start({**BREATHLESS_BY_AMBULANCE, "specialty": specialty, "preferred_hospital": preferred})
    assert started["data"]["suggested_hospital"] == suggested
    only_task(started, "bed_check")
