"""The database schema. Alembic migrations in ``migrations/`` create exactly these tables.

Longer than 400 lines because it is the whole schema, declared once and in one place: the migrations are
checked against all of it at once (tests/test_architecture.py), and each feature's queries in this package
name the tables they own.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone, so it is restored on read)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are never stored: give a UTC instant")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


api_clients = sa.Table(
    "api_clients",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("organisation", sa.String(200), nullable=False),
    sa.Column("roles", sa.JSON, nullable=False),
    # None for clients that sign in through the configured OpenID Connect issuer instead of a token.
    sa.Column("token_hash", sa.String(64), unique=True),
    # "<issuer> <subject>" of a client known from its OpenID Connect tokens.
    sa.Column("external_subject", sa.String(600), unique=True),
    # The point of access an operator works at: it sees that point of access's referrals and tasks only.
    sa.Column("service", sa.String(100)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("last_used_at", UTCDateTime),
    # The person the client acts for (a staff number, an email): the two-person approval rule compares these.
    sa.Column("person", sa.String(200)),
    # The client that created this one; None for the start-up admin, the command line and OIDC sign-ins.
    sa.Column("created_by", sa.Integer),
)

definitions = sa.Table(
    "definitions",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(500)),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

definition_versions = sa.Table(
    "definition_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("definition_key", sa.ForeignKey("definitions.key"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("process_id", sa.String(200), nullable=False),
    sa.Column("compiled_spec", sa.Text, nullable=False),
    sa.Column("serializer_version", sa.String(20), nullable=False),
    sa.Column("deployed_by", sa.String(200), nullable=False),
    sa.Column("deployed_at", UTCDateTime, nullable=False),
    # Clinical safety: a version is a draft until a second person with the clinical-approver role approves it.
    sa.Column("approval", sa.String(20), nullable=False, server_default="draft"),
    sa.Column("approved_by", sa.String(200)),
    sa.Column("approved_at", UTCDateTime),
    # Why the approver approved it, in their words (1 to 2,000 characters).
    sa.Column("approval_reason", sa.String(2000)),
    sa.UniqueConstraint("definition_key", "number"),
    sa.UniqueConstraint("definition_key", "sha256"),
)

definition_files = sa.Table(
    "definition_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version_id", sa.ForeignKey("definition_versions.id"), nullable=False, index=True),
    sa.Column("filename", sa.String(300), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
)

# ---- Staged go-live: which approved version new referrals start on, per point of access, from when ---------

# One row per go-live (engine/pathways/go_lives.py): a version made live from a time at some points of access
# (go_live_points). "baseline" is what was live everywhere before a pathway's first go-live.
go_lives = sa.Table(
    "go_lives",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("definition_key", sa.ForeignKey("definitions.key"), nullable=False, index=True),
    sa.Column("version_id", sa.ForeignKey("definition_versions.id"), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("live_from", UTCDateTime, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("organisation", sa.String(200), nullable=False),
    sa.Column("reason", sa.String(2000), nullable=False),
)

# Where a go-live applies: one row per point of access (a service id), or one row with none for every point of
# access. Rolling back marks the row; it is never deleted.
go_live_points = sa.Table(
    "go_live_points",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("go_live_id", sa.ForeignKey("go_lives.id"), nullable=False, index=True),
    sa.Column("point_of_access", sa.String(100)),
    sa.Column("rolled_back_at", UTCDateTime),
    sa.Column("rolled_back_by", sa.String(200)),
    sa.Column("rollback_reason", sa.String(2000)),
)

# ---- Blueprints: one diagram with local variants (engine/pathways/blueprints.py) ---------------------------

# The parameters a version's process declares in its <process id>.variants.toml, as declared (with defaults).
version_blueprints = sa.Table(
    "version_blueprints",
    metadata,
    sa.Column("version_id", sa.ForeignKey("definition_versions.id"), primary_key=True),
    sa.Column("process_id", sa.String(200), primary_key=True),
    sa.Column("filename", sa.String(300), nullable=False),
    sa.Column("parameters", sa.JSON, nullable=False),
)

# The variants of a version's own process: the values they give and where they apply. Each is clinically
# approved on its own, like the version.
pathway_variants = sa.Table(
    "pathway_variants",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version_id", sa.ForeignKey("definition_versions.id"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("description", sa.String(2000)),
    sa.Column("points_of_access", sa.JSON, nullable=False),
    sa.Column("organisation", sa.String(200)),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("approval", sa.String(20), nullable=False, server_default="draft"),
    sa.Column("approved_by", sa.String(200)),
    sa.Column("approved_at", UTCDateTime),
    sa.Column("approval_reason", sa.String(2000)),
    sa.UniqueConstraint("version_id", "name"),
)

instances = sa.Table(
    "instances",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("version_id", sa.ForeignKey("definition_versions.id"), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("state", sa.Text, nullable=False),
    # The business data after the last step, as plain JSON: status reads never deserialize the state.
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("serializer_version", sa.String(20), nullable=False),
    # Bumped on every save: a writer that read an older lock_version has lost the race.
    sa.Column("lock_version", sa.Integer, nullable=False),
    sa.Column("incident_task", sa.String(200)),
    sa.Column("incident_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("completed_at", UTCDateTime, index=True),
)

instance_events = sa.Table(
    "instance_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("instance_id", sa.ForeignKey("instances.id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("task_id", sa.String(36)),
    sa.Column("task_name", sa.String(200)),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("detail", sa.JSON),
    sa.Index("ix_instance_events_instance_id_id", "instance_id", "id"),
)

# What each instance is waiting for, rewritten after every step. Timers are found by due_at; a worker
# claims due rows (later with SKIP LOCKED) after locking the instance row.
waits = sa.Table(
    "waits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("instance_id", sa.ForeignKey("instances.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("due_at", UTCDateTime),
    sa.Index("ix_waits_kind_due_at", "kind", "due_at"),
    sa.Index("ix_waits_kind_name", "kind", "name"),
)

correlations = sa.Table(
    "correlations",
    metadata,
    sa.Column("instance_id", sa.ForeignKey("instances.id"), primary_key=True),
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.String(300), nullable=False),
    sa.Index("ix_correlations_key_value", "key", "value"),
)

user_tasks = sa.Table(
    "user_tasks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("instance_id", sa.ForeignKey("instances.id"), nullable=False, index=True),
    sa.Column("element_id", sa.String(200), nullable=False),
    sa.Column("title", sa.String(500)),
    sa.Column("lane", sa.String(200), index=True),
    # No index of its own: open tasks are found through ix_user_tasks_open_due_order, an instance's by
    # instance_id (an index on status alone tempts SQLite's planner away from the worklist's order).
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("claimed_by", sa.String(200)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("completed_at", UTCDateTime),
    sa.Column("completed_by", sa.String(200)),
    # From the task's camunda:priority and camunda:dueDate (engine/bpmn/user_tasks.py); at_risk_from is the
    # last quarter of the time it was given, when the worklist calls it due soon.
    sa.Column("priority", sa.String(40)),
    sa.Column("due_at", UTCDateTime),
    sa.Column("at_risk_from", UTCDateTime),
    # The worklist's order: due_at, or NO_DUE_TIME for a task without one (after every due time), so that
    # one index serves "soonest due first" on every database. Only open tasks are in it: completed ones,
    # which pile up, are never walked past.
    sa.Column("due_order", UTCDateTime),
    sa.Index(
        "ix_user_tasks_open_due_order",
        "due_order",
        "created_at",
        "id",
        sqlite_where=sa.text("status IN ('ready', 'claimed')"),
        postgresql_where=sa.text("status IN ('ready', 'claimed')"),
    ),
    # The open tasks due soon or overdue: few, found by a range of this index rather than a walk of all.
    sa.Index(
        "ix_user_tasks_open_at_risk_from",
        "at_risk_from",
        sqlite_where=sa.text("status IN ('ready', 'claimed')"),
        postgresql_where=sa.text("status IN ('ready', 'claimed')"),
    ),
)
# Where a task without a due time sorts in the worklist.
NO_DUE_TIME = datetime(9999, 12, 31, tzinfo=UTC)

referrals = sa.Table(
    "referrals",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("reference", sa.String(20), nullable=False, unique=True),
    sa.Column("instance_id", sa.ForeignKey("instances.id"), nullable=False, unique=True),
    sa.Column("pathway_key", sa.String(200), nullable=False, index=True),
    sa.Column("referrer", sa.String(300), nullable=False),
    sa.Column("referrer_organisation", sa.String(200), nullable=False, index=True),
    sa.Column("subject", sa.String(20), index=True),
    # NHS Number Status Indicator, in words: how far the subject's NHS number has been traced and verified.
    sa.Column("subject_verification", sa.String(40)),
    # The point of access that handles the referral for its person, and the organisation whose operators
    # work on it (the point of access's organisation, or the referrer's when the pathway names none).
    sa.Column("point_of_access", sa.String(100)),
    sa.Column("operated_by", sa.String(200), nullable=False, index=True),
    # How the referral arrived (engine.referrals.intake_channels); None if it came before that was kept.
    sa.Column("channel", sa.String(20)),
    # The variant of a blueprint pathway the referral runs (pathway_variants.name of its version), if any.
    sa.Column("variant", sa.String(100)),
    # When the referral's personal data was removed at the end of its retention period.
    sa.Column("redacted_at", UTCDateTime),
    sa.Column("cancelled_at", UTCDateTime),
    sa.Column("cancel_reason", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("api_clients.id"), nullable=False),
    # A referrer's or a point of access's referrals, newest first, a page at a time (keyset pagination).
    sa.Index("ix_referrals_referrer_organisation_created_at_id", "referrer_organisation", "created_at", "id"),
    sa.Index("ix_referrals_point_of_access_created_at_id", "point_of_access", "created_at", "id"),
    sa.Index("ix_referrals_operated_by_created_at_id", "operated_by", "created_at", "id"),
)

# A repeat contact ("where's my nurse?") recorded on the open referral it was about, by the repeat contact
# pathway (engine/referrals/repeat_contacts.py): failure demand, counted per organisation pair (OLA report).
repeat_contacts = sa.Table(
    "repeat_contacts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("referral_id", sa.ForeignKey("referrals.id"), nullable=False, index=True),
    # The contact's own instance: its referral row does not exist yet while the pathway first runs.
    sa.Column("contact_instance_id", sa.ForeignKey("instances.id"), nullable=False, index=True),
    # What the caller was told: the open referral's status as it stood, without free text.
    sa.Column("answer", sa.Text, nullable=False),
    # Who held the open referral when the caller asked: the service and the organisation pair of its latest
    # open hand-off (from None: the referrer), or its point of access before any hand-off was made.
    sa.Column("held_by_service", sa.String(100)),
    sa.Column("from_organisation", sa.String(200)),
    sa.Column("to_organisation", sa.String(200), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False, index=True),
    sa.UniqueConstraint("referral_id", "contact_instance_id"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("client_id", sa.Integer, sa.ForeignKey("api_clients.id"), primary_key=True),
    sa.Column("scope", sa.String(100), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request_sha256", sa.String(64), nullable=False),
    sa.Column("response_status", sa.Integer, nullable=False),
    sa.Column("response_body", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
)

# ---- Routing: the service directory and hand-offs between services ---------------------------------------

services = sa.Table(
    "services",
    metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("organisation", sa.String(200), nullable=False, index=True),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("accepts", sa.JSON, nullable=False),
    # For a point of access: the pathways (definition keys) whose referrals it handles.
    sa.Column("pathways", sa.JSON, nullable=False, server_default="[]"),
    sa.Column("calendar", sa.String(100), nullable=False),
    sa.Column("delivery", sa.JSON, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
)

handoffs = sa.Table(
    "handoffs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    # The referral is the one whose instance this is (referrals.instance_id); routing happens while the
    # instance runs, which at the start of a referral is before the referral row exists.
    sa.Column("instance_id", sa.ForeignKey("instances.id"), nullable=False, index=True),
    sa.Column("element_id", sa.String(200)),
    sa.Column("from_service", sa.String(100)),
    sa.Column("to_service", sa.ForeignKey("services.id"), nullable=False),
    sa.Column("referral_type", sa.String(100), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("business_status", sa.String(500)),
    # Who holds the ball: a service id, or "referrer" while an information request is outstanding.
    sa.Column("owner", sa.String(100), nullable=False),
    # Why it was routed; and why it was rejected, transferred or cancelled (kept apart so neither is lost).
    sa.Column("reason", sa.Text),
    sa.Column("status_reason", sa.Text),
    sa.Column("question", sa.Text),
    sa.Column("answer", sa.JSON),
    sa.Column("window", sa.String(200)),
    sa.Column("outcome", sa.Text),
    sa.Column("status_before_hold", sa.String(20)),
    sa.Column("payload", sa.JSON, nullable=False),
    # The calendar the pathway agreed for the receiver's OLA clocks (a blueprint variant's), if it named one.
    sa.Column("calendar", sa.String(100)),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_handoffs_to_service_status", "to_service", "status"),
)

handoff_transitions = sa.Table(
    "handoff_transitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("handoff_id", sa.ForeignKey("handoffs.id"), nullable=False, index=True),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("from_status", sa.String(20)),
    sa.Column("to_status", sa.String(20), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("detail", sa.JSON),
)

# One row: a value that every writer of the service directory, the OLA terms and the calendar closures
# replaces in its own transaction, so that a process may keep what it read of them until it changes
# (engine/store/reference_data.py).
reference_versions = sa.Table(
    "reference_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)

# ---- Two-way OLAs: terms, and one clock per obligation per hand-off --------------------------------------

ola_terms = sa.Table(
    "ola_terms",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("terms", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
)

ola_clocks = sa.Table(
    "ola_clocks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("handoff_id", sa.ForeignKey("handoffs.id"), nullable=False, index=True),
    sa.Column("instance_id", sa.ForeignKey("instances.id"), nullable=False, index=True),
    sa.Column("ola", sa.String(200), nullable=False),
    sa.Column("obligation", sa.String(100), nullable=False),
    sa.Column("party", sa.String(20), nullable=False),
    # Copied from the hand-off so that reports group without joins.
    sa.Column("from_service", sa.String(100)),
    sa.Column("to_service", sa.String(100), nullable=False),
    sa.Column("from_organisation", sa.String(200)),
    sa.Column("to_organisation", sa.String(200), nullable=False),
    sa.Column("referral_type", sa.String(100), nullable=False),
    sa.Column("calendar", sa.String(100), nullable=False),
    sa.Column("target_seconds", sa.Integer, nullable=False),
    sa.Column("warn_at", sa.JSON, nullable=False),
    sa.Column("rules", sa.JSON, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("running_since", UTCDateTime),
    sa.Column("accumulated_seconds", sa.Float, nullable=False),
    sa.Column("due_at", UTCDateTime),
    sa.Column("warnings_sent", sa.Integer, nullable=False),
    # The next instant this clock needs attention (a warning threshold or its breach); null unless running.
    sa.Column("next_check_at", UTCDateTime),
    sa.Column("stopped_at", UTCDateTime),
    sa.Column("breached_at", UTCDateTime),
    sa.Column("business_seconds_to_stop", sa.Float),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_ola_clocks_state_next_check_at", "state", "next_check_at"),
    sa.Index("ix_ola_clocks_state_due_at", "state", "due_at"),
    sa.Index("ix_ola_clocks_stopped_at", "stopped_at"),
    # The obligations still owed, by state and due time: a duty manager's board walks this, never the
    # breached clocks met late, which pile up as history.
    sa.Index(
        "ix_ola_clocks_open_state_due_at",
        "state",
        "due_at",
        sqlite_where=sa.text("stopped_at IS NULL"),
        postgresql_where=sa.text("stopped_at IS NULL"),
    ),
)

# Every milestone of a referral's journey, written in the same transaction as the change that caused it;
# notifications to subscribers are fanned out from here (see ``notification_events``).
milestones = sa.Table(
    "milestones",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("referral_id", sa.String(36), index=True),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

calendar_closures = sa.Table(
    "calendar_closures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("calendar", sa.String(100), nullable=False, index=True),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# ---- Notifications: subscriptions, their numbered events, and deliveries ---------------------------------

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("organisation", sa.String(200), nullable=False, index=True),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("api_clients.id"), nullable=False),
    # One referral, or (when null) every referral the organisation submits — any referral for an admin's.
    sa.Column("referral_id", sa.String(36), index=True),
    sa.Column("all_referrals", sa.Boolean, nullable=False),
    sa.Column("channel", sa.String(10), nullable=False),
    sa.Column("url", sa.String(2000)),
    sa.Column("email", sa.String(320)),
    sa.Column("events", sa.JSON, nullable=False),
    sa.Column("secret", sa.String(200)),
    sa.Column("previous_secret", sa.String(200)),
    sa.Column("previous_secret_until", UTCDateTime),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("disabled_reason", sa.Text),
    sa.Column("last_event_number", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

notification_events = sa.Table(
    "notification_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subscription_id", sa.ForeignKey("subscriptions.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("referral_id", sa.String(36), nullable=False, index=True),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("subscription_id", "number"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.ForeignKey("notification_events.id"), nullable=False, unique=True),
    sa.Column("subscription_id", sa.ForeignKey("subscriptions.id"), nullable=False, index=True),
    sa.Column("referral_id", sa.String(36), nullable=False, index=True),
    # pending (due at next_attempt_at) | delivered | dead (attempts exhausted) | disabled (endpoint gone)
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.ForeignKey("deliveries.id"), nullable=False, index=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("duration_ms", sa.Integer),
)

# ---- Audit: an append-only, hash-chained record of every request that reads or changes referral data ------

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("organisation", sa.String(200)),
    sa.Column("roles", sa.JSON, nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("resource", sa.String(300), nullable=False),
    sa.Column("resource_id", sa.String(100)),
    sa.Column("referral_id", sa.String(36), index=True),
    sa.Column("outcome", sa.Integer, nullable=False),
    sa.Column("source", sa.String(100)),
    # The chain (lane) the record belongs to: its ``previous_hash`` is the hash of the lane's record before.
    sa.Column("lane", sa.Integer, nullable=False, server_default="1"),
    # The key whose HMAC ``hash`` is; None for records chained with plain SHA-256 before the chain was keyed.
    sa.Column("key_id", sa.String(40)),
    sa.Column("previous_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_log_lane_id", "lane", "id"),
)

# The referrals a record concerns besides its ``referral_id``: those a list or search answer returned, or a
# change touched. Covered by the record's hash.
audit_referrals = sa.Table(
    "audit_referrals",
    metadata,
    sa.Column("record_id", sa.ForeignKey("audit_log.id"), primary_key=True),
    sa.Column("referral_id", sa.String(36), primary_key=True, index=True),
)

# One row per lane: the hash and id of the lane's newest record. A writer locks a lane nobody else holds
# (SKIP LOCKED), so several processes append at once, each lane's records chaining in one order.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("last_id", sa.Integer, nullable=False),
)

# ---- External service tasks: work a pathway waits on that workers outside Signpost fetch and lock ---------

# One row per external task an instance waits on, rewritten with the instance's other indexes after every
# change (a finished task's row goes). Workers lock a row for a lease; "failed" marks the task whose failure
# put the instance in incident (retrying the instance makes it "open" again).
external_tasks = sa.Table(
    "external_tasks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("instance_id", sa.ForeignKey("instances.id"), nullable=False, index=True),
    sa.Column("element_id", sa.String(200), nullable=False),
    sa.Column("title", sa.String(500)),
    sa.Column("topic", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    # The API client (actor) and the worker (its own name for itself) holding the lease, until when.
    sa.Column("locked_by", sa.String(200)),
    sa.Column("worker_id", sa.String(200)),
    sa.Column("lock_expires_at", UTCDateTime),
    # What the last failure reported: the retries left, and when the work may be fetched again.
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("retries", sa.Integer),
    sa.Column("available_at", UTCDateTime),
    sa.Column("error_message", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_external_tasks_topic_status", "topic", "status"),
)

# ---- Pathway simulations asked for through the API ---------------------------------------------------------

# One row per simulation: the request as it was accepted, its progress and, once finished, its figures and
# report. The API writes requests and cancellations; a simulation worker claims a queued run (or one whose
# worker stopped beating), beats while it runs and writes the result, so any API process answers for it and
# a restart loses nothing.
simulation_runs = sa.Table(
    "simulation_runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("organisation", sa.String(200), nullable=False),
    # The point of access of the operator who asked; None when asked by a designer or an admin.
    sa.Column("point_of_access", sa.String(100)),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("request", sa.JSON, nullable=False),
    # queued, running, done, cancelled or failed.
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("worked_by", sa.String(200)),
    sa.Column("heartbeat_at", UTCDateTime),
    # How many times a worker claimed it: a run that keeps stopping its worker is given up.
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("progress", sa.JSON),
    sa.Column("figures", sa.JSON),
    sa.Column("report_html", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Index("ix_simulation_runs_organisation_created_at", "organisation", "created_at"),
    sa.Index("ix_simulation_runs_status_created_at", "status", "created_at"),
)
