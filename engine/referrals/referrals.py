"""Referrals: starting a pathway for a person, idempotently, and reading where it has got to."""

from __future__ import annotations

import dataclasses
import keyword
import secrets
import uuid

from engine import clock
from engine.bpmn import LOCAL_NAME
from engine.errors import InvalidInput, NotFound
from engine.governance.access import scope_of, visible_referral
from engine.governance.clients import Client
from engine.governance.idempotency import KeyedRequest, answer_once
from engine.notifications.notifications import Notifications
from engine.pathways.definitions import Definitions
from engine.pathways.forms import form_of_user_task
from engine.pathways.instances import Instances
from engine.pathways.messages import Messages
from engine.pathways.task_claims import claim_user_task, release_user_task
from engine.pathways.variants import choose_variant
from engine.referrals.dwell import dwell_report
from engine.referrals.intake_channels import checked_channel
from engine.referrals.listing import referral_page, task_page
from engine.referrals.nhs_number import checked_verification, validate_nhs_number
from engine.referrals.views import referral_view, task_view, timeline
from engine.routing.transitions import OPEN, SERVICE_TRANSITIONS
from engine.store import handoffs as handoff_store
from engine.store import instances as instance_store
from engine.store import referrals as referral_store
from engine.store import services as service_store
from engine.store.db import Database

START_SCOPE = "referrals.start"
HANDOFF_EVENT_PREFIX = "handoff."
# The hand-off action that delivers each hand-off event to the pathway.
HANDOFF_EVENT_ACTIONS = {transition.message: action for action, transition in SERVICE_TRANSITIONS.items()}
SIGNAL_SCOPE = "signals.send"
# Crockford's base32 without I, L, O, U: a reference read out over the phone cannot be misheard as another.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class Referrals:
    def __init__(
        self,
        database: Database,
        definitions: Definitions,
        instances: Instances,
        messages: Messages,
        notifications: Notifications,
        *,
        approval_required: bool = True,
    ):
        self._messages = messages
        self._approval_required = approval_required
        self._notifications = notifications
        self._database = database
        self._definitions = definitions
        self._instances = instances

    def start(
        self,
        client: Client,
        *,
        pathway: str,
        version: int | None,
        referrer: str,
        subject: str | None,
        data: dict,
        idempotency_key: str | None = None,
        notify: dict | None = None,
        point_of_access: str | None = None,
        subject_verification: str | None = None,
        channel: str | None = None,
    ) -> tuple[dict, bool]:
        """Start ``pathway`` (its latest version unless one is named) for a referral. Returns the referral
        view and whether it is a replay of an earlier request with the same Idempotency-Key."""
        _check_data(data)
        subject = validate_nhs_number(subject) if subject else None
        subject_verification = checked_verification(subject, subject_verification)
        channel = checked_channel(channel)
        request = {
            "pathway": pathway,
            "version": version,
            "referrer": referrer,
            "subject": subject,
            "subject_verification": subject_verification,
            "data": data,
            "notify": notify,
            "point_of_access": point_of_access,
        }
        keyed = KeyedRequest.of(client, START_SCOPE, idempotency_key, request)

        def create() -> dict:
            with self._database.read_once() as conn:
                handled_by = _point_of_access(conn, client, pathway, point_of_access)
                target = self._definitions.startable(
                    pathway, version, approval_required=self._approval_required, conn=conn, at=handled_by
                )
            # How a repeat arrived does not make it another request: the channel stays out of the digest.
            return self._create(client, target, handled_by, {**request, "channel": channel}, keyed)

        answer, replayed = answer_once(self._database, keyed, create)
        return (self._replayed(answer) if replayed else answer), replayed

    def _create(self, client, target, handled_by, request: dict, keyed: KeyedRequest) -> dict:
        referrer, subject, data, notify = (request[k] for k in ("referrer", "subject", "data", "notify"))
        referral_id = str(uuid.uuid4())
        reference = "SP-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
        pathway_data = {
            **data,
            "referral_id": referral_id,
            "reference": reference,
            "referrer": referrer,
            "subject_nhs_number": subject,
        }
        now = clock.now()
        with self._database.write() as conn:
            # The variant for the point of access: Conflict, with nothing changed, when none can run.
            variant = choose_variant(
                conn, target, handled_by, client.organisation, approval_required=self._approval_required
            )
            one_off = None
            if notify:
                # Made before the pathway first runs, so that it hears "received" and everything after.
                one_off = self._notifications.subscribe(
                    client,
                    referral_id=referral_id,
                    url=notify.get("url"),
                    email=notify.get("email"),
                    events=notify.get("events"),
                    conn=conn,
                )
            outcome = self._instances.start(
                conn,
                now,
                version_id=target["id"],
                data=pathway_data,
                local=variant.local,
                actor=client.actor,
                # The organisation rides along so that notifications can find its subscriptions while the
                # instance first runs, before the referral row exists.
                correlation={
                    "referral_id": referral_id,
                    "reference": reference,
                    "organisation": client.organisation,
                },
            )
            referral_store.insert_referral(
                conn,
                id=referral_id,
                reference=reference,
                instance_id=outcome.instance_id,
                pathway_key=target["definition_key"],
                referrer=referrer,
                referrer_organisation=client.organisation,
                subject=subject,
                subject_verification=request["subject_verification"],
                point_of_access=handled_by["id"] if handled_by else None,
                operated_by=handled_by["organisation"] if handled_by else client.organisation,
                channel=request["channel"],
                variant=variant.name,
                created_at=now,
                created_by=client.id,
            )
            view = referral_view(conn, referral_store.referral_overview(conn, referral_id=referral_id), now)
            if one_off is not None:
                view["notification_subscription"] = {"id": one_off["id"], "secret": one_off["secret"]}
            keyed.remember(conn, 201, self._rememberable(view), now)
        return view

    def _rememberable(self, view: dict) -> dict:
        """The answer as it may be stored for replays: a one-off webhook's secret encrypted, as everywhere."""
        one_off = view.get("notification_subscription")
        if one_off is None:
            return view
        sealed = {**one_off, "secret": self._notifications.seal(one_off["secret"])}
        return {**view, "notification_subscription": sealed}

    def _replayed(self, answer: dict) -> dict:
        one_off = answer.get("notification_subscription")
        if one_off is None:
            return answer
        opened = {**one_off, "secret": self._notifications.unseal(one_off["secret"])}
        return {**answer, "notification_subscription": opened}

    def get(self, referral_id: str, viewer: Client) -> dict:
        with self._database.read() as conn:
            return referral_view(conn, visible_referral(conn, referral_id, viewer))

    def complete_task(self, task_id: str, data: dict, client: Client) -> dict:
        """Complete a user task with ``data`` and return its referral as it is afterwards."""
        _check_data(data)
        self.task(task_id, client)
        return self._instances.complete_user_task(
            task_id, data, client.actor, report=self._view_of_instance
        ).report

    def claim_task(self, task_id: str, client: Client) -> dict:
        self.task(task_id, client)
        claimed = claim_user_task(self._database, task_id, client.actor)
        return self.task(claimed["id"], client)

    def deliver_message(
        self, name: str, correlation: dict[str, str], data: dict, client: Client
    ) -> list[dict]:
        """Deliver a message to the referrals waiting for it; returns them as they are afterwards. A
        hand-off event (``handoff.*``) is refused: only the hand-off action moves the hand-off, its OLA clocks
        and the referral's status together with the pathway."""
        _check_data(data)
        if name.startswith(HANDOFF_EVENT_PREFIX):
            action = HANDOFF_EVENT_ACTIONS.get(name, "<action>")
            raise InvalidInput(
                f"'{name}' is a hand-off event: send it as the hand-off action "
                f"POST /api/v1/handoffs/{{handoff id}}/{action} (the referral lists its hand-offs), so that "
                "the hand-off, its OLA clocks and the referral's status move with the pathway"
            )
        outcomes = self._messages.deliver_message(
            name,
            correlation,
            data,
            client.actor,
            report=self._view_of_instance,
            spoken_for=_spoken_for_by(client),
        )
        return [outcome.report for outcome in outcomes]

    def send_signal(self, name: str, data: dict, client: Client, idempotency_key: str | None = None) -> dict:
        """Broadcast a BPMN signal to every referral the client speaks for that waits for it (a signal start
        event included). Returns ``delivered_to``: those referrals as they are afterwards. Each referral
        moves on in its own change; the answer is remembered for the key once all of them have, so a retry
        after a crash reaches those still waiting and no referral twice (a signal, once caught, is no longer
        waited for)."""
        _check_data(data)
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("a signal needs a name")
        keyed = KeyedRequest.of(client, SIGNAL_SCOPE, idempotency_key, {"name": name, "data": data})

        def broadcast() -> dict:
            outcomes = self._messages.deliver_signal(
                name, data, client.actor, report=self._view_of_instance, spoken_for=_spoken_for_by(client)
            )
            answer = {"signal": name, "delivered_to": [outcome.report for outcome in outcomes]}
            with self._database.write() as conn:
                keyed.remember(conn, 202, answer, clock.now())
            return answer

        answer, _replayed = answer_once(self._database, keyed, broadcast)
        return answer

    def retry(self, referral_id: str, data: dict, client: Client) -> dict:
        _check_data(data)
        with self._database.read() as conn:
            instance_id = visible_referral(conn, referral_id, client, operating=True)["instance_id"]
        outcome = self._instances.retry(instance_id, client.actor, data, report=self._view_of_instance)
        return outcome.report

    @classmethod
    def _view_of_instance(cls, conn, instance_id: str) -> dict:
        return referral_view(conn, referral_store.referral_overview(conn, instance_id=instance_id))

    def events(self, referral_id: str, viewer: Client) -> list[dict]:
        """The engine's event log, naming every client that acted: for the point of access's operators (a
        referrer reads the timeline instead)."""
        with self._database.read() as conn:
            referral = visible_referral(conn, referral_id, viewer, operating=True)
            return [_event_view(e) for e in instance_store.events_of(conn, referral["instance_id"])]

    def timeline(self, referral_id: str, viewer: Client) -> list[dict]:
        with self._database.read() as conn:
            return timeline(conn, visible_referral(conn, referral_id, viewer))

    def page(self, viewer: Client, limit: int, after: str | None = None) -> tuple[list[dict], str | None]:
        """A page of the referrals ``viewer`` may see, newest first, and the next page's cursor
        (``engine.referrals.listing``)."""
        with self._database.read() as conn:
            return referral_page(conn, viewer, limit, after)

    def open_for_subject(self, subject: str, viewer: Client) -> list[dict]:
        """Open referrals for a person: what a front-door operator needs to answer a chase call."""
        subject = validate_nhs_number(subject)
        with self._database.read() as conn:
            return [
                referral_view(conn, referral_store.referral_overview(conn, referral_id=referral_id))
                for referral_id in referral_store.open_referrals_of_subject(conn, subject, scope_of(viewer))
            ]

    def instance_id(self, referral_id: str) -> str:
        """The referral's process instance, for the engine's own use (no access rule applies)."""
        with self._database.read() as conn:
            found = referral_store.referral(conn, referral_id)
        if found is None:
            raise NotFound(f"no referral with id {referral_id}")
        return found["instance_id"]

    def tasks(
        self, viewer: Client, *, referral_id: str | None = None, limit: int = 100, **filters
    ) -> list[dict]:
        """The user tasks of the referrals ``viewer``'s point of access works on (``listing.task_page``)."""
        return self.task_page(viewer, limit=limit, referral_id=referral_id, **filters)[0]

    def task_page(self, viewer: Client, *, limit: int, after: str | None = None, **filters):
        """A page of the worklist and the next page's cursor (``engine.referrals.listing``)."""
        with self._database.read() as conn:
            return task_page(conn, viewer, _operator_scope(viewer), limit, after, **filters)

    def dwell(self, viewer: Client, key: str, number: int, start, end) -> dict:
        """Where referrals wait on a pathway version (``engine.referrals.dwell``)."""
        with self._database.read() as conn:
            return dwell_report(conn, viewer, key, number, start, end)

    def release_task(self, task_id: str, client: Client) -> dict:
        self.task(task_id, client)
        release_user_task(self._database, task_id, client.actor)
        return self.task(task_id, client)

    def task(self, task_id: str, viewer: Client, *, with_form: bool = False) -> dict:
        """A task of a referral ``viewer``'s point of access works on; ``with_form`` adds the form it names
        (``{"id", "filename", "schema"}``, or None)."""
        with self._database.read() as conn:
            found = instance_store.list_user_tasks(conn, task_id=task_id, scope=_operator_scope(viewer))
            if not found:
                raise NotFound(f"no task with id {task_id}")
            if not with_form:
                return task_view(found[0])
            form = form_of_user_task(conn, self._definitions.pathway, found[0])
        return {**task_view(found[0]), "form": form.view() if form is not None else None}


def _spoken_for_by(client: Client):
    """Which of some instances ``client`` may move on by message or signal: a service those routed to its
    organisation, an operator those its point of access works on."""

    def spoken_for(conn, instance_ids: list[str]) -> list[str]:
        found = set()
        if "service" in client.roles:
            found.update(
                handoff_store.routed_to_organisation(conn, instance_ids, client.organisation, statuses=OPEN)
            )
        if "operator" in client.roles:
            found.update(referral_store.instances_in_scope(conn, instance_ids, _operator_scope(client)))
        return [i for i in instance_ids if i in found]

    return spoken_for


def _operator_scope(operator: Client):
    """Tasks are an operator's work: the scope without the referrals its organisation merely submitted."""
    scope = scope_of(operator)
    return dataclasses.replace(scope, submitted_by=None)


def _point_of_access(conn, client: Client, pathway_key: str, named: str | None):
    """The point of access that will work on a new referral: the one named, else the operator's own, else the
    one that handles the pathway. None when no point of access handles it (the submitting organisation's
    operators then work on it)."""
    if named is None and "operator" in client.roles and client.service:
        named = client.service
    if named is not None:
        found = service_store.service(conn, named)
        if found is None or found["kind"] != "point-of-access":
            raise InvalidInput(f"'{named}' is not a point of access in the service directory")
        return found
    handling = service_store.points_of_access_for(conn, pathway_key)
    if len(handling) > 1:
        raise InvalidInput(
            f"several points of access handle '{pathway_key}': name one in 'point_of_access' "
            f"({', '.join(sorted(s['id'] for s in handling))})"
        )
    return handling[0] if handling else None


def _check_data(data) -> None:
    if not isinstance(data, dict):
        raise InvalidInput("'data' must be a JSON object")
    bad = [k for k in data if not k.isidentifier() or keyword.iskeyword(k) or k.startswith("_")]
    if bad or LOCAL_NAME in data:
        raise InvalidInput(
            f"data keys must be plain identifiers (letters, digits, '_', not starting with '_'), so that "
            f"pathway expressions can use them, and not '{LOCAL_NAME}' (a blueprint's parameters): "
            + ", ".join(map(repr, bad or [LOCAL_NAME]))
        )


def _event_view(row) -> dict:
    return {
        "id": row["id"],
        "at": row["at"].isoformat(),
        "kind": row["kind"],
        "task_id": row["task_id"],
        "task_name": row["task_name"],
        "actor": row["actor"],
        "detail": row["detail"],
    }
