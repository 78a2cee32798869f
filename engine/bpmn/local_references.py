"""Where a process's code reads the blueprint's local parameters, found at deploy time, so that a diagram
naming a parameter its blueprint does not declare is refused before any referral runs it."""

from __future__ import annotations

import ast

from engine.bpmn.checks import decision_table_sources, sources_of
from engine.bpmn.local_parameters import LOCAL_NAME


def local_references(specs) -> dict[str, set[tuple[str, str | None]]]:
    """Where the code of each spec (by process id) reads ``local``: (element id, the parameter named by a
    literal ``local["name"]``, or None where it reads ``local`` otherwise)."""
    found: dict[str, set[tuple[str, str | None]]] = {}
    for spec in specs:
        for task_spec in spec.task_specs.values():
            element_id = getattr(task_spec, "bpmn_id", None)
            if element_id is None:
                continue
            sources = [source for _kind, source, _check in sources_of(task_spec)]
            sources += [source for _id, _kind, source in decision_table_sources(task_spec)]
            for source in sources:
                for name in _names_read(source):
                    found.setdefault(spec.name, set()).add((element_id, name))
    return found


def _names_read(source) -> list[str | None]:
    """The parameters ``source`` reads from ``local`` (None for a use that names none literally)."""
    if not isinstance(source, str) or LOCAL_NAME not in source:
        return []
    try:
        tree = ast.parse(source.strip())
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # the deploy checks report the code itself
    subscripted = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_local(node.value):
            key = node.slice
            subscripted[id(node.value)] = (
                key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None
            )
    return [subscripted.get(id(node)) for node in ast.walk(tree) if _is_local(node)]


def _is_local(node) -> bool:
    return isinstance(node, ast.Name) and node.id == LOCAL_NAME
