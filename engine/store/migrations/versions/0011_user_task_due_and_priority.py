"""user tasks keep their priority and due time, for the operators' worklist

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Tasks made before this revision have neither (NULL): they sort after every task with a due time.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OPEN = "status IN ('ready', 'claimed')"
# As engine.store.tables.NO_DUE_TIME (a migration keeps its own copy: the module may change later).
NO_DUE_TIME = datetime(9999, 12, 31, tzinfo=UTC)


def upgrade() -> None:
    with op.batch_alter_table("user_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("at_risk_from", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("due_order", sa.DateTime(timezone=True), nullable=True))
    # Tasks made before this revision have no due time: they sort after every task that has one.
    user_tasks = sa.table("user_tasks", sa.column("due_order", sa.DateTime(timezone=True)))
    op.execute(user_tasks.update().values(due_order=NO_DUE_TIME))
    op.drop_index("ix_user_tasks_status", table_name="user_tasks")
    op.create_index(
        "ix_user_tasks_open_due_order",
        "user_tasks",
        ["due_order", "created_at", "id"],
        unique=False,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    op.create_index(
        "ix_user_tasks_open_at_risk_from",
        "user_tasks",
        ["at_risk_from"],
        unique=False,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_user_tasks_open_at_risk_from", table_name="user_tasks")
    op.drop_index("ix_user_tasks_open_due_order", table_name="user_tasks")
    op.create_index("ix_user_tasks_status", "user_tasks", ["status"], unique=False)
    with op.batch_alter_table("user_tasks", schema=None) as batch_op:
        batch_op.drop_column("due_order")
        batch_op.drop_column("at_risk_from")
        batch_op.drop_column("due_at")
        batch_op.drop_column("priority")
