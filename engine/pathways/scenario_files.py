"""Scenario tests deployed with a pathway version as ``<name>.scenarios.yaml``: the format, read strictly.

A file is a YAML mapping with a ``scenarios`` list (and optionally the ``pathway`` its scenarios run by
default); each scenario has a ``name``, an optional ``start`` (when, who refers whom, the start data), a list
of ``steps`` and a closing ``expect``. docs/scenarios.md describes every key with an example. Reading a file
gives every problem at once, each with its line: an unknown key, a missing one, a value of the wrong kind or
outside its vocabulary, a duplicate scenario name. ``scenario_problems`` is the check made at deployment,
``read_scenario_file`` what a scenario run reads (engine/scenarios/).

The vocabularies (hand-off actions and statuses, clock states, calendars) belong to packages above this one,
so they are repeated here; tests/test_scenario_files.py fails when they drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import yaml

from engine.bpmn import SourceFile
from engine.errors import DefinitionInvalid, Problem
from engine.notifications.milestones import EVENT_TYPES
from engine.pathways.scenario_open_referrals import OpenReferral, read_open_referrals
from engine.pathways.scenario_reader import Node, Reader

SCENARIO_SUFFIXES = (".scenarios.yaml", ".scenarios.yml")

HANDOFF_ACTIONS = (
    "acknowledge",
    "accept",
    "reject",
    "request-information",
    "schedule",
    "start",
    "complete",
    "transfer",
)
HANDOFF_STATUSES = (
    "requested",
    "received",
    "accepted",
    "in-progress",
    "on-hold",
    "rejected",
    "completed",
    "cancelled",
    "failed",
)
CLOCK_STATES = ("running", "paused", "met", "breached", "cancelled")
REFERRAL_STATUSES = ("waiting", "completed", "cancelled", "incident")
CALENDARS = ("24x7", "8-to-8-every-day", "office-hours")

# Each step does one thing, named by its key; these are the other keys each kind of step takes.
STEP_OPTIONS: dict[str, tuple[str, ...]] = {
    "complete": ("data",),
    "service": ("action", "body"),
    "supply_information": (),
    "cancel": (),
    "message": ("data",),
    "signal": ("data",),
    "external_task": ("data", "bpmn_error", "error_message"),
    "wait": (),
    "at": (),
}
STEP_KEYS = tuple(dict.fromkeys([*STEP_OPTIONS, *(o for options in STEP_OPTIONS.values() for o in options)]))
EXPECTATIONS = (
    "status",
    "status_text_contains",
    "end_event",
    "tasks",
    "handoffs",
    "clocks",
    "milestones",
    "data",
)
START_KEYS = ("at", "referrer", "subject", "point_of_access", "open_referrals", "data")
SCENARIO_KEYS = ("name", "pathway", "start", "steps", "expect")
FILE_KEYS = ("pathway", "scenarios")

_ISO_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?"
    r"(?:(?P<seconds>\d+)S)?)?"
)
_WORKING = re.compile(
    r"(?P<amount>\d+) working (?P<unit>day|days|hour|hours|minute|minutes)(?: on (?P<calendar>\S+))?"
)


@dataclass(frozen=True)
class Duration:
    """How long a ``wait`` step lasts: real time, or an amount of working time on a business calendar (the
    calendar of the service holding the referral when none is named)."""

    text: str
    real: timedelta | None = None
    working_amount: int = 0
    working_unit: str | None = None  # "days" | "hours" | "minutes"
    calendar: str | None = None


@dataclass(frozen=True)
class Check:
    """One expectation: ``kind`` is one of EXPECTATIONS, ``expected`` its value as read."""

    kind: str
    expected: object
    line: int


@dataclass(frozen=True)
class Step:
    """One step of a scenario: ``kind`` is a key of STEP_OPTIONS, or "expect" for a step that only checks.
    ``target`` is the value of the step's own key (a task, a service, a message name, a Duration…)."""

    kind: str
    line: int
    target: object = None
    data: dict = field(default_factory=dict)
    action: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    expect: tuple[Check, ...] = ()


@dataclass(frozen=True)
class Start:
    line: int
    at: datetime | None = None
    referrer: str = "scenario-referrer"
    subject: str | None = None
    point_of_access: str | None = None
    data: dict = field(default_factory=dict)
    # The person's referrals already open when this one starts (engine/pathways/scenario_open_referrals.py).
    open_referrals: tuple[OpenReferral, ...] = ()

    @property
    def lead_time(self) -> timedelta:
        """How long before the scenario's start its clock starts: the oldest open referral's age."""
        return max((r.ago for r in self.open_referrals), default=timedelta(0))


@dataclass(frozen=True)
class Scenario:
    name: str
    file: str
    line: int
    pathway: str | None
    start: Start
    steps: tuple[Step, ...]
    expect: tuple[Check, ...]


@dataclass(frozen=True)
class ScenarioFile:
    filename: str
    pathway: str | None
    scenarios: tuple[Scenario, ...]


class _PlainLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: an alias is a reference, and a few nested ones expand to billions
    of items for whoever walks the result (the YAML form of "billion laughs")."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (*name) are not allowed in a scenario file", event.start_mark
            )
        return super().compose_node(parent, index)


def load_scenario_document(text: str | bytes):
    """The YAML document in ``text``, without anchors or aliases. Raises yaml.YAMLError."""
    return yaml.load(text, Loader=_PlainLoader)  # noqa: S506 -- a SafeLoader subclass


def scenario_problems(source: SourceFile) -> list[Problem]:
    """Why ``source`` is not a scenario file (an empty list when it is), each problem with its line."""
    try:
        read_scenario_file(source)
    except DefinitionInvalid as invalid:
        return invalid.problems
    return []


def scenario_pathway(filename: str) -> str:
    """The pathway a scenario file's name suggests: ``…/community_nursing_referral.scenarios.yaml`` →
    ``community_nursing_referral``."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in SCENARIO_SUFFIXES:
        name = name.removesuffix(suffix)
    return name


def read_scenario_file(source: SourceFile) -> ScenarioFile:
    """The scenarios of a file, or DefinitionInvalid listing every problem with its line."""
    reader = Reader(source.filename)
    try:
        loader = _PlainLoader(source.content)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise DefinitionInvalid(
            [Problem(source.filename, f"a scenario file must be YAML: {problem}", line=line)]
        ) from None
    if root is None:
        raise DefinitionInvalid(
            [Problem(source.filename, 'a scenario file is a YAML mapping with "scenarios"')]
        )
    document = reader.mapping(root, "a scenario file", FILE_KEYS, required=("scenarios",))
    if document is None:
        reader.raise_problems()
    pathway = reader.text(document.get("pathway"), "pathway")
    scenarios, names = [], {}
    for node in reader.sequence(document.get("scenarios"), "scenarios"):
        scenario = _scenario(reader, node, pathway)
        if scenario is None:
            continue
        if scenario.name in names:
            reader.problem(
                node, f'two scenarios are named "{scenario.name}" (the first at line {names[scenario.name]})'
            )
        names.setdefault(scenario.name, scenario.line)
        scenarios.append(scenario)
    reader.raise_problems()
    return ScenarioFile(source.filename, pathway, tuple(scenarios))


def _scenario(reader: Reader, node: Node, file_pathway: str | None) -> Scenario | None:
    keys = reader.mapping(node, "a scenario", SCENARIO_KEYS, required=("name",))
    if keys is None:
        return None
    name = reader.text(keys.get("name"), "name")
    steps = tuple(
        step
        for item in reader.sequence(keys.get("steps"), "steps")
        if (step := _step(reader, item)) is not None
    )
    expect = _expectations(reader, keys.get("expect")) if "expect" in keys else ()
    return Scenario(
        name=name or "",
        file=reader.filename,
        line=Reader.line(node),
        pathway=reader.text(keys.get("pathway"), "pathway") or file_pathway,
        start=_start(reader, keys.get("start"), Reader.line(node)),
        steps=steps,
        expect=expect,
    )


def _start(reader: Reader, node: Node | None, scenario_line: int) -> Start:
    if node is None:
        return Start(line=scenario_line)
    keys = reader.mapping(node, "start", START_KEYS) or {}
    return Start(
        line=Reader.line(node),
        at=reader.instant(keys.get("at"), "start at"),
        referrer=reader.text(keys.get("referrer"), "referrer") or "scenario-referrer",
        subject=reader.text(keys.get("subject"), "subject", hint="quote an NHS number"),
        point_of_access=reader.text(keys.get("point_of_access"), "point_of_access"),
        data=reader.data(keys.get("data"), "start data", identifiers=True),
        open_referrals=read_open_referrals(reader, keys.get("open_referrals"), _real_duration),
    )


def _real_duration(reader: Reader, node: Node) -> timedelta | None:
    duration = _duration(reader, node)
    if duration is not None and duration.real is None:
        reader.problem(node, f"{duration.text!r}: give an ISO 8601 duration of real time (P3D, PT4H)")
    return duration.real if duration is not None else None


def _step(reader: Reader, node: Node) -> Step | None:
    known_problems = len(reader.problems)
    keys = reader.mapping(node, "a step", (*STEP_KEYS, "expect"))
    if keys is None:
        return None
    actions = [key for key in keys if key in STEP_OPTIONS]
    expect = _expectations(reader, keys["expect"]) if "expect" in keys else ()
    if len(actions) > 1:
        reader.problem(node, f"a step does one thing; this one has {', '.join(actions)}: split it in two")
        return None
    if not actions:
        if "expect" not in keys:
            if len(reader.problems) == known_problems:  # an unknown key was reported: that says it
                reader.problem(node, f"a step needs one of {', '.join(STEP_OPTIONS)} (or only expect)")
            return None
        stray = sorted(set(keys) - {"expect"})
        if stray:
            reader.problem(node, f"{', '.join(stray)} belong(s) to a step that does something")
        return Step("expect", Reader.line(node), expect=expect)
    kind = actions[0]
    stray = sorted(set(keys) - {kind, "expect", *STEP_OPTIONS[kind]})
    for key in stray:
        reader.problem(
            keys[key], f'"{key}" is not an option of a {kind} step (it takes {_listed(STEP_OPTIONS[kind])})'
        )
    return _made_step(reader, kind, keys, Reader.line(node), expect)


def _made_step(reader: Reader, kind: str, keys: dict[str, Node], line: int, expect) -> Step | None:
    value = keys[kind]
    data = reader.data(keys.get("data"), f"{kind} data", identifiers=True)
    if kind == "complete":
        return Step(kind, line, reader.text(value, "complete", required=True), data=data, expect=expect)
    if kind == "service":
        action = reader.choice(keys.get("action"), "action", HANDOFF_ACTIONS, missing_at=value)
        body = reader.data(keys.get("body"), "body", identifiers=True)
        return Step(
            kind, line, reader.text(value, "service", required=True), body, action=action, expect=expect
        )
    if kind == "supply_information":
        answer = reader.data(value, "supply_information", required=True, identifiers=True)
        return Step(kind, line, data=answer, expect=expect)
    if kind == "cancel":
        return Step(kind, line, reader.text(value, "cancel (the reason)", required=True), expect=expect)
    if kind in ("message", "signal"):
        return Step(kind, line, reader.text(value, kind, required=True), data=data, expect=expect)
    if kind == "external_task":
        code = reader.text(keys.get("bpmn_error"), "bpmn_error")
        message = reader.text(keys.get("error_message"), "error_message")
        if message is not None and code is None:
            reader.problem(keys["error_message"], "error_message goes with bpmn_error")
        topic = reader.text(value, "external_task (the topic)", required=True)
        return Step(kind, line, topic, data, error_code=code, error_message=message, expect=expect)
    if kind == "wait":
        return Step(kind, line, _duration(reader, value), expect=expect)
    return Step(kind, line, reader.instant(value, "at", required=True), expect=expect)


def _duration(reader: Reader, node: Node) -> Duration | None:
    text = (reader.text(node, "wait", required=True) or "").strip()
    iso = _ISO_DURATION.fullmatch(text.upper())
    if iso and any(iso.groupdict().values()):
        parts = {unit: int(amount or 0) for unit, amount in iso.groupdict().items()}
        return Duration(text, real=timedelta(**parts))
    working = _WORKING.fullmatch(text)
    if working:
        calendar = working["calendar"]
        if calendar is not None and calendar not in CALENDARS:
            reader.problem(node, f"unknown calendar {calendar!r} (the calendars are {_listed(CALENDARS)})")
        unit = working["unit"] if working["unit"].endswith("s") else working["unit"] + "s"
        return Duration(text, working_amount=int(working["amount"]), working_unit=unit, calendar=calendar)
    if text:
        reader.problem(
            node,
            f"wait {text!r}: give an ISO 8601 duration (PT2H, P1D, P1W, P1DT12H: no months or years) or "
            '"N working days", "N working hours", "N working minutes", optionally "on <calendar>"',
        )
    return None


def _expectations(reader: Reader, node: Node | None) -> tuple[Check, ...]:
    keys = reader.mapping(node, "expect", EXPECTATIONS) or {}
    checks = []
    for kind, value in keys.items():
        expected = _expected(reader, kind, value)
        if expected is not None:
            checks.append(Check(kind, expected, Reader.line(value)))
    return tuple(checks)


def _expected(reader: Reader, kind: str, node: Node):
    if kind == "status":
        return reader.choice(node, "status", REFERRAL_STATUSES)
    if kind == "status_text_contains":
        return reader.text(node, kind, required=True)
    if kind in ("end_event", "tasks", "milestones"):
        names = reader.texts(node, kind)
        if kind == "milestones":
            for name in names or ():
                if name not in EVENT_TYPES:
                    reader.problem(node, f"unknown milestone {name!r} (milestones: {_listed(EVENT_TYPES)})")
        return names
    if kind == "handoffs":
        return reader.records(
            node, "a hand-off", {"service": None, "status": HANDOFF_STATUSES}, ("service", "status")
        )
    if kind == "clocks":
        return reader.records(
            node,
            "a clock",
            {"obligation": None, "state": CLOCK_STATES, "service": None},
            ("obligation", "state"),
        )
    return reader.data(node, "expected data", required=True, paths=True)


def _listed(names) -> str:
    return ", ".join(names) if names else "no options"
