"""referrals record the channel they arrived by, for the MI reports

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

Referrals made before this revision have no channel (NULL): the reports count them as "unrecorded" rather
than guess how they arrived.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_column("channel")
