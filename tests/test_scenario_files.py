"""The scenario file format (engine/pathways/scenario_files.py, docs/scenarios.md): read strictly, every
problem at once with its line, and a broken file refuses the deployment it came with."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from engine.bpmn import SourceFile
from engine.errors import DefinitionInvalid
from engine.olas.calendars import CALENDARS
from engine.olas.obligation_clocks import OPEN_STATES
from engine.pathways import scenario_files
from engine.pathways.scenario_files import Duration, read_scenario_file, scenario_pathway, scenario_problems
from engine.routing.transitions import CLOSED, OPEN, SERVICE_TRANSITIONS
from tests import bpmn_samples as samples
from tests.conftest import PROCESSES

GOOD = """\
pathway: sample
scenarios:
  - name: the whole vocabulary
    start:
      at: 2026-01-09T10:00:00Z
      referrer: C81001
      subject: "9434765919"
      point_of_access: community-health-spa
      data: {clinical_need: medication, housebound: false, score: 3, notes: null}
    steps:
      - complete: review
        data: {answer: "yes"}
      - service: community-nursing-city
        action: accept
        body: {window: Tue 14:00-16:00}
        expect: {status_text_contains: Accepted}
      - supply_information: {allergies: none}
      - message: visit.booked
        data: {slot: 3}
      - signal: snow
      - external_task: address-lookup
        data: {uprn: "100030"}
      - external_task: address-lookup
        bpmn_error: NOT_FOUND
        error_message: no such address
      - wait: PT2H
      - wait: P1DT12H
      - wait: 2 working days
      - wait: 3 working hours on office-hours
      - at: "2026-01-20T09:00:00+00:00"
      - expect:
          tasks: []
      - cancel: seen in clinic instead
    expect:
      status: completed
      end_event: [end_completed, end_escalated]
      tasks: [review]
      handoffs: [{service: community-nursing-city, status: completed}]
      clocks: [{obligation: acknowledge, state: met, service: community-nursing-city}]
      milestones: [referral.received, ola.breached]
      data: {priority: routine, acceptance.window: Tue 14:00-16:00}
"""


def read(text: str, filename: str = "sample.scenarios.yaml"):
    return read_scenario_file(SourceFile(filename, text.encode()))


def problems(text: str) -> list[tuple[int | None, str]]:
    return [(p.line, p.message) for p in scenario_problems(SourceFile("x.scenarios.yaml", text.encode()))]


def test_a_file_using_every_key_reads_into_steps_and_checks():
    [scenario] = read(GOOD).scenarios
    assert (scenario.name, scenario.pathway, scenario.line) == ("the whole vocabulary", "sample", 3)
    assert scenario.start.at == datetime(2026, 1, 9, 10, tzinfo=UTC)
    assert scenario.start.data == {
        "clinical_need": "medication",
        "housebound": False,
        "score": 3,
        "notes": None,
    }
    kinds = [step.kind for step in scenario.steps]
    assert kinds == [
        "complete",
        "service",
        "supply_information",
        "message",
        "signal",
        "external_task",
        "external_task",
        "wait",
        "wait",
        "wait",
        "wait",
        "at",
        "expect",
        "cancel",
    ]
    service = scenario.steps[1]
    assert (service.target, service.action, service.data, service.line) == (
        "community-nursing-city",
        "accept",
        {"window": "Tue 14:00-16:00"},
        13,
    )
    assert [(c.kind, c.expected, c.line) for c in service.expect] == [
        ("status_text_contains", "Accepted", 16)
    ]
    assert scenario.steps[6].error_code == "NOT_FOUND"
    assert [step.target for step in scenario.steps[7:11]] == [
        Duration("PT2H", real=timedelta(hours=2)),
        Duration("P1DT12H", real=timedelta(days=1, hours=12)),
        Duration("2 working days", working_amount=2, working_unit="days"),
        Duration(
            "3 working hours on office-hours", working_amount=3, working_unit="hours", calendar="office-hours"
        ),
    ]
    assert scenario.steps[11].target == datetime(2026, 1, 20, 9, tzinfo=UTC)
    checks = {check.kind: check.expected for check in scenario.expect}
    assert checks["end_event"] == ("end_completed", "end_escalated")
    assert checks["clocks"] == (
        {"obligation": "acknowledge", "state": "met", "service": "community-nursing-city"},
    )
    assert checks["data"] == {"priority": "routine", "acceptance.window": "Tue 14:00-16:00"}


def test_the_shipped_scenario_files_are_valid():
    shipped = sorted(PROCESSES.glob("*.scenarios.yaml"))
    assert [p.name for p in shipped] == [
        "adult_mental_health_spa.scenarios.yaml",
        "adult_social_care_front_door.scenarios.yaml",
        "ambulance_conveyance_avoidance.scenarios.yaml",
        "bed_bureau_admission.scenarios.yaml",
        "clinical_triage_nhs111.scenarios.yaml",
        "community_nursing_referral.scenarios.yaml",
        "first_contact_plus.scenarios.yaml",
        "integrated_crisis_response.scenarios.yaml",
        "repeat_contact.scenarios.yaml",
    ]
    for path in shipped:
        assert scenario_problems(SourceFile(path.name, path.read_bytes())) == [], path.name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("scenarios:\n  - name: a\n    colour: red\n", [(3, 'unknown key "colour" in a scenario')]),
        ("scenarios:\n  - steps: []\n", [(2, 'a scenario needs "name"')]),
        (
            "scenarios:\n  - name: a\n  - name: a\n",
            [(3, 'two scenarios are named "a" (the first at line 2)')],
        ),
        ("scenarios:\n  - name: a\n    name: b\n", [(3, '"name" appears twice in a scenario')]),
        (
            "scenarios:\n  - name: a\n    steps:\n      - complete: x\n        service: y\n",
            [(4, "a step does one thing; this one has complete, service: split it in two")],
        ),
        (
            "scenarios:\n  - name: a\n    steps:\n      - message: m\n        body: {}\n",
            [(5, '"body" is not an option of a message step (it takes data)')],
        ),
        (
            "scenarios:\n  - name: a\n    steps:\n      - service: s\n",
            [(4, "action is missing (one of acknowledge, accept")],
        ),
        (
            "scenarios:\n  - name: a\n    steps:\n      - service: s\n        action: explode\n",
            [(5, "action 'explode' is not one of acknowledge")],
        ),
        (
            "scenarios:\n  - name: a\n    steps:\n      - wait: 3 months\n",
            [(4, "wait '3 months': give an ISO 8601")],
        ),
        ("scenarios:\n  - name: a\n    steps:\n      - wait: P1M\n", [(4, "wait 'P1M': give an ISO 8601")]),
        (
            "scenarios:\n  - name: a\n    steps:\n      - wait: 2 working days on the-moon\n",
            [(4, "unknown calendar 'the-moon'")],
        ),
        (
            "scenarios:\n  - name: a\n    steps:\n      - at: 2026-01-05T09:00:00\n",
            [(4, "at must be a date-time with a UTC offset")],
        ),
        (
            "scenarios:\n  - name: a\n    start:\n      subject: 9434765919\n",
            [(4, "subject must be text (quote an NHS number)")],
        ),
        (
            "scenarios:\n  - name: a\n    start:\n      data: {when: 2026-01-05}\n",
            [(4, "start data: when is a date: put it in quotes to pass it as text")],
        ),
        (
            "scenarios:\n  - name: a\n    steps:\n      - complete: t\n        data: {note: a, b c}\n",
            [(5, "complete data: 'b c' is not a plain identifier")],
        ),
        (
            "scenarios:\n  - name: a\n    expect:\n      status: done\n",
            [(4, "status 'done' is not one of waiting, completed, cancelled, incident")],
        ),
        (
            "scenarios:\n  - name: a\n    expect:\n      milestones: [referral.lost]\n",
            [(4, "unknown milestone 'referral.lost'")],
        ),
        (
            "scenarios:\n  - name: a\n    expect:\n      clocks:\n        - {obligation: x, state: late}\n",
            [(5, "a clock's state 'late' is not one of running, paused, met, breached, cancelled")],
        ),
        (
            "scenarios:\n  - name: a\n    expect:\n      handoffs:\n        - {service: x}\n",
            [(5, 'a hand-off needs "status"')],
        ),
        (
            "scenarios:\n  - name: a\n    steps:\n      - external_task: t\n        error_message: why\n",
            [(5, "error_message goes with bpmn_error")],
        ),
        ("scenarios:\n  - name: a\n    expect: {score: 1}\n", [(3, 'unknown key "score" in expect')]),
        ("scenarios: {}\n", [(1, "scenarios is a list")]),
        ("- one\n", [(1, "a scenario file is a mapping")]),
        ("", [(None, 'a scenario file is a YAML mapping with "scenarios"')]),
        ("scenarios: [\n", [(2, "a scenario file must be YAML")]),
        (
            "a: &x [1]\nb: *x\n",
            [(2, "a scenario file must be YAML: anchors and aliases (*name) are not allowed")],
        ),
    ],
)
def test_each_problem_is_named_with_its_line(text, expected):
    found = problems(text)
    assert [
        (line, message[: len(wanted)]) for (line, message), (_, wanted) in zip(found, expected, strict=False)
    ] == [(line, wanted) for line, wanted in expected], found
    assert len(found) == len(expected), found


def test_every_problem_of_a_file_is_reported_at_once_in_line_order():
    text = (
        "scenarios:\n  - name: a\n    colour: red\n    steps:\n      - wait: soon\n"
        "  - name: b\n    expect: x\n"
    )
    assert [line for line, _ in problems(text)] == [3, 5, 7]


def test_a_broken_scenario_file_refuses_the_deployment_with_its_lines(signpost):
    broken = SourceFile("sample.scenarios.yaml", b"scenarios:\n  - name: a\n    steps:\n      - dance: now\n")
    with pytest.raises(DefinitionInvalid) as refused:
        signpost.definitions.deploy([samples.source(samples.script_then_user_task()), broken], "tests")
    [problem] = refused.value.problems
    assert (problem.file, problem.line) == ("sample.scenarios.yaml", 4)
    assert problem.message.startswith('unknown key "dance" in a step')
    assert signpost.definitions.list() == []


def test_the_file_names_its_pathway():
    assert (
        scenario_pathway("processes/community_nursing_referral.scenarios.yaml")
        == "community_nursing_referral"
    )
    assert scenario_pathway("a.scenarios.yml") == "a"
    assert read("scenarios: []\n").pathway is None


def test_the_vocabularies_repeated_in_the_format_match_the_engine():
    """engine/pathways sits below routing and olas, so the format repeats their words: they must agree."""
    assert set(scenario_files.HANDOFF_ACTIONS) == set(SERVICE_TRANSITIONS)
    assert set(scenario_files.HANDOFF_STATUSES) == set(OPEN) | set(CLOSED)
    assert set(scenario_files.CLOCK_STATES) == {*OPEN_STATES, "met", "cancelled"}
    assert set(scenario_files.CALENDARS) == set(CALENDARS)


def test_the_documentation_shows_every_key():
    documented = (PROCESSES.parent / "docs" / "scenarios.md").read_text()
    keys = {
        *scenario_files.FILE_KEYS,
        *scenario_files.SCENARIO_KEYS,
        *scenario_files.START_KEYS,
        *scenario_files.STEP_OPTIONS,
        *(o for options in scenario_files.STEP_OPTIONS.values() for o in options),
        *scenario_files.EXPECTATIONS,
    }
    assert {key for key in keys if not re.search(rf"`{re.escape(key)}[`:]", documented)} == set()
