"""Blueprints: one diagram, with local variants per organisation or point of access.

A pathway becomes a blueprint when a companion file ``<process id>.variants.toml`` is deployed with it. The
file declares the parameters the diagram's code reads as ``local["name"]``
(``engine/bpmn/local_parameters.py``) and the variants that give them local values::

    [parameters.urgent_response_service]
    type = "service"                       # string, integer, number, boolean, duration, service, calendar
    accepts = "urgent-community-response"  # a service: the referral type it must accept (optional)
    default = "urgent-community-response"  # optional: without one, every variant gives the value
    description = "Where a two-hour urgent response at home goes"

    [variants.county]
    description = "Leicestershire County Council"
    points_of_access = ["county-customer-service-centre"]   # and/or organisation = "…"
    [variants.county.parameters]
    urgent_response_service = "county-crisis-response"

Everything is checked when deployed, and one problem refuses the deployment: a parameter of an unknown type
or whose default does not fit it, a variant giving a parameter that is not declared or a value of the wrong
type, a service not in the directory (or of the wrong kind, or not accepting the declared referral type), a
calendar that does not exist, a point of access or organisation the directory does not know, or one that two
variants both claim, a parameter without a default that a variant leaves out, and a diagram whose code reads
a parameter the file does not declare (or reads ``local`` with no file at all).

Durations are ISO 8601 weeks, days, hours, minutes and seconds ("PT4H", "P2D"), the form a BPMN timer reads.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from engine.bpmn import LOCAL_NAME, SourceFile
from engine.errors import Problem

VARIANTS_SUFFIX = ".variants.toml"
TYPES = ("string", "integer", "number", "boolean", "duration", "service", "calendar")
SERVICE_KINDS = ("point-of-access", "receiving")
PARAMETER_FIELDS = frozenset({"type", "default", "description", "accepts", "kind"})
VARIANT_FIELDS = frozenset({"description", "points_of_access", "organisation", "parameters"})
PARAMETER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
VARIANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
DURATION = re.compile(r"^P(?=\d|T\d)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")
LONGEST_TEXT = 2000
# Whole numbers a JSON reader anywhere (a browser's included) reads exactly.
LARGEST_INTEGER = 2**53


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    has_default: bool
    default: object = None
    description: str | None = None
    accepts: str | None = None  # a service parameter: the referral type the service must accept
    kind: str | None = None  # a service parameter: "point-of-access" or "receiving"

    def view(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "has_default": self.has_default,
            "description": self.description,
            "accepts": self.accepts,
            "kind": self.kind,
        }


@dataclass(frozen=True)
class Variant:
    name: str
    description: str | None
    points_of_access: tuple[str, ...]
    organisation: str | None
    values: Mapping[str, object]  # only those the variant gives; the blueprint's defaults fill the rest


@dataclass(frozen=True)
class Blueprint:
    process_id: str
    filename: str
    parameters: Mapping[str, Parameter]
    variants: Mapping[str, Variant] = field(default_factory=dict)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.parameters.values() if p.has_default}


@dataclass(frozen=True)
class Directory:
    """What a blueprint's values are checked against: the service directory (id -> row) and the calendars."""

    services: Mapping[str, Mapping]
    calendars: frozenset[str]

    def organisations(self) -> set[str]:
        return {row["organisation"] for row in self.services.values()}


def is_blueprint_file(filename: str) -> bool:
    return filename.endswith(VARIANTS_SUFFIX)


def process_of(filename: str) -> str:
    """The process a variants file belongs to: its name without the suffix (folders ignored)."""
    return PurePosixPath(filename.replace("\\", "/")).name[: -len(VARIANTS_SUFFIX)]


def read_blueprints(
    sources: Iterable[SourceFile], process_ids: Iterable[str], directory: Directory
) -> tuple[dict[str, Blueprint], list[Problem]]:
    """The blueprint in each variants file, by process id, and every problem found in any of them."""
    blueprints, problems = {}, []
    known_processes = set(process_ids)
    for source in sources:
        reader = _Reader(source, directory)
        process_id = process_of(source.filename)
        if process_id in blueprints:
            reader.problem("a second variants file for the same process", ())
        elif process_id not in known_processes:
            found = ", ".join(sorted(known_processes))
            reader.problem(f"names process '{process_id}', which the deployment does not hold ({found})", ())
        else:
            blueprint = reader.blueprint(process_id)
            if blueprint is not None:
                blueprints[process_id] = blueprint
        problems.extend(reader.problems)
    return blueprints, problems


def reference_problems(
    references: Mapping[str, set[tuple[str, str | None]]], blueprints: Mapping[str, Blueprint], file_of
) -> list[Problem]:
    """Where a process's code reads a parameter its blueprint does not declare, or reads ``local`` without a
    blueprint. ``file_of``: the diagram file of a process id."""
    problems = []
    for process_id, uses in sorted(references.items()):
        blueprint = blueprints.get(process_id)
        for element_id, name in sorted(uses, key=lambda use: (use[0], use[1] or "")):
            if blueprint is None:
                message = (
                    f"reads {LOCAL_NAME}, the local parameters of a blueprint, but the deployment has no "
                    f"{process_id}{VARIANTS_SUFFIX} declaring them: deploy it with the diagram"
                )
            elif name is not None and name not in blueprint.parameters:
                declared = ", ".join(sorted(blueprint.parameters)) or "none"
                message = (
                    f"reads {LOCAL_NAME}[{name!r}], a parameter {blueprint.filename} does not declare "
                    f"(declared: {declared})"
                )
            else:
                continue
            problems.append(Problem(file_of(process_id) or "", message, element_id=element_id))
    return problems


class _Reader:
    """Reads one variants file, collecting every problem with the line it is on where that can be found."""

    def __init__(self, source: SourceFile, directory: Directory):
        self.source = source
        self.directory = directory
        self.problems: list[Problem] = []
        # Declared, but refused for itself: the variants' values for it are not refused once more.
        self._refused_parameters: set[str] = set()
        self._lines = source.content.decode("utf-8", errors="replace").splitlines()

    def problem(self, message: str, path: tuple[str, ...]) -> None:
        where = ".".join(path)
        self.problems.append(
            Problem(
                self.source.filename, f"{where}: {message}" if where else message, line=self._line_of(path)
            )
        )

    def blueprint(self, process_id: str) -> Blueprint | None:
        try:
            document = tomllib.loads(self.source.content.decode("utf-8"))
        except UnicodeDecodeError:
            self.problem("a variants file must be encoded as UTF-8", ())
            return None
        except tomllib.TOMLDecodeError as error:
            self.problem(f"not valid TOML: {error}", ())
            return None
        except RecursionError:
            self.problem("nested too deeply to read", ())
            return None
        for unknown in sorted(set(document) - {"parameters", "variants"}):
            self.problem("unknown table: a variants file holds [parameters.…] and [variants.…]", (unknown,))
        parameters = self._parameters(_table(self, document, "parameters"))
        variants = self._variants(_table(self, document, "variants"), parameters)
        if self.problems:
            return None
        return Blueprint(process_id, self.source.filename, parameters, variants)

    def _parameters(self, declared: Mapping) -> dict[str, Parameter]:
        parameters = {}
        for name, spec in declared.items():
            path = ("parameters", name)
            if not PARAMETER_NAME.match(name):
                self.problem("a parameter name is lower case letters, digits and '_', from a letter", path)
                parameter = None
            elif not isinstance(spec, dict):
                self.problem("a parameter is a table: [parameters.<name>] with type = …", path)
                parameter = None
            else:
                parameter = self._parameter(name, spec, path)
            if parameter is None:
                self._refused_parameters.add(name)
            else:
                parameters[name] = parameter
        return parameters

    def _parameter(self, name: str, spec: Mapping, path: tuple[str, ...]) -> Parameter | None:
        for unknown in sorted(set(spec) - PARAMETER_FIELDS):
            self.problem(
                f"unknown field (a parameter has {', '.join(sorted(PARAMETER_FIELDS))})", (*path, unknown)
            )
        kind_of = spec.get("type")
        if kind_of not in TYPES:
            self.problem(f"type must be one of {', '.join(TYPES)}, not {kind_of!r}", (*path, "type"))
            return None
        for text_field in ("description", "accepts", "kind"):
            value = spec.get(text_field)
            if value is not None and (
                not isinstance(value, str) or not value.strip() or len(value) > LONGEST_TEXT
            ):
                self.problem(
                    f"{text_field} must be text of 1 to {LONGEST_TEXT} characters", (*path, text_field)
                )
        if kind_of != "service" and ("accepts" in spec or "kind" in spec):
            self.problem("accepts and kind describe a service parameter only", path)
        if spec.get("kind") is not None and spec["kind"] not in SERVICE_KINDS:
            self.problem(f"kind must be one of {', '.join(SERVICE_KINDS)}", (*path, "kind"))
        parameter = Parameter(
            name,
            kind_of,
            "default" in spec,
            spec.get("default"),
            spec.get("description"),
            spec.get("accepts"),
            spec.get("kind"),
        )
        if parameter.has_default:
            self._check_value(parameter, parameter.default, (*path, "default"))
        return parameter

    def _variants(self, declared: Mapping, parameters: Mapping[str, Parameter]) -> dict[str, Variant]:
        variants = {}
        claimed: dict[str, str] = {}  # a point of access or organisation -> the variant that names it
        for name, spec in declared.items():
            path = ("variants", name)
            if not VARIANT_NAME.match(name):
                self.problem("a variant name is lower case letters, digits, '-' and '_'", path)
                continue
            if not isinstance(spec, dict):
                self.problem("a variant is a table: [variants.<name>] naming its points_of_access", path)
                continue
            for unknown in sorted(set(spec) - VARIANT_FIELDS):
                self.problem(
                    f"unknown field (a variant has {', '.join(sorted(VARIANT_FIELDS))})", (*path, unknown)
                )
            points = self._points_of_access(spec.get("points_of_access", []), path, claimed, name)
            organisation = self._organisation(spec.get("organisation"), path, claimed, name)
            if not points and organisation is None:
                self.problem("a variant names the points_of_access or the organisation it is for", path)
            description = spec.get("description")
            if description is not None and (
                not isinstance(description, str) or len(description) > LONGEST_TEXT
            ):
                self.problem(
                    f"description must be text of at most {LONGEST_TEXT} characters", (*path, "description")
                )
                description = None
            values = self._values(_table(self, spec, "parameters", path), parameters, (*path, "parameters"))
            variants[name] = Variant(name, description, points, organisation, values)
        return variants

    def _points_of_access(self, points, path, claimed: dict, variant: str) -> tuple[str, ...]:
        where = (*path, "points_of_access")
        if not isinstance(points, list) or not all(isinstance(p, str) for p in points):
            self.problem("points_of_access must be a list of service ids", where)
            return ()
        for point in points:
            row = self.directory.services.get(point)
            if row is None or row["kind"] != "point-of-access":
                self.problem(f"'{point}' is not a point of access in the service directory", where)
            elif claimed.setdefault(point, variant) != variant:
                self.problem(f"'{point}' is already the point of access of variant '{claimed[point]}'", where)
        return tuple(points)

    def _organisation(self, organisation, path, claimed: dict, variant: str) -> str | None:
        if organisation is None:
            return None
        where = (*path, "organisation")
        if not isinstance(organisation, str) or organisation not in self.directory.organisations():
            self.problem(f"{organisation!r} runs no service in the service directory", where)
            return None
        holder = claimed.setdefault(f"organisation:{organisation}", variant)
        if holder != variant:
            self.problem(f"'{organisation}' is already the organisation of variant '{holder}'", where)
        return organisation

    def _values(self, given: Mapping, parameters: Mapping[str, Parameter], path) -> dict:
        for name, value in given.items():
            parameter = parameters.get(name)
            if name in self._refused_parameters:
                continue
            if parameter is None:
                declared = ", ".join(sorted(parameters)) or "none"
                self.problem(
                    f"the blueprint declares no parameter '{name}' (declared: {declared})", (*path, name)
                )
            else:
                self._check_value(parameter, value, (*path, name))
        for missing in sorted(
            name for name, p in parameters.items() if not p.has_default and name not in given
        ):
            self.problem(f"gives no value for '{missing}', which has no default", path)
        return dict(given)

    def _check_value(self, parameter: Parameter, value, path) -> None:
        problem = value_problem(parameter, value, self.directory)
        if problem:
            self.problem(problem, path)

    def _line_of(self, path: tuple[str, ...]) -> int | None:
        """The line of the table or key at ``path``: found by its header, then by its key below it."""
        for depth in range(len(path), 0, -1):
            header = "[" + ".".join(path[:depth]) + "]"
            start = next((i for i, line in enumerate(self._lines) if line.strip() == header), None)
            if start is None:
                continue
            if depth == len(path):
                return start + 1
            key = re.compile(rf"^\s*{re.escape(path[depth])}\s*=")
            for offset, line in enumerate(self._lines[start + 1 :], start + 2):
                if line.lstrip().startswith("["):
                    break
                if key.match(line):
                    return offset
            return start + 1
        return None


def _table(reader: _Reader, document: Mapping, name: str, path: tuple[str, ...] = ()) -> Mapping:
    table = document.get(name, {})
    if not isinstance(table, dict):
        reader.problem("must be a table", (*path, name))
        return {}
    return table


def value_problem(parameter: Parameter, value, directory: Directory) -> str | None:
    """Why ``value`` does not fit ``parameter``, or None when it does."""
    expected = {
        "string": "text",
        "integer": "a whole number",
        "number": "a number",
        "boolean": "true or false",
        "duration": 'an ISO 8601 duration such as "PT4H" or "P2D"',
        "service": "the id of a service in the directory",
        "calendar": f"one of the calendars {', '.join(sorted(directory.calendars))}",
    }[parameter.type]
    fits = {
        "string": isinstance(value, str) and len(value) <= LONGEST_TEXT,
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value),
        "boolean": isinstance(value, bool),
        "duration": isinstance(value, str) and bool(DURATION.match(value)),
        "service": isinstance(value, str) and value in directory.services,
        "calendar": isinstance(value, str) and value in directory.calendars,
    }[parameter.type]
    if not fits:
        return f"must be {expected}, not {value!r}"
    if parameter.type in ("integer", "number") and abs(value) > LARGEST_INTEGER:
        return f"must be between -{LARGEST_INTEGER:,} and {LARGEST_INTEGER:,}"
    if parameter.type == "service":
        return _service_problem(parameter, directory.services[value])
    return None


def _service_problem(parameter: Parameter, service: Mapping) -> str | None:
    if parameter.kind is not None and service["kind"] != parameter.kind:
        return f"'{service['id']}' is a {service['kind']} service, not a {parameter.kind}"
    if parameter.accepts is not None and parameter.accepts not in service["accepts"]:
        return (
            f"'{service['id']}' does not accept '{parameter.accepts}' referrals "
            f"(it accepts {', '.join(service['accepts'])})"
        )
    return None
