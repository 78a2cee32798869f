"""Shared fixtures: a real, migrated database per test (SQLite by default, PostgreSQL when
SIGNPOST_DATABASE_URL points at one), the engine built on it, and an HTTP client for the API."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from engine.settings import Settings
from engine.store.db import Database, scratch_postgres_database
from engine.store.migrate import upgrade
from engine.store.tables import metadata
from engine.system import build

# The personas tests act as (``gp``, ``gp_headers``, ...) and the webhook ``receiver``. What the test
# modules share lives in tests/support/: they import from there, never from one another.
pytest_plugins = ["tests.support.personas", "tests.support.webhooks"]

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = ROOT / "processes"
SOPS = ROOT / "sops"
# Encrypts the webhook secrets stored by every test (tests of key rotation make keys of their own).
SECRET_KEYS = ("nOu9XWJzCEk8qJXFvY8kt2fh8rp6oA-H6ez6Pc8mvNY=",)
# Signs the audit trail of every test (tests of key rotation make keys of their own).
AUDIT_KEYS = ("suite:9a0XKbq4vWm2Lr7tYc1Hs5Ne8Pd3Gf6J",)
# Where every test's clock stands when it begins: a Monday at 9, inside every calendar's working hours
# (Europe/London is on GMT in November, so local time is UTC).
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "wall_clock: runs on the real clock, which it shares with the `signpost` processes it starts",
    )
    config.addinivalue_line(
        "markers", "studio_settings(**settings): the browser tests' server runs with these settings"
    )


@pytest.fixture(autouse=True)
def frozen_clock(request):
    """Every test runs on a clock pinned at START that stands still until the test moves it
    (``frozen_clock.move_to(when)``, ``frozen_clock.shift(delta)``), from its first fixture to its last
    assertion: no timer, OLA clock, expiry, retry or retention depends on the day the suite runs. A test that
    starts `signpost` processes cannot pin theirs, so it is marked ``wall_clock`` and shares the real one."""
    if request.node.get_closest_marker("wall_clock"):
        yield None
        return
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def process_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment for a `signpost` process a test starts: this one's, the project on the path ahead of
    whatever is there already (CI's clock-ahead run puts a folder there), the database and ``settings``."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "SIGNPOST_DATABASE_URL": database_url, **settings}


@pytest.fixture(scope="session", autouse=True)
def secret_keys_in_environment():
    """The suite's keys for every `signpost` process a test starts, so that it reads what the test stored."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIGNPOST_SECRET_KEYS", ",".join(SECRET_KEYS))
        patch.setenv("SIGNPOST_AUDIT_KEYS", ",".join(AUDIT_KEYS))
        yield


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """A migrated database the tests start from: an SQLite file to copy, or a PostgreSQL database to empty."""
    configured = os.environ.get("SIGNPOST_DATABASE_URL")
    if configured and not configured.startswith("sqlite"):
        # A run beside another (a second checkout, CI) names its own scratch database.
        scratch = os.environ.get("SIGNPOST_TEST_DATABASE", "signpost_test")
        with scratch_postgres_database(configured, scratch) as url:
            database = Database(url)
            upgrade(database)
            database.dispose()
            yield ("postgresql", url)
    else:
        path = tmp_path_factory.mktemp("template") / "signpost.db"
        database = Database(f"sqlite:///{path}")
        upgrade(database)
        database.dispose()
        yield ("sqlite", path)


@pytest.fixture
def database_url(database_template, tmp_path) -> str:
    kind, where = database_template
    if kind == "sqlite":
        path = tmp_path / "signpost.db"
        shutil.copy(where, path)
        return f"sqlite:///{path}"
    engine = sa.create_engine(where)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    engine.dispose()
    return where


@pytest.fixture
def settings(database_url) -> Settings:
    # Most tests deploy and start at once; tests/test_approval.py covers the clinical approval step.
    return Settings(
        database_url=database_url,
        expression_time_limit_seconds=0.5,
        require_pathway_approval=False,
        secret_keys=SECRET_KEYS,
        audit_keys=AUDIT_KEYS,
    )


@pytest.fixture
def signpost(settings):
    system = build(settings)
    yield system
    system.close()


@pytest.fixture
def app(signpost):
    from api import create_app

    return create_app(signpost)


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def token_for(signpost):
    """Create a client with ``roles`` in ``organisation`` and return its bearer header: for a client no
    persona of tests/support/personas.py is (another organisation, a second client of the same kind)."""

    def make(*roles: str, organisation: str = "city-gp-practice") -> dict[str, str]:
        _client, token = signpost.clients.create(
            name=f"test {'+'.join(roles)}", organisation=organisation, roles=set(roles)
        )
        return {"Authorization": f"Bearer {token}"}

    return make


def pathway_files(*names: str) -> list:
    from engine.bpmn import SourceFile

    return [SourceFile(name, (PROCESSES / name).read_bytes()) for name in names]


NURSING_FILES = ("community_nursing_referral.bpmn", "community_nursing_triage.dmn")


@pytest.fixture
def directory(signpost):
    """The shipped service directory, loaded."""
    return signpost.services.load_directory(
        (SOPS / "services.toml").read_text(), "sops/services.toml", "tests"
    )


@pytest.fixture
def nursing(signpost, directory):
    """The community nursing pathway, deployed, with the service directory it routes to."""
    return signpost.definitions.deploy(pathway_files(*NURSING_FILES), "tests")


def stored_instance(signpost, referral_id: str) -> dict:
    """The instance row behind a referral, as the database holds it."""
    with signpost.database.read() as conn:
        query = sa.text(
            "SELECT * FROM instances WHERE id = (SELECT instance_id FROM referrals WHERE id = :id)"
        )
        return dict(conn.execute(query, {"id": referral_id}).mappings().one())
