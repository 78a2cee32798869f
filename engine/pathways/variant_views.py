"""How the library shows a blueprint version: its declared parameters and its variants, each with the values
its referrals read, its approval and how many referrals started on it."""

from __future__ import annotations

from collections.abc import Mapping

from engine.store import variants as variant_store
from engine.store.db import Connection


def defaults(parameters: list[dict]) -> dict:
    """The values of the declared ``parameters`` that have a default."""
    return {p["name"]: p["default"] for p in parameters if p["has_default"]}


def blueprint_views(conn: Connection, version_ids: list[int] | None) -> dict[int, dict]:
    """Per version that is a blueprint: its ``parameters`` (as declared) and ``variants`` (each with its
    values over the defaults, approval and referral count), in three queries whatever the number of
    versions (of every version when ``version_ids`` is None)."""
    blueprints = {row["version_id"]: row for row in variant_store.own_blueprints_of(conn, version_ids)}
    if not blueprints:
        return {}
    counts = variant_store.referral_counts(conn, version_ids)
    views = {
        version_id: {"parameters": list(row["parameters"]), "variants": []}
        for version_id, row in blueprints.items()
    }
    for row in variant_store.variants_of(conn, version_ids):
        if row["version_id"] in views:
            defaults_of_version = defaults(blueprints[row["version_id"]]["parameters"])
            views[row["version_id"]]["variants"].append(
                variant_view(row, defaults_of_version, counts.get((row["version_id"], row["name"]), 0))
            )
    return views


def variant_view(row: Mapping, base: Mapping, referrals_total: int) -> dict:
    """A variant as the library shows it; ``base``: the blueprint's defaults, which its values override."""
    return {
        "name": row["name"],
        "description": row["description"],
        "points_of_access": list(row["points_of_access"]),
        "organisation": row["organisation"],
        "parameters": dict(row["parameters"]),
        "values": {**base, **row["parameters"]},
        "approval": row["approval"],
        "approved_by": row["approved_by"],
        "approved_at": row["approved_at"],
        "approval_reason": row["approval_reason"],
        "referrals_total": referrals_total,
    }
