"""The keys that sign the audit trail, held outside the database (``SIGNPOST_AUDIT_KEYS``).

Each record's hash is an HMAC-SHA256 under a named key, so that someone who can write to the database but
does not hold the key cannot delete a record and chain the rest again: ``signpost audit verify``, run with
the keys, finds the break. The setting lists ``id:secret`` pairs; the first signs new records and every one
verifies, so a key is rotated by putting a new one first and keeping the old one for as long as its records
are to be verified (make one with ``signpost audit new-key``).

Without the setting, a database in a local SQLite file gets a key generated beside it
(``<database file>.audit-keys``, readable by its owner only), so development needs no set-up. Any other
database refuses to start: its processes may run on several machines, which would each sign with a key of
their own, and a key kept next to the data it protects protects little.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import AuditKeysUnavailable
from engine.key_files import read_or_create_key_file
from engine.store.db import Database

log = logging.getLogger(__name__)

SETTING = "SIGNPOST_AUDIT_KEYS"
KEY_FILE_SUFFIX = ".audit-keys"
HOW_TO_MAKE_A_KEY = "make one with `signpost audit new-key`"
KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,40}")
SHORTEST_SECRET = 32


@dataclass(frozen=True)
class AuditKey:
    id: str
    secret: bytes = field(repr=False)


class AuditKeys:
    """The configured keys: the first signs, any verifies the records that name it."""

    def __init__(self, keys: Sequence[AuditKey], *, origin: str = SETTING):
        if not keys:
            raise AuditKeysUnavailable(f"{origin} holds no key; {HOW_TO_MAKE_A_KEY}")
        self._by_id = {}
        for key in keys:
            if key.id in self._by_id:
                raise AuditKeysUnavailable(f"{origin} names the key '{key.id}' twice")
            self._by_id[key.id] = key
        self.signing = keys[0]
        self.origin = origin

    def __repr__(self) -> str:
        return f"AuditKeys({', '.join(self._by_id)} from {self.origin})"

    def get(self, key_id: str) -> AuditKey | None:
        return self._by_id.get(key_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)


def new_audit_key() -> str:
    """A new ``id:secret`` entry for ``SIGNPOST_AUDIT_KEYS`` (rename the id at will)."""
    return f"audit-{secrets.token_hex(4)}:{secrets.token_urlsafe(32)}"


def parse_audit_keys(entries: Sequence[str], *, origin: str = SETTING) -> AuditKeys:
    """``id:secret`` entries as keys. A malformed entry is named by its position, never by its content:
    the message may reach a log."""
    keys = []
    for number, entry in enumerate(entries, start=1):
        key_id, separator, secret = entry.partition(":")
        where = f"entry {number} of {len(entries)} in {origin}"
        if not separator or not KEY_ID.fullmatch(key_id):
            raise AuditKeysUnavailable(
                f"{where} is not 'id:secret' with an id of letters, digits, '.', '_' or '-' (at most 40); "
                f"{HOW_TO_MAKE_A_KEY}"
            )
        if len(secret) < SHORTEST_SECRET:
            raise AuditKeysUnavailable(
                f"{where}: the secret of key '{key_id}' is shorter than {SHORTEST_SECRET} characters; "
                f"{HOW_TO_MAKE_A_KEY}"
            )
        keys.append(AuditKey(key_id, secret.encode()))
    return AuditKeys(keys, origin=origin)


def audit_keys_for(configured: Sequence[str], database: Database) -> AuditKeys:
    """The configured keys; without any, the key file of a local SQLite database (made on first use), an
    ephemeral key for an in-memory one, and a refusal for any other database."""
    if configured:
        return parse_audit_keys(configured)
    if not database.is_sqlite:
        raise AuditKeysUnavailable(
            f"{SETTING} is not set: it must hold the key(s) that sign the audit trail, as id:secret "
            f"({HOW_TO_MAKE_A_KEY}; several keys are separated by commas, the first one signs)"
        )
    path = database.url.database
    if not path or path == ":memory:":
        # The records live only as long as this process, and so may their key.
        return parse_audit_keys([new_audit_key()], origin="an ephemeral key")
    key_file = Path(path + KEY_FILE_SUFFIX)
    return parse_audit_keys(_key_file(key_file), origin=str(key_file))


def _key_file(path: Path) -> list[str]:
    text = read_or_create_key_file(
        path,
        new_audit_key,
        holds="the keys that sign the audit trail",
        setting=SETTING,
        refuse=AuditKeysUnavailable,
    )
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]
