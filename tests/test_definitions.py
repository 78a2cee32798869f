"""Deploying definitions: versions, validation failures located by file/element/line, hostile XML."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.bpmn import SourceFile
from engine.errors import DefinitionInvalid
from engine.store.tables import definition_files, definition_versions
from tests import bpmn_samples as samples


def deploy(signpost, *sources, key=None):
    return signpost.definitions.deploy(list(sources), "tests", key=key)


def stored_versions(signpost) -> int:
    with signpost.database.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(definition_versions)).scalar()


def refused(signpost, *sources) -> DefinitionInvalid:
    with pytest.raises(DefinitionInvalid) as caught:
        deploy(signpost, *sources)
    assert stored_versions(signpost) == 0
    with signpost.database.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(definition_files)).scalar() == 0
    return caught.value


def test_versions_are_numbered_and_identical_content_is_not_stored_twice(signpost):
    first = deploy(signpost, samples.source(samples.script_then_user_task("x = 1")))
    same = deploy(signpost, samples.source(samples.script_then_user_task("x = 1"), filename="renamed.bpmn"))
    second = deploy(signpost, samples.source(samples.script_then_user_task("x = 2")))
    assert (first.number, first.created) == (1, True)
    assert (same.number, same.created, same.version_id) == (1, False, first.version_id)
    assert (second.number, second.created) == (2, True)
    assert first.sha256 != second.sha256
    versions = signpost.definitions.get("sample")["versions"]
    assert [v["number"] for v in versions] == [1, 2]
    stored = signpost.definitions.version("sample", 1, with_files=True)
    assert "x = 1" in stored["files"][0]["content"]


def test_running_instances_keep_their_version_and_new_ones_take_the_latest(signpost, gp, practice_operator):
    deploy(signpost, samples.source(samples.script_then_user_task("x = 1")))
    old, _ = signpost.referrals.start(gp, pathway="sample", version=None, referrer="r", subject=None, data={})
    deploy(signpost, samples.source(samples.script_then_user_task("x = 2")))
    new, _ = signpost.referrals.start(gp, pathway="sample", version=None, referrer="r", subject=None, data={})
    pinned, _ = signpost.referrals.start(gp, pathway="sample", version=1, referrer="r", subject=None, data={})
    assert (old["pathway"]["version"], old["data"]["x"]) == (1, 1)
    assert (new["pathway"]["version"], new["data"]["x"]) == (2, 2)
    assert (pinned["pathway"]["version"], pinned["data"]["x"]) == (1, 1)
    task_id = old["waiting_for"]["tasks"][0]["id"]
    assert signpost.referrals.complete_task(task_id, {}, practice_operator)["status"] == "completed"


CALLER = samples.process(
    """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="call" name="Call" calledElement="callee">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call"/>
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end"/>""",
    process_id="caller",
)


def test_a_deployment_holding_a_call_activity_and_its_callee(signpost, gp):
    callee = samples.script_then_user_task("called = True", process_id="callee")
    version = deploy(signpost, samples.source(CALLER, "caller.bpmn"), samples.source(callee, "callee.bpmn"))
    assert version.key == "caller"
    started, _ = signpost.referrals.start(
        gp, pathway="caller", version=None, referrer="r", subject=None, data={}
    )
    assert [t["element_id"] for t in started["waiting_for"]["tasks"]] == ["review"]


@pytest.mark.parametrize(("startable", "pathways"), [(None, ["caller"]), ("true", ["callee", "caller"])])
def test_a_called_process_is_a_pathway_of_its_own_only_when_it_says_it_is_startable(
    signpost, startable, pathways
):
    callee = samples.script_then_user_task("called = True", process_id="callee")
    if startable:
        callee = callee.replace(
            '<bpmn:process id="callee"',
            f'<bpmn:process xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="callee" '
            f'camunda:isStartableInTasklist="{startable}"',
        )
    files = [samples.source(CALLER, "caller.bpmn"), samples.source(callee, "callee.bpmn")]
    deployed = signpost.definitions.deploy_each_top_level(files, "tests")
    assert sorted(v.key for v in deployed) == pathways


def test_forms_and_scenarios_are_stored_with_the_version_as_uploaded(signpost):
    form = SourceFile("review.form.json", b'{"components": [], "type": "default"}')
    scenarios = SourceFile("sample.scenarios.yaml", b"scenarios: []\n")
    deployed = deploy(signpost, samples.source(samples.script_then_user_task("x = 1")), form, scenarios)
    files = signpost.definitions.version("sample", deployed.number, with_files=True)["files"]
    assert {f["filename"]: f["content"] for f in files} == {
        "sample.bpmn": samples.script_then_user_task("x = 1"),
        "review.form.json": form.content.decode(),
        "sample.scenarios.yaml": scenarios.content.decode(),
    }


def test_a_broken_companion_refuses_the_deployment_with_the_diagrams_problems(signpost):
    invalid = refused(
        signpost,
        samples.source(samples.script_then_user_task("import os")),
        SourceFile("review.form.json", b"{not json"),
        SourceFile("sample.scenarios.yaml", b"a: &x [1]\nb: *x\n"),
    )
    files = [problem.file for problem in invalid.problems]
    assert files[:2] == ["review.form.json", "sample.scenarios.yaml"]
    assert "sample.bpmn" in files
    assert "anchors and aliases" in invalid.problems[1].message


def test_schema_violation_names_file_and_line(signpost):
    broken = samples.script_then_user_task().replace(
        '<bpmn:endEvent id="end">', '<bpmn:endEvent id="end" bogus="1">'
    )
    [problem] = refused(signpost, samples.source(broken, "broken.bpmn")).problems
    assert problem.file == "broken.bpmn"
    assert problem.line == broken[: broken.index('bogus="1"')].count("\n") + 1
    assert "bogus" in problem.message


def test_a_forbidden_script_is_refused_at_deploy_naming_the_element(signpost):
    bpmn = samples.script_then_user_task("x = ().__class__.__base__.__subclasses__()")
    [problem] = refused(signpost, samples.source(bpmn)).problems
    assert problem.element_id == "compute"
    assert problem.line == bpmn[: bpmn.index('id="compute"')].count("\n") + 1
    assert "__class__" in problem.message


def test_every_problem_is_reported_at_once(signpost):
    bpmn = samples.two_scripts("import os", "y = __import__('os')")
    problems = refused(signpost, samples.source(bpmn)).problems
    assert {p.element_id for p in problems} == {"first", "second"}
    assert all(p.line for p in problems)


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("PT48HOURS", "is neither a valid ISO 8601 value"),
        ('"48 hours"', "not a valid ISO 8601"),
        ("12", "must give an ISO 8601 string"),
        ('"2026-12-01T09:00:00"', "without a UTC offset"),
    ],
)
def test_timer_expressions_must_give_iso_8601(signpost, expression, fragment):
    [problem] = refused(signpost, samples.source(samples.timer_wait(expression))).problems
    assert problem.element_id == "wait"
    assert fragment in problem.message


@pytest.mark.parametrize(
    "value", ["PT48H", "P7D", "2026-12-24T09:00:00Z", '"PT48H"', "iso_duration(hours=2)"]
)
def test_bare_iso_8601_timer_values_and_python_expressions_are_both_accepted(signpost, value):
    assert deploy(signpost, samples.source(samples.timer_wait(value))).created


def test_timer_expressions_that_depend_on_data_are_accepted(signpost):
    assert deploy(signpost, samples.source(samples.timer_wait("wait_for"))).created


def test_a_gateway_condition_is_checked(signpost):
    [problem] = refused(signpost, samples.source(samples.gateway("x.__dict__"))).problems
    assert problem.element_id == "decide"


def test_a_definition_without_an_executable_process_is_refused(signpost):
    bpmn = samples.script_then_user_task().replace('isExecutable="true"', 'isExecutable="false"')
    [problem] = refused(signpost, samples.source(bpmn)).problems
    assert "executable" in problem.message


def test_spiffworkflow_parse_errors_are_reported(signpost):
    bpmn = samples.script_then_user_task().replace('targetRef="review"', 'targetRef="nowhere"')
    problems = refused(signpost, samples.source(bpmn)).problems
    assert problems[0].file == "sample.bpmn"
    assert "nowhere" in problems[0].message


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">&lol3;</bpmn:definitions>
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" isExecutable="true"><bpmn:documentation>&xxe;</bpmn:documentation></bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (BILLION_LAUGHS.encode(), "DOCTYPE declarations are not allowed"),
        (XXE.encode(), "DOCTYPE declarations are not allowed"),
        (b"<bpmn:definitions", "not well-formed"),
        (b"", "empty"),
        (b'<?xml version="1.0" encoding="UTF-8"?><a>\xff\xfe</a>', "not well-formed"),
        (b"<a>" * 5000 + b"</a>" * 5000, "not well-formed"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "not a BPMN 2.0 or DMN"),
        (b"<a>" + b"x" * (3 * 1024 * 1024) + b"</a>", "limit"),
    ],
    ids=[
        "billion-laughs",
        "xxe",
        "truncated",
        "empty",
        "invalid-utf8",
        "deep-nesting",
        "not-bpmn",
        "too-big",
    ],
)
def test_hostile_xml_is_refused_without_being_expanded(signpost, content, fragment):
    [problem] = refused(signpost, samples.SourceFile("hostile.bpmn", content)).problems
    assert problem.file == "hostile.bpmn"
    assert fragment in problem.message
    assert "root:" not in problem.message  # nothing of /etc/passwd was read
