"""Two-way OLAs: terms checked on load, clocks driven by hand-off events on business calendars, warnings,
breaches delivered to the pathway, breaches during downtime, the at-risk list and compliance reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from engine.bpmn import SourceFile
from engine.errors import InvalidInput
from engine.system import build
from tests import bpmn_samples as samples
from tests.conftest import SOPS
from tests.support.personas import LPT, OPERATOR

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Europe/London is on GMT: local time = UTC
ROUTINE = {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False}


@pytest.fixture
def olas(signpost, directory):
    return signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")


def start_referral(signpost, gp, at: datetime) -> dict:
    with time_machine.travel(at, tick=False):
        referral, _ = signpost.referrals.start(
            gp,
            pathway="community_nursing_referral",
            version=None,
            referrer="C81001",
            subject="9434765919",
            data=ROUTINE,
        )
    return referral


def act(signpost, nursing_team, referral, action, body, at: datetime) -> None:
    handoff_id = signpost.referrals.get(referral["id"], OPERATOR.client_in(signpost))["handoffs"][-1]["id"]
    with time_machine.travel(at, tick=False):
        signpost.handoffs.act(handoff_id, action, body, nursing_team)


def clocks(signpost, referral, at: datetime) -> dict[str, dict]:
    with time_machine.travel(at, tick=False):
        view = signpost.referrals.get(referral["id"], OPERATOR.client_in(signpost))
    return {c["obligation"]: c for c in view["clocks"]}


def attend(signpost, at: datetime) -> int:
    with time_machine.travel(at, tick=False):
        return signpost.olas.attend_due()


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


# ---- terms ---------------------------------------------------------------------------------------------


def test_the_shipped_terms_load(olas):
    assert {o.name for o in olas} >= {"community nursing locality teams", "urgent community response"}


BASE_TERMS = """
[[ola]]
name = "t"
to_services = ["community-nursing-city"]
  [[ola.obligation]]
  name = "accept"
  party = "receiver"
  target = "PT4H"
  start = ["requested"]
  stop = ["accepted"]
"""


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (('target = "PT4H"', 'target = "-PT4H"'), "obligation 'accept'"),
        (('target = "PT4H"', 'target = "four hours"'), "obligation 'accept'"),
        (('party = "receiver"', 'party = "both"'), "party must be 'receiver' or 'sender'"),
        (('start = ["requested"]', 'start = ["opened"]'), "start event(s) opened never happen to a hand-off"),
        (('stop = ["accepted"]', "stop = []"), "needs the events that start and stop it"),
        (('stop = ["accepted"]', 'stop = ["accepted"]\n  calendar = "lunar"'), "unknown calendar 'lunar'"),
        (('stop = ["accepted"]', 'stop = ["accepted"]\n  pause = ["information_requested"]'), "resumes it"),
        (('["community-nursing-city"]', '["nowhere"]'), "unknown service 'nowhere'"),
        (('stop = ["accepted"]', 'stop = ["accepted"]\n  warn_at = [1.5]'), "fractions between 0 and 1"),
    ],
)
def test_bad_terms_are_refused_with_a_clear_message_and_nothing_changes(signpost, olas, change, fragment):
    with pytest.raises(InvalidInput, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        signpost.olas.load_terms(BASE_TERMS.replace(*change), "bad.toml", "tests")
    with signpost.database.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM ola_terms").scalar() == len(olas)


def test_overlapping_terms_for_the_same_service_pair_are_refused(signpost, directory):
    overlapping = BASE_TERMS + BASE_TERMS.replace('name = "t"', 'name = "u"')
    with pytest.raises(InvalidInput, match="OLAs 't' and 'u' overlap"):
        signpost.olas.load_terms(overlapping, "bad.toml", "tests")
    # Narrowing only one of them still overlaps: the other applies to every referral type.
    one_narrowed = BASE_TERMS + BASE_TERMS.replace('name = "t"', 'name = "u"\nreferral_type = "urgent"')
    with pytest.raises(InvalidInput, match="overlap"):
        signpost.olas.load_terms(one_narrowed, "bad.toml", "tests")
    both_narrowed = BASE_TERMS.replace(
        'name = "t"', 'name = "t"\nreferral_type = "routine"'
    ) + BASE_TERMS.replace('name = "t"', 'name = "u"\nreferral_type = "urgent"')
    assert [o.name for o in signpost.olas.load_terms(both_narrowed, "good.toml", "tests")] == ["t", "u"]


# ---- clocks --------------------------------------------------------------------------------------------


def test_routing_starts_the_receivers_clocks_on_the_services_calendar(signpost, nursing, olas, gp):
    referral = start_referral(signpost, gp, MONDAY_9)
    running = clocks(signpost, referral, MONDAY_9 + hours(0.5))
    assert set(running) == {"acknowledge", "accept-or-reject"}
    ack = running["acknowledge"]
    assert (ack["state"], ack["party"], ack["owed_by"], ack["calendar"]) == (
        "running",
        "receiver",
        "City community nursing",
        "8-to-8-every-day",
    )
    assert datetime.fromisoformat(ack["due_at"]) == MONDAY_9 + hours(1)
    assert ack["business_seconds_remaining"] == 30 * 60
    assert datetime.fromisoformat(running["accept-or-reject"]["due_at"]) == MONDAY_9 + hours(4)


def test_an_information_request_pauses_the_receiver_and_starts_the_sender(
    signpost, nursing, olas, gp, nursing_team, frozen_clock
):
    referral = start_referral(signpost, gp, MONDAY_9)
    act(signpost, nursing_team, referral, "acknowledge", {}, MONDAY_9 + hours(0.5))
    act(
        signpost,
        nursing_team,
        referral,
        "request-information",
        {"question": "Allergies?"},
        MONDAY_9 + hours(1),
    )
    paused = clocks(signpost, referral, MONDAY_9 + hours(2))
    assert paused["acknowledge"]["state"] == "met"
    assert paused["accept-or-reject"]["state"] == "paused"
    assert paused["accept-or-reject"]["due_at"] is None
    assert paused["accept-or-reject"]["business_seconds_remaining"] == 3 * 3600
    sender = paused["supply-information"]
    assert (sender["party"], sender["state"]) == ("sender", "running")
    assert datetime.fromisoformat(sender["due_at"]) == MONDAY_9 + hours(5)

    frozen_clock.move_to(MONDAY_9 + hours(3))
    signpost.handoffs.supply_information(referral["id"], {"allergies": "none"}, gp)
    resumed = clocks(signpost, referral, MONDAY_9 + hours(3))
    assert resumed["supply-information"]["state"] == "met"
    assert resumed["supply-information"]["business_seconds_used"] == 2 * 3600
    # 1 hour used before the pause, 3 left from the resume at 12:00: due 15:00 exactly.
    assert datetime.fromisoformat(resumed["accept-or-reject"]["due_at"]) == MONDAY_9 + hours(6)


def test_a_pause_overnight_counts_no_time_outside_opening_hours(signpost, nursing, olas, gp, nursing_team):
    evening = MONDAY_9 + hours(10)  # 19:00, an hour before the 8-to-8 service closes
    referral = start_referral(signpost, gp, evening)
    due = datetime.fromisoformat(clocks(signpost, referral, evening)["accept-or-reject"]["due_at"])
    assert due == datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # 1h tonight, 3h from 08:00 tomorrow


def test_warnings_at_half_and_three_quarters_then_the_breach(
    signpost, nursing, olas, gp, operator, frozen_clock
):
    referral = start_referral(signpost, gp, MONDAY_9)
    assert attend(signpost, MONDAY_9 + hours(0.25)) == 0
    assert attend(signpost, MONDAY_9 + hours(0.55)) == 1  # acknowledge: 50% of 1h
    assert attend(signpost, MONDAY_9 + hours(0.55)) == 0
    assert attend(signpost, MONDAY_9 + hours(2.1)) == 2  # acknowledge 75% + breach; accept-or-reject 50%
    frozen_clock.move_to(MONDAY_9 + hours(2.1))
    events = signpost.referrals.events(referral["id"], operator)
    warnings = [
        (e["detail"]["obligation"], e["detail"]["threshold"], e["at"])
        for e in events
        if e["kind"] == "ola_warning"
    ]
    assert warnings == [
        ("acknowledge", 0.5, (MONDAY_9 + hours(0.5)).isoformat()),
        ("acknowledge", 0.75, (MONDAY_9 + hours(0.75)).isoformat()),
        ("accept-or-reject", 0.5, (MONDAY_9 + hours(2)).isoformat()),
    ]
    [breach] = [e for e in events if e["kind"] == "ola_breached"]
    assert (breach["detail"]["obligation"], breach["at"]) == (
        "acknowledge",
        (MONDAY_9 + hours(1)).isoformat(),
    )
    timeline = [t["what"] for t in signpost.referrals.timeline(referral["id"], operator)]
    assert "City community nursing missed its time limit to acknowledge" in timeline
    with signpost.database.read() as conn:
        kinds = [r[0] for r in conn.exec_driver_sql("SELECT event_type FROM milestones ORDER BY id")]
    assert [k for k in kinds if k.startswith("ola.")] == [
        "ola.warning",
        "ola.warning",
        "ola.breached",
        "ola.warning",
    ]


def test_a_breach_during_downtime_fires_on_restart_with_its_true_time(settings, signpost, nursing, olas, gp):
    referral = start_referral(signpost, gp, MONDAY_9)
    signpost.close()
    restarted = build(settings)
    try:
        assert attend(restarted, MONDAY_9 + timedelta(days=3)) == 2
        breached = clocks(restarted, referral, MONDAY_9 + timedelta(days=3))
    finally:
        restarted.close()
    assert breached["acknowledge"]["state"] == "breached"
    assert datetime.fromisoformat(breached["acknowledge"]["breached_at"]) == MONDAY_9 + hours(1)
    assert datetime.fromisoformat(breached["accept-or-reject"]["breached_at"]) == MONDAY_9 + hours(4)


ESCALATING = samples.process(
    """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    """
    + samples.routing_task("community-nursing-city", "community-nursing")
    + """
    <bpmn:receiveTask id="await" name="Await acceptance" messageRef="accepted">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:receiveTask>
    <bpmn:boundaryEvent id="breached" name="OLA breached" attachedToRef="await" cancelActivity="false">
      <bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:messageEventDefinition id="breached_def" messageRef="ola_breached">
        <bpmn:extensionElements>
          <spiffworkflow:messageVariable>breach</spiffworkflow:messageVariable>
        </bpmn:extensionElements>
      </bpmn:messageEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="escalate" name="Escalate to the duty manager">
      <bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="escalated"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="route"/>
    <bpmn:sequenceFlow id="f2" sourceRef="route" targetRef="await"/>
    <bpmn:sequenceFlow id="f3" sourceRef="await" targetRef="end"/>
    <bpmn:sequenceFlow id="f4" sourceRef="breached" targetRef="escalate"/>
    <bpmn:sequenceFlow id="f5" sourceRef="escalate" targetRef="escalated"/>"""
).replace(
    "</bpmn:definitions>",
    '  <bpmn:message id="accepted" name="handoff.accepted"/>\n'
    '  <bpmn:message id="ola_breached" name="ola.breached"/>\n</bpmn:definitions>',
)


def test_a_breach_reaches_the_pathway_which_escalates(signpost, directory, olas, gp, operator, frozen_clock):
    signpost.definitions.deploy([SourceFile("escalating.bpmn", ESCALATING.encode())], "tests")
    frozen_clock.move_to(MONDAY_9)
    referral, _ = signpost.referrals.start(
        gp,
        pathway="sample",
        version=None,
        referrer="r",
        subject=None,
        data={},
        point_of_access="community-health-spa",
    )
    attend(signpost, MONDAY_9 + hours(1.5))
    frozen_clock.move_to(MONDAY_9 + hours(1.5))
    escalated = signpost.referrals.get(referral["id"], operator)
    [task] = escalated["waiting_for"]["tasks"]
    assert task["element_id"] == "escalate"
    assert escalated["data"]["breach"]["obligation"] == "acknowledge"
    assert escalated["data"]["breach"]["party"] == "receiver"
    assert "handoff.accepted" in escalated["waiting_for"]["messages"]  # it still waits for the service


def test_duty_managers_list_the_clocks_at_risk(
    signpost, nursing, olas, gp, operator, nursing_team, frozen_clock
):
    first = start_referral(signpost, gp, MONDAY_9)
    second = start_referral(signpost, gp, MONDAY_9 + hours(2))
    act(signpost, nursing_team, first, "acknowledge", {}, MONDAY_9 + hours(0.5))
    frozen_clock.move_to(MONDAY_9 + hours(2.5))
    soon = signpost.olas.at_risk(operator, states=["running"], due_before=MONDAY_9 + hours(4), limit=50)
    theirs = signpost.olas.at_risk(nursing_team, states=["running"], due_before=None, limit=50)
    other = signpost.clients.create(name="c", organisation="leicester-city-council", roles={"service"})[0]
    nobody = signpost.olas.at_risk(other, states=["running"], due_before=None, limit=50)
    assert [(c["reference"], c["obligation"]) for c in soon] == [
        (second["reference"], "acknowledge"),
        (first["reference"], "accept-or-reject"),
    ]
    assert len(theirs) == 3 and nobody == []


def test_the_report_matches_a_hand_computed_fixture(signpost, nursing, olas, gp, nursing_team, operator):
    # Three referrals routed at 09:00 on the same Monday to City community nursing (8-to-8 calendar):
    #   A: acknowledged 09:30, accepted 10:00 -> acknowledge met 0.5h, accept-or-reject met 1h
    #   B: acknowledged 09:45, accepted 12:00 -> acknowledge met 0.75h, accept-or-reject met 3h
    #   C: never acknowledged; accepted 15:00 -> acknowledge breached 10:00, accept-or-reject breached 13:00
    a, b, c = (start_referral(signpost, gp, MONDAY_9) for _ in range(3))
    act(signpost, nursing_team, a, "acknowledge", {}, MONDAY_9 + hours(0.5))
    act(signpost, nursing_team, a, "accept", {}, MONDAY_9 + hours(1))
    act(signpost, nursing_team, b, "acknowledge", {}, MONDAY_9 + hours(0.75))
    act(signpost, nursing_team, b, "accept", {}, MONDAY_9 + hours(3))
    attend(signpost, MONDAY_9 + hours(14))
    act(signpost, nursing_team, c, "accept", {}, MONDAY_9 + hours(6))

    report = signpost.olas.report(MONDAY_9, MONDAY_9 + timedelta(days=1))
    by_obligation = {tuple(r["group"]): r for r in report["obligation"]}
    ack = by_obligation[("community nursing locality teams", "acknowledge")]
    assert (ack["met"], ack["breached"], ack["percent_met"]) == (2, 1, 66.7)
    assert (ack["median_seconds_to_meet"], ack["p90_seconds_to_meet"]) == (2250, 2700)  # 0.5h, 0.75h
    accept = by_obligation[("community nursing locality teams", "accept-or-reject")]
    assert (accept["met"], accept["breached"]) == (2, 1)
    assert (accept["median_seconds_to_meet"], accept["p90_seconds_to_meet"]) == (7200, 10800)  # 1h, 3h
    [service] = report["service"]
    assert (service["group"], service["met"], service["breached"], service["percent_met"]) == (
        ["community-nursing-city"],
        4,
        2,
        66.7,
    )
    [pair] = report["organisation_pair"]
    assert pair["group"] == [LPT, LPT]
    [party] = report["party"]
    assert party["group"] == ["receiver"]
    assert signpost.olas.report(MONDAY_9 + timedelta(days=1), MONDAY_9 + timedelta(days=2))["service"] == []


def test_a_closure_added_by_an_admin_moves_running_due_times(
    signpost, nursing, olas, gp, admin, frozen_clock
):
    referral = start_referral(signpost, gp, MONDAY_9)
    frozen_clock.move_to(MONDAY_9 + hours(0.5))
    closure = signpost.olas.add_closure(
        "8-to-8-every-day", MONDAY_9 + hours(1), MONDAY_9 + hours(3), "building evacuated", admin
    )
    moved = clocks(signpost, referral, MONDAY_9 + hours(0.5))
    assert datetime.fromisoformat(moved["accept-or-reject"]["due_at"]) == MONDAY_9 + hours(
        6
    )  # 4h + 2h closed
    assert datetime.fromisoformat(moved["acknowledge"]["due_at"]) == MONDAY_9 + hours(1)  # due as it closes
    signpost.olas.remove_closure("8-to-8-every-day", closure["id"])
    back = clocks(signpost, referral, MONDAY_9 + hours(0.5))
    assert datetime.fromisoformat(back["accept-or-reject"]["due_at"]) == MONDAY_9 + hours(4)
    with pytest.raises(InvalidInput, match="unknown calendar 'lunar'"):
        signpost.olas.add_closure("lunar", MONDAY_9, MONDAY_9 + hours(1), "x", admin)
    with pytest.raises(InvalidInput, match="before 'ends_at'"):
        signpost.olas.add_closure("24x7", MONDAY_9, MONDAY_9, "x", admin)


def test_obligations_reports_and_calendars_over_http(
    http,
    signpost,
    nursing,
    olas,
    gp,
    nursing_team,
    operator_headers,
    practice_operator_headers,
    admin_headers,
    frozen_clock,
):
    referral = start_referral(signpost, gp, MONDAY_9)
    act(signpost, nursing_team, referral, "acknowledge", {}, MONDAY_9 + hours(0.5))
    frozen_clock.move_to(MONDAY_9 + hours(1))
    listed = http.get(
        "/api/v1/obligations",
        query_string={"due_before": (MONDAY_9 + hours(5)).isoformat()},
        headers=operator_headers,
    )
    assert listed.status_code == 200, listed.json
    assert [c["obligation"] for c in listed.json] == ["accept-or-reject"]
    assert listed.json[0]["business_seconds_remaining"] == 3 * 3600
    naive = http.get(
        "/api/v1/obligations", query_string={"due_before": "2026-11-23T10:00:00"}, headers=operator_headers
    )
    assert naive.status_code == 422

    window = {"from": MONDAY_9.isoformat(), "to": (MONDAY_9 + timedelta(days=1)).isoformat()}
    report = http.get("/api/v1/reports/ola", query_string=window, headers=operator_headers)
    assert report.status_code == 200
    assert report.json["obligation"][0]["group"] == ["community nursing locality teams", "acknowledge"]
    # Another organisation's duty manager answers for its own hand-offs only: the trust's are not counted.
    elsewhere = http.get("/api/v1/reports/ola", query_string=window, headers=practice_operator_headers)
    assert elsewhere.status_code == 200
    assert elsewhere.json == {
        "service": [],
        "organisation_pair": [],
        "obligation": [],
        "party": [],
        "failure_demand": [],
    }
    as_csv = http.get("/api/v1/reports/ola.csv", query_string=window, headers=operator_headers)
    assert as_csv.content_type.startswith("text/csv")
    lines = as_csv.data.decode().splitlines()
    assert lines[0] == (
        "grouping,group,met,breached,percent_met,median_seconds_to_meet,p90_seconds_to_meet,repeat_contacts"
    )
    assert "obligation,community nursing locality teams / acknowledge,1,0,100.0,1800,1800," in lines
    backwards = http.get(
        "/api/v1/reports/ola",
        query_string={"from": window["to"], "to": window["from"]},
        headers=operator_headers,
    )
    assert backwards.status_code == 422

    calendars = {c["name"]: c for c in http.get("/api/v1/calendars", headers=operator_headers).json}
    assert calendars["office-hours"]["opening"]["monday"] == [["09:00", "17:00"]]
    assert calendars["office-hours"]["opening"]["sunday"] == []
    assert calendars["24x7"]["opening"]["sunday"] == [["00:00", "24:00"]]
    body = {
        "starts_at": "2026-12-24T12:00:00+00:00",
        "ends_at": "2026-12-24T17:00:00+00:00",
        "reason": "Christmas Eve afternoon",
    }
    assert (
        http.post("/api/v1/calendars/office-hours/closures", json=body, headers=operator_headers).status_code
        == 403
    )
    created = http.post("/api/v1/calendars/office-hours/closures", json=body, headers=admin_headers)
    assert created.status_code == 201, created.json
    assert (
        http.get("/api/v1/calendars", headers=operator_headers).json[2]["closures"][0]["reason"]
        == body["reason"]
    )


def test_a_pathway_can_say_what_the_referrer_reads_when_no_service_holds_it(signpost, directory, gp):
    script = 'status_for_referrer = "Sign-posted to First Contact Plus: they will call within 2 days"'
    signpost.definitions.deploy([samples.source(samples.script_then_user_task(script))], "tests")
    referral, _ = signpost.referrals.start(
        gp, pathway="sample", version=None, referrer="r", subject=None, data={}
    )
    assert referral["status_text"] == "Sign-posted to First Contact Plus: they will call within 2 days"


def test_a_clock_stopped_after_its_due_time_before_any_tick_is_breached_not_met(
    signpost, nursing, olas, gp, nursing_team
):
    referral = start_referral(signpost, gp, MONDAY_9)
    act(signpost, nursing_team, referral, "acknowledge", {}, MONDAY_9 + hours(2))  # no tick ran since 10:00
    ack = clocks(signpost, referral, MONDAY_9 + hours(2))["acknowledge"]
    assert ack["state"] == "breached"
    assert datetime.fromisoformat(ack["breached_at"]) == MONDAY_9 + hours(1)
    assert datetime.fromisoformat(ack["stopped_at"]) == MONDAY_9 + hours(2)


def test_a_clock_past_due_when_its_hand_off_closes_before_any_tick_is_breached_not_cancelled(
    signpost, nursing, olas, gp
):
    referral = start_referral(signpost, gp, MONDAY_9)
    with time_machine.travel(MONDAY_9 + hours(2), tick=False):  # no tick ran since the 10:00 due time
        signpost.handoffs.cancel(referral["id"], "seen by the practice nurse instead", gp)
    closed = clocks(signpost, referral, MONDAY_9 + hours(2))
    assert closed["acknowledge"]["state"] == "breached"
    assert datetime.fromisoformat(closed["acknowledge"]["breached_at"]) == MONDAY_9 + hours(1)
    # Accept-or-reject was due at 13:00: still in time when the hand-off closed, so it is cancelled.
    assert closed["accept-or-reject"]["state"] == "cancelled"
    assert closed["accept-or-reject"]["breached_at"] is None


def test_a_clock_paused_after_its_due_time_before_any_tick_is_breached_and_the_answer_is_taken(
    signpost, nursing, olas, gp, nursing_team
):
    referral = start_referral(signpost, gp, MONDAY_9)
    # Accept-or-reject was due at 13:00; no tick ran since. The question pauses it, the answer resumes it.
    act(
        signpost,
        nursing_team,
        referral,
        "request-information",
        {"question": "Allergies?"},
        MONDAY_9 + hours(5),
    )
    with time_machine.travel(MONDAY_9 + hours(6), tick=False):
        signpost.handoffs.supply_information(referral["id"], {"allergies": "none"}, gp)
    late = clocks(signpost, referral, MONDAY_9 + hours(6))["accept-or-reject"]
    assert late["state"] == "breached"
    assert datetime.fromisoformat(late["breached_at"]) == MONDAY_9 + hours(4)
    assert late["stopped_at"] is None  # still owed


def test_the_board_asks_for_the_obligations_still_owed_soonest_due_first(
    http, signpost, nursing, olas, gp, nursing_team, operator_headers
):
    met_late = start_referral(signpost, gp, MONDAY_9)
    act(signpost, nursing_team, met_late, "acknowledge", {}, MONDAY_9 + hours(2))  # breached, then met
    overdue = start_referral(signpost, gp, MONDAY_9 + hours(1))
    running = start_referral(signpost, gp, MONDAY_9 + hours(2.5))
    asked = {"state": ["running", "breached"], "open": "true"}
    with time_machine.travel(MONDAY_9 + hours(3), tick=False):
        signpost.olas.attend_due()  # the overdue acknowledgement is breached
        every = http.get(
            "/api/v1/obligations", query_string=asked | {"open": "false"}, headers=operator_headers
        )
        owed = http.get("/api/v1/obligations", query_string=asked, headers=operator_headers)
        first = http.get("/api/v1/obligations", query_string=asked | {"limit": 2}, headers=operator_headers)
    assert owed.status_code == 200, owed.json
    assert (met_late["reference"], "acknowledge", "breached") in {
        (c["reference"], c["obligation"], c["state"]) for c in every.json
    }
    listed = [(c["reference"], c["obligation"], c["state"]) for c in owed.json]
    # Due 11:00 (breached), 12:30, 13:00, 14:00 and 15:30 (running): soonest first, across the states.
    assert listed == [
        (overdue["reference"], "acknowledge", "breached"),
        (running["reference"], "acknowledge", "running"),
        (met_late["reference"], "accept-or-reject", "running"),
        (overdue["reference"], "accept-or-reject", "running"),
        (running["reference"], "accept-or-reject", "running"),
    ]
    assert all(c["stopped_at"] is None for c in owed.json)
    assert [(c["reference"], c["obligation"]) for c in first.json] == [entry[:2] for entry in listed[:2]]
