"""The pathway library: every definition with its versions as a designer's studio shows them.

Per version: its number, whether it is a ``draft`` or ``approved`` (``status``, the same as ``approval``), who
deployed it and when, who approved it, when and why, how many referrals run on it and how many ever started
on it, whether it is the version new referrals start on, and for a pathway with go-lives
(``go_live_rule.py``) where it is live now and since when (``live_at``; a pilot names its point of access)
and where it will go live and from when (``scheduled_go_lives``). Per definition: the number of the version
new referrals start on (``startable_version``: the latest approved one, or the latest when
``require_pathway_approval`` is off, as ``Definitions.startable`` picks it; once the pathway has go-lives,
the one live at every point of access without a pilot of its own; None when none can take referrals yet),
the referral counts summed, whether go-lives decide (``staged_go_live``) and every go-live, newest first
(``go_lives``).

A whole library is read in five queries whatever its size: the definitions, every version, the referrals per
version (one grouped query), the people behind the clients that deployed and approved them, and the go-lives;
and three more for blueprints (``variant_views.py``): a blueprint version's ``parameters`` and ``variants``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine import clock
from engine.pathways.go_live_rule import EVERYWHERE, go_live_views, live_by_version
from engine.pathways.variant_views import blueprint_views
from engine.store import api_clients as client_store
from engine.store import definitions as definition_store
from engine.store import go_lives as go_live_store
from engine.store.db import Connection

# An instance in one of these statuses runs no more (as engine/pathways/instances.py's FINISHED).
FINISHED = ("completed", "cancelled")


def library(conn: Connection, *, approval_required: bool, key: str | None = None) -> list[dict]:
    """Every definition (or only ``key``'s, when it exists) with its versions, by key."""
    if key is None:
        rows = [dict(row) for row in definition_store.list_definitions(conn)]
    else:
        found = definition_store.definition(conn, key)
        rows = [dict(found)] if found is not None else []
    go_lives = _go_live_points_by_key(conn, key)
    versions = version_views(
        conn, definition_store.versions_of(conn, key), approval_required, all_of=key, go_lives=go_lives
    )
    by_key: dict[str, list[dict]] = {}
    for version in versions:
        by_key.setdefault(version["definition_key"], []).append(version)
    now = clock.now()
    return [
        _entry(row, by_key.get(row["key"], []), go_live_views(go_lives.get(row["key"], []), now))
        for row in rows
    ]


def version_views(
    conn: Connection,
    rows: Iterable[Mapping],
    approval_required: bool,
    *,
    all_of: str | None = None,
    go_lives: Mapping[str, list] | None = None,
) -> list[dict]:
    """``rows`` (versions, each definition's complete) as the library shows them. ``all_of``: the key whose
    versions they are, None when they are every definition's (then the referrals of every version are
    counted without naming them). ``go_lives``: their go-live points by key, when already read."""
    rows = [dict(row) for row in rows]
    counts = definition_store.referral_counts(
        conn, [row["id"] for row in rows] if all_of is not None else None, FINISHED
    )
    actors = {row[column] for row in rows for column in ("deployed_by", "approved_by") if row[column]}
    people = client_store.people_of_clients(conn, filter(None, map(client_id_of, actors)))
    startable = _startable_numbers(rows, approval_required)
    # A blueprint's parameters and variants (variant_views.py); none for any other version.
    blueprints = blueprint_views(conn, [row["id"] for row in rows] if all_of is not None else None)
    go_lives = _go_live_points_by_key(conn, all_of) if go_lives is None else go_lives
    now = clock.now()
    live: dict[int, dict] = {}
    for points in go_lives.values():
        live.update(live_by_version(points, now))
    return [
        {
            **row,
            "status": row["approval"],
            "deployed_by_person": people.get(client_id_of(row["deployed_by"])),
            "approved_by_person": people.get(client_id_of(row["approved_by"] or "")),
            "referrals_running": counts.get(row["id"], (0, 0))[0],
            "referrals_total": counts.get(row["id"], (0, 0))[1],
            "starts_new_referrals": (
                bool(live.get(row["id"], {}).get("live_at"))
                if row["definition_key"] in go_lives
                else startable.get(row["definition_key"]) == row["number"]
            ),
            "live_at": live.get(row["id"], {}).get("live_at", []),
            "scheduled_go_lives": live.get(row["id"], {}).get("scheduled_go_lives", []),
            **blueprints.get(row["id"], {"parameters": [], "variants": []}),
        }
        for row in rows
    ]


def _go_live_points_by_key(conn: Connection, key: str | None) -> dict[str, list]:
    """The go-live points of ``key`` (of every pathway when None), by key: pathways without any are absent."""
    found: dict[str, list] = {}
    for point in go_live_store.points(conn, key):
        found.setdefault(point["definition_key"], []).append(point)
    return found


def client_id_of(actor: str) -> int | None:
    """The API client behind an actor (``client:<id>:<name>``), if it is one."""
    kind, _, rest = actor.partition(":")
    client_id = rest.partition(":")[0]
    return int(client_id) if kind == "client" and client_id.isdigit() else None


def _startable_numbers(rows: list[dict], approval_required: bool) -> dict[str, int]:
    """The number new referrals start on, per definition (absent when none can take referrals)."""
    found: dict[str, int] = {}
    for row in rows:
        if approval_required and row["approval"] != "approved":
            continue
        found[row["definition_key"]] = max(found.get(row["definition_key"], 0), row["number"])
    return found


def _entry(row: dict, versions: list[dict], go_lives: list[dict]) -> dict:
    if go_lives:  # the version live at every point of access without a pilot of its own
        everywhere = (v for v in versions if any(p["point_of_access"] is EVERYWHERE for p in v["live_at"]))
    else:
        everywhere = (v for v in versions if v["starts_new_referrals"])
    return {
        **row,
        "latest": max((v["number"] for v in versions), default=row.get("latest")),
        "startable_version": next((v["number"] for v in everywhere), None),
        "referrals_running": sum(v["referrals_running"] for v in versions),
        "referrals_total": sum(v["referrals_total"] for v in versions),
        "staged_go_live": bool(go_lives),
        "go_lives": go_lives,
        "versions": versions,
    }
