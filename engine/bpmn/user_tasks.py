"""What a user task is, seen from outside the engine: its element, title, lane, and the two attributes an
operator's worklist sorts and filters by, written as Camunda Modeler writes them::

    <bpmn:userTask id="triage" camunda:dueDate="PT2H" camunda:priority="${priority}"/>

* ``camunda:dueDate``: an ISO 8601 duration (``PT2H``, ``P1D``) from the moment the task becomes ready: the
  task is due then. Elapsed time, as Camunda's own due dates are; the business-time obligations between
  services are the OLA clocks' (``engine/olas``).
* ``camunda:priority``: the task's priority, written as it is (``urgent``, ``2``) or as ``${name}``: the
  value of the data field ``name`` when the task becomes ready (a triage decision's output, say). Reading a
  field runs no pathway code.

Both are kept with the task spec's extensions by the parser (``KeepsCamundaTaskAttributes``) and checked
when a pathway is deployed (``task_attribute_problems``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.bpmn.problems import problem_on
from engine.errors import Problem

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
CAMUNDA_DUE_DATE = f"{{{CAMUNDA_NS}}}dueDate"
CAMUNDA_PRIORITY = f"{{{CAMUNDA_NS}}}priority"
# The keys the task spec's extensions keep them under (SpiffWorkflow's own keys never hold a colon).
DUE_EXTENSION = "camunda:dueDate"
PRIORITY_EXTENSION = "camunda:priority"
_USER_TASK = "{http://www.omg.org/spec/BPMN/20100524/MODEL}userTask"

DURATION = re.compile(r"^P(?!$)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")
FIELD_REFERENCE = re.compile(r"^\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}$")
MAX_PRIORITY_CHARS = 40


@dataclass(frozen=True)
class TaskView:
    id: str
    element_id: str
    title: str | None
    lane: str | None
    documentation: str | None
    kind: str = "task"  # the BPMN task type, e.g. UserTask, ScriptTask, BusinessRuleTask
    due_after: timedelta | None = None  # from when the task became ready (camunda:dueDate)
    priority: str | None = None  # camunda:priority, a field reference read from the task's data


def task_view(task) -> TaskView:
    spec = task.task_spec
    extensions = getattr(spec, "extensions", None) or {}
    due = extensions.get(DUE_EXTENSION)
    return TaskView(
        str(task.id),
        spec.bpmn_id,
        spec.bpmn_name,
        spec.lane,
        spec.documentation,
        type(spec).__name__,
        due_after=duration(due) if due else None,
        priority=_priority(extensions.get(PRIORITY_EXTENSION), task.data),
    )


def duration(text: str) -> timedelta:
    """``PT2H`` as a timedelta (the text is checked at deployment: weeks, days, hours, minutes, seconds)."""
    return timedelta(**TimerEventDefinition.parse_iso_duration(text.strip()))


def _priority(written: str | None, data: dict) -> str | None:
    if not written:
        return None
    reference = FIELD_REFERENCE.match(written)
    if reference is None:
        return written
    value = data.get(reference.group(1))
    return None if value is None else str(value)[:MAX_PRIORITY_CHARS]


class KeepsCamundaTaskAttributes:
    """Mixed into a user task parser: ``camunda:dueDate`` and ``camunda:priority`` are kept with the task's
    extensions."""

    def parse_extensions(self, node=None):
        extensions = super().parse_extensions(node)
        if node is None or node is self.node:
            for attribute, key in ((CAMUNDA_DUE_DATE, DUE_EXTENSION), (CAMUNDA_PRIORITY, PRIORITY_EXTENSION)):
                value = self.node.get(attribute)
                if value is not None and value.strip():
                    extensions = {**extensions, key: value.strip()}
        return extensions


def task_attribute_problems(filename: str, root: etree._Element) -> list[Problem]:
    """A problem on every user task whose due date or priority the engine could not read."""
    problems = []
    for user_task in root.iter(_USER_TASK):
        due = (user_task.get(CAMUNDA_DUE_DATE) or "").strip()
        priority = (user_task.get(CAMUNDA_PRIORITY) or "").strip()
        messages = []
        if due and not DURATION.match(due.upper()):
            messages.append(
                f"the due date {due!r} is not an ISO 8601 duration such as PT2H, P1D or P1W (from when the "
                "task is ready; months and years have no fixed length)"
            )
        if priority and len(priority) > MAX_PRIORITY_CHARS:
            messages.append(f"the priority is longer than {MAX_PRIORITY_CHARS} characters")
        elif priority.startswith("$") and not FIELD_REFERENCE.match(priority):
            messages.append(
                f"the priority {priority!r} must be written as it is (urgent, 2) or name a data field as "
                "${name}"
            )
        problems.extend(problem_on(filename, user_task, message) for message in messages)
    return problems
