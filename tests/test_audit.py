"""The audit trail: every request on referral data recorded, readable by auditors, and tamper-evident.

Lists and searches are on the trail of every referral they answered with; an answer is withheld when its
record cannot be written; requests without valid credentials or over a rate limit are counted, not chained.
(The chain's keys, lanes and crash safety: tests/test_audit_chain.py.)
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import types

import pytest
import sqlalchemy as sa

from api import audit_trail, create_app
from engine.system import build
from tests.conftest import process_env
from tests.support.personas import GP_PRACTICE

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


# ---- lists and searches ---------------------------------------------------------------------------------


def test_searches_lists_and_queues_are_on_the_trail_and_in_the_export_of_each_referral_they_answered_with(
    http, nursing, gp_headers, nursing_team_headers, auditor_headers
):
    first = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers).json
    second = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers).json
    to_service = first["handoffs"][0]["to_service"]

    searched = http.post("/api/v1/referrals/search", json={"subject": "9434765919"}, headers=gp_headers)
    listed = http.get("/api/v1/referrals", query_string={"subject": "9434765919"}, headers=gp_headers)
    assert {r["id"] for r in searched.json} == {r["id"] for r in listed.json} == {first["id"], second["id"]}
    tasks = http.get(
        "/fhir/Task", query_string={"focus": f"ServiceRequest/{first['id']}"}, headers=gp_headers
    )
    queue = http.get(f"/api/v1/services/{to_service}/handoffs", headers=nursing_team_headers)
    assert tasks.json["total"] == 1 and len(queue.json) == 2

    reads = {
        ("read", "POST /api/v1/referrals/search", GP_PRACTICE),
        ("read", "GET /api/v1/referrals", GP_PRACTICE),
        ("read", "GET /fhir/Task", GP_PRACTICE),
        ("read", "GET /api/v1/services/<string:service_id>/handoffs", "leicestershire-partnership-nhs-trust"),
    }
    for referral, expected in ((first, reads), (second, reads - {("read", "GET /fhir/Task", GP_PRACTICE)})):
        trail = http.get("/api/v1/audit", query_string={"referral": referral["id"]}, headers=auditor_headers)
        on_trail = {
            (r["action"], r["resource"], r["organisation"]) for r in trail.json if r["outcome"] == 200
        }
        assert expected <= on_trail
        assert all(r["referral_id"] == referral["id"] for r in trail.json)

    export = http.post(
        "/api/v1/subject-access-requests", json={"subject": "9434765919"}, headers=auditor_headers
    )
    for exported in export.json["referrals"]:
        access_log = {(a["action"], a["resource"]) for a in exported["access_log"]}
        assert {("read", "POST /api/v1/referrals/search"), ("read", "GET /api/v1/referrals")} <= access_log


# ---- what cannot be recorded is not answered; what is not chained is counted -------------------------------


def test_an_answer_whose_record_cannot_be_written_is_withheld(
    http, signpost, nursing, gp_headers, monkeypatch
):
    referral = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers).json

    def unavailable(entry, client):
        raise RuntimeError("the audit trail cannot be written")

    monkeypatch.setattr(signpost.audit, "record", unavailable)
    read = http.get(f"/api/v1/referrals/{referral['id']}", headers=gp_headers)
    assert (read.status_code, read.mimetype) == (500, "application/problem+json")
    assert "9434765919" not in read.get_data(as_text=True)
    fhir = http.get(f"/fhir/ServiceRequest/{referral['id']}", headers=gp_headers)
    assert (fhir.status_code, fhir.mimetype, fhir.json["resourceType"]) == (
        500,
        "application/fhir+json",
        "OperationOutcome",
    )
    assert "9434765919" not in fhir.get_data(as_text=True)


def test_a_change_that_fails_after_its_commit_is_recorded_with_what_was_answered(
    http, signpost, nursing, gp_headers, auditor_headers, monkeypatch
):
    referral = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers).json

    def failing(referral_id, viewer):
        raise RuntimeError("the answer could not be made")

    monkeypatch.setattr(signpost.referrals, "get", failing)
    cancelled = http.post(
        f"/api/v1/referrals/{referral['id']}/cancel", json={"reason": "moved away"}, headers=gp_headers
    )
    assert cancelled.status_code == 500
    monkeypatch.undo()

    trail = http.get("/api/v1/audit", query_string={"referral": referral["id"]}, headers=auditor_headers).json
    cancels = [(r["action"], r["outcome"]) for r in trail if r["resource"].endswith("/cancel")]
    # The first committed with the cancellation itself, the second says what the caller was answered.
    assert cancels == [("change", 200), ("change", 500)]
    assert http.get(f"/api/v1/referrals/{referral['id']}", headers=gp_headers).json["status"] == "cancelled"


def test_requests_without_valid_credentials_or_over_a_rate_limit_are_counted_not_chained(
    settings, http, nursing, gp_headers, caplog, monkeypatch
):
    referral = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers).json
    limited = build(dataclasses.replace(settings, rate_limit="1/minute"))
    now = [1000.0]
    # The sampled log's pace, moved by the test (raising=False: the module may not have read it before).
    monkeypatch.setattr(audit_trail, "time", types.SimpleNamespace(monotonic=lambda: now[0]), raising=False)
    try:
        _client, token = limited.clients.create(name="busy gp", organisation=GP_PRACTICE, roles={"referrer"})
        api = create_app(limited).test_client()
        path = f"/api/v1/referrals/{referral['id']}"
        before = records(limited)
        with caplog.at_level(logging.WARNING, logger="api.audit_trail"):
            assert api.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 200
            assert api.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 429
            assert api.get(path).status_code == 401
            # Made-up tokens and caller-chosen ids: past 60 failures the address itself is refused (429).
            answers = [
                api.get(f"/api/v1/referrals/guess-{n}", headers={"Authorization": f"Bearer guess-{n}"})
                for n in range(70)
            ]
            assert [a.status_code for a in answers] == [401] * 59 + [429] * 11
            assert records(limited) == before + 1  # only the admitted read
            lines = [r.getMessage() for r in caplog.records if "not in the audit trail" in r.getMessage()]
            assert len(lines) == 1  # one line a second, however many requests
            now[0] += 1.0
            api.get(path)
        lines = [r.getMessage() for r in caplog.records if "not in the audit trail" in r.getMessage()]
        assert len(lines) == 2 and "72 request(s)" in lines[1] and "guess" not in " ".join(lines)
        metrics = api.get("/metrics").get_data(as_text=True)
    finally:
        limited.close()
    assert 'signpost_unaudited_requests_total{reason="unauthenticated"} 60.0' in metrics
    assert 'signpost_unaudited_requests_total{reason="rate-limited"} 13.0' in metrics


def records(signpost) -> int:
    with signpost.database.read() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one()
