"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_clients_token_hash")),
    )
    op.create_table(
        "definitions",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_definitions")),
    )
    op.create_table(
        "definition_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("definition_key", sa.String(length=200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("process_id", sa.String(length=200), nullable=False),
        sa.Column("compiled_spec", sa.Text(), nullable=False),
        sa.Column("serializer_version", sa.String(length=20), nullable=False),
        sa.Column("deployed_by", sa.String(length=200), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_key"],
            ["definitions.key"],
            name=op.f("fk_definition_versions_definition_key_definitions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_definition_versions")),
        sa.UniqueConstraint(
            "definition_key", "number", name=op.f("uq_definition_versions_definition_key_number")
        ),
        sa.UniqueConstraint(
            "definition_key", "sha256", name=op.f("uq_definition_versions_definition_key_sha256")
        ),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["api_clients.id"], name=op.f("fk_idempotency_keys_client_id_api_clients")
        ),
        sa.PrimaryKeyConstraint("client_id", "scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "definition_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["definition_versions.id"],
            name=op.f("fk_definition_files_version_id_definition_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_definition_files")),
    )
    with op.batch_alter_table("definition_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_definition_files_version_id"), ["version_id"], unique=False)

    op.create_table(
        "instances",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("serializer_version", sa.String(length=20), nullable=False),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.Column("incident_task", sa.String(length=200), nullable=True),
        sa.Column("incident_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["definition_versions.id"],
            name=op.f("fk_instances_version_id_definition_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
    )
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_instances_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_instances_version_id"), ["version_id"], unique=False)

    op.create_table(
        "correlations",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_correlations_instance_id_instances")
        ),
        sa.PrimaryKeyConstraint("instance_id", "key", name=op.f("pk_correlations")),
    )
    with op.batch_alter_table("correlations", schema=None) as batch_op:
        batch_op.create_index("ix_correlations_key_value", ["key", "value"], unique=False)

    op.create_table(
        "instance_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("task_name", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_instance_events_instance_id_instances")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_events")),
    )
    with op.batch_alter_table("instance_events", schema=None) as batch_op:
        batch_op.create_index("ix_instance_events_instance_id_id", ["instance_id", "id"], unique=False)

    op.create_table(
        "referrals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("pathway_key", sa.String(length=200), nullable=False),
        sa.Column("referrer", sa.String(length=300), nullable=False),
        sa.Column("referrer_organisation", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["api_clients.id"], name=op.f("fk_referrals_created_by_api_clients")
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_referrals_instance_id_instances")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("instance_id", name=op.f("uq_referrals_instance_id")),
        sa.UniqueConstraint("reference", name=op.f("uq_referrals_reference")),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referrals_pathway_key"), ["pathway_key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_referrals_referrer_organisation"), ["referrer_organisation"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_referrals_subject"), ["subject"], unique=False)

    op.create_table(
        "user_tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("lane", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_user_tasks_instance_id_instances")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_tasks")),
    )
    with op.batch_alter_table("user_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_tasks_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_user_tasks_lane"), ["lane"], unique=False)
        batch_op.create_index(batch_op.f("ix_user_tasks_status"), ["status"], unique=False)

    op.create_table(
        "waits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_waits_instance_id_instances")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waits")),
    )
    with op.batch_alter_table("waits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_waits_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index("ix_waits_kind_due_at", ["kind", "due_at"], unique=False)
        batch_op.create_index("ix_waits_kind_name", ["kind", "name"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("waits", schema=None) as batch_op:
        batch_op.drop_index("ix_waits_kind_name")
        batch_op.drop_index("ix_waits_kind_due_at")
        batch_op.drop_index(batch_op.f("ix_waits_instance_id"))

    op.drop_table("waits")
    with op.batch_alter_table("user_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_tasks_status"))
        batch_op.drop_index(batch_op.f("ix_user_tasks_lane"))
        batch_op.drop_index(batch_op.f("ix_user_tasks_instance_id"))

    op.drop_table("user_tasks")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referrals_subject"))
        batch_op.drop_index(batch_op.f("ix_referrals_referrer_organisation"))
        batch_op.drop_index(batch_op.f("ix_referrals_pathway_key"))

    op.drop_table("referrals")
    with op.batch_alter_table("instance_events", schema=None) as batch_op:
        batch_op.drop_index("ix_instance_events_instance_id_id")

    op.drop_table("instance_events")
    with op.batch_alter_table("correlations", schema=None) as batch_op:
        batch_op.drop_index("ix_correlations_key_value")

    op.drop_table("correlations")
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instances_version_id"))
        batch_op.drop_index(batch_op.f("ix_instances_status"))

    op.drop_table("instances")
    with op.batch_alter_table("definition_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_definition_files_version_id"))

    op.drop_table("definition_files")
    op.drop_table("idempotency_keys")
    op.drop_table("definition_versions")
    op.drop_table("definitions")
    op.drop_table("api_clients")
