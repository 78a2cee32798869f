"""Small BPMN documents for tests, built from one template so each test states only what it changes."""

from __future__ import annotations

from engine.bpmn import SourceFile

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">\n'
)


def process(body: str, process_id: str = "sample", executable: bool = True, name: str = "Sample") -> str:
    flag = "true" if executable else "false"
    return (
        f'{HEADER}  <bpmn:process id="{process_id}" name="{name}" isExecutable="{flag}">\n{body}\n'
        "  </bpmn:process>\n</bpmn:definitions>\n"
    )


def script_then_user_task(script: str = "x = 1", process_id: str = "sample") -> str:
    """start -> script 'compute' -> user task 'review' -> end."""
    return process(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="compute" name="Compute">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="review" name="Review">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute"/>
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="review"/>
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end"/>""",
        process_id,
    )


def user_task_then_script(script: str, process_id: str = "sample") -> str:
    """start -> user task 'review' -> script 'compute' -> user task 'after' -> end."""
    return process(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="compute" name="Compute">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="after" name="After"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="compute"/>
    <bpmn:sequenceFlow id="f3" sourceRef="compute" targetRef="after"/>
    <bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end"/>""",
        process_id,
    )


def timer_wait(duration_expression: str, process_id: str = "sample") -> str:
    """start -> intermediate timer -> user task 'after' -> end."""
    return process(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="Wait">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_timer">
        <bpmn:timeDuration>{duration_expression}</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="after" name="After"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after"/>
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end"/>""",
        process_id,
    )


def gateway(condition: str, process_id: str = "sample") -> str:
    """start -> exclusive gateway (condition -> 'yes', default -> 'no') -> end."""
    return process(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="decide" default="f_no"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f_yes</bpmn:outgoing><bpmn:outgoing>f_no</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="yes" name="Yes"><bpmn:incoming>f_yes</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="no" name="No"><bpmn:incoming>f_no</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide"/>
    <bpmn:sequenceFlow id="f_yes" sourceRef="decide" targetRef="yes">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" sourceRef="decide" targetRef="no"/>
    <bpmn:sequenceFlow id="f2" sourceRef="yes" targetRef="end"/>
    <bpmn:sequenceFlow id="f3" sourceRef="no" targetRef="end"/>""",
        process_id,
    )


def source(text: str, filename: str = "sample.bpmn") -> SourceFile:
    return SourceFile(filename, text.encode())


def two_scripts(first: str, second: str, process_id: str = "sample") -> str:
    """start -> script 'first' -> script 'second' -> end."""
    return process(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="first" name="First">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing><bpmn:script>{first}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="second" name="Second">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing><bpmn:script>{second}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first"/>
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second"/>
    <bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="end"/>""",
        process_id,
    )


def routing_task(service: str, referral_type: str, incoming: str = "f1", outgoing: str = "f2") -> str:
    """A service task 'route' that routes to ``service`` (both values are literals here)."""
    return f"""
    <bpmn:serviceTask id="route" name="Route">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="signpost.route" resultVariable="handoff">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="service" type="str" value="'{service}'"/>
            <spiffworkflow:parameter id="referral_type" type="str" value="'{referral_type}'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing>
    </bpmn:serviceTask>"""


def external_task(topic: str, process_id: str = "sample") -> str:
    """start -> external service task 'lookup' on ``topic`` (Signpost's form of the extension) -> end."""
    return process(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="lookup" name="Look up">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="signpost.external">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="topic" type="str" value="'{topic}'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="lookup"/>
    <bpmn:sequenceFlow id="f2" sourceRef="lookup" targetRef="end"/>""",
        process_id,
    )
