"""Connections and transactions on SQLite and PostgreSQL.

Writers to an instance always lock its row first (``SELECT … FOR UPDATE`` on PostgreSQL). SQLite has
no row locks, so a write transaction there starts with ``BEGIN IMMEDIATE``: it takes the database's
single write lock up front rather than failing half-way when two writers meet.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from engine.errors import DuplicateKey

SQLITE_BUSY_TIMEOUT_MS = 30_000
_MEMO_KEY = "signpost.transaction_memo"
SQLITE_UNIQUE_VIOLATIONS = ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")


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
        that meets a row already holding its unique key raises ``DuplicateKey`` (another request won)."""
        with self.engine.connect() as connection:
            if self.is_sqlite:
                connection = connection.execution_options(sqlite_begin="IMMEDIATE")
            try:
                with connection.begin():
                    yield connection
            except sa.exc.IntegrityError as error:
                if not _is_unique_violation(error):
                    raise
                raise DuplicateKey(
                    "another request stored the same thing at the same moment; read it again or retry"
                ) from error

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
    """What this transaction has read already of the rows the store memoizes (services, OLA terms, calendar
    closures, an instance's correlations). The writers of those rows drop what they change; the next
    transaction on the same pooled connection starts with an empty memo."""
    transaction = conn.get_transaction()
    if transaction is None:
        return {}
    held = conn.info.get(_MEMO_KEY)
    if held is None or held[0] is not transaction:
        held = conn.info[_MEMO_KEY] = (transaction, {})
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
