"""Two-way OLAs (terms, clocks, calendar closures) and notifications (milestones, subscriptions, deliveries)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "calendar_closures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("calendar", sa.String(length=100), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_closures")),
    )
    with op.batch_alter_table("calendar_closures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_closures_calendar"), ["calendar"], unique=False)

    op.create_table(
        "milestones",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=True),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestones")),
    )
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_milestones_referral_id"), ["referral_id"], unique=False)

    op.create_table(
        "ola_terms",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ola_terms")),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=True),
        sa.Column("all_referrals", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=True),
        sa.Column("previous_secret", sa.String(length=200), nullable=True),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("last_event_number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["api_clients.id"], name=op.f("fk_subscriptions_created_by_api_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriptions_organisation"), ["organisation"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscriptions_referral_id"), ["referral_id"], unique=False)

    op.create_table(
        "notification_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_notification_events_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_events")),
        sa.UniqueConstraint(
            "subscription_id", "number", name=op.f("uq_notification_events_subscription_id_number")
        ),
    )
    with op.batch_alter_table("notification_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_events_referral_id"), ["referral_id"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["notification_events.id"], name=op.f("fk_deliveries_event_id_notification_events")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_deliveries_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("event_id", name=op.f("uq_deliveries_event_id")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_referral_id"), ["referral_id"], unique=False)
        batch_op.create_index(
            "ix_deliveries_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_deliveries_subscription_id"), ["subscription_id"], unique=False)

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name=op.f("fk_delivery_attempts_delivery_id_deliveries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_attempts_delivery_id"), ["delivery_id"], unique=False)

    op.create_table(
        "ola_clocks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("handoff_id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("ola", sa.String(length=200), nullable=False),
        sa.Column("obligation", sa.String(length=100), nullable=False),
        sa.Column("party", sa.String(length=20), nullable=False),
        sa.Column("from_service", sa.String(length=100), nullable=True),
        sa.Column("to_service", sa.String(length=100), nullable=False),
        sa.Column("from_organisation", sa.String(length=200), nullable=True),
        sa.Column("to_organisation", sa.String(length=200), nullable=False),
        sa.Column("referral_type", sa.String(length=100), nullable=False),
        sa.Column("calendar", sa.String(length=100), nullable=False),
        sa.Column("target_seconds", sa.Integer(), nullable=False),
        sa.Column("warn_at", sa.JSON(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("running_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accumulated_seconds", sa.Float(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warnings_sent", sa.Integer(), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("business_seconds_to_stop", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoffs.id"], name=op.f("fk_ola_clocks_handoff_id_handoffs")
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_ola_clocks_instance_id_instances")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ola_clocks")),
    )
    with op.batch_alter_table("ola_clocks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ola_clocks_handoff_id"), ["handoff_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ola_clocks_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index("ix_ola_clocks_state_due_at", ["state", "due_at"], unique=False)
        batch_op.create_index("ix_ola_clocks_state_next_check_at", ["state", "next_check_at"], unique=False)
        batch_op.create_index("ix_ola_clocks_stopped_at", ["stopped_at"], unique=False)

    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_reason", sa.Text(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_column("status_reason")

    with op.batch_alter_table("ola_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_ola_clocks_stopped_at")
        batch_op.drop_index("ix_ola_clocks_state_next_check_at")
        batch_op.drop_index("ix_ola_clocks_state_due_at")
        batch_op.drop_index(batch_op.f("ix_ola_clocks_instance_id"))
        batch_op.drop_index(batch_op.f("ix_ola_clocks_handoff_id"))

    op.drop_table("ola_clocks")
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_attempts_delivery_id"))

    op.drop_table("delivery_attempts")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_subscription_id"))
        batch_op.drop_index("ix_deliveries_status_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_deliveries_referral_id"))

    op.drop_table("deliveries")
    with op.batch_alter_table("notification_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_events_referral_id"))

    op.drop_table("notification_events")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_referral_id"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_organisation"))

    op.drop_table("subscriptions")
    op.drop_table("ola_terms")
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_milestones_referral_id"))

    op.drop_table("milestones")
    with op.batch_alter_table("calendar_closures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_closures_calendar"))

    op.drop_table("calendar_closures")
