"""Expressions too plain to need a sandbox process: they run in the server, through the same evaluator.

Most pathway code is a gateway condition (``priority == 'urgent'``), a decision table cell
(``dmninputexpr in ('LE1', 'LE2')``) or a constant timer (``'PT48H'``); the community nursing lifecycle asks
48 of them. A round trip to a sandbox process costs about a hundred microseconds; these cost a few.

An expression qualifies only if it is short and made of nothing but names, literals, comparisons, ``and``/
``or``/``not``, conditional expressions, subscripts, ``len(…)`` and tuple/list/set/dict displays. Without
other calls, operators that compute (``*``, ``**``, ``+``…), comprehensions or attributes, all it can do is
compare, index, count and pick among values the step already holds: work bounded by the size of the
instance's data (itself capped), done by C code that guards its own recursion (a comparison of structures
nested too deep raises RecursionError, it does not overflow the stack). Hashing happens only for a set or
dict display or ``in`` on one, of values whose nesting the data's limits bound. Everything else goes to a
sandbox process.
"""

from __future__ import annotations

import ast
from functools import lru_cache

# Parsing happens in the server: only short texts are looked at, so that the parser's own work stays small.
MAX_PLAIN_EXPRESSION_CHARS = 500
_PLAIN_NODES = (
    ast.Expression,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Compare,
    ast.BoolOp,
    ast.UnaryOp,
    ast.IfExp,
    ast.Subscript,
    ast.Slice,
    ast.Tuple,
    ast.List,
    ast.Set,
    ast.Dict,
    ast.And,
    ast.Or,
    ast.Not,
    ast.USub,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Is,
    ast.IsNot,
    ast.In,
    ast.NotIn,
)


@lru_cache(maxsize=4096)
def is_plain_expression(source: str) -> bool:
    """Whether ``source`` needs no sandbox process (see the module's docstring)."""
    if len(source) > MAX_PLAIN_EXPRESSION_CHARS:
        return False
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False  # the sandbox's evaluator refuses it with its own message
    return all(isinstance(node, _PLAIN_NODES) or _counts(node) for node in ast.walk(tree))


def _counts(node: ast.AST) -> bool:
    """``len(x)``: constant time on every type data can hold."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "len"
        and len(node.args) == 1
        and not node.keywords
        and not isinstance(node.args[0], ast.Starred)
    )
