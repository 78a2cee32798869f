"""A person's data: exported whole for a subject access request, and removed when its retention ends.

Retention runs from the end of a referral (its pathway completed or cancelled). When it has passed, the
referral keeps what the service needs to account for itself — its id and reference, pathway, dates, who
held it when, hand-off statuses and transitions, OLA clocks, notifications sent and the audit trail — and
loses what identifies or describes the person: the NHS number, the referrer's free text, the pathway's
data and state, event and transition details, hand-off payloads, questions, answers, outcomes and reasons.
Each redaction is itself a record in the audit trail.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from engine import clock
from engine.governance import audit
from engine.governance.clients import Client
from engine.referrals.nhs_number import validate_nhs_number
from engine.referrals.views import referral_view
from engine.store import audit_log as audit_store
from engine.store import handoffs as handoff_store
from engine.store import idempotency_keys as idempotency_store
from engine.store import instances as instance_store
from engine.store import notifications as notification_store
from engine.store import referrals as referral_store
from engine.store.db import Database

RETENTION_ACTOR = "signpost:retention"
# Stored answers to Idempotency-Key requests hold the referral as it was then; a retry comes within
# minutes, so a week is ample and keeps copies of personal data from outliving their use.
IDEMPOTENCY_WINDOW = timedelta(days=7)
REDACTION_BATCH = 100


class PersonalData:
    def __init__(self, database: Database, retention: timedelta):
        self._database = database
        self._retention = retention

    def subject_access_export(self, subject: str, requester: Client) -> dict:
        """Everything held about the person with NHS number ``subject``, in every referral ``requester``
        audits (``audit.audits_referral``: its organisation's, or all for a platform auditor): for a subject
        access request, answered by the information governance team. Each referral disclosed is a record
        in the audit trail."""
        subject = validate_nhs_number(subject)
        with self._database.write() as conn:
            referral_ids = [
                referral_id
                for referral_id in referral_store.referrals_of_subject(conn, subject)
                if audit.audits_referral(conn, requester, referral_id)
            ]
            exported = [self._export_referral(conn, referral_id) for referral_id in referral_ids]
            for referral_id in referral_ids:
                audit.append(
                    conn,
                    audit.Entry("disclose", "subject access export", referral_id, referral_id, 200, None),
                    actor=requester.actor,
                    organisation=requester.organisation,
                    roles=sorted(requester.roles),
                )
        return {
            "subject": subject,
            "exported_at": clock.now().isoformat(),
            "retention_days": self._retention.days,
            "referrals": exported,
        }

    @staticmethod
    def _export_referral(conn, referral_id: str) -> dict:
        overview = referral_store.referral_overview(conn, referral_id=referral_id)
        instance_id = overview["instance_id"]
        view = referral_view(conn, overview)
        handoffs = []
        for handoff in handoff_store.handoffs_of_instance(conn, instance_id):
            handoffs.append(
                {
                    **_plain(handoff),
                    "transitions": [
                        _plain(t) for t in handoff_store.transitions_of_handoff(conn, handoff["id"])
                    ],
                }
            )
        return {
            "referral": view,
            "events": [_plain(e) for e in instance_store.events_of(conn, instance_id)],
            "handoffs": handoffs,
            "notifications": [
                _plain(d) for d in notification_store.delivery_log(conn, referral_id=referral_id)
            ],
            "access_log": [
                audit.record_view(a)
                for a in audit_store.audit_records(conn, referral_id=referral_id, limit=100_000)
            ],
        }

    def redact_expired(self, now: datetime | None = None) -> int:
        """Redact every referral whose retention has passed (in batches, each its own transaction); forget
        old idempotency answers. Returns how many referrals were redacted."""
        now = now or clock.now()
        ended_before = now - self._retention
        redacted = 0
        while True:
            with self._database.write() as conn:
                due = referral_store.referrals_due_for_redaction(conn, ended_before, REDACTION_BATCH)
                for referral in due:
                    _redact(conn, referral, now)
            redacted += len(due)
            if len(due) < REDACTION_BATCH:
                break
        with self._database.write() as conn:
            idempotency_store.forget_idempotency_answers(conn, now - IDEMPOTENCY_WINDOW)
        return redacted


def _redact(conn, referral, now: datetime) -> None:
    referral_store.redact_referral(conn, referral["id"], referral["instance_id"], now)
    audit.append(
        conn,
        audit.Entry("redact", "retention period ended", referral["id"], referral["id"], 200, None),
        actor=RETENTION_ACTOR,
        organisation=None,
        roles=[],
    )


def _plain(row) -> dict:
    """A row as JSON-ready values: date-times as ISO 8601, JSON text parsed."""
    plain = {}
    for key, value in dict(row).items():
        if isinstance(value, datetime):
            value = value.isoformat()
        plain[key] = value
    if isinstance(plain.get("data"), str):
        plain["data"] = json.loads(plain["data"])
    return plain
