"""Hints for expressions written in another language than the Python Signpost reads.

Camunda 7 writes conditions in JUEL (``${x > 1}``, ``#{…}``), Camunda 8 in FEEL (``= x > 1``) and both write
DMN input cells as FEEL unary tests (``[1..5]``, ``"a","b"``, ``not("x")``). Each is refused at deployment
with a sentence naming the Python to write instead.
"""

from __future__ import annotations

import ast
import re

JUEL = re.compile(r"^\s*[$#]\{(?P<body>.*)\}\s*$", re.DOTALL)
_FEEL = re.compile(r"^\s*=(?!=)\s*(?P<body>.+)$", re.DOTALL)


def other_language_hint(kind: str, source) -> str | None:
    """A sentence for an expression written in JUEL (``${x > 1}``, ``#{…}``) or FEEL (``= x > 1``), naming the
    Python that Signpost reads instead; None for anything else."""
    if not isinstance(source, str):
        return None
    juel, feel = JUEL.match(source), _FEEL.match(source)
    if juel:
        language, python = "JUEL (Camunda 7's expression language)", _python_from_juel(juel["body"])
    elif feel:
        language, python = "FEEL (Camunda 8's expression language)", _python_from_feel(feel["body"])
    else:
        return None
    shown = source.strip() if len(source.strip()) <= 200 else source.strip()[:200] + "…"
    return f"{kind} `{shown}` is written in {language}; Signpost reads Python expressions: write `{python}`"


_FEEL_RANGE = re.compile(
    r"^(?P<open>[\[\(\]])\s*(?P<low>[^\s.][^.]*?)\s*\.\.\s*(?P<high>[^\]\)\[]+?)\s*(?P<close>[\]\)\[])$"
)
_FEEL_NOT = re.compile(r"^not\s*\((?P<body>.*)\)$", re.DOTALL)


def feel_cell_hint(cell) -> str | None:
    """A sentence for a DMN input cell written as a FEEL unary test (``[1..5]``, ``"a","b"``,
    ``not("x")``), naming the Python test Signpost reads instead (``?`` stands for the input value); None for
    anything else."""
    if not isinstance(cell, str):
        return None
    text = cell.strip()
    python = None
    if match := _FEEL_RANGE.match(text):
        low = "<=" if match["open"] == "[" else "<"
        high = "<=" if match["close"] == "]" else "<"
        python = f"{match['low']} {low} ? {high} {match['high']}"
    elif match := _FEEL_NOT.match(text):
        inner = match["body"].strip()
        python = f"? not in [{inner}]" if _is_literal_list(inner) else f"? != {inner}"
    elif not text.startswith("(") and _is_literal_list(text):
        python = f"? in [{text}]"
    if python is None:
        return None
    return (
        f"decision rule input `{text}` is a FEEL unary test; Signpost reads Python tests, with ? for the "
        f"input value: write `{python}`"
    )


def _is_literal_list(text: str) -> bool:
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    node = tree.body
    return isinstance(node, ast.Tuple) and all(isinstance(each, ast.Constant) for each in node.elts)


def _python_from_juel(body: str) -> str:
    text = body.strip()
    for juel, python in (
        ("&&", " and "),
        ("||", " or "),
        ("null", "None"),
        ("true", "True"),
        ("false", "False"),
    ):
        text = text.replace(juel, python)
    text = re.sub(r"!(?!=)", "not ", text)
    for word, python in ((" eq ", " == "), (" ne ", " != "), (" gt ", " > "), (" lt ", " < ")):
        text = text.replace(word, python)
    return re.sub(r"\s+", " ", text).strip()


def _python_from_feel(body: str) -> str:
    text = re.sub(r"(?<![<>!=])=(?!=)", "==", body.strip())
    for feel, python in (("null", "None"), ("true", "True"), ("false", "False")):
        text = re.sub(rf"\b{feel}\b", python, text)
    return re.sub(r"\s+", " ", text).strip()
