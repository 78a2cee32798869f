"""BPMN constructs that SpiffWorkflow 3.2.0 would accept and then run wrongly, refused at deployment instead.

An event subprocess started by an error or an escalation deploys, but SpiffWorkflow reads no trigger on its
start event and runs it as soon as its parent starts, whether or not anything goes wrong: a designer must
hear that before a referral takes the wrong path.
"""

from __future__ import annotations

from lxml import etree

from engine.errors import Problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
UNRUNNABLE_START_TRIGGERS = {
    "errorEventDefinition": "an error",
    "escalationEventDefinition": "an escalation",
}


def unsupported_constructs(filename: str, root: etree._Element) -> list[Problem]:
    problems = []
    for subprocess in root.iter(f"{{{BPMN}}}subProcess"):
        if subprocess.get("triggeredByEvent") != "true":
            continue
        for start in subprocess.findall(f"{{{BPMN}}}startEvent"):
            for definition, trigger in UNRUNNABLE_START_TRIGGERS.items():
                if start.find(f"{{{BPMN}}}{definition}") is not None:
                    problems.append(
                        Problem(
                            filename,
                            f"an event subprocess started by {trigger} cannot run here (it would start "
                            f"unconditionally): attach {trigger} boundary event to the activity instead",
                            element_id=subprocess.get("id"),
                            line=subprocess.sourceline,
                        )
                    )
    return problems
