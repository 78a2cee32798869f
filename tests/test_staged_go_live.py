"""Staged go-live through the real API: an approved version goes live at one point of access (a pilot) while
another keeps the version it had, then for the rest from a later time; referrals start on the version live at
their point of access when they start, and running ones stay on theirs; rolling a pilot back is one action;
every go-live and rollback is in the audit trail and in the pathway library; bad input is a clear 4xx that
changes nothing. The city council runs the City Single Point of Contact, the county council its Customer
Service Centre (sops/services.toml)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests import bpmn_samples as samples
from tests.conftest import START
from tests.support.personas import ADMIN, DESIGNER, GP, Persona

CITY = "city-single-point-of-contact"
COUNTY = "county-customer-service-centre"
CITY_ADMIN = Persona("city admin", "leicester-city-council", ("admin",))
COUNTY_ADMIN = Persona("county admin", "leicestershire-county-council", ("admin",))
APPROVER = Persona("clinical lead", "clinical-safety", ("clinical-approver",))
REASON = "Staff at the city front door trained on the new triage questions"


@pytest.fixture
def settings(settings):
    # As in production: referrals start only on approved versions.
    return dataclasses.replace(settings, require_pathway_approval=True)


PEOPLE = {
    "designer": DESIGNER,
    "approver": APPROVER,
    "city": CITY_ADMIN,
    "county": COUNTY_ADMIN,
    "platform": ADMIN,
    "gp": GP,
}


@pytest.fixture
def people(enrolled, directory) -> dict[str, dict]:
    """The bearer headers of each of this test's people (with the service directory loaded)."""
    return {name: enrolled(persona).headers for name, persona in PEOPLE.items()}


@pytest.fixture
def city_admin(enrolled) -> str:
    return enrolled(CITY_ADMIN).client.actor


@pytest.fixture
def approve_as(enrolled):
    return enrolled(APPROVER).client


def deploy_and_approve(signpost, approver, script: str, *, approve: bool = True) -> int:
    number = signpost.definitions.deploy(
        [samples.source(samples.script_then_user_task(script))], "cli:designer"
    ).number
    if approve:
        signpost.definitions.approve("sample", number, approver, reason="reviewed against the SOP")
    return number


def go_live(http, headers, number: int, **body):
    return http.post(
        f"/api/v1/definitions/sample/versions/{number}/go-live",
        json={"reason": REASON, **body},
        headers=headers,
    )


def roll_back(http, headers, go_live_id: int, **body):
    return http.post(
        f"/api/v1/definitions/sample/go-lives/{go_live_id}/rollback",
        json={"reason": "pilot stopped: the new questions confused callers", **body},
        headers=headers,
    )


def start(http, people, point_of_access: str | None = None, **extra) -> dict:
    body = {"pathway": "sample", "referrer": "C81001", "data": {}, **extra}
    if point_of_access is not None:
        body["point_of_access"] = point_of_access
    return http.post("/api/v1/referrals", json=body, headers=people["gp"])


def started_on(http, people, point_of_access: str | None = None) -> int:
    response = start(http, people, point_of_access)
    assert response.status_code == 201, response.json
    return response.json["pathway"]["version"]


def library(http, people) -> dict:
    return http.get("/api/v1/definitions/sample", headers=people["designer"]).json


def live_at(entry: dict) -> dict[int, list]:
    return {
        v["number"]: [(p["point_of_access"], p["since"]) for p in v["live_at"]] for v in entry["versions"]
    }


def audit_records(signpost) -> list[tuple]:
    with signpost.database.read() as conn:
        query = sa.text(
            "SELECT actor, organisation, action, resource, resource_id, outcome FROM audit_log "
            "WHERE action IN ('go-live', 'roll back') ORDER BY id"
        )
        return [tuple(row) for row in conn.execute(query)]


def test_a_pilot_is_live_at_one_point_of_access_while_another_keeps_its_version_until_it_is_rolled_back(
    signpost, http, people, approve_as, city_admin
):
    deploy_and_approve(signpost, approve_as, "x = 1")
    running = start(http, people, CITY).json
    assert running["pathway"]["version"] == 1  # no go-live yet: the latest approved version, everywhere
    deploy_and_approve(signpost, approve_as, "x = 2")

    piloted = go_live(http, people["city"], 2, points_of_access=[CITY])
    assert piloted.status_code == 201, piloted.json
    pilot = piloted.json
    assert {k: pilot[k] for k in ("key", "version", "kind", "pilot", "state", "organisation", "reason")} == {
        "key": "sample",
        "version": 2,
        "kind": "go-live",
        "pilot": True,
        "state": "live",
        "organisation": "leicester-city-council",
        "reason": REASON,
    }
    assert [(p["point_of_access"], p["point_of_access_name"], p["state"]) for p in pilot["points"]] == [
        (CITY, "City Single Point of Contact", "live")
    ]

    at_city, at_county = start(http, people, CITY).json, start(http, people, COUNTY).json
    assert (at_city["pathway"]["version"], at_city["data"]["x"]) == (2, 2)
    assert (at_county["pathway"]["version"], at_county["data"]["x"]) == (1, 1)
    assert started_on(http, people) == 1  # no point of access: what is live everywhere
    # Naming a version works as before: any approved one.
    named = start(http, people, COUNTY, version=2)
    assert named.status_code == 201 and named.json["pathway"]["version"] == 2

    entry = library(http, people)
    since = START.isoformat()
    assert (entry["staged_go_live"], entry["startable_version"]) == (True, 1)
    assert live_at(entry) == {1: [(None, since)], 2: [(CITY, since)]}
    assert [(g["id"], g["kind"], g["version"], g["state"]) for g in entry["go_lives"]] == [
        (pilot["id"], "go-live", 2, "live"),
        (pilot["id"] - 1, "baseline", 1, "live"),
    ]
    assert [v["starts_new_referrals"] for v in entry["versions"]] == [True, True]
    assert (
        http.get("/api/v1/definitions/sample/go-lives", headers=people["designer"]).json == entry["go_lives"]
    )

    rolled_back = roll_back(http, people["city"], pilot["id"])
    assert rolled_back.status_code == 200, rolled_back.json
    assert (rolled_back.json["state"], rolled_back.json["points"][0]["rolled_back_by"]) == (
        "rolled-back",
        city_admin,
    )
    assert started_on(http, people, CITY) == 1  # the city is back on what was live before
    assert live_at(library(http, people)) == {1: [(None, since)], 2: []}

    # Running referrals stay on the version they started on, whatever went live since.
    for referral, version in ((running, 1), (at_city, 2)):
        now = http.get(f"/api/v1/referrals/{referral['id']}", headers=people["gp"]).json
        assert now["pathway"]["version"] == version

    city = (city_admin, "leicester-city-council")
    assert audit_records(signpost) == [
        (
            *city,
            "go-live",
            "pathway sample version 1 at every point of access (baseline)",
            str(pilot["id"] - 1),
            201,
        ),
        (
            *city,
            "go-live",
            f"pathway sample version 2 at {CITY} from {since}",
            str(pilot["id"]),
            201,
        ),
        (*city, "roll back", f"pathway sample version 2 at {CITY}", str(pilot["id"]), 200),
    ]
    assert signpost.audit.verify().intact


def test_a_go_live_for_the_rest_takes_effect_at_its_time(signpost, http, people, approve_as, frozen_clock):
    deploy_and_approve(signpost, approve_as, "x = 1")
    deploy_and_approve(signpost, approve_as, "x = 2")
    assert go_live(http, people["city"], 2, points_of_access=[CITY]).status_code == 201
    monday = START + timedelta(days=7)
    scheduled = go_live(http, people["platform"], 2, **{"from": monday.isoformat()})
    assert scheduled.status_code == 201, scheduled.json
    assert (scheduled.json["state"], scheduled.json["pilot"]) == ("scheduled", False)
    assert [v["scheduled_go_lives"] for v in library(http, people)["versions"]] == [
        [],
        [
            {
                "point_of_access": None,
                "point_of_access_name": None,
                "pilot": False,
                "from": monday.isoformat(),
                "go_live_id": scheduled.json["id"],
            }
        ],
    ]

    frozen_clock.move_to(monday - timedelta(seconds=1))
    assert (started_on(http, people, CITY), started_on(http, people, COUNTY)) == (2, 1)

    frozen_clock.move_to(monday)
    assert (started_on(http, people, CITY), started_on(http, people, COUNTY)) == (2, 2)
    entry = library(http, people)
    assert entry["startable_version"] == 2
    assert live_at(entry) == {1: [], 2: [(None, monday.isoformat())]}
    states = {g["id"]: (g["kind"], g["state"]) for g in entry["go_lives"]}
    assert sorted(states.values()) == [
        ("baseline", "superseded"),
        ("go-live", "live"),
        ("go-live", "superseded"),
    ]

    # The pilot is in force nowhere now: there is nothing of it to roll back.
    pilot_id = scheduled.json["id"] - 1
    refused = roll_back(http, people["city"], pilot_id)
    assert (refused.status_code, refused.content_type) == (409, "application/problem+json")
    assert refused.json["detail"] == (
        f"go-live {pilot_id} is in force nowhere any more (superseded by go-live {scheduled.json['id']}): "
        "nothing to roll back"
    )


def test_a_scheduled_go_live_rolled_back_never_takes_effect_and_a_new_pathways_pilot_is_live_nowhere_else(
    signpost, http, people, approve_as, frozen_clock
):
    deploy_and_approve(signpost, approve_as, "x = 1")
    pilot = go_live(http, people["county"], 1, points_of_access=[COUNTY]).json
    assert [g["kind"] for g in library(http, people)["go_lives"]] == ["go-live"]  # nothing was live before
    assert started_on(http, people, COUNTY) == 1
    elsewhere = start(http, people, CITY)
    assert (elsewhere.status_code, elsewhere.json["detail"]) == (
        409,
        f"no version of 'sample' is live at point of access '{CITY}': an admin makes an approved version go "
        "live",
    )

    later = go_live(
        http, people["city"], 1, points_of_access=[CITY], **{"from": (START + timedelta(hours=2)).isoformat()}
    )
    assert roll_back(http, people["city"], later.json["id"]).status_code == 200
    frozen_clock.shift(timedelta(hours=3))
    assert start(http, people, CITY).status_code == 409
    assert roll_back(http, people["county"], pilot["id"], points_of_access=[COUNTY]).status_code == 200
    assert start(http, people, COUNTY).status_code == 409


def test_an_organisation_rolls_back_its_own_point_of_access_of_a_pilot_across_organisations(
    signpost, http, people, approve_as
):
    deploy_and_approve(signpost, approve_as, "x = 1")
    deploy_and_approve(signpost, approve_as, "x = 2")
    pilot = go_live(http, people["platform"], 2, points_of_access=[CITY, COUNTY]).json
    assert (started_on(http, people, CITY), started_on(http, people, COUNTY)) == (2, 2)

    partly = roll_back(http, people["county"], pilot["id"], points_of_access=[COUNTY])
    assert partly.status_code == 200, partly.json
    assert partly.json["state"] == "live"
    assert [(p["point_of_access"], p["state"]) for p in partly.json["points"]] == [
        (CITY, "live"),
        (COUNTY, "rolled-back"),
    ]
    assert (started_on(http, people, CITY), started_on(http, people, COUNTY)) == (2, 1)


def test_a_from_a_moment_ago_means_now(signpost, http, people, approve_as):
    deploy_and_approve(signpost, approve_as, "x = 1")
    deploy_and_approve(signpost, approve_as, "x = 2")
    made = go_live(
        http,
        people["city"],
        2,
        points_of_access=[CITY],
        **{"from": (START - timedelta(minutes=2)).isoformat()},
    )
    assert (made.status_code, made.json["from"], made.json["state"]) == (201, START.isoformat(), "live")
    assert started_on(http, people, CITY) == 2


# ---- bad input: a clear 4xx, nothing changed ------------------------------------------------------------


@pytest.fixture
def staged(signpost, http, people, approve_as):
    """Versions 1 and 2 approved, 3 a draft; version 2 piloted at the city's point of access."""
    for script in ("x = 1", "x = 2"):
        deploy_and_approve(signpost, approve_as, script)
    deploy_and_approve(signpost, approve_as, "x = 3", approve=False)
    pilot = go_live(http, people["city"], 2, points_of_access=[CITY])
    assert pilot.status_code == 201
    return pilot.json


GO_LIVE_REFUSALS = {
    "an unapproved version": (
        "city",
        3,
        {"points_of_access": [CITY]},
        409,
        "version 3 of 'sample' is a draft",
    ),
    "an unknown version": (
        "city",
        9,
        {"points_of_access": [CITY]},
        404,
        "definition 'sample' has no version 9",
    ),
    "an unknown point of access": (
        "city",
        2,
        {"points_of_access": ["nowhere"]},
        422,
        "'nowhere' is not a point of access",
    ),
    "a receiving service": (
        "city",
        2,
        {"points_of_access": ["community-nursing-city"]},
        422,
        "is not a point of access",
    ),
    "another organisation's point of access": (
        "city",
        2,
        {"points_of_access": [CITY, COUNTY]},
        403,
        f"'{COUNTY}' is run by leicestershire-county-council: an admin of leicester-city-council acts only",
    ),
    "every point of access without the platform role": (
        "city",
        2,
        {},
        403,
        "every point of access at once is a platform admin's decision",
    ),
    "a from in the past": (
        "city",
        2,
        {"points_of_access": [CITY], "from": (START - timedelta(hours=1)).isoformat()},
        422,
        "is in the past",
    ),
    "a from without an offset": (
        "city",
        2,
        {"points_of_access": [CITY], "from": "2026-12-01T09:00:00"},
        422,
        "from",
    ),
    "no point of access": ("city", 2, {"points_of_access": []}, 422, "points_of_access"),
    "a point of access twice": ("city", 2, {"points_of_access": [CITY, CITY]}, 422, "twice"),
    "a blank reason": ("city", 2, {"points_of_access": [CITY], "reason": "  "}, 422, "reason"),
    "an unknown field": ("city", 2, {"points_of_access": [CITY], "pilot": True}, 422, "pilot"),
    "a designer": ("designer", 2, {"points_of_access": [CITY]}, 403, "admin, platform-admin"),
    "a clinical approver": ("approver", 2, {"points_of_access": [CITY]}, 403, "admin, platform-admin"),
}


def snapshot(signpost, http, people) -> tuple:
    return library(http, people), audit_records(signpost)


@pytest.mark.parametrize("case", GO_LIVE_REFUSALS.values(), ids=GO_LIVE_REFUSALS.keys())
def test_a_bad_go_live_is_refused_clearly_and_changes_nothing(signpost, http, people, staged, case):
    who, number, body, status, fragment = case
    before = snapshot(signpost, http, people)
    refused = go_live(http, people[who], number, **body)
    assert (refused.status_code, refused.content_type) == (status, "application/problem+json")
    assert fragment in refused.json["detail"] + str(refused.json.get("errors", ""))
    assert snapshot(signpost, http, people) == before
    assert started_on(http, people, COUNTY) == 1


def test_an_unknown_pathway_cannot_go_live(http, people):
    refused = http.post(
        "/api/v1/definitions/nothing/versions/1/go-live", json={"reason": REASON}, headers=people["platform"]
    )
    assert (refused.status_code, refused.json["detail"]) == (404, "no definition with key 'nothing'")


ROLLBACK_REFUSALS = {
    "an unknown go-live": ("city", lambda pilot: pilot + 7, {}, 404, "pathway 'sample' has no go-live"),
    "the baseline": ("platform", lambda pilot: pilot - 1, {}, 409, "nothing before it to roll back to"),
    "another organisation's pilot": ("county", lambda pilot: pilot, {}, 403, f"'{CITY}' is run by"),
    "a point of access it does not name": (
        "city",
        lambda pilot: pilot,
        {"points_of_access": [COUNTY]},
        422,
        f"go-live {{id}} does not apply at {COUNTY}: it applies at {CITY}",
    ),
    "a missing reason": ("city", lambda pilot: pilot, {"reason": None}, 422, "reason"),
    "a designer": ("designer", lambda pilot: pilot, {}, 403, "admin, platform-admin"),
}


@pytest.mark.parametrize("case", ROLLBACK_REFUSALS.values(), ids=ROLLBACK_REFUSALS.keys())
def test_a_bad_rollback_is_refused_clearly_and_changes_nothing(signpost, http, people, staged, case):
    who, which, body, status, fragment = case
    go_live_id = which(staged["id"])
    before = snapshot(signpost, http, people)
    refused = roll_back(http, people[who], go_live_id, **body)
    assert (refused.status_code, refused.content_type) == (status, "application/problem+json")
    assert fragment.format(id=go_live_id) in refused.json["detail"] + str(refused.json.get("errors", ""))
    assert snapshot(signpost, http, people) == before
    assert started_on(http, people, CITY) == 2


def test_rolling_back_twice_is_refused_with_nothing_to_roll_back(signpost, http, people, staged):
    assert roll_back(http, people["city"], staged["id"]).status_code == 200
    before = snapshot(signpost, http, people)
    again = roll_back(http, people["city"], staged["id"])
    assert (again.status_code, again.json["detail"]) == (
        409,
        f"go-live {staged['id']} is rolled back already: nothing to roll back",
    )
    assert snapshot(signpost, http, people) == before
