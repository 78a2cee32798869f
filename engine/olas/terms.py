"""OLA terms: which obligations apply to a hand-off, read from ``sops/olas.toml`` and checked on load."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

from engine.errors import InvalidInput
from engine.olas.calendars import CALENDARS, parse_duration

# The hand-off events an obligation's clock can start, pause, resume or stop on.
EVENTS = (
    "requested",
    "acknowledged",
    "accepted",
    "rejected",
    "information_requested",
    "information_supplied",
    "scheduled",
    "started",
    "completed",
    "transferred",
    "cancelled",
)
PARTIES = ("receiver", "sender")
DEFAULT_WARNINGS = (0.5, 0.75)
OLA_FIELDS = {"name", "to_services", "from_service", "referral_type", "obligation"}
OBLIGATION_FIELDS = {"name", "party", "target", "calendar", "start", "stop", "pause", "resume", "warn_at"}


@dataclass(frozen=True)
class Obligation:
    name: str
    party: str
    target_seconds: int
    calendar: str | None
    start: tuple[str, ...]
    stop: tuple[str, ...]
    pause: tuple[str, ...]
    resume: tuple[str, ...]
    warn_at: tuple[float, ...]


@dataclass(frozen=True)
class Ola:
    name: str
    to_services: tuple[str, ...]
    from_service: str | None
    referral_type: str | None
    obligations: tuple[Obligation, ...]

    def applies_to(self, handoff) -> bool:
        return (
            handoff["to_service"] in self.to_services
            and self.from_service in (None, handoff["from_service"])
            and self.referral_type in (None, handoff["referral_type"])
        )

    def could_overlap(self, other: Ola) -> bool:
        return (
            bool(set(self.to_services) & set(other.to_services))
            and (
                self.from_service is None
                or other.from_service is None
                or self.from_service == other.from_service
            )
            and (
                self.referral_type is None
                or other.referral_type is None
                or self.referral_type == other.referral_type
            )
        )


def parse_olas(text: str, filename: str, known_services: set[str]) -> list[Ola]:
    """Every OLA in a terms file; InvalidInput names the file, the OLA and the obligation at fault."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput(f"{filename}: not valid TOML: {error}") from None
    unknown = set(document) - {"ola"}
    if unknown:
        raise InvalidInput(f"{filename}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    olas = [
        ola_from(entry, f"{filename} OLA {n}", known_services)
        for n, entry in enumerate(document.get("ola", []), 1)
    ]
    names = [o.name for o in olas]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInput(f"{filename}: OLA name(s) used twice: {', '.join(repeated)}")
    for index, ola in enumerate(olas):
        for other in olas[index + 1 :]:
            if ola.could_overlap(other):
                shared = ", ".join(sorted(set(ola.to_services) & set(other.to_services)))
                raise InvalidInput(
                    f"{filename}: OLAs '{ola.name}' and '{other.name}' overlap (both could apply to one "
                    f"hand-off to {shared}); narrow one with from_service or referral_type"
                )
    return olas


def ola_from(entry, where: str, known_services: set[str]) -> Ola:
    if not isinstance(entry, dict):
        raise InvalidInput(f"{where}: an OLA must be a table")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{where}: needs a name")
    where = f"{where.rsplit(' OLA ', 1)[0]} OLA '{name}'"
    _no_unknown(entry, OLA_FIELDS, where)
    to_services = entry.get("to_services")
    if (
        not isinstance(to_services, list)
        or not to_services
        or not all(isinstance(s, str) for s in to_services)
    ):
        raise InvalidInput(f"{where}: to_services must be a non-empty list of service ids")
    from_service = entry.get("from_service")
    for service in [*to_services, *([from_service] if from_service else [])]:
        if service not in known_services:
            raise InvalidInput(f"{where}: unknown service '{service}' (load the service directory first)")
    obligations = entry.get("obligation")
    if not isinstance(obligations, list) or not obligations:
        raise InvalidInput(f"{where}: needs at least one [[ola.obligation]]")
    parsed = tuple(_obligation(o, where) for o in obligations)
    names = [o.name for o in parsed]
    if len(set(names)) != len(names):
        raise InvalidInput(f"{where}: obligation names must be unique within an OLA")
    return Ola(name.strip(), tuple(to_services), from_service, entry.get("referral_type"), parsed)


def _obligation(entry, where: str) -> Obligation:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise InvalidInput(f"{where}: every obligation needs a name")
    where = f"{where} obligation '{entry['name']}'"
    _no_unknown(entry, OBLIGATION_FIELDS, where)
    if entry.get("party") not in PARTIES:
        raise InvalidInput(f"{where}: party must be 'receiver' or 'sender', not {entry.get('party')!r}")
    if not isinstance(entry.get("target"), str):
        raise InvalidInput(f'{where}: target must be an ISO 8601 duration such as "PT4H"')
    try:
        target = parse_duration(entry["target"])
    except InvalidInput as error:
        raise InvalidInput(f"{where}: {error.message}") from None
    calendar = entry.get("calendar")
    if calendar is not None and calendar not in CALENDARS:
        raise InvalidInput(f"{where}: unknown calendar '{calendar}' (known: {', '.join(CALENDARS)})")
    events = {key: _events(entry.get(key, []), key, where) for key in ("start", "stop", "pause", "resume")}
    if not events["start"] or not events["stop"]:
        raise InvalidInput(f"{where}: needs the events that start and stop it")
    if bool(events["pause"]) != bool(events["resume"]):
        raise InvalidInput(f"{where}: a clock that pauses must also say what resumes it (and the reverse)")
    warn_at = entry.get("warn_at", list(DEFAULT_WARNINGS))
    if not isinstance(warn_at, list) or not all(isinstance(w, int | float) and 0 < w < 1 for w in warn_at):
        raise InvalidInput(f"{where}: warn_at must be a list of fractions between 0 and 1, e.g. [0.5, 0.75]")
    return Obligation(
        name=entry["name"],
        party=entry["party"],
        target_seconds=int(target.total_seconds()),
        calendar=calendar,
        warn_at=tuple(sorted(float(w) for w in warn_at)),
        **events,
    )


def _events(value, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{where}: {key} must be a list of hand-off events")
    never = [v for v in value if v not in EVENTS]
    if never:
        raise InvalidInput(
            f"{where}: {key} event(s) {', '.join(never)} never happen to a hand-off "
            f"(events: {', '.join(EVENTS)})"
        )
    return tuple(value)


def _no_unknown(entry: dict, allowed: set[str], where: str) -> None:
    unknown = set(entry) - allowed
    if unknown:
        raise InvalidInput(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")


def ola_as_dict(ola: Ola) -> dict:
    """The stored form (JSON) of an OLA, read back with ``ola_from_stored``."""
    return {
        "name": ola.name,
        "to_services": list(ola.to_services),
        "from_service": ola.from_service,
        "referral_type": ola.referral_type,
        "obligations": [
            o.__dict__ | {k: list(getattr(o, k)) for k in ("start", "stop", "pause", "resume", "warn_at")}
            for o in ola.obligations
        ],
    }


def ola_from_stored(stored: dict) -> Ola:
    return Ola(
        name=stored["name"],
        to_services=tuple(stored["to_services"]),
        from_service=stored["from_service"],
        referral_type=stored["referral_type"],
        obligations=tuple(
            Obligation(**{**o, **{k: tuple(o[k]) for k in ("start", "stop", "pause", "resume", "warn_at")}})
            for o in stored["obligations"]
        ),
    )
