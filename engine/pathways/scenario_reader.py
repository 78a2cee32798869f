"""Reading a YAML document strictly, node by node, so that every problem names its line.

``Reader`` walks the nodes PyYAML composes (which keep their position) instead of the plain values it
constructs (which do not): a mapping may hold only the keys it allows, each once; a value must be of the kind
asked for. Problems are collected, not raised one by one, so that a designer fixes a file in one go.
"""

from __future__ import annotations

import keyword
import math
from datetime import date, datetime

import yaml

from engine.errors import DefinitionInvalid, Problem

Node = yaml.Node
STRING_TAG = "tag:yaml.org,2002:str"


class Reader:
    def __init__(self, filename: str):
        self.filename = filename
        self.problems: list[Problem] = []
        self._constructor = yaml.SafeLoader("")

    @staticmethod
    def line(node: Node) -> int:
        return node.start_mark.line + 1

    def problem(self, node: Node, message: str) -> None:
        self.problems.append(Problem(self.filename, message, line=self.line(node)))

    def raise_problems(self) -> None:
        if self.problems:
            raise DefinitionInvalid(sorted(self.problems, key=lambda p: p.line or 0))

    def mapping(
        self, node: Node | None, what: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, Node] | None:
        """A mapping node's keys and their value nodes; unknown, repeated and missing keys are problems."""
        if node is None:
            return None
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} is a mapping (key: value lines)")
            return None
        found: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or key_node.tag != STRING_TAG:
                self.problem(key_node, f"a key of {what} must be a name")
            elif key in found:
                self.problem(key_node, f'"{key}" appears twice in {what}')
            elif key not in allowed:
                self.problem(key_node, f'unknown key "{key}" in {what} (allowed: {", ".join(allowed)})')
            else:
                found[key] = value_node
        for key in required:
            if key not in found:
                self.problem(node, f'{what} needs "{key}"')
        return found

    def sequence(self, node: Node | None, what: str) -> list[Node]:
        if node is None or _is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, f"{what} is a list (lines starting with '- ')")
            return []
        return list(node.value)

    def text(self, node: Node | None, what: str, *, required: bool = False, hint: str = "") -> str | None:
        if node is None:
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag != STRING_TAG:
            self.problem(node, f"{what} must be text" + (f" ({hint})" if hint else ""))
            return None
        if required and not node.value.strip():
            self.problem(node, f"{what} must not be empty")
            return None
        return node.value

    def texts(self, node: Node, what: str) -> tuple[str, ...] | None:
        """Text, or a list of texts (an empty list allowed)."""
        if isinstance(node, yaml.SequenceNode):
            values = [self.text(item, f"each entry of {what}", required=True) for item in node.value]
            return None if None in values else tuple(values)
        value = self.text(node, f"{what} (text or a list of texts)", required=True)
        return None if value is None else (value,)

    def choice(
        self, node: Node | None, what: str, options: tuple[str, ...], *, missing_at: Node | None = None
    ) -> str | None:
        if node is None:
            if missing_at is not None:
                self.problem(missing_at, f"{what} is missing (one of {', '.join(options)})")
            return None
        value = self.text(node, what, required=True)
        if value is not None and value not in options:
            self.problem(node, f"{what} {value!r} is not one of {', '.join(options)}")
            return None
        return value

    def instant(self, node: Node | None, what: str, *, required: bool = False) -> datetime | None:
        """A date-time with its UTC offset, written plainly (2026-01-05T09:00:00Z) or quoted."""
        if node is None:
            return None
        value = self._constructed(node)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                value = None
        if not isinstance(value, datetime) or value.utcoffset() is None:
            self.problem(node, f"{what} must be a date-time with a UTC offset, e.g. 2026-01-05T09:00:00Z")
            return None
        return value

    def data(
        self,
        node: Node | None,
        what: str,
        *,
        required: bool = False,
        identifiers: bool = False,
        paths: bool = False,
    ) -> dict:
        """A mapping of JSON values (text, numbers, true/false, null, lists, mappings)."""
        if node is None or (_is_null(node) and not required):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} is a mapping (key: value lines)")
            return {}
        if self.mapping(node, what, tuple(k.value for k, _ in node.value)) is None:
            return {}
        values = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if identifiers and not _identifier(key):
                self.problem(key_node, f"{what}: {key!r} is not a plain identifier (letters, digits, '_')")
            if paths and not all(_identifier(part) for part in key.split(".")):
                self.problem(key_node, f"{what}: {key!r} is not a name or a dotted path of names")
            value = self._constructed(value_node)
            problem = _not_json(value)
            if problem:
                self.problem(value_node, f"{what}: {key} {problem}")
            values[key] = value
        return values

    def records(
        self,
        node: Node,
        what: str,
        fields: dict[str, tuple[str, ...] | None],
        required: tuple[str, ...],
    ) -> tuple[dict, ...] | None:
        """A list of small mappings, each with the keys of ``fields`` (a vocabulary, or None for any text)."""
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, f"a list of {what}s, each a mapping of {', '.join(fields)}")
            return None
        records = []
        for item in node.value:
            keys = self.mapping(item, what, tuple(fields), required=required)
            if keys is None:
                continue
            record = {}
            for name, value in keys.items():
                options = fields[name]
                record[name] = (
                    self.text(value, name, required=True)
                    if options is None
                    else self.choice(value, f"{what}'s {name}", options)
                )
            records.append(record)
        return tuple(records)

    def _constructed(self, node: Node):
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as error:
            self.problem(node, f"unreadable value: {getattr(error, 'problem', None) or error}")
            return None


def _is_null(node: Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")


def _not_json(value) -> str | None:
    """Why ``value`` cannot travel as JSON (None when it can)."""
    if isinstance(value, datetime | date):
        return "is a date: put it in quotes to pass it as text"
    if isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number"
    if isinstance(value, list):
        return next((p for p in map(_not_json, value) if p), None)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return "has a key that is not text"
        return next((p for p in map(_not_json, value.values()) if p), None)
    if value is None or isinstance(value, str | bool | int | float):
        return None
    return f"is a {type(value).__name__}, which JSON cannot carry"
