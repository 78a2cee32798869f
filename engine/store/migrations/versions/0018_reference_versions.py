"""a version of the reference data, so that processes may keep it between transactions

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04

Every change reads the service directory, the OLA terms and the calendar closures, and they change rarely.
Each writer of them now replaces ``reference_versions``' one value in its transaction; a process keeps what
it read under the value it read, and reads the tables again once the value has changed.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    versions = op.create_table(
        "reference_versions",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_versions")),
    )
    op.bulk_insert(versions, [{"id": 1, "version": 1}])


def downgrade() -> None:
    op.drop_table("reference_versions")
