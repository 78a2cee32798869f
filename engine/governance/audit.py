"""The audit trail: who read or changed which referral's data, when, from where, with what outcome.

Records are append-only and chained with a key held outside the database (``audit_chain``: lanes, HMACs,
verification and signed heads). A record commits with what it records: ``append`` adds it inside the
caller's transaction, and a request's record is added to each write transaction the request commits
(``Audit.begin_request``), naming the referrals that transaction changed. A request that changes nothing
(a read, a refusal) is recorded by ``Audit.record`` before its answer leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from engine import clock
from engine.errors import AuditKeysUnavailable, NotFound
from engine.governance.audit_chain import Verdict, keyed_hash, read_kept_heads, signed_head
from engine.governance.audit_chain import verify as verify_chain
from engine.governance.audit_keys import AuditKeys
from engine.store import audit_log as audit_store
from engine.store import referrals as referral_store
from engine.store.db import Connection, Database, observe_transactions, stop_observing

if TYPE_CHECKING:  # clients audit their own creation and revocation, so this module may not import them
    from engine.governance.clients import Client

__all__ = ["Audit", "Entry", "RequestTrail", "Verdict", "append", "audits_referral", "record_view"]

VERIFY_BATCH = 5000


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
    # Every other referral concerned: those a list or search answered with, or a change touched.
    referral_ids: tuple[str, ...] = ()


def append(conn: Connection, entry: Entry, *, actor: str, organisation: str | None, roles: list[str]) -> int:
    """Add a record inside the caller's transaction (so it commits with what it records); its id."""
    keys = audit_store.attached_keys(conn)
    if not isinstance(keys, AuditKeys):
        raise AuditKeysUnavailable(
            "this database's audit trail has no key to sign with (build it with Audit)"
        )
    head = audit_store.take_lane(conn)
    referral_id = _storable(entry.referral_id, "referral_id")
    concerned = {_storable(r, "referral_id") for r in (referral_id, *entry.referral_ids)} - {None}
    if referral_id is None and len(concerned) == 1:
        referral_id = next(iter(concerned))
    listed = sorted(concerned - {referral_id})
    record = {
        "at": clock.now(),
        "actor": actor,
        "organisation": organisation,
        "roles": sorted(roles),
        "action": entry.action,
        "resource": _storable(entry.resource, "resource"),
        "resource_id": _storable(entry.resource_id, "resource_id"),
        "referral_id": referral_id,
        "outcome": entry.outcome,
        "source": _storable(entry.source, "source"),
        "lane": head["id"],
        "key_id": keys.signing.id,
    }
    digest = keyed_hash(keys.signing, head["hash"], record, listed)
    return audit_store.append_record(
        conn, head, {**record, "previous_hash": head["hash"], "hash": digest}, listed
    )


def _storable(value: object, column: str) -> str | None:
    """``value`` as text its column can hold, hashed as it will be read back. A request naming a hostile
    id (too long, or holding a NUL, which PostgreSQL refuses) is exactly the kind an audit trail must not
    lose."""
    if value is None:
        return None
    text = str(value).replace("\x00", "\\x00")
    longest = audit_store.longest_text(column)
    return text if len(text) <= longest else text[: longest - 1] + "…"


class RequestTrail:
    """The record of one request while it is served. Each write transaction the request commits carries
    the record (as ``describe`` gives it, or nothing when it gives None: before the caller is known, say),
    naming the referrals that transaction changed; ``recorded`` lists what was committed. ``close`` ends
    the watch, after which the request's own ``Audit.record`` writes what is left to say."""

    def __init__(self, describe: Callable[[], tuple[Entry, Client] | None]):
        self._describe = describe
        self._pending: Entry | None = None
        self.recorded: list[Entry] = []
        self._token = observe_transactions(self)

    def before_commit(self, conn: Connection) -> None:
        described = self._describe() if self._token is not None else None
        if described is None:
            return
        entry, client = described
        changed = audit_store.referrals_changed(conn)
        entry = replace(entry, referral_ids=tuple(sorted(set(entry.referral_ids) | changed)))
        append(conn, entry, actor=client.actor, organisation=client.organisation, roles=sorted(client.roles))
        self._pending = entry

    def committed(self) -> None:
        if self._pending is not None:
            self.recorded.append(self._pending)
            self._pending = None

    def rolled_back(self) -> None:
        self._pending = None

    def close(self) -> None:
        if self._token is not None:
            stop_observing(self._token)
            self._token = None


class Audit:
    def __init__(self, database: Database, keys: AuditKeys):
        self._database = database
        self._keys = keys
        audit_store.attach_keys(database, keys)

    def record(self, entry: Entry, client: Client | None) -> None:
        """Write ``entry`` in a transaction of its own (for a request that changed nothing)."""
        with self._database.write() as conn:
            append(
                conn,
                entry,
                actor=client.actor if client else "anonymous",
                organisation=client.organisation if client else None,
                roles=sorted(client.roles) if client else [],
            )

    def begin_request(self, describe: Callable[[], tuple[Entry, Client] | None]) -> RequestTrail:
        """Watch this context's write transactions until ``close``: each one committed carries the request's
        record (see ``RequestTrail``)."""
        return RequestTrail(describe)

    def trail(self, referral_id: str, limit: int = 1000, viewer: Client | None = None) -> list[dict]:
        """A referral's records, those of the lists and searches that answered with it included. A
        ``viewer`` without the platform-auditor role reads only the trails of referrals its organisation
        audits (``audits_referral``); any other is not found."""
        with self._database.read() as conn:
            if viewer is not None and not audits_referral(conn, viewer, referral_id):
                raise NotFound(f"no referral with id {referral_id}")
            return [
                record_view(r, referral_id)
                for r in audit_store.audit_records(conn, referral_id=referral_id, limit=limit)
            ]

    def head(self) -> str:
        """Each lane's newest record, signed: a line to keep outside the database for ``verify``."""
        with self._database.read() as conn:
            heads = {
                lane: (row["last_id"], row["hash"]) for lane, row in audit_store.lane_heads(conn).items()
            }
        return signed_head(self._keys, heads, clock.now())

    def verify(self, kept_heads: str | None = None) -> Verdict:
        """Recompute every lane's chain from its first record with the configured keys; the first break is
        reported. ``kept_heads`` (lines ``head`` wrote) must each still be in the chain."""
        kept = read_kept_heads(kept_heads or "", self._keys)
        if isinstance(kept, str):
            return Verdict(False, 0, kept)
        # One snapshot: records and heads as they stood together, while other processes go on appending.
        with self._database.snapshot() as conn:
            return verify_chain(
                self._keys,
                lambda after_id: audit_store.audit_records(conn, after_id=after_id, limit=VERIFY_BATCH),
                lambda first, last: audit_store.listed_referrals(conn, first, last),
                lambda: {
                    lane: (row["last_id"], row["hash"]) for lane, row in audit_store.lane_heads(conn).items()
                },
                kept,
            )


def audits_referral(conn, auditor: Client, referral_id: str) -> bool:
    """Whether ``auditor`` may read a referral's trail and export it: a platform auditor every referral; an
    auditor those its organisation submitted, operates (runs the point of access of) or was routed a
    hand-off of (runs a receiving service)."""
    if "platform-auditor" in auditor.roles:
        return referral_store.referral_overview(conn, referral_id=referral_id) is not None
    return referral_store.concerns_organisation(conn, referral_id, auditor.organisation)


def record_view(row, referral_id: str | None = None) -> dict:
    """An audit record as auditors read it (without the chain's hashes). On a referral's trail
    (``referral_id``) a record of a list that answered with that referral names it, not the list's others."""
    return {
        "id": row["id"],
        "at": row["at"].isoformat(),
        "actor": row["actor"],
        "organisation": row["organisation"],
        "roles": row["roles"],
        "action": row["action"],
        "resource": row["resource"],
        "resource_id": row["resource_id"],
        "referral_id": referral_id if referral_id is not None else row["referral_id"],
        "outcome": row["outcome"],
        "source": row["source"],
    }
