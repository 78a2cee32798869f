"""Running instances: start, step, complete user tasks, deliver messages, fire timers, describe.

SpiffWorkflow never fires a timer by itself: after every step ``describe`` reports the due times of the
waiting timers, the store indexes them, and the ticker (``engine.pathways.timers``) calls ``fire_due_timers``
when one is due.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import ThrowingEvent
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.external import ExternalTask, ExternalTaskView, external_task_view, throw_error_from
from engine.bpmn.local_parameters import keep_local_parameters
from engine.bpmn.operations import Operation, OperationsScriptEngine, ServiceCall
from engine.bpmn.parse import CompiledPathway
from engine.bpmn.serialization import COMPRESSED_STATE_FORMAT, StateCodec
from engine.bpmn.storable import DEFAULT_MAX_DATA_BYTES, dump_after_step, dump_data
from engine.bpmn.user_tasks import TaskView, task_view
from engine.errors import (
    BpmnErrorThrown,
    ExpressionError,
    InvalidInput,
    NoMatchingWait,
    StepFailed,
    TaskNotReady,
)
from engine.sandbox.evaluator import PathwayCode, RestrictedEnvironment

# A loop in a diagram can throw from the same script again and again: a step stops after this many.
MAX_SCRIPT_THROWS_PER_RUN = 100

# SpiffWorkflow attaches each task's and workflow's data (a person's details) to its log records whenever
# these loggers' own level is below INFO — which it is unless set. Pinned here, no log line carries them.
for _spiff_logger in ("spiff.task", "spiff.workflow"):
    logging.getLogger(_spiff_logger).setLevel(logging.INFO)


@dataclass(frozen=True)
class Wait:
    """One way an instance can move on without a person: a timer falling due, a message or a signal."""

    kind: str  # "timer" | "message" | "signal"
    name: str
    due_at: datetime | None = None


@dataclass(frozen=True)
class Snapshot:
    """What an instance is doing after a step: enough to index it without loading it again."""

    completed: bool
    user_tasks: list[TaskView]
    waits: list[Wait]
    data: dict
    # Service tasks done by workers outside Signpost (engine/bpmn/external.py) that the instance waits on.
    external_tasks: list[ExternalTaskView] = field(default_factory=list)


@dataclass(frozen=True)
class RunResult:
    completed: list[TaskView]
    calls: list[ServiceCall]


class Runtime:
    """SpiffWorkflow behind a small, stable surface; every expression runs in our restricted evaluator."""

    state_format = COMPRESSED_STATE_FORMAT

    def __init__(
        self,
        evaluator: PathwayCode,
        operations: Mapping[str, Operation] | None = None,
        max_data_bytes: int = DEFAULT_MAX_DATA_BYTES,
    ):
        self._script_engine = OperationsScriptEngine(RestrictedEnvironment(evaluator), operations or {})
        self._codec = StateCodec()
        self._max_data_bytes = max_data_bytes

    def new_workflow(
        self, pathway: CompiledPathway, data: dict, local: Mapping[str, Mapping] | None = None
    ) -> BpmnWorkflow:
        """A new instance with ``data``; ``local``: the blueprint parameters its code reads as ``local``, by
        process id (``local_parameters.py``)."""
        workflow = BpmnWorkflow(pathway.spec, pathway.subprocess_specs, script_engine=self._script_engine)
        workflow.task_tree.data.update(data)
        if local:
            keep_local_parameters(workflow, local)
        return workflow

    def dump(self, workflow: BpmnWorkflow) -> str:
        return self._codec.dump(workflow)

    dump_data = staticmethod(dump_data)  # business data as plain JSON, for reading

    def dump_after_step(self, workflow: BpmnWorkflow) -> tuple[str, str]:
        """State and data to store after steps, or StepFailed (``storable.py``): an incident, not a crash."""
        return dump_after_step(workflow, _plain_data(workflow), self._codec, self._max_data_bytes)

    def load(self, pathway: CompiledPathway, state: str, state_format: str) -> BpmnWorkflow:
        """A stored state onto its version's spec, in the format it was stored in (plain JSON from before
        compression, or compressed)."""
        workflow = self._codec.load(state, state_format, pathway.spec, pathway.subprocess_specs)
        # The script engine is not part of the stored state: attach ours on every load.
        workflow.script_engine = self._script_engine
        return workflow

    def run(self, workflow: BpmnWorkflow, step: object = None) -> RunResult:
        """Run every automated step until the instance waits; return the BPMN elements completed on the way
        and the service calls they made. Raise StepFailed naming the failing task. ``step`` is handed to the
        operations that read (``Operation.reads``)."""
        completed: list[TaskView] = []
        calls = self._script_engine.collect_calls(step)

        def note_completed(task) -> None:
            if task.task_spec.bpmn_id is not None and task.state == TaskState.COMPLETED:
                completed.append(task_view(task))

        try:
            for _throw in range(MAX_SCRIPT_THROWS_PER_RUN):
                try:
                    for _round in range(MAX_SCRIPT_THROWS_PER_RUN):
                        # do_engine_steps refreshes the timers last: a timer found due is left ready, not run.
                        workflow.do_engine_steps(did_complete_task=note_completed)
                        if not any(not t.task_spec.manual for t in workflow.get_tasks(state=TaskState.READY)):
                            break
                    break
                except WorkflowException as error:
                    _throw_from_script(workflow, error)
            else:
                raise StepFailed(
                    f"scripts threw more than {MAX_SCRIPT_THROWS_PER_RUN} BPMN errors in one step",
                    element_id=None,
                    task_name=None,
                )
            _refuse_uncaught_errors(workflow)
            return RunResult(completed, calls)
        except WorkflowException as error:
            raise _step_failed(error) from error
        except Exception as error:  # SpiffWorkflow raises bare Exception, e.g. for an invalid timer duration
            raise _unexpected_step_failure(error) from error
        finally:
            self._script_engine.forget_step()  # its transaction ends with the change

    def fire_due_timers(self, workflow: BpmnWorkflow) -> None:
        try:
            workflow.refresh_timers()
            _refuse_uncaught_errors(workflow)
        except WorkflowException as error:
            raise _step_failed(error) from error
        except Exception as error:  # as in run(): a bad timer value surfaces as a bare Exception
            raise _unexpected_step_failure(error) from error

    def complete_user_task(self, workflow: BpmnWorkflow, task_id: str, data: dict) -> TaskView:
        task = self._ready_user_task(workflow, task_id)
        task.set_data(**data)
        try:
            task.run()
        except WorkflowException as error:
            raise _step_failed(error) from error
        return task_view(task)

    def cancel(self, workflow: BpmnWorkflow) -> None:
        """End the instance where it is: every unfinished task is cancelled, nothing more runs."""
        workflow.cancel()

    def add_data_to_ready_tasks(self, workflow: BpmnWorkflow, data: dict) -> None:
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data)

    def user_task(self, workflow: BpmnWorkflow, task_id: str) -> TaskView:
        return task_view(self._ready_user_task(workflow, task_id))

    def _ready_user_task(self, workflow: BpmnWorkflow, task_id: str):
        try:
            task = workflow.get_task_from_id(UUID(task_id))
        except (ValueError, TaskNotFoundException):
            task = None
        if task is None or not task.task_spec.manual:
            raise TaskNotReady(f"task {task_id} is not a user task of this instance")
        if task.state != TaskState.READY:
            raise TaskNotReady(
                f"task {task_id} ({task.task_spec.bpmn_name or task.task_spec.bpmn_id}) is "
                f"{TaskState.get_name(task.state).lower()}, not ready"
            )
        return task

    def deliver_message(self, workflow: BpmnWorkflow, name: str, payload: dict) -> int:
        """Hand a message to every task of this instance waiting for it; returns how many caught it.

        A message whose definition has BPMN correlation properties carries the keys computed from its
        payload; one whose keys differ from those the instance holds is not caught (NoMatchingWait)."""
        return self._deliver(workflow, MessageEventDefinition, name, payload)

    def deliver_signal(self, workflow: BpmnWorkflow, name: str, payload: dict) -> int:
        """Hand a signal to every task of this instance waiting for it; returns how many caught it."""
        return self._deliver(workflow, SignalEventDefinition, name, payload)

    def _deliver(self, workflow: BpmnWorkflow, kind: type, name: str, payload: dict) -> int:
        waiting = [
            (task, definition)
            for task, definition in _waiting_definitions(workflow)
            if isinstance(definition, kind) and definition.name == name
        ]
        if not waiting:
            return 0
        definition = waiting[0][1]
        correlations = {}
        if getattr(definition, "correlation_properties", None):
            correlations = _correlations_of(workflow, definition, payload)
        try:
            workflow.send_event(BpmnEvent(definition, payload=dict(payload), correlations=correlations))
        except WorkflowException as error:
            if correlations:
                raise NoMatchingWait(
                    f"the instance waits for {name!r} with other correlation keys than the message's "
                    f"({_shown_correlations(correlations)})"
                ) from error
            raise _step_failed(error) from error
        if getattr(definition, "message_var", None) is None:
            # Without a named message variable the payload's fields become task data, so a designer can
            # use them in the next gateway without unpacking anything.
            for task, _definition in waiting:
                if task.state in (TaskState.READY, TaskState.COMPLETED):
                    task.data.update(payload)
        return len(waiting)

    def describe(self, workflow: BpmnWorkflow) -> Snapshot:
        user_tasks, external = self.open_tasks(workflow)
        return Snapshot(workflow.completed, user_tasks, self.waits(workflow), _plain_data(workflow), external)

    @staticmethod
    def open_tasks(workflow: BpmnWorkflow) -> tuple[list[TaskView], list[ExternalTaskView]]:
        """The user tasks people can work on now and the external tasks workers can, in one walk over the
        task tree (each change asks for both, and the walk is most of what asking costs)."""
        user_tasks, external = [], []
        for task in workflow.get_tasks(state=TaskState.READY | TaskState.STARTED):
            if task.state == TaskState.READY and task.task_spec.manual:
                user_tasks.append(task_view(task))
            elif task.state == TaskState.STARTED and isinstance(task.task_spec, ExternalTask):
                external.append(external_task_view(task))
        return user_tasks, external

    @staticmethod
    def waits(workflow: BpmnWorkflow) -> list[Wait]:
        """The timers, messages and signals the instance waits for (as ``describe`` reports them): those
        of each waiting event, and each event of an event-based gateway or a multiple event. Errors and
        escalations are caught from inside the instance, never sent to it, so they are no wait."""
        waits = []
        for task, definition in _waiting_definitions(workflow):
            if isinstance(definition, TimerEventDefinition):
                due = definition.details(task).value
                if isinstance(due, str):  # None until the timer has started waiting
                    waits.append(Wait("timer", definition.name or "timer", _due_at(due)))
            elif isinstance(definition, MessageEventDefinition):
                waits.append(Wait("message", definition.name))
            elif isinstance(definition, SignalEventDefinition):
                waits.append(Wait("signal", definition.name))
        return waits


def _waiting_definitions(workflow: BpmnWorkflow):
    """(task, event definition) for every event the instance waits for, the events of a multiple event
    (an event-based gateway's, or a start event with several triggers) one by one."""
    for task in list(workflow.event_manager.tasks.values()):
        definition = task.task_spec.event_definition
        if isinstance(definition, MultipleEventDefinition):
            for inner in definition.event_definitions:
                yield task, inner
        else:
            yield task, definition


def _correlations_of(workflow: BpmnWorkflow, definition, payload: dict) -> dict:
    """The BPMN correlation keys a message's payload gives, computed as the sender's would be."""
    try:
        return definition.calculate_correlations(
            workflow.script_engine, definition.correlation_properties, dict(payload)
        )
    except WorkflowException as error:
        raise InvalidInput(
            f"the message's data does not give its correlation keys: {error.args[0] if error.args else error}"
        ) from error


def _shown_correlations(correlations: dict) -> str:
    return "; ".join(
        f"{key}: " + ", ".join(f"{name}={value!r}" for name, value in sorted(values.items()))
        for key, values in sorted(correlations.items())
    )


def _throw_from_script(workflow: BpmnWorkflow, error: WorkflowException) -> None:
    """A script that called ``bpmn_error`` stopped its task: throw the error from it, as from an external
    task, for the boundary events waiting on it. Any other failure is raised again as it was."""
    thrown = error.__cause__ or error.__context__
    task = getattr(error, "task", None)
    if not isinstance(thrown, BpmnErrorThrown) or task is None:
        raise error
    task._set_state(TaskState.STARTED)  # back from ERROR, so that its boundary events can interrupt it
    throw_error_from(workflow, task, thrown.code, thrown.error_message, {})


def _refuse_uncaught_errors(workflow: BpmnWorkflow) -> None:
    """A BPMN error that nothing in the instance caught stops it: the step fails naming the code.

    SpiffWorkflow keeps every error it sees in the events meant for the outside world, caught or not (an
    error caught by an event subprocess's start is kept too), so an error counts as caught when a catching
    event for it has been reached. Errors have no one outside to go to: they are dropped once judged."""
    errors = [e for e in workflow.bpmn_events if isinstance(e.event_definition, ErrorEventDefinition)]
    if not errors:
        return
    reached = [
        task
        for task in workflow.get_tasks(state=TaskState.READY | TaskState.STARTED | TaskState.COMPLETED)
        # The catchers: boundary and intermediate events, and event subprocesses (which take over the
        # definition of their start event); not the error end event that threw it.
        if not isinstance(task.task_spec, ThrowingEvent)
        and isinstance(getattr(task.task_spec, "event_definition", None), ErrorEventDefinition)
    ]
    for event in errors:
        if not any(task.task_spec.event_definition.catches(task, event) for task in reached):
            code = event.event_definition.code or event.event_definition.name
            raise StepFailed(
                f"BPMN error '{code}' was thrown and no error event catches it",
                element_id=None,
                task_name=None,
            )
    workflow.bpmn_events = [e for e in workflow.bpmn_events if e not in errors]


def _due_at(value: str) -> datetime:
    try:
        return TimerEventDefinition.get_datetime(value)
    except ValueError as error:
        raise InvalidInput(f"timer due time {value!r} is not an ISO 8601 date-time") from error


def _plain_data(workflow: BpmnWorkflow) -> dict:
    """The instance's current business data: the data of its most recently finished task."""
    last = workflow.last_task
    data = dict(last.data) if last is not None else dict(workflow.data)
    return data


def _unexpected_step_failure(error: Exception) -> StepFailed:
    """Name the task SpiffWorkflow was working on when it raised something other than its own errors."""
    spec = None
    traceback = error.__traceback__
    while traceback is not None:
        candidate = traceback.tb_frame.f_locals.get("my_task")
        if candidate is not None and hasattr(candidate, "task_spec"):
            spec = candidate.task_spec
        traceback = traceback.tb_next
    element_id = getattr(spec, "bpmn_id", None)
    task_name = getattr(spec, "bpmn_name", None) or element_id
    where = f"task '{task_name}'" if task_name else "the process"
    detail = str(error) or type(error).__name__
    return StepFailed(f"{where} failed: {detail}", element_id=element_id, task_name=task_name)


def _step_failed(error: WorkflowException) -> StepFailed:
    spec = getattr(getattr(error, "task", None), "task_spec", None) or getattr(error, "task_spec", None)
    element_id = getattr(spec, "bpmn_id", None)
    task_name = getattr(spec, "bpmn_name", None) or element_id
    # SpiffWorkflow wraps the evaluator's error without chaining it explicitly.
    cause = error.__cause__ or error.__context__
    if isinstance(cause, ExpressionError):
        multi_line = cause.source is not None and "\n" in cause.source.strip()
        detail = f"{cause.message} (line {cause.line})" if multi_line and cause.line else cause.message
    else:
        detail = str(error.args[0] if error.args else error)
    where = f"task '{task_name}'" if task_name else "the process"
    return StepFailed(f"{where} failed: {detail}", element_id=element_id, task_name=task_name)
