"""Hand-offs: every legal and illegal transition, organisation scoping, ETags, idempotency, the referrer's
side (information, cancellation), routing failures, and the status a referrer reads at each step."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.errors import (
    Conflict,
    DefinitionInvalid,
    IdempotencyConflict,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NotFound,
    PreconditionFailed,
)
from engine.routing.transitions import SERVICE_TRANSITIONS
from tests import bpmn_samples as samples
from tests.support.personas import Persona

LPT = "leicestershire-partnership-nhs-trust"
ROUTINE = {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False}
# How to bring a fresh hand-off (requested) into each status, and the fields each action needs.
BODIES = {
    "acknowledge": {},
    "accept": {"window": "Tue 14:00-16:00"},
    "reject": {"reason": "not housebound"},
    "request-information": {"question": "Is the patient diabetic?"},
    "schedule": {"window": "Wed 09:00-11:00"},
    "start": {},
    "complete": {"outcome": "wound dressed"},
    "transfer": {"to_service": "urgent-community-response", "reason": "needs a 2-hour response"},
}
PATH_TO = {
    "requested": [],
    "received": ["acknowledge"],
    "accepted": ["acknowledge", "accept"],
    "in-progress": ["accept", "start"],
    "on-hold": ["request-information"],
    "rejected": ["reject"],
    "completed": ["accept", "complete"],
    "cancelled": ["transfer"],
}


@pytest.fixture
def city_council(signpost):
    return signpost.clients.create(
        name="city system", organisation="leicester-city-council", roles={"service"}
    )[0]


@pytest.fixture
def referral(signpost, nursing, gp):
    started, _ = signpost.referrals.start(
        gp,
        pathway="community_nursing_referral",
        version=None,
        referrer="C81001",
        subject="9434765919",
        data=ROUTINE,
    )
    return started


def the_handoff(signpost, referral, client) -> dict:
    handoffs = signpost.referrals.get(referral["id"], client)["handoffs"]
    return signpost.handoffs.get(handoffs[0]["id"], spa_operator(signpost))


def spa_operator(signpost):
    """An operator at the community health single point of access, which works on nursing referrals."""
    return signpost.clients.create(
        name="spa operator", organisation=LPT, roles={"operator"}, service="community-health-spa"
    )[0]


def bring_to(signpost, handoff_id, status, nursing_team):
    for action in PATH_TO[status]:
        signpost.handoffs.act(handoff_id, action, BODIES[action], nursing_team)
    return signpost.handoffs.get(handoff_id, nursing_team)


@pytest.mark.parametrize("status", list(PATH_TO))
def test_each_status_allows_exactly_its_actions(signpost, referral, gp, nursing_team, status):
    handoff = bring_to(signpost, the_handoff(signpost, referral, gp)["id"], status, nursing_team)
    assert handoff["status"] == status
    for action, transition in SERVICE_TRANSITIONS.items():
        if status in transition.allowed_from:
            continue
        with pytest.raises(IllegalTransition) as refused:
            signpost.handoffs.act(handoff["id"], action, BODIES[action], nursing_team)
        assert refused.value.allowed == [
            a for a, t in SERVICE_TRANSITIONS.items() if status in t.allowed_from
        ]
        assert f"cannot {action} a hand-off that is {status}" in refused.value.message
    assert signpost.handoffs.get(handoff["id"], nursing_team)["version"] == handoff["version"]


@pytest.mark.parametrize(
    ("actions", "status", "business_status", "owner"),
    [
        (["acknowledge"], "received", None, "community-nursing-city"),
        (["accept"], "accepted", "visit booked Tue 14:00-16:00", "community-nursing-city"),
        (
            ["acknowledge", "accept", "schedule"],
            "accepted",
            "visit booked Wed 09:00-11:00",
            "community-nursing-city",
        ),
        (
            ["accept", "start", "schedule"],
            "in-progress",
            "visit booked Wed 09:00-11:00",
            "community-nursing-city",
        ),
        (
            ["acknowledge", "reject"],
            "rejected",
            "rejected: ownership returned to the sender",
            "community-health-spa",
        ),
        (
            ["accept", "request-information"],
            "on-hold",
            "waiting for information from the referrer",
            "referrer",
        ),
        (["accept", "start", "complete"], "completed", "completed", "community-nursing-city"),
        (["accept", "complete"], "completed", "completed", "community-nursing-city"),
    ],
)
def test_legal_transitions_record_status_owner_and_business_status(
    signpost, referral, gp, nursing_team, actions, status, business_status, owner
):
    handoff_id = the_handoff(signpost, referral, gp)["id"]
    for action in actions:
        after = signpost.handoffs.act(handoff_id, action, BODIES[action], nursing_team)
    assert (after["status"], after["business_status"], after["owner"]) == (status, business_status, owner)
    assert after["version"] == 1 + len(actions)
    kinds = [e["kind"] for e in signpost.referrals.events(referral["id"], spa_operator(signpost))]
    assert len([k for k in kinds if k.startswith("handoff_") and k != "handoff_requested"]) == len(actions)


def test_an_information_request_pauses_until_the_referrer_answers(signpost, referral, gp, nursing_team):
    handoff_id = the_handoff(signpost, referral, gp)["id"]
    signpost.handoffs.act(handoff_id, "acknowledge", {}, nursing_team)
    signpost.handoffs.act(handoff_id, "request-information", BODIES["request-information"], nursing_team)
    waiting = signpost.referrals.get(referral["id"], gp)
    assert waiting["status_text"] == (
        "City community nursing has asked the referrer for more information: Is the patient diabetic?"
    )
    assert waiting["owner"] == "the referrer"

    [answered] = signpost.handoffs.supply_information(referral["id"], {"diabetic": "yes, type 2"}, gp)
    assert (answered["status"], answered["owner"]) == ("received", "community-nursing-city")
    assert signpost.handoffs.get(handoff_id, nursing_team)["answer"] == {"diabetic": "yes, type 2"}
    with pytest.raises(Conflict, match="no outstanding information request"):
        signpost.handoffs.supply_information(referral["id"], {"again": "?"}, gp)


def test_a_transfer_cancels_this_hand_off_and_routes_a_new_one(signpost, referral, gp, nursing_team):
    handoff_id = the_handoff(signpost, referral, gp)["id"]
    moved = signpost.handoffs.act(handoff_id, "transfer", BODIES["transfer"], nursing_team)
    assert (moved["status"], moved["business_status"]) == (
        "cancelled",
        "transferred to urgent-community-response",
    )
    view = signpost.referrals.get(referral["id"], gp)
    old, new = view["handoffs"]
    assert (new["to_service"], new["status"], new["from_service"]) == (
        "urgent-community-response",
        "requested",
        "community-health-spa",  # a rejection still goes back to the point of access that sent it
    )
    assert new["payload"] == old["payload"]
    assert view["status_text"] == "Sent to Urgent Community Response, waiting for them to respond"
    accepted = signpost.handoffs.act(new["id"], "accept", {"window": "today 10:00-12:00"}, nursing_team)
    assert accepted["status"] == "accepted"
    assert signpost.referrals.get(referral["id"], gp)["waiting_for"]["messages"] == ["handoff.completed"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"to_service": "bed-bureau", "reason": "x"}, "accepts only hospital-admission referrals"),
        ({"to_service": "nowhere", "reason": "x"}, "unknown service 'nowhere'"),
        ({"to_service": "community-nursing-city", "reason": "x"}, "already holds it"),
    ],
)
def test_a_transfer_to_a_service_that_cannot_take_it_is_refused(
    signpost, referral, gp, nursing_team, body, fragment
):
    handoff_id = the_handoff(signpost, referral, gp)["id"]
    with pytest.raises(InvalidInput, match=fragment):
        signpost.handoffs.act(handoff_id, "transfer", body, nursing_team)
    assert signpost.handoffs.get(handoff_id, nursing_team)["version"] == 1
    assert len(signpost.referrals.get(referral["id"], gp)["handoffs"]) == 1


@pytest.mark.parametrize(
    ("action", "body", "fragment"),
    [
        ("reject", {}, "'reject' needs 'reason'"),
        ("reject", {"reason": "  "}, "'reject' needs 'reason'"),
        ("request-information", {}, "needs 'question'"),
        ("complete", {}, "needs 'outcome'"),
        ("transfer", {"reason": "x"}, "needs 'to_service'"),
        ("acknowledge", {"outcome": "x"}, "unknown: outcome"),
    ],
)
def test_missing_or_unexpected_fields_are_refused(
    signpost, referral, gp, nursing_team, action, body, fragment
):
    handoff_id = the_handoff(signpost, referral, gp)["id"]
    with pytest.raises(InvalidInput, match=fragment):
        signpost.handoffs.act(handoff_id, action, body, nursing_team)
    assert signpost.handoffs.get(handoff_id, nursing_team)["version"] == 1


def test_a_service_cannot_act_on_or_read_another_organisations_hand_offs(
    signpost, referral, gp, city_council
):
    handoff_id = the_handoff(signpost, referral, gp)["id"]
    with pytest.raises(NotAllowed, match="acts for leicester-city-council"):
        signpost.handoffs.act(handoff_id, "accept", {}, city_council)
    with pytest.raises(NotAllowed):
        signpost.handoffs.get(handoff_id, city_council)
    with pytest.raises(NotAllowed):
        signpost.handoffs.queue("community-nursing-city", city_council, None)
    assert signpost.handoffs.queue("city-duty-social-work", city_council, None) == []


def test_a_stale_etag_is_refused_and_a_current_one_accepted(signpost, referral, gp, nursing_team):
    handoff = the_handoff(signpost, referral, gp)
    signpost.handoffs.act(handoff["id"], "acknowledge", {}, nursing_team, if_match=handoff["etag"])
    with pytest.raises(PreconditionFailed, match="read it again"):
        signpost.handoffs.act(handoff["id"], "accept", {}, nursing_team, if_match=handoff["etag"])
    current = signpost.handoffs.get(handoff["id"], nursing_team)
    assert current["status"] == "received"
    # What the service may do now, as the console offers it: acknowledging is behind it.
    assert current["actions"] == ["accept", "reject", "request-information", "transfer"]
    assert (
        signpost.handoffs.act(handoff["id"], "accept", {}, nursing_team, if_match=current["etag"])["status"]
        == "accepted"
    )


def test_an_idempotency_key_replays_the_first_answer_and_refuses_a_different_body(
    signpost, referral, gp, nursing_team
):
    handoff_id = the_handoff(signpost, referral, gp)["id"]
    first = signpost.handoffs.act(
        handoff_id, "accept", {"window": "Mon"}, nursing_team, idempotency_key="msg-1"
    )
    again = signpost.handoffs.act(
        handoff_id, "accept", {"window": "Mon"}, nursing_team, idempotency_key="msg-1"
    )
    assert again == first
    with pytest.raises(IdempotencyConflict):
        signpost.handoffs.act(handoff_id, "accept", {"window": "Tue"}, nursing_team, idempotency_key="msg-1")
    kinds = [e["kind"] for e in signpost.referrals.events(referral["id"], spa_operator(signpost))]
    assert kinds.count("handoff_accepted") == 1


def test_the_referrer_may_cancel_until_a_service_starts(signpost, nursing, referral, gp, nursing_team):
    handoff_id = the_handoff(signpost, referral, gp)["id"]
    signpost.handoffs.act(handoff_id, "accept", {}, nursing_team)
    signpost.handoffs.cancel(referral["id"], "patient moved away", gp)
    cancelled = signpost.referrals.get(referral["id"], gp)
    assert (cancelled["status"], cancelled["status_text"]) == ("cancelled", "Cancelled by the referrer")
    assert cancelled["handoffs"][0]["status"] == "cancelled"
    assert cancelled["waiting_for"] == {
        "tasks": [],
        "messages": [],
        "signals": [],
        "timers": [],
        "external_tasks": [],
    }
    with pytest.raises(IllegalTransition):
        signpost.handoffs.act(handoff_id, "start", {}, nursing_team)

    second, _ = signpost.referrals.start(
        gp,
        pathway="community_nursing_referral",
        version=None,
        referrer="C81001",
        subject="9434765919",
        data=ROUTINE,
    )
    second_handoff = the_handoff(signpost, second, gp)["id"]
    signpost.handoffs.act(second_handoff, "accept", {}, nursing_team)
    signpost.handoffs.act(second_handoff, "start", {}, nursing_team)
    with pytest.raises(Conflict, match="already started"):
        signpost.handoffs.cancel(second["id"], "changed my mind", gp)
    assert signpost.referrals.get(second["id"], gp)["status"] == "waiting"


def test_the_point_of_access_working_on_a_referral_may_cancel_it_and_says_so(
    signpost, http, referral, gp, operator_headers, enrolled
):
    answer = http.post(
        f"/api/v1/referrals/{referral['id']}/cancel",
        json={"reason": "the person was admitted to hospital"},
        headers=operator_headers,
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["status_text"] == "Cancelled by the point of access"
    assert answer.json["handoffs"][0]["status"] == "cancelled"
    timeline = signpost.referrals.timeline(referral["id"], gp)
    assert timeline[-1]["what"] == "Cancelled by the point of access: the person was admitted to hospital"
    # An operator of an organisation that does not work on the referral finds nothing to cancel.
    stranger = enrolled(Persona("other trust operator", "other-trust", ("operator",))).headers
    refused = http.post(f"/api/v1/referrals/{referral['id']}/cancel", json={"reason": "x"}, headers=stranger)
    assert refused.status_code == 404


def test_only_the_referring_organisation_may_cancel_or_answer(signpost, referral):
    stranger = signpost.clients.create(name="other gp", organisation="county-gp", roles={"referrer"})[0]
    with pytest.raises(NotFound):
        signpost.handoffs.cancel(referral["id"], "not mine", stranger)
    with pytest.raises(NotFound):
        signpost.handoffs.supply_information(referral["id"], {"x": 1}, stranger)


def test_the_status_reads_correctly_to_the_referrer_at_every_step(signpost, referral, gp, nursing_team):
    def status():
        view = signpost.referrals.get(referral["id"], gp)
        return view["status_text"], view["owner"]

    handoff_id = the_handoff(signpost, referral, gp)["id"]
    assert status() == (
        "Sent to City community nursing, waiting for them to respond",
        "City community nursing",
    )
    signpost.handoffs.act(handoff_id, "acknowledge", {}, nursing_team)
    assert status() == (
        "Received by City community nursing, waiting for their decision",
        "City community nursing",
    )
    signpost.handoffs.act(handoff_id, "accept", {"window": "Tue 14:00-16:00"}, nursing_team)
    assert status()[0] == "Accepted by City community nursing — visit booked Tue 14:00-16:00"
    signpost.handoffs.act(handoff_id, "start", {}, nursing_team)
    assert status()[0] == "City community nursing has started — visit booked Tue 14:00-16:00"
    signpost.handoffs.act(handoff_id, "complete", {"outcome": "wound dressed"}, nursing_team)
    assert status() == ("Completed by City community nursing: wound dressed", "nobody")
    timeline = [entry["what"] for entry in signpost.referrals.timeline(referral["id"], gp)]
    assert timeline == [
        "Referral received",
        "Sent to City community nursing",
        "Received by City community nursing",
        "Accepted by City community nursing, visit booked Tue 14:00-16:00",
        "City community nursing started",
        "Completed by City community nursing: wound dressed",
        "Pathway finished",
    ]


def test_a_rejection_reads_as_back_with_the_point_of_access(signpost, referral, gp, nursing_team):
    handoff_id = the_handoff(signpost, referral, gp)["id"]
    signpost.handoffs.act(handoff_id, "reject", {"reason": "not housebound"}, nursing_team)
    view = signpost.referrals.get(referral["id"], gp)
    assert (
        view["status_text"] == "Declined by City community nursing: not housebound — back with "
        "Community Health Single Point of Access"
    )
    assert [t["element_id"] for t in view["waiting_for"]["tasks"]] == ["review_rejection"]


def test_open_referrals_are_found_by_nhs_number(signpost, nursing, referral, gp, nursing_team):
    operator = spa_operator(signpost)
    assert [r["id"] for r in signpost.referrals.open_for_subject("943 476 5919", operator)] == [
        referral["id"]
    ]
    stranger = signpost.clients.create(name="other gp", organisation="county-gp", roles={"referrer"})[0]
    assert signpost.referrals.open_for_subject("9434765919", stranger) == []
    handoff_id = the_handoff(signpost, referral, gp)["id"]
    signpost.handoffs.act(handoff_id, "accept", {}, nursing_team)
    signpost.handoffs.act(handoff_id, "complete", {"outcome": "done"}, nursing_team)
    assert signpost.referrals.open_for_subject("9434765919", operator) == []
    with pytest.raises(InvalidInput, match="NHS number"):
        signpost.referrals.open_for_subject("123", operator)


def route_to(service: str, referral_type: str) -> str:
    return samples.process(f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {samples.routing_task(service, referral_type)}
    <bpmn:userTask id="after" name="After"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="route"/>
    <bpmn:sequenceFlow id="f2" sourceRef="route" targetRef="after"/>
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end"/>""")


@pytest.mark.parametrize(
    ("service", "referral_type", "fragment"),
    [
        ("nowhere", "community-nursing", "cannot route to unknown service 'nowhere'"),
        ("bed-bureau", "community-nursing", "accepts only hospital-admission referrals"),
    ],
)
def test_routing_to_a_service_that_cannot_take_it_is_an_incident_with_no_hand_off(
    signpost, directory, gp, service, referral_type, fragment
):
    signpost.definitions.deploy([samples.source(route_to(service, referral_type))], "tests")
    started, _ = signpost.referrals.start(
        gp, pathway="sample", version=None, referrer="r", subject=None, data={}
    )
    assert started["status"] == "incident"
    assert started["incident"]["task"] == "Route"
    assert fragment in started["incident"]["error"]
    assert started["handoffs"] == []


CLOSE_TASK = """
    <bpmn:serviceTask id="close" name="Close">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="signpost.close_handoffs">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="reason" type="str" value="closing_reason"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="closed"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f4" sourceRef="close" targetRef="closed"/>"""
ROUTE_THEN_CLOSE = (
    route_to("community-nursing-city", "community-nursing")
    .replace('<bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>', CLOSE_TASK)
    .replace('targetRef="end"', 'targetRef="close"')
)


@pytest.mark.parametrize(("reason", "status"), [("The person has died", "completed"), (" ", "incident")])
def test_a_pathway_closes_its_open_hand_offs_itself_with_a_reason(
    signpost, directory, gp, practice_operator, nursing_team, reason, status
):
    signpost.definitions.deploy([samples.source(ROUTE_THEN_CLOSE)], "tests")
    started, _ = signpost.referrals.start(
        gp, pathway="sample", version=None, referrer="r", subject=None, data={"closing_reason": reason}
    )
    [handoff] = started["handoffs"]
    signpost.handoffs.act(handoff["id"], "accept", {}, nursing_team)
    signpost.handoffs.act(handoff["id"], "start", {}, nursing_team)
    [task] = signpost.referrals.get(started["id"], practice_operator)["waiting_for"]["tasks"]
    after = signpost.referrals.complete_task(task["id"], {}, practice_operator)
    closed = signpost.handoffs.get(handoff["id"], nursing_team)
    assert after["status"] == status
    if status == "incident":
        assert after["incident"]["task"] == "Close"
        assert closed["status"] == "in-progress"
        return
    assert (closed["status"], closed["status_reason"], closed["business_status"]) == (
        "cancelled",
        reason,
        "closed by the point of access",
    )
    assert (closed["transitions"][-1]["action"], closed["transitions"][-1]["from_status"]) == (
        "close",
        "in-progress",
    )
    kinds = [e["kind"] for e in signpost.referrals.events(started["id"], practice_operator)]
    assert kinds.count("handoff_closed") == 1


def test_a_service_task_must_name_a_known_operation_with_its_parameters(signpost):
    unknown = route_to("x", "y").replace('id="signpost.route"', 'id="signpost.teleport"')
    with pytest.raises(DefinitionInvalid, match=r"unknown operation 'signpost\.teleport'"):
        signpost.definitions.deploy([samples.source(unknown)], "tests")
    no_type = route_to("x", "y").replace(
        '<spiffworkflow:parameter id="referral_type" type="str" value="\'y\'"/>', ""
    )
    with pytest.raises(DefinitionInvalid, match="needs parameter"):
        signpost.definitions.deploy([samples.source(no_type)], "tests")


def test_acting_on_a_hand_off_of_a_referral_in_incident_is_refused(signpost, referral, gp, nursing_team):
    handoff_id = the_handoff(signpost, referral, gp)["id"]
    with signpost.database.write() as conn:
        conn.execute(
            sa.text(
                "UPDATE instances SET status = 'incident', incident_task = 'x', incident_error = 'y' "
                "WHERE id = :id"
            ),
            {"id": signpost.referrals.instance_id(referral["id"])},
        )
    with pytest.raises(Conflict, match="stopped by an incident"):
        signpost.handoffs.act(handoff_id, "accept", {}, nursing_team)
    assert signpost.handoffs.get(handoff_id, nursing_team)["status"] == "requested"
