"""BPMN messages and signals from outside, delivered to the instances waiting for them (each in a change of
its own, under its row lock)."""

from __future__ import annotations

from collections.abc import Callable

from engine.bpmn import Runtime
from engine.errors import Conflict, InvalidInput, NoMatchingWait
from engine.pathways.changes import Change, Outcome, Report
from engine.pathways.events import instance_event
from engine.pathways.instances import Instances
from engine.store import instances as instance_store
from engine.store.db import Connection, Database


class Messages:
    def __init__(self, database: Database, instances: Instances, runtime: Runtime):
        self._database = database
        self._instances = instances
        self._runtime = runtime

    def deliver_message(
        self,
        name: str,
        correlation: dict[str, str],
        payload: dict,
        actor: str,
        report: Report | None = None,
        spoken_for: Callable[[Connection, list[str]], list[str]] | None = None,
    ) -> list[Outcome]:
        """Deliver a message to every instance matching ``correlation`` that waits for it — with
        ``spoken_for``, only to those of them it keeps (the sender may speak for those referrals only)."""
        if not correlation:
            raise InvalidInput("a message needs at least one correlation value (e.g. referral_id)")
        with self._database.read() as conn:
            instance_ids = instance_store.instances_waiting_for_message(conn, name, correlation)
            if spoken_for is not None:
                instance_ids = spoken_for(conn, instance_ids)
        if not instance_ids:
            raise NoMatchingWait(f"no instance matching {correlation} is waiting for message '{name}'")

        def deliver(workflow, _conn, now) -> Change:
            if self._runtime.deliver_message(workflow, name, payload) == 0:
                raise NoMatchingWait(f"the instance is no longer waiting for message '{name}'")
            detail = {"message": name, "correlation": correlation, "fields": sorted(payload)}
            return Change(events=[instance_event("message_received", actor, now, detail=detail)])

        return [
            self._instances.advance(instance_id, deliver, actor=actor, report=report)
            for instance_id in instance_ids
        ]

    def deliver_signal(
        self,
        name: str,
        payload: dict,
        actor: str,
        report: Report | None = None,
        spoken_for: Callable[[Connection, list[str]], list[str]] | None = None,
    ) -> list[Outcome]:
        """Broadcast a signal to every instance waiting for it (with ``spoken_for``, those of them it keeps),
        each in its own change. One that has moved on meanwhile, or is stopped by an incident, is passed
        over: it does not keep the signal from the others."""
        with self._database.read() as conn:
            instance_ids = instance_store.instances_waiting_for_signal(conn, name)
            if spoken_for is not None:
                instance_ids = spoken_for(conn, instance_ids)

        def deliver(workflow, _conn, now) -> Change:
            if self._runtime.deliver_signal(workflow, name, payload) == 0:
                raise NoMatchingWait(f"the instance is no longer waiting for signal '{name}'")
            detail = {"signal": name, "fields": sorted(payload)}
            return Change(events=[instance_event("signal_received", actor, now, detail=detail)])

        delivered = []
        for instance_id in instance_ids:
            try:
                delivered.append(self._instances.advance(instance_id, deliver, actor=actor, report=report))
            except Conflict:  # no longer waiting, finished, or in incident since it was looked up
                continue
        return delivered
