"""versions keep the reason they were approved for

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

Versions approved before this revision have no reason (NULL): the approval API did not ask for one.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("definition_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approval_reason", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("definition_versions", schema=None) as batch_op:
        batch_op.drop_column("approval_reason")
