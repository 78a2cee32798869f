"""Pathway simulations asked for through the API (``simulation_runs``): queued by the API, claimed and worked
by a simulation worker, read by any API process."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store.tables import simulation_runs

ACTIVE = ("queued", "running")
# What a list shows of each run: not its figures or report, which can be large.
_LISTED = [c for c in simulation_runs.c if c.name not in ("figures", "report_html", "request")]


def insert(conn: Connection, **values) -> None:
    conn.execute(simulation_runs.insert().values(**values))


def get(conn: Connection, run_id: str) -> RowMapping | None:
    return conn.execute(sa.select(simulation_runs).where(simulation_runs.c.id == run_id)).mappings().first()


def listed(conn: Connection, organisation: str, point_of_access: str | None, limit: int) -> list[RowMapping]:
    """The runs asked for at ``organisation`` (and ``point_of_access``), newest first, without their
    figures."""
    query = (
        sa.select(*_LISTED)
        .where(
            simulation_runs.c.organisation == organisation,
            _at(point_of_access),
        )
        .order_by(simulation_runs.c.created_at.desc(), simulation_runs.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def count_active(conn: Connection, organisation: str) -> int:
    query = sa.select(sa.func.count()).where(
        simulation_runs.c.organisation == organisation, simulation_runs.c.status.in_(ACTIVE)
    )
    return conn.execute(query).scalar_one()


def forget_finished_beyond(conn: Connection, organisation: str, keep: int) -> None:
    """Delete the organisation's finished runs older than its ``keep`` newest finished ones."""
    kept = (
        sa.select(simulation_runs.c.id)
        .where(simulation_runs.c.organisation == organisation, simulation_runs.c.status.not_in(ACTIVE))
        .order_by(simulation_runs.c.created_at.desc(), simulation_runs.c.id.desc())
        .limit(keep)
    )
    conn.execute(
        simulation_runs.delete().where(
            simulation_runs.c.organisation == organisation,
            simulation_runs.c.status.not_in(ACTIVE),
            simulation_runs.c.id.not_in(kept.scalar_subquery()),
        )
    )


def claim_next(conn: Connection, worker: str, now: datetime, stale_before: datetime) -> RowMapping | None:
    """Claim the oldest queued run, or a running one whose worker has not beaten since ``stale_before``: it
    is ``worker``'s, running, beaten ``now``, one attempt more. Locked rows are skipped (several workers on
    PostgreSQL); on SQLite the write transaction holds the only write lock."""
    claimable = sa.or_(
        simulation_runs.c.status == "queued",
        sa.and_(simulation_runs.c.status == "running", simulation_runs.c.heartbeat_at < stale_before),
    )
    query = (
        sa.select(simulation_runs.c.id)
        .where(claimable)
        .order_by(simulation_runs.c.created_at, simulation_runs.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    run_id = conn.execute(query).scalar()
    if run_id is None:
        return None
    conn.execute(
        simulation_runs.update()
        .where(simulation_runs.c.id == run_id)
        .values(
            status="running",
            worked_by=worker,
            heartbeat_at=now,
            attempts=simulation_runs.c.attempts + 1,
        )
    )
    return get(conn, run_id)


def beat(conn: Connection, run_id: str, worker: str, now: datetime, progress: dict | None) -> bool | None:
    """Record that ``worker`` is still running ``run_id`` (with its progress, when there is some): whether
    its cancellation was asked for; None when the run is no longer this worker's (another claimed it)."""
    values = {"heartbeat_at": now} if progress is None else {"heartbeat_at": now, "progress": progress}
    updated = conn.execute(
        simulation_runs.update().where(_worked_by(run_id, worker)).values(**values)
    ).rowcount
    if not updated:
        return None
    return bool(
        conn.execute(
            sa.select(simulation_runs.c.cancel_requested).where(simulation_runs.c.id == run_id)
        ).scalar_one()
    )


def finish(conn: Connection, run_id: str, worker: str, **values) -> bool:
    """Write the run's end (``values``: status, finished_at and what it produced) if it is still
    ``worker``'s; whether it was."""
    finished = conn.execute(simulation_runs.update().where(_worked_by(run_id, worker)).values(**values))
    return bool(finished.rowcount)


def release(conn: Connection, run_id: str, worker: str) -> None:
    """Put a run ``worker`` stopped before its end back in the queue, as if never claimed."""
    conn.execute(
        simulation_runs.update()
        .where(_worked_by(run_id, worker))
        .values(
            status="queued",
            worked_by=None,
            heartbeat_at=None,
            progress=None,
            attempts=simulation_runs.c.attempts - 1,
        )
    )


def cancel(conn: Connection, run_id: str, now: datetime) -> None:
    """A queued run is cancelled at once; a running one is asked to stop (its worker ends it)."""
    conn.execute(
        simulation_runs.update()
        .where(simulation_runs.c.id == run_id, simulation_runs.c.status == "queued")
        .values(status="cancelled", finished_at=now)
    )
    conn.execute(
        simulation_runs.update()
        .where(simulation_runs.c.id == run_id, simulation_runs.c.status == "running")
        .values(cancel_requested=True)
    )


def _worked_by(run_id: str, worker: str):
    return sa.and_(
        simulation_runs.c.id == run_id,
        simulation_runs.c.worked_by == worker,
        simulation_runs.c.status == "running",
    )


def _at(point_of_access: str | None):
    if point_of_access is None:
        return simulation_runs.c.point_of_access.is_(None)
    return simulation_runs.c.point_of_access == point_of_access
