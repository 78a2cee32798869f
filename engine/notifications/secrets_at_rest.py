"""Secrets the engine has to read back (webhook signing secrets), encrypted before they are stored.

A stored secret reads ``fernet:<token>``: Fernet (AES-128-CBC with HMAC-SHA256) under the keys of
``SIGNPOST_SECRET_KEYS``. The first key encrypts and every key decrypts, so the key is rotated by putting a
new key first, running ``signpost secrets rotate`` (which encrypts every stored secret again with the first
key) and then dropping the old key. A value without the prefix was stored in the clear before secrets were
encrypted: it is read as it is until ``signpost secrets rotate`` encrypts it.

Without ``SIGNPOST_SECRET_KEYS``, a database in a local SQLite file gets a key generated beside it
(``<database file>.secret-keys``, readable by its owner only), so development needs no set-up and the key
lives and dies with the data it protects. Any other database refuses to start: its processes run on several
machines, which would each generate a key of their own, and production keys belong in the deployment's
secret store, not on an application server's disk.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from engine.errors import SecretKeysUnavailable, SecretUnreadable
from engine.key_files import read_or_create_key_file
from engine.store.db import Database

log = logging.getLogger(__name__)

PREFIX = "fernet:"
KEY_FILE_SUFFIX = ".secret-keys"
SETTING = "SIGNPOST_SECRET_KEYS"
HOW_TO_MAKE_A_KEY = "make one with `signpost secrets new-key`"


def new_key() -> str:
    return Fernet.generate_key().decode()


def parse_keys(text: str | None) -> tuple[str, ...]:
    """Keys separated by commas or line breaks, in order."""
    return tuple(key.strip() for key in (text or "").replace("\n", ",").split(",") if key.strip())


class SecretBox:
    """Encrypts with the first key, decrypts with any."""

    def __init__(self, keys: Sequence[str], *, origin: str = SETTING):
        if not keys:
            raise SecretKeysUnavailable(f"{origin} holds no key; {HOW_TO_MAKE_A_KEY}")
        fernets = []
        for number, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                # The key itself is never repeated: an error message may end up in a log.
                raise SecretKeysUnavailable(
                    f"key {number} of {len(keys)} in {origin} is not a Fernet key "
                    f"(32 url-safe base64-encoded bytes); {HOW_TO_MAKE_A_KEY}"
                ) from None
        self._fernet = MultiFernet(fernets)
        self.origin = origin
        self.key_count = len(fernets)

    def __repr__(self) -> str:
        return f"SecretBox({self.key_count} keys from {self.origin})"

    def seal(self, secret: str | None) -> str | None:
        if secret is None:
            return None
        return PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str | None) -> str | None:
        if stored is None or not stored.startswith(PREFIX):
            return stored  # nothing, or a secret stored in the clear before encryption was introduced
        try:
            return self._fernet.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                f"a stored secret cannot be decrypted with any of the {self.key_count} keys in {self.origin} "
                "(was the key that encrypted it removed before `signpost secrets rotate` ran?)"
            ) from None

    def reseal(self, stored: str | None) -> str | None:
        """``stored`` encrypted with the first key (a clear one encrypted for the first time)."""
        return self.seal(self.open(stored))


def box_for(keys: Sequence[str], database: Database) -> SecretBox:
    """The box of the configured keys; without any, the key file of a local SQLite database (made on first
    use), an ephemeral key for an in-memory one, and a refusal for any other database."""
    if keys:
        return SecretBox(keys)
    if not database.is_sqlite:
        raise SecretKeysUnavailable(
            f"{SETTING} is not set: it must hold the key(s) that encrypt webhook secrets in the database "
            f"({HOW_TO_MAKE_A_KEY}; several keys are separated by commas, the first one encrypts)"
        )
    path = database.url.database
    if not path or path == ":memory:":
        # The data lives only as long as this process, and so may its key.
        return SecretBox([new_key()], origin="an ephemeral key")
    return SecretBox(_key_file(Path(path + KEY_FILE_SUFFIX)), origin=str(Path(path + KEY_FILE_SUFFIX)))


def _key_file(path: Path) -> tuple[str, ...]:
    text = read_or_create_key_file(
        path,
        new_key,
        holds="the keys that encrypt webhook secrets",
        setting=SETTING,
        refuse=SecretKeysUnavailable,
    )
    return parse_keys(text)
