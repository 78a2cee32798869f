"""The step pipeline: what one change of an instance sets off, in order, inside the change's transaction.

    run        the instance runs until it waits again (engine/pathways/instances.py)
     │
     ├─ 1. routes       its service calls become hand-offs in the receiving services' queues, each one
     │                  starting the OLA clocks its terms give it: ``record_routes`` in
     │                  engine/routing/routes.py, then engine/olas/obligation_clocks.py; each hand-off
     │                  adds a ``handoff_requested`` event. Repeat contacts are recorded on the open
     │                  referrals they were about in the same stage (engine/referrals/repeat_contacts.py)
     ├─ 2. event log    the change's events are appended to the instance's log (engine/store/instances.py)
     └─ 3. milestones   events that mark a milestone of the referral's journey become milestones, then one
                        numbered notification event and one pending delivery per subscription that wants it —
                        engine/notifications/milestones.py; the ticker delivers them after the commit

Everything commits together or not at all: a referral never has a hand-off without its clocks, nor a
milestone that nobody will be told of. Routing lives in a package above this one (it changes instances
itself), so the routes stage is handed in by the composition root; the pipeline owns the order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from engine.bpmn import ServiceCall
from engine.errors import StepFailed
from engine.notifications.milestones import record_milestones
from engine.store import instances as instance_store
from engine.store.db import Connection

# Stage 1: acts on the service calls a run made; returns the events it logs; raises StepFailed to refuse.
RouteStage = Callable[[Connection, str, list[ServiceCall], datetime], list[dict]]


@dataclass(frozen=True)
class StepContext:
    """What an operation that reads (``engine.bpmn.Operation.reads``) is handed while an instance runs: the
    instance, the transaction of the change it runs in (to read through, never to write) and the change's
    time."""

    conn: Connection
    instance_id: str
    now: datetime


@dataclass(frozen=True)
class StepPipeline:
    routes: RouteStage | None = None

    def route(
        self, conn: Connection, instance_id: str, calls: list[ServiceCall], now: datetime
    ) -> list[dict]:
        """Stage 1: the hand-offs (and their OLA clocks) that the run's service calls ask for."""
        if not calls:
            return []
        if self.routes is None:
            call = calls[0]
            raise StepFailed(
                f"task '{call.task_name}' calls '{call.operation}', which this engine does not provide",
                element_id=call.element_id,
                task_name=call.task_name,
            )
        return self.routes(conn, instance_id, calls, now)

    @staticmethod
    def record(conn: Connection, instance_id: str, events: list[dict], now: datetime) -> None:
        """Stages 2 and 3: the events into the instance's log, and the milestones they mark out to the
        subscriptions that want them."""
        instance_store.append_events(conn, [{**event, "instance_id": instance_id} for event in events])
        record_milestones(conn, instance_id, events, now)
