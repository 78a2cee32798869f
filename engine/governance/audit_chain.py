"""How the audit trail's records are chained, and how the chain is checked.

Records are appended to one of several lanes (``engine.store.audit_log.LANES``); within a lane each record's
hash covers its content and the hash of the lane's record before it, and each lane's newest hash is kept
apart (``audit_head``). The hash is an HMAC-SHA256 under a key held outside the database
(``engine.governance.audit_keys``), named by the record: without the key, a record cannot be changed,
deleted or inserted and the chain computed again. Records written before the chain was keyed carry no key
and a plain SHA-256; they come first, in lane 1, and the first keyed record of lane 1 covers their last
hash.

``verify`` walks every lane and reports the first break. A signed head (``signed_head``), kept outside the
database, names each lane's newest record at the time: ``verify`` given it also finds records removed from
the end of a lane with its head moved back, which the chain alone cannot tell from records never written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from engine.governance.audit_keys import AuditKey, AuditKeys

GENESIS = "0" * 64
# What a record written before the chain was keyed covers, with plain SHA-256.
UNKEYED_FIELDS = (
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
CHAINED_FIELDS = (*UNKEYED_FIELDS, "lane", "key_id")
HEAD_KIND = "signpost audit head"


def _canonical(record, fields: tuple[str, ...], listed: list[str] | None) -> str:
    content = {name: record[name] for name in fields}
    content["at"] = record["at"].isoformat()
    if listed is not None:
        content["referral_ids"] = sorted(listed)
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)


def unkeyed_hash(previous_hash: str, record) -> str:
    return hashlib.sha256(f"{previous_hash}|{_canonical(record, UNKEYED_FIELDS, None)}".encode()).hexdigest()


def keyed_hash(key: AuditKey, previous_hash: str, record, listed: list[str]) -> str:
    """The HMAC of a record's content (with the other referrals it concerns) after ``previous_hash``."""
    message = f"{previous_hash}|{_canonical(record, CHAINED_FIELDS, listed)}".encode()
    return hmac.new(key.secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Verdict:
    intact: bool
    records: int
    problem: str | None = None
    # Records chained before the chain was keyed: checked with plain SHA-256 only.
    unkeyed: int = 0


def signed_head(keys: AuditKeys, heads: dict[int, tuple[int, str]], at: datetime) -> str:
    """One line naming each lane's newest record (id and hash), signed with the signing key."""
    key = keys.signing
    body = {
        "kind": HEAD_KIND,
        "at": at.isoformat(),
        "key_id": key.id,
        "lanes": [[lane, last_id, digest] for lane, (last_id, digest) in sorted(heads.items()) if last_id],
    }
    return json.dumps({**body, "mac": _head_mac(key, body)}, sort_keys=True, separators=(",", ":"))


def _head_mac(key: AuditKey, body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hmac.new(key.secret, canonical.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class KeptHead:
    line: int
    at: str
    lanes: tuple[tuple[int, int, str], ...]


def read_kept_heads(text: str, keys: AuditKeys) -> list[KeptHead] | str:
    """The heads in ``text`` (one per line, as ``signed_head`` wrote them), or what is wrong with one."""
    kept = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            signed = json.loads(line)
            body = {name: signed[name] for name in ("kind", "at", "key_id", "lanes")}
            mac = signed["mac"]
            lanes = tuple((int(lane), int(last_id), str(digest)) for lane, last_id, digest in body["lanes"])
        except (ValueError, KeyError, TypeError):
            return f"line {number} of the kept heads is not a head `signpost audit head` wrote"
        key = keys.get(str(body["key_id"]))
        if body["kind"] != HEAD_KIND or key is None:
            return f"line {number} of the kept heads is signed with a key that is not configured"
        if not hmac.compare_digest(_head_mac(key, body), str(mac)):
            return f"line {number} of the kept heads was altered (its signature does not match)"
        kept.append(KeptHead(number, str(body["at"]), lanes))
    return kept


@dataclass
class _Lane:
    previous: str = GENESIS
    last_id: int = 0


@dataclass
class ChainWalk:
    """Checks records fed in id order (``check``), then the lanes' heads and any kept heads (``finish``)."""

    keys: AuditKeys
    kept: list[KeptHead] = field(default_factory=list)
    records: int = 0
    unkeyed: int = 0
    keyed_since: int | None = None
    _lanes: dict[int, _Lane] = field(default_factory=dict)
    _kept_found: dict[int, tuple[int, str]] = field(default_factory=dict)

    def __post_init__(self):
        self._kept_ids = {last_id for head in self.kept for _lane, last_id, _hash in head.lanes}

    def check(self, row, listed: list[str]) -> str | None:
        """What is wrong with ``row``, or None."""
        lane = self._lanes.setdefault(row["lane"], _Lane())
        if row["previous_hash"] != lane.previous:
            return (
                f"record {row['id']} does not follow the record before it (a record was deleted or inserted)"
            )
        expected, problem = self._expected_hash(row, lane.previous, listed)
        if problem is not None:
            return problem
        if not hmac.compare_digest(expected, row["hash"]):
            return (
                f"record {row['id']} was changed after it was written (its hash does not match its content)"
            )
        if row["id"] in self._kept_ids:
            self._kept_found[row["id"]] = (row["lane"], row["hash"])
        lane.previous, lane.last_id = row["hash"], row["id"]
        self.records += 1
        return None

    def _expected_hash(self, row, previous: str, listed: list[str]) -> tuple[str, str | None]:
        """The hash ``row`` must have, or why it cannot have a right one."""
        if row["key_id"] is None:
            if self.keyed_since is not None:
                return "", (
                    f"record {row['id']} is not keyed, but the chain is keyed since record "
                    f"{self.keyed_since} (it was written or rewritten without the key)"
                )
            if row["lane"] != 1 or listed:
                return "", (
                    f"record {row['id']} is not keyed, and only records of lane 1 written before the chain "
                    "was keyed may be"
                )
            self.unkeyed += 1
            return unkeyed_hash(previous, row), None
        key = self.keys.get(row["key_id"])
        if key is None:
            return "", (
                f"record {row['id']} is signed with the key '{row['key_id']}', which is not among the keys "
                f"configured ({', '.join(self.keys.ids)}): add it to verify the records it signed"
            )
        if self.keyed_since is None:
            self.keyed_since = row["id"]
        return keyed_hash(key, previous, row, listed), None

    def finish(self, heads: dict[int, tuple[int, str]]) -> str | None:
        """What is wrong with the end of the chain, given each lane's recorded head (last id, hash)."""
        for lane_id in sorted(set(self._lanes) | set(heads)):
            lane = self._lanes.get(lane_id, _Lane())
            if heads.get(lane_id, (0, GENESIS)) != (lane.last_id, lane.previous):
                return (
                    f"the newest records were removed (lane {lane_id} ends at record {lane.last_id}, before "
                    "its recorded head)"
                )
        for head in self.kept:
            for lane_id, last_id, digest in head.lanes:
                if self._kept_found.get(last_id) != (lane_id, digest):
                    return (
                        f"record {last_id} of lane {lane_id}, the newest when the head on line {head.line} "
                        f"was kept ({head.at}), is no longer in the chain: records were removed or rewritten"
                    )
        return None


def verify(
    keys: AuditKeys,
    batches: Callable[[int], list],
    listed: Callable[[int, int], dict[int, list[str]]],
    heads: Callable[[], dict[int, tuple[int, str]]],
    kept: list[KeptHead],
) -> Verdict:
    """Walk the records ``batches(after_id)`` gives (in id order) with the other referrals ``listed`` gives
    for an id range, then compare the lanes' ends with their ``heads`` and with ``kept`` heads."""
    walk = ChainWalk(keys, kept)
    last_id = 0
    while batch := batches(last_id):
        others = listed(batch[0]["id"], batch[-1]["id"])
        for row in batch:
            problem = walk.check(row, others.get(row["id"], []))
            if problem is not None:
                return Verdict(False, walk.records, problem, walk.unkeyed)
            last_id = row["id"]
    problem = walk.finish(heads())
    return Verdict(problem is None, walk.records, problem, walk.unkeyed)
