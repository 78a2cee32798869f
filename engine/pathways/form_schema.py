"""The form-js schemas Signpost accepts: the subset whose every answer the server can check.

A schema is ``{"type": "default", "components": [...]}`` (plus the editor's ``id``, ``schemaVersion``,
``exporter``, ``executionPlatform…`` and ``versionTag``). Its components:

============  ==============================================  ========================================
type          what it holds                                   ``validate``
============  ==============================================  ========================================
textfield     a line of text                                  required, minLength, maxLength, pattern,
                                                              validationType (email, phone, custom)
textarea      text over several lines                         required, minLength, maxLength, pattern
number        a number (``decimalDigits``, ``increment``)     required, min, max
checkbox      true or false                                   required (must be ticked)
radio/select  one of its ``values`` ({label, value} each)     required
checklist     some of its ``values``                          required (at least one)
taglist       some of its ``values``                          required (at least one)
datetime      ``subtype`` date, time or datetime (ISO 8601)   required
text, separator, spacer, button, group (a box of components without a ``path``): shown, never sent
============  ==============================================  ========================================

Every input component has a ``key``, unique in the form: a plain identifier, because the answer becomes a
variable of the pathway's data that expressions read. Anything else is refused with a sentence saying what to
change: other component types (file uploads, tables, iframes, HTML, expressions, repeating lists), options
taken from process data or expressions (``valuesKey``, ``valuesExpression``), conditions (``conditional``:
the server cannot evaluate FEEL, so it could not tell a hidden required field from a missing one), FEEL
expressions in place of bounds, groups that nest their fields' data under a ``path``, patterns that repeat
a part that itself repeats (``(a+)+``: checking an answer against one can take exponential time), and
properties not listed here.
"""

from __future__ import annotations

import keyword
import re
from numbers import Real
from re import _constants as _regex_constants  # the parse tree of a pattern, to look at its repetitions
from re import _parser as _regex_parser

from engine.errors import Problem
from engine.pathways.form_data import value_problem

FORM_PROPERTIES = frozenset(
    {"type", "id", "components", "schemaVersion", "exporter", "executionPlatform", "executionPlatformVersion"}
    | {"versionTag"}
)
_SHOWN = frozenset({"id", "type", "label", "description", "layout", "properties"})
_INPUT = _SHOWN | {"key", "validate", "defaultValue", "disabled", "readonly"}
_OPTIONS = _INPUT | {"values"}
PROPERTIES = {
    "textfield": _INPUT | {"appearance"},
    "textarea": _INPUT,
    "number": _INPUT | {"appearance", "decimalDigits", "increment", "serializeToString"},
    "checkbox": _INPUT,
    "radio": _OPTIONS,
    "select": _OPTIONS | {"searchable"},
    "checklist": _OPTIONS,
    "taglist": _OPTIONS,
    "datetime": _INPUT
    | {"subtype", "dateLabel", "timeLabel", "use24h", "timeInterval", "timeSerializingFormat"}
    | {"disallowPassedDates"},
    "text": _SHOWN | {"text"},
    "separator": _SHOWN,
    "spacer": _SHOWN | {"height"},
    "button": _SHOWN | {"action"},
    "group": _SHOWN | {"components", "showOutline", "verticalAlignment", "path"},
}
_TEXT_CHECKS = frozenset({"required", "minLength", "maxLength", "pattern", "patternErrorMessage"})
VALIDATE = {
    "textfield": _TEXT_CHECKS | {"validationType"},
    "textarea": _TEXT_CHECKS,
    "number": frozenset({"required", "min", "max"}),
    **{kind: frozenset({"required"}) for kind in ("checkbox", "radio", "select", "checklist", "taglist")},
    "datetime": frozenset({"required"}),
}
REFUSED_TYPES = {
    "dynamiclist": "a repeating list of fields",
    "filepicker": "a file upload",
    "table": "a table filled from process data",
    "iframe": "a web page loaded from elsewhere",
    "image": "an image loaded from elsewhere",
    "html": "raw HTML",
    "expression": "a value computed by a FEEL expression",
    "documentPreview": "documents loaded from elsewhere",
}
REFUSED_PROPERTIES = {
    "conditional": "hides it on a condition (a FEEL expression) the server cannot evaluate, so it could not "
    "tell a hidden required field from a missing answer: remove the condition, or use a second task",
    "valuesKey": "takes its options from the process data: list them in the form ('values') so that the "
    "server can check the answer",
    "valuesExpression": "takes its options from an expression: list them in the form ('values') so that the "
    "server can check the answer",
}
DATETIME_SUBTYPES = ("date", "time", "datetime")
TIME_FORMATS = ("utc_offset", "utc_normalized", "no_timezone")
MOST_COMPONENTS = 500
DEEPEST_GROUP = 10
LONGEST_PATTERN = 1_000


def schema_problems(filename: str, schema) -> tuple[list[Problem], dict[str, dict], set[str]]:
    """The problems of a form-js ``schema`` (parsed JSON), its input fields by key and its disabled keys."""
    checker = _Checker(filename)
    if not isinstance(schema, dict) or not isinstance(schema.get("components"), list):
        checker.refuse('a form-js schema is a JSON object with a "components" list')
        return checker.problems, {}, set()
    if schema.get("type", "default") != "default":
        checker.refuse(f'the form\'s "type" is {schema.get("type")!r}; a form-js form is of type "default"')
    for name in sorted(set(schema) - FORM_PROPERTIES):
        checker.refuse(f"the form has the property {name!r}, which form-js forms do not have")
    checker.components(schema["components"], "components", depth=0)
    return checker.problems, checker.fields, checker.disabled


class _Checker:
    def __init__(self, filename: str):
        self.filename = filename
        self.problems: list[Problem] = []
        self.fields: dict[str, dict] = {}
        self.disabled: set[str] = set()
        self._count = 0

    def refuse(self, message: str, component: dict | None = None) -> None:
        element = None
        if component is not None:
            element = _text(component.get("id")) or _text(component.get("key"))
        self.problems.append(Problem(self.filename, message, element_id=element))

    def components(self, components, where: str, depth: int) -> None:
        if depth > DEEPEST_GROUP:
            self.refuse(f"{where}: groups are nested more than {DEEPEST_GROUP} deep")
            return
        for index, component in enumerate(components):
            self._count += 1
            if self._count > MOST_COMPONENTS:
                self.refuse(f"the form has more than {MOST_COMPONENTS} components")
                return
            self.component(component, f"{where}[{index}]", depth)

    def component(self, component, where: str, depth: int) -> None:
        if not isinstance(component, dict) or not isinstance(component.get("type"), str):
            self.refuse(f'{where}: a component is a JSON object with a "type"')
            return
        kind = component["type"]
        if kind not in PROPERTIES:
            why = f" ({REFUSED_TYPES[kind]})" if kind in REFUSED_TYPES else ""
            self.refuse(
                f"{where} is of type {kind!r}{why}, which Signpost's forms do not support; supported: "
                f"{', '.join(PROPERTIES)}",
                component,
            )
            return
        name = f"field {component['key']!r}" if isinstance(component.get("key"), str) else f"{where} ({kind})"
        for prop in sorted(set(component) - PROPERTIES[kind]):
            why = REFUSED_PROPERTIES.get(prop)
            self.refuse(
                f"{name} {why}"
                if why
                else f"{name} has the property {prop!r}, which Signpost does not support for a {kind} "
                f"(supported: {', '.join(sorted(PROPERTIES[kind]))})",
                component,
            )
        self.shown(component, name)
        if kind in VALIDATE:
            self.input(component, kind, name)
        elif kind == "group":
            self.group(component, name, where, depth)
        elif kind == "button" and component.get("action", "submit") not in ("submit", "reset"):
            self.refuse(f"{name}: a button's action is 'submit' or 'reset'", component)
        elif kind == "spacer" and not _whole(component.get("height", 0), 0):
            self.refuse(f"{name}: a spacer's height is a whole number of pixels", component)

    def shown(self, component: dict, name: str) -> None:
        for prop in ("label", "description", "text", "dateLabel", "timeLabel"):
            if prop in component and not isinstance(component[prop], str):
                self.refuse(f"{name}: {prop!r} must be text", component)
        for prop in ("properties", "layout", "appearance"):
            if prop in component and not isinstance(component[prop], dict):
                self.refuse(f"{name}: {prop!r} must be a JSON object", component)
        flags = ("disabled", "readonly", "searchable", "use24h", "disallowPassedDates", "serializeToString")
        for prop in (*flags, "showOutline"):
            if prop in component and not isinstance(component[prop], bool):
                self.refuse(
                    f"{name}: {prop!r} must be true or false (FEEL expressions are not supported)", component
                )

    def group(self, component: dict, name: str, where: str, depth: int) -> None:
        if component.get("path"):
            self.refuse(
                f"{name} nests its fields' data under the path {component['path']!r}: remove the path and "
                "give the fields keys of their own",
                component,
            )
        if not isinstance(component.get("components", []), list):
            self.refuse(f"{name}: a group's 'components' is a list", component)
            return
        self.components(component.get("components", []), f"{where}.components", depth + 1)

    def input(self, component: dict, kind: str, name: str) -> None:
        key = component.get("key")
        if not isinstance(key, str) or not _plain_identifier(key):
            self.refuse(
                f"{name} needs a 'key' that is a plain identifier (letters, digits, '_', not starting with a "
                "digit or '_', not a Python keyword): it becomes a variable of the pathway's data",
                component,
            )
            return
        if key in self.fields:
            self.refuse(f"two fields have the key {key!r}: each field needs a key of its own", component)
            return
        self.fields[key] = component
        if component.get("disabled") is True:
            self.disabled.add(key)
        self.validate(component, kind, name)
        if kind in ("radio", "select", "checklist", "taglist"):
            self.values(component, name)
        if kind == "number":
            self.number(component, name)
        if kind == "datetime":
            self.datetime(component, name)
        if "defaultValue" in component and not self.problems_of(component):
            problem = value_problem({**component, "validate": {}}, component["defaultValue"], today=None)
            if problem:
                self.refuse(f"{name}: its defaultValue {problem}", component)

    def problems_of(self, component: dict) -> bool:
        """Whether a problem was found in ``component`` already (its default is not checked then)."""
        element = _text(component.get("id")) or _text(component.get("key"))
        return any(p.element_id == element for p in self.problems)

    def validate(self, component: dict, kind: str, name: str) -> None:
        checks = component.get("validate", {})
        if not isinstance(checks, dict):
            self.refuse(f"{name}: 'validate' must be a JSON object", component)
            return
        for check in sorted(set(checks) - VALIDATE[kind]):
            self.refuse(
                f"{name}: the check {check!r} is not supported for a {kind} (supported: "
                f"{', '.join(sorted(VALIDATE[kind]))})",
                component,
            )
        if "required" in checks and not isinstance(checks["required"], bool):
            self.refuse(f"{name}: 'required' must be true or false", component)
        for low, high, whole in (("minLength", "maxLength", True), ("min", "max", False)):
            self.bounds(component, checks, name, low, high, whole)
        if "pattern" in checks:
            self.pattern(component, checks["pattern"], name)
        if checks.get("validationType") not in (None, "", "email", "phone", "custom"):
            self.refuse(f"{name}: 'validationType' is 'email', 'phone' or 'custom'", component)

    def bounds(self, component: dict, checks: dict, name: str, low: str, high: str, whole: bool) -> None:
        found = {}
        for check in (low, high):
            if check not in checks:
                continue
            value = checks[check]
            if whole and not _whole(value, 0):
                self.refuse(f"{name}: {check!r} must be a whole number, 0 or more", component)
            elif not whole and not _number(value):
                self.refuse(
                    f"{name}: {check!r} must be a number (FEEL expressions are not supported)", component
                )
            else:
                found[check] = value
        if len(found) == 2 and found[low] > found[high]:
            self.refuse(f"{name}: {low!r} ({found[low]}) is more than {high!r} ({found[high]})", component)

    def pattern(self, component: dict, pattern, name: str) -> None:
        if not isinstance(pattern, str) or len(pattern) > LONGEST_PATTERN:
            self.refuse(
                f"{name}: 'pattern' must be a regular expression of at most {LONGEST_PATTERN:,} characters",
                component,
            )
            return
        try:
            re.compile(pattern)
        except (re.error, RecursionError, OverflowError) as error:
            self.refuse(f"{name}: the pattern {pattern!r} is not a regular expression: {error}", component)
            return
        if _repeats_a_repetition(_regex_parser.parse(pattern), inside=False):
            self.refuse(
                f"{name}: the pattern {pattern!r} repeats a part that itself repeats (as in (a+)+), which "
                "can take the server exponential time to check against an answer: write it without the "
                "nested repetition (e.g. [A-Za-z ]+ for ([A-Za-z]+ ?)+)",
                component,
            )

    def values(self, component: dict, name: str) -> None:
        values = component.get("values")
        if not isinstance(values, list) or not values:
            self.refuse(f"{name} needs its options listed as 'values': a list of {{label, value}}", component)
            return
        seen = []
        for option in values:
            if (
                not isinstance(option, dict)
                or set(option) - {"label", "value"}
                or not isinstance(option.get("label", ""), str)
                or not _scalar(option.get("value"))
            ):
                self.refuse(f'{name}: each option is {{"label": text, "value": text or a number}}', component)
                return
            if option["value"] in seen:
                self.refuse(f"{name}: the value {option['value']!r} is listed twice", component)
            seen.append(option["value"])

    def number(self, component: dict, name: str) -> None:
        if "decimalDigits" in component and not _whole(component["decimalDigits"], 0):
            self.refuse(f"{name}: 'decimalDigits' must be a whole number, 0 or more", component)
        if "increment" in component and not (_number(component["increment"]) and component["increment"] > 0):
            self.refuse(f"{name}: 'increment' must be a number above 0", component)

    def datetime(self, component: dict, name: str) -> None:
        if component.get("subtype", "date") not in DATETIME_SUBTYPES:
            self.refuse(f"{name}: 'subtype' is one of {', '.join(DATETIME_SUBTYPES)}", component)
        if component.get("timeSerializingFormat", "utc_offset") not in TIME_FORMATS:
            self.refuse(f"{name}: 'timeSerializingFormat' is one of {', '.join(TIME_FORMATS)}", component)
        if "timeInterval" in component and not _whole(component["timeInterval"], 1):
            self.refuse(f"{name}: 'timeInterval' must be a whole number of minutes, 1 or more", component)


_REPEATS = (_regex_constants.MAX_REPEAT, _regex_constants.MIN_REPEAT, _regex_constants.POSSESSIVE_REPEAT)


def _repeats_a_repetition(items, inside: bool) -> bool:
    """Whether a parsed regular expression repeats, a varying number of times, a part that itself repeats a
    varying number of times: the shape whose failed matches backtrack exponentially (``(a+)+``, ``(a*)*``).
    A fixed count (``(\\d{3}-)+``, ``(a+){3}``) is not varying."""
    for op, argument in items:
        if op in _REPEATS:
            least, most, repeated = argument
            varying = most > 1 and least != most
            if (varying and inside) or _repeats_a_repetition(repeated, inside or varying):
                return True
        elif op is _regex_constants.SUBPATTERN:
            if _repeats_a_repetition(argument[-1], inside):
                return True
        elif op is _regex_constants.BRANCH:
            if any(_repeats_a_repetition(branch, inside) for branch in argument[1]):
                return True
        elif op in (_regex_constants.ASSERT, _regex_constants.ASSERT_NOT):
            if _repeats_a_repetition(argument[1], inside):
                return True
        elif op is _regex_constants.ATOMIC_GROUP and _repeats_a_repetition(argument, inside):
            return True
    return False


def _plain_identifier(key: str) -> bool:
    return key.isidentifier() and not keyword.iskeyword(key) and not key.startswith("_") and len(key) <= 200


def _number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _whole(value, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _scalar(value) -> bool:
    return isinstance(value, str) or _number(value)


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None
