"""Firing due timers, and the in-process ticker that does it on a schedule.

APScheduler is only a metronome here (in-memory job store): the ``waits`` table is the record of what is
due, so a restart loses nothing and a timer that fell due while the server was down fires on the first tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from engine import clock
from engine.bpmn import Runtime
from engine.errors import Conflict, NoMatchingWait, NotFound, StepFailed
from engine.metrics import Metrics
from engine.pathways.changes import Change, Outcome
from engine.pathways.events import ENGINE_ACTOR, instance_event
from engine.pathways.instances import Instances
from engine.store import instances as instance_store
from engine.store.db import Database

log = logging.getLogger(__name__)


class Timers:
    def __init__(
        self,
        database: Database,
        instances: Instances,
        runtime: Runtime,
        metrics: Metrics,
        batch_size: int = 200,
    ):
        self._database = database
        self._instances = instances
        self._runtime = runtime
        self._metrics = metrics
        self._batch_size = batch_size

    def fire_due(self) -> int:
        """Advance every instance with a timer due now; returns how many instances this process advanced.

        Any number of processes may run this against one PostgreSQL database: each change claims its
        instance with the statement that finds it, the most overdue one no other transaction holds
        (``claim_due_timer``, SKIP LOCKED), so workers take different instances rather than walking the same
        list, and each due timer fires once."""
        fired = 0
        # Failed or found with nothing to fire in this call: not taken again until the next tick.
        passed_over: set[str] = set()
        # Fired in this call: left out of the next claims, so that one somehow still due cannot hold the
        # loop; forgotten every batch, as a new look-up would.
        taken: set[str] = set()
        while True:
            claimed: dict = {}
            try:
                outcome = self._fire(None, claim=self._claim_next(passed_over | taken, claimed))
            except Exception as error:
                if "id" not in claimed:  # the claim itself failed (the database): the next tick tries again
                    raise
                passed_over.add(claimed["id"])
                self._not_fired(claimed["id"], error)
                continue
            if outcome is None:
                return fired
            fired += 1
            taken.add(claimed["id"])
            if len(taken) >= self._batch_size:
                taken.clear()
            lateness = max(0.0, (clock.now() - claimed["due_at"]).total_seconds())
            self._metrics.timers_fired.inc()
            self._metrics.timer_lateness.observe(lateness)
            log.info("fired the timers of instance %s, %.3f s after they fell due", claimed["id"], lateness)

    @staticmethod
    def _claim_next(left_out: set[str], claimed: dict):
        """A claim of the most overdue instance not ``left_out``; what it took goes into ``claimed``."""

        def claim(conn):
            row = instance_store.claim_due_timer(conn, clock.now(), left_out)
            if row is not None:
                claimed.update(id=row["id"], due_at=row["timer_due_at"])
            return row

        return claim

    def _not_fired(self, instance_id: str, error: Exception) -> None:
        if isinstance(error, NotFound | Conflict):
            # Completed, cancelled, stopped by an incident, or its timer no longer due: nothing to fire.
            log.info("timer of instance %s not fired: %s", instance_id, error)
        else:  # one broken instance must not stop the timers of the others
            log.exception("firing the timers of instance %s failed", instance_id, exc_info=error)
            self._instances.record_unexpected_failure(instance_id, "firing its timers", error)

    def fire(self, instance_id: str, *, skip_locked: bool = False) -> Outcome:
        """Fire the timers of an instance that are due. With ``skip_locked`` (workers sharing PostgreSQL)
        an instance another process is changing raises InstanceBusy at once instead of waiting for it. A
        step after the timer that fails makes the instance an incident."""
        return self._fire(instance_id, skip_locked=skip_locked)

    def _fire(self, instance_id: str | None, *, skip_locked: bool = False, claim=None) -> Outcome | None:
        """``fire``, for ``instance_id`` or for the instance ``claim`` takes (None when it takes none)."""
        target = {"id": instance_id}

        def take(conn):
            row = claim(conn)
            if row is not None:
                target["id"] = row["id"]
            return row

        def fire(workflow, _conn, now) -> Change:
            timers = [w for w in self._runtime.describe(workflow).waits if w.kind == "timer"]
            if not any(w.due_at < now for w in timers):
                # The caller saw a due timer before taking the lock, and another process has fired it (or
                # moved the instance past it) since: saving now would report a timer fired twice.
                raise NoMatchingWait(f"instance {target['id']} has no timer due any more")
            before = {w.name for w in timers}
            self._runtime.fire_due_timers(workflow)
            after = {w.name for w in self._runtime.describe(workflow).waits if w.kind == "timer"}
            return Change(
                events=[
                    instance_event("timer_fired", ENGINE_ACTOR, now, detail={"timer": name})
                    for name in sorted(before - after)
                ]
            )

        try:
            return self._instances.advance(
                instance_id,
                fire,
                actor=ENGINE_ACTOR,
                skip_locked=skip_locked,
                claim=take if claim is not None else None,
            )
        except StepFailed as failure:
            return self._instances.record_incident(target["id"], failure)


class Ticker:
    """Calls ``tick`` every ``interval_seconds`` in a background thread of this process."""

    def __init__(self, tick: Callable[[], None], interval_seconds: float):
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler.add_job(
            self._run, "interval", seconds=interval_seconds, max_instances=1, coalesce=True, id="tick"
        )
        self._tick = tick

    def _run(self) -> None:
        try:
            self._tick()
        except Exception:  # the ticker must outlive a database hiccup; the next tick tries again
            log.exception("tick failed")

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        self._scheduler.shutdown(wait=True)
