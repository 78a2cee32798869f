"""Path coverage: which flow nodes and sequence flows of a diagram the tokens of some instances went through.

SpiffWorkflow keeps every task it made in the instance's task tree, each child made when its parent finished,
but it does not record which sequence flow a token took (a task spec knows its outputs, not the flows that
lead to them). So coverage is read from the tree, per (sub)workflow:

- an element counts once a token *arrived* at a task of it: the task completed, or it was made by a parent
  that completed and is open, waiting, failed or cancelled (an interrupted task, a parallel join whose token
  was merged into another's). A boundary event, and an event waited for after an event-based gateway, counts
  only when it fired: waiting for an event is not going through it.
- a sequence flow counts once a token arrived at its target from a completed task of its source: the target's
  nearest ancestor that is a BPMN element (SpiffWorkflow puts control tasks without an element in between —
  the split and join around a task with boundary events, the workflow's start). A flow leaving a task with
  boundary events counts only when that task itself completed (not when a boundary event ended it).

Two flows with the same source and target cannot be told apart this way: both count once either is taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent, EventBasedGateway
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.parse import BPMN_NAMESPACE, SourceFile
from engine.bpmn.xml_guard import parse_untrusted_xml

FLOW_NODES = frozenset(
    {
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "task",
        "userTask",
        "manualTask",
        "scriptTask",
        "serviceTask",
        "sendTask",
        "receiveTask",
        "businessRuleTask",
        "callActivity",
        "subProcess",
        "transaction",
        "adHocSubProcess",
        "exclusiveGateway",
        "inclusiveGateway",
        "parallelGateway",
        "eventBasedGateway",
        "complexGateway",
    }
)
CONTAINERS = frozenset({"subProcess", "transaction", "adHocSubProcess"})
BOUNDARY_JOIN_SUFFIX = ".BoundaryEventJoin"
# A task in one of these states was only predicted: no token has reached it.
PREDICTED = TaskState.MAYBE | TaskState.LIKELY | TaskState.FUTURE


@dataclass(frozen=True)
class SequenceFlow:
    id: str
    source: str
    target: str


@dataclass(frozen=True)
class ProcessDiagram:
    """The flow nodes and sequence flows of one process, its embedded subprocesses' included."""

    process_id: str
    name: str | None
    file: str
    elements: tuple[str, ...]  # flow node ids, in document order
    flows: tuple[SequenceFlow, ...]
    # The ids whose (sub)workflows hold this process's tasks: the process and its embedded subprocesses.
    containers: frozenset[str]


def diagrams_of(files: list[SourceFile], max_bytes: int) -> dict[str, ProcessDiagram]:
    """Every executable process in the BPMN files among ``files`` (others are skipped), by process id.
    Raises DefinitionInvalid for a file that is not well-formed XML (as deploying it would)."""
    found: dict[str, ProcessDiagram] = {}
    for source in files:
        if not source.filename.endswith(".bpmn"):
            continue
        root = parse_untrusted_xml(source.filename, source.content, max_bytes)
        for process in root.iter(f"{{{BPMN_NAMESPACE}}}process"):
            if process.get("isExecutable") == "false" or not process.get("id"):
                continue
            found[process.get("id")] = _diagram(source.filename, process)
    return found


def _diagram(filename: str, process: etree._Element) -> ProcessDiagram:
    elements, flows, containers = [], [], {process.get("id")}
    for node in process.iter(etree.Element):
        if etree.QName(node).namespace != BPMN_NAMESPACE or not node.get("id"):
            continue
        kind = etree.QName(node).localname
        if kind in FLOW_NODES:
            elements.append(node.get("id"))
            if kind in CONTAINERS:
                containers.add(node.get("id"))
        elif kind == "sequenceFlow" and node.get("sourceRef") and node.get("targetRef"):
            flows.append(SequenceFlow(node.get("id"), node.get("sourceRef"), node.get("targetRef")))
    return ProcessDiagram(
        process.get("id"), process.get("name"), filename, tuple(elements), tuple(flows), frozenset(containers)
    )


@dataclass
class PathTrace:
    """Where tokens went in the instances looked at, as (workflow spec name, element id) pairs: the spec name
    is the process id of a top-level workflow or call activity, the subprocess id of an embedded one."""

    arrived: set[tuple[str, str]] = field(default_factory=set)
    completed: set[tuple[str, str]] = field(default_factory=set)
    moved: set[tuple[str, str, str]] = field(default_factory=set)  # (spec name, source id, target id)

    def observe(self, workflow) -> None:
        """Add what the task tree of a loaded instance shows (looking again adds nothing twice)."""
        for flow in (workflow, *workflow.subprocesses.values()):
            spec_name = flow.spec.name
            for task in list(flow.tasks.values()):
                element = getattr(task.task_spec, "bpmn_id", None)
                if element is None or not _arrived(task):
                    continue
                self.arrived.add((spec_name, element))
                if task.state == TaskState.COMPLETED:
                    self.completed.add((spec_name, element))
                source = _completed_source(task)
                if source is not None:
                    self.moved.add((spec_name, source, element))

    def merge(self, other: PathTrace) -> None:
        self.arrived |= other.arrived
        self.completed |= other.completed
        self.moved |= other.moved

    def completed_elements(self) -> set[str]:
        return {element for _spec, element in self.completed}


@dataclass(frozen=True)
class ProcessCoverage:
    process_id: str
    file: str
    elements: dict[str, bool]
    flows: dict[str, bool]

    @property
    def elements_covered(self) -> int:
        return sum(self.elements.values())

    @property
    def flows_covered(self) -> int:
        return sum(self.flows.values())

    def uncovered_elements(self) -> list[str]:
        return [element for element, covered in self.elements.items() if not covered]

    def uncovered_flows(self) -> list[str]:
        return [flow for flow, covered in self.flows.items() if not covered]


def coverage_of(diagrams: dict[str, ProcessDiagram], trace: PathTrace) -> dict[str, ProcessCoverage]:
    """Per process: each element and each sequence flow, and whether the trace went through it."""
    process_of = {container: d.process_id for d in diagrams.values() for container in d.containers}
    arrived = {(process_of.get(spec), element) for spec, element in trace.arrived}
    moved = {(process_of.get(spec), source, target) for spec, source, target in trace.moved}
    return {
        pid: ProcessCoverage(
            pid,
            diagram.file,
            {element: (pid, element) in arrived for element in diagram.elements},
            {flow.id: (pid, flow.source, flow.target) in moved for flow in diagram.flows},
        )
        for pid, diagram in diagrams.items()
    }


def _arrived(task) -> bool:
    if task.state == TaskState.COMPLETED:
        return True
    if task.state & PREDICTED:
        return False
    if isinstance(task.task_spec, BoundaryEvent) or (
        task.parent is not None and isinstance(task.parent.task_spec, EventBasedGateway)
    ):
        return False  # it was waiting for its event, which never came
    return task.parent is not None and task.parent.state == TaskState.COMPLETED


def _completed_source(task) -> str | None:
    """The element a token came from to reach ``task``, when that element's task completed."""
    parent = task.parent
    while parent is not None and getattr(parent.task_spec, "bpmn_id", None) is None:
        if parent.task_spec.name.endswith(BOUNDARY_JOIN_SUFFIX):
            return _attached_task_completed(parent)
        parent = parent.parent
    if parent is None or parent.state != TaskState.COMPLETED:
        return None
    return parent.task_spec.bpmn_id


def _attached_task_completed(join) -> str | None:
    """Behind the join of a task with boundary events: that task, if it completed (rather than being ended by
    an interrupting boundary event, whose own flows lead elsewhere)."""
    attached = join.task_spec.name.removesuffix(BOUNDARY_JOIN_SUFFIX)
    split = join.parent
    while split is not None and not split.task_spec.name.endswith(".BoundaryEventSplit"):
        split = split.parent
    if split is None:
        return None
    for child in split.children:
        if child.task_spec.bpmn_id == attached and child.state == TaskState.COMPLETED:
            return attached
    return None
