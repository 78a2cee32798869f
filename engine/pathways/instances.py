"""Changing process instances safely: one transaction per change, under the instance's row lock.

Every change is "apply the outside input (a completed task, a message, a due timer), then run the automated
steps until the instance waits again", saved together with its event log, its waits and its user tasks, and
with whatever the step pipeline makes of it (hand-offs, OLA clocks, milestones, deliveries: ``pipeline.py``).
The time is read once per change and handed to everything the change does.
When an automated step fails, none of that run is kept: the instance is saved with the input applied and
nothing after it, marked as an *incident* naming the task and the error. ``retry`` runs the steps again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime

from engine import clock
from engine.bpmn import CompiledPathway, Runtime
from engine.errors import (
    Conflict,
    InstanceBusy,
    NotFound,
    StepFailed,
    TaskNotReady,
)
from engine.metrics import Metrics
from engine.pathways.changes import Apply, Change, Claim, Outcome, Report
from engine.pathways.definitions import PathwayCache
from engine.pathways.events import ENGINE_ACTOR, instance_event
from engine.pathways.forms import form_of_user_task
from engine.pathways.indexes import NEW_INSTANCE, Indexed, indexed_before, write_indexes
from engine.pathways.pipeline import StepContext, StepPipeline
from engine.store import instances as instance_store
from engine.store.db import Connection, Database

FINISHED = ("completed", "cancelled")

log = logging.getLogger(__name__)


class _RunFailed(Exception):
    """Carries a StepFailed out of the first transaction so that it rolls back before we record it."""

    def __init__(self, failure: StepFailed):
        self.failure = failure


class Instances:
    def __init__(
        self,
        database: Database,
        runtime: Runtime,
        pathways: PathwayCache,
        pipeline: StepPipeline,
        metrics: Metrics | None = None,
    ):
        self._pipeline = pipeline
        self._metrics = metrics or Metrics()
        self._database = database
        self._runtime = runtime
        self._pathways = pathways

    # ---- starting --------------------------------------------------------------------------------

    def start(
        self, conn, now: datetime, *, version_id: int, data: dict, actor: str, correlation: dict[str, str],
        local: Mapping[str, Mapping] | None = None,
    ) -> Outcome:  # fmt: skip
        """Create and run a new instance inside the caller's transaction, at the caller's time ``now`` (so
        that whatever the caller records with it — a referral, an idempotency key — commits or vanishes
        together with it). ``local``: a blueprint's parameters by process id (``variants.py``)."""
        pathway = self._pathways.get(version_id)
        workflow = self._runtime.new_workflow(pathway, data, local)
        instance_id = str(uuid.uuid4())
        started = instance_event("started", actor, now, detail={"version_id": version_id})
        initial_state = self._runtime.dump(workflow)
        instance_store.insert_instance(
            conn,
            id=instance_id,
            version_id=version_id,
            status="waiting",
            state=initial_state,
            data=self._runtime.dump_data(data),
            serializer_version=self._runtime.state_format,
            lock_version=0,
            created_at=now,
            updated_at=now,
        )
        instance_store.insert_correlations(conn, instance_id, correlation)
        row = {"id": instance_id, "lock_version": 0}
        try:
            events, stored = self._run(conn, instance_id, workflow, now)
        except StepFailed as failure:
            return self._save_incident(
                conn,
                row,
                workflow=None,
                state=initial_state,
                failure=failure,
                change=Change(events=[started]),
                now=now,
            )
        # A new instance has no waits or user tasks in the store yet: nothing to read or delete first.
        change = Change(events=[started, *events])
        return self._save(conn, row, workflow, change, now, indexed=NEW_INSTANCE, stored=stored)

    # ---- changing ----------------------------------------------------------------------------------

    def complete_user_task(
        self, task_id: str, data: dict, actor: str, report: Report | None = None
    ) -> Outcome:
        with self._database.read() as conn:
            task = instance_store.user_task(conn, task_id)
            form = None if task is None else form_of_user_task(conn, self._pathways.get, task)
        if task is None:
            raise NotFound(f"no task with id {task_id}")
        if task["status"] == "claimed" and task["claimed_by"] != actor:
            raise TaskNotReady(f"task {task_id} is claimed by {task['claimed_by']}")
        if form is not None:
            form.check(data, clock.now().date())  # FormDataInvalid, field by field; nothing has changed

        def complete(workflow, _conn, now) -> Change:
            view = self._runtime.complete_user_task(workflow, task_id, data)
            event = instance_event(
                "task_completed",
                actor,
                now,
                task_id=task_id,
                task_name=view.title or view.element_id,
                detail={"element_id": view.element_id, "data": sorted(data)},
            )
            return Change(events=[event], completed_task_id=task_id)

        return self.advance(task["instance_id"], complete, actor=actor, report=report)

    def retry(
        self, instance_id: str, actor: str, data: dict | None = None, report: Report | None = None
    ) -> Outcome:
        """Run the automated steps of an instance in incident again, optionally adding ``data`` to the
        tasks about to run (to supply what was missing)."""

        def resume(workflow, _conn, now) -> Change:
            if data:
                self._runtime.add_data_to_ready_tasks(workflow, data)
            return Change(events=[instance_event("retried", actor, now, detail={"data": sorted(data or {})})])

        return self.advance(instance_id, resume, actor=actor, resuming=True, report=report)

    def advance(
        self,
        instance_id: str,
        apply: Apply,
        *,
        actor: str,
        resuming: bool = False,
        report: Report | None = None,
        finished_too: bool = False,
        skip_locked: bool = False,
        claim: Claim | None = None,
    ) -> Outcome | None:
        """Apply an input and run the instance on, all in one transaction under its row lock.

        A failure of the input itself (StepFailed, TaskNotReady…) propagates and changes nothing; a
        failure of the steps after it is recorded as an incident. With ``finished_too`` an instance that
        has completed or been cancelled still gets the input, as ``apply(None, conn, now)``. With
        ``claim`` (and no ``instance_id``) the instance is the one ``claim(conn)`` locks and reads first
        in the transaction, and None comes back when it finds none."""
        with self._metrics.step_duration.time():
            return self._advance(
                instance_id, apply, actor, resuming, report, finished_too, skip_locked, claim
            )

    def _advance(
        self, instance_id, apply, actor, resuming, report, finished_too, skip_locked, claim
    ) -> Outcome | None:
        now = clock.now()
        try:
            with self._database.write() as conn:
                row = claim(conn) if claim is not None else None
                if claim is not None and row is None:
                    return None  # nothing to claim
                instance_id = row["id"] if row is not None else instance_id
                row, workflow = self._lock_and_load(
                    conn,
                    instance_id,
                    resuming=resuming,
                    finished_too=finished_too,
                    skip_locked=skip_locked,
                    row=row,
                )
                indexed = None if workflow is None or resuming else indexed_before(self._runtime, workflow)
                change = apply(workflow, conn, now)
                if workflow is None:
                    self._pipeline.record(conn, instance_id, change.events, now)
                    outcome = Outcome(instance_id, row["status"], result=change.result)
                    return _reported(conn, outcome, report)
                stored = None
                if change.cancel:
                    self._runtime.cancel(workflow)
                else:
                    try:
                        events, stored = self._run(conn, instance_id, workflow, now)
                    except StepFailed as failure:
                        raise _RunFailed(failure) from failure
                    change.events.extend(events)
                outcome = self._save(conn, row, workflow, change, now, indexed=indexed, stored=stored)
                outcome.result = change.result
                return _reported(conn, outcome, report)
        except _RunFailed as run_failed:
            return self._apply_only_and_record_incident(
                instance_id, apply, run_failed.failure, resuming, report, now
            )

    def _apply_only_and_record_incident(self, instance_id, apply, failure, resuming, report, now) -> Outcome:
        with self._database.write() as conn:
            row, workflow = self._lock_and_load(conn, instance_id, resuming=resuming)
            change = apply(workflow, conn, now)
            outcome = self._save_incident(
                conn, row, workflow, state=None, failure=failure, change=change, now=now
            )
            outcome.result = change.result
            return _reported(conn, outcome, report)

    def record_incident(self, instance_id: str, failure: StepFailed) -> Outcome:
        """Mark an instance as in incident without changing its state (its input itself failed)."""
        with self._database.write() as conn:
            row = instance_store.lock_instance(conn, instance_id)
            return self._save_incident(
                conn,
                row,
                workflow=None,
                state=row["state"],
                failure=failure,
                change=Change(),
                now=clock.now(),
            )

    def record_unexpected_failure(self, instance_id: str, doing: str, error: Exception) -> None:
        """Make an instance that raised something unexpected in a background loop an incident, so that it
        waits for nobody and people see it; if even that fails, it is logged and the loop goes on."""
        detail = f"{doing} failed unexpectedly: {type(error).__name__}: {error}"[:500]
        failure = StepFailed(detail, element_id=None, task_name=None)
        try:
            with self._database.write() as conn:
                row = instance_store.lock_instance(conn, instance_id)
                # A finished instance stays finished, and an incident keeps the cause it names.
                if row is not None and row["status"] not in (*FINISHED, "incident"):
                    self._save_incident(
                        conn, row, None, state=row["state"], failure=failure, change=Change(), now=clock.now()
                    )
        except Exception:
            log.exception("the failure of instance %s could not be recorded as an incident", instance_id)

    def deliver_if_waiting(self, workflow, name: str, payload: dict) -> bool:
        """Hand a message to a loaded workflow inside an ``apply``; a workflow not waiting for it is fine."""
        return self._runtime.deliver_message(workflow, name, payload) > 0

    # ---- internals -----------------------------------------------------------------------------------

    def _lock_and_load(
        self, conn, instance_id: str, *, resuming: bool, finished_too=False, skip_locked=False, row=None
    ):
        """The instance's row, locked (here, unless given: claimed), and its workflow loaded."""
        row = row or instance_store.lock_instance(conn, instance_id, skip_locked=skip_locked)
        if row is None:
            if skip_locked and instance_store.instance_exists(conn, instance_id):
                raise InstanceBusy(f"instance {instance_id} is being changed by another process")
            raise NotFound(f"no instance with id {instance_id}")
        if row["status"] in FINISHED:
            if finished_too:
                return row, None
            raise Conflict(f"instance {instance_id} has {row['status']}")
        if row["status"] == "incident" and not resuming:
            raise Conflict(
                f"instance {instance_id} is stopped by an incident at '{row['incident_task']}': "
                f"{row['incident_error']} — retry it once the cause is fixed"
            )
        if resuming and row["status"] != "incident":
            raise Conflict(f"instance {instance_id} has no incident to retry (status {row['status']})")
        return row, self._runtime.load(self._pathway_of(row), row["state"], row["serializer_version"])

    def _pathway_of(self, row) -> CompiledPathway:
        return self._pathways.get(row["version_id"])

    def _run(self, conn, instance_id: str, workflow, now) -> tuple[list[dict], tuple[str, str]]:
        """Run the automated steps until the instance waits; their events, then the routes stage's, and the
        state and data to store. Data that cannot be stored fails the step (before anything is routed)."""
        result = self._runtime.run(workflow, StepContext(conn, instance_id, now))
        stored = self._runtime.dump_after_step(workflow)
        call_events = self._pipeline.route(conn, instance_id, result.calls, now)
        return [
            instance_event(
                "step_completed",
                ENGINE_ACTOR,
                now,
                task_id=t.id,
                task_name=t.title or t.element_id,
                detail={"element_id": t.element_id, "kind": t.kind},
            )
            for t in result.completed
        ] + call_events, stored

    def _save(
        self,
        conn,
        row,
        workflow,
        change: Change,
        now,
        *,
        indexed: Indexed | None = None,
        stored: tuple[str, str] | None = None,
    ) -> Outcome:
        """``indexed``: what the store holds for the instance, when known without asking it; ``stored``: its
        state and data already dumped (by ``_run``)."""
        snapshot = self._runtime.describe(workflow)
        state, data = stored or (self._runtime.dump(workflow), self._runtime.dump_data(snapshot.data))
        if change.cancel:
            status = "cancelled"
        elif snapshot.completed:
            status = "completed"
            change.events.append(instance_event("completed", ENGINE_ACTOR, now))
        else:
            status = "waiting"
        self._write(
            conn,
            row,
            state,
            status,
            now,
            change,
            data=data,
            incident_task=None,
            incident_error=None,
            completed_at=now if status in FINISHED else None,
        )
        write_indexes(conn, row["id"], snapshot, change, now, indexed)
        return Outcome(row["id"], status)

    def _save_incident(
        self, conn, row, workflow, *, state, failure: StepFailed, change: Change, now
    ) -> Outcome:
        change.events.append(
            instance_event(
                "incident",
                ENGINE_ACTOR,
                now,
                task_name=failure.task_name,
                detail={"element_id": failure.element_id, "error": failure.message},
            )
        )
        if workflow is None:
            # The state as it was stored, in the format it was stored in (a new instance's: the current one).
            state_format = row.get("serializer_version") or self._runtime.state_format
        else:
            state, state_format = self._runtime.dump(workflow), self._runtime.state_format
        self._write(
            conn,
            row,
            state,
            "incident",
            now,
            change,
            serializer_version=state_format,
            incident_task=failure.task_name or failure.element_id,
            incident_error=failure.message,
        )
        # An instance in incident waits for nobody: its timers must not keep firing it.
        instance_store.replace_waits(conn, row["id"], [])
        if workflow is not None and change.completed_task_id:
            instance_store.close_user_tasks(
                conn, [change.completed_task_id], status="completed", at=now, by=change.events[0]["actor"]
            )
        return Outcome(row["id"], "incident", failure.message)

    def _write(self, conn, row, state, status, now, change, **values) -> None:
        saved = instance_store.save_instance(
            conn,
            row["id"],
            row["lock_version"],
            state=state,
            status=status,
            updated_at=now,
            **{"serializer_version": self._runtime.state_format, **values},
        )
        if not saved:
            # Only reachable if a writer skipped the row lock: fencing on lock_version keeps its work out.
            raise Conflict(f"instance {row['id']} was changed concurrently; try again")
        self._pipeline.record(conn, row["id"], change.events, now)


def _reported(conn: Connection, outcome: Outcome, report: Report | None) -> Outcome:
    if report is not None:
        outcome.report = report(conn, outcome.instance_id)
    return outcome
