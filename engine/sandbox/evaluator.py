"""Restricted evaluation of the Python that pathway designers write into BPMN and DMN files.

Gateway conditions, timer expressions, script tasks, DMN cells and correlation expressions are parsed,
checked against an allow-list of syntax and names, rewritten so that size-exploding operators go through
guards, compiled once per source text and then run with a whitelist of builtins and a time bound.

Rules a pathway must follow (refused before running, with the line number):
  * no import, function or class definitions, global/nonlocal, yield, await, with, try, raise, match;
  * no name, argument, keyword or attribute starting with ``_`` (a lone ``_`` is a valid throwaway name);
  * no attribute assignment, and no attributes that reach frames, the MRO or ``str.format``;
  * no calls to introspection or I/O functions such as ``getattr``, ``type``, ``eval`` or ``open``.

Longer than 400 lines because it is one security boundary: the allow-list, the rewriting of each operator
through its guard and the bounded run must be read and reviewed together, and a split would hide a gap
between them.
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import itertools
import math
import operator
import re
import sys
import textwrap
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from types import CodeType, ModuleType
from typing import Any, NamedTuple, Protocol

from engine.clock import now
from engine.errors import (
    BpmnErrorThrown,
    ExpressionError,
    ExpressionFailed,
    ExpressionRejected,
    ExpressionTimeout,
)

CODE_FILENAME = "<pathway>"
CACHE_SIZE = 4096
MAX_ITEMS = 10_000_000
# Ten million digits would take seconds of uninterruptible big-int arithmetic; one million takes ~0.1 s.
MAX_INT_DIGITS = 1_000_000
MAX_RANGE = 1_000_000
# Dividing big integers takes time proportional to (divisor digits) x (quotient digits), in one C call that
# the time bound cannot interrupt; this much work takes about a tenth of a second.
MAX_DIVISION_WORK = 10**10
MAX_FORMAT_WIDTH_DIGITS = 4
_HUGE_FORMAT_WIDTH = re.compile(rf"\d{{{MAX_FORMAT_WIDTH_DIGITS + 1},}}")
_HUGE_PERCENT_WIDTH = re.compile(rf"%[-+ #0]*(\d{{{MAX_FORMAT_WIDTH_DIGITS + 1},}}|\*)")
_LOG10_2 = math.log10(2)
_SEQUENCES = (str, bytes, bytearray, list, tuple)

# bpmn_error(): an error code as long as a BPMN file can name one; a message short enough for the timeline.
MAX_ERROR_CODE_LENGTH = 200
MAX_ERROR_MESSAGE_LENGTH = 2000
SAFE_BUILTINS = (
    "abs",
    "all",
    "any",
    "bool",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "int",
    "isinstance",
    "len",
    "list",
    "map",
    "max",
    "min",
    "reversed",
    "round",
    "set",
    "sorted",
    "str",
    "sum",
    "tuple",
    "zip",
)
FORBIDDEN_CALLS = frozenset(
    {
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "eval",
        "exec",
        "compile",
        "open",
        "globals",
        "locals",
        "vars",
        "dir",
        "type",
        "breakpoint",
        "input",
        "help",
        "memoryview",
        "format",
        "object",
        "super",
    }
)
# Not private by spelling, but each leads to dunders, frames or globals, or (the padding methods) takes a
# width that allocates gigabytes in one uninterruptible call.
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "format",
        "format_map",
        "ljust",
        "rjust",
        "center",
        "zfill",
        "expandtabs",
        "mro",
        "gi_frame",
        "gi_code",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "func_globals",
        "func_code",
        "tb_frame",
        "tb_next",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "ag_code",
    }
)
_REFUSED_NODES: dict[type, str] = {
    node: f"{what} not allowed in pathway scripts{why}"
    for nodes, what, why in (
        ((ast.Import, ast.ImportFrom), "import is", ""),
        ((ast.FunctionDef, ast.AsyncFunctionDef), "function definitions are", ": scripts run top to bottom"),
        ((ast.ClassDef,), "class definitions are", ""),
        ((ast.Global, ast.Nonlocal), "global and nonlocal are", ""),
        ((ast.Yield, ast.YieldFrom), "yield is", ""),
        ((ast.Await, ast.AsyncFor, ast.AsyncWith), "await and async are", ""),
        ((ast.With,), "with is", ""),
        ((ast.Try, ast.TryStar), "try is", ": a failing step is reported, not hidden"),
        ((ast.Raise,), "raise is", ""),
        ((ast.AnnAssign,), "annotations are", ""),
        ((ast.Match,), "match is", ""),
    )
    for node in nodes
}
_ALLOWED_NODES = (
    ast.Module,
    ast.Expression,
    ast.Expr,
    ast.Assign,
    ast.AugAssign,
    ast.Delete,
    ast.Pass,
    ast.Break,
    ast.Continue,
    ast.If,
    ast.For,
    ast.While,
    ast.Assert,
    ast.BoolOp,
    ast.NamedExpr,
    ast.BinOp,
    ast.UnaryOp,
    ast.Lambda,
    ast.IfExp,
    ast.Dict,
    ast.Set,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.Compare,
    ast.Call,
    ast.FormattedValue,
    ast.JoinedStr,
    ast.Constant,
    ast.Attribute,
    ast.Subscript,
    ast.Starred,
    ast.Name,
    ast.List,
    ast.Tuple,
    ast.Slice,
    ast.comprehension,
    ast.arguments,
    ast.arg,
    ast.keyword,
    ast.expr_context,
    ast.operator,
    ast.boolop,
    ast.unaryop,
    ast.cmpop,
)


def iso_duration(
    *, weeks: float = 0, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
) -> str:
    """The ISO 8601 duration for the given amounts, e.g. ``PT2H``, ``P2D`` or ``P1DT2H30M``.

    Amounts are normalised (``hours=36`` gives ``P1DT12H``, ``hours=1.5`` gives ``PT1H30M``); a day is
    24 hours. Negative durations raise ValueError.
    """
    span = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    if span < timedelta(0):
        raise ValueError(f"iso_duration() cannot express a negative duration ({span})")
    whole_hours, rest = divmod(span.seconds, 3600)
    whole_minutes, whole_seconds = divmod(rest, 60)
    time_part = (f"{whole_hours}H" if whole_hours else "") + (f"{whole_minutes}M" if whole_minutes else "")
    if span.microseconds:
        time_part += f"{whole_seconds}.{span.microseconds:06d}".rstrip("0") + "S"
    elif whole_seconds:
        time_part += f"{whole_seconds}S"
    if not span.days and not time_part:
        return "PT0S"
    return "P" + (f"{span.days}D" if span.days else "") + (f"T{time_part}" if time_part else "")


def _bounded_range(*args: int) -> range:
    span = range(*args)
    try:
        too_long = len(span) > MAX_RANGE
    except OverflowError:
        too_long = True
    if too_long:
        raise ExpressionFailed(f"range() of more than {MAX_RANGE:,} items is not allowed")
    return span


def _digits(number: int) -> float:
    return number.bit_length() * _LOG10_2


def items_held(value: Any, limit: int = MAX_ITEMS, *, characters: bool = True) -> int:
    """How much ``value`` holds as data: the items of a list, tuple, set or dict plus what each of them holds
    (with ``characters``, the characters of each string too), a nested object counted each time it appears
    (``[row] * 25`` holds 25 rows). Each object is walked once and the count stops just past ``limit``, so
    this is cheap even for what would be enormous written out. A structure nested deeper than Python's
    recursion limit raises RecursionError."""
    return _held(value, {}, limit, characters)


def _held(value: Any, seen: dict[int, int], limit: int, characters: bool) -> int:
    if isinstance(value, str | bytes | bytearray):
        return len(value) if characters else 0
    if not isinstance(value, list | tuple | set | frozenset | dict):
        return 0
    key = id(value)
    if key in seen:
        return seen[key]
    seen[key] = 0  # a container that holds itself counts once
    total = len(value)
    for item in itertools.chain.from_iterable(value.items()) if isinstance(value, dict) else value:
        total += _held(item, seen, limit, characters)
        if total > limit:
            break
    seen[key] = total
    return total


def _refuse_big_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if _digits(left) + _digits(right) > MAX_INT_DIGITS:
            raise ExpressionFailed(f"the result of '*' would have more than {MAX_INT_DIGITS:,} digits")
        return
    count, sequence = (left, right) if isinstance(left, int) else (right, left)
    if not (isinstance(count, int) and isinstance(sequence, _SEQUENCES)) or count <= 0:
        return
    if count * len(sequence) > MAX_ITEMS:
        raise ExpressionFailed(f"the result of '*' would have more than {MAX_ITEMS:,} items")
    # A repeated list of lists holds each nested list ``count`` times: [row] * 25 is 25 rows, not 25 items.
    try:
        held = (
            items_held(sequence, MAX_ITEMS // count + 1, characters=False)
            if isinstance(sequence, list | tuple)
            else 0
        )
    except RecursionError:
        raise ExpressionFailed("the operand of '*' is nested too deeply to repeat") from None
    if count * held > MAX_ITEMS:
        raise ExpressionFailed(f"the result of '*' would hold more than {MAX_ITEMS:,} items")


def _refuse_big_power(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1):
        return
    if exponent * math.log10(abs(base)) > MAX_INT_DIGITS:
        raise ExpressionFailed(f"the result of '**' would have more than {MAX_INT_DIGITS:,} digits")


def _refuse_big_shift(number: Any, places: Any) -> None:
    if not (isinstance(number, int) and isinstance(places, int) and number and places > 0):
        return
    if (number.bit_length() + places) * _LOG10_2 > MAX_INT_DIGITS:
        raise ExpressionFailed(f"the result of '<<' would have more than {MAX_INT_DIGITS:,} digits")


def _refuse_slow_division(dividend: Any, divisor: Any) -> None:
    if not (isinstance(dividend, int) and isinstance(divisor, int)):
        return
    divisor_digits = _digits(divisor)
    if divisor_digits * max(_digits(dividend) - divisor_digits, 0) > MAX_DIVISION_WORK:
        raise ExpressionFailed("dividing integers this large is not allowed: it would take too long")


def _refuse_slow_modulo(left: Any, right: Any) -> None:
    """``%`` is integer division or string formatting; a constant template was checked before running,
    this catches one built at run time."""
    template = left.decode("latin-1") if isinstance(left, bytes) else left
    if isinstance(template, str) and _HUGE_PERCENT_WIDTH.search(template):
        raise ExpressionFailed(f"format widths of more than {MAX_FORMAT_WIDTH_DIGITS} digits are not allowed")
    _refuse_slow_division(left, right)


def _bounded_divmod(dividend: Any, divisor: Any) -> tuple:
    _refuse_slow_division(dividend, divisor)
    return divmod(dividend, divisor)


def _bounded_sum(values: Any, /, start: Any = 0) -> Any:
    # Summing lists or tuples copies the running total at every step: quadratic, in one C call.
    if isinstance(start, _SEQUENCES):
        raise ExpressionFailed("sum() of lists or tuples is not allowed: use a comprehension")
    return sum(values, start)


def _refuse_big_concatenation(left: Any, right: Any) -> None:
    # Doubling a string or list in a loop reaches gigabytes in a few dozen steps, each one C call.
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES) and len(left) + len(right) > MAX_ITEMS:
        raise ExpressionFailed(f"the result of '+' would have more than {MAX_ITEMS:,} items")


_TEXT = (str, bytes, bytearray)
# Methods of text that build a result far larger than their inputs in one call the time bound cannot stop.
AMPLIFYING_METHODS = frozenset({"join", "replace", "translate"})


def _refuse_big_text(result_length: int, method: str) -> None:
    if result_length > MAX_ITEMS:
        raise ExpressionFailed(f"the result of {method}() would have more than {MAX_ITEMS:,} characters")


def _bounded_join(separator, parts):
    parts = list(parts)
    _refuse_big_text(
        sum(len(p) for p in parts if isinstance(p, _TEXT)) + len(separator) * max(len(parts) - 1, 0), "join"
    )
    return separator.join(parts)


def _bounded_replace(text, old, new, count=-1):
    found = len(text) + 1 if len(old) == 0 else text.count(old)
    if count >= 0:
        found = min(found, count)
    _refuse_big_text(len(text) + found * (len(new) - len(old)), "replace")
    return text.replace(old, new, count)


def _bounded_translate(text, table):
    if isinstance(text, str) and hasattr(table, "values"):
        longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
        _refuse_big_text(len(text) * max(longest, 1), "translate")
    return text.translate(table)


_BOUNDED_TEXT_METHODS = {"join": _bounded_join, "replace": _bounded_replace, "translate": _bounded_translate}


def _method(target: Any, name: str) -> Any:
    """``target.name``, with the amplifying methods of text bounded: ``'-'.join(parts)``, ``str.join`` and
    a method passed on (``map(','.join, rows)``) alike."""
    method = getattr(target, name)
    bounded = _BOUNDED_TEXT_METHODS[name]
    if isinstance(target, _TEXT):
        return functools.partial(bounded, target)
    if target in _TEXT:
        return bounded
    return method


def _guarded(operation: Callable[[Any, Any], Any], refuse: Callable[[Any, Any], None]) -> Callable:
    def guarded(left: Any, right: Any) -> Any:
        refuse(left, right)
        return operation(left, right)

    return guarded


# Injected under names user code cannot spell (it may not use names starting with '_').
_LOOP_MARKER = "_signpost_loop"
_METHOD_GUARD = "_signpost_method"
_GUARD_NAMES = {
    ast.Add: "_signpost_add",
    ast.Mult: "_signpost_mul",
    ast.Pow: "_signpost_pow",
    ast.LShift: "_signpost_lshift",
    ast.Mod: "_signpost_mod",
    ast.FloorDiv: "_signpost_floordiv",
}
_INTERNALS: dict[str, Any] = {
    _LOOP_MARKER: None,
    _METHOD_GUARD: _method,
    "_signpost_add": _guarded(operator.add, _refuse_big_concatenation),
    "_signpost_add_inplace": _guarded(operator.iadd, _refuse_big_concatenation),
    "_signpost_mul": _guarded(operator.mul, _refuse_big_product),
    "_signpost_mul_inplace": _guarded(operator.imul, _refuse_big_product),
    "_signpost_pow": _guarded(operator.pow, _refuse_big_power),
    "_signpost_pow_inplace": _guarded(operator.ipow, _refuse_big_power),
    "_signpost_lshift": _guarded(operator.lshift, _refuse_big_shift),
    "_signpost_lshift_inplace": _guarded(operator.ilshift, _refuse_big_shift),
    "_signpost_mod": _guarded(operator.mod, _refuse_slow_modulo),
    "_signpost_mod_inplace": _guarded(operator.imod, _refuse_slow_modulo),
    "_signpost_floordiv": _guarded(operator.floordiv, _refuse_slow_division),
    "_signpost_floordiv_inplace": _guarded(operator.ifloordiv, _refuse_slow_division),
}


class _GuardOperators(ast.NodeTransformer):
    """Routes ``+``, ``*``, ``**``, ``<<``, ``%``, ``//`` and the amplifying text methods through size and
    time guards and makes every ``while`` loop traceable."""

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if node.attr not in AMPLIFYING_METHODS or not isinstance(node.ctx, ast.Load):
            return node
        call = ast.Call(ast.Name(_METHOD_GUARD, ast.Load()), [node.value, ast.Constant(node.attr)], [])
        return ast.copy_location(call, node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        guard = _GUARD_NAMES.get(type(node.op))
        if guard is None:
            return node
        return ast.copy_location(ast.Call(ast.Name(guard, ast.Load()), [node.left, node.right], []), node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        guard = _GUARD_NAMES.get(type(node.op))
        if guard is None:
            return node
        # The target's sub-expressions run twice (``a[i] *= 2`` reads a[i], then stores it); they are
        # plain names and subscripts here, since attribute targets are refused.
        current = copy.deepcopy(node.target)
        current.ctx = ast.Load()
        call = ast.Call(ast.Name(f"{guard}_inplace", ast.Load()), [current, node.value], [])
        return ast.copy_location(ast.Assign([node.target], call), node)

    def visit_While(self, node: ast.While) -> ast.AST:
        self.generic_visit(node)
        # ``while True: pass`` compiles to a jump onto itself, which raises no trace event; a name load
        # at the top of the body gives the loop a line to report on every round.
        marker = ast.Expr(ast.Name(_LOOP_MARKER, ast.Load()))
        node.body.insert(0, ast.copy_location(marker, node.body[0]))
        return node


def _is_private(name: str) -> bool:
    return name.startswith("_")


def _problem_with(node: ast.AST) -> str | None:
    refusal = _REFUSED_NODES.get(type(node))
    if refusal is not None:
        return refusal
    if not isinstance(node, _ALLOWED_NODES):
        return f"{type(node).__name__} is not allowed in pathway scripts"
    if isinstance(node, ast.Attribute):
        if _is_private(node.attr):
            return f"attribute '{node.attr}' is not allowed: names starting with '_' are private"
        if node.attr in FORBIDDEN_ATTRIBUTES:
            return f"attribute '{node.attr}' is not allowed in pathway scripts"
        if not isinstance(node.ctx, ast.Load):
            return f"changing attribute '{node.attr}' is not allowed: only variables and items can be set"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
        return f"{node.func.id}() is not allowed in pathway scripts"
    if _has_huge_padding(node):
        return f"format widths of more than {MAX_FORMAT_WIDTH_DIGITS} digits are not allowed"
    if _has_computed_format_spec(node):
        return "format specs must be written out (f'{x:>8}'), not computed: a computed width is unbounded"
    return _private_identifier(node)


def _has_computed_format_spec(node: ast.AST) -> bool:
    """``f'{x:>{width}}'``: the width is only known when it runs, too late to refuse a huge one."""
    if not isinstance(node, ast.FormattedValue) or node.format_spec is None:
        return False
    return not all(isinstance(part, ast.Constant) for part in node.format_spec.values)


def _has_huge_padding(node: ast.AST) -> bool:
    """A width like ``{x:>1000000000}`` or ``'%1000000000d'`` allocates gigabytes in one C call."""
    if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
        spec = "".join(v.value for v in node.format_spec.values if isinstance(v, ast.Constant))
        return bool(_HUGE_FORMAT_WIDTH.search(spec))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
        return isinstance(node.left.value, str) and bool(_HUGE_PERCENT_WIDTH.search(node.left.value))
    return False


def _private_identifier(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        kind, name = "name", node.id
    elif isinstance(node, ast.arg):
        kind, name = "argument", node.arg
    elif isinstance(node, ast.keyword) and node.arg is not None:
        kind, name = "keyword argument", node.arg
    else:
        return None
    # A lone '_' is the usual throwaway loop variable and spells no dunder or internal name.
    if _is_private(name) and name != "_":
        return f"{kind} '{name}' is not allowed: names starting with '_' are private"
    return None


def _first_problem(node: ast.AST, where: tuple[int, ...] = (0,)) -> tuple[tuple[int, ...], str] | None:
    """The refused construct that starts first in the source; the innermost of those starting together."""
    if hasattr(node, "lineno"):
        where = (node.lineno, node.col_offset, node.end_lineno or 0, node.end_col_offset or 0)
    problem = _problem_with(node)
    candidates = [(where, problem)] if problem else []
    candidates += filter(None, (_first_problem(child, where) for child in ast.iter_child_nodes(node)))
    return min(candidates, default=None)


class _Compiled(NamedTuple):
    code: CodeType


def _compile(source: str, mode: str) -> _Compiled:
    if not isinstance(source, str):
        raise ExpressionRejected(f"expected Python source text, got {type(source).__name__}", source=None)
    text = source.strip() if mode == "eval" else textwrap.dedent(source)
    try:
        tree = ast.parse(text, CODE_FILENAME, mode)
        found = _first_problem(tree)
        if found is not None:
            where, message = found
            column = where[1] + 1 if len(where) > 1 else None
            line, column = _as_written(source, text, where[0], column)
            raise ExpressionRejected(message, line=line, column=column, source=source)
        code = compile(ast.fix_missing_locations(_GuardOperators().visit(tree)), CODE_FILENAME, mode)
    except SyntaxError as error:
        line, column = _as_written(source, text, error.lineno, error.offset or _past_end(text, error.lineno))
        raise ExpressionRejected(
            f"syntax error: {error.msg}", line=line, column=column, source=source
        ) from None
    except (RecursionError, MemoryError):
        raise ExpressionRejected("the code is nested too deeply to check", source=source) from None
    return _Compiled(code)


def _as_written(
    source: str, text: str, line: int | None, column: int | None
) -> tuple[int | None, int | None]:
    """A place in ``text`` (``source`` stripped or dedented before parsing) as a place in ``source``, which
    is what a designer's editor shows."""
    if not line:
        return None, None
    written = line + _leading_line_breaks(source) - _leading_line_breaks(text)
    lines, text_lines = source.splitlines(), text.splitlines()
    if column and written <= len(lines) and line <= len(text_lines):
        as_written, parsed = lines[written - 1], text_lines[line - 1]
        if as_written.endswith(parsed):
            column += len(as_written) - len(parsed)
    return written, column


def _past_end(text: str, line: int | None) -> int | None:
    """Just past the end of ``line``: what Python's parser means when it gives offset 0 at the end of the
    text."""
    lines = text.splitlines()
    return len(lines[line - 1]) + 1 if line and line <= len(lines) else None


def _leading_line_breaks(text: str) -> int:
    return text[: len(text) - len(text.lstrip())].count("\n")


def _line_in_pathway(error: BaseException) -> int | None:
    line = None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == CODE_FILENAME:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def _describe(error: Exception) -> str:
    if isinstance(error, NameError):
        return str(error)
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _is_data(value: Any) -> bool:
    return not callable(value) and not isinstance(value, ModuleType)


def bpmn_error(code: str, message: str | None = None) -> None:
    """Throw the BPMN error ``code`` from the running script task, for an error event to catch."""
    if not isinstance(code, str) or not code.strip() or len(code) > MAX_ERROR_CODE_LENGTH:
        raise ExpressionFailed(f"bpmn_error() takes an error code of 1 to {MAX_ERROR_CODE_LENGTH} characters")
    if message is not None and not isinstance(message, str):
        raise ExpressionFailed("bpmn_error()'s message must be text")
    raise BpmnErrorThrown(code, message[:MAX_ERROR_MESSAGE_LENGTH] if message else None)


class PathwayCode(Protocol):
    """What runs pathway code: an ``Evaluator`` here, or a ``SandboxedEvaluator`` in a caged worker."""

    def check_expression(self, source: str) -> None: ...

    def check_script(self, source: str) -> None: ...

    def evaluate(self, source: str, names: Mapping[str, Any]) -> Any: ...

    def execute(self, source: str, names: dict[str, Any]) -> None: ...


class Evaluator:
    """Checks, compiles (once per source text) and runs pathway expressions and scripts.

    Builtins are limited to ``SAFE_BUILTINS`` (``sum`` and ``divmod`` guarded against quadratic work), a
    ``range`` capped at ``MAX_RANGE`` items and the helpers ``datetime``, ``date``, ``timedelta``,
    ``timezone``, ``Decimal``, ``now()`` (aware UTC, from ``engine.clock``), ``iso_duration()`` and
    ``bpmn_error()`` (throws a BPMN error from a script task), plus any
    ``helpers`` given here. Data names shadow helpers.
    Everything runs under ``sys.settrace`` and raises ExpressionTimeout past ``time_limit_seconds``.
    """

    def __init__(self, helpers: Mapping[str, Any] | None = None, time_limit_seconds: float = 1.0):
        if time_limit_seconds <= 0:
            raise ValueError("time_limit_seconds must be positive")
        allowed: dict[str, Any] = {name: getattr(builtins, name) for name in SAFE_BUILTINS}
        allowed.update(
            range=_bounded_range,
            sum=_bounded_sum,
            divmod=_bounded_divmod,
            datetime=datetime,
            date=date,
            timedelta=timedelta,
            timezone=timezone,
            Decimal=Decimal,
            now=now,
            iso_duration=iso_duration,
            bpmn_error=bpmn_error,
        )
        for name, helper in (helpers or {}).items():
            if not name.isidentifier() or _is_private(name):
                raise ValueError(f"helper name {name!r} is not a public identifier: no script could use it")
            allowed[name] = helper
        self.time_limit_seconds = time_limit_seconds
        self._internals = {**_INTERNALS, "__builtins__": allowed}
        self._compile_expression = lru_cache(maxsize=CACHE_SIZE)(lambda source: _compile(source, "eval"))
        self._compile_script = lru_cache(maxsize=CACHE_SIZE)(lambda source: _compile(source, "exec"))

    def check_expression(self, source: str) -> None:
        """Raise ExpressionRejected unless ``source`` is one allowed expression."""
        self._compile_expression(source)

    def check_script(self, source: str) -> None:
        """Raise ExpressionRejected unless ``source`` is an allowed script."""
        self._compile_script(source)

    def evaluate(self, source: str, names: Mapping[str, Any]) -> Any:
        """The value of expression ``source`` with ``names`` as its variables.

        Raises ExpressionRejected (refused, nothing ran), ExpressionFailed (the original error is the
        ``__cause__``) or ExpressionTimeout.
        """
        compiled = self._compile_expression(source)
        return self._run(compiled, source, {**names, **self._internals}, "expression")

    def execute(self, source: str, names: dict[str, Any]) -> None:
        """Run script ``source`` against the task data ``names``.

        Only when the script succeeds are its top-level variables written back: new and changed ones are
        set, deleted ones removed; functions, classes, modules and the throwaway ``_`` never are. On
        failure ``names`` keeps its bindings (objects mutated in place, such as an appended list, stay so).
        """
        compiled = self._compile_script(source)
        scope = {**names, **self._internals}
        self._run(compiled, source, scope, "script")
        for name in [name for name in names if name not in scope]:
            del names[name]
        for name, value in scope.items():
            if name in self._internals or name == "_":
                continue
            if _is_data(value):
                names[name] = value
            else:
                names.pop(name, None)

    def _run(self, compiled: _Compiled, source: str, scope: dict[str, Any], kind: str) -> Any:
        try:
            return self._run_traced(compiled.code, scope, kind)
        except ExpressionError as error:
            if error.line is None:
                error.line, error.source = _line_in_pathway(error), source
            raise
        except BpmnErrorThrown:
            raise  # not a failure: the engine throws it from the task (engine/bpmn/runtime.py)
        except Exception as error:
            raise ExpressionFailed(_describe(error), line=_line_in_pathway(error), source=source) from error

    def _run_traced(self, code: CodeType, scope: dict[str, Any], kind: str) -> Any:
        limit = self.time_limit_seconds
        deadline = time.monotonic() + limit

        def on_step(frame, event, arg):
            if event in ("line", "opcode") and time.monotonic() > deadline:
                raise ExpressionTimeout(f"{kind} ran longer than {limit:g} s")
            return on_step

        def on_call(frame, event, arg):
            if frame.f_code.co_filename != CODE_FILENAME:
                return None
            # Checked at every step, not every line: one line can hold thousands of slow operations.
            frame.f_trace_opcodes = True
            return on_step

        previous = sys.gettrace()
        sys.settrace(on_call)
        try:
            return eval(code, scope)  # noqa: S307 -- checked and rewritten by _compile
        finally:
            sys.settrace(previous)


class RestrictedEnvironment:
    """A SpiffWorkflow script-engine environment that runs everything through an Evaluator.

    Duck-types ``BasePythonScriptEngineEnvironment``: the context is the task data, the external context
    (data objects, DMN inputs) is visible to the code but never written into the task data.
    """

    def __init__(self, evaluator: PathwayCode):
        self.evaluator = evaluator

    def evaluate(self, expression: str, context: Mapping[str, Any], external_context=None) -> Any:
        names = {**external_context, **context} if external_context else context
        return self.evaluator.evaluate(expression, names)

    def execute(self, script: str, context: dict[str, Any], external_context=None) -> bool:
        if not external_context:
            self.evaluator.execute(script, context)
            return True
        names = {**external_context, **context}
        self.evaluator.execute(script, names)
        for name in [name for name in context if name not in names]:
            del context[name]
        for name, value in names.items():
            if name in context or name not in external_context:
                context[name] = value
        return True

    def call_service(self, context, **kwargs):
        raise ExpressionFailed("service calls are not configured")
