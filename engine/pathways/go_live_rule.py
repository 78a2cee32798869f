"""Which version of a pathway is live at a point of access: the rule of staged go-live, without I/O.

A pathway that has never gone live anywhere keeps the rule of approval: new referrals start on its latest
approved version (the latest, when approval is not required). From its first go-live on, its go-lives decide:

- A go-live makes one version live from a time (``live_from``) at some points of access (a pilot), or at every
  point of access (``point_of_access`` None). It is in force from that time until it is rolled back.
- At a point of access, new referrals start on the version of the go-live in force there that took effect
  last (its time, then the order the go-lives were recorded in); a go-live at every point of access covers
  the points of access with a pilot of their own too, when it took effect after their pilot. A referral
  that names no point of access (none handles its pathway) starts on the version live everywhere.
- Rolling back a go-live (at some or all of its points of access) takes it out: each point of access returns
  to what the remaining go-lives say, which is what was live there before.
- The first go-live of a pathway also records what was live before it, everywhere (kind ``baseline``),
  so that the points of access it does not name keep that version and a rollback has something to return to.

Running referrals are not affected: an instance keeps the version it started on.

Each function takes the points of one pathway's go-lives as ``engine.store.go_lives.points`` reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

EVERYWHERE = None

LIVE, SCHEDULED, SUPERSEDED, ROLLED_BACK = "live", "scheduled", "superseded", "rolled-back"
# A go-live's own state is the first of its points' states in this order.
STATE_ORDER = (LIVE, SCHEDULED, SUPERSEDED, ROLLED_BACK)


def _taking_effect(point: Mapping) -> tuple:
    return point["live_from"], point["go_live_id"]


def deciding(points: Iterable[Mapping], now: datetime) -> dict[str | None, Mapping]:
    """The point deciding each point of access's version at ``now``, by point of access id (None: every point
    of access without a pilot in force that took effect after the go-live everywhere)."""
    decided: dict[str | None, Mapping] = {}
    in_force = (p for p in points if p["rolled_back_at"] is None and p["live_from"] <= now)
    for point in sorted(in_force, key=_taking_effect):
        decided[point["point_of_access"]] = point
    everywhere = decided.get(EVERYWHERE)
    if everywhere is None:
        return decided
    return {
        place: point
        for place, point in decided.items()
        if place is EVERYWHERE or _taking_effect(point) > _taking_effect(everywhere)
    }


def live_at(points: Iterable[Mapping], point_of_access: str | None, now: datetime) -> Mapping | None:
    """The point whose version new referrals at ``point_of_access`` start on at ``now``; None when no version
    is live there."""
    decided = deciding(points, now)
    return decided.get(point_of_access) or decided.get(EVERYWHERE)


def state(point: Mapping, decided: Mapping[str | None, Mapping], now: datetime) -> str:
    """``live`` (it decides its point of access's version now), ``scheduled`` (it takes effect later),
    ``superseded`` (a later go-live decides there) or ``rolled-back``."""
    if point["rolled_back_at"] is not None:
        return ROLLED_BACK
    if point["live_from"] > now:
        return SCHEDULED
    deciding_there = decided.get(point["point_of_access"])
    return LIVE if deciding_there is not None and deciding_there["id"] == point["id"] else SUPERSEDED


def go_live_views(points: Iterable[Mapping], now: datetime) -> list[dict]:
    """Each go-live with its points of access and their states at ``now``, newest recorded first."""
    points = list(points)
    decided = deciding(points, now)
    views: dict[int, dict] = {}
    for point in points:
        view = views.setdefault(point["go_live_id"], _go_live_view(point))
        view["points"].append({**_place(point), **_rollback_of(point), "state": state(point, decided, now)})
    for view in views.values():
        states = {p["state"] for p in view["points"]}
        view["state"] = next(s for s in STATE_ORDER if s in states)
        view["pilot"] = all(p["point_of_access"] is not EVERYWHERE for p in view["points"])
    return sorted(views.values(), key=lambda view: view["id"], reverse=True)


def live_by_version(points: Iterable[Mapping], now: datetime) -> dict[int, dict]:
    """Per version id: ``live_at``, where it is live now and since when (a pilot names its point of access;
    None stands for every other point of access), and ``scheduled_go_lives``, where and from when it will
    be."""
    points = list(points)
    found: dict[int, dict] = {}

    def entry(version_id: int) -> dict:
        return found.setdefault(version_id, {"live_at": [], "scheduled_go_lives": []})

    for point in deciding(points, now).values():
        entry(point["version_id"])["live_at"].append(
            {**_place(point), "since": point["live_from"], "go_live_id": point["go_live_id"]}
        )
    for point in points:
        if point["rolled_back_at"] is None and point["live_from"] > now:
            entry(point["version_id"])["scheduled_go_lives"].append(
                {**_place(point), "from": point["live_from"], "go_live_id": point["go_live_id"]}
            )
    for views in found.values():
        views["live_at"].sort(
            key=lambda v: (v["point_of_access"] is not EVERYWHERE, v["point_of_access"] or "")
        )
    return found


def _place(point: Mapping) -> dict:
    return {
        "point_of_access": point["point_of_access"],
        "point_of_access_name": point["point_of_access_name"],
        "pilot": point["point_of_access"] is not EVERYWHERE,
    }


def _rollback_of(point: Mapping) -> dict:
    return {k: point[k] for k in ("rolled_back_at", "rolled_back_by", "rollback_reason")}


def _go_live_view(point: Mapping) -> dict:
    return {
        "id": point["go_live_id"],
        "key": point["definition_key"],
        "version": point["number"],
        "kind": point["kind"],
        "from": point["live_from"],
        "recorded_at": point["recorded_at"],
        "recorded_by": point["recorded_by"],
        "organisation": point["organisation"],
        "reason": point["reason"],
        "points": [],
    }
