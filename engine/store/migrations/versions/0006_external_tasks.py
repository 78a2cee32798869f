"""external service tasks

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "external_tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("locked_by", sa.String(length=200), nullable=True),
        sa.Column("worker_id", sa.String(length=200), nullable=True),
        sa.Column("lock_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_external_tasks_instance_id_instances")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_tasks")),
    )
    with op.batch_alter_table("external_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_external_tasks_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index("ix_external_tasks_topic_status", ["topic", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("external_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_external_tasks_topic_status")
        batch_op.drop_index(batch_op.f("ix_external_tasks_instance_id"))
    op.drop_table("external_tasks")
