"""The scenario runner (engine/scenarios/): scenarios run against the real engine in virtual time, each in a
throw-away store; failures name their step and line; coverage says which elements and flows were gone
through. The clock of every test stays pinned (``frozen_clock``): a run moves only its own virtual clocks."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from engine.bpmn import SourceFile
from engine.errors import DefinitionInvalid, InvalidInput
from engine.scenarios import Directory, RunLimits, run_scenarios
from tests import bpmn_samples as samples
from tests.conftest import NURSING_FILES, PROCESSES, ROOT, SOPS, START

NURSING = [SourceFile(name, (PROCESSES / name).read_bytes()) for name in NURSING_FILES]
ROUTINE = "{clinical_need: medication, address_postcode: LE1 5WW, housebound: false}"

# A parallel split and join, then a review with an interrupting boundary timer.
SPLIT_JOIN_AND_BOUNDARY = samples.process(
    """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="split"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="a" name="A"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="b" name="B"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:parallelGateway id="join"><bpmn:incoming>f4</bpmn:incoming><bpmn:incoming>f5</bpmn:incoming>
      <bpmn:outgoing>f6</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="review" name="Review">
      <bpmn:incoming>f6</bpmn:incoming><bpmn:outgoing>f7</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="late" name="Late" attachedToRef="review"><bpmn:outgoing>f8</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="done"><bpmn:incoming>f7</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="too_late"><bpmn:incoming>f8</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split"/>
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="a"/>
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="b"/>
    <bpmn:sequenceFlow id="f4" sourceRef="a" targetRef="join"/>
    <bpmn:sequenceFlow id="f5" sourceRef="b" targetRef="join"/>
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="review"/>
    <bpmn:sequenceFlow id="f7" sourceRef="review" targetRef="done"/>
    <bpmn:sequenceFlow id="f8" sourceRef="late" targetRef="too_late"/>"""
)

# An external task, then a message, then a signal.
WORKER_MESSAGE_AND_SIGNAL = f"""{samples.HEADER}
  <bpmn:message id="booked" name="visit.booked"/>
  <bpmn:signal id="snow" name="snow"/>
  <bpmn:process id="sample" name="Sample" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="lookup" name="Look up">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="signpost.external">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="topic" type="str" value="'address-lookup'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:intermediateCatchEvent id="wait_booking"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:messageEventDefinition messageRef="booked"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="wait_snow"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing><bpmn:signalEventDefinition signalRef="snow"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="lookup"/>
    <bpmn:sequenceFlow id="f2" sourceRef="lookup" targetRef="wait_booking"/>
    <bpmn:sequenceFlow id="f3" sourceRef="wait_booking" targetRef="wait_snow"/>
    <bpmn:sequenceFlow id="f4" sourceRef="wait_snow" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""

# Routes to the City duty social work team, whose adult social care OLA gives it 16 working hours (two days on
# office-hours) to accept or reject.
ROUTED_TO_THE_DUTY_TEAM = samples.process(
    f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {samples.routing_task("city-duty-social-work", "adult-social-care")}
    <bpmn:userTask id="follow_up" name="Follow up"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="route"/>
    <bpmn:sequenceFlow id="f2" sourceRef="route" targetRef="follow_up"/>
    <bpmn:sequenceFlow id="f3" sourceRef="follow_up" targetRef="end"/>"""
)


@pytest.fixture(scope="module")
def directory() -> Directory:
    return Directory.from_files(
        (SOPS / "services.toml").read_text(), "services.toml", (SOPS / "olas.toml").read_text(), "olas.toml"
    )


@pytest.fixture
def run(settings, directory):
    def run_files(files: list[SourceFile], scenarios: str | None = None, **options):
        if scenarios is not None:
            files = [*files, SourceFile("sample.scenarios.yaml", scenarios.encode())]
        return run_scenarios(files, directory, settings, **options)

    return run_files


def sample(text: str) -> list[SourceFile]:
    return [samples.source(text)]


def test_a_scenario_that_holds_passes_with_its_timeline(run):
    result = run(
        NURSING,
        f"""
pathway: community_nursing_referral
scenarios:
  - name: accepted and completed
    start: {{subject: "9434765919", data: {ROUTINE}}}
    steps:
      - service: community-nursing-city
        action: accept
        body: {{window: Tue 14:00-16:00}}
      - wait: PT3H
      - service: community-nursing-city
        action: complete
        body: {{outcome: seen}}
    expect: {{status: completed, end_event: end_completed}}
""",
    )
    [scenario] = result.scenarios
    assert (scenario.passed, scenario.pathway, scenario.failures) == (True, "community_nursing_referral", [])
    assert result.passed
    assert [(m.step, m.at, m.did, m.status) for m in scenario.timeline] == [
        (0, "2026-01-05T09:00:00+00:00", "started community_nursing_referral", "waiting"),
        (1, "2026-01-05T09:00:00+00:00", "community-nursing-city: accept", "waiting"),
        (2, "2026-01-05T12:00:00+00:00", "waited PT3H", "waiting"),
        (3, "2026-01-05T12:00:00+00:00", "community-nursing-city: complete", "completed"),
    ]
    assert scenario.timeline[1].status_text == (
        "Accepted by City community nursing — visit booked Tue 14:00-16:00"
    )


def test_failed_expectations_are_reported_with_their_step_and_line_and_the_scenario_goes_on(run):
    result = run(
        NURSING,
        f"""
pathway: community_nursing_referral
scenarios:
  - name: wrong about everything
    start: {{subject: "9434765919", data: {ROUTINE}}}
    steps:
      - expect:
          status: completed
          status_text_contains: Accepted
          tasks: [review_rejection]
          handoffs: [{{service: community-nursing-rutland, status: requested}}]
          clocks: [{{obligation: acknowledge, state: met}}]
          milestones: [referral.completed]
          data: {{priority: urgent, handoff.status: requested, nowhere: 1, housebound: 0}}
      - service: community-nursing-city
        action: reject
        body: {{reason: full}}
    expect:
      end_event: end_completed
""",
    )
    [scenario] = result.scenarios
    assert not scenario.passed and not result.passed
    found = [(f.step, f.line, f.message) for f in scenario.failures]
    assert found == [
        (1, 8, "status: status is 'waiting', expected 'completed'"),
        (
            1,
            9,
            "status_text_contains: status text is "
            '"Sent to City community nursing, waiting for them to respond", '
            'which does not contain "Accepted"',
        ),
        (1, 10, "tasks: open tasks are [none], expected [review_rejection]"),
        (
            1,
            11,
            "handoffs: hand-offs are [community-nursing-city requested], "
            "expected [community-nursing-rutland requested]",
        ),
        (1, 12, found[4][2]),
        (1, 13, found[5][2]),
        (
            1,
            14,
            'data: data priority is "routine", expected "urgent"; data has no nowhere; '
            "data housebound is false, expected 0",
        ),
        (None, 19, found[7][2]),
    ]
    assert found[4][2] == (
        "clocks: no clock acknowledge met; the clocks: accept-or-reject running (community-nursing-city); "
        "acknowledge running (community-nursing-city)"
    )
    assert found[5][2] == (
        "milestones: not sent: referral.completed "
        "(sent: referral.received, referral.triaged, referral.routed)"
    )
    assert found[7][2].startswith("end_event: not reached: end_completed (completed so far: ")
    # Failed checks do not stop a scenario: the rejection after them was made.
    assert scenario.timeline[-1].did == "community-nursing-city: reject"


def test_a_step_the_engine_refuses_ends_the_scenario_there(run):
    result = run(
        NURSING,
        f"""
pathway: community_nursing_referral
scenarios:
  - name: refused
    start: {{subject: "9434765919", data: {ROUTINE}}}
    steps:
      - complete: review_rejection
      - service: community-nursing-city
        action: complete
        body: {{outcome: seen}}
      - wait: PT1H
    expect: {{status: completed}}
  - name: acted out of order
    start: {{subject: "9434765919", data: {ROUTINE}}}
    steps:
      - service: community-nursing-city
        action: complete
        body: {{outcome: seen}}
      - at: 2025-01-01T00:00:00Z
  - name: the clock never goes back
    start: {{subject: "9434765919", data: {ROUTINE}}}
    steps:
      - at: 2025-01-01T00:00:00Z
""",
    )
    refused, out_of_order, backwards = result.scenarios
    assert [(f.step, f.line, f.message) for f in refused.failures] == [
        (1, 7, "no open task 'review_rejection' (no task is open)")
    ]
    assert len(refused.timeline) == 1  # only the start: nothing after the refused step ran
    [failure] = out_of_order.failures
    assert (failure.step, failure.line) == (1, 16)
    assert failure.message.startswith(
        "cannot complete a hand-off that is requested; allowed now: acknowledge"
    )
    [failure] = backwards.failures
    assert failure.message.startswith("the clock cannot go back from 2026-01-05T09:00:00+00:00")


def test_a_two_working_day_ola_breaches_over_a_weekend_in_virtual_time(run, frozen_clock):
    result = run(
        sample(ROUTED_TO_THE_DUTY_TEAM),
        """
scenarios:
  - name: routed on a Friday morning, not answered until Tuesday
    start: {at: 2026-01-09T10:00:00Z}
    steps:
      - expect:
          clocks: [{obligation: accept-or-reject, state: running, service: city-duty-social-work}]
      - wait: 1 working day
        expect:
          clocks: [{obligation: accept-or-reject, state: running}]
          milestones: [ola.warning]
      - wait: 1 working day
        expect:
          clocks: [{obligation: accept-or-reject, state: breached}]
          milestones: [ola.breached]
      - service: city-duty-social-work
        action: accept
""",
    )
    [scenario] = result.scenarios
    assert scenario.failures == []
    # Friday 10:00 + 1 working day on office-hours is Monday 10:00; 1 more, Tuesday 10:00: 16 business hours.
    assert [m.at for m in scenario.timeline] == [
        "2026-01-09T10:00:00+00:00",
        "2026-01-09T10:00:00+00:00",
        "2026-01-12T10:00:00+00:00",
        "2026-01-13T10:00:00+00:00",
        "2026-01-13T10:00:00+00:00",
    ]
    assert "on office-hours" in scenario.timeline[2].did
    # The test's own clock did not move: the run's clock is its own.
    assert datetime.now(UTC) == START


def test_working_hours_and_a_named_calendar(run):
    result = run(
        sample(ROUTED_TO_THE_DUTY_TEAM),
        """
scenarios:
  - name: late on a Friday
    start: {at: 2026-01-09T16:00:00Z}
    steps:
      - wait: 2 working hours on office-hours
      - wait: 1 working day on 24x7
      - wait: PT90M
""",
    )
    [scenario] = result.scenarios
    assert [m.at for m in scenario.timeline[1:]] == [
        "2026-01-12T10:00:00+00:00",  # an hour on Friday, an hour on Monday
        "2026-01-13T10:00:00+00:00",
        "2026-01-13T11:30:00+00:00",
    ]


def test_coverage_of_a_small_sample_pathway(run):
    result = run(
        sample(samples.gateway("answer == 'yes'")),
        """
scenarios:
  - name: says yes
    start: {data: {answer: "yes"}}
    steps:
      - complete: "Yes"
    expect: {status: completed, end_event: end}
""",
    )
    assert result.passed
    [(process_id, coverage)] = result.coverage.items()
    assert process_id == "sample"
    assert coverage.elements == {"start": True, "decide": True, "yes": True, "no": False, "end": True}
    assert coverage.flows == {"f1": True, "f_yes": True, "f_no": False, "f2": True, "f3": False}
    assert (coverage.elements_covered, coverage.flows_covered) == (4, 3)
    assert not result.fully_covered
    assert result.as_dict()["coverage"]["sample"] == {
        "file": "sample.bpmn",
        "elements": coverage.elements,
        "flows": coverage.flows,
        "covered": 7,
        "total": 10,
        "elements_covered": 4,
        "elements_total": 5,
        "flows_covered": 3,
        "flows_total": 5,
    }


def test_coverage_through_a_parallel_join_and_boundary_events(run):
    on_time = """
  - name: on time
    steps:
      - complete: a
      - complete: b
      - complete: review
    expect: {status: completed, end_event: done}
"""
    late = """
  - name: late
    steps:
      - complete: b
      - complete: a
      - wait: PT61M
    expect: {status: completed, end_event: too_late}
"""
    first = run(sample(SPLIT_JOIN_AND_BOUNDARY), "scenarios:" + on_time).coverage["sample"]
    # Waiting for a boundary event is not going through it.
    assert first.uncovered_elements() == ["late", "too_late"]
    assert first.uncovered_flows() == ["f8"]
    second = run(sample(SPLIT_JOIN_AND_BOUNDARY), "scenarios:" + late).coverage["sample"]
    # The interrupted review was reached; its own outgoing flow was not taken. Both branches reached the join.
    assert second.uncovered_elements() == ["done"]
    assert second.uncovered_flows() == ["f7"]
    both = run(sample(SPLIT_JOIN_AND_BOUNDARY), "scenarios:" + on_time + late)
    assert both.passed and both.fully_covered


ANSWER_OR_TIMEOUT = f"""{samples.HEADER}
  <bpmn:message id="answer" name="answer"/>
  <bpmn:process id="sample" name="Sample" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:eventBasedGateway id="first"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing></bpmn:eventBasedGateway>
    <bpmn:intermediateCatchEvent id="answered">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="answer"/></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="timeout">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="on_answer"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="on_timeout"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first"/>
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="answered"/>
    <bpmn:sequenceFlow id="f3" sourceRef="first" targetRef="timeout"/>
    <bpmn:sequenceFlow id="f4" sourceRef="answered" targetRef="on_answer"/>
    <bpmn:sequenceFlow id="f5" sourceRef="timeout" targetRef="on_timeout"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_waiting_behind_an_event_based_gateway_is_not_going_through(run):
    waiting = run(sample(ANSWER_OR_TIMEOUT), "scenarios: [{name: waits, expect: {status: waiting}}]")
    assert waiting.coverage["sample"].uncovered_flows() == ["f2", "f3", "f4", "f5"]
    timed_out = run(sample(ANSWER_OR_TIMEOUT), "scenarios: [{name: t, steps: [{wait: PT2H}]}]")
    assert timed_out.coverage["sample"].uncovered_elements() == ["answered", "on_answer"]
    assert timed_out.coverage["sample"].uncovered_flows() == ["f2", "f4"]
    answered = run(sample(ANSWER_OR_TIMEOUT), "scenarios: [{name: a, steps: [{message: answer}]}]")
    assert answered.coverage["sample"].uncovered_flows() == ["f3", "f5"]
    assert answered.scenarios[0].failures == []


def test_coverage_of_a_called_process_and_an_embedded_subprocess(run):
    callee = samples.script_then_user_task("called = True", process_id="callee")
    caller = samples.process(
        """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="call" calledElement="callee"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:subProcess id="sub"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:startEvent id="s_start"><bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:userTask id="s_task"><bpmn:incoming>s1</bpmn:incoming><bpmn:outgoing>s2</bpmn:outgoing>
      </bpmn:userTask>
      <bpmn:endEvent id="s_end"><bpmn:incoming>s2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="s1" sourceRef="s_start" targetRef="s_task"/>
      <bpmn:sequenceFlow id="s2" sourceRef="s_task" targetRef="s_end"/>
    </bpmn:subProcess>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call"/>
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="sub"/>
    <bpmn:sequenceFlow id="f3" sourceRef="sub" targetRef="end"/>""",
        process_id="caller",
    )
    files = [samples.source(caller, "caller.bpmn"), samples.source(callee, "callee.bpmn")]
    halfway = run(files, "scenarios: [{name: h, pathway: caller, steps: [{complete: review}]}]")
    # The embedded subprocess's elements count under the process that holds it; the callee has its own.
    assert halfway.coverage["caller"].uncovered_elements() == ["s_end", "end"]
    assert halfway.coverage["caller"].uncovered_flows() == ["s2", "f3"]
    assert halfway.coverage["callee"].uncovered_flows() == []
    steps = "[{complete: review}, {complete: s_task}]"
    done = run(
        files, f"scenarios: [{{name: d, pathway: caller, steps: {steps}, expect: {{end_event: s_end}}}}]"
    )
    assert done.passed and done.fully_covered


def test_external_tasks_messages_and_signals(run):
    result = run(
        sample(WORKER_MESSAGE_AND_SIGNAL),
        """
scenarios:
  - name: too early
    steps:
      - message: visit.booked
  - name: looked up, booked, snowed in
    steps:
      - external_task: address-lookup
        data: {uprn: "100030"}
        expect: {data: {uprn: "100030"}}
      - message: visit.booked
        data: {slot: 3}
      - signal: snow
    expect: {status: completed, end_event: end}
  - name: the worker throws an error nothing catches
    steps:
      - external_task: address-lookup
        bpmn_error: NOT_FOUND
        error_message: no such address
        expect: {status: incident}
      - external_task: address-lookup
""",
    )
    too_early, done, thrown = result.scenarios
    [failure] = too_early.failures
    assert (failure.step, failure.line) == (1, 5)
    assert "visit.booked" in failure.message
    assert done.failures == []
    assert [(f.step, f.message) for f in thrown.failures] == [
        (2, "no external task on topic 'address-lookup' to fetch (the referral's: address-lookup (failed))")
    ]
    assert result.coverage["sample"].uncovered_flows() == []


def test_information_requests_and_cancellation(run):
    result = run(
        NURSING,
        f"""
pathway: community_nursing_referral
scenarios:
  - name: asked, answered, withdrawn
    start: {{subject: "9434765919", data: {ROUTINE}}}
    steps:
      - service: community-nursing-city
        action: request-information
        body: {{question: "any allergies?"}}
        expect:
          handoffs: [{{service: community-nursing-city, status: on-hold}}]
          clocks:
            - {{obligation: supply-information, state: running}}
            - {{obligation: accept-or-reject, state: paused}}
          milestones: [referral.information_requested]
      - supply_information: {{allergies: none}}
        expect:
          handoffs: [{{service: community-nursing-city, status: requested}}]
          clocks: [{{obligation: supply-information, state: met}}]
      - cancel: seen in clinic instead
    expect:
      status: cancelled
      status_text_contains: Cancelled by the referrer
      handoffs: [{{service: community-nursing-city, status: cancelled}}]
      milestones: [referral.cancelled]
""",
    )
    assert result.scenarios[0].failures == []


def test_which_pathway_a_scenario_runs(run):
    two_pathways = [
        samples.source(samples.script_then_user_task(process_id="first"), "first.bpmn"),
        samples.source(samples.script_then_user_task(process_id="second"), "second.bpmn"),
    ]
    result = run(
        two_pathways,
        """
scenarios:
  - name: unsaid
  - name: named
    pathway: second
    expect: {tasks: [review]}
  - name: unknown
    pathway: third
""",
    )
    unsaid, named, unknown = result.scenarios
    assert unsaid.failures[0].message.startswith("say which pathway the scenario runs")
    assert (named.pathway, named.passed) == ("second", True)
    assert unknown.failures[0].message == "no pathway 'third' among the files (first, second)"
    named_by_file = run([*two_pathways, SourceFile("first.scenarios.yaml", b"scenarios: [{name: by file}]")])
    assert [(s.pathway, s.passed) for s in named_by_file.scenarios] == [("first", True)]
    only = run(two_pathways, "scenarios: [{name: second only, pathway: second}]", pathways={"second"})
    assert list(only.coverage) == ["second"]


def test_a_broken_file_runs_nothing_and_names_every_problem(run):
    with pytest.raises(DefinitionInvalid) as refused:
        run(
            [
                *NURSING,
                SourceFile("a.scenarios.yaml", b"scenarios:\n  - name: a\n    steps: [{dance: now}]\n"),
                SourceFile("b.scenarios.yaml", b"scenarios:\n  - nom: b\n"),
            ]
        )
    assert [(p.file, p.line) for p in refused.value.problems] == [
        ("a.scenarios.yaml", 3),
        ("b.scenarios.yaml", 2),
        ("b.scenarios.yaml", 2),
    ]
    with pytest.raises(DefinitionInvalid) as refused:
        run([samples.source("<not xml")], "scenarios: [{name: a}]")
    assert refused.value.problems[0].file == "sample.bpmn"


def test_runs_are_bounded(run):
    many = "scenarios:\n" + "".join(f"  - name: s{n}\n" for n in range(4))
    with pytest.raises(InvalidInput, match="4 scenarios: a run takes at most 3"):
        run(sample(samples.script_then_user_task()), many, limits=RunLimits(max_scenarios=3))
    long = "scenarios:\n  - name: long\n    steps: [{wait: PT1M}, {wait: PT1M}, {wait: PT1M}]\n"
    with pytest.raises(InvalidInput, match="has 3 steps; a scenario takes at most 2"):
        run(sample(samples.script_then_user_task()), long, limits=RunLimits(max_steps=2))
    out_of_time = run(sample(samples.script_then_user_task()), many, limits=RunLimits(time_limit_seconds=0))
    assert {f.message for s in out_of_time.scenarios for f in s.failures} == {
        "not run: the run's time limit of 0 seconds was reached"
    }
    assert not out_of_time.passed


def test_an_endless_timer_cycle_fails_its_step(run):
    cycle = samples.process(
        """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="work" name="Work"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="remind" attachedToRef="work" cancelActivity="false">
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeCycle>"R/PT1M"</bpmn:timeCycle></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="reminded"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
    <bpmn:sequenceFlow id="f3" sourceRef="remind" targetRef="reminded"/>"""
    )
    result = run(
        sample(cycle), "scenarios: [{name: a week, steps: [{wait: P7D}]}]", limits=RunLimits(max_wakes=20)
    )
    [failure] = result.scenarios[0].failures
    assert re.match(r"more than 20 timers and OLA checks fell due in one step", failure.message)


def test_a_run_stores_nothing_in_the_callers_database(run, signpost):
    result = run(NURSING, f'scenarios: [{{name: a, start: {{subject: "9434765919", data: {ROUTINE}}}}}]')
    assert result.passed
    assert signpost.definitions.list() == []
    assert signpost.services.list() == []


def test_the_example_in_the_documentation_passes(run):
    text = (ROOT / "docs" / "scenarios.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    result = run(NURSING, example)
    assert [(s.name, s.failures) for s in result.scenarios if not s.passed] == []
    assert len(result.scenarios) == 3
