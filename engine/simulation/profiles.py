"""What a simulation is given: the demand (arrivals by hour of week per pathway and point of access) and how
each service behaves. Read from YAML, TOML or JSON (docs/simulation.md), or fitted from history (``fit.py``);
``describe`` writes either back in the same form.

    arrivals:
      - pathway: community_nursing_referral
        point_of_access: community-health-spa     # optional
        per_hour: {"Mon-Fri 08:00-18:00": 6, "Sat-Sun 10:00-16:00": 2}
    services:
      community-nursing-city:
        capacity: 2                  # hand-offs worked at once in the hours its calendar is open
        acknowledges: 1.0            # share of hand-offs acknowledged when picked up
        reject_rate: 0.1             # share of decisions that are rejections
        information_rate: 0.05       # share of pick-ups that ask the referrer for information
        work: {median: PT20M, p90: PT1H}          # picked up -> accepted or rejected, holding capacity
        to_start: {median: PT4H, p90: PT12H}      # accepted -> started (business time on its calendar)
        to_complete: {median: PT1H, p90: PT3H}    # started (or accepted) -> completed (business time)
        starts: 1.0                  # share of accepted hand-offs started before they are completed
        answer: {median: PT2H, p90: PT8H}         # the referrer answers a question (business time)
    tasks:                           # operators' user tasks, by element id (any pathway)
      review_rejection: {median: PT10M, p90: PT30M}
    external_tasks:                  # systems' external tasks, by topic
      rio-record-lookup: {fixed: PT2M}
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, replace

import yaml

from engine.errors import InvalidInput
from engine.simulation.hours import HOURS_IN_WEEK, Durations, hourly

SERVICE_FIELDS = (
    "capacity",
    "acknowledges",
    "reject_rate",
    "information_rate",
    "work",
    "to_start",
    "to_complete",
    "starts",
    "answer",
)
RATES = ("acknowledges", "reject_rate", "information_rate", "starts")
TIMES = ("work", "to_start", "to_complete", "answer")


@dataclass(frozen=True)
class Stream:
    """Referrals arriving on one pathway at one point of access (None: the one that handles the pathway)."""

    pathway: str
    point_of_access: str | None
    per_hour: tuple[float, ...]  # 168, by hour of the week

    def describe(self) -> dict:
        entry = {"pathway": self.pathway}
        if self.point_of_access:
            entry["point_of_access"] = self.point_of_access
        entry["per_hour"] = [round(rate, 4) for rate in self.per_hour]
        return entry


@dataclass(frozen=True)
class Demand:
    streams: tuple[Stream, ...]

    def of(self, pathway: str) -> tuple[Stream, ...]:
        return tuple(s for s in self.streams if s.pathway == pathway)

    def scaled(self, factor: float) -> Demand:
        return Demand(tuple(replace(s, per_hour=tuple(r * factor for r in s.per_hour)) for s in self.streams))

    def per_week(self, pathway: str | None = None) -> float:
        return sum(sum(s.per_hour) for s in self.streams if pathway in (None, s.pathway))

    def describe(self) -> list[dict]:
        return [s.describe() for s in self.streams]


DEFAULT_WORK = Durations.median_p90(20 * 60, 90 * 60)
DEFAULT_TO_START = Durations.median_p90(4 * 3600, 12 * 3600)
DEFAULT_TO_COMPLETE = Durations.median_p90(3600, 3 * 3600)
DEFAULT_ANSWER = Durations.median_p90(2 * 3600, 8 * 3600)


@dataclass(frozen=True)
class ServiceBehaviour:
    # Hand-offs worked at once: a number for the hours its calendar is open (None: as many as arrive), or 168.
    capacity: int | tuple[float, ...] | None = None
    acknowledges: float = 1.0
    reject_rate: float = 0.1
    information_rate: float = 0.05
    work: Durations = DEFAULT_WORK
    to_start: Durations = DEFAULT_TO_START
    to_complete: Durations = DEFAULT_TO_COMPLETE
    starts: float = 1.0
    answer: Durations = DEFAULT_ANSWER

    def describe(self) -> dict:
        described: dict = {}
        if isinstance(self.capacity, tuple):
            described["capacity"] = [int(c) for c in self.capacity]
        elif self.capacity is not None:
            described["capacity"] = self.capacity
        described.update({name: round(getattr(self, name), 4) for name in RATES})
        described.update({name: getattr(self, name).describe() for name in TIMES})
        return described


DEFAULT_BEHAVIOUR = ServiceBehaviour()
DEFAULT_TASK_TIME = Durations.median_p90(10 * 60, 30 * 60)
DEFAULT_EXTERNAL_TASK_TIME = Durations.median_p90(2 * 60, 10 * 60)


@dataclass(frozen=True)
class Behaviour:
    """How every service, operator and system behaves; services not named behave as DEFAULT_BEHAVIOUR."""

    services: dict[str, ServiceBehaviour] = field(default_factory=dict)
    tasks: dict[str, Durations] = field(default_factory=dict)
    external_tasks: dict[str, Durations] = field(default_factory=dict)

    def of(self, service_id: str) -> ServiceBehaviour:
        return self.services.get(service_id, DEFAULT_BEHAVIOUR)

    def task_time(self, element_id: str) -> Durations:
        return self.tasks.get(element_id, DEFAULT_TASK_TIME)

    def external_task_time(self, topic: str) -> Durations:
        return self.external_tasks.get(topic, DEFAULT_EXTERNAL_TASK_TIME)

    def describe(self) -> dict:
        return {
            "services": {sid: b.describe() for sid, b in sorted(self.services.items())},
            "tasks": {name: d.describe() for name, d in sorted(self.tasks.items())},
            "external_tasks": {name: d.describe() for name, d in sorted(self.external_tasks.items())},
        }


def read_document(text: str, filename: str) -> dict:
    """A profile file as a mapping: YAML (.yaml, .yml), TOML (.toml) or JSON (.json)."""
    try:
        if filename.endswith(".toml"):
            document = tomllib.loads(text)
        elif filename.endswith(".json"):
            document = json.loads(text)
        elif filename.endswith((".yaml", ".yml")):
            document = yaml.safe_load(text)
        else:
            raise InvalidInput(f"{filename}: a profile is a .yaml, .yml, .toml or .json file")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as error:
        raise InvalidInput(f"{filename}: cannot be read: {error}") from None
    if not isinstance(document, dict):
        raise InvalidInput(f"{filename}: expected a mapping at the top (arrivals:, services:, tasks:)")
    return document


def demand_from(document: dict, source: str) -> Demand:
    entries = document.get("arrivals")
    if not isinstance(entries, list) or not entries:
        raise InvalidInput(f"{source}: no arrivals: give a list 'arrivals' of {{pathway, per_hour}}")
    streams = []
    for number, entry in enumerate(entries, start=1):
        where = f"{source}: arrivals #{number}"
        if not isinstance(entry, dict):
            raise InvalidInput(f"{where}: expected {{pathway, point_of_access, per_hour}}")
        unknown = set(entry) - {"pathway", "point_of_access", "per_hour"}
        if unknown:
            raise InvalidInput(
                f"{where}: unknown {', '.join(sorted(unknown))} (pathway, point_of_access, per_hour)"
            )
        if not isinstance(entry.get("pathway"), str) or not entry["pathway"].strip():
            raise InvalidInput(f"{where}: name its 'pathway'")
        if "per_hour" not in entry:
            raise InvalidInput(f"{where}: give 'per_hour', the referrals an hour")
        point = entry.get("point_of_access")
        if point is not None and not isinstance(point, str):
            raise InvalidInput(f"{where}: 'point_of_access' is a service id")
        rates = hourly(entry["per_hour"], f"{where} ({entry['pathway']}) per_hour")
        streams.append(Stream(entry["pathway"], point, rates))
    return Demand(tuple(streams))


def behaviour_from(document: dict, source: str) -> Behaviour:
    services = document.get("services") or {}
    if not isinstance(services, dict):
        raise InvalidInput(f"{source}: 'services' maps service ids to their behaviour")
    read = {sid: _service(entry, f"{source}: service {sid!r}") for sid, entry in services.items()}
    tasks = _times(document.get("tasks") or {}, f"{source}: tasks")
    external = _times(document.get("external_tasks") or {}, f"{source}: external_tasks")
    return Behaviour(read, tasks, external)


def _service(entry, where: str) -> ServiceBehaviour:
    if not isinstance(entry, dict):
        raise InvalidInput(f"{where}: expected a table of {', '.join(SERVICE_FIELDS)}")
    unknown = set(entry) - set(SERVICE_FIELDS)
    if unknown:
        raise InvalidInput(
            f"{where}: unknown {', '.join(sorted(unknown))} (known: {', '.join(SERVICE_FIELDS)})"
        )
    values: dict = {}
    if "capacity" in entry:
        values["capacity"] = _capacity(entry["capacity"], f"{where} capacity")
    for name in RATES:
        if name in entry:
            rate = entry[name]
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise InvalidInput(f"{where}: {name} is a share between 0 and 1, not {rate!r}")
            values[name] = float(rate)
    for name in TIMES:
        if name in entry:
            values[name] = Durations.read(entry[name], f"{where} {name}")
    return replace(DEFAULT_BEHAVIOUR, **values)


def _capacity(value, what: str) -> int | tuple[float, ...] | None:
    if value is None or value == "unlimited":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise InvalidInput(f"{what}: {value} is negative")
        return value
    hours = hourly(value, what, whole=True)
    assert len(hours) == HOURS_IN_WEEK
    return hours


def _times(entries, where: str) -> dict[str, Durations]:
    if not isinstance(entries, dict):
        raise InvalidInput(f"{where}: maps names to durations")
    return {str(name): Durations.read(value, f"{where} {name}") for name, value in entries.items()}
