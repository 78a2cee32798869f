"""two-way OLAs: terms, clocks, calendar closures, outbox

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
        "ola_terms",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ola_terms")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=True),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_referral_id"), ["referral_id"], unique=False)

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
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_referral_id"))

    op.drop_table("outbox")
    op.drop_table("ola_terms")
    with op.batch_alter_table("calendar_closures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_closures_calendar"))

    op.drop_table("calendar_closures")
