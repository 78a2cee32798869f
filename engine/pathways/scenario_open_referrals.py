"""A scenario's ``start.open_referrals``: referrals of the same person already open when its referral starts.

A pathway that weighs a person's other referrals (processes/repeat_contact.bpmn matches a contact to the open
referral it is about) needs them in its scenarios. Each is started, on its pathway's latest version among
the deployed files, by the scenario's referrer for the scenario's subject, ``ago`` before the scenario's own
start; then the clock moves on to that start. Nothing runs them after that: their timers and OLA clocks
wait, and no step reaches them (a step acts on the scenario's own referral).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from engine.pathways.scenario_reader import Node, Reader

OPEN_REFERRAL_KEYS = ("pathway", "ago", "point_of_access", "data")


@dataclass(frozen=True)
class OpenReferral:
    line: int
    pathway: str
    ago: timedelta = timedelta(0)
    point_of_access: str | None = None
    data: dict = field(default_factory=dict)


def read_open_referrals(
    reader: Reader, node: Node | None, real_duration: Callable[[Reader, Node], timedelta | None]
) -> tuple[OpenReferral, ...]:
    """The list under ``open_referrals``; ``real_duration`` reads ``ago`` (an ISO 8601 duration of real time,
    as a ``wait`` step's), reporting its own problems."""
    found = []
    for item in reader.sequence(node, "open_referrals"):
        keys = reader.mapping(item, "an open referral", OPEN_REFERRAL_KEYS, required=("pathway",))
        if keys is None:
            continue
        ago = real_duration(reader, keys["ago"]) if "ago" in keys else timedelta(0)
        found.append(
            OpenReferral(
                line=Reader.line(item),
                pathway=reader.text(keys.get("pathway"), "pathway", required=True) or "",
                ago=ago or timedelta(0),
                point_of_access=reader.text(keys.get("point_of_access"), "point_of_access"),
                data=reader.data(keys.get("data"), "open referral data", identifiers=True),
            )
        )
    return tuple(found)
