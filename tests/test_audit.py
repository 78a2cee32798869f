"""The audit trail: every request on referral data recorded, readable by auditors, and tamper-evident."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.conftest import process_env

REFERRAL = {
    "pathway": "community_nursing_referral",
    "referrer": "C81001",
    "subject": "9434765919",
    "data": {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False},
}


@pytest.fixture
def audited_referral(http, nursing, gp_headers, nursing_team_headers, token_for):
    referral = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers).json
    http.get(f"/api/v1/referrals/{referral['id']}", headers=gp_headers)
    stranger = token_for("referrer", organisation="county-gp-practice")
    http.get(f"/api/v1/referrals/{referral['id']}", headers=stranger)
    handoff_id = referral["handoffs"][0]["id"]
    http.post(f"/api/v1/handoffs/{handoff_id}/accept", json={"window": "Mon"}, headers=nursing_team_headers)
    return referral


def test_reads_and_changes_of_a_referral_are_recorded_for_auditors(
    http, audited_referral, gp_headers, auditor_headers
):
    trail = http.get(
        "/api/v1/audit", query_string={"referral": audited_referral["id"]}, headers=auditor_headers
    )
    assert trail.status_code == 200, trail.json
    summary = [(r["action"], r["resource"], r["organisation"], r["outcome"]) for r in trail.json]
    assert summary[:3] == [
        ("create", "POST /api/v1/referrals", "city-gp-practice", 201),
        ("read", "GET /api/v1/referrals/<string:referral_id>", "city-gp-practice", 200),
        ("read", "GET /api/v1/referrals/<string:referral_id>", "county-gp-practice", 404),
    ]
    assert any(
        r["action"] == "change"
        and r["resource"].startswith("POST /api/v1/handoffs/")
        and r["organisation"] == "leicestershire-partnership-nhs-trust"
        for r in trail.json
    )
    assert all(r["source"] == "127.0.0.1" and r["at"] for r in trail.json)
    refused = http.get("/api/v1/audit", query_string={"referral": audited_referral["id"]}, headers=gp_headers)
    assert refused.status_code == 403


def test_verify_detects_a_changed_a_deleted_and_a_truncated_record(signpost, audited_referral, database_url):
    assert signpost.audit.verify().intact
    records = signpost.audit.verify().records
    assert records >= 4

    with signpost.database.write() as conn:
        conn.execute(sa.text("UPDATE audit_log SET outcome = 200 WHERE outcome = 404"))
    changed = signpost.audit.verify()
    assert not changed.intact and "was changed" in changed.problem

    with signpost.database.write() as conn:
        conn.execute(sa.text("UPDATE audit_log SET outcome = 404 WHERE organisation = 'county-gp-practice'"))
    assert signpost.audit.verify().intact
    with signpost.database.write() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE organisation = 'county-gp-practice'"))
    deleted = signpost.audit.verify()
    assert not deleted.intact and "deleted or inserted" in deleted.problem


def test_removing_the_newest_records_is_detected(signpost, audited_referral):
    with signpost.database.write() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)"))
    truncated = signpost.audit.verify()
    assert not truncated.intact and "newest records were removed" in truncated.problem


def test_the_command_line_verifies_the_trail(database_url, audited_referral, signpost, tmp_path):
    env = process_env(database_url)
    intact = subprocess.run(
        [sys.executable, "-m", "api.cli", "audit", "verify"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert intact.returncode == 0 and "audit trail intact" in intact.stdout
    with signpost.database.write() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'someone else' WHERE id = 2"))
    broken = subprocess.run(
        [sys.executable, "-m", "api.cli", "audit", "verify"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert broken.returncode == 1 and "record 2 was changed" in broken.stderr


@pytest.mark.parametrize(("hops", "recorded"), [(0, "127.0.0.1"), (1, "203.0.113.7")])
def test_the_callers_address_comes_from_x_forwarded_for_only_behind_a_configured_proxy(
    signpost, nursing, gp_headers, auditor_headers, hops, recorded
):
    from dataclasses import replace

    from api import create_app

    signpost.settings = replace(signpost.settings, proxy_hops=hops)
    http = create_app(signpost).test_client()
    forwarded = {**gp_headers, "X-Forwarded-For": "203.0.113.7"}
    referral = http.post("/api/v1/referrals", json=REFERRAL, headers=forwarded).json
    trail = http.get("/api/v1/audit", query_string={"referral": referral["id"]}, headers=auditor_headers).json
    assert [r["source"] for r in trail if r["action"] == "create"] == [recorded]


def test_the_number_of_proxies_is_read_from_the_environment():
    from engine.settings import Settings

    assert Settings.from_env({"SIGNPOST_PROXY_HOPS": "2"}).proxy_hops == 2
    assert Settings.from_env({}).proxy_hops == 0
    with pytest.raises(ValueError, match="SIGNPOST_PROXY_HOPS must be the number of reverse proxies"):
        Settings.from_env({"SIGNPOST_PROXY_HOPS": "all"})
