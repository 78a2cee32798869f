"""pathway variants: local parameters of a blueprint per organisation or point of access

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

A version's blueprint parameters and its variants (each approved on its own), the variant each referral runs,
and the calendar a pathway agreed for a hand-off's OLA clocks. Rows made before this revision have none.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "version_blueprints",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["definition_versions.id"],
            name=op.f("fk_version_blueprints_version_id_definition_versions"),
        ),
        sa.PrimaryKeyConstraint("version_id", "process_id", name=op.f("pk_version_blueprints")),
    )
    op.create_table(
        "pathway_variants",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("points_of_access", sa.JSON(), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("approval", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approval_reason", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["definition_versions.id"],
            name=op.f("fk_pathway_variants_version_id_definition_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pathway_variants")),
        sa.UniqueConstraint("version_id", "name", name=op.f("uq_pathway_variants_version_id_name")),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variant", sa.String(length=100), nullable=True))
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_column("calendar")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_column("variant")
    op.drop_table("pathway_variants")
    op.drop_table("version_blueprints")
