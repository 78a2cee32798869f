"""the obligations still owed, by state and due time: the duty manager's board

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

OPEN = "stopped_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_ola_clocks_open_state_due_at",
        "ola_clocks",
        ["state", "due_at"],
        unique=False,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_ola_clocks_open_state_due_at", table_name="ola_clocks")
