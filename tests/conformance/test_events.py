"""Every BPMN event construct SpiffWorkflow can run, driven through the HTTP API to its end event: each
step is a request, so each is a save and a load of the instance. After every step, an instance that is still
waiting lists at least one way it can move on (``assert_listed`` in conftest.py)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from tests.conformance import events


@pytest.fixture
def message(http, practice_operator_headers):
    def message(referral: dict, name: str, data: dict | None = None, status: int = 202):
        response = http.post(
            "/api/v1/messages",
            json={"name": name, "correlation": {"referral_id": referral["id"]}, "data": data or {}},
            headers=practice_operator_headers,
        )
        assert response.status_code == status, response.json
        return response.json

    return message


def element_ids(referral: dict) -> list[str]:
    return [t["element_id"] for t in referral["waiting_for"]["tasks"]]


def test_an_error_boundary_with_a_code_on_the_first_task_is_no_timer(deploy, start, complete):
    deploy(("conformance.bpmn", events.ERROR_ON_FIRST_TASK))
    referral = start("error_on_first_task")
    assert (element_ids(referral), referral["waiting_for"]["timers"]) == (["ask"], [])
    assert complete(referral, "ask")["status"] == "completed"


@pytest.mark.parametrize(("refused", "expected"), [(True, ["review_refusal"]), (False, [])])
def test_a_refusal_thrown_as_a_bpmn_error_takes_the_other_path(deploy, start, complete, refused, expected):
    deploy(("conformance.bpmn", events.REFUSAL_TAKES_THE_OTHER_PATH))
    referral = start("refusal_takes_the_other_path", {"refused": refused})
    assert element_ids(referral) == expected
    if refused:
        assert complete(referral, "review_refusal")["status"] == "completed"
    else:
        assert referral["status"] == "completed"


def test_a_bpmn_error_nothing_catches_is_an_incident_naming_its_code(deploy, start):
    deploy(("conformance.bpmn", events.UNCAUGHT_ERROR))
    referral = start("uncaught_error")
    assert referral["status"] == "incident"
    assert "MOVED_AWAY" in referral["incident"]["error"]


def test_a_non_interrupting_escalation_tells_the_manager_and_the_work_goes_on(deploy, start, complete):
    deploy(("conformance.bpmn", events.ESCALATION_GOES_ON))
    referral = start("escalation_goes_on")
    assert sorted(element_ids(referral)) == ["carry_on", "tell_duty_manager"]
    referral = complete(referral, "tell_duty_manager")
    assert element_ids(referral) == ["carry_on"]
    assert complete(referral, "carry_on")["status"] == "completed"


def test_an_event_based_gateway_lists_its_message_and_timer_and_takes_the_message(
    deploy, start, message, read
):
    deploy(("conformance.bpmn", events.ACCEPTED_OR_ESCALATE))
    referral = start("accepted_or_escalate")
    waiting = referral["waiting_for"]
    assert waiting["messages"] == ["case.accepted"]
    assert [t["name"] for t in waiting["timers"]] == ["Five days"]
    message(referral, "case.accepted")
    after = read(referral)
    assert (after["status"], after["waiting_for"]["timers"]) == ("completed", [])


def test_an_event_based_gateway_escalates_when_its_timer_fires(
    deploy, start, message, read, signpost, frozen_clock
):
    deploy(("conformance.bpmn", events.ACCEPTED_OR_ESCALATE))
    referral = start("accepted_or_escalate")
    frozen_clock.shift(timedelta(days=5, seconds=1))
    assert signpost.timers.fire_due() == 1
    escalated = read(referral)
    assert element_ids(escalated) == ["escalate"]
    assert escalated["waiting_for"]["messages"] == []  # the other branch is gone
    message(referral, "case.accepted", status=409)


@pytest.mark.parametrize("first", ["contact.phone", "contact.letter"])
def test_a_start_event_with_two_messages_waits_for_either(deploy, start, message, read, complete, first):
    deploy(("conformance.bpmn", events.EITHER_MESSAGE_STARTS))
    referral = start("either_message_starts")
    assert referral["waiting_for"]["messages"] == ["contact.letter", "contact.phone"]
    message(referral, first)
    started = read(referral)
    assert element_ids(started) == ["triage"]
    assert complete(started, "triage")["status"] == "completed"


def test_messages_with_correlation_properties_must_carry_the_instances_keys(deploy, start, message, read):
    deploy(("conformance.bpmn", events.CORRELATED_ANSWERS))
    referral = start("correlated_answers")
    message(referral, "case.answer", {"case_id": "C-1"})
    assert read(referral)["waiting_for"]["messages"] == ["case.follow_up"]
    refused = message(referral, "case.follow_up", {"case_id": "C-2"}, status=409)
    assert "correlation" in refused["detail"] and "C-2" in refused["detail"]
    assert read(referral)["waiting_for"]["messages"] == ["case.follow_up"]  # nothing changed
    message(referral, "case.follow_up", {"case_id": "C-1"})
    assert read(referral)["status"] == "completed"


def test_a_signal_reaches_every_waiting_referral_the_caller_speaks_for(
    deploy, start, read, complete, http, practice_operator_headers, token_for
):
    deploy(("conformance.bpmn", events.WAITS_FOR_A_SIGNAL))
    first, second = start("waits_for_a_signal"), start("waits_for_a_signal")
    assert first["waiting_for"]["signals"] == ["service.closed"]
    elsewhere = token_for("operator", organisation="rutland-gp-practice")
    nobody = http.post("/api/v1/signals", json={"name": "service.closed"}, headers=elsewhere)
    assert (nobody.status_code, nobody.json["delivered_to"]) == (202, [])
    assert read(first)["waiting_for"]["signals"] == ["service.closed"]  # another organisation's signal

    key = {"Idempotency-Key": "closing-2026-11-23", **practice_operator_headers}
    sent = http.post(
        "/api/v1/signals", json={"name": "service.closed", "data": {"why": "flood"}}, headers=key
    )
    assert sent.status_code == 202, sent.json
    assert sorted(r["id"] for r in sent.json["delivered_to"]) == sorted([first["id"], second["id"]])
    again = http.post(
        "/api/v1/signals", json={"name": "service.closed", "data": {"why": "flood"}}, headers=key
    )
    assert again.json == sent.json  # the first answer, and no referral caught it twice
    for referral in (first, second):
        moved = read(referral)
        assert (element_ids(moved), moved["waiting_for"]["signals"]) == (["rebook"], [])
        assert complete(moved, "rebook")["status"] == "completed"


def test_a_signal_start_event_starts_the_work(deploy, start, read, complete, http, practice_operator_headers):
    deploy(("conformance.bpmn", events.SIGNAL_STARTS))
    referral = start("signal_starts")
    assert referral["waiting_for"]["signals"] == ["service.opened"]
    sent = http.post("/api/v1/signals", json={"name": "service.opened"}, headers=practice_operator_headers)
    assert [r["id"] for r in sent.json["delivered_to"]] == [referral["id"]]
    assert complete(read(referral), "work")["status"] == "completed"


def test_a_link_event_continues_at_its_catch(deploy, start, complete):
    deploy(("conformance.bpmn", events.LINKED))
    referral = start("linked")
    assert element_ids(referral) == ["after_the_link"]
    assert complete(referral, "after_the_link")["status"] == "completed"


def test_a_link_to_nowhere_is_refused_at_deployment(http, designer_headers):
    response = http.post(
        "/api/v1/definitions",
        data={"files": [(io.BytesIO(events.BROKEN_LINK.encode()), "linked.bpmn")]},
        headers=designer_headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    [problem] = response.json["problems"]
    assert (problem["element_id"], problem["file"]) == ("to_page_two", "linked.bpmn")
    assert "page three" in problem["message"] and problem["line"]


@pytest.mark.parametrize(("slot_free", "expected"), [(False, ["rebook"]), (True, [])])
def test_a_transaction_cancelled_from_inside_takes_its_cancel_boundary(
    deploy, start, complete, slot_free, expected
):
    deploy(("conformance.bpmn", events.CANCELLED_BOOKING))
    referral = start("cancelled_booking", {"slot_free": slot_free})
    assert element_ids(referral) == expected
    if expected:
        assert complete(referral, "rebook")["status"] == "completed"
    else:
        assert referral["status"] == "completed"


@pytest.mark.parametrize(
    ("diagram", "element_id", "says"),
    [
        (events.ERROR_EVENT_SUBPROCESS, "on_failure", "event subprocess started by an error"),
        (events.COMPENSATION, "unbook", "not supported"),
    ],
)
def test_what_cannot_run_is_refused_at_deployment_with_a_sentence(
    http, designer_headers, diagram, element_id, says
):
    response = http.post(
        "/api/v1/definitions",
        data={"files": [(io.BytesIO(diagram.encode()), "refused.bpmn")]},
        headers=designer_headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.json
    problems = {p["element_id"]: p for p in response.json["problems"]}
    assert says in problems[element_id]["message"]
    assert problems[element_id]["line"]
    assert "<" not in problems[element_id]["message"]  # a sentence, never raw XML or a repr


def test_a_script_throws_a_bpmn_error_that_its_boundary_catches(deploy, start, complete):
    deploy(("conformance.bpmn", events.SCRIPT_THROWS))
    young = start("script_throws", {"age": 12})
    assert element_ids(young) == ["refer_to_paediatrics"]
    assert young["data"]["error_code"] == "TOO_YOUNG"
    assert young["data"]["error_message"] == "children go to the paediatric team"
    assert "eligible" not in young["data"]
    assert complete(young, "refer_to_paediatrics")["status"] == "completed"
    adult = start("script_throws", {"age": 40})
    assert (adult["status"], adult["data"]["eligible"]) == ("completed", True)


def test_a_script_error_nothing_catches_is_an_incident_naming_its_code(deploy, start):
    caught_elsewhere = events.SCRIPT_THROWS.replace('errorRef="err_young"', 'errorRef="err_other"').replace(
        '<bpmn:error id="err_young" name="Too young" errorCode="TOO_YOUNG"/>',
        '<bpmn:error id="err_young" name="Too young" errorCode="TOO_YOUNG"/>'
        '<bpmn:error id="err_other" name="Other" errorCode="OTHER"/>',
    )
    deploy(("conformance.bpmn", caught_elsewhere))
    referral = start("script_throws", {"age": 12})
    assert referral["status"] == "incident"
    assert "TOO_YOUNG" in referral["incident"]["error"]
