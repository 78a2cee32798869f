"""Blueprints and local variants: the adult social care front door is one diagram with a variant per council
(processes/adult_social_care_front_door.variants.toml). Referrals at the city's and the county's points of
access run the same diagram yet route to different services and wait different times; each says which
variant it runs; each variant is approved on its own; a variant file naming what does not exist is refused
with nothing stored; and the values a referral starts with cannot be changed by the diagram's own scripts."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta

import pytest

from api import create_app
from engine.bpmn import SourceFile
from engine.errors import Conflict, DefinitionInvalid, InvalidInput, NotAllowed
from engine.system import build
from tests import bpmn_samples as samples
from tests.conftest import PROCESSES, SOPS, START
from tests.support.pathway_desk import PathwayDesk
from tests.support.personas import DESIGNER

PATHWAY = "adult_social_care_front_door"
FILES = (
    "adult_social_care_front_door.bpmn",
    "adult_social_care_eligibility.dmn",
    "adult_social_care_front_door.variants.toml",
)
CITY, COUNTY, RUTLAND = (
    "city-single-point-of-contact",
    "county-customer-service-centre",
    "rutland-customer-service",
)
REASON = "Reviewed with the council's adult social care lead; scenarios pass"
CONTACT = {
    "needs_description": "Struggling to wash and dress since a fall",
    "need_type": "personal_care",
    "age": 82,
    "consent_given": True,
    "safeguarding_concern": False,
    "risk_indicators": None,
    "open_case_worker": None,
}
VARIANTS = PROCESSES / "adult_social_care_front_door.variants.toml"


@pytest.fixture
def desks(http, signpost, frozen_clock) -> dict[str, PathwayDesk]:
    """A desk at each council's point of access, the front door deployed once for all three."""
    city = PathwayDesk.deployed(http, signpost, frozen_clock, CITY, PATHWAY, FILES)
    return {
        CITY: city,
        COUNTY: PathwayDesk(http, signpost, frozen_clock, COUNTY),
        RUTLAND: PathwayDesk(http, signpost, frozen_clock, RUTLAND),
    }


def start_at(desk: PathwayDesk, point_of_access: str, data: dict, expect: int = 201) -> dict:
    """A GP's referral to the front door of ``point_of_access``, as that point of access reads it."""
    body = {
        "pathway": PATHWAY,
        "referrer": "C81001",
        "subject": "9434765919",
        "data": data,
        "point_of_access": point_of_access,
    }
    response = desk.http.post("/api/v1/referrals", json=body, headers=desk.referrer)
    assert response.status_code == expect, response.json
    if expect != 201:
        return response
    desk.referral_id = response.json["id"]
    return desk.referral()


def due(referral: dict) -> str:
    [timer] = referral["waiting_for"]["timers"]
    return timer["due_at"]


def test_two_points_of_access_route_to_different_services_and_wait_different_times_on_one_diagram(desks):
    city = start_at(desks[CITY], CITY, {**CONTACT, "address_postcode": "LE2 1AA"})
    county = start_at(desks[COUNTY], COUNTY, {**CONTACT, "address_postcode": "LE11 3AB"})
    assert (city["pathway"], county["pathway"]) == ({"key": PATHWAY, "version": 1},) * 2
    assert (city["variant"], county["variant"]) == ("city", "county")

    city = desks[CITY].complete("confirm_eligibility", {})
    county = desks[COUNTY].complete("confirm_eligibility", {})
    assert city["data"]["priority"] == county["data"]["priority"] == "routine"
    # One timer on one diagram, the routine target each council set: a day in the city, two in the county.
    assert due(city) == (START + timedelta(days=1)).isoformat()
    assert due(county) == (START + timedelta(days=2)).isoformat()
    assert "local" not in city["data"]  # the parameters are the variant's, not the referral's data

    desks[CITY].wait(timedelta(days=1, minutes=1))
    assert desks[CITY].tasks() == ["duty_worker_assessment", "escalate_overdue_assessment"]
    assert desks[COUNTY].tasks() == ["duty_worker_assessment"]
    desks[COUNTY].wait(timedelta(days=1))
    assert desks[COUNTY].tasks() == ["duty_worker_assessment", "escalate_overdue_assessment"]

    urgent = {"assessment_outcome": "urgent_community_response", "assessment_summary": "cannot manage alone"}
    [to_city] = desks[CITY].complete("duty_worker_assessment", urgent)["handoffs"]
    [to_county] = desks[COUNTY].complete("duty_worker_assessment", urgent)["handoffs"]
    assert (to_city["from_service"], to_city["to_service"]) == (CITY, "urgent-community-response")
    assert (to_county["from_service"], to_county["to_service"]) == (COUNTY, "county-crisis-response")


def test_a_variants_threshold_and_calendar_change_the_screen_and_the_teams_clock(desks):
    """The same 82-year-old is routine at the city's front door and urgent at Rutland's (its screen treats any
    care need from 80 as urgent, with a two-hour target), and the duty team's acceptance clock of Rutland's
    hand-offs runs on the calendar Rutland agreed."""
    desks[CITY].signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")
    rutland = start_at(desks[RUTLAND], RUTLAND, {**CONTACT, "address_postcode": "LE15 6AB"})
    assert rutland["variant"] == "rutland"
    rutland = desks[RUTLAND].complete("confirm_eligibility", {})
    assert (rutland["data"]["priority"], due(rutland)) == ("urgent", (START + timedelta(hours=2)).isoformat())
    assert "age the council treats as urgent" in rutland["data"]["eligibility_reason"]

    start_at(desks[CITY], CITY, {**CONTACT, "address_postcode": "LE2 1AA"})
    desks[CITY].complete("confirm_eligibility", {})
    allocate = {"assessment_outcome": "allocate_social_worker", "assessment_summary": "care act assessment"}
    [city_clock] = desks[CITY].complete("duty_worker_assessment", allocate)["clocks"]
    [rutland_clock] = desks[RUTLAND].complete("duty_worker_assessment", allocate)["clocks"]
    assert (city_clock["owed_by"], city_clock["calendar"]) == ("City duty social work team", "office-hours")
    assert (rutland_clock["owed_by"], rutland_clock["calendar"]) == (
        "Rutland adult social care team",
        "8-to-8-every-day",
    )


def test_the_library_shows_each_variant_and_a_referral_matching_none_runs_the_blueprints_defaults(desks):
    desk = desks[CITY]
    version = desk.http.get(f"/api/v1/definitions/{PATHWAY}/versions/1", headers=desk.operator).json
    assert [p["name"] for p in version["parameters"]] == [
        "front_door",
        "urgent_response_service",
        "urgent_assessment_due",
        "routine_assessment_due",
        "urgent_from_age",
        "duty_team_calendar",
    ]
    by_name = {v["name"]: v for v in version["variants"]}
    assert sorted(by_name) == ["city", "county", "rutland"]
    assert by_name["county"]["points_of_access"] == [COUNTY]
    assert by_name["county"]["values"]["urgent_response_service"] == "county-crisis-response"
    assert by_name["county"]["values"]["urgent_assessment_due"] == "PT4H"  # the blueprint's default
    assert {v["approval"] for v in by_name.values()} == {"draft"}

    # First Contact Plus is a point of access no variant names: every parameter has a default, so it runs
    # the blueprint as declared (the city's values) and says it runs no variant.
    fcp = PathwayDesk(desk.http, desk.signpost, desk.clock, "first-contact-plus")
    elsewhere = start_at(fcp, "first-contact-plus", {**CONTACT, "address_postcode": "LE2 1AA"})
    assert elsewhere["variant"] is None
    start_at(desks[COUNTY], COUNTY, {**CONTACT, "address_postcode": "LE11 3AB"})
    [library_entry] = [
        d for d in desk.http.get("/api/v1/definitions", headers=desk.operator).json if d["key"] == PATHWAY
    ]
    counted = {v["name"]: v["referrals_total"] for v in library_entry["versions"][0]["variants"]}
    assert counted == {"city": 0, "county": 1, "rutland": 0}


# ---- approval, one variant at a time --------------------------------------------------------------------


@pytest.fixture
def strict(settings):
    system = build(dataclasses.replace(settings, require_pathway_approval=True))
    system.services.load_directory((SOPS / "services.toml").read_text(), "sops/services.toml", "tests")
    yield system
    system.close()


def headers_of(system, name: str, organisation: str, roles: set[str], service: str | None = None) -> dict:
    token = system.clients.create(name=name, organisation=organisation, roles=roles, service=service)[1]
    return {"Authorization": f"Bearer {token}"}


def deploy(http, headers, files) -> object:
    form = {"files": [(io.BytesIO(content), name) for name, content in files], "key": PATHWAY}
    return http.post("/api/v1/definitions", data=form, headers=headers, content_type="multipart/form-data")


def shipped(*names: str) -> list[tuple[str, bytes]]:
    return [(name, (PROCESSES / name).read_bytes()) for name in names]


def sources(*names: str) -> list[SourceFile]:
    return [SourceFile(name, content) for name, content in shipped(*names)]


def source(name: str, text: str) -> SourceFile:
    return SourceFile(name, text.encode())


def test_each_variant_is_approved_on_its_own_before_referrals_start_on_it(strict):
    http = create_app(strict).test_client()
    designer = headers_of(strict, "designer", "signpost-design", {"designer"})
    approver = headers_of(strict, "clinical lead", "leicester-city-council", {"clinical-approver"})
    gp = headers_of(strict, "gp", "city-gp-practice", {"referrer"})
    assert deploy(http, designer, shipped(*FILES)).status_code == 201
    body = {"pathway": PATHWAY, "referrer": "C81001", "data": {**CONTACT, "address_postcode": "LE2 1AA"}}

    def start(point_of_access):
        return http.post("/api/v1/referrals", json={**body, "point_of_access": point_of_access}, headers=gp)

    def approve(url):
        return http.post(url, json={"reason": REASON}, headers=approver)

    variants = f"/api/v1/definitions/{PATHWAY}/versions/1/variants"
    assert approve(f"/api/v1/definitions/{PATHWAY}/versions/1/approve").status_code == 200
    approved = approve(f"{variants}/county/approve")
    assert approved.status_code == 200, approved.json
    assert (approved.json["approval"], approved.json["approval_reason"]) == ("approved", REASON)
    assert start(COUNTY).status_code == 201

    refused = start(CITY)
    assert refused.status_code == 409
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert (
        "variant 'city' of version 1 of 'adult_social_care_front_door' is a draft" in refused.json["detail"]
    )
    referrals = http.get("/api/v1/referrals", headers=gp).json
    assert [r["variant"] for r in referrals] == ["county"]  # the refused one left nothing

    assert approve(f"{variants}/city/approve").status_code == 200
    assert start(CITY).json["variant"] == "city"
    assert approve(f"{variants}/city/approve").status_code == 409  # already approved
    missing = approve(f"{variants}/wales/approve")
    assert missing.status_code == 404
    assert "its variants: city, county, rutland" in missing.json["detail"]
    by_operator = http.post(
        f"{variants}/rutland/approve",
        json={"reason": REASON},
        headers=headers_of(strict, "op", "rutland-county-council", {"operator"}, RUTLAND),
    )
    assert by_operator.status_code == 403
    blank = http.post(f"{variants}/rutland/approve", json={"reason": " "}, headers=approver)
    assert blank.status_code == 422


def test_the_deployer_cannot_approve_a_variant_and_the_approval_is_audited(strict):
    both = strict.clients.create(
        name="both", organisation="spa", roles={"designer", "clinical-approver"}, person="staff-7"
    )[0]
    same_person = strict.clients.create(
        name="same person", organisation="spa", roles={"clinical-approver"}, person="staff-7"
    )[0]
    approver = strict.clients.create(name="lead", organisation="spa", roles={"clinical-approver"})[0]
    strict.definitions.deploy(sources(*FILES), both.actor)
    for who in (both, same_person):
        with pytest.raises(NotAllowed, match="cannot also approve its variants"):
            strict.variants.approve(PATHWAY, 1, "city", who, reason=REASON)
    approved = strict.variants.approve(PATHWAY, 1, "city", approver, reason=REASON)
    assert (approved["key"], approved["version"], approved["approved_by"]) == (PATHWAY, 1, approver.actor)
    with strict.database.read() as conn:
        records = conn.exec_driver_sql(
            "SELECT action, resource, actor FROM audit_log WHERE action = 'approve'"
        ).all()
    assert records == [("approve", f"pathway {PATHWAY} version 1 variant city", approver.actor)]
    assert strict.audit.verify().intact


# ---- bad variants: refused at deploy, nothing stored ------------------------------------------------------

GOOD = VARIANTS.read_text()


def variants_with(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


BAD_VARIANTS = {
    "an unknown parameter": (
        variants_with('routine_assessment_due = "P2D"', 'routine_assesment_due = "P2D"'),
        "the blueprint declares no parameter 'routine_assesment_due'",
    ),
    "an unknown service": (
        variants_with(
            'urgent_response_service = "county-crisis-response"', 'urgent_response_service = "hart"'
        ),
        "must be the id of a service in the directory, not 'hart'",
    ),
    "a service that does not take the referral type": (
        variants_with(
            'urgent_response_service = "county-crisis-response"',
            'urgent_response_service = "county-duty-social-work"',
        ),
        "'county-duty-social-work' does not accept 'urgent-community-response' referrals",
    ),
    "a value of the wrong type": (
        variants_with("urgent_from_age = 85", 'urgent_from_age = "eighty-five"'),
        "must be a whole number, not 'eighty-five'",
    ),
    "a duration that is not one": (
        variants_with('routine_assessment_due = "P2D"', 'routine_assessment_due = "two days"'),
        "must be an ISO 8601 duration",
    ),
    "an unknown calendar": (
        variants_with('duty_team_calendar = "8-to-8-every-day"', 'duty_team_calendar = "weekdays"'),
        "must be one of the calendars",
    ),
    "an unknown point of access": (
        variants_with(f'points_of_access = ["{RUTLAND}"]', 'points_of_access = ["rutland-hub"]'),
        "'rutland-hub' is not a point of access in the service directory",
    ),
    "a point of access two variants claim": (
        variants_with(f'points_of_access = ["{RUTLAND}"]', f'points_of_access = ["{COUNTY}"]'),
        f"'{COUNTY}' is already the point of access of variant 'county'",
    ),
    "a parameter of an unknown type": (
        variants_with('type = "calendar"', 'type = "timetable"'),
        "type must be one of string, integer, number, boolean, duration, service, calendar",
    ),
    "not TOML": ("[parameters.front_door\n", "not valid TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD_VARIANTS))
def test_a_bad_variants_file_is_refused_at_deploy_and_nothing_is_stored(http, signpost, directory, case):
    content, expected = BAD_VARIANTS[case]
    designer = DESIGNER.enrol(signpost).headers
    files = [*shipped(*FILES[:2]), (FILES[2], content.encode())]
    refused = deploy(http, designer, files)
    assert refused.status_code == 422, refused.json
    assert refused.headers["Content-Type"] == "application/problem+json"
    [problem] = [p for p in refused.json["problems"] if p["file"] == FILES[2]]
    assert expected in problem["message"], problem
    assert http.get("/api/v1/definitions", headers=designer).json == []
    dry_run = http.post(
        "/api/v1/definitions/validate",
        data={"files": [(io.BytesIO(c), n) for n, c in files], "key": PATHWAY},
        headers=designer,
        content_type="multipart/form-data",
    ).json
    assert dry_run["valid"] is False and expected in str(dry_run["problems"])


def test_a_line_locates_the_problem_in_the_variants_file(signpost, directory):
    bad = variants_with("urgent_from_age = 80", "urgent_from_age = 80.5")
    with pytest.raises(DefinitionInvalid) as refused:
        signpost.definitions.deploy([*sources(*FILES[:2]), source(FILES[2], bad)], "tests")
    [problem] = refused.value.problems
    line = bad.splitlines()[problem.line - 1]
    assert (line, problem.message) == (
        "urgent_from_age = 80.5",
        "variants.rutland.parameters.urgent_from_age: must be a whole number, not 80.5",
    )


def test_a_diagram_reading_a_parameter_nobody_declared_is_refused(signpost, directory):
    diagram = (
        (PROCESSES / FILES[0])
        .read_text()
        .replace("local[&quot;front_door&quot;]", "local[&quot;frontdoor&quot;]")
    )
    with pytest.raises(DefinitionInvalid) as refused:
        signpost.definitions.deploy([source(FILES[0], diagram), *sources(*FILES[1:])], "tests")
    messages = {(p.element_id, p.message) for p in refused.value.problems}
    assert (
        "warm_transfer",
        "reads local['frontdoor'], a parameter "
        f"{FILES[2]} does not declare (declared: duty_team_calendar, front_door, routine_assessment_due, "
        "urgent_assessment_due, urgent_from_age, urgent_response_service)",
    ) in messages
    with pytest.raises(DefinitionInvalid) as without_variants:
        signpost.definitions.deploy(sources(*FILES[:2]), "tests")
    assert {p.element_id for p in without_variants.value.problems} >= {"warm_transfer", "screen_eligibility"}
    assert f"the deployment has no {FILES[2]} declaring them" in without_variants.value.problems[0].message
    assert signpost.definitions.list() == []


# ---- the values hold for the whole referral; a variant by organisation ------------------------------------

BLUEPRINT = """
[parameters.limit]
type = "integer"

[variants.first-contact-plus]
points_of_access = ["first-contact-plus"]
[variants.first-contact-plus.parameters]
limit = 3

[variants.county]
organisation = "leicestershire-county-council"
[variants.county.parameters]
limit = 5
"""


def start_sample(signpost, gp, point_of_access):
    return signpost.referrals.start(
        gp,
        pathway="sample",
        version=None,
        referrer="r",
        subject=None,
        data={},
        point_of_access=point_of_access,
    )[0]


def test_scripts_read_the_variants_values_and_cannot_change_them(signpost, directory, gp):
    first = 'local["limit"] = 99\nseen_in_first = local["limit"]\nlocal = {"limit": 100}'
    diagram = samples.script_then_user_task(first)
    signpost.definitions.deploy([samples.source(diagram), source("sample.variants.toml", BLUEPRINT)], "tests")
    started = start_sample(signpost, gp, "first-contact-plus")
    assert started["variant"] == "first-contact-plus"
    assert started["data"]["seen_in_first"] == 99  # the script's own copy, gone when it ends
    assert "local" not in started["data"]
    operator = signpost.clients.create(
        name="fcp",
        organisation="leicestershire-county-council",
        roles={"operator"},
        service="first-contact-plus",
    )[0]
    [task] = started["waiting_for"]["tasks"]
    with pytest.raises(InvalidInput, match="not 'local'"):
        signpost.referrals.complete_task(task["id"], {"local": {"limit": 1}}, operator)
    with pytest.raises(InvalidInput, match="not 'local'"):
        signpost.referrals.start(
            gp, pathway="sample", version=None, referrer="r", subject=None, data={"local": {}}
        )


def test_a_variant_by_organisation_and_none_for_a_parameter_without_a_default(signpost, directory, gp):
    reads = samples.script_then_user_task("x = local['limit']")
    signpost.definitions.deploy([samples.source(reads), source("sample.variants.toml", BLUEPRINT)], "tests")
    # The point of access's own variant first, else its organisation's.
    assert start_sample(signpost, gp, "first-contact-plus")["data"]["x"] == 3
    at_county = start_sample(signpost, gp, COUNTY)
    assert (at_county["variant"], at_county["data"]["x"]) == ("county", 5)
    with pytest.raises(Conflict, match=f"no variant for point of access '{CITY}', and its parameters limit"):
        start_sample(signpost, gp, CITY)
