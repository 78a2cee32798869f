"""Connections and transactions on SQLite and PostgreSQL.

Writers to an instance always lock its row first (``SELECT … FOR UPDATE`` on PostgreSQL). SQLite has
no row locks, so a write transaction there starts with ``BEGIN IMMEDIATE``: it takes the database's
single write lock up front rather than failing half-way when two writers meet.

A write transaction can be watched (``observe_transactions``): the observer adds its own rows just before
each commit and hears whether the commit happened. The audit trail uses it to commit the record of a
request with the change the request makes, and the store's writers note which rows a transaction changed
(``note_change``) so that the record can name the referrals concerned.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from engine.errors import DuplicateKey

SQLITE_BUSY_TIMEOUT_MS = 30_000
_MEMO_KEY = "signpost.transaction_memo"
_NOTES_KEY = "signpost.transaction_notes"
SQLITE_UNIQUE_VIOLATIONS = ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")


class TransactionObserver(Protocol):
    """Told about each write transaction made while it observes (``observe_transactions``)."""

    def before_commit(self, conn: Connection) -> None:
        """The transaction's work is done: add to it (an error here rolls it all back)."""

    def committed(self) -> None:
        """The transaction (with what ``before_commit`` added) is durable."""

    def rolled_back(self) -> None:
        """Nothing of the transaction was kept."""


# Per thread of control (a request being served), so that concurrent requests never see each other's.
_observer: ContextVar[TransactionObserver | None] = ContextVar("signpost_transaction_observer", default=None)


def observe_transactions(observer: TransactionObserver) -> Token:
    """Have ``observer`` told about every write transaction of this context until ``stop_observing``."""
    return _observer.set(observer)


def stop_observing(token: Token) -> None:
    _observer.reset(token)


class Database:
    """An SQLAlchemy engine plus the transaction discipline the engine relies on."""

    def __init__(self, url: str, *, pool_size: int = 10):
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine = self._create_engine(pool_size)

    def _create_engine(self, pool_size: int) -> Engine:
        if not self.is_sqlite:
            # No pre-ping: it costs a round trip per transaction; a dropped connection fails one request.
            return sa.create_engine(self.url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
        database = self.url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(self.url, connect_args={"check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _configure_sqlite(dbapi_connection, _record):
            # Let SQLAlchemy, not the driver, issue BEGIN, so that we can choose IMMEDIATE for writers.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin_sqlite(connection):
            mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
            if mode is not None:  # None: each statement on its own (``read_once``)
                connection.exec_driver_sql(f"BEGIN {mode}")

        return engine

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will change data; committed on success, rolled back on any error. A write
        that meets a row already holding its unique key raises ``DuplicateKey`` (another request won). The
        observer of this context, if any, adds its rows last, inside the transaction."""
        observer = _observer.get()
        with self.engine.connect() as connection:
            if self.is_sqlite:
                connection = connection.execution_options(sqlite_begin="IMMEDIATE")
            try:
                with connection.begin():
                    yield connection
                    if observer is not None:
                        observer.before_commit(connection)
            except sa.exc.IntegrityError as error:
                if observer is not None:
                    observer.rolled_back()
                if not _is_unique_violation(error):
                    raise
                raise DuplicateKey(
                    "another request stored the same thing at the same moment; read it again or retry"
                ) from error
            except BaseException:
                if observer is not None:
                    observer.rolled_back()
                raise
        if observer is not None:
            observer.committed()

    def ping(self) -> None:
        """Raise if the database cannot be reached (for a readiness probe)."""
        with self.read_once() as conn:
            conn.exec_driver_sql("SELECT 1")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction that only reads; it sees one consistent snapshot."""
        with self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A transaction that only reads and sees the database as it was at its first statement, whatever
        commits meanwhile (PostgreSQL's REPEATABLE READ; an SQLite read transaction always does)."""
        with self.engine.connect() as connection:
            if not self.is_sqlite:
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield connection

    @contextmanager
    def read_once(self) -> Iterator[Connection]:
        """A connection for reads that need no common snapshot (one query, say): each statement runs on its
        own, so there is no BEGIN and COMMIT to wait for (two round trips on PostgreSQL)."""
        with self.engine.connect() as connection:
            if self.is_sqlite:
                # Not SQLAlchemy's AUTOCOMMIT, whose reset would give pysqlite back its own BEGINs.
                connection = connection.execution_options(sqlite_begin=None)
            else:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def transaction_memo(conn: Connection) -> dict:
    """What this transaction has read already of the rows the store memoizes (an instance's correlations;
    the reference data, which ``reference_data`` also keeps between transactions). The writers of those
    rows drop what they change; the next transaction on the same pooled connection starts with an empty
    memo."""
    return _of_this_transaction(conn, _MEMO_KEY)


def note_change(conn: Connection, kind: str, *keys: str) -> None:
    """Note that this transaction wrote the rows ``keys`` of ``kind`` (``referral``, ``instance``,
    ``handoff``, ``user_task``, ``external_task``), for the audit record committed with it."""
    _of_this_transaction(conn, _NOTES_KEY).setdefault(kind, set()).update(keys)


def changes_noted(conn: Connection) -> dict[str, set[str]]:
    """What ``note_change`` noted in this transaction, by kind."""
    return _of_this_transaction(conn, _NOTES_KEY)


def _of_this_transaction(conn: Connection, key: str) -> dict:
    transaction = conn.get_transaction()
    if transaction is None:
        return {}
    held = conn.info.get(key)
    if held is None or held[0] is not transaction:
        held = conn.info[key] = (transaction, {})
    return held[1]


def _is_unique_violation(error: sa.exc.IntegrityError) -> bool:
    driver_error = error.orig
    if getattr(driver_error, "sqlstate", None) == "23505":  # PostgreSQL's unique_violation
        return True
    return getattr(driver_error, "sqlite_errorname", "") in (
        "SQLITE_CONSTRAINT_UNIQUE",
        "SQLITE_CONSTRAINT_PRIMARYKEY",
    )


@contextmanager
def scratch_postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database on the server of ``server_url``, yield its URL, drop it after
    (for test suites and benchmarks that must not touch the databases already there)."""
    server = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
