"""Subscriptions to a referral's milestones: made, listed, rotated and ended by the subscriber's
organisation, with the numbered events each one received, its delivery log and replays. Sending the
deliveries is ``deliveries.py``'s work.

Webhook secrets are stored encrypted (``secrets_at_rest``) and shown once, when made or rotated.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from engine import clock
from engine.errors import InvalidInput, NotFound, SecretUnreadable
from engine.governance.access import visible_referral
from engine.governance.clients import Client
from engine.notifications.channels import (
    check_webhook_url,
    new_secret,
)
from engine.notifications.deliveries import Deliverer
from engine.notifications.milestones import EVENT_TYPES
from engine.notifications.secrets_at_rest import SecretBox
from engine.store import notifications as notification_store
from engine.store.db import Database

log = logging.getLogger(__name__)

DEFAULT_GRACE = timedelta(hours=24)


class Notifications:
    def __init__(
        self,
        database: Database,
        deliverer: Deliverer,
        *,
        secret_box: SecretBox,
        allow_private_urls: bool,
        email_enabled: bool,
    ):
        self._database = database
        self._deliverer = deliverer
        self._box = secret_box
        self._allow_private = allow_private_urls
        self._email_enabled = email_enabled

    def deliver_due(self) -> int:
        """Send every delivery that is due; returns how many attempts were made (``Deliverer``)."""
        return self._deliverer.deliver_due()

    # ---- subscriptions ---------------------------------------------------------------------------------

    def subscribe(
        self,
        client: Client,
        *,
        referral_id: str | None,
        url: str | None,
        email: str | None,
        events: list[str] | None,
        conn=None,
    ) -> dict:
        """Subscribe to one referral's milestones, or (without ``referral_id``) to every referral the
        client's organisation submits. Returns the subscription with its
        webhook secret, which is shown only now."""
        if (url is None) == (email is None):
            raise InvalidInput("give either 'url' (a webhook) or 'email', not both")
        if email is not None and (
            not self._email_enabled
            or "@" not in email
            or len(email) > 320
            or not email.isprintable()
            or " " in email
        ):
            raise InvalidInput(
                "email notifications need a valid address and a configured SMTP server"
                if not self._email_enabled
                else f"{email!r} is not an email address"
            )
        if url is not None:
            check_webhook_url(url, allow_private=self._allow_private)
        secret = new_secret() if url else None
        wanted = list(events or ["*"])
        unknown = set(wanted) - set(EVENT_TYPES) - {"*"}
        if unknown:
            raise InvalidInput(
                f"unknown event type(s) {', '.join(sorted(unknown))} (known: {', '.join(EVENT_TYPES)})"
            )
        row = {
            "id": str(uuid.uuid4()),
            "organisation": client.organisation,
            "created_by": client.id,
            "referral_id": referral_id,
            "all_referrals": referral_id is None,
            "channel": "webhook" if url else "email",
            "url": url,
            "email": email,
            "events": wanted,
            "secret": self._box.seal(secret),
            "status": "active",
            "last_event_number": 0,
            "created_at": clock.now(),
        }
        if conn is not None:
            notification_store.insert_subscription(conn, row)
        else:
            with self._database.write() as own:
                if referral_id is not None:
                    visible_referral(own, referral_id, client)
                notification_store.insert_subscription(own, row)
        return {**subscription_view(row), "secret": secret}

    def list(self, client: Client) -> list[dict]:
        with self._database.read() as conn:
            return [
                subscription_view(s) for s in notification_store.subscriptions_of(conn, client.organisation)
            ]

    def get(self, subscription_id: str, client: Client) -> dict:
        with self._database.read() as conn:
            return subscription_view(self._visible(conn, subscription_id, client))

    def rotate_secret(self, subscription_id: str, client: Client, grace: timedelta = DEFAULT_GRACE) -> dict:
        """A new secret, shown only now; for ``grace`` both the old and the new one sign every delivery."""
        with self._database.write() as conn:
            current = self._visible(conn, subscription_id, client)
            if current["channel"] != "webhook":
                raise InvalidInput("only webhook subscriptions have a secret")
            try:
                previous = self._box.reseal(current["secret"])
            except SecretUnreadable:
                # The key that encrypted it is gone, so it signs nothing any more: a new secret is the way
                # back for the subscriber.
                log.warning("subscription %s: its old secret is unreadable and is dropped", subscription_id)
                previous = None
            secret = new_secret()
            notification_store.update_subscription(
                conn,
                subscription_id,
                {
                    "secret": self._box.seal(secret),
                    "previous_secret": previous,
                    "previous_secret_until": clock.now() + grace,
                },
            )
            return {
                **subscription_view(notification_store.subscription(conn, subscription_id)),
                "secret": secret,
            }

    def reencrypt_secrets(self) -> int:
        """Encrypt every stored secret again with the first key (clear ones for the first time); returns how
        many were. Run after putting a new key first, before dropping the old one."""
        count = 0
        with self._database.write() as conn:
            for row in notification_store.subscriptions_with_secrets(conn):
                values = {
                    column: self._box.reseal(row[column])
                    for column in ("secret", "previous_secret")
                    if row[column] is not None
                }
                notification_store.update_subscription(conn, row["id"], values)
                count += len(values)
        return count

    def seal(self, secret: str | None) -> str | None:
        """``secret`` as it may be stored (in a remembered answer, say)."""
        return self._box.seal(secret)

    def unseal(self, stored: str | None) -> str | None:
        return self._box.open(stored)

    def unsubscribe(self, subscription_id: str, client: Client) -> None:
        with self._database.write() as conn:
            self._visible(conn, subscription_id, client)
            notification_store.update_subscription(
                conn, subscription_id, {"status": "disabled", "disabled_reason": "unsubscribed"}
            )
            notification_store.disable_pending_deliveries(conn, subscription_id)

    def events_since(self, subscription_id: str, since: int, client: Client, limit: int = 500) -> list[dict]:
        """What a receiver missed: the subscription's events numbered above ``since``, in order."""
        with self._database.read() as conn:
            self._visible(conn, subscription_id, client)
            return [
                e["payload"]
                for e in notification_store.notification_events_since(conn, subscription_id, since, limit)
            ]

    def deliveries(
        self, client: Client, *, subscription_id: str | None = None, referral_id: str | None = None
    ) -> list[dict]:
        with self._database.read() as conn:
            if subscription_id is not None:
                self._visible(conn, subscription_id, client)
            if referral_id is not None:
                visible_referral(conn, referral_id, client)
            rows = notification_store.delivery_log(
                conn, subscription_id=subscription_id, referral_id=referral_id
            )
            attempts = {}
            for attempt in notification_store.attempts_of(conn, [r["id"] for r in rows]):
                attempts.setdefault(attempt["delivery_id"], []).append(attempt)
            return [delivery_view(r, attempts.get(r["id"], [])) for r in rows]

    def replay(self, delivery_id: int, client: Client) -> dict:
        """Send a delivery again (a dead-lettered one gets a fresh series of retries)."""
        with self._database.write() as conn:
            row = notification_store.delivery(conn, delivery_id)
            if row is None:
                raise NotFound(f"no delivery {delivery_id}")
            subscription = self._visible(conn, row["subscription_id"], client)
            if subscription["status"] != "active":
                raise InvalidInput(
                    f"the subscription is {subscription['status']}: {subscription['disabled_reason']}"
                )
            notification_store.update_delivery(
                conn,
                delivery_id,
                {"status": "pending", "attempts": 0, "next_attempt_at": clock.now(), "last_error": None},
            )
            return delivery_view(_with_event(conn, notification_store.delivery(conn, delivery_id)), [])

    # ---- internals -------------------------------------------------------------------------------------

    @staticmethod
    def _visible(conn, subscription_id: str, client: Client):
        row = notification_store.subscription(conn, subscription_id)
        if row is None or row["organisation"] != client.organisation:
            raise NotFound(f"no subscription {subscription_id}")
        return row


def _with_event(conn, row):
    event = notification_store.notification_event(conn, row["event_id"])
    return {**row, "number": event["number"], "event_type": event["event_type"]}


def subscription_view(row) -> dict:
    return {
        "id": row["id"],
        "organisation": row["organisation"],
        "referral_id": row["referral_id"],
        "all_referrals": row["all_referrals"],
        "channel": row["channel"],
        "url": row["url"],
        "email": row["email"],
        "events": row["events"],
        "status": row["status"],
        "disabled_reason": row.get("disabled_reason"),
        "last_event_number": row["last_event_number"],
        "created_at": row["created_at"].isoformat(),
    }


def delivery_view(row, attempts) -> dict:
    return {
        "id": row["id"],
        "subscription_id": row["subscription_id"],
        "referral_id": row["referral_id"],
        "event_number": row["number"],
        "event_type": row["event_type"],
        "status": row["status"],
        "attempts": row["attempts"],
        "last_status_code": row["last_status_code"],
        "last_error": row["last_error"],
        "next_attempt_at": row["next_attempt_at"].isoformat() if row["next_attempt_at"] else None,
        "delivered_at": row["delivered_at"].isoformat() if row["delivered_at"] else None,
        "attempt_log": [
            {
                "attempt": a["attempt"],
                "at": a["at"].isoformat(),
                "status_code": a["status_code"],
                "error": a["error"],
                "duration_ms": a["duration_ms"],
            }
            for a in attempts
        ],
    }
