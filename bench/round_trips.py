"""What one routed lifecycle asks of the database: round trips, and the size of the stored instance state.

Used by ``lifecycle.py``; runs one routed lifecycle of the community nursing pathway (after warm-up ones)
in-process through the engine, and again through the API (Flask's test client, so authentication and the
audit trail are included, with no network in between), counting what reaches the database driver:

- every SQL statement (SQLAlchemy's ``before_cursor_execute``),
- every BEGIN the driver sends (a transaction that is not in autocommit mode) and every COMMIT/ROLLBACK.

Each is one round trip to PostgreSQL. Between the steps of the in-process lifecycle it reads the stored
state's length (outside the count): the largest is what the pathway stores at its longest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa


@dataclass
class RoundTrips:
    """Counts the round trips of an SQLAlchemy engine while ``counting``."""

    engine: sa.Engine
    total: int = 0
    statements: Counter = field(default_factory=Counter)
    _on: bool = False

    def __post_init__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._statement)
        sa.event.listen(self.engine, "begin", self._begin)
        sa.event.listen(self.engine, "commit", self._end)
        sa.event.listen(self.engine, "rollback", self._end)

    def _statement(self, _conn, _cursor, statement, *_args) -> None:
        if self._on:
            self.total += 1
            self.statements[" ".join(statement.split())[:90]] += 1

    def _begin(self, conn) -> None:
        # In autocommit mode (the store's ``read_once``) the driver sends no BEGIN.
        if self._on and conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            self.total += 1
            self.statements["BEGIN"] += 1

    def _end(self, conn) -> None:
        if self._on and conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            self.total += 1
            self.statements["COMMIT/ROLLBACK"] += 1

    @contextmanager
    def counting(self):
        self.total, self.statements, self._on = 0, Counter(), True
        try:
            yield self
        finally:
            self._on = False


@dataclass(frozen=True)
class Profile:
    in_process: int
    through_api: int
    per_request: dict[str, int]
    state_sizes: list[int]  # bytes stored after the start and after each action
    statements: Counter


def profile_lifecycle(system, lifecycle: Callable, api_lifecycle: Callable) -> Profile:
    """``lifecycle(system, i, between)`` runs one routed lifecycle in-process, calling ``between(instance)``
    after each step with a function that finds the instance's id; ``api_lifecycle(i, done)`` runs one
    through the API, calling ``done(kind)`` after each request."""
    counter = RoundTrips(system.database.engine)
    sizes: list[int] = []

    def state_size(instance_of: Callable[[], str]) -> None:
        was, counter._on = counter._on, False
        try:
            instance_id = instance_of()
            with system.database.read() as conn:
                query = sa.text("SELECT state FROM instances WHERE id = :id")
                sizes.append(len(conn.execute(query, {"id": instance_id}).scalar_one().encode()))
        finally:
            counter._on = was

    for i in range(3):  # warm-up: caches, the first use of each statement
        lifecycle(system, i, lambda _instance_of: None)
        api_lifecycle(i, lambda _kind: None)
    with counter.counting():
        lifecycle(system, 100, state_size)
    in_process, statements = counter.total, counter.statements
    per_request: dict[str, int] = {}

    def request_done(kind: str, before: list[int] = [0]) -> None:  # noqa: B006 - the running total
        per_request[kind] = counter.total - before[0]
        before[0] = counter.total

    with counter.counting():
        api_lifecycle(101, request_done)
    return Profile(in_process, counter.total, per_request, sizes, statements)


def report(profile: Profile, backend: str) -> None:
    print(
        f"round trips per routed lifecycle on {backend}: {profile.in_process} in-process, "
        f"{profile.through_api} through the API "
        f"({', '.join(f'{kind} {n}' for kind, n in profile.per_request.items())})",
        flush=True,
    )
    print(
        f"stored instance state on {backend}: {max(profile.state_sizes):,} bytes at its longest "
        f"(after each step: {', '.join(f'{size:,}' for size in profile.state_sizes)})",
        flush=True,
    )
