"""Webhook secrets are encrypted at rest, deliveries still verify, and `signpost secrets rotate` turns keys.

The far side is the real webhook receiver of tests/support/webhooks.py: it checks every signature with the
``standardwebhooks`` library.
"""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest
import sqlalchemy as sa

from api import create_app
from engine.errors import SecretKeysUnavailable
from engine.notifications.secrets_at_rest import KEY_FILE_SUFFIX, new_key
from engine.settings import Settings
from engine.system import build
from tests.conftest import AUDIT_KEYS, NURSING_FILES, SECRET_KEYS, SOPS, pathway_files, process_env
from tests.support.personas import GP
from tests.support.referrals import REFERRAL

SECRET_COLUMNS = ("secret", "previous_secret")


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(
        database_url=database_url,
        require_pathway_approval=False,
        webhook_allow_private=True,
        secret_keys=SECRET_KEYS,
        audit_keys=AUDIT_KEYS,
    )


def system_with(database_url: str, *keys: str):
    return build(
        Settings(
            database_url=database_url,
            require_pathway_approval=False,
            webhook_allow_private=True,
            secret_keys=keys,
            audit_keys=AUDIT_KEYS,
        )
    )


def signpost_command(database_url: str, *args: str, keys: str | None, cwd) -> subprocess.CompletedProcess:
    env = process_env(database_url)
    env.pop("SIGNPOST_SECRET_KEYS", None)
    if keys is not None:
        env["SIGNPOST_SECRET_KEYS"] = keys
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored_secrets(signpost, subscription_id: str) -> dict[str, str | None]:
    with signpost.database.read() as conn:
        row = conn.execute(
            sa.text("SELECT secret, previous_secret FROM subscriptions WHERE id = :id"),
            {"id": subscription_id},
        ).one()
    return dict(zip(SECRET_COLUMNS, row, strict=True))


def subscribe(http, gp_headers, receiver, path: str) -> dict:
    response = http.post("/api/v1/subscriptions", json={"url": receiver.url(path)}, headers=gp_headers)
    assert response.status_code == 201, response.json
    receiver.expect(path, response.json["secret"])
    return response.json


def submit(http, gp_headers, **extra) -> dict:
    response = http.post("/api/v1/referrals", json={**REFERRAL, **extra}, headers=gp_headers)
    assert response.status_code == 201, response.json
    return response.json


def assert_encrypted(stored: str, secret: str) -> None:
    assert stored.startswith("fernet:"), stored
    assert "whsec_" not in stored
    assert secret not in stored and secret.removeprefix("whsec_") not in stored


def test_the_stored_secret_is_encrypted_and_deliveries_verify_with_standard_webhooks(
    signpost, http, nursing, receiver, gp_headers
):
    hook = subscribe(http, gp_headers, receiver, "/gp")
    assert hook["secret"].startswith("whsec_")
    stored = stored_secrets(signpost, hook["id"])
    assert_encrypted(stored["secret"], hook["secret"])
    assert stored["previous_secret"] is None
    assert "secret" not in http.get(f"/api/v1/subscriptions/{hook['id']}", headers=gp_headers).json

    submit(http, gp_headers)
    signpost.notifications.deliver_due()
    assert [r.answered for r in receiver.received("/gp")] == [204, 204, 204]
    assert {r.verified_by for r in receiver.received("/gp")} == {(0,)}

    rotated = http.post(f"/api/v1/subscriptions/{hook['id']}/rotate-secret", json={}, headers=gp_headers)
    assert rotated.status_code == 200, rotated.json
    receiver.expect("/gp", hook["secret"], rotated.json["secret"])
    stored = stored_secrets(signpost, hook["id"])
    assert_encrypted(stored["secret"], rotated.json["secret"])
    assert_encrypted(stored["previous_secret"], hook["secret"])
    submit(http, gp_headers)
    signpost.notifications.deliver_due()
    during_grace = receiver.received("/gp")[3:]
    assert [(r.answered, r.verified_by) for r in during_grace] == [(204, (0, 1))] * 3  # both signatures


def test_a_one_off_webhook_secret_is_encrypted_in_the_answer_remembered_for_retries(
    signpost, http, nursing, receiver, gp_headers
):
    headers = {**gp_headers, "Idempotency-Key": "gp-msg-0001"}
    body = {**REFERRAL, "notify": {"url": receiver.url("/one-off")}}
    first = http.post("/api/v1/referrals", json=body, headers=headers)
    assert first.status_code == 201, first.json
    secret = first.json["notification_subscription"]["secret"]
    with signpost.database.read() as conn:
        remembered = " ".join(
            str(value) for row in conn.execute(sa.text("SELECT * FROM idempotency_keys")) for value in row
        )
    assert "fernet:" in remembered
    assert secret not in remembered and secret.removeprefix("whsec_") not in remembered
    assert_encrypted(
        stored_secrets(signpost, first.json["notification_subscription"]["id"])["secret"], secret
    )

    again = http.post("/api/v1/referrals", json=body, headers=headers)
    assert again.status_code == 201 and again.json == first.json  # a retry still learns the secret


def test_secrets_stored_in_the_clear_before_encryption_are_read_and_then_encrypted_by_rotate(
    signpost, http, nursing, receiver, gp_headers, database_url, tmp_path
):
    hook = subscribe(http, gp_headers, receiver, "/gp")
    with signpost.database.write() as conn:  # as a row written before secrets were encrypted
        conn.execute(
            sa.text("UPDATE subscriptions SET secret = :secret WHERE id = :id"),
            {"secret": hook["secret"], "id": hook["id"]},
        )
    submit(http, gp_headers)
    signpost.notifications.deliver_due()
    assert [r.verified_by for r in receiver.received("/gp")] == [(0,)] * 3

    rotate = signpost_command(database_url, "secrets", "rotate", keys=",".join(SECRET_KEYS), cwd=tmp_path)
    assert rotate.returncode == 0, rotate.stderr
    assert "1 stored secrets are now encrypted with the first key" in rotate.stdout
    assert_encrypted(stored_secrets(signpost, hook["id"])["secret"], hook["secret"])
    submit(http, gp_headers)
    signpost.notifications.deliver_due()
    assert [r.verified_by for r in receiver.received("/gp")] == [(0,)] * 6


def test_the_key_is_rotated_with_the_command_line_and_the_old_key_then_dropped(
    http, nursing, receiver, gp_headers, database_url, tmp_path, auditor_headers
):
    old_key, new = SECRET_KEYS[0], new_key()
    hook = subscribe(http, gp_headers, receiver, "/gp")
    rotated = http.post(f"/api/v1/subscriptions/{hook['id']}/rotate-secret", json={}, headers=gp_headers)
    receiver.expect("/gp", hook["secret"], rotated.json["secret"])
    http.post(
        "/api/v1/subscriptions", json={"email": "x@example.org"}, headers=gp_headers
    )  # no secret: untouched

    result = signpost_command(database_url, "secrets", "rotate", keys=f"{new},{old_key}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 stored secrets are now encrypted with the first key" in result.stdout

    only_new = system_with(database_url, new)
    try:
        stored = stored_secrets(only_new, hook["id"])
        assert_encrypted(stored["secret"], rotated.json["secret"])
        submit(http, gp_headers)
        only_new.notifications.deliver_due()
    finally:
        only_new.close()
    assert [(r.answered, r.verified_by) for r in receiver.received("/gp")] == [(204, (0, 1))] * 3

    only_old = system_with(database_url, old_key)
    try:
        submit(http, gp_headers)
        assert only_old.notifications.deliver_due() == 1  # the head of the line fails and holds the rest
        log = http.get(f"/api/v1/subscriptions/{hook['id']}/deliveries", headers=gp_headers).json
    finally:
        only_old.close()
    [failed] = [d for d in log if d["status"] == "pending" and d["attempts"] == 1]  # retried later
    assert "cannot be decrypted with any of the 1 keys in SIGNPOST_SECRET_KEYS" in failed["last_error"]
    assert len(receiver.received("/gp")) == 3
    # Nothing went out, so the audit trail records no disclosure for that attempt.
    trail = http.get(
        "/api/v1/audit", query_string={"referral": failed["referral_id"]}, headers=auditor_headers
    ).json
    assert [r["action"] for r in trail if r["action"] == "disclose"] == []


def test_rotate_with_a_key_that_decrypts_nothing_fails_clearly_and_changes_nothing(
    signpost, http, nursing, receiver, gp_headers, database_url, tmp_path
):
    hook = subscribe(http, gp_headers, receiver, "/gp")
    before = stored_secrets(signpost, hook["id"])
    result = signpost_command(database_url, "secrets", "rotate", keys=new_key(), cwd=tmp_path)
    assert result.returncode == 1
    assert "error: a stored secret cannot be decrypted with any of the 1 keys in SIGNPOST_SECRET_KEYS" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert stored_secrets(signpost, hook["id"]) == before


def test_without_keys_a_server_database_refuses_to_start_with_a_clear_message(tmp_path):
    server = "postgresql+psycopg://signpost@127.0.0.1:1/signpost"
    with pytest.raises(SecretKeysUnavailable, match="SIGNPOST_SECRET_KEYS is not set"):
        build(Settings(database_url=server))
    refused = signpost_command(server, "db", "upgrade", keys=None, cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: SIGNPOST_SECRET_KEYS is not set"), refused.stderr
    assert "signpost secrets new-key" in refused.stderr

    made = signpost_command(server, "secrets", "new-key", keys=None, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    build(Settings(database_url=server, secret_keys=(made.stdout.strip(),), audit_keys=AUDIT_KEYS)).close()


@pytest.mark.parametrize("keys", [("not-a-fernet-key",), (SECRET_KEYS[0], "c2hvcnQ=")])
def test_a_malformed_key_is_refused_without_repeating_it(database_url, keys):
    with pytest.raises(SecretKeysUnavailable) as refused:
        build(Settings(database_url=database_url, secret_keys=keys))
    assert (
        f"key {len(keys)} of {len(keys)} in SIGNPOST_SECRET_KEYS is not a Fernet key" in refused.value.message
    )
    assert not any(key in refused.value.message for key in keys)


def test_without_keys_a_local_sqlite_database_gets_a_key_file_only_its_owner_can_read(receiver, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'local' / 'signpost.db'}"
    key_file = tmp_path / "local" / ("signpost.db" + KEY_FILE_SUFFIX)
    first = system_with(database_url)  # no keys
    try:
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        first.migrate()
        first.services.load_directory((SOPS / "services.toml").read_text(), "sops/services.toml", "tests")
        first.definitions.deploy(pathway_files(*NURSING_FILES), "tests")
        gp_headers = GP.enrol(first).headers
        hook = subscribe(create_app(first).test_client(), gp_headers, receiver, "/gp")
    finally:
        first.close()
    second = system_with(database_url)  # a restart, or another process: the same key from the same file
    try:
        assert_encrypted(stored_secrets(second, hook["id"])["secret"], hook["secret"])
        submit(create_app(second).test_client(), gp_headers)
        second.notifications.deliver_due()
    finally:
        second.close()
    assert [(r.answered, r.verified_by) for r in receiver.received("/gp")] == [(204, (0,))] * 3

    key_file.chmod(0o644)
    with pytest.raises(SecretKeysUnavailable, match="other users may read it"):
        system_with(database_url)
