"""Deploy-time problems a designer can act on: every one found at once, each a sentence saying what to change.

SpiffWorkflow's parser stops at the first element it cannot read, and its messages can hold an object's repr,
raw XML bytes or a bare exception name. ``bpmn_problems`` walks a BPMN file before the library sees it and
reports every element that would stop it (a service task without an implementation, a business rule task
naming no decision, a script in another language…); ``readable`` turns the library's messages into sentences.
"""

from __future__ import annotations

import re

from lxml import etree

from engine.bpmn.hints import JUEL
from engine.errors import Problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_B = f"{{{BPMN}}}"
_C = f"{{{CAMUNDA}}}"
_S = f"{{{SPIFF}}}"
PYTHON_SCRIPT_FORMATS = {"", "python", "py", "python3", "text/x-python"}
JAVA_IMPLEMENTATIONS = ("class", "expression", "delegateExpression")


def problem_on(filename: str, element, message: str) -> Problem:
    """A problem on a BPMN element of ``filename``, with its id, line and name."""
    return Problem(
        filename,
        message,
        element_id=element.get("id"),
        line=element.sourceline,
        element_name=element.get("name") or None,
    )


def _has_extension(element, tag: str) -> bool:
    return element.find(f"{_B}extensionElements/{_S}{tag}") is not None


def bpmn_problems(filename: str, root) -> list[Problem]:
    """Every element of a BPMN file that SpiffWorkflow could not read or Signpost could not run."""
    problems = []
    for element in root.iter(f"{_B}serviceTask", f"{_B}sendTask"):
        problems.extend(_implementation_problems(filename, element))
    for element in root.iter(f"{_B}businessRuleTask"):
        java = _java_problem(filename, element, "business rule task")
        if java:
            problems.append(java)
        elif (
            not element.get(f"{_C}decisionRef")
            and element.find(f"{_B}extensionElements/{_S}calledDecisionId") is None
        ):
            problems.append(
                problem_on(
                    filename,
                    element,
                    "business rule task names no decision: set camunda:decisionRef (or "
                    "spiffworkflow:calledDecisionId) to the id of a decision in a DMN file deployed with it",
                )
            )
    for element in root.iter(f"{_B}scriptTask"):
        problems.extend(_script_problems(filename, element))
    for element in root.iter(f"{_B}callActivity"):
        if not (element.get("calledElement") or "").strip():
            problems.append(
                problem_on(
                    filename, element, "call activity names no process: set calledElement to the id of one"
                )
            )
    for element in root.iter(f"{_B}timerEventDefinition"):
        if not any(
            child.tag in (f"{_B}timeDuration", f"{_B}timeDate", f"{_B}timeCycle") for child in element
        ):
            event = element.getparent()
            problems.append(
                problem_on(
                    filename,
                    event,
                    "timer has no time: give it a duration (e.g. PT48H), a date (e.g. 2026-12-24T09:00:00Z) "
                    "or a cycle (e.g. R3/PT1H)",
                )
            )
    for loop in root.iter(f"{_B}multiInstanceLoopCharacteristics"):
        collection = loop.get(f"{_C}collection") or ""
        if collection and not collection.strip().isidentifier():
            juel = JUEL.match(collection)
            name = juel["body"].strip() if juel else None
            hint = (
                f"write `{name}`" if name and name.isidentifier() else "write the name of the list variable"
            )
            problems.append(
                problem_on(
                    filename,
                    loop.getparent(),
                    f"camunda:collection `{collection}` is not the name of a variable: {hint}",
                )
            )
    problems.extend(_flow_problems(filename, root))
    problems.extend(_reference_problems(filename, root))
    return problems


ACTIVITIES = ("task", "subProcess", "callActivity", "transaction")
CATCHING = ("intermediateCatchEvent", "boundaryEvent", "startEvent")


def _reference_problems(filename: str, root) -> list[Problem]:
    problems = []
    for definition in root.iter(f"{_B}messageEventDefinition"):
        event = definition.getparent()
        caught = etree.QName(event).localname in CATCHING
        if caught and not definition.get("messageRef") and not (event.get("name") or "").strip():
            problems.append(
                problem_on(
                    filename,
                    event,
                    "message event names no message, so nothing could ever be sent to it: set its messageRef "
                    "to a bpmn:message (services send messages by that message's name)",
                )
            )
    for definition in root.iter(f"{_B}signalEventDefinition"):
        event = definition.getparent()
        caught = etree.QName(event).localname in CATCHING
        if caught and not definition.get("signalRef") and not (event.get("name") or "").strip():
            problems.append(
                problem_on(
                    filename,
                    event,
                    "signal event names no signal, so nothing could ever be sent to it: set its signalRef "
                    "to a bpmn:signal",
                )
            )
    for receive in root.iter(f"{_B}receiveTask"):
        if not receive.get("messageRef") and not (receive.get("name") or "").strip():
            problems.append(
                problem_on(
                    filename,
                    receive,
                    "receive task names no message, so nothing could ever be sent to it: set its messageRef "
                    "to a bpmn:message",
                )
            )
    messages = {message.get("id") for message in root.iter(f"{_B}message")}
    for definition in root.iter(f"{_B}messageEventDefinition", f"{_B}receiveTask", f"{_B}sendTask"):
        ref = definition.get("messageRef")
        if ref and ref not in messages:
            element = (
                definition
                if definition.get("id") and definition.tag != f"{_B}messageEventDefinition"
                else None
            )
            element = element if element is not None else definition.getparent()
            problems.append(
                problem_on(
                    filename,
                    element,
                    f"refers to message '{ref}', which this file does not define: add a bpmn:message with "
                    "that id, or choose one of the file's messages",
                )
            )
    return problems


def _java_problem(filename: str, element, what: str) -> Problem | None:
    for attribute in JAVA_IMPLEMENTATIONS:
        if element.get(f"{_C}{attribute}"):
            return problem_on(
                filename,
                element,
                f"{what} is implemented by a Java camunda:{attribute}, which Signpost cannot run: "
                "call a Signpost operation (spiffworkflow:serviceTaskOperator) or make it an external task "
                '(camunda:type="external" with a camunda:topic)',
            )
    return None


def _implementation_problems(filename: str, element) -> list[Problem]:
    kind = "service task" if etree.QName(element).localname == "serviceTask" else "send task"
    java = _java_problem(filename, element, kind)
    if java:
        return [java]
    camunda_type = element.get(f"{_C}type")
    if camunda_type == "external" or kind == "send task":
        return []  # external tasks are read by engine.bpmn.external; a send task may send a message
    if _has_extension(element, "serviceTaskOperator"):
        return []
    what = f'camunda:type="{camunda_type}"' if camunda_type else "no implementation"
    return [
        problem_on(
            filename,
            element,
            f"service task has {what}: add a spiffworkflow:serviceTaskOperator naming a Signpost operation "
            '(e.g. signpost.route), or make it an external task (camunda:type="external" with a '
            "camunda:topic)",
        )
    ]


def _script_problems(filename: str, element) -> list[Problem]:
    script_format = (element.get("scriptFormat") or "").strip().lower()
    if script_format not in PYTHON_SCRIPT_FORMATS:
        return [
            problem_on(
                filename,
                element,
                f"script is written in {element.get('scriptFormat')}; Signpost runs Python scripts: rewrite "
                "it in Python and set scriptFormat to python (or leave it out)",
            )
        ]
    if element.get(f"{_C}resource"):
        return [
            problem_on(
                filename,
                element,
                "script is in an external resource (camunda:resource), which Signpost cannot read: write the "
                "script inside the task",
            )
        ]
    script = element.find(f"{_B}script")
    if script is None or not (script.text or "").strip():
        return [
            problem_on(
                filename,
                element,
                "script task has no script: write the Python it runs, or make it a task (bpmn:task) if it "
                "does nothing",
            )
        ]
    return []


def _flow_problems(filename: str, root) -> list[Problem]:
    problems = []
    for scope in root.iter(f"{_B}process", f"{_B}subProcess", f"{_B}transaction"):
        ids = {child.get("id") for child in scope if isinstance(child.tag, str) and child.get("id")}
        kinds = {
            child.get("id"): etree.QName(child).localname for child in scope if isinstance(child.tag, str)
        }
        for flow in scope.iterchildren(f"{_B}sequenceFlow"):
            source_kind = kinds.get(flow.get("sourceRef"), "")
            leaves_activity = source_kind.endswith(("Task", "Event")) or source_kind in ACTIVITIES
            if flow.find(f"{_B}conditionExpression") is not None and leaves_activity:
                problems.append(
                    problem_on(
                        filename,
                        flow,
                        f"sequence flow has a condition but leaves the {source_kind} "
                        f"'{flow.get('sourceRef')}', not a gateway; Signpost would take it whatever the "
                        "condition says: put an exclusive or inclusive gateway before the conditions",
                    )
                )
            for end in ("sourceRef", "targetRef"):
                ref = flow.get(end)
                if ref and ref not in ids:
                    side = "starts at" if end == "sourceRef" else "leads to"
                    problems.append(
                        problem_on(
                            filename,
                            flow,
                            f"sequence flow {side} '{ref}', which is not an element of the same process: "
                            f"connect it to an element that exists, or delete it",
                        )
                    )
    return problems


_ELEMENT_REPR = re.compile(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-fA-F]+>")
_ANY_ADDRESS = re.compile(r"<([\w.]+) object at 0x[0-9a-fA-F]+>")
_WRAPPED_EXCEPTION = re.compile(
    r"^\s*(?P<kind>\w*(?:Error|Exception))\b[:(]?(?P<detail>.*?)\)?\s*$", re.DOTALL
)
PREFIXES = {
    BPMN: "bpmn",
    "http://www.omg.org/spec/BPMN/20100524/DI": "bpmndi",
    "http://www.omg.org/spec/DD/20100524/DC": "dc",
    "http://www.omg.org/spec/DD/20100524/DI": "di",
    SPIFF: "spiffworkflow",
    CAMUNDA: "camunda",
    "https://www.omg.org/spec/DMN/20191111/MODEL/": "dmn",
    "http://www.omg.org/spec/DMN/20180521/MODEL/": "dmn",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd": "dmn",
    "https://www.omg.org/spec/DMN/20191111/DMNDI/": "dmndi",
    "http://www.w3.org/2001/XMLSchema-instance": "xsi",
}
_QUALIFIED = re.compile(r"\{(?P<namespace>[^}]+)\}(?P<name>[\w.-]+)")


def readable(message: str) -> str:
    """SpiffWorkflow's message with object reprs, raw XML and bare exception names turned into words."""
    if "Unsupported Catch Event" in message:
        return (
            "this catch event's definition is not supported: use a message, timer, signal, error, escalation "
            "or conditional event definition"
        )
    if "no support implemented for this task type" in message:
        return "Signpost cannot run this kind of element: replace it with a supported one, or remove it"
    if "not supported for tasks of type" in message:
        return "this element cannot have several outgoing flows: put a gateway after it"
    wrapped = _WRAPPED_EXCEPTION.match(message)
    if wrapped:
        detail = wrapped["detail"].strip().strip("'\"")
        if wrapped["kind"] == "KeyError" and detail.isidentifier():
            detail = f"it has no '{detail}'"
        elif not detail or any(
            words in detail for words in ("unexpected keyword", "positional argument", "index out of range")
        ):
            detail = "it is incomplete or refers to something that is not there"
        return f"this element cannot be read: {detail}; check its references and required attributes"
    if message.startswith("Element '{"):
        # The schema check (XSD): the file is not valid BPMN 2.0 / DMN.
        text = _QUALIFIED.sub(
            lambda m: f"{PREFIXES.get(m['namespace'], m['namespace'])}:{m['name']}", message
        )
        return f"{text.rstrip('. ')}: correct the file so that it follows the schema"
    text = _ELEMENT_REPR.sub(lambda m: f"<{m.group(1)}>", message)
    text = _ANY_ADDRESS.sub(lambda m: f"a {m.group(1).rsplit('.', 1)[-1]}", text)
    text = re.sub(r"b'<[^']*'", "(XML)", text)
    text = re.sub(r'b"<[^"]*"', "(XML)", text)
    text = text.replace('id "None"', "no id").replace("'None'", "nothing")
    return text
