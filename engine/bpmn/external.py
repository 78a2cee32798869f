"""External service tasks: a service task whose work is done by a worker outside Signpost.

A diagram names a *topic* instead of an operation, either as Camunda Modeler writes it::

    <bpmn:serviceTask id="lookup" camunda:type="external" camunda:topic="address-lookup"/>

or with Signpost's own form of the Spiff extension (the topic a quoted string)::

    <spiffworkflow:serviceTaskOperator id="signpost.external">
      <spiffworkflow:parameters>
        <spiffworkflow:parameter id="topic" type="str" value="'address-lookup'"/>
      </spiffworkflow:parameters>
    </spiffworkflow:serviceTaskOperator>

When an instance reaches the task it is started and left STARTED: ``do_engine_steps`` runs only READY
tasks, so the instance waits; it is not ``manual``, so it is never listed as a user task. The worker's
answer completes it (``complete_external_task``) or throws a BPMN error from it (``throw_bpmn_error``),
which an error boundary event on the task catches.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from uuid import UUID

from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import TaskNotFoundException, WorkflowException
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.serializer.task_spec import SpiffBpmnTaskConverter
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask
from SpiffWorkflow.util.task import TaskState

from engine.errors import StepFailed, TaskNotReady

CAMUNDA_NAMESPACE = "http://camunda.org/schema/1.0/bpmn"
EXTERNAL_OPERATION = "signpost.external"
MAX_TOPIC_LENGTH = 200


@dataclass(frozen=True)
class ExternalTaskView:
    """An external task an instance waits on: the task's id, its element, its name and its topic."""

    id: str
    element_id: str
    title: str | None
    topic: str


class ExternalTask(SpiffBpmnTask):
    """A service task done outside: started, then left waiting until completed from outside."""

    def __init__(self, wf_spec, bpmn_id, topic: str, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.topic = topic

    def _run_hook(self, my_task):
        # None leaves the task STARTED: the engine moves on only when a worker's answer completes it.
        return None


class ExternalTaskConverter(SpiffBpmnTaskConverter):
    def to_dict(self, spec):
        dct = super().to_dict(spec)
        dct["topic"] = spec.topic
        return dct


# Registered with the serializer next to SpiffWorkflow's own converters (engine/bpmn/serialization.py).
SERIALIZER_CONFIG = {ExternalTask: ExternalTaskConverter}


class ServiceOrExternalTaskParser(ServiceTaskParser):
    """SpiffWorkflow's service task parser, except that an external task becomes an ``ExternalTask``."""

    def create_task(self):
        topic = self._topic()
        if topic is None:
            return super().create_task()
        extensions = self.parse_extensions()
        return ExternalTask(
            self.spec,
            self.bpmn_id,
            topic,
            prescript=extensions.get("preScript"),
            postscript=extensions.get("postScript"),
            **self.bpmn_attributes,
        )

    def _topic(self) -> str | None:
        if self.node.get(f"{{{CAMUNDA_NAMESPACE}}}type") == "external":
            return self._checked(self.node.get(f"{{{CAMUNDA_NAMESPACE}}}topic"), "camunda:topic")
        operator = self.parse_extensions().get("serviceTaskOperator")
        if operator is None or operator.get("name") != EXTERNAL_OPERATION:
            return None
        params = operator.get("parameters") or {}
        if set(params) != {"topic"}:
            self._refuse(f"operation '{EXTERNAL_OPERATION}' takes exactly one parameter, topic")
        try:
            topic = ast.literal_eval(params["topic"]["value"] or "")
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            topic = None
        if not isinstance(topic, str):
            self._refuse(
                "the topic of an external task must be a quoted string, e.g. value=\"'address-lookup'\""
            )
        return self._checked(topic, "topic")

    def _checked(self, topic: str | None, what: str) -> str:
        topic = (topic or "").strip()
        if not topic or len(topic) > MAX_TOPIC_LENGTH:
            self._refuse(f"an external service task needs a {what} of 1 to {MAX_TOPIC_LENGTH} characters")
        return topic

    def _refuse(self, message: str):
        raise ValidationException(message, node=self.node, file_name=self.filename)


def use_external_tasks(parser) -> None:
    """Make ``parser`` (a SpiffBpmnParser) build external service tasks; other service tasks are unchanged."""
    parser.OVERRIDE_PARSER_CLASSES = {
        **parser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceOrExternalTaskParser, ServiceTask),
    }


# ---- at run time -------------------------------------------------------------------------------------------


def external_task_view(task) -> ExternalTaskView:
    spec = task.task_spec
    return ExternalTaskView(str(task.id), spec.bpmn_id, spec.bpmn_name, spec.topic)


def complete_external_task(workflow, task_id: str, data: dict) -> ExternalTaskView:
    """Put the worker's ``data`` into the task's data and complete it (the caller then runs the instance)."""
    task = _waiting(workflow, task_id)
    task.set_data(**data)
    try:
        task.complete()
    except WorkflowException as error:
        raise StepFailed(
            f"task '{task.task_spec.bpmn_name or task.task_spec.bpmn_id}' failed: {error}",
            element_id=task.task_spec.bpmn_id,
            task_name=task.task_spec.bpmn_name or task.task_spec.bpmn_id,
        ) from error
    return external_task_view(task)


def throw_bpmn_error(workflow, task_id: str, code: str, message: str | None, data: dict) -> ExternalTaskView:
    """Throw the BPMN error ``code`` from the external task, with ``data`` as its payload. Raises StepFailed
    naming the code, and changes nothing, when no error boundary event waits to catch it."""
    task = _waiting(workflow, task_id)
    throw_error_from(workflow, task, code, message, data)
    return external_task_view(task)


def throw_error_from(workflow, task, code: str, message: str | None, data: dict) -> None:
    """Throw the BPMN error ``code`` from ``task`` (an external task, or a script that called
    ``bpmn_error``) to the error boundary events waiting on it or on the activities around it; the
    catching path gets ``data`` with ``error_code`` and ``error_message``. StepFailed naming the code when
    nothing waits to catch it."""
    spec = task.task_spec
    chain = []
    each = task.workflow
    while each is not None:
        chain.append(each)
        each = getattr(each, "parent_workflow", None)
    catchers = [
        waiting
        for waiting in workflow.get_tasks(state=TaskState.WAITING)
        if waiting.workflow in chain
        and isinstance(getattr(waiting.task_spec, "event_definition", None), ErrorEventDefinition)
        and waiting.task_spec.event_definition.code in (None, code)
    ]
    name = spec.bpmn_name or spec.bpmn_id
    if not catchers:
        raise StepFailed(
            f"task '{name}' threw BPMN error '{code}'"
            + (f" ({message})" if message else "")
            + ", which no error boundary event catches",
            element_id=spec.bpmn_id,
            task_name=name,
        )
    payload = {**data, "error_code": code, "error_message": message}
    # Thrown as the catching event's own kind of definition: SpiffWorkflow matches definitions by class.
    definition = type(catchers[0].task_spec.event_definition)(code, code=code)
    try:
        task.workflow.top_workflow.catch(BpmnEvent(definition, payload=payload, target=task.workflow))
    except WorkflowException as error:
        raise StepFailed(f"task '{name}' failed: {error}", element_id=spec.bpmn_id, task_name=name) from error
    for caught in catchers:
        if caught.state == TaskState.READY:
            # The thrower's data (and the error's code and message) go on along the error path.
            caught.data.update(payload)


def _waiting(workflow, task_id: str):
    try:
        task = workflow.get_task_from_id(UUID(task_id))
    except (ValueError, TaskNotFoundException):
        task = None
    if task is None or not isinstance(task.task_spec, ExternalTask):
        raise TaskNotReady(f"task {task_id} is not an external task of this instance")
    if task.state != TaskState.STARTED:
        raise TaskNotReady(
            f"external task {task_id} is {TaskState.get_name(task.state).lower()}, not waiting"
        )
    return task
