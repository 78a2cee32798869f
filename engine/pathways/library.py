"""The pathway library: every definition with its versions as a designer's studio shows them.

Per version: its number, whether it is a ``draft`` or ``approved`` (``status``, the same as ``approval``), who
deployed it and when, who approved it, when and why, how many referrals run on it and how many ever started
on it, and whether it is the version new referrals start on. Per definition: that version's number
(``startable_version``: the latest approved one, or the latest when ``require_pathway_approval`` is off, as
``Definitions.startable`` picks it; None when none can take referrals yet) and the referral counts summed.

A whole library is read in four queries whatever its size: the definitions, every version, the referrals per
version (one grouped query) and the people behind the clients that deployed and approved them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine.store import api_clients as client_store
from engine.store import definitions as definition_store
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
    versions = version_views(conn, definition_store.versions_of(conn, key), approval_required, all_of=key)
    by_key: dict[str, list[dict]] = {}
    for version in versions:
        by_key.setdefault(version["definition_key"], []).append(version)
    return [_entry(row, by_key.get(row["key"], [])) for row in rows]


def version_views(
    conn: Connection, rows: Iterable[Mapping], approval_required: bool, *, all_of: str | None = None
) -> list[dict]:
    """``rows`` (versions, each definition's complete) as the library shows them. ``all_of``: the key whose
    versions they are, None when they are every definition's (then the referrals of every version are
    counted without naming them)."""
    rows = [dict(row) for row in rows]
    counts = definition_store.referral_counts(
        conn, [row["id"] for row in rows] if all_of is not None else None, FINISHED
    )
    actors = {row[column] for row in rows for column in ("deployed_by", "approved_by") if row[column]}
    people = client_store.people_of_clients(conn, filter(None, map(client_id_of, actors)))
    startable = _startable_numbers(rows, approval_required)
    return [
        {
            **row,
            "status": row["approval"],
            "deployed_by_person": people.get(client_id_of(row["deployed_by"])),
            "approved_by_person": people.get(client_id_of(row["approved_by"] or "")),
            "referrals_running": counts.get(row["id"], (0, 0))[0],
            "referrals_total": counts.get(row["id"], (0, 0))[1],
            "starts_new_referrals": startable.get(row["definition_key"]) == row["number"],
        }
        for row in rows
    ]


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


def _entry(row: dict, versions: list[dict]) -> dict:
    startable = next((v["number"] for v in versions if v["starts_new_referrals"]), None)
    return {
        **row,
        "latest": max((v["number"] for v in versions), default=row.get("latest")),
        "startable_version": startable,
        "referrals_running": sum(v["referrals_running"] for v in versions),
        "referrals_total": sum(v["referrals_total"] for v in versions),
        "versions": versions,
    }
