"""What the BPMN specification and Camunda Modeler files say works, read into SpiffWorkflow's structures.

``SignpostBpmnParser`` is SpiffWorkflow's Spiff-extensions parser (so every ``spiffworkflow:`` extension keeps
working) that also reads:

* bare ISO 8601 timer values (``P7D``, ``PT48H``, ``2026-12-24T09:00:00Z``, ``R3/PT1H``), as the BPMN
  specification writes them; a timer is otherwise a Python expression (``"PT48H"`` still works);
* ``camunda:decisionRef`` on a business rule task, as ``spiffworkflow:calledDecisionId``;
* ``camunda:collection`` / ``camunda:elementVariable`` on multi-instance loop characteristics, as the loop
  input data reference and the input data item;
* abstract tasks (``bpmn:task``), which pass straight through instead of waiting for someone;
* ``camunda:formRef`` on a user task, kept with the task's extensions (``task_forms.py``);
* ``camunda:dueDate`` and ``camunda:priority`` on a user task, kept the same way (``user_tasks.py``);
* a task with several outgoing sequence flows (an implicit parallel split): every flow is taken;
* DMN files holding several decisions (``requiredDecision``s are evaluated first and their outputs are
  visible to the decision that requires them) and literal-expression decisions.

The file as uploaded is what is stored; only the parsed tree is adjusted. The parse happens after the
schema check, so nothing added here has to be schema-valid BPMN.
"""

from __future__ import annotations

import copy
import re

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator, full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.parser.DMNParser import DMNParser
from SpiffWorkflow.dmn.serializer.task_spec import BaseBusinessRuleTaskConverter
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser, SpiffTaskParser
from SpiffWorkflow.spiff.serializer.task_spec import BusinessRuleTaskConverter
from SpiffWorkflow.spiff.specs.defaults import (
    NoneTask,
    ParallelMultiInstanceTask,
    SequentialMultiInstanceTask,
)

from engine.bpmn.task_forms import KeepsCamundaFormRef
from engine.bpmn.user_tasks import KeepsCamundaTaskAttributes

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_BPMN = f"{{{BPMN_NS}}}"
_CAMUNDA = f"{{{CAMUNDA_NS}}}"

_NUMBER = r"\d+(\.\d+)?"
_DURATION = (
    rf"P(?!$)({_NUMBER}Y)?({_NUMBER}M)?({_NUMBER}W)?({_NUMBER}D)?"
    rf"(T(?=\d)({_NUMBER}H)?({_NUMBER}M)?({_NUMBER}S)?)?"
)
_DATE_TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"
# A whole timer value written as the BPMN specification writes it, not as a Python expression.
BARE_ISO_8601 = re.compile(
    rf"^\s*(R\d*/(({_DATE_TIME})/)?{_DURATION}(/{_DATE_TIME})?|{_DURATION}|{_DATE_TIME})\s*$"
)
TIMER_TAGS = (f"{_BPMN}timeDuration", f"{_BPMN}timeDate", f"{_BPMN}timeCycle")


class PassThroughTask(NoneTask):
    """An abstract task (``bpmn:task``): the BPMN specification gives it no behaviour, so it completes at
    once (SpiffWorkflow's own makes it a manual task that waits for someone)."""

    def __init__(self, wf_spec, bpmn_id, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = False


class _ElementVariableIsLocal:
    """Camunda's element variable belongs to one instance of a multi-instance activity: each instance's data
    is merged back into the activity without it (SpiffWorkflow would merge it too, and then refuse to start
    the next sequential instance because the variable "already exists")."""

    def merge_child(self, workflow, child):
        if (
            self.data_output is not None
            or self.input_item is None
            or self.input_item.bpmn_id not in child.data
        ):
            return super().merge_child(workflow, child)
        local = child.data.pop(self.input_item.bpmn_id)
        try:
            return super().merge_child(workflow, child)
        finally:
            child.data[self.input_item.bpmn_id] = local


class CamundaParallelMultiInstanceTask(_ElementVariableIsLocal, ParallelMultiInstanceTask):
    """A parallel multi-instance activity over ``camunda:collection`` / ``camunda:elementVariable``."""


class CamundaSequentialMultiInstanceTask(_ElementVariableIsLocal, SequentialMultiInstanceTask):
    """A sequential multi-instance activity over ``camunda:collection`` / ``camunda:elementVariable``."""


class ChainedDMNEngine(DMNEngine):
    """A decision evaluated after the decisions it requires: their outputs are visible to its expressions
    (as they are in Camunda), but only its own outputs reach the task data."""

    def __init__(self, decision_table, required: list[DMNEngine] | None = None):
        super().__init__(decision_table)
        self.required = list(required or [])

    def result(self, task):
        if not self.required:
            return super().result(task)
        own = task.data
        visible = dict(own)
        try:
            for engine in self.required:
                task.data = visible
                visible = {**visible, **engine.result(task)}
            task.data = visible
            return super().result(task)
        finally:
            task.data = own


class SignpostBusinessRuleTaskConverter(BusinessRuleTaskConverter):
    """Stores the required decisions of a business rule task's decision along with it."""

    def to_dict(self, spec):
        dct = super().to_dict(spec)
        dct["required_decisions"] = self._required_to_dict(spec.dmnEngine)
        return dct

    def _required_to_dict(self, engine) -> list:
        return [
            {
                "table": self.decision_table_to_dict(each.decision_table),
                "required": self._required_to_dict(each),
            }
            for each in getattr(engine, "required", [])
        ]

    def from_dict(self, dct):
        required = self._required_from_dict(dct.pop("required_decisions", []))
        spec = super().from_dict(dct)
        spec.dmnEngine = ChainedDMNEngine(spec.dmnEngine.decision_table, required)
        return spec

    def _required_from_dict(self, items: list) -> list:
        return [
            ChainedDMNEngine(
                BaseBusinessRuleTaskConverter.decision_table_from_dict(self, item["table"]),
                self._required_from_dict(item["required"]),
            )
            for item in items
        ]


def required_engines(engine) -> list:
    """Every decision ``engine`` requires, directly or not (for deploy-time checks)."""
    found = []
    for each in getattr(engine, "required", []):
        found.append(each)
        found.extend(required_engines(each))
    return found


class _DecisionRefParser(BusinessRuleTaskParser):
    @staticmethod
    def get_decision_ref(node):
        return BusinessRuleTaskParser.get_decision_ref(node) or node.get(f"{_CAMUNDA}decisionRef")


class _CamundaMultiInstance:
    """Reads ``camunda:collection`` / ``camunda:elementVariable`` as the loop input and input data item."""

    def _add_multiinstance_task(self, loop_characteristics):
        collection = loop_characteristics.get(f"{_CAMUNDA}collection")
        element = loop_characteristics.get(f"{_CAMUNDA}elementVariable")
        has = {etree.QName(child).localname for child in loop_characteristics if isinstance(child.tag, str)}
        if collection and "loopDataInputRef" not in has and "loopCardinality" not in has:
            etree.SubElement(loop_characteristics, f"{_BPMN}loopDataInputRef").text = collection
        if element and "inputDataItem" not in has:
            etree.SubElement(loop_characteristics, f"{_BPMN}inputDataItem", id=element, name=element)
        if collection or element:
            self.PARALLEL_MI_CLASS = CamundaParallelMultiInstanceTask
            self.SEQUENTIAL_MI_CLASS = CamundaSequentialMultiInstanceTask
        return super()._add_multiinstance_task(loop_characteristics)

    def handles_multiple_outgoing(self):
        # The BPMN specification: several outgoing flows from a task are all taken (an implicit split).
        return True


_ADAPTED: dict[type, type] = {}


def _adapted(parser_class: type) -> type:
    if parser_class not in _ADAPTED:
        _ADAPTED[parser_class] = type(parser_class.__name__, (_CamundaMultiInstance, parser_class), {})
    return _ADAPTED[parser_class]


_KEEPING_TASK_EXTENSIONS: dict[type, type] = {}


def _keeping_task_extensions(parser_class: type) -> type:
    if parser_class not in _KEEPING_TASK_EXTENSIONS:
        _KEEPING_TASK_EXTENSIONS[parser_class] = type(
            parser_class.__name__, (KeepsCamundaFormRef, KeepsCamundaTaskAttributes, parser_class), {}
        )
    return _KEEPING_TASK_EXTENSIONS[parser_class]


class SignpostBpmnParser(SpiffBpmnParser):
    """SpiffBpmnParser that also reads what Camunda Modeler and the BPMN specification write."""

    def _get_parser_class(self, tag):
        if tag == full_tag("task"):
            parser_class, spec_class = SpiffTaskParser, PassThroughTask
        elif tag == full_tag("businessRuleTask"):
            parser_class, spec_class = _DecisionRefParser, super()._get_parser_class(tag)[1]
        elif tag == full_tag("userTask"):
            parser_class, spec_class = super()._get_parser_class(tag)
            parser_class = _keeping_task_extensions(parser_class)
        else:
            parser_class, spec_class = super()._get_parser_class(tag)
        if parser_class is None:
            return parser_class, spec_class
        return _adapted(parser_class), spec_class

    def add_bpmn_xml(self, bpmn, filename=None):
        name_unnamed_messages(bpmn)
        super().add_bpmn_xml(bpmn, filename)
        quote_bare_timer_values(bpmn)

    def add_dmn_xml(self, node, filename=None):
        namespaces = self.namespaces.copy()
        namespaces.update(node.nsmap)
        if None in namespaces:
            namespaces["dmn"] = namespaces.pop(None)
        schema = self.dmn_schemas.get(namespaces.get("dmn"))
        if self.validator and schema is not None:
            BpmnValidator(schema).validate(node, filename)
        decisions = node.findall("dmn:decision", namespaces=namespaces)
        if not decisions:
            raise _refusal(
                "the DMN file holds no decision: add one (a decision table or a literal expression)",
                node,
                filename,
            )
        for index, _decision in enumerate(decisions):
            single = copy.deepcopy(node)
            for position, other in enumerate(single.findall("dmn:decision", namespaces=namespaces)):
                if position != index:
                    single.remove(other)
            decision = single.find("dmn:decision", namespaces=namespaces)
            _refuse_unsupported_hit_policy(decision, namespaces, filename)
            _literal_expression_as_table(decision, namespaces, filename)
            parser = DMNParser(self, single, namespaces, filename=filename)
            self.dmn_parsers[parser.bpmn_id] = parser
            self.dmn_parsers_by_name[parser.get_name()] = parser

    def get_engine(self, decision_ref, node, _seen: tuple = ()):
        if decision_ref not in self.dmn_parsers:
            known = ", ".join(sorted(str(each) for each in self.dmn_parsers)) or "none"
            raise ValidationException(
                f"no deployed DMN file holds a decision with id '{decision_ref}' (decisions deployed: "
                f"{known}): deploy the DMN file with the pathway, or correct the decision reference",
                node=node,
                file_name="",
            )
        parser = self.dmn_parsers[decision_ref]
        parser.parse()
        decision = parser.xpath("dmn:decision[1]")[0]
        if not parser.decision.decisionTables:
            raise _refusal(
                f"decision '{decision_ref}' is neither a decision table nor a literal expression: Signpost "
                "runs only those two kinds of decision; rewrite it as one of them",
                decision,
                parser.filename,
            )
        required = []
        for requirement in decision.xpath(
            "dmn:informationRequirement/dmn:requiredDecision", namespaces=parser.nsmap
        ):
            required_id = (requirement.get("href") or "").lstrip("#")
            if required_id in (*_seen, decision_ref):
                raise _refusal(
                    f"decision '{decision_ref}' requires itself through '{required_id}': "
                    "remove the loop of required decisions",
                    requirement,
                    parser.filename,
                    decision,
                )
            if required_id not in self.dmn_parsers:
                raise _refusal(
                    f"decision '{decision_ref}' requires decision '{required_id}', which is in none of the "
                    "deployed DMN files: deploy the file holding it too",
                    requirement,
                    parser.filename,
                    decision,
                )
            required.append(self.get_engine(required_id, requirement, (*_seen, decision_ref)))
        return ChainedDMNEngine(parser.decision.decisionTables[0], required)


def _refusal(message: str, element, filename: str | None, about=None) -> ValidationException:
    """A ValidationException located at ``element``'s line and named for ``about`` (the decision it is in)."""
    about = element if about is None else about
    return ValidationException(
        message,
        file_name=filename or "",
        id=about.get("id") or "",
        name=about.get("name") or "",
        line_number=element.sourceline or "",
    )


# Hit policies SpiffWorkflow evaluates as the DMN specification says (UNIQUE and ANY are read as FIRST: the
# first matching rule wins). The others would silently give one result where DMN gives several, or sort them.
HIT_POLICIES = ("UNIQUE", "FIRST", "ANY", "COLLECT")


def _refuse_unsupported_hit_policy(decision, namespaces: dict, filename: str | None) -> None:
    table = decision.find("dmn:decisionTable", namespaces=namespaces)
    if table is None:
        return
    policy = (table.get("hitPolicy") or "UNIQUE").upper()
    if policy not in HIT_POLICIES:
        raise _refusal(
            f"decision '{decision.get('id')}' has hit policy {policy}, which Signpost does not run: use "
            "FIRST (the first matching rule wins) or COLLECT (a list of every match)",
            table,
            filename,
            decision,
        )
    if table.get("aggregation"):
        raise _refusal(
            f"decision '{decision.get('id')}' aggregates its matches ({table.get('aggregation')}), which "
            "Signpost does not do: use COLLECT without an aggregation and compute the "
            f"{table.get('aggregation').lower()} in a script task",
            table,
            filename,
            decision,
        )


def _literal_expression_as_table(decision, namespaces: dict, filename: str | None) -> None:
    """A literal-expression decision becomes a one-rule decision table giving its variable the value."""
    literal = decision.find("dmn:literalExpression", namespaces=namespaces)
    if literal is None:
        return
    dmn = etree.QName(decision).namespace
    text = literal.find("dmn:text", namespaces=namespaces)
    variable = decision.find("dmn:variable", namespaces=namespaces)
    name = variable.get("name") if variable is not None and variable.get("name") else decision.get("id")
    if text is None or not (text.text or "").strip():
        raise _refusal(
            f"the literal expression of decision '{decision.get('id')}' is empty: write the Python "
            "expression that gives its value",
            literal,
            filename,
            decision,
        )
    table = etree.Element(f"{{{dmn}}}decisionTable", id=f"{decision.get('id')}_literal")
    table.sourceline = literal.sourceline
    etree.SubElement(table, f"{{{dmn}}}output", id=f"{decision.get('id')}_value", name=name)
    rule = etree.SubElement(table, f"{{{dmn}}}rule", id=literal.get("id") or f"{decision.get('id')}_rule")
    entry = etree.SubElement(rule, f"{{{dmn}}}outputEntry", id=literal.get("id") or decision.get("id"))
    etree.SubElement(entry, f"{{{dmn}}}text").text = text.text
    literal.addprevious(table)
    decision.remove(literal)


def name_unnamed_messages(bpmn) -> None:
    """A ``bpmn:message`` (or ``bpmn:signal``) without a name (optional in BPMN) is named by its id: services
    send it by that."""
    for message in bpmn.iter(f"{_BPMN}message", f"{_BPMN}signal"):
        if not (message.get("name") or "").strip() and message.get("id"):
            message.set("name", message.get("id"))


def quote_bare_timer_values(bpmn) -> None:
    """``PT48H`` as the BPMN specification writes it is read as the Python string ``"PT48H"``."""
    for tag in TIMER_TAGS:
        for element in bpmn.iter(tag):
            if element.text and BARE_ISO_8601.match(element.text):
                element.text = repr(element.text.strip())
