"""pathway versions go live per point of access: pilots, go-live dates and rollbacks

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

A pathway without rows here starts new referrals as before (its latest approved version); its first go-live
records what was live before it (kind "baseline").
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "go_lives",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("definition_key", sa.String(length=200), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("live_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_key"], ["definitions.key"], name=op.f("fk_go_lives_definition_key_definitions")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["definition_versions.id"],
            name=op.f("fk_go_lives_version_id_definition_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_go_lives")),
    )
    with op.batch_alter_table("go_lives", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_go_lives_definition_key"), ["definition_key"], unique=False)
    op.create_table(
        "go_live_points",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("go_live_id", sa.Integer(), nullable=False),
        sa.Column("point_of_access", sa.String(length=100), nullable=True),
        sa.Column("rolled_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rolled_back_by", sa.String(length=200), nullable=True),
        sa.Column("rollback_reason", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["go_live_id"], ["go_lives.id"], name=op.f("fk_go_live_points_go_live_id_go_lives")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_go_live_points")),
    )
    with op.batch_alter_table("go_live_points", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_go_live_points_go_live_id"), ["go_live_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("go_live_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_go_live_points_go_live_id"))
    op.drop_table("go_live_points")
    with op.batch_alter_table("go_lives", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_go_lives_definition_key"))
    op.drop_table("go_lives")
