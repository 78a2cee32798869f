"""operators scoped to a point of access, OpenID Connect clients, NHS number verification, retention

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.alter_column("token_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("external_subject", sa.String(length=600), nullable=True))
        batch_op.add_column(sa.Column("service", sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_api_clients_external_subject"), ["external_subject"])

    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pathways", sa.JSON(), server_default="[]", nullable=False))

    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_verification", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("point_of_access", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("operated_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))
    # Referrals made before points of access were recorded are worked on by the organisation that sent them.
    op.execute("UPDATE referrals SET operated_by = referrer_organisation")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.alter_column("operated_by", existing_type=sa.String(length=200), nullable=False)
        batch_op.create_index(batch_op.f("ix_referrals_operated_by"), ["operated_by"], unique=False)

    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_instances_completed_at"), ["completed_at"], unique=False)

    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))

    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instances_completed_at"))

    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referrals_operated_by"))
        batch_op.drop_column("redacted_at")
        batch_op.drop_column("operated_by")
        batch_op.drop_column("point_of_access")
        batch_op.drop_column("subject_verification")

    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("pathways")

    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_api_clients_external_subject"), type_="unique")
        batch_op.drop_column("service")
        batch_op.drop_column("external_subject")
        batch_op.alter_column("token_hash", existing_type=sa.String(length=64), nullable=False)
