"""The audit trail's chain: keyed, so that it cannot be rewritten without the key; checked against heads kept
outside the database; written in lanes, so that writers do not wait for one another; and committed with the
change it records, so that no process death can separate them.

Each attack is made as an insider with the database's credentials would make it, and checked with the
command line an auditor runs (``signpost audit verify``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from api import create_app
from engine.errors import AuditKeysUnavailable
from engine.governance.audit import Entry, append
from engine.governance.audit_chain import GENESIS, UNKEYED_FIELDS
from engine.settings import Settings
from engine.store.db import Database, scratch_postgres_database
from engine.store.migrate import upgrade
from engine.store.tables import audit_head, audit_log
from engine.system import build
from tests.conftest import AUDIT_KEYS, SECRET_KEYS, START, process_env
from tests.support.net import free_port
from tests.support.processes import Process

REFERRAL = {
    "pathway": "community_nursing_referral",
    "referrer": "C81001",
    "subject": "9434765919",
    "data": {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False},
}
WAIT_SECONDS = 60
on_postgresql = pytest.mark.skipif(
    not os.environ.get("SIGNPOST_DATABASE_URL", "").startswith("postgresql"),
    reason="row locks and concurrent writers are PostgreSQL's; SQLite lets one writer in at a time",
)


def signpost_command(
    database_url: str, *args: str, cwd: Path, **environment: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=process_env(database_url, **environment),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def busy_trail(http, nursing, gp_headers, nursing_team_headers, token_for) -> dict:
    """A referral read, refused to a stranger and accepted: records to tamper with."""
    referral = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers).json
    http.get(f"/api/v1/referrals/{referral['id']}", headers=gp_headers)
    stranger = token_for("referrer", organisation="county-gp-practice")
    http.get(f"/api/v1/referrals/{referral['id']}", headers=stranger)
    http.post("/api/v1/referrals/search", json={"subject": REFERRAL["subject"]}, headers=gp_headers)
    handoff_id = referral["handoffs"][0]["id"]
    http.post(f"/api/v1/handoffs/{handoff_id}/accept", json={"window": "Mon"}, headers=nursing_team_headers)
    return referral


def unkeyed_hash(previous: str, row) -> str:
    content = {name: row[name] for name in UNKEYED_FIELDS}
    content["at"] = row["at"].isoformat()
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{previous}|{canonical}".encode()).hexdigest()


def delete_record(conn, record_id: int) -> None:
    if sa.inspect(conn).has_table("audit_referrals"):
        conn.execute(sa.text("DELETE FROM audit_referrals WHERE record_id = :id"), {"id": record_id})
    conn.execute(audit_log.delete().where(audit_log.c.id == record_id))


def chain_again_without_the_key(conn, from_id: int) -> None:
    """What an insider does after deleting or changing records: hash every record from ``from_id`` on again
    after the one before it in its lane, and move each lane's head to its new end."""
    ends: dict[int, tuple[str, int]] = {}
    for row in conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).mappings():
        lane = row.get("lane", 1)
        digest = row["hash"]
        if row["id"] >= from_id:
            previous = ends.get(lane, (GENESIS, 0))[0]
            digest = unkeyed_hash(previous, row)
            conn.execute(
                audit_log.update()
                .where(audit_log.c.id == row["id"])
                .values(previous_hash=previous, hash=digest)
            )
        ends[lane] = (digest, row["id"])
    for lane, (digest, last_id) in ends.items():
        conn.execute(audit_head.update().where(audit_head.c.id == lane).values(hash=digest, last_id=last_id))


# ---- a keyed chain -----------------------------------------------------------------------------------------


def test_a_record_deleted_and_the_rest_chained_again_without_the_key_is_found(
    signpost, busy_trail, database_url, tmp_path
):
    assert signpost_command(database_url, "audit", "verify", cwd=tmp_path).returncode == 0
    with signpost.database.write() as conn:
        [refused] = conn.execute(
            sa.select(audit_log.c.id).where(audit_log.c.organisation == "county-gp-practice")
        ).scalars()
        delete_record(conn, refused)
        chain_again_without_the_key(conn, from_id=refused)

    verified = signpost_command(database_url, "audit", "verify", cwd=tmp_path)
    assert verified.returncode == 1, verified.stdout
    assert f"record {refused + 1} was changed after it was written" in verified.stderr
    # Without the key the chain cannot be checked at all: the command says which key it needs.
    keyless = signpost_command(
        database_url, "audit", "verify", cwd=tmp_path, SIGNPOST_AUDIT_KEYS="other:" + "k" * 40
    )
    assert keyless.returncode == 1 and "signed with the key 'suite'" in keyless.stderr


def test_removing_the_newest_records_and_moving_the_head_back_is_found_with_a_kept_head(
    signpost, busy_trail, database_url, tmp_path
):
    printed = signpost_command(database_url, "audit", "head", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    kept = tmp_path / "kept-heads"
    kept.write_text(printed.stdout)
    assert AUDIT_KEYS[0].partition(":")[2] not in printed.stdout

    with signpost.database.write() as conn:
        newest = conn.execute(sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(1)).mappings().one()
        before = (
            conn.execute(
                sa.select(audit_log)
                .where(audit_log.c.lane == newest["lane"], audit_log.c.id < newest["id"])
                .order_by(audit_log.c.id.desc())
                .limit(1)
            )
            .mappings()
            .one()
        )
        delete_record(conn, newest["id"])
        conn.execute(
            audit_head.update()
            .where(audit_head.c.id == newest["lane"])
            .values(hash=before["hash"], last_id=before["id"])
        )

    # The chain alone cannot tell records removed from the end from records never written...
    assert signpost_command(database_url, "audit", "verify", cwd=tmp_path).returncode == 0
    # ...a head kept outside the database can.
    checked = signpost_command(database_url, "audit", "verify", "--head", str(kept), cwd=tmp_path)
    assert checked.returncode == 1
    assert f"record {newest['id']} of lane {newest['lane']}" in checked.stderr
    assert "is no longer in the chain" in checked.stderr

    head = json.loads(kept.read_text())
    kept.write_text(
        json.dumps({**head, "lanes": [[lane, last_id - 1, h] for lane, last_id, h in head["lanes"]]})
    )
    forged = signpost_command(database_url, "audit", "verify", "--head", str(kept), cwd=tmp_path)
    assert forged.returncode == 1 and "was altered" in forged.stderr


def test_records_signed_with_an_earlier_key_verify_after_a_rotation(
    settings, nursing, gp_headers, database_url, tmp_path
):
    old, new = "2026-11:" + "o" * 40, "2026-12:" + "n" * 40
    for keys in ((old,), (new, old)):
        system = build(dataclasses.replace(settings, audit_keys=keys))
        try:
            started = (
                create_app(system).test_client().post("/api/v1/referrals", json=REFERRAL, headers=gp_headers)
            )
            assert started.status_code == 201, started.json
            with system.database.read() as conn:
                newest = conn.execute(sa.select(audit_log.c.key_id).order_by(audit_log.c.id.desc())).first()
            assert newest.key_id == keys[0].partition(":")[0]  # the first key signs
        finally:
            system.close()

    rotated = signpost_command(
        database_url, "audit", "verify", cwd=tmp_path, SIGNPOST_AUDIT_KEYS=f"{new},{old}"
    )
    assert rotated.returncode == 0, rotated.stderr
    dropped = signpost_command(database_url, "audit", "verify", cwd=tmp_path, SIGNPOST_AUDIT_KEYS=new)
    assert dropped.returncode == 1
    assert "signed with the key '2026-11', which is not among the keys configured (2026-12)" in dropped.stderr


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (("no-secret",), "entry 1 of 1 in SIGNPOST_AUDIT_KEYS is not 'id:secret'"),
        (("short:" + "s" * 31,), "the secret of key 'short' is shorter than 32 characters"),
        (("a:" + "s" * 32, "a:" + "t" * 32), "names the key 'a' twice"),
    ],
)
def test_a_malformed_audit_key_is_refused_without_repeating_it(database_url, keys, message):
    with pytest.raises(AuditKeysUnavailable, match=message) as refused:
        build(Settings(database_url=database_url, secret_keys=SECRET_KEYS, audit_keys=keys))
    assert not any((key.partition(":")[2] or key) in refused.value.message for key in keys)


def test_without_keys_a_server_database_refuses_to_start_and_a_local_one_gets_a_key_file(tmp_path):
    server = "postgresql+psycopg://signpost@127.0.0.1:1/signpost"
    with pytest.raises(AuditKeysUnavailable, match="SIGNPOST_AUDIT_KEYS is not set"):
        build(Settings(database_url=server, secret_keys=SECRET_KEYS))
    refused = signpost_command(server, "db", "upgrade", cwd=tmp_path, SIGNPOST_AUDIT_KEYS="")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: SIGNPOST_AUDIT_KEYS is not set"), refused.stderr
    made = signpost_command(server, "audit", "new-key", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    build(Settings(database_url=server, secret_keys=SECRET_KEYS, audit_keys=(made.stdout.strip(),))).close()

    local = tmp_path / "local" / "signpost.db"
    build(Settings(database_url=f"sqlite:///{local}", secret_keys=SECRET_KEYS)).close()
    key_file = local.with_name("signpost.db.audit-keys")
    assert key_file.stat().st_mode & 0o777 == 0o600


# ---- records from before the chain was keyed ---------------------------------------------------------------


@contextmanager
def fresh_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the suite's kind."""
    if database_url.startswith("postgresql"):
        with scratch_postgres_database(os.environ["SIGNPOST_DATABASE_URL"], "signpost_audit") as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'fresh.db'}"


def test_records_chained_before_the_chain_was_keyed_still_verify_and_the_key_covers_them(
    database_url, tmp_path
):
    with fresh_database(database_url, tmp_path) as url:
        database = Database(url)
        try:
            upgrade(database, "0007")
            unkeyed = [
                "GET /api/v1/referrals/<string:referral_id>",
                "POST /api/v1/referrals",
                "GET /fhir/Task",
            ]
            with database.engine.begin() as conn:
                previous = GENESIS
                for number, resource in enumerate(unkeyed, start=1):
                    row = dict.fromkeys(UNKEYED_FIELDS)
                    row.update(at=START, actor=f"client:{number}:gp", roles=["referrer"], action="read")
                    row.update(resource=resource, outcome=200)
                    digest = unkeyed_hash(previous, row)
                    conn.execute(audit_log.insert().values(**row, previous_hash=previous, hash=digest))
                    previous = digest
                conn.execute(audit_head.insert().values(id=1, hash=previous, last_id=len(unkeyed)))
            upgrade(database)
        finally:
            database.dispose()

        system = build(Settings(database_url=url, secret_keys=SECRET_KEYS, audit_keys=AUDIT_KEYS))
        try:
            system.audit.record(Entry("read", "GET /api/v1/audit", None, None, 200, None), None)
            verdict = system.audit.verify()
            assert (verdict.intact, verdict.records, verdict.unkeyed) == (True, 4, 3), verdict.problem
            # The first keyed record covers the last unkeyed hash: the records before it cannot be redone.
            with system.database.write() as conn:
                conn.execute(audit_log.update().where(audit_log.c.id == 2).values(outcome=403))
                chain_again_without_the_key(conn, from_id=2)
            broken = system.audit.verify()
            assert not broken.intact and "record 4" in broken.problem
        finally:
            system.close()


# ---- lanes: writers do not wait for one another ------------------------------------------------------------


@on_postgresql
def test_a_request_is_not_kept_waiting_by_another_transaction_appending_to_the_trail(
    signpost, http, nursing, gp_headers
):
    answers = []
    with signpost.database.write() as holding:
        append(
            holding,
            Entry("read", "held open", None, None, 200, None),
            actor="test",
            organisation=None,
            roles=[],
        )
        request = threading.Thread(
            target=lambda: answers.append(http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers))
        )
        request.start()
        request.join(timeout=WAIT_SECONDS)
        finished_while_held = not request.is_alive()
    request.join()
    assert finished_while_held, "the request waited for the other transaction's hold on the audit trail"
    assert answers[0].status_code == 201, answers[0].json
    with signpost.database.read() as conn:
        lanes = set(conn.execute(sa.select(audit_log.c.lane)).scalars())
    assert len(lanes) == 2
    assert signpost.audit.verify().intact


# ---- a change and its record commit together ---------------------------------------------------------------


def wait_for(condition, what: str):
    """Poll the database for a state another process reaches in its own time (a lock wait, a session gone):
    PostgreSQL sends no notice of either."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.05)
    raise AssertionError(f"waited a minute for {what}")


@on_postgresql
@pytest.mark.wall_clock
def test_a_change_and_its_record_commit_together_even_when_the_server_is_killed_between_them(
    database_url, nursing, gp_headers, tmp_path
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environment = process_env(
        database_url,
        PYTHONUNBUFFERED="1",
        SIGNPOST_ADMIN_TOKEN="sp_test_" + "a" * 40,
        SIGNPOST_SKIP_PATHWAY_APPROVAL="true",
    )
    process = Process([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], environment, tmp_path)
    server = process.popen
    engine = sa.create_engine(database_url)
    watcher = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    outcome: list = []
    try:
        process.wait_for(r"Running on http://127\.0\.0\.1")
        with engine.connect() as holder:
            holder.begin()
            holder.exec_driver_sql("LOCK TABLE audit_log IN EXCLUSIVE MODE")
            start = urllib.request.Request(
                f"{base}/api/v1/referrals",
                data=json.dumps(REFERRAL).encode(),
                headers={**gp_headers, "Content-Type": "application/json"},
            )

            def send():
                try:
                    with urllib.request.urlopen(start, timeout=WAIT_SECONDS) as response:
                        outcome.append(response.status)
                except (urllib.error.URLError, OSError) as error:
                    outcome.append(error)

            sender = threading.Thread(target=send)
            sender.start()
            # The statement that writes the record (on PostgreSQL with the lane's head, in one statement).
            waiting = """SELECT pid FROM pg_stat_activity WHERE datname = current_database()
                         AND wait_event_type = 'Lock' AND query LIKE '%%INSERT INTO audit_log%%'"""
            with watcher.connect() as conn:
                [pid] = wait_for(
                    lambda: conn.exec_driver_sql(waiting).scalars().all(),
                    "the server to wait for the audit trail",
                )
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=WAIT_SECONDS)
            holder.rollback()  # the lock goes; the killed server's transaction can go no further
        sender.join(timeout=WAIT_SECONDS)
        with watcher.connect() as conn:
            gone = "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = %(pid)s"
            wait_for(lambda: conn.exec_driver_sql(gone, {"pid": pid}).scalar(), "the server's session to end")
            unrecorded = conn.exec_driver_sql(
                "SELECT id FROM referrals WHERE id NOT IN "
                "(SELECT referral_id FROM audit_log WHERE referral_id IS NOT NULL)"
            ).all()
            started = conn.exec_driver_sql("SELECT count(*) FROM referrals").scalar()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=WAIT_SECONDS)
        engine.dispose()
        watcher.dispose()
    assert unrecorded == [], "a referral was committed without the record of its creation"
    assert started == 0 and not isinstance(outcome[0], int)  # killed before it could answer
