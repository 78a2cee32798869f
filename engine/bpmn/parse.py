"""Turn uploaded BPMN/DMN files into validated, storable process specs.

Validation collects every problem it can find (a designer fixes a file in one go, not one error per
upload), each located by file, element id and line.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from engine.bpmn.camunda import SignpostBpmnParser
from engine.bpmn.checks import expression_problems
from engine.bpmn.external import use_external_tasks
from engine.bpmn.links import join_link_events
from engine.bpmn.operations import Operation
from engine.bpmn.problems import bpmn_problems, readable
from engine.bpmn.serialization import new_serializer
from engine.bpmn.task_forms import FormCheck, form_of_spec, form_reference_problems
from engine.bpmn.unsupported import unsupported_constructs
from engine.bpmn.user_tasks import task_attribute_problems
from engine.bpmn.xml_guard import parse_untrusted_xml
from engine.errors import DefinitionInvalid, Problem
from engine.sandbox.evaluator import PathwayCode

BPMN_NAMESPACE = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# Camunda Modeler's "Startable" property of a process; "true" keeps a called process a pathway of its own.
STARTABLE_ATTRIBUTE = "{http://camunda.org/schema/1.0/bpmn}isStartableInTasklist"
DMN_NAMESPACES = (
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
)


@dataclass(frozen=True)
class SourceFile:
    filename: str
    content: bytes


@dataclass
class CompiledPathway:
    """One executable process and every process it calls, ready to start instances from."""

    process_id: str
    name: str | None
    spec: object
    subprocess_specs: dict[str, object]
    lanes: dict[str, str] = field(default_factory=dict)

    def dump(self) -> str:
        serializer = new_serializer()
        return json.dumps(
            {
                "process_id": self.process_id,
                "name": self.name,
                "spec": serializer.to_dict(self.spec),
                "subprocess_specs": {key: serializer.to_dict(s) for key, s in self.subprocess_specs.items()},
            }
        )

    @classmethod
    def load(cls, text: str) -> CompiledPathway:
        serializer = new_serializer()
        stored = json.loads(text)
        return cls(
            process_id=stored["process_id"],
            name=stored["name"],
            spec=serializer.from_dict(stored["spec"]),
            subprocess_specs={k: serializer.from_dict(v) for k, v in stored["subprocess_specs"].items()},
        )

    def user_task_form(self, element_id: str) -> str | None:
        """The form the user task ``element_id`` names (``task_forms.py``), or None."""
        for spec in (self.spec, *self.subprocess_specs.values()):
            for task_spec in spec.task_specs.values():
                if getattr(task_spec, "bpmn_id", None) == element_id and form_of_spec(task_spec):
                    return form_of_spec(task_spec)
        return None


# What SpiffWorkflow's parser raises, besides its own exceptions, on a document that is schema-valid but does
# not hold together (a decision table without a decision, a reference to nothing…).
MALFORMED_INPUT_ERRORS = (ValueError, LookupError, AttributeError, TypeError)


def _described(error: Exception) -> str:
    if isinstance(error, SpiffWorkflowException):
        return readable(str(error))
    # A bare library error (an IndexError, a KeyError…) means a reference that leads nowhere.
    return (
        "an element refers to something that is not there; check that every reference (sourceRef, targetRef, "
        "attachedToRef, messageRef, calledElement, default, the decision of a business rule task) names an "
        "element that exists"
    )


# SpiffWorkflow's messages quote the offending expression whole; a problem names it, it does not repeat it.
LONGEST_MESSAGE = 1_000


def _cut(message: str) -> str:
    if len(message) <= LONGEST_MESSAGE:
        return message
    return f"{message[:LONGEST_MESSAGE]}… ({len(message):,} characters in all)"


# Element ids and names end up in columns of at most this many characters (task names in the event log,
# user task ids, lanes); a longer one would deploy and then fail every referral that reaches it.
MAX_ID_OR_NAME_LENGTH = 200


def _overlong_ids_and_names(filename: str, root: etree._Element) -> list[Problem]:
    problems = []
    for element in root.iter(etree.Element):
        for attribute in ("id", "name"):
            value = element.get(attribute) or ""
            if len(value) > MAX_ID_OR_NAME_LENGTH:
                problems.append(
                    Problem(
                        filename,
                        f"the {attribute} of <{etree.QName(element).localname}> has {len(value):,} "
                        f"characters; at most {MAX_ID_OR_NAME_LENGTH} are allowed",
                        line=element.sourceline,
                    )
                )
    return problems


class ParsedDeployment:
    """Every file of one deployment, parsed together so that call activities and DMN resolve."""

    def __init__(
        self,
        files: list[SourceFile],
        evaluator: PathwayCode,
        max_bytes: int,
        operations: Mapping[str, Operation] | None = None,
        form_check: FormCheck | None = None,
    ):
        """``form_check`` says what is wrong with the form a user task names (None when the deployment holds
        it); without one, the forms user tasks name are not checked."""
        self._evaluator = evaluator
        self._operations = operations or {}
        self._form_check = form_check
        self._form_problems: list[Problem] = []
        self._parser = SignpostBpmnParser(validator=VALIDATOR)
        use_external_tasks(self._parser)
        self._line_of_id: dict[str, dict[str, int]] = {}
        self._name_of_id: dict[str, dict[str, str]] = {}
        self.dmn_files: list[str] = []
        self.bpmn_files: list[str] = []
        problems: list[Problem] = []
        for source in files:
            problems.extend(self._add(source, max_bytes))
        problems.extend(self._form_problems)
        if not self.bpmn_files and not problems:
            problems.append(
                Problem(files[0].filename if files else "(none)", "no BPMN file in the deployment")
            )
        if problems:
            raise DefinitionInvalid(problems)
        process_ids = self._parser.get_process_ids()
        if not all(process_ids):
            raise DefinitionInvalid([Problem(name, "every process needs an id") for name in self.bpmn_files])
        self.executable_process_ids = sorted(process_ids)
        if not self.executable_process_ids:
            raise DefinitionInvalid(
                [Problem(name, 'no executable process (set isExecutable="true")') for name in self.bpmn_files]
            )

    def _add(self, source: SourceFile, max_bytes: int) -> list[Problem]:
        try:
            root = parse_untrusted_xml(source.filename, source.content, max_bytes)
        except DefinitionInvalid as unsafe:
            return unsafe.problems
        too_long = _overlong_ids_and_names(source.filename, root)
        if too_long:
            return too_long
        self._line_of_id[source.filename] = {
            element.get("id"): element.sourceline for element in root.iter() if element.get("id")
        }
        self._name_of_id[source.filename] = {
            element.get("id"): element.get("name") for element in root.iter() if element.get("name")
        }
        namespace = etree.QName(root).namespace
        if namespace == BPMN_NAMESPACE and self._form_check is not None:
            self._form_problems.extend(form_reference_problems(source.filename, root, self._form_check))
        try:
            if namespace == BPMN_NAMESPACE:
                refused = bpmn_problems(source.filename, root) + unsupported_constructs(source.filename, root)
                refused += task_attribute_problems(source.filename, root)
                refused = refused or join_link_events(source.filename, root)
                if refused:
                    return [self._named(problem) for problem in refused]
                self._parser.add_bpmn_xml(root, source.filename)
                self.bpmn_files.append(source.filename)
            elif namespace in DMN_NAMESPACES:
                self._parser.add_dmn_xml(root, source.filename)
                self.dmn_files.append(source.filename)
            else:
                return [
                    Problem(source.filename, f"not a BPMN 2.0 or DMN document (root namespace {namespace!r})")
                ]
        except ValidationException as error:
            return [self._problem_from(error, source.filename)]
        except (SpiffWorkflowException, etree.LxmlError, *MALFORMED_INPUT_ERRORS) as error:
            return [Problem(source.filename, f"cannot be parsed: {_cut(_described(error))}")]
        return []

    def _named(self, problem: Problem) -> Problem:
        """The problem with its element's name, when the element has one and the problem does not say it."""
        if problem.element_name or not problem.element_id:
            return problem
        name = self._name_of_id.get(problem.file, {}).get(problem.element_id)
        return dataclasses.replace(problem, element_name=name) if name else problem

    def _problem_from(self, error: ValidationException, default_file: str) -> Problem:
        filename = error.file_name or default_file
        element_id = error.id or None
        line = error.line_number if isinstance(error.line_number, int) and error.line_number else None
        if line is None and element_id:
            line = self._line_of_id.get(filename, {}).get(element_id)
        if element_id is None and line:
            # A schema problem names only a line: name the element that starts on it.
            element_id = next((i for i, at in self._line_of_id.get(filename, {}).items() if at == line), None)
        message = readable(str(error.args[0]) if error.args else str(error))
        name = getattr(error, "name", None) or None
        if name is None and element_id:
            name = self._name_of_id.get(filename, {}).get(element_id)
        return Problem(filename, _cut(message), element_id=element_id, line=line, element_name=name)

    def top_level_process_ids(self) -> list[str]:
        """The pathways of the deployment: executable processes that no other process in it calls, and those
        called that say they are started on their own too (``camunda:isStartableInTasklist="true"`` on the
        process: a pathway that another pathway also calls, like community nursing from crisis response)."""
        called = set()
        for process_id in self.executable_process_ids:
            called.update(self._parser.get_process_parser(process_id).called_element_ids())
        return [pid for pid in self.executable_process_ids if pid not in called or self._startable(pid)]

    def _startable(self, process_id: str) -> bool:
        node = self._parser.get_process_parser(process_id).node
        return node.get(STARTABLE_ATTRIBUTE) == "true"

    def files_of(self, process_id: str) -> str | None:
        parser = self._parser.get_process_parser(process_id)
        return parser.filename if parser else None

    def compile(self, process_id: str) -> CompiledPathway:
        """Build the spec of ``process_id`` and check every expression in it and the processes it calls."""
        if process_id not in self.executable_process_ids:
            raise DefinitionInvalid(
                [
                    Problem(
                        self.bpmn_files[0],
                        f"no executable process with id '{process_id}' in the deployment "
                        f"(found: {', '.join(self.executable_process_ids)})",
                    )
                ]
            )
        try:
            spec = self._parser.get_spec(process_id)
            subprocess_specs = self._parser.get_subprocess_specs(process_id)
        except ValidationException as error:
            raise DefinitionInvalid([self._problem_from(error, self.files_of(process_id))]) from None
        except (SpiffWorkflowException, *MALFORMED_INPUT_ERRORS) as error:
            problem = Problem(self.files_of(process_id), f"cannot be built: {_cut(_described(error))}")
            raise DefinitionInvalid([problem]) from None
        problems: list[Problem] = []
        for each in [spec, *subprocess_specs.values()]:
            problems.extend(
                self._located(p) for p in expression_problems(each, self._evaluator, self._operations)
            )
        if problems:
            raise DefinitionInvalid(problems)
        return CompiledPathway(process_id, spec.description, spec, subprocess_specs)

    def _located(self, problem: Problem) -> Problem:
        if problem.line is None and problem.element_id:
            # Decision table cells come without their file: it is the one holding the element.
            file = problem.file or next(
                (name for name, lines in self._line_of_id.items() if problem.element_id in lines), ""
            )
            line = self._line_of_id.get(file, {}).get(problem.element_id)
            name = self._name_of_id.get(file, {}).get(problem.element_id)
            return Problem(file, problem.message, problem.element_id, line, name)
        if problem.element_id and problem.element_name is None:
            name = self._name_of_id.get(problem.file, {}).get(problem.element_id)
            return Problem(problem.file, problem.message, problem.element_id, problem.line, name)
        return problem
