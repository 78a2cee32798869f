"""repeat contacts recorded on the open referral they were about

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

One row per repeat contact attached to an open referral: what the caller was told, and the organisation pair
holding the referral at that moment (the OLA report counts them as failure demand per pair).
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repeat_contacts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=False),
        sa.Column("contact_instance_id", sa.String(length=36), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("held_by_service", sa.String(length=100), nullable=True),
        sa.Column("from_organisation", sa.String(length=200), nullable=True),
        sa.Column("to_organisation", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_instance_id"],
            ["instances.id"],
            name=op.f("fk_repeat_contacts_contact_instance_id_instances"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referrals.id"], name=op.f("fk_repeat_contacts_referral_id_referrals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repeat_contacts")),
        sa.UniqueConstraint(
            "referral_id",
            "contact_instance_id",
            name=op.f("uq_repeat_contacts_referral_id_contact_instance_id"),
        ),
    )
    with op.batch_alter_table("repeat_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_repeat_contacts_contact_instance_id"), ["contact_instance_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_repeat_contacts_recorded_at"), ["recorded_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_repeat_contacts_referral_id"), ["referral_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("repeat_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repeat_contacts_referral_id"))
        batch_op.drop_index(batch_op.f("ix_repeat_contacts_recorded_at"))
        batch_op.drop_index(batch_op.f("ix_repeat_contacts_contact_instance_id"))
    op.drop_table("repeat_contacts")
