"""Diagrams as the BPMN specification and Camunda Modeler write them, deployed and driven through the HTTP API
to their end event (every request is a save and a load of the instance), and files that cannot run, refused
with every problem at once: file, element id and name, line and a sentence saying what to change."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

DIAGRAMS = Path(__file__).parent / "diagrams"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


def document(process_id: str, body: str, root_elements: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:camunda="{CAMUNDA_NS}" id="defs" '
        'targetNamespace="http://signpost.example/modeler">\n'
        f"{root_elements}\n"
        f'  <bpmn:process id="{process_id}" name="{process_id}" isExecutable="true">\n{body}\n'
        "  </bpmn:process>\n"
        "</bpmn:definitions>\n"
    )


def flows(*pairs: tuple[str, str, str]) -> str:
    return "\n".join(
        f'    <bpmn:sequenceFlow id="{i}" sourceRef="{s}" targetRef="{t}"/>' for i, s, t in pairs
    )


def task(kind: str, task_id: str, name: str, incoming: str, outgoing: str, attributes: str = "") -> str:
    return (
        f'    <bpmn:{kind} id="{task_id}" name="{name}"{attributes}>\n'
        f"      <bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing>\n"
        f"    </bpmn:{kind}>"
    )


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def waiting_tasks(referral: dict) -> list[str]:
    return sorted(t["element_id"] for t in referral["waiting_for"]["tasks"])


# ---- A Camunda Modeler file, unchanged ------------------------------------------------------------------

MODELER_FILES = (
    ("modeler_referral.bpmn", (DIAGRAMS / "modeler_referral.bpmn").read_bytes()),
    ("falls_priority.dmn", (DIAGRAMS / "falls_priority.dmn").read_bytes()),
)


def test_a_camunda_modeler_file_deploys_unchanged_and_runs_the_routine_path(
    deploy, start, read, complete, reached, signpost, frozen_clock, http, designer_headers
):
    """Bare PT5M timer, abstract task, camunda:decisionRef, a DMN whose decision requires a literal-expression
    decision, with DMNDI: as Camunda Modeler 5 saves them."""
    deployed = deploy(*MODELER_FILES)
    assert deployed["key"] == "modeler_referral"
    stored = http.get(
        f"/api/v1/definitions/modeler_referral/versions/{deployed['number']}", headers=designer_headers
    )
    contents = {f["filename"]: f["content"].encode() for f in stored.json["files"]}
    assert contents == dict(MODELER_FILES)  # stored as uploaded: the dialect is read, never rewritten

    referral = start("modeler_referral", {"age": 70, "falls_last_year": 0})
    assert referral["status"] == "waiting"
    assert referral["data"]["priority"] == "routine"
    assert "risk_score" not in referral["data"]  # a required decision's output is not process data
    [timer] = referral["waiting_for"]["timers"]
    assert timer["due_at"].startswith("2026-11-23T09:05:00")
    assert reached(referral)[:2] == ["StartEvent_1", "Activity_log"]  # the abstract task did not wait

    frozen_clock.shift(timedelta(minutes=4))
    assert signpost.timers.fire_due() == 0
    frozen_clock.shift(timedelta(minutes=1, seconds=1))
    assert signpost.timers.fire_due() == 1
    referral = read(referral)
    assert waiting_tasks(referral) == ["Activity_book"]
    done = complete(referral, "Activity_book", {"slot": "Tue 10:00"})
    assert done["status"] == "completed"
    assert reached(done)[-1] == "Event_routine_done"


def test_the_modeler_file_runs_the_urgent_path(deploy, start, complete, reached):
    deploy(*MODELER_FILES)
    referral = start("modeler_referral", {"age": 85, "falls_last_year": 2})
    assert referral["data"]["priority"] == "urgent"
    assert waiting_tasks(referral) == ["Activity_call"]
    done = complete(referral, "Activity_call")
    assert done["status"] == "completed"
    assert reached(done)[-1] == "Event_urgent_done"


# ---- Timers as the BPMN specification writes them -------------------------------------------------------


def timer_process(kind: str, value: str) -> str:
    return document(
        "timers",
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="Wait">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_def"><bpmn:{kind}>{value}</bpmn:{kind}></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end" name="Waited"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
{flows(("f1", "start", "wait"), ("f2", "wait", "end"))}""",
    )


@pytest.mark.parametrize(
    ("kind", "value", "due"),
    [
        ("timeDuration", "P7D", "2026-11-30T09:00:00"),
        ("timeDuration", "PT48H", "2026-11-25T09:00:00"),
        ("timeDuration", "&quot;PT48H&quot;", "2026-11-25T09:00:00"),  # a Python expression still works
        ("timeDate", "2026-12-24T09:00:00Z", "2026-12-24T09:00:00"),
        ("timeDate", "2026-12-24T09:00:00+00:00", "2026-12-24T09:00:00"),
    ],
)
def test_bare_iso_8601_timers_fire_when_due(
    deploy, start, read, reached, signpost, frozen_clock, kind, value, due
):
    deploy(("timers.bpmn", timer_process(kind, value)))
    referral = start("timers")
    [timer] = referral["waiting_for"]["timers"]
    assert timer["due_at"].startswith(due)
    # SpiffWorkflow fires a timer strictly after its due time.
    frozen_clock.move_to(datetime.fromisoformat(timer["due_at"]) + timedelta(seconds=1))
    assert signpost.timers.fire_due() == 1
    done = read(referral)
    assert done["status"] == "completed"
    assert reached(done)[-1] == "end"


def test_a_bare_cycle_timer_on_a_boundary_repeats(deploy, start, read, complete, signpost, frozen_clock):
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
{task("userTask", "review", "Review", "f1", "f2")}
    <bpmn:boundaryEvent id="remind" name="Remind" attachedToRef="review" cancelActivity="false">
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="remind_def">
        <bpmn:timeCycle>R3/PT1H</bpmn:timeCycle>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="reminded"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end" name="Reviewed"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
{flows(("f1", "start", "review"), ("f2", "review", "end"), ("f3", "remind", "reminded"))}"""
    deploy(("cycle.bpmn", document("cycle", body)))
    referral = start("cycle")
    [timer] = referral["waiting_for"]["timers"]
    assert timer["due_at"].startswith("2026-11-23T10:00:00")
    frozen_clock.shift(timedelta(hours=1, seconds=1))
    assert signpost.timers.fire_due() == 1
    referral = read(referral)
    assert referral["status"] == "waiting"
    assert waiting_tasks(referral) == ["review"]
    assert complete(referral, "review")["status"] == "completed"


# ---- Tasks and flows -------------------------------------------------------------------------------------


def test_an_abstract_task_passes_straight_through_and_a_task_with_two_outgoing_flows_takes_both(
    deploy, start, complete, reached
):
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:task id="note" name="Note the referral"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing></bpmn:task>
{task("userTask", "call", "Call", "f2", "f4")}
{task("userTask", "write", "Write", "f3", "f5")}
    <bpmn:endEvent id="called"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="written"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
{
        flows(
            ("f1", "start", "note"),
            ("f2", "note", "call"),
            ("f3", "note", "write"),
            ("f4", "call", "called"),
            ("f5", "write", "written"),
        )
    }"""
    deploy(("split.bpmn", document("split", body)))
    referral = start("split")
    assert waiting_tasks(referral) == ["call", "write"]
    assert "note" in reached(referral)
    referral = complete(referral, "write")
    assert referral["status"] == "waiting"
    assert waiting_tasks(referral) == ["call"]
    done = complete(referral, "call")
    assert done["status"] == "completed"
    assert {"called", "written"} <= set(reached(done))


def test_multi_instance_over_a_camunda_collection(
    deploy, start, read, complete, reached, http, practice_operator_headers
):
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="contact" name="Contact each carer">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics camunda:collection="carers" camunda:elementVariable="carer"/>
    </bpmn:userTask>
    <bpmn:endEvent id="end" name="All contacted"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
{flows(("f1", "start", "contact"), ("f2", "contact", "end"))}"""
    deploy(("carers.bpmn", document("carers", body)))
    referral = start("carers", {"carers": ["Ann", "Bo", "Cy"]})
    assert waiting_tasks(referral) == ["contact"] * 3
    for _ in range(3):
        referral = complete(referral, "contact")
    assert referral["status"] == "completed"
    assert reached(referral)[-1] == "end"


def test_a_juel_collection_is_refused_naming_the_variable(refused):
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="contact" name="Contact each carer">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics camunda:collection="${{carers}}"
          camunda:elementVariable="carer"/>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
{flows(("f1", "start", "contact"), ("f2", "contact", "end"))}"""
    text = document("carers", body)
    [problem] = refused(("carers.bpmn", text))
    assert_located(problem, "carers.bpmn", "contact", "Contact each carer", line_of(text, 'id="contact"'))
    assert "write `carers`" in problem["message"]


def test_a_sequential_multi_instance_script_reads_its_element_variable(deploy, start, complete, reached):
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="check" name="Check each visit">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="visits"
          camunda:elementVariable="visit"/>
      <bpmn:script>assert visit in ("mon", "tue")</bpmn:script>
    </bpmn:scriptTask>
{task("userTask", "after", "After", "f2", "f3")}
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
{flows(("f1", "start", "check"), ("f2", "check", "after"), ("f3", "after", "end"))}"""
    deploy(("visits.bpmn", document("visits", body)))
    referral = start("visits", {"visits": ["mon", "tue"]})
    assert referral["status"] == "waiting", referral.get("incident")
    assert waiting_tasks(referral) == ["after"]
    done = complete(referral, "after")
    assert done["status"] == "completed"
    assert reached(done)[-1] == "end"


# ---- Messages without a name ------------------------------------------------------------------------------


def test_a_message_without_a_name_is_named_by_its_id(
    deploy, start, read, reached, http, practice_operator_headers
):
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="await_reply" name="Await reply">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:messageEventDefinition id="await_reply_def" messageRef="reply_received"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
{flows(("f1", "start", "await_reply"), ("f2", "await_reply", "end"))}"""
    deploy(("reply.bpmn", document("reply", body, '  <bpmn:message id="reply_received"/>')))
    referral = start("reply")
    assert referral["waiting_for"]["messages"] == ["reply_received"]
    sent = http.post(
        "/api/v1/messages",
        json={"name": "reply_received", "correlation": {"referral_id": referral["id"]}, "data": {"ok": True}},
        headers=practice_operator_headers,
    )
    assert sent.status_code in (200, 202), sent.json
    done = read(referral)
    assert done["status"] == "completed"
    assert reached(done)[-1] == "end"


@pytest.mark.parametrize("kind", ["message", "signal"])
def test_a_catch_naming_no_message_or_signal_is_refused_at_deploy_not_a_500_at_start(refused, kind):
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="await_reply">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:{kind}EventDefinition id="await_reply_def"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
{flows(("f1", "start", "await_reply"), ("f2", "await_reply", "end"))}"""
    text = document("nameless", body)
    [problem] = refused(("nameless.bpmn", text))
    assert_located(problem, "nameless.bpmn", "await_reply", None, line_of(text, 'id="await_reply"'))
    assert f"set its {kind}Ref" in problem["message"]


# ---- Every problem at once --------------------------------------------------------------------------------


def assert_located(problem: dict, filename: str, element_id: str, name: str | None, line: int) -> None:
    assert problem["file"] == filename
    assert (problem["element_id"], problem["element_name"], problem["line"]) == (element_id, name, line)
    message = problem["message"]
    assert message and " at 0x" not in message and "b'<" not in message and 'id "None"' not in message
    assert not message.split(":")[0].endswith(("Error", "Exception")), message


def test_six_service_tasks_without_an_implementation_are_all_reported(refused):
    tasks = "\n".join(
        f'    <bpmn:serviceTask id="call_{n}" name="Call service {n}"><bpmn:incoming>f{n}</bpmn:incoming>'
        f"<bpmn:outgoing>f{n + 1}</bpmn:outgoing></bpmn:serviceTask>"
        for n in range(1, 7)
    )
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
{tasks}
    <bpmn:endEvent id="end"><bpmn:incoming>f7</bpmn:incoming></bpmn:endEvent>
{flows(*[(f"f{n}", f"call_{n - 1}" if n > 1 else "start", f"call_{n}") for n in range(1, 7)])}
{flows(("f7", "call_6", "end"))}"""
    text = document("six", body)
    problems = refused(("six.bpmn", text))
    assert len(problems) == 6
    for n, problem in enumerate(problems, start=1):
        assert_located(problem, "six.bpmn", f"call_{n}", f"Call service {n}", line_of(text, f'id="call_{n}"'))
        assert "spiffworkflow:serviceTaskOperator" in problem["message"]
        assert 'camunda:type="external"' in problem["message"]


def test_a_file_with_many_kinds_of_problem_reports_each(refused):
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="java" name="Java delegate" camunda:class="org.example.Send">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
{task("businessRuleTask", "decide", "Decide", "f2", "f3")}
    <bpmn:scriptTask id="groovy" name="Groovy" scriptFormat="groovy"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing><bpmn:script>println "hi"</bpmn:script></bpmn:scriptTask>
{task("scriptTask", "empty", "Empty script", "f4", "f5")}
    <bpmn:intermediateCatchEvent id="await" name="Await">
      <bpmn:incoming>f5</bpmn:incoming><bpmn:outgoing>f6</bpmn:outgoing>
      <bpmn:messageEventDefinition id="await_def" messageRef="no_such_message"/></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>
{
        flows(
            ("f1", "start", "java"),
            ("f2", "java", "decide"),
            ("f3", "decide", "groovy"),
            ("f4", "groovy", "empty"),
            ("f5", "empty", "await"),
            ("f6", "await", "end"),
            ("f7", "end", "nowhere"),
        )
    }"""
    text = document("many", body)
    problems = {p["element_id"]: p for p in refused(("many.bpmn", text))}
    assert set(problems) == {"java", "decide", "groovy", "empty", "await", "f7"}
    expected = {
        "java": ("Java delegate", "Java camunda:class"),
        "decide": ("Decide", "camunda:decisionRef"),
        "groovy": ("Groovy", "rewrite it in Python"),
        "empty": ("Empty script", "has no script"),
        "await": ("Await", "add a bpmn:message"),
        "f7": (None, "'nowhere'"),
    }
    for element_id, (name, fragment) in expected.items():
        assert_located(
            problems[element_id], "many.bpmn", element_id, name, line_of(text, f'id="{element_id}"')
        )
        assert fragment in problems[element_id]["message"]


def test_a_condition_on_a_flow_leaving_a_task_is_refused(refused):
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
{task("userTask", "assess", "Assess", "f1", "f2")}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="assess"/>
    <bpmn:sequenceFlow id="f2" name="Urgent" sourceRef="assess" targetRef="end">
      <bpmn:conditionExpression>urgent</bpmn:conditionExpression></bpmn:sequenceFlow>"""
    text = document("conditional", body)
    [problem] = refused(("conditional.bpmn", text))
    assert_located(problem, "conditional.bpmn", "f2", "Urgent", line_of(text, 'id="f2"'))
    assert "put an exclusive or inclusive gateway" in problem["message"]


@pytest.mark.parametrize(
    ("condition", "python"),
    [
        ("${age &gt; 65}", "age > 65"),
        ("#{age &gt; 65 &amp;&amp; !alone}", "age > 65 and not alone"),
        ("= age &gt; 65 and alone = true", "age > 65 and alone == True"),
    ],
)
def test_juel_and_feel_conditions_are_refused_naming_the_python(refused, condition, python):
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="older" name="Older?" default="f3"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="yes"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="no"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="older"/>
    <bpmn:sequenceFlow id="f2" sourceRef="older" targetRef="yes">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f3" sourceRef="older" targetRef="no"/>"""
    text = document("juel", body)
    [problem] = refused(("juel.bpmn", text))
    assert_located(problem, "juel.bpmn", "older", "Older?", line_of(text, 'id="older"'))
    assert f"write `{python}`" in problem["message"]


def test_a_juel_timer_is_refused_naming_the_python(refused):
    text = timer_process("timeDuration", "${wait_for}")
    [problem] = refused(("juel_timer.bpmn", text))
    assert_located(problem, "juel_timer.bpmn", "wait", "Wait", line_of(text, 'id="wait"'))
    assert "write `wait_for`" in problem["message"]


# ---- DMN that cannot run -----------------------------------------------------------------------------------

DMN_HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" '
    'id="defs" name="d" namespace="http://signpost.example/dmn">\n'
)


def rule_task_process(decision_ref: str) -> str:
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:businessRuleTask id="decide" name="Decide" camunda:decisionRef="{decision_ref}">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:businessRuleTask>
{task("userTask", "after", "After", "f2", "f3")}
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
{flows(("f1", "start", "decide"), ("f2", "decide", "after"), ("f3", "after", "end"))}"""
    return document("rules", body)


def test_a_required_decision_missing_from_the_deployment_is_refused_with_a_sentence(refused):
    dmn = (
        DMN_HEADER
        + """  <decision id="band" name="Band">
    <informationRequirement id="req"><requiredDecision href="#score"/></informationRequirement>
    <decisionTable id="band_table">
      <input id="i1"><inputExpression id="e1"><text>score</text></inputExpression></input>
      <output id="o1" name="band"/>
      <rule id="r1">
        <inputEntry id="ie1"><text>-</text></inputEntry><outputEntry id="oe1"><text>"A"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""
    )
    [problem] = refused(("rules.bpmn", rule_task_process("band")), ("band.dmn", dmn))
    assert problem["file"] == "band.dmn"
    assert problem["line"] == line_of(dmn, "<requiredDecision")
    assert (problem["element_id"], problem["element_name"]) == ("band", "Band")
    assert (
        "requires decision 'score'" in problem["message"]
        and "deploy the file holding it" in problem["message"]
    )


def test_a_literal_expression_decision_runs(deploy, start, complete):
    dmn = (
        DMN_HEADER
        + """  <decision id="greeting" name="Greeting">
    <variable id="v" name="greeting"/>
    <literalExpression id="le"><text>"Dear " + name</text></literalExpression>
  </decision>
</definitions>
"""
    )
    deploy(("rules.bpmn", rule_task_process("greeting")), ("greeting.dmn", dmn))
    referral = start("rules", {"name": "Ann"})
    assert referral["data"]["greeting"] == "Dear Ann"
    assert complete(referral, "after")["status"] == "completed"


def test_a_decision_that_is_neither_a_table_nor_a_literal_expression_is_refused(refused):
    dmn = (
        DMN_HEADER
        + """  <decision id="ctx" name="Context decision">
    <context id="c">
      <contextEntry id="ce"><variable id="cv" name="x"/>
        <literalExpression id="cle"><text>1</text></literalExpression>
      </contextEntry>
    </context>
  </decision>
</definitions>
"""
    )
    [problem] = refused(("rules.bpmn", rule_task_process("ctx")), ("ctx.dmn", dmn))
    assert problem["file"] == "ctx.dmn"
    assert problem["element_id"] == "ctx" and problem["element_name"] == "Context decision"
    assert "decision table nor a literal expression" in problem["message"]


def test_feel_unary_tests_in_a_required_decision_are_refused_naming_the_python(refused):
    dmn = (
        DMN_HEADER
        + """  <decision id="band" name="Band">
    <informationRequirement id="req"><requiredDecision href="#score"/></informationRequirement>
    <decisionTable id="band_table">
      <input id="i1"><inputExpression id="e1"><text>score</text></inputExpression></input>
      <output id="o1" name="band"/>
      <rule id="r1">
        <inputEntry id="ie1"><text>-</text></inputEntry><outputEntry id="oe1"><text>"A"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
  <decision id="score" name="Score">
    <decisionTable id="score_table">
      <input id="i2"><inputExpression id="e2"><text>age</text></inputExpression></input>
      <input id="i3"><inputExpression id="e3"><text>town</text></inputExpression></input>
      <output id="o2" name="score"/>
      <rule id="r2">
        <inputEntry id="range_cell"><text>[65..80)</text></inputEntry>
        <inputEntry id="list_cell"><text>"Leicester","Loughborough"</text></inputEntry>
        <outputEntry id="oe2"><text>3</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""
    )
    problems = {
        p["element_id"]: p for p in refused(("rules.bpmn", rule_task_process("band")), ("band.dmn", dmn))
    }
    assert set(problems) == {"range_cell", "list_cell"}
    assert problems["range_cell"]["line"] == line_of(dmn, 'id="range_cell"')
    assert problems["range_cell"]["file"] == "band.dmn"
    assert "write `65 <= ? < 80`" in problems["range_cell"]["message"]
    assert 'write `? in ["Leicester","Loughborough"]`' in problems["list_cell"]["message"]


def test_a_decision_table_requiring_another_runs_both(deploy, start, complete):
    dmn = (DIAGRAMS / "falls_priority.dmn").read_text().replace("falls_priority", "band")
    deploy(("rules.bpmn", rule_task_process("band")), ("band.dmn", dmn))
    referral = start("rules", {"age": 90, "falls_last_year": 0})
    assert referral["data"]["priority"] == "urgent"
    assert "risk_score" not in referral["data"]
    assert complete(referral, "after")["status"] == "completed"


def test_a_decision_table_cell_too_long_to_check_safely_is_refused(refused):
    # SpiffWorkflow rewrites each input cell with a regular expression whose work grows with the square of
    # its length: a 36 KB cell held the server for 12 s. Refused at deploy, before anything reads it.
    hostile = " or ".join(['"?"'] * 6000) + ' or "'
    dmn = (
        (DIAGRAMS / "falls_priority.dmn")
        .read_text()
        .replace("falls_priority", "band")
        .replace("<text>&gt;= 8</text>", f"<text>{escape(hostile)}</text>")
    )
    problems = refused(("rules.bpmn", rule_task_process("band")), ("band.dmn", dmn))
    assert [p["element_id"] for p in problems] == ["UnaryTests_urgent"]
    assert f"{len(hostile):,} characters long" in problems[0]["message"]
    assert "at most 1,000" in problems[0]["message"]


def test_a_schema_problem_names_the_element_in_the_modelers_prefixes(refused):
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
{task("userTask", "review", "Review", "f1", "f2", ' priority="high"')}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
{flows(("f1", "start", "review"), ("f2", "review", "end"))}"""
    text = document("schema", body)
    [problem] = refused(("schema.bpmn", text))
    assert_located(problem, "schema.bpmn", "review", "Review", line_of(text, 'id="review"'))
    assert problem["message"].startswith("Element 'bpmn:userTask', attribute 'priority'")
    assert problem["message"].endswith("correct the file so that it follows the schema")


@pytest.mark.parametrize(
    ("attributes", "fragment"),
    [
        ('hitPolicy="RULE ORDER"', "hit policy RULE ORDER"),
        ('hitPolicy="COLLECT" aggregation="SUM"', "compute the sum in a script task"),
    ],
)
def test_hit_policies_signpost_cannot_run_are_refused_with_a_sentence(refused, attributes, fragment):
    dmn = (
        DMN_HEADER
        + f"""  <decision id="band" name="Band">
    <decisionTable id="band_table" {attributes}>
      <input id="i1"><inputExpression id="e1"><text>score</text></inputExpression></input>
      <output id="o1" name="band"/>
      <rule id="r1">
        <inputEntry id="ie1"><text>-</text></inputEntry><outputEntry id="oe1"><text>1</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""
    )
    [problem] = refused(("rules.bpmn", rule_task_process("band")), ("band.dmn", dmn))
    assert (problem["file"], problem["element_id"], problem["element_name"]) == ("band.dmn", "band", "Band")
    assert problem["line"] == line_of(dmn, "<decisionTable")
    assert fragment in problem["message"]
