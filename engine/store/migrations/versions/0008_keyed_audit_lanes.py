"""audit trail in lanes, keyed, with the referrals each record concerns

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

Records written before this revision stay as they are, in lane 1, chained with plain SHA-256 (``key_id``
NULL); the head row they had (id 1) becomes lane 1's head.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

LANES = 8
GENESIS = "0" * 64


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lane", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("key_id", sa.String(length=40), nullable=True))
        batch_op.create_index("ix_audit_log_lane_id", ["lane", "id"], unique=False)
    op.create_table(
        "audit_referrals",
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["audit_log.id"], name=op.f("fk_audit_referrals_record_id_audit_log")
        ),
        sa.PrimaryKeyConstraint("record_id", "referral_id", name=op.f("pk_audit_referrals")),
    )
    with op.batch_alter_table("audit_referrals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_referrals_referral_id"), ["referral_id"], unique=False)

    heads = sa.table("audit_head", sa.column("id"), sa.column("hash"), sa.column("last_id"))
    present = {row[0] for row in op.get_bind().execute(sa.select(heads.c.id))}
    missing = [
        {"id": lane, "hash": GENESIS, "last_id": 0} for lane in range(1, LANES + 1) if lane not in present
    ]
    if missing:
        op.bulk_insert(heads, missing)


def downgrade() -> None:
    op.execute("DELETE FROM audit_head WHERE id <> 1")
    with op.batch_alter_table("audit_referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_referrals_referral_id"))
    op.drop_table("audit_referrals")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_lane_id")
        batch_op.drop_column("key_id")
        batch_op.drop_column("lane")
