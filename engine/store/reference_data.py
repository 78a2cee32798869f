"""Reference data — the service directory, the OLA terms, calendar closures — kept between transactions.

Every change reads some of it and it changes rarely: reading each table in every transaction cost a round
trip each. Every writer of those tables replaces the one value of ``reference_versions`` in its own
transaction (``changed``); a transaction reads that value once, and a process keeps what it loaded under the
value it was loaded under. So a transaction sees what it would have seen reading the tables: a change
another process committed before the transaction read the value is seen (the value differs, the process
loads again); what was loaded after the value was read is at least as new as that value.

A transaction that wrote reference data reads its own tables for the rest of it (it sees its changes,
not yet committed, and nobody else should). Without the row (an emptied database) nothing is kept.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Hashable
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from engine.store.db import transaction_memo
from engine.store.tables import reference_versions

_VERSION = sa.select(reference_versions.c.version).where(reference_versions.c.id == 1)
_MEMO_VERSION = "reference version"
_MEMO_VALUES = "reference data"
_WROTE = object()  # the version of a transaction that changed reference data


class _Kept:
    """What one process holds of one database's reference data, and under which version."""

    def __init__(self):
        self.lock = threading.Lock()
        self.version: int | None = None
        self.values: dict[Hashable, Any] = {}


_kept: WeakKeyDictionary[Engine, _Kept] = WeakKeyDictionary()
_kept_lock = threading.Lock()


def read(conn: Connection, key: Hashable, load: Callable[[], Any]) -> Any:
    """The value of ``key`` (``load()`` reads it from the tables): once per transaction, and from what this
    process keeps while the reference version is unchanged. Callers must not change what they get."""
    memo = transaction_memo(conn).setdefault(_MEMO_VALUES, {})
    if key not in memo:
        memo[key] = _kept_or_loaded(conn, key, load)
    return memo[key]


def changed(conn: Connection) -> None:
    """Call before writing reference data: its version changes when this transaction commits."""
    memo = transaction_memo(conn)
    memo[_MEMO_VERSION] = _WROTE
    memo.pop(_MEMO_VALUES, None)
    version = secrets.randbits(62)
    row = reference_versions.c.id == 1
    replaced = conn.execute(reference_versions.update().where(row).values(version=version))
    if replaced.rowcount == 0:
        conn.execute(reference_versions.insert().values(id=1, version=version))


def _kept_or_loaded(conn: Connection, key: Hashable, load: Callable[[], Any]) -> Any:
    version = _version(conn)
    if version is None:
        return load()
    kept = _kept_for(conn.engine)
    with kept.lock:
        if kept.version == version and key in kept.values:
            return kept.values[key]
    value = load()
    with kept.lock:
        if kept.version != version:
            kept.version, kept.values = version, {}
        kept.values[key] = value
    return value


def _version(conn: Connection) -> int | None:
    memo = transaction_memo(conn)
    if _MEMO_VERSION not in memo:
        memo[_MEMO_VERSION] = conn.execute(_VERSION).scalar()
    version = memo[_MEMO_VERSION]
    return None if version is _WROTE else version


def _kept_for(engine: Engine) -> _Kept:
    with _kept_lock:
        kept = _kept.get(engine)
        if kept is None:
            kept = _kept[engine] = _Kept()
        return kept
