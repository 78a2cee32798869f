"""Rules about the shape of the code that a linter cannot state, checked over the source tree."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.store.db import Database
from engine.store.tables import metadata
from tests.conftest import ROOT


def python_files(*folders: str):
    for folder in folders:
        yield from (ROOT / folder).rglob("*.py")


def test_only_engine_bpmn_imports_spiffworkflow():
    importing = {
        str(path.relative_to(ROOT))
        for path in python_files("engine", "api")
        if re.search(r"^\s*(from|import) SpiffWorkflow", path.read_text(), re.M)
    }
    assert importing, "the check found no importer at all: it is looking in the wrong place"
    assert {p for p in importing if not p.startswith("engine/bpmn/")} == set()


def test_only_the_clock_reads_the_time():
    reading = {
        str(path.relative_to(ROOT))
        for path in python_files("engine", "api")
        if re.search(r"datetime\.now\(|datetime\.utcnow\(|time\.time\(\)", path.read_text())
    }
    assert reading == {"engine/clock.py"}


def test_the_migrations_create_exactly_the_declared_schema(database_url):
    database = Database(database_url)
    try:
        with database.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        database.dispose()
    assert differences == []
