"""Hand-offs as a service: a receiving service's queue, and the actions that move a hand-off on.

Each action is made under the referral instance's row lock, checked against the lifecycle in
``transitions.py``, bumps the hand-off's version (its ETag), records who did what when (moving the
hand-off's OLA clocks), and delivers ``handoff.<event>`` to the pathway when the pathway waits for it.
"""

from __future__ import annotations

from engine.bpmn import Runtime
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound, PreconditionFailed
from engine.governance.access import operates, visible_referral
from engine.governance.clients import Client
from engine.governance.idempotency import KeyedRequest, answer_once
from engine.pathways.changes import Change
from engine.pathways.events import instance_event
from engine.pathways.instances import Instances
from engine.routing.routes import log_transition, new_handoff, open_handoff, routing_problem
from engine.routing.transitions import (
    CANCEL,
    CANCELLABLE,
    CANCELLED_BY_POINT_OF_ACCESS,
    CANCELLED_BY_REFERRER,
    SERVICE_TRANSITIONS,
    SUPPLY_INFORMATION,
    Transition,
    check_allowed,
    checked_body,
    consequences,
)
from engine.store import handoffs as handoff_store
from engine.store import instances as instance_store
from engine.store import referrals as referral_store
from engine.store import services as service_store
from engine.store.db import Database


class Handoffs:
    def __init__(self, database: Database, instances: Instances, runtime: Runtime):
        self._database = database
        self._instances = instances
        self._runtime = runtime

    # ---- reading --------------------------------------------------------------------------------------

    def queue(
        self, service_id: str, client: Client, statuses: list[str] | None, limit: int = 100
    ) -> list[dict]:
        with self._database.read() as conn:
            service = service_store.service(conn, service_id)
            if service is None:
                raise NotFound(f"no service with id '{service_id}'")
            _check_acts_for(client, service)
            return [
                handoff_view(row) for row in handoff_store.service_queue(conn, service_id, statuses, limit)
            ]

    def get(self, handoff_id: str, client: Client) -> dict:
        """A hand-off with the history of its transitions."""
        with self._database.read() as conn:
            row, service = self._handoff_and_service(conn, handoff_id)
            referral = referral_store.referral_overview(conn, instance_id=row["instance_id"])
            if referral is None or not operates(client, referral):
                if "service" not in client.roles:
                    # An operator reads the hand-offs of the referrals its point of access works on, and
                    # nothing else: not those of another point of access of its own organisation either.
                    raise NotFound(f"no hand-off with id {handoff_id}")
                _check_acts_for(client, service)
            history = [
                {
                    "action": t["action"],
                    "from_status": t["from_status"],
                    "to_status": t["to_status"],
                    "by": t["actor"],
                    "at": t["at"].isoformat(),
                }
                for t in handoff_store.transitions_of_handoff(conn, handoff_id)
            ]
            return {**handoff_view(row), "transitions": history}

    # ---- changing -------------------------------------------------------------------------------------

    def act(
        self,
        handoff_id: str,
        action: str,
        body: dict,
        client: Client,
        *,
        if_match: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict:
        """Make ``action`` happen to a hand-off for the receiving service's client."""
        transition = SERVICE_TRANSITIONS.get(action)
        if transition is None:
            raise NotFound(f"no hand-off action '{action}' (actions: {', '.join(SERVICE_TRANSITIONS)})")
        body = checked_body(transition, body)
        keyed = KeyedRequest.of(
            client, f"handoff.{action}", idempotency_key, {"handoff": handoff_id, "body": body}
        )

        def act() -> dict:
            def apply(workflow, conn, now) -> Change:
                # Read under the instance's lock: every change to this referral's hand-offs waits for it.
                current, service = self._handoff_and_service(conn, handoff_id)
                _check_acts_for(client, service)
                _check_if_match(current, if_match)
                check_allowed(transition, current)
                target = None
                if action == "transfer":
                    target = self._transfer_target(conn, current, body["to_service"])
                changed = self._transition(conn, current, transition, body, client.actor, now)
                payload = _message_payload(changed, body)
                if target is not None:
                    payload["new_handoff_id"] = self._route_again(
                        conn, current, target, body["reason"], client.actor, now
                    )
                self._notify_pathway(workflow, transition.message, payload)
                # The row as the update left it: nothing else changes a hand-off under the instance's lock.
                view = handoff_view(changed)
                keyed.remember(conn, 200, view, now)
                event = _handoff_event(transition, current, client.actor, payload, now)
                return Change(events=[event], result=view)

            # The instance is found through the hand-off and locked in the same statement.
            outcome = self._instances.advance(
                None,
                apply,
                actor=client.actor,
                finished_too=True,
                claim=lambda conn: instance_store.lock_instance_of_handoff(conn, handoff_id),
            )
            if outcome is None:
                raise NotFound(f"no hand-off with id {handoff_id}")
            return outcome.result

        answer, _replayed = answer_once(self._database, keyed, act)
        return answer

    def supply_information(self, referral_id: str, answer: dict, client: Client) -> dict:
        """The referrer answers the open information request(s) of a referral."""
        body = checked_body(SUPPLY_INFORMATION, {"answer": answer})
        instance_id = self._instance_of_referral_for(referral_id, client)

        def apply(workflow, conn, now) -> Change:
            waiting = [
                h for h in handoff_store.handoffs_of_instance(conn, instance_id) if h["status"] == "on-hold"
            ]
            if not waiting:
                raise Conflict(f"referral {referral_id} has no outstanding information request")
            events = []
            for current in waiting:
                changed = self._transition(conn, current, SUPPLY_INFORMATION, body, client.actor, now)
                payload = _message_payload(changed, body)
                self._notify_pathway(workflow, SUPPLY_INFORMATION.message, payload)
                events.append(_handoff_event(SUPPLY_INFORMATION, current, client.actor, payload, now))
            return Change(events=events)

        self._instances.advance(instance_id, apply, actor=client.actor, finished_too=True)
        return self._handoffs_of(instance_id)

    def cancel(self, referral_id: str, reason: str, client: Client) -> None:
        """The referrer withdraws a referral, or the point of access working on it closes it: open hand-offs
        are cancelled and the pathway is told (or cancelled itself if it does not wait for
        ``referral.cancelled``). The referral says which of them cancelled it."""
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("say why the referral is cancelled ('reason')")
        with self._database.read() as conn:
            referral = visible_referral(conn, referral_id, client)
        if "referrer" in client.roles and referral["referrer_organisation"] == client.organisation:
            cancelled_by = CANCELLED_BY_REFERRER
        elif operates(client, referral):
            cancelled_by = CANCELLED_BY_POINT_OF_ACCESS
        else:
            raise NotAllowed(
                "a referral is cancelled by its referrer or by the point of access working on it; "
                f"{client.organisation} is neither for referral {referral_id}"
            )
        instance_id = referral["instance_id"]

        def apply(workflow, conn, now) -> Change:
            current = handoff_store.handoffs_of_instance(conn, instance_id)
            started = [h for h in current if h["status"] in ("in-progress", "completed")]
            if started:
                raise Conflict(
                    f"referral {referral_id} cannot be cancelled: {started[0]['to_service']} has "
                    f"already {'started' if started[0]['status'] == 'in-progress' else 'completed'} it"
                )
            if workflow is None:
                raise Conflict(f"referral {referral_id} has already finished")
            for handoff in current:
                if handoff["status"] in CANCELLABLE:
                    self._transition(conn, handoff, CANCEL, {"reason": reason}, client.actor, now)
            referral_store.set_referral_cancelled(conn, referral_id, now, reason)
            event = instance_event(
                "cancelled", client.actor, now, detail={"reason": reason, "by": cancelled_by}
            )
            waits_for_cancel = self._notify_pathway(workflow, "referral.cancelled", {"reason": reason})
            return Change(events=[event], cancel=not waits_for_cancel)

        self._instances.advance(instance_id, apply, actor=client.actor, finished_too=True)

    # ---- internals ---------------------------------------------------------------------------------------

    def _handoffs_of(self, instance_id: str) -> list[dict]:
        with self._database.read() as conn:
            return [handoff_view(h) for h in handoff_store.handoffs_of_instance(conn, instance_id)]

    def _instance_of_referral_for(self, referral_id: str, client: Client) -> str:
        with self._database.read() as conn:
            return visible_referral(conn, referral_id, client)["instance_id"]

    @staticmethod
    def _handoff_and_service(conn, handoff_id: str):
        """The hand-off and the name and organisation of the service it is routed to (None if unknown)."""
        row = handoff_store.handoff_with_service(conn, handoff_id)
        if row is None:
            raise NotFound(f"no hand-off with id {handoff_id}")
        if row["service_id"] is None:
            return row, None
        return row, {"name": row["service_name"], "organisation": row["service_organisation"]}

    @staticmethod
    def _transfer_target(conn, current, target_id):
        target = service_store.service(conn, target_id)
        problem = routing_problem(target, target_id, current["referral_type"])
        if problem:
            raise InvalidInput(f"cannot transfer to {problem}")
        if target_id == current["to_service"]:
            raise InvalidInput("cannot transfer a hand-off to the service that already holds it")
        return target

    @staticmethod
    def _transition(conn, current, transition: Transition, body: dict, actor: str, now) -> dict:
        values = {column: body[name] for name, column in transition.fields.items() if name in body}
        values.update(consequences(current, transition, body))
        values["updated_at"] = now
        if not handoff_store.update_handoff(conn, current["id"], current["version"], values):
            raise Conflict(f"hand-off {current['id']} changed while this request was made; read it and retry")
        changed = {**current, **values, "version": current["version"] + 1}
        log_transition(
            conn,
            changed,
            transition.action,
            current["status"],
            actor,
            now,
            body or None,
            event=transition.message.split(".", 1)[1],
        )
        return changed

    @staticmethod
    def _route_again(conn, current, target, reason: str, actor: str, now) -> str:
        """The transfer's new hand-off to ``target``; ownership still returns to the original sender."""
        handoff = new_handoff(
            instance_id=current["instance_id"],
            element_id=current["element_id"],
            from_service=current["from_service"],
            to_service=target["id"],
            referral_type=current["referral_type"],
            reason=reason,
            payload=current["payload"],
            at=now,
        )
        open_handoff(conn, handoff, actor, now, {"transferred_from": current["id"]})
        return handoff["id"]

    def _notify_pathway(self, workflow, message: str, payload: dict) -> bool:
        """Deliver ``message`` if the pathway waits for it; a pathway that does not care is not an error."""
        if workflow is None:
            return False
        return self._runtime.deliver_message(workflow, message, payload) > 0


def _check_acts_for(client: Client, service) -> None:
    if service is None or service["organisation"] != client.organisation:
        raise NotAllowed(
            f"this client acts for {client.organisation}; the hand-off belongs to "
            f"{service['name'] if service else 'another service'} of another organisation"
        )


def _message_payload(changed: dict, body: dict) -> dict:
    payload = {"handoff_id": changed["id"], "service": changed["to_service"], "status": changed["status"]}
    payload.update(body)
    return payload


def _handoff_event(transition: Transition, current, actor: str, payload: dict, now) -> dict:
    detail = {**payload, "from_status": current["status"]}
    return instance_event(transition.message.replace(".", "_"), actor, now, detail=detail)


def services_named_by(handoffs) -> set[str]:
    """Every service the hand-offs name: where each is routed, who holds it, who sent it."""
    return (
        {h["to_service"] for h in handoffs}
        | {h["owner"] for h in handoffs if h["owner"]}
        | {h["from_service"] for h in handoffs if h["from_service"]}
    )


def _check_if_match(current, if_match: str | None) -> None:
    if if_match is not None and if_match.strip() not in (etag(current), "*"):
        raise PreconditionFailed(
            f"If-Match {if_match} does not match the hand-off's current ETag "
            f"{etag(current)}: read it again and retry"
        )


def etag(row) -> str:
    return f'"{row["id"]}.{row["version"]}"'


def handoff_view(row) -> dict:
    return {
        "id": row["id"],
        "referral_id": row.get("referral_id"),
        "from_service": row["from_service"],
        "to_service": row["to_service"],
        "referral_type": row["referral_type"],
        "status": row["status"],
        "business_status": row["business_status"],
        "owner": row["owner"],
        "reason": row["reason"],
        "status_reason": row["status_reason"],
        "question": row["question"],
        "answer": row["answer"],
        "window": row["window"],
        "outcome": row["outcome"],
        "payload": row["payload"],
        "version": row["version"],
        "etag": etag(row),
        "actions": [a for a, t in SERVICE_TRANSITIONS.items() if row["status"] in t.allowed_from],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }
