"""Persistence: the schema, migrations, and the only module that writes queries (``repository``)."""
