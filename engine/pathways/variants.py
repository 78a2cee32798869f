"""Pathway variants: a blueprint's variants stored with its version, each clinically approved on its own, the
one a new referral runs, and how the library shows them.

A new referral on a blueprint runs the variant for its point of access: the variant that lists the point of
access, else the one for the point of access's organisation (the referrer's, when no point of access handles
it), else the blueprint's defaults (no variant) when every parameter has one; otherwise it is refused. When
approval is required the variant must be approved as well as the version. The instance then reads, as
``local``, the variant's values over the blueprint's defaults; a blueprint that the pathway calls (a call
activity) reads its own defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from engine import clock
from engine.bpmn import CompiledPathway, SourceFile, local_references
from engine.errors import Conflict, DefinitionInvalid, InvalidInput, NotAllowed, NotFound
from engine.governance import audit
from engine.governance.clients import Client, client_of
from engine.pathways.blueprints import (
    Blueprint,
    Directory,
    is_blueprint_file,
    process_of,
    read_blueprints,
    reference_problems,
)
from engine.pathways.variant_views import blueprint_views, defaults
from engine.store import api_clients as client_store
from engine.store import definitions as definition_store
from engine.store import services as service_store
from engine.store import variants as variant_store
from engine.store.db import Connection, Database

LONGEST_APPROVAL_REASON = 2000


@dataclass(frozen=True)
class ChosenVariant:
    """The variant a new referral runs (None: none, or the blueprint's defaults) and the values its instance
    reads as ``local``, by process id."""

    name: str | None = None
    local: Mapping[str, Mapping] = field(default_factory=dict)


def checked_blueprints(
    conn: Connection,
    files: Iterable[SourceFile],
    process_ids: Iterable[str],
    pathway: CompiledPathway,
    calendars: Iterable[str],
    file_of,
) -> dict[str, Blueprint]:
    """The blueprints of ``pathway``'s processes among ``files``, checked against the service directory and
    ``calendars``; DefinitionInvalid lists every problem (``blueprints.py``). ``file_of``: the diagram file
    of a process id."""
    directory = Directory({row["id"]: row for row in service_store.list_services(conn)}, frozenset(calendars))
    sources = [f for f in files if is_blueprint_file(f.filename)]
    blueprints, problems = read_blueprints(sources, process_ids, directory)
    with_file = {process_of(f.filename) for f in sources}
    references = {
        process_id: uses
        for process_id, uses in local_references([pathway.spec, *pathway.subprocess_specs.values()]).items()
        if process_id in blueprints or process_id not in with_file
    }
    problems += reference_problems(references, blueprints, file_of)
    if problems:
        raise DefinitionInvalid(problems)
    used = {pathway.process_id, *pathway.subprocess_specs}
    return {process_id: blueprint for process_id, blueprint in blueprints.items() if process_id in used}


def store_blueprints(
    conn: Connection, version_id: int, key: str, blueprints: Mapping[str, Blueprint]
) -> None:
    """Store a new version's blueprints, and the variants of its own process (``key``), as drafts."""
    variant_store.insert_blueprints(
        conn,
        version_id,
        [
            {
                "process_id": process_id,
                "filename": blueprint.filename,
                "parameters": [p.view() for p in blueprint.parameters.values()],
            }
            for process_id, blueprint in sorted(blueprints.items())
        ],
    )
    own = blueprints.get(key)
    if own is None:
        return
    variant_store.insert_variants(
        conn,
        version_id,
        [
            {
                "name": variant.name,
                "description": variant.description,
                "points_of_access": list(variant.points_of_access),
                "organisation": variant.organisation,
                "parameters": dict(variant.values),
            }
            for variant in own.variants.values()
        ],
    )


def choose_variant(
    conn: Connection,
    version: Mapping,
    point_of_access: Mapping | None,
    organisation: str,
    *,
    approval_required: bool,
) -> ChosenVariant:
    """The variant of ``version`` a new referral at ``point_of_access`` (a directory row, or None; then the
    referral's ``organisation`` decides) runs, with its values; Conflict when it cannot run any."""
    rows = variant_store.blueprints_of(conn, version["id"])
    if not rows:
        return ChosenVariant()
    local = {row["process_id"]: defaults(row["parameters"]) for row in rows}
    own = next((row for row in rows if row["process_id"] == version["process_id"]), None)
    if own is None:
        return ChosenVariant(None, local)
    variants = variant_store.variants_of(conn, [version["id"]])
    found = _matching(variants, point_of_access, organisation)
    where = f"version {version['number']} of '{version['definition_key']}'"
    if found is None:
        missing = sorted(p["name"] for p in own["parameters"] if not p["has_default"])
        if missing:
            at = f"point of access '{point_of_access['id']}'" if point_of_access else f"'{organisation}'"
            known = "; ".join(_applies_to(v) for v in variants) or "none"
            raise Conflict(
                f"{where} is a blueprint with no variant for {at}, and its parameters "
                f"{', '.join(missing)} have no default (its variants: {known})"
            )
        return ChosenVariant(None, local)
    if approval_required and found["approval"] != "approved":
        raise Conflict(
            f"variant '{found['name']}' of {where} is a draft awaiting clinical approval: referrals start on "
            "it once a clinical approver approves it"
        )
    local[version["process_id"]] = {**local[version["process_id"]], **found["parameters"]}
    return ChosenVariant(found["name"], local)


def _matching(variants: list, point_of_access: Mapping | None, organisation: str):
    if point_of_access is not None:
        found = next((v for v in variants if point_of_access["id"] in v["points_of_access"]), None)
        if found is not None:
            return found
        organisation = point_of_access["organisation"]
    return next((v for v in variants if v["organisation"] == organisation), None)


def _applies_to(variant) -> str:
    where = list(variant["points_of_access"]) + ([variant["organisation"]] if variant["organisation"] else [])
    return f"{variant['name']} ({', '.join(where)})"


class Variants:
    """Approving a blueprint's variants, each on its own."""

    def __init__(self, database: Database):
        self._database = database

    def approve(self, key: str, number: int, name: str, approver: Client, *, reason: str) -> dict:
        """Record the clinical approval of variant ``name`` of version ``number`` of ``key``, with its
        ``reason``, by the rules a version's approval follows: the clinical-approver role, and not the
        person who deployed the version."""
        reason = reason.strip() if isinstance(reason, str) else ""
        if not reason or len(reason) > LONGEST_APPROVAL_REASON:
            raise InvalidInput(
                "'reason' must say why the variant is approved, in 1 to "
                f"{LONGEST_APPROVAL_REASON:,} characters"
            )
        if "clinical-approver" not in approver.roles:
            raise NotAllowed("approving a pathway variant needs the clinical-approver role")
        with self._database.write() as conn:
            version = definition_store.version(conn, key, number)
            if version is None:
                raise NotFound(f"definition '{key}' has no version {number}")
            found = variant_store.variant(conn, version["id"], name)
            if found is None:
                known = ", ".join(v["name"] for v in variant_store.variants_of(conn, [version["id"]]))
                raise NotFound(
                    f"version {number} of '{key}' has no variant '{name}' (its variants: {known or 'none'})"
                )
            if _same_person(conn, version["deployed_by"], approver):
                raise NotAllowed(
                    "the person who deployed a version cannot also approve its variants: another person with "
                    f"the clinical-approver role must approve variant '{name}' of version {number} of '{key}'"
                )
            if not variant_store.approve_variant(conn, found["id"], approver.actor, clock.now(), reason):
                raise Conflict(
                    f"variant '{name}' of version {number} of '{key}' is already {found['approval']}"
                )
            audit.append(
                conn,
                audit.Entry(
                    "approve",
                    f"pathway {key} version {number} variant {name}",
                    str(found["id"]),
                    None,
                    200,
                    None,
                ),
                actor=approver.actor,
                organisation=approver.organisation,
                roles=sorted(approver.roles),
            )
            variants = blueprint_views(conn, [version["id"]])[version["id"]]["variants"]
            approved = next(v for v in variants if v["name"] == name)
            return {"key": key, "version": number, **approved}


def _same_person(conn: Connection, deployed_by: str, approver: Client) -> bool:
    """Whether the deploying actor is the approver, or a client ("client:<id>:<name>") of the same person."""
    if deployed_by == approver.actor:
        return True
    kind, _, rest = deployed_by.partition(":")
    client_id = rest.partition(":")[0]
    if approver.person is None or kind != "client" or not client_id.isdigit():
        return False
    row = client_store.client_row(conn, int(client_id))
    return row is not None and client_of(row).person == approver.person
