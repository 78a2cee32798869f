"""Personal data: NHS number verification status, operators scoped to their point of access, subject access
exports and redaction when the retention period ends."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from engine.store.tables import metadata
from tests.support.personas import LPT, Persona

NHS_NUMBER = "9434765919"
CLINICAL_TEXT = "leg ulcer weeping through dressings"
REFERRAL = {
    "pathway": "community_nursing_referral",
    "referrer": "Dr Example, C81001",
    "subject": NHS_NUMBER,
    "data": {
        "clinical_need": "wound_care",
        "address_postcode": "LE1 5WW",
        "housebound": True,
        "clinical_summary": CLINICAL_TEXT,
    },
}


def operator_at(signpost, service: str | None, organisation: str = LPT) -> dict[str, str]:
    """The headers of a new operator tied to the point of access ``service`` (with None, to every one its
    organisation runs): which referrals and tasks it sees depends on that."""
    return Persona(f"operator at {service}", organisation, ("operator",), service).enrol(signpost).headers


# ---- NHS number verification status ------------------------------------------------------------------------


def test_an_nhs_number_is_recorded_unverified_unless_its_verification_is_given(http, nursing, gp_headers):
    plain = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers)
    assert plain.status_code == 201, plain.json
    assert (plain.json["subject"], plain.json["subject_verification"]) == (NHS_NUMBER, "unverified")
    traced = http.post(
        "/api/v1/referrals", json={**REFERRAL, "subject_verification": "verified"}, headers=gp_headers
    )
    assert traced.json["subject_verification"] == "verified"
    fhir = http.get(f"/fhir/ServiceRequest/{traced.json['id']}", headers=gp_headers).json
    [status] = fhir["subject"]["identifier"]["extension"]
    assert status["valueCodeableConcept"]["coding"][0]["code"] == "01"


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"subject_verification": "probably"}, "subject_verification"),
        ({"subject": None, "subject_verification": "verified"}, "give the number in 'subject'"),
        ({"subject": "9434765918"}, "check digit"),
    ],
)
def test_a_bad_nhs_number_or_verification_is_refused_and_nothing_starts(
    http, nursing, gp_headers, change, detail
):
    refused = http.post("/api/v1/referrals", json={**REFERRAL, **change}, headers=gp_headers)
    assert refused.status_code == 422
    assert refused.content_type == "application/problem+json"
    assert detail in json.dumps(refused.json)
    assert http.get("/api/v1/referrals", query_string={"subject": NHS_NUMBER}, headers=gp_headers).json == []


# ---- operators see their point of access's referrals and tasks ---------------------------------------------


def test_a_referral_is_worked_on_by_the_point_of_access_that_handles_its_pathway(
    http, signpost, nursing, gp_headers
):
    incomplete = {**REFERRAL, "data": {**REFERRAL["data"], "clinical_need": None}}
    referral = http.post("/api/v1/referrals", json=incomplete, headers=gp_headers).json
    assert referral["point_of_access"] == "community-health-spa"
    at_the_spa = operator_at(signpost, "community-health-spa")
    anyone_at_the_trust = operator_at(signpost, None)
    at_the_mental_health_spa = operator_at(signpost, "adult-mental-health-spa")  # the same trust
    at_the_council = operator_at(signpost, None, organisation="leicester-city-council")

    for allowed in (at_the_spa, anyone_at_the_trust):
        assert http.get(f"/api/v1/referrals/{referral['id']}", headers=allowed).status_code == 200
        tasks = http.get("/api/v1/tasks", query_string={"status": "ready"}, headers=allowed).json
        assert [t["referral_id"] for t in tasks] == [referral["id"]]
    for refused in (at_the_mental_health_spa, at_the_council):
        assert http.get(f"/api/v1/referrals/{referral['id']}", headers=refused).status_code == 404
        assert http.get("/api/v1/tasks", query_string={"status": "ready"}, headers=refused).json == []
        listed = http.get("/api/v1/referrals", query_string={"subject": NHS_NUMBER}, headers=refused).json
        assert listed == []
        [task] = referral["waiting_for"]["tasks"]
        completed = http.post(
            f"/api/v1/tasks/{task['id']}/complete", json={"data": {"clinical_need": "x"}}, headers=refused
        )
        assert completed.status_code == 404
    assert http.get(f"/api/v1/referrals/{referral['id']}", headers=gp_headers).json["status"] == "waiting"


def test_an_operator_starts_referrals_at_its_own_point_of_access_or_one_it_names(
    http, signpost, nursing, gp_headers
):
    at_the_mental_health_spa = operator_at(signpost, "adult-mental-health-spa")
    own = http.post("/api/v1/referrals", json=REFERRAL, headers=at_the_mental_health_spa)
    assert own.json["point_of_access"] == "adult-mental-health-spa"
    named = http.post(
        "/api/v1/referrals", json={**REFERRAL, "point_of_access": "community-health-spa"}, headers=gp_headers
    )
    assert named.json["point_of_access"] == "community-health-spa"
    receiving = http.post(
        "/api/v1/referrals",
        json={**REFERRAL, "point_of_access": "community-nursing-city"},
        headers=gp_headers,
    )
    assert receiving.status_code == 422
    assert "'community-nursing-city' is not a point of access" in receiving.json["detail"]


def test_a_pathway_two_points_of_access_handle_needs_one_named(
    http, signpost, nursing, gp_headers, admin_headers
):
    county = signpost.services.get("county-customer-service-centre").as_dict()
    county["pathways"] = ["community_nursing_referral"]
    body = {k: v for k, v in county.items() if k != "id"}
    assert (
        http.put(
            "/api/v1/services/county-customer-service-centre", json=body, headers=admin_headers
        ).status_code
        == 200
    )
    ambiguous = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers)
    assert ambiguous.status_code == 422
    assert "community-health-spa, county-customer-service-centre" in ambiguous.json["detail"]
    named = http.post(
        "/api/v1/referrals",
        json={**REFERRAL, "point_of_access": "county-customer-service-centre"},
        headers=gp_headers,
    )
    assert named.status_code == 201


# ---- subject access requests -------------------------------------------------------------------------------


def test_a_subject_access_export_holds_everything_about_the_person_and_is_audited(
    http, signpost, nursing, gp_headers, nursing_team_headers, auditor_headers
):
    referral = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers).json
    handoff_id = referral["handoffs"][0]["id"]
    http.post(
        f"/api/v1/handoffs/{handoff_id}/accept",
        json={"window": "Tue 14:00-16:00"},
        headers=nursing_team_headers,
    )
    other = http.post(
        "/api/v1/referrals", json={**REFERRAL, "subject": "9434765870"}, headers=gp_headers
    ).json

    export = http.post(
        "/api/v1/subject-access-requests", json={"subject": "943 476 5919"}, headers=auditor_headers
    )
    assert export.status_code == 200, export.json
    [exported] = export.json["referrals"]
    assert exported["referral"]["id"] == referral["id"] and other["id"] not in json.dumps(export.json)
    assert exported["referral"]["data"]["clinical_summary"] == CLINICAL_TEXT
    assert [t["action"] for t in exported["handoffs"][0]["transitions"]] == ["route", "accept"]
    assert "started" in [e["kind"] for e in exported["events"]]
    assert ("create", "city-gp-practice") in [
        (a["action"], a["organisation"]) for a in exported["access_log"]
    ]

    trail = http.get("/api/v1/audit", query_string={"referral": referral["id"]}, headers=auditor_headers).json
    disclosed = [r for r in trail if r["action"] == "disclose" and r["resource"] == "subject access export"]
    assert [r["organisation"] for r in disclosed] == ["information-governance"]
    assert signpost.audit.verify().intact

    assert (
        http.post(
            "/api/v1/subject-access-requests", json={"subject": NHS_NUMBER}, headers=gp_headers
        ).status_code
        == 403
    )
    bad = http.post(
        "/api/v1/subject-access-requests", json={"subject": "1234567890"}, headers=auditor_headers
    )
    assert bad.status_code == 422 and "NHS number" in bad.json["detail"]


# ---- retention ---------------------------------------------------------------------------------------------


def everything_stored(database_url: str) -> str:
    """Every value in every table but the pathway sources (their examples name postcodes), as one text."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return "\n".join(
                json.dumps([list(row) for row in conn.execute(sa.select(table))], default=str)
                for table in metadata.sorted_tables
                if table.name not in ("definition_files", "definition_versions")
            )
    finally:
        engine.dispose()


def test_personal_data_is_redacted_when_the_retention_period_ends_and_the_facts_stay(
    http, signpost, nursing, gp_headers, nursing_team_headers, auditor_headers, database_url, frozen_clock
):
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    frozen_clock.move_to(start)
    headers = {**gp_headers, "Idempotency-Key": "first-try"}
    finished = http.post("/api/v1/referrals", json=REFERRAL, headers=headers).json
    handoff_id = finished["handoffs"][0]["id"]
    http.post(
        f"/api/v1/handoffs/{handoff_id}/request-information",
        json={"question": "Diabetic?"},
        headers=nursing_team_headers,
    )
    http.post(
        f"/api/v1/referrals/{finished['id']}/information",
        json={"answer": {"diabetic": "yes"}},
        headers=gp_headers,
    )
    http.post(
        f"/api/v1/handoffs/{handoff_id}/accept",
        json={"window": "Tue 14:00-16:00"},
        headers=nursing_team_headers,
    )
    done = http.post(
        f"/api/v1/handoffs/{handoff_id}/complete", json={"outcome": "dressed"}, headers=nursing_team_headers
    )
    assert done.json["status"] == "completed"
    still_open = http.post(
        "/api/v1/referrals",
        json={
            **REFERRAL,
            "subject": "9434765870",
            "referrer": "Dr Other, C81002",
            "data": {
                **REFERRAL["data"],
                "address_postcode": "LE2 2AA",
                "clinical_summary": "pressure sore",
            },
        },
        headers=gp_headers,
    ).json
    retention = timedelta(days=signpost.settings.retention_days)
    clocks_before = http.get(f"/api/v1/referrals/{finished['id']}", headers=gp_headers).json["clocks"]

    frozen_clock.move_to(start + retention - timedelta(days=1))
    assert signpost.personal_data.redact_expired() == 0
    frozen_clock.move_to(start + retention + timedelta(days=1))
    signpost.tick()
    after = http.get(f"/api/v1/referrals/{finished['id']}", headers=gp_headers).json

    assert after["redacted_at"] is not None
    assert (after["subject"], after["subject_verification"], after["referrer"]) == (None, None, "[redacted]")
    assert after["data"] == {}
    assert after["status"] == "completed" and after["clocks"] == clocks_before
    assert [h["status"] for h in after["handoffs"]] == ["completed"]
    stored = everything_stored(database_url)
    for personal in (NHS_NUMBER, CLINICAL_TEXT, "Dr Example", "Diabetic?", "dressed", "LE1 5WW"):
        assert personal not in stored, f"{personal!r} is still stored"
    open_view = http.get(f"/api/v1/referrals/{still_open['id']}", headers=gp_headers).json
    assert open_view["redacted_at"] is None and open_view["data"]["clinical_summary"] == "pressure sore"

    trail = http.get("/api/v1/audit", query_string={"referral": finished["id"]}, headers=auditor_headers).json
    assert [r["actor"] for r in trail if r["action"] == "redact"] == ["signpost:retention"]
    assert trail[0]["action"] == "create"  # the trail from before the redaction stays whole
    assert signpost.audit.verify().intact


def test_an_operator_is_tied_to_a_point_of_access_its_organisation_runs(http, directory, admin_headers):
    body = {"name": "spa desk", "organisation": LPT, "roles": ["operator"], "service": "community-health-spa"}
    created = http.post("/api/v1/clients", json=body, headers=admin_headers)
    assert created.status_code == 201, created.json
    assert created.json["service"] == "community-health-spa"
    for service, detail in (
        ("city-single-point-of-contact", "run by leicester-city-council"),
        ("community-nursing-city", "not a point of access"),
    ):
        refused = http.post("/api/v1/clients", json={**body, "service": service}, headers=admin_headers)
        assert refused.status_code == 422 and detail in refused.json["detail"]
    assert [
        c["service"]
        for c in http.get("/api/v1/clients", headers=admin_headers).json
        if c["name"] == "spa desk"
    ] == ["community-health-spa"]


def test_logs_carry_no_nhs_number_name_or_clinical_text(
    http, signpost, nursing, gp_headers, nursing_team_headers, caplog
):
    with caplog.at_level(logging.DEBUG):
        referral = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers).json
        handoff_id = referral["handoffs"][0]["id"]
        http.post(
            f"/api/v1/handoffs/{handoff_id}/accept", json={"window": "Tue"}, headers=nursing_team_headers
        )
        http.post(
            f"/api/v1/handoffs/{handoff_id}/complete",
            json={"outcome": "dressed"},
            headers=nursing_team_headers,
        )
        http.get("/api/v1/referrals", query_string={"subject": NHS_NUMBER}, headers=gp_headers)
        http.post(
            "/api/v1/referrals", json={**REFERRAL, "subject": "9434765918"}, headers=gp_headers
        )  # refused
        signpost.tick()
    # Extras too: a structured log handler writes every attribute of a record.
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records, "nothing was logged, so nothing was checked"
    for personal in (NHS_NUMBER, "9434765918", CLINICAL_TEXT, "Dr Example"):
        assert personal not in logged, personal


def test_open_referrals_are_found_with_the_nhs_number_in_the_body(http, nursing, gp_headers, token_for):
    referral = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers).json
    found = http.post("/api/v1/referrals/search", json={"subject": "943 476 5919"}, headers=gp_headers)
    assert found.status_code == 200 and [r["id"] for r in found.json] == [referral["id"]]
    other_practice = token_for("referrer", organisation="county-gp-practice")
    assert (
        http.post("/api/v1/referrals/search", json={"subject": NHS_NUMBER}, headers=other_practice).json == []
    )
    refused = http.post("/api/v1/referrals/search", json={"subject": "9434765918"}, headers=gp_headers)
    assert refused.status_code == 422 and "check digit" in refused.json["detail"]
