"""The audit trail: who read or changed which referral's data, when, from where, with what outcome.

Records are append-only and hash-chained: each record's hash covers its content and the previous record's
hash, and the newest hash is kept apart (``audit_head``). Changing, deleting or inserting any past record
breaks the chain from that point, which ``verify`` reports (``signpost audit verify``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine import clock
from engine.errors import NotFound
from engine.store import audit_log as audit_store
from engine.store import referrals as referral_store
from engine.store.db import Database

if TYPE_CHECKING:  # clients audit their own creation and revocation, so this module may not import them
    from engine.governance.clients import Client

GENESIS = "0" * 64
CHAINED_FIELDS = (
    "at",
    "actor",
    "organisation",
    "roles",
    "action",
    "resource",
    "resource_id",
    "referral_id",
    "outcome",
    "source",
)


@dataclass(frozen=True)
class Entry:
    action: str  # read | create | change | disclose (a notification sent)
    resource: str  # what was addressed, e.g. "GET /api/v1/referrals/<referral_id>", or "webhook <host>"
    resource_id: str | None
    referral_id: str | None
    # The HTTP status answered; for a notification sent, the receiver's HTTP status or SMTP reply code (250…),
    # 0 when nothing answered.
    outcome: int
    source: str | None  # where the request came from


def record_hash(previous_hash: str, record: dict) -> str:
    content = {field: record[field] for field in CHAINED_FIELDS}
    content["at"] = record["at"].isoformat()
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{previous_hash}|{canonical}".encode()).hexdigest()


def append(conn, entry: Entry, *, actor: str, organisation: str | None, roles: list[str]) -> None:
    """Add a record inside the caller's transaction (so it commits with what it records)."""
    head = audit_store.lock_audit_head(conn)
    previous = head["hash"] if head else GENESIS
    record = {
        "at": clock.now(),
        "actor": actor,
        "organisation": organisation,
        "roles": sorted(roles),
        "action": entry.action,
        "resource": _storable(entry.resource, "resource"),
        "resource_id": _storable(entry.resource_id, "resource_id"),
        "referral_id": _storable(entry.referral_id, "referral_id"),
        "outcome": entry.outcome,
        "source": _storable(entry.source, "source"),
    }
    digest = record_hash(previous, record)
    record_id = audit_store.insert_audit(conn, {**record, "previous_hash": previous, "hash": digest})
    audit_store.set_audit_head(conn, digest, record_id, create=head is None)


def _storable(value: object, column: str) -> str | None:
    """``value`` as text its column can hold, hashed as it will be read back. A request naming a hostile
    id (too long, or holding a NUL, which PostgreSQL refuses) is exactly the kind an audit trail must not
    lose."""
    if value is None:
        return None
    text = str(value).replace("\x00", "\\x00")
    longest = audit_store.longest_text(column)
    return text if len(text) <= longest else text[: longest - 1] + "…"


@dataclass(frozen=True)
class Verdict:
    intact: bool
    records: int
    problem: str | None = None


class Audit:
    def __init__(self, database: Database):
        self._database = database

    def record(self, entry: Entry, client: Client | None) -> None:
        with self._database.write() as conn:
            append(
                conn,
                entry,
                actor=client.actor if client else "anonymous",
                organisation=client.organisation if client else None,
                roles=sorted(client.roles) if client else [],
            )

    def trail(self, referral_id: str, limit: int = 1000, viewer: Client | None = None) -> list[dict]:
        """A referral's records. A ``viewer`` without the platform-auditor role reads only the trails of
        referrals its organisation audits (``audits_referral``); any other is not found."""
        with self._database.read() as conn:
            if viewer is not None and not audits_referral(conn, viewer, referral_id):
                raise NotFound(f"no referral with id {referral_id}")
            return [
                record_view(r) for r in audit_store.audit_records(conn, referral_id=referral_id, limit=limit)
            ]

    def verify(self) -> Verdict:
        """Recompute the chain from the first record; the first break is reported."""
        previous, count, last_id = GENESIS, 0, 0
        with self._database.read() as conn:
            while batch := audit_store.audit_records(conn, after_id=last_id, limit=5000):
                for row in batch:
                    if row["previous_hash"] != previous:
                        return Verdict(
                            False,
                            count,
                            f"record {row['id']} does not follow the record before it "
                            "(a record was deleted or inserted)",
                        )
                    if record_hash(previous, dict(row)) != row["hash"]:
                        return Verdict(False, count, f"record {row['id']} was changed after it was written")
                    previous, count, last_id = row["hash"], count + 1, row["id"]
            head = audit_store.audit_head_row(conn)
        if count and (head is None or head["hash"] != previous or head["last_id"] != last_id):
            return Verdict(
                False, count, "the newest records were removed (the chain ends before its recorded head)"
            )
        return Verdict(True, count)


def audits_referral(conn, auditor: Client, referral_id: str) -> bool:
    """Whether ``auditor`` may read a referral's trail and export it: a platform auditor every referral; an
    auditor those its organisation submitted, operates (runs the point of access of) or was routed a
    hand-off of (runs a receiving service)."""
    if "platform-auditor" in auditor.roles:
        return referral_store.referral_overview(conn, referral_id=referral_id) is not None
    return referral_store.concerns_organisation(conn, referral_id, auditor.organisation)


def record_view(row) -> dict:
    """An audit record as auditors read it (without the chain's hashes)."""
    return {
        "id": row["id"],
        "at": row["at"].isoformat(),
        "actor": row["actor"],
        "organisation": row["organisation"],
        "roles": row["roles"],
        "action": row["action"],
        "resource": row["resource"],
        "resource_id": row["resource_id"],
        "referral_id": row["referral_id"],
        "outcome": row["outcome"],
        "source": row["source"],
    }
