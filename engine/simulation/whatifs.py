"""What-if changes to a simulation: more (or less) demand, a service closed on a day, a different OLA target,
more (or fewer) people at a service. Each is written as on the command line:

    demand-scale 1.2                       every arrival rate x 1.2
    close community-nursing-city@2026-01-07   nobody works there that (London) day; its OLA clocks still run
    target accept-or-reject=PT2H           every obligation of that name; or "<OLA name>:<obligation>=PT2H"
    capacity community-nursing-city=3      3 at once in every hour it is staffed; "=+1" one more than given
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from engine.errors import InvalidInput
from engine.simulation.hours import seconds_of

_CAPACITY = re.compile(r"^(?P<service>[^=]+)=(?P<sign>\+?)(?P<amount>\d+)$")


@dataclass(frozen=True)
class TargetChange:
    ola: str | None
    obligation: str
    seconds: int
    text: str


@dataclass(frozen=True)
class WhatIf:
    name: str = "as is"
    demand_scale: float = 1.0
    closures: tuple[tuple[str, date], ...] = ()
    targets: tuple[TargetChange, ...] = ()
    capacity: tuple[tuple[str, bool, int], ...] = ()  # (service, added to what is given, amount)

    @property
    def changes_anything(self) -> bool:
        return self.demand_scale != 1.0 or bool(self.closures or self.targets or self.capacity)

    def describe(self) -> list[str]:
        said = []
        if self.demand_scale != 1.0:
            said.append(f"demand x {self.demand_scale:g}")
        said += [f"{service} closed on {day.isoformat()}" for service, day in self.closures]
        said += [f"target of {t.ola + ': ' if t.ola else ''}{t.obligation} {t.text}" for t in self.targets]
        said += [f"{s} capacity {'+' if added else ''}{amount}" for s, added, amount in self.capacity]
        return said

    def capacity_of(self, service_id: str, given):
        """The service's capacity with this what-if's change (``given`` as ServiceBehaviour holds it)."""
        for service, added, amount in self.capacity:
            if service != service_id:
                continue
            if not added:
                return amount if not isinstance(given, tuple) else tuple(amount if c else 0 for c in given)
            if given is None:
                return None
            if isinstance(given, tuple):
                return tuple(c + amount if c else 0 for c in given)
            return given + amount
        return given

    def closed_days(self, service_id: str) -> set[date]:
        return {day for service, day in self.closures if service == service_id}

    def check(self, services: set[str], olas: list[tuple[str, dict]]) -> None:
        """Refuse a change that names a service or an obligation the directory and terms do not have."""
        for service in [s for s, _ in self.closures] + [s for s, _, _ in self.capacity]:
            if service not in services:
                raise InvalidInput(
                    f"what-if names service {service!r}, which the service directory does not have"
                )
        for change in self.targets:
            if not any(_matches(change, name, terms) for name, terms in olas):
                known = sorted({o["name"] for _, terms in olas for o in terms["obligations"]})
                raise InvalidInput(
                    f"what-if target {change.obligation!r}"
                    + (f" of OLA {change.ola!r}" if change.ola else "")
                    + f" matches no obligation of the OLA terms (obligations: {', '.join(known)})"
                )

    def apply_to_terms(self, olas: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
        changed = []
        for name, terms in olas:
            obligations = []
            for obligation in terms["obligations"]:
                for change in self.targets:
                    if _matches_obligation(change, name, obligation):
                        obligation = {**obligation, "target_seconds": change.seconds}
                obligations.append(obligation)
            changed.append((name, {**terms, "obligations": obligations}))
        return changed


AS_IS = WhatIf()


def _matches(change: TargetChange, ola_name: str, terms: dict) -> bool:
    return any(_matches_obligation(change, ola_name, o) for o in terms["obligations"])


def _matches_obligation(change: TargetChange, ola_name: str, obligation: dict) -> bool:
    return obligation["name"] == change.obligation and change.ola in (None, ola_name)


def read_what_if(
    name: str,
    *,
    demand_scale: float = 1.0,
    close: list[str] = (),
    target: list[str] = (),
    capacity: list[str] = (),
) -> WhatIf:
    """A what-if from the command line's (or the API's) words; InvalidInput says which is malformed."""
    if isinstance(demand_scale, bool) or not isinstance(demand_scale, int | float) or not demand_scale > 0:
        raise InvalidInput(f"demand-scale must be a positive number, not {demand_scale!r}")
    return WhatIf(
        name=name,
        demand_scale=float(demand_scale),
        closures=tuple(_closure(text) for text in close),
        targets=tuple(_target(text) for text in target),
        capacity=tuple(_capacity(text) for text in capacity),
    )


def _closure(text: str) -> tuple[str, date]:
    service, at, day = str(text).rpartition("@")
    if not at or not service:
        raise InvalidInput(f"close {text!r}: write service@YYYY-MM-DD")
    try:
        return service, date.fromisoformat(day)
    except ValueError:
        raise InvalidInput(f"close {text!r}: {day!r} is not a date (YYYY-MM-DD)") from None


def _target(text: str) -> TargetChange:
    named, equals, duration = str(text).rpartition("=")
    if not equals or not named.strip():
        raise InvalidInput(f"target {text!r}: write obligation=PT2H or 'OLA name:obligation=PT2H'")
    ola, colon, obligation = named.rpartition(":")
    seconds = int(seconds_of(duration.strip(), f"target {text!r}"))
    return TargetChange(ola.strip() if colon else None, obligation.strip(), seconds, duration.strip())


def _capacity(text: str) -> tuple[str, bool, int]:
    match = _CAPACITY.match(str(text).replace(" ", ""))
    if not match:
        raise InvalidInput(f"capacity {text!r}: write service=3 (at once) or service=+1 (more than given)")
    return match["service"], bool(match["sign"]), int(match["amount"])
