"""BPMN and DMN: everything that touches SpiffWorkflow lives in this package, and nothing outside it imports
the library. Also owns the evaluator that every expression and script from a pathway runs in, and the guard
that parses untrusted XML. Reads an instance's path for scenario coverage (``coverage.py``) and makes
SpiffWorkflow's timers read ``engine.clock`` (``engine_time.py``). Imports only the root modules (errors,
clock); results leave it as the frozen types exported here.
"""

from engine.bpmn import engine_time  # noqa: F401 -- SpiffWorkflow's timers read engine.clock from here on
from engine.bpmn.checks import CodeProblem, code_problem
from engine.bpmn.coverage import PathTrace, ProcessCoverage, ProcessDiagram, coverage_of, diagrams_of
from engine.bpmn.external import ExternalTaskView, complete_external_task, throw_bpmn_error
from engine.bpmn.local_parameters import LOCAL_NAME
from engine.bpmn.local_references import local_references
from engine.bpmn.operations import Operation, ServiceCall
from engine.bpmn.parse import CompiledPathway, ParsedDeployment, SourceFile
from engine.bpmn.runtime import RunResult, Runtime, Snapshot, TaskView, Wait
from engine.bpmn.serialization import STATE_FORMAT, state_json

__all__ = [
    "LOCAL_NAME",
    "STATE_FORMAT",
    "CodeProblem",
    "CompiledPathway",
    "ExternalTaskView",
    "Operation",
    "ParsedDeployment",
    "PathTrace",
    "ProcessCoverage",
    "ProcessDiagram",
    "RunResult",
    "Runtime",
    "ServiceCall",
    "Snapshot",
    "SourceFile",
    "TaskView",
    "Wait",
    "code_problem",
    "complete_external_task",
    "coverage_of",
    "diagrams_of",
    "local_references",
    "state_json",
    "throw_bpmn_error",
]
