"""Deploy-time checks of every expression and script in a process spec.

Each is compiled by our restricted evaluator (so a forbidden construct is refused at deploy, not at 3 a.m.
in a running referral). Timer expressions that do not depend on instance data are evaluated too, and their
value must be valid ISO 8601 for the kind of timer.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)

from engine.bpmn.camunda import required_engines
from engine.bpmn.hints import feel_cell_hint, other_language_hint
from engine.bpmn.operations import Operation
from engine.errors import ExpressionError, ExpressionFailed, Problem
from engine.sandbox.evaluator import PathwayCode

_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = _SHORT_REPR.maxlong = 200
# Generous for a decision table cell (the longest in processes/ is under 100 characters).
MAX_DECISION_CELL_CHARS = 1000
LOOKS_LIKE_BARE_ISO_8601 = re.compile(r"^\s*(R\d*/)?P(\d|T\d)|^\s*\d{4}-\d{2}-\d{2}")


def expression_problems(spec, evaluator: PathwayCode, operations: Mapping[str, Operation]) -> list[Problem]:
    problems = []
    for task_spec in spec.task_specs.values():
        element_id = getattr(task_spec, "bpmn_id", None)
        if element_id is None:
            continue
        operation_problem = _operation_problem(task_spec, operations)
        if operation_problem:
            problems.append(Problem(spec.file or "", operation_problem, element_id=element_id))
        for kind, source, check in sources_of(task_spec):
            problem = _check(evaluator, kind, source, check)
            if problem:
                problems.append(Problem(spec.file or "", problem, element_id=element_id))
        for source_id, kind, source in decision_table_sources(task_spec):
            problem = (
                _oversized_cell_problem(kind, source)
                or _feel_cell_problem(kind, source)
                or _check(evaluator, kind, source, "expression")
            )
            if problem:
                problems.append(Problem("", problem, element_id=source_id))
    return problems


def _operation_problem(task_spec, operations: Mapping[str, Operation]) -> str | None:
    name = getattr(task_spec, "operation_name", None)
    if name is None:
        return None
    operation = operations.get(name)
    if operation is None:
        known = ", ".join(sorted(operations)) or "none"
        return f"service task calls unknown operation '{name}' (known: {known})"
    return operation.problem_with(set(task_spec.operation_params or {}))


def sources_of(task_spec) -> Iterator[tuple[str, str, str]]:
    """(what it is, its source text, 'script' | 'expression' | 'timer' | 'cycle') for one task spec."""
    for attribute, kind in (("script", "script"), ("prescript", "pre-script"), ("postscript", "post-script")):
        source = getattr(task_spec, attribute, None)
        if source:
            yield kind, source, "script"
    for condition, _target in getattr(task_spec, "cond_task_specs", None) or []:
        # SpiffWorkflow wraps each condition in an operator object holding the expression text.
        text = condition.args[0] if condition is not None and getattr(condition, "args", None) else condition
        if isinstance(text, str) and text:
            yield "gateway condition", text, "expression"
    for attribute in ("cardinality", "condition", "completion_condition"):
        source = getattr(task_spec, attribute, None)
        if isinstance(source, str) and source:
            yield f"loop {attribute.replace('_', ' ')}", source, "expression"
    for name, param in (getattr(task_spec, "operation_params", None) or {}).items():
        yield f"service task parameter '{name}'", param["value"], "expression"
    event_definition = getattr(task_spec, "event_definition", None)
    if event_definition is not None:
        yield from _event_sources(event_definition)


def _event_sources(event_definition) -> Iterator[tuple[str, str, str]]:
    if isinstance(event_definition, MultipleEventDefinition):
        for each in event_definition.event_definitions:
            yield from _event_sources(each)
    elif isinstance(event_definition, CycleTimerEventDefinition):
        yield "timer cycle expression", event_definition.expression, "cycle"
    elif isinstance(event_definition, TimerEventDefinition):
        yield "timer expression", event_definition.expression, "timer"
    elif isinstance(event_definition, ConditionalEventDefinition):
        yield "conditional event expression", event_definition.expression, "expression"
    elif isinstance(event_definition, MessageEventDefinition):
        if getattr(event_definition, "expression", None):
            yield "message payload expression", event_definition.expression, "expression"
        properties = list(event_definition.correlation_properties)
        properties += list(getattr(event_definition, "process_correlations", None) or [])
        for prop in properties:
            yield "correlation expression", prop.retrieval_expression, "expression"


def _oversized_cell_problem(kind: str, source: str) -> str | None:
    if not isinstance(source, _OversizedCell):
        return None
    return (
        f"{kind} is {len(source):,} characters long; a decision table cell may hold at most "
        f"{MAX_DECISION_CELL_CHARS:,}: move long logic into a script task before the decision"
    )


class _OversizedCell(str):
    """A decision table cell too long to be checked or run: SpiffWorkflow rewrites every input cell with a
    regular expression whose work grows with the square of the cell's length, in the server's process."""


def _feel_cell_problem(kind: str, source: str) -> str | None:
    return feel_cell_hint(source.cell) if isinstance(source, _Cell) else None


class _Cell(str):
    """The test built from one decision table input cell, remembering the cell as written."""

    cell: str


def _cell(test: str, text: str) -> _Cell:
    built = _Cell(test)
    built.cell = text
    return built


def decision_table_sources(task_spec) -> Iterator[tuple[str, str, str]]:
    engine = getattr(task_spec, "dmnEngine", None)
    if engine is None:
        return
    for each in [engine, *required_engines(engine)]:
        yield from _table_sources(each.decision_table)


def _table_sources(table) -> Iterator[tuple[str, str, str]]:
    for table_input in table.inputs:
        if table_input.expression:
            yield table_input.id, "decision input expression", _within_cap(table_input.expression)
    for rule in table.rules:
        for entry in rule.inputEntries:
            input_expression = entry.input.expression or "None"
            for text in entry.lhs:
                if text and _oversized(text):
                    yield entry.id or rule.id, "decision rule input", _OversizedCell(text)
                elif (
                    text
                    and text.strip() not in ("-", "")
                    and len(input_expression) <= MAX_DECISION_CELL_CHARS
                ):
                    test = _cell(_dmn_comparison(input_expression, text), text)
                    yield entry.id or rule.id, "decision rule input", test
        for entry in rule.outputEntries:
            if entry.text and entry.text.strip():
                yield entry.id or rule.id, "decision rule output", _within_cap(entry.text)


def _oversized(text: str) -> bool:
    return len(text) > MAX_DECISION_CELL_CHARS


def _within_cap(text: str) -> str:
    return _OversizedCell(text) if _oversized(text) else text


def _dmn_comparison(input_expression: str, cell: str) -> str:
    # Mirrors how SpiffWorkflow's DMN engine builds the test it evaluates for a rule cell.
    if "?" in cell:
        return cell.replace("?", f"({input_expression})")
    return f"({input_expression}) == ({cell})" if _parses(cell) else f"({input_expression}) {cell}"


def _parses(cell: str) -> bool:
    try:
        compile(cell, "<cell>", "eval")  # parse only: the result is never run, the evaluator checks it
    except (SyntaxError, RecursionError, MemoryError):
        # Too deeply nested to parse here: the evaluator's own check refuses it with a clear message.
        return False
    return True


@dataclass(frozen=True)
class CodeProblem:
    """Why the deploy checks refuse one expression or script, and where in it (from 1; None when unknown)."""

    message: str
    line: int | None = None
    column: int | None = None

    def as_dict(self) -> dict:
        return {"message": self.message, "line": self.line, "column": self.column}


def code_problem(evaluator: PathwayCode, source: str, check: str) -> CodeProblem | None:
    """What a deployment would be refused for in ``source``, an expression (``check`` 'expression') or a
    script ('script'), as the checks of every pathway's code find it: None when it would pass. The code is
    only checked (by ``evaluator``: the sandbox's, for code that computes), never run."""
    hint = other_language_hint(check, source)
    if hint:
        return CodeProblem(hint, line=1, column=1)
    try:
        _compile_check(evaluator, source, check)
    except ExpressionError as error:
        return CodeProblem(error.message, line=error.line, column=error.column)
    return None


def _compile_check(evaluator: PathwayCode, source: str, check: str) -> None:
    if check == "script":
        evaluator.check_script(source)
    else:
        evaluator.check_expression(source)


def _check(evaluator: PathwayCode, kind: str, source: str, check: str) -> str | None:
    hint = other_language_hint(kind, source)
    if hint:
        return hint
    try:
        _compile_check(evaluator, source, check)
    except ExpressionError as error:
        if not isinstance(source, str):  # an empty element: SpiffWorkflow gives None, not ""
            return f"{kind} is missing: {error.message}"
        where = f" (line {error.line})" if error.line and "\n" in source else ""
        return f"{kind} {_shown(source.strip())} is refused{where}: {error.message}"
    if check in ("timer", "cycle"):
        return _timer_problem(evaluator, kind, source, check)
    return None


def _timer_problem(evaluator: PathwayCode, kind: str, source: str, check: str) -> str | None:
    try:
        value = evaluator.evaluate(source, {})
    except ExpressionFailed as error:
        if LOOKS_LIKE_BARE_ISO_8601.match(source):
            return (
                f"{kind} {_shown(source.strip())} is neither a valid ISO 8601 value (e.g. PT48H, P7D, "
                "2026-12-24T09:00:00Z, R3/PT1H) nor a Python expression that gives one: correct the value"
            )
        if isinstance(error.__cause__, NameError):
            return None  # depends on instance data: checked when the timer starts waiting
        return f"{kind} {_shown(source)} fails: {error.message}"
    return timer_value_problem(kind, value, cycle=check == "cycle")


def timer_value_problem(kind: str, value, *, cycle: bool) -> str | None:
    """Why ``value`` is not a usable timer value, or None when it is."""
    if not isinstance(value, str):
        return f"{kind} must give an ISO 8601 string, got {type(value).__name__} {_shown(value)}"
    try:
        if cycle:
            TimerEventDefinition.parse_iso_recurring_interval(value)
        else:
            parsed = TimerEventDefinition.parse_time_or_duration(value)
            if isinstance(parsed, datetime) and datetime.fromisoformat(value).tzinfo is None:
                return (
                    f"{kind} gives {value!r} without a UTC offset; it would be read in the server's local "
                    f"time zone: write e.g. {value}+00:00"
                )
    except Exception:  # SpiffWorkflow raises bare ValueError/TypeError/AttributeError for malformed values
        return f"{kind} gives {_shown(value)}, which is not a valid ISO 8601 " + (
            "repeating interval (e.g. R3/PT1H)" if cycle else "duration or date-time (e.g. PT48H)"
        )
    return None


def _shown(value) -> str:
    """``value``'s repr, cut short: a problem message names the value, it does not reproduce megabytes."""
    try:
        return _SHORT_REPR.repr(value)
    except ValueError:  # an integer past Python's digit limit for conversion to text
        return f"({type(value).__name__} value too large to show)"
