"""Delivering notifications: at least once, in order, never lost.

A delivery is claimed with a lease (its next attempt moved a minute ahead, under SKIP LOCKED) and sent with no
transaction open; the result is recorded only if the claim still holds. A worker that dies mid-delivery
leaves the lease to run out, and the delivery is sent again — with the same ``webhook-id``, so the receiver
can drop the duplicate. Retries back off exponentially with jitter over about three days, then the delivery
is dead-lettered until replayed.

Webhook secrets are decrypted (``secrets_at_rest``) only to sign a delivery. Every attempt is recorded in the
audit trail as a disclosure of the referral's progress, in the transaction that records the attempt. How a
message travels is the channels' business (``channels.py``): the deliverer only asks them to send it.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import timedelta
from urllib.parse import urlparse

from engine import clock
from engine.errors import SecretUnreadable
from engine.governance import audit
from engine.notifications.channels import Attempt, EmailChannel, Message, WebhookChannel
from engine.notifications.secrets_at_rest import SecretBox
from engine.store import notifications as notification_store
from engine.store.db import Database

log = logging.getLogger(__name__)

# Seconds before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 20 h (about three days in all).
RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 72000)
JITTER = 0.1
LEASE = timedelta(seconds=60)
NOTIFIER = "signpost:notifier"  # the audit trail's actor for notifications sent


class Deliverer:
    def __init__(
        self,
        database: Database,
        webhooks: WebhookChannel,
        email: EmailChannel | None,
        *,
        secret_box: SecretBox,
        public_url: str,
        batch_size: int = 50,
        lease: timedelta = LEASE,
    ):
        self._database = database
        self._webhooks = webhooks
        self._email = email
        self._box = secret_box
        self._public_url = public_url.rstrip("/")
        self._batch_size = batch_size
        self._lease = lease

    def deliver_due(self) -> int:
        """Send every delivery that is due; returns how many attempts were made."""
        attempted = 0
        while True:
            now = clock.now()
            lease_until = now + self._lease
            with self._database.write() as conn:
                claimed = notification_store.claim_deliveries(conn, now, lease_until, self._batch_size)
                work = [
                    (
                        row,
                        notification_store.notification_event(conn, row["event_id"]),
                        notification_store.subscription(conn, row["subscription_id"]),
                    )
                    for row in claimed
                ]
            if not work:
                return attempted
            for row, event, subscription in work:
                if clock.now() >= lease_until:
                    # Slow receivers used up the lease: the rest of the batch may be another worker's now,
                    # and a late copy could reach its receiver after the events that follow it.
                    break
                try:
                    self._attempt(row, event, subscription)
                except Exception:
                    # Its attempt could not even be recorded (the store failed): the lease runs out and it
                    # is sent again later; the rest of the batch goes on. Claimed with a lease, it is not
                    # claimed again in this call.
                    log.exception("delivery %s: the attempt could not be recorded", row["id"])
                attempted += 1
            # A claim takes only the head of each subscription's line: once sent, the next event of that
            # subscription is the head, so claim again until nothing is due (a failed head is not due again
            # until its retry, and holds back the events behind it).

    def _attempt(self, row, event, subscription) -> None:
        started = clock.now()
        channel = self._webhooks if subscription["channel"] == "webhook" else self._email
        sent = False
        try:
            message = self._message(event, subscription)
        except SecretUnreadable as unreadable:
            # Retried like an outage: once the missing key is back, the delivery goes out.
            log.error("delivery %s not sent: %s", row["id"], unreadable.message)
            result = Attempt(ok=False, error=unreadable.message)
        except Exception as error:  # a malformed event: a failed attempt, retried and in the end dead
            log.exception("delivery %s not sent: its message could not be made", row["id"])
            result = Attempt(ok=False, error=f"the message could not be made ({type(error).__name__})")
        else:
            sent = channel is not None
            result = _sent(channel, message, row["id"])
        finished = clock.now()
        attempt_number = row["attempts"] + 1
        with self._database.write() as conn:
            values = _outcome(result, attempt_number, finished)
            recorded = notification_store.finish_delivery(conn, row["id"], row["attempts"], values)
            if sent:
                # Recorded even when the lease was lost: the message went out all the same.
                _audit_sent(conn, row, subscription, result)
            if not recorded:
                return  # our lease ran out and another worker owns the delivery now
            notification_store.insert_attempt(
                conn,
                {
                    "delivery_id": row["id"],
                    "attempt": attempt_number,
                    "at": started,
                    "status_code": result.status_code,
                    "error": result.error,
                    "duration_ms": int((finished - started).total_seconds() * 1000),
                },
            )
            if result.gone:
                notification_store.update_subscription(
                    conn,
                    subscription["id"],
                    {"status": "disabled", "disabled_reason": "the endpoint answered 410 Gone"},
                )
                notification_store.disable_pending_deliveries(conn, subscription["id"])

    def _message(self, event, subscription) -> Message:
        payload = event["payload"]
        data = payload["data"]
        secrets_now = tuple(
            self._box.open(s)
            for s in (
                subscription["secret"],
                subscription["previous_secret"]
                if subscription["previous_secret_until"]
                and subscription["previous_secret_until"] > clock.now()
                else None,
            )
            if s
        )
        link = f"{self._public_url}{data['links']['referral']}"
        return Message(
            webhook_id=f"msg_{event['id']}",
            body=json.dumps(payload, separators=(",", ":")),
            url=subscription["url"],
            email=subscription["email"],
            secrets=secrets_now,
            subject=f"Referral {data['reference']}: {data['status_text']}",
            text=(
                f"Referral {data['reference']}\n\n{data['status_text']}.\n\nSee where it is: {link}\n\n"
                f"(Update {data['event_number']} of this subscription.)\n"
            ),
        )


def _sent(channel, message: Message, delivery_id) -> Attempt:
    """The channel's answer; a channel that raises instead of answering is a failed attempt like any other."""
    if channel is None:
        return Attempt(ok=False, error="no SMTP configured")
    try:
        return channel.send(message)
    except Exception as error:
        log.exception("delivery %s: the channel failed", delivery_id)
        return Attempt(ok=False, error=f"sending failed unexpectedly ({type(error).__name__})")


def _audit_sent(conn, delivery, subscription, result: Attempt) -> None:
    """The attempt as a disclosure of the referral's progress to the subscriber: where it went (the webhook's
    host or the email's domain: no path, query string or mailbox), and what the far side answered (its HTTP
    status or SMTP reply code; 0 when nothing answered)."""
    if subscription["channel"] == "webhook":
        recipient = f"webhook {urlparse(subscription['url']).hostname}"
    else:
        recipient = f"email {subscription['email'].rpartition('@')[2]}"
    audit.append(
        conn,
        audit.Entry(
            action="disclose",
            resource=recipient,
            resource_id=subscription["id"],
            referral_id=delivery["referral_id"],
            outcome=result.status_code or 0,
            source=None,
        ),
        actor=NOTIFIER,
        organisation=subscription["organisation"],
        roles=[],
    )


def _outcome(result: Attempt, attempt_number: int, at) -> dict:
    if result.ok:
        return {
            "status": "delivered",
            "delivered_at": at,
            "next_attempt_at": None,
            "last_status_code": result.status_code,
            "last_error": None,
        }
    base = {"last_status_code": result.status_code, "last_error": result.error}
    if result.gone:
        return {**base, "status": "disabled", "next_attempt_at": None}
    if attempt_number > len(RETRY_DELAYS):
        return {**base, "status": "dead", "next_attempt_at": None}
    delay = RETRY_DELAYS[attempt_number - 1] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - jitter
    if result.retry_after_seconds is not None:
        delay = max(delay, min(result.retry_after_seconds, 86400.0))
    return {**base, "status": "pending", "next_attempt_at": at + timedelta(seconds=delay)}
