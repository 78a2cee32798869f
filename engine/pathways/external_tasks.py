"""External service tasks: work a pathway waits on that a worker outside Signpost does (Camunda's "external
tasks"). The diagram names a topic (engine/bpmn/external.py); the instance's external tasks are kept in the
``external_tasks`` table with its other indexes, in the same transaction as each change.

Who may work what: the ``service`` clients of the organisation that operates the task's referral (the
organisation of its point of access, ``referrals.operated_by``) — the organisation already entitled to that
referral's data. Anyone else is told that no such task exists.

A task's life, for one worker (``worker_id``, its own name for itself, within its API client)::

    open ──fetch-and-lock──▶ locked (lease until lock_expires_at) ──complete──▶ gone: the instance runs on
      ▲                        │  │  └──bpmn-error──▶ gone: the error boundary event's path is taken
      │  lease expires /       │  │                    (nothing catches it: the instance is an incident)
      └──failure, retries left─┘  └──failure, no retries left──▶ failed: the instance is an incident
                                     (retrying the referral makes the task open again, retries afresh)

A worker may answer only while it holds the lease: after it expired (whether or not another worker took the
task since) or for work it never locked, the answer is refused (``LeaseLost``) and changes nothing.
"""

from __future__ import annotations

import json
import keyword
from datetime import datetime, timedelta

from engine import clock
from engine.bpmn import complete_external_task, throw_bpmn_error
from engine.errors import Conflict, InvalidInput, LeaseLost, NotFound, StepFailed
from engine.governance.clients import Client
from engine.pathways.changes import Change
from engine.pathways.events import instance_event
from engine.pathways.instances import Instances
from engine.store import external_tasks as external_task_store
from engine.store import instances as instance_store
from engine.store.db import Database

# Retries a task gets when the worker reporting its first failure does not say, and the back-off between
# attempts when it gives no delay: 30 s, 1 min, 2 min, … at most an hour.
DEFAULT_RETRIES = 3
FIRST_RETRY_DELAY = timedelta(seconds=30)
LONGEST_RETRY_DELAY = timedelta(hours=1)


class ExternalTasks:
    def __init__(self, database: Database, instances: Instances):
        self._database = database
        self._instances = instances

    # ---- reading and fetching ------------------------------------------------------------------------------

    def queue(self, client: Client, topic: str | None = None, limit: int = 100) -> list[dict]:
        """The external tasks ``client``'s organisation may work (of one topic), locked or not."""
        now = clock.now()
        with self._database.read() as conn:
            rows = external_task_store.queue(conn, client.organisation, topic, limit)
        return [task_view(row, now) for row in rows]

    def fetch_and_lock(
        self, client: Client, worker_id: str, topics: list[str], max_tasks: int, lease_seconds: int
    ) -> list[dict]:
        """Lock up to ``max_tasks`` free tasks of ``topics`` for ``worker_id`` for ``lease_seconds``; each
        comes with the instance's current data. Concurrent workers never get the same task."""
        now = clock.now()
        until = now + timedelta(seconds=lease_seconds)
        with self._database.write() as conn:
            rows = external_task_store.lock_fetchable(conn, client.organisation, topics, max_tasks, now)
            if rows:
                external_task_store.update(
                    conn,
                    [row["id"] for row in rows],
                    locked_by=client.actor,
                    worker_id=worker_id,
                    lock_expires_at=until,
                )
        locked = {"locked_by": client.actor, "worker_id": worker_id, "lock_expires_at": until}
        return [
            {**task_view({**row, **locked}, now), "data": json.loads(row["instance_data"])} for row in rows
        ]

    # ---- a worker's answers --------------------------------------------------------------------------------

    def complete(self, task_id: str, worker_id: str, data: dict, client: Client) -> dict:
        """The work is done: ``data`` goes into the task's data and the instance runs on."""
        check_data(data)
        row = self._visible(task_id, client)

        def apply(workflow, conn, now) -> Change:
            self._held(external_task_store.lock_task(conn, task_id), client, worker_id, now)
            view = complete_external_task(workflow, task_id, data)
            external_task_store.delete(conn, task_id)
            return Change(
                events=[_event("external_task_completed", client, now, view, {"data": sorted(data)})]
            )

        outcome = self._instances.advance(row["instance_id"], apply, actor=client.actor)
        return _answer(row, outcome.status, outcome.incident)

    def bpmn_error(
        self, task_id: str, worker_id: str, code: str, message: str | None, data: dict, client: Client
    ) -> dict:
        """Throw the BPMN error ``code`` from the task: an error boundary event on it takes the error path;
        with none to catch it, the instance becomes an incident naming the code."""
        check_data(data)
        row = self._visible(task_id, client)

        def apply(workflow, conn, now) -> Change:
            self._held(external_task_store.lock_task(conn, task_id), client, worker_id, now)
            view = throw_bpmn_error(workflow, task_id, code, message, data)
            external_task_store.delete(conn, task_id)
            detail = {"code": code, "message": message, "data": sorted(data)}
            return Change(events=[_event("external_task_error", client, now, view, detail)])

        try:
            outcome = self._instances.advance(row["instance_id"], apply, actor=client.actor)
        except StepFailed as uncaught:
            return self._incident(row, uncaught, message or code)
        return _answer(row, outcome.status, outcome.incident)

    def failure(
        self,
        task_id: str,
        worker_id: str,
        error: str,
        client: Client,
        *,
        retries: int | None = None,
        retry_in_seconds: int | None = None,
    ) -> dict:
        """The worker could not do the work. With retries left the task is fetchable again after a delay
        (``retry_in_seconds``, or a doubling back-off); with none left the instance becomes an incident
        naming the task. ``retries``: how many more attempts (default: one fewer than before, from
        DEFAULT_RETRIES)."""
        now = clock.now()
        with self._database.write() as conn:
            row = self._visible(task_id, client, conn=conn, lock=True)
            self._held(row, client, worker_id, now)
            failures = row["failures"] + 1
            left = retries if retries is not None else (row["retries"] or DEFAULT_RETRIES) - 1
            if left > 0:
                delay = (
                    timedelta(seconds=retry_in_seconds)
                    if retry_in_seconds is not None
                    else min(FIRST_RETRY_DELAY * 2 ** (failures - 1), LONGEST_RETRY_DELAY)
                )
                external_task_store.update(
                    conn,
                    [task_id],
                    **_unlocked(),
                    failures=failures,
                    retries=left,
                    available_at=now + delay,
                    error_message=error,
                )
                detail = {
                    "element_id": row["element_id"],
                    "topic": row["topic"],
                    "error": error,
                    "retries": left,
                }
                instance_store.append_events(
                    conn,
                    [
                        instance_event(
                            "external_task_failed",
                            client.actor,
                            now,
                            task_id=task_id,
                            task_name=row["title"] or row["element_id"],
                            detail=detail,
                            instance_id=row["instance_id"],
                        )
                    ],
                )
                return _answer(row, "waiting", None)
        name = row["title"] or row["element_id"]
        failure = StepFailed(
            f"external task '{name}' (topic '{row['topic']}') failed with no retries left: {error}",
            element_id=row["element_id"],
            task_name=name,
        )
        return self._incident(row, failure, error, failures=failures)

    def extend_lease(self, task_id: str, worker_id: str, lease_seconds: int, client: Client) -> dict:
        """Keep holding the task for ``lease_seconds`` from now."""
        now = clock.now()
        with self._database.write() as conn:
            row = self._visible(task_id, client, conn=conn, lock=True)
            self._held(row, client, worker_id, now)
            until = now + timedelta(seconds=lease_seconds)
            external_task_store.update(conn, [task_id], lock_expires_at=until)
            return task_view({**row, "lock_expires_at": until}, now)

    # ---- internals ---------------------------------------------------------------------------------------

    def _visible(self, task_id: str, client: Client, *, conn=None, lock: bool = False):
        """The task if ``client``'s organisation may work it, else NotFound (whether it exists is itself
        information another organisation may not have)."""
        if conn is None:
            with self._database.read() as reading:
                row = external_task_store.task(reading, task_id)
        else:
            row = (external_task_store.lock_task if lock else external_task_store.task)(conn, task_id)
        if row is None or row["operated_by"] is None or row["operated_by"] != client.organisation:
            raise NotFound(f"no external task with id {task_id}")
        if row["instance_status"] != "waiting":
            raise Conflict(
                f"external task {task_id} cannot be worked: its instance is {row['instance_status']}"
            )
        return row

    @staticmethod
    def _held(row, client: Client, worker_id: str, now: datetime) -> None:
        if row is None:
            raise LeaseLost("the external task is no longer waiting for a worker")
        if row["locked_by"] != client.actor or row["worker_id"] != worker_id:
            raise LeaseLost(
                f"worker '{worker_id}' does not hold the lease on external task {row['id']}: "
                "fetch and lock it first"
            )
        if row["lock_expires_at"] is None or row["lock_expires_at"] <= now:
            raise LeaseLost(
                f"the lease of worker '{worker_id}' on external task {row['id']} expired at "
                f"{row['lock_expires_at'].isoformat() if row['lock_expires_at'] else '(never locked)'}; "
                "fetch and lock it again"
            )

    def _incident(self, row, failure: StepFailed, error: str, *, failures: int | None = None) -> dict:
        """Stop the instance with an incident naming the task, then mark the task failed (in that order: if
        the process dies between the two, the incident holds the instance and a retry reopens the task)."""
        outcome = self._instances.record_incident(row["instance_id"], failure)
        with self._database.write() as conn:
            external_task_store.update(
                conn,
                [row["id"]],
                **_unlocked(),
                status="failed",
                failures=failures if failures is not None else row["failures"] + 1,
                retries=0,
                error_message=error,
            )
        return _answer(row, outcome.status, outcome.incident)


def _unlocked() -> dict:
    return {"locked_by": None, "worker_id": None, "lock_expires_at": None}


def _event(kind: str, client: Client, now: datetime, view, extra: dict) -> dict:
    detail = {"element_id": view.element_id, "topic": view.topic, **extra}
    return instance_event(
        kind, client.actor, now, task_id=view.id, task_name=view.title or view.element_id, detail=detail
    )


def _answer(row, instance_status: str, incident: str | None) -> dict:
    return {
        "id": row["id"],
        "topic": row["topic"],
        "referral_id": row["referral_id"],
        "instance_status": instance_status,
        "incident": incident,
    }


def task_view(row, now: datetime) -> dict:
    """An external task as its worker reads it; ``locked`` only while a lease runs at ``now``."""
    expires = row["lock_expires_at"]
    locked = expires is not None and expires > now and row["status"] == "open"
    return {
        "id": row["id"],
        "topic": row["topic"],
        "element_id": row["element_id"],
        "title": row["title"],
        "referral_id": row["referral_id"],
        "status": "locked" if locked else row["status"],
        "worker_id": row["worker_id"] if locked else None,
        "lock_expires_at": expires.isoformat() if locked else None,
        "retries": row["retries"],
        "available_at": row["available_at"].isoformat() if row["available_at"] else None,
        "error_message": row["error_message"],
        "created_at": row["created_at"].isoformat(),
    }


def check_data(data) -> None:
    if not isinstance(data, dict):
        raise InvalidInput("'data' must be a JSON object")
    bad = [k for k in data if not k.isidentifier() or keyword.iskeyword(k) or k.startswith("_")]
    if bad:
        raise InvalidInput(
            "data keys must be plain identifiers (letters, digits, '_', not starting with '_'), so that "
            f"pathway expressions can use them: {', '.join(map(repr, bad))}"
        )
