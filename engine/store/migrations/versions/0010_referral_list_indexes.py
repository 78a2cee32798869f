"""referrals are listed newest first, a page at a time, for a referrer or a point of access

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_referrals_referrer_organisation_created_at_id": ["referrer_organisation", "created_at", "id"],
    "ix_referrals_point_of_access_created_at_id": ["point_of_access", "created_at", "id"],
    "ix_referrals_operated_by_created_at_id": ["operated_by", "created_at", "id"],
}


def upgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)
