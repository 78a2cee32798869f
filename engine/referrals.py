"""Referrals: starting a pathway for a person, idempotently, and reading where it has got to."""

from __future__ import annotations

import keyword
import secrets
import uuid

from sqlalchemy.exc import IntegrityError

from engine import clock
from engine.clients import Client
from engine.definitions import Definitions
from engine.errors import InvalidInput, NotFound
from engine.idempotency import earlier_answer, remember_answer, request_digest
from engine.instances import Instances
from engine.nhs_number import validate_nhs_number
from engine.notifications import Notifications
from engine.referral_view import referral_view, task_view, timeline
from engine.store import repository as repo
from engine.store.db import Database

START_SCOPE = "referrals.start"
# Crockford's base32 without I, L, O, U: a reference read out over the phone cannot be misheard as another.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class Referrals:
    def __init__(
        self,
        database: Database,
        definitions: Definitions,
        instances: Instances,
        notifications: Notifications,
        *,
        approval_required: bool = True,
    ):
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
    ) -> tuple[dict, bool]:
        """Start ``pathway`` (its latest version unless one is named) for a referral. Returns the referral
        view and whether it is a replay of an earlier request with the same Idempotency-Key."""
        _check_data(data)
        subject = validate_nhs_number(subject) if subject else None
        request = {
            "pathway": pathway,
            "version": version,
            "referrer": referrer,
            "subject": subject,
            "data": data,
            "notify": notify,
        }
        request_sha256 = request_digest(request)
        if idempotency_key:
            replay = earlier_answer(self._database, client, START_SCOPE, idempotency_key, request_sha256)
            if replay is not None:
                return replay, True
        target = self._definitions.startable(pathway, version, approval_required=self._approval_required)
        try:
            return self._create(
                client, target, referrer, subject, data, idempotency_key, request_sha256, notify
            ), False
        except IntegrityError:
            if idempotency_key:
                replay = earlier_answer(self._database, client, START_SCOPE, idempotency_key, request_sha256)
                if replay is not None:
                    return replay, True  # a concurrent request with the same key won the race
            raise

    def _create(
        self, client, target, referrer, subject, data, idempotency_key, request_sha256, notify
    ) -> dict:
        referral_id = str(uuid.uuid4())
        reference = "SP-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
        pathway_data = {
            **data,
            "referral_id": referral_id,
            "reference": reference,
            "referrer": referrer,
            "subject_nhs_number": subject,
        }
        with self._database.write() as conn:
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
                version_id=target["id"],
                data=pathway_data,
                actor=client.actor,
                # The organisation rides along so that notifications can find its subscriptions while the
                # instance first runs, before the referral row exists.
                correlation={
                    "referral_id": referral_id,
                    "reference": reference,
                    "organisation": client.organisation,
                },
            )
            repo.insert_referral(
                conn,
                id=referral_id,
                reference=reference,
                instance_id=outcome.instance_id,
                pathway_key=target["definition_key"],
                referrer=referrer,
                referrer_organisation=client.organisation,
                subject=subject,
                created_at=clock.now(),
                created_by=client.id,
            )
            view = referral_view(conn, repo.referral_overview(conn, referral_id=referral_id))
            if one_off is not None:
                view["notification_subscription"] = {"id": one_off["id"], "secret": one_off["secret"]}
            if idempotency_key:
                remember_answer(conn, client, START_SCOPE, idempotency_key, request_sha256, 201, view)
        return view

    def get(self, referral_id: str, viewer: Client) -> dict:
        with self._database.read() as conn:
            return referral_view(conn, self._visible_referral(conn, referral_id, viewer))

    def complete_task(self, task_id: str, data: dict, client: Client) -> dict:
        """Complete a user task with ``data`` and return its referral as it is afterwards."""
        _check_data(data)
        return self._instances.complete_user_task(
            task_id, data, client.actor, report=self._view_of_instance
        ).report

    def claim_task(self, task_id: str, client: Client) -> dict:
        claimed = self._instances.claim_user_task(task_id, client.actor)
        return self.task(claimed["id"])

    def deliver_message(
        self, name: str, correlation: dict[str, str], data: dict, client: Client
    ) -> list[dict]:
        """Deliver a message to the referrals waiting for it; returns them as they are afterwards."""
        _check_data(data)
        speaks_for_all = client.roles & {"admin", "operator"}
        outcomes = self._instances.deliver_message(
            name,
            correlation,
            data,
            client.actor,
            report=self._view_of_instance,
            routed_to_organisation=None if speaks_for_all else client.organisation,
        )
        return [outcome.report for outcome in outcomes]

    def retry(self, referral_id: str, data: dict, client: Client) -> dict:
        _check_data(data)
        outcome = self._instances.retry(
            self.instance_id(referral_id), client.actor, data, report=self._view_of_instance
        )
        return outcome.report

    @classmethod
    def _view_of_instance(cls, conn, instance_id: str) -> dict:
        return referral_view(conn, repo.referral_overview(conn, instance_id=instance_id))

    def events(self, referral_id: str, viewer: Client) -> list[dict]:
        with self._database.read() as conn:
            referral = self._visible_referral(conn, referral_id, viewer)
            return [_event_view(e) for e in repo.events_of(conn, referral["instance_id"])]

    def timeline(self, referral_id: str, viewer: Client) -> list[dict]:
        with self._database.read() as conn:
            return timeline(conn, self._visible_referral(conn, referral_id, viewer))

    def open_for_subject(self, subject: str, viewer: Client) -> list[dict]:
        """Open referrals for a person: what a front-door operator needs to answer a chase call."""
        subject = validate_nhs_number(subject)
        organisation = None if viewer.roles & {"admin", "operator"} else viewer.organisation
        with self._database.read() as conn:
            return [
                referral_view(conn, repo.referral_overview(conn, referral_id=referral_id))
                for referral_id in repo.open_referrals_of_subject(conn, subject, organisation)
            ]

    def instance_id(self, referral_id: str) -> str:
        with self._database.read() as conn:
            return self._referral(conn, referral_id)["instance_id"]

    def tasks(
        self,
        *,
        referral_id: str | None = None,
        lane: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict]:
        with self._database.read() as conn:
            instance_ids = None
            if referral_id is not None:
                instance_ids = [self._referral(conn, referral_id)["instance_id"]]
            return [
                task_view(t)
                for t in repo.list_user_tasks(
                    conn, instance_ids=instance_ids, lane=lane, status=status, limit=limit
                )
            ]

    def task(self, task_id: str) -> dict:
        with self._database.read() as conn:
            found = repo.list_user_tasks(conn, task_id=task_id)
        if not found:
            raise NotFound(f"no task with id {task_id}")
        return task_view(found[0])

    @classmethod
    def _visible_referral(cls, conn, referral_id: str, viewer: Client):
        referral = cls._referral(conn, referral_id)
        sees_all = viewer.roles & {"admin", "operator"}
        if not sees_all and referral["referrer_organisation"] != viewer.organisation:
            # Not 403: whether a referral exists is itself information another organisation may not have.
            raise NotFound(f"no referral with id {referral_id}")
        return referral

    @staticmethod
    def _referral(conn, referral_id: str):
        found = repo.referral_overview(conn, referral_id=referral_id)
        if found is None:
            raise NotFound(f"no referral with id {referral_id}")
        return found


def _check_data(data) -> None:
    if not isinstance(data, dict):
        raise InvalidInput("'data' must be a JSON object")
    bad = [k for k in data if not k.isidentifier() or keyword.iskeyword(k) or k.startswith("_")]
    if bad:
        raise InvalidInput(
            f"data keys must be plain identifiers (letters, digits, '_', not starting with '_'), "
            f"so that pathway expressions can use them: {', '.join(map(repr, bad))}"
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
