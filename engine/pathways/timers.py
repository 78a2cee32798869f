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
from engine.errors import Conflict, InstanceBusy, NoMatchingWait, NotFound, StepFailed
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

        Any number of processes may run this against one PostgreSQL database: an instance another process
        is changing is skipped (its row lock is taken with SKIP LOCKED), so each due timer fires once."""
        fired = 0
        # Instances that failed unexpectedly in this call: not tried again until the next tick.
        failed: set[str] = set()
        while True:
            now = clock.now()
            with self._database.read() as conn:
                due = instance_store.instances_with_due_timers(conn, now, self._batch_size)
            advanced = 0
            for instance_id, due_at in due:
                if instance_id in failed:
                    continue
                try:
                    self.fire(instance_id, skip_locked=True)
                except InstanceBusy:
                    continue  # another worker holds it; it fires there, or here on the next tick
                except (NotFound, Conflict) as skipped:
                    # Completed, cancelled, stopped by an incident or its timer fired by another process
                    # since we looked: nothing to fire.
                    log.info("timer of instance %s not fired: %s", instance_id, skipped)
                    continue
                except Exception as error:  # one broken instance must not stop the timers of the others
                    failed.add(instance_id)
                    log.exception("firing the timers of instance %s failed", instance_id)
                    self._instances.record_unexpected_failure(instance_id, "firing its timers", error)
                    continue
                advanced += 1
                lateness = max(0.0, (clock.now() - due_at).total_seconds())
                self._metrics.timers_fired.inc()
                self._metrics.timer_lateness.observe(lateness)
                log.info("fired the timers of instance %s, %.3f s after they fell due", instance_id, lateness)
            fired += advanced
            # A short batch means nothing more is due; a batch of busy instances means others are at work.
            if len(due) < self._batch_size or advanced == 0:
                return fired

    def fire(self, instance_id: str, *, skip_locked: bool = False) -> Outcome:
        """Fire the timers of an instance that are due. With ``skip_locked`` (workers sharing PostgreSQL)
        an instance another process is changing raises InstanceBusy at once instead of waiting for it. A
        step after the timer that fails makes the instance an incident."""

        def fire(workflow, _conn, now) -> Change:
            timers = [w for w in self._runtime.describe(workflow).waits if w.kind == "timer"]
            if not any(w.due_at < now for w in timers):
                # The caller saw a due timer before taking the lock, and another process has fired it (or
                # moved the instance past it) since: saving now would report a timer fired twice.
                raise NoMatchingWait(f"instance {instance_id} has no timer due any more")
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
            return self._instances.advance(instance_id, fire, actor=ENGINE_ACTOR, skip_locked=skip_locked)
        except StepFailed as failure:
            return self._instances.record_incident(instance_id, failure)


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
