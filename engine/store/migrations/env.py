"""Alembic environment: runs migrations on the connection handed over by ``engine.store.migrate``."""

from alembic import context
from engine.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
