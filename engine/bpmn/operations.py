"""BPMN service tasks as calls to Signpost operations.

A service task names an operation with SpiffWorkflow's extension element::

    <bpmn:serviceTask id="route" name="Route to locality team">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="signpost.route" resultVariable="handoff">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="service" type="str" value="locality_team"/>
            <spiffworkflow:parameter id="referral_type" type="str" value="'community-nursing'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>

Parameter values are expressions (run by the restricted evaluator). An operation runs inside the engine step
and must not do I/O: it returns its result at once and the call is recorded; the instance layer acts on the
recorded calls in the same transaction as the step that made them (so a failed step leaves no trace).

An operation whose answer is something the engine holds (``reads``: the open referrals a repeat contact is
matched against) is handed, besides its parameters, the step it runs in — whatever the instance layer gave
``Runtime.run``: the instance and the transaction of its change. It may read through it and never writes:
its reads see exactly what the change sees, and a failed step still leaves no trace.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from engine.bpmn.local_parameters import with_local
from engine.errors import ExpressionError, InvalidInput


@dataclass(frozen=True)
class Operation:
    """An operation service tasks may call: its parameters, and what it answers straight away."""

    name: str
    required: frozenset[str]
    optional: frozenset[str]
    # ``answer(params)``, or ``answer(params, step)`` for an operation that ``reads``.
    answer: Callable[..., dict]
    reads: bool = False

    def problem_with(self, parameter_names: set[str]) -> str | None:
        missing = self.required - parameter_names
        unknown = parameter_names - self.required - self.optional
        if missing:
            return f"operation '{self.name}' needs parameter(s) {', '.join(sorted(missing))}"
        if unknown:
            allowed = ", ".join(sorted(self.required | self.optional))
            unknown_names = ", ".join(sorted(unknown))
            return f"operation '{self.name}' has no parameter(s) {unknown_names} (it takes {allowed})"
        return None


@dataclass(frozen=True)
class ServiceCall:
    """One call a step made: where it was made, with what, and what it was answered."""

    element_id: str
    task_name: str
    operation: str
    params: dict
    result: dict


class OperationsScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine with ``call_service`` answered by our operations, and every piece of code
    given its process's local parameters (``local_parameters.py``).

    (SpiffWorkflow's own ``call_service`` turns any error into a NameError; this one names the task.)
    """

    def __init__(self, environment, operations: Mapping[str, Operation]):
        super().__init__(environment=environment)
        self._operations = dict(operations)
        self._calls = threading.local()

    def evaluate(self, task, expression, external_context=None):
        return super().evaluate(task, expression, with_local(task, external_context))

    def execute(self, task, script, external_context=None):
        return super().execute(task, script, with_local(task, external_context))

    def collect_calls(self, step: object = None) -> list[ServiceCall]:
        """Start recording the calls this thread's next step makes; returns the list they go into. ``step``
        is what operations that read are handed (None: they are answered as for a step outside any
        change)."""
        self._calls.current = []
        self._calls.step = step
        return self._calls.current

    def forget_step(self) -> None:
        """Drop the step handed to ``collect_calls``: no operation answers from it once its run is over."""
        self._calls.step = None

    def call_service(self, task, operation_name=None, operation_params=None, **_ignored):
        operation = self._operations.get(operation_name)
        if operation is None:
            raise WorkflowTaskException(f"unknown service operation '{operation_name}'", task=task)
        params = {name: param["value"] for name, param in (operation_params or {}).items()}
        try:
            if operation.reads:
                result = operation.answer(params, getattr(self._calls, "step", None))
            else:
                result = operation.answer(params)
        except (InvalidInput, ExpressionError) as error:
            raise WorkflowTaskException(error.message, task=task, exception=error) from error
        calls = getattr(self._calls, "current", None)
        if calls is not None:
            spec = task.task_spec
            calls.append(
                ServiceCall(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, operation.name, params, result)
            )
        return json.dumps(result)
