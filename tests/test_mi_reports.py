"""The MI reports: referrals per pathway and point of access by channel, by outcome and by time in each status
(JSON and CSV), and their event log in XES, from real referrals driven through the API on the pinned clock;
scoped to the caller's points of access; bad periods and filters refused."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import SOPS, pathway_files
from tests.support.personas import GP, LPT, NURSING_TEAM, OPERATOR, Persona

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PERIOD = {"from": "2026-11-23T00:00:00+00:00", "to": "2026-11-24T00:00:00+00:00"}
NURSING = "community_nursing_referral"
MENTAL_HEALTH = "adult_mental_health_spa"
SUBJECT = "9434765919"
ROUTINE = {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False}
XES = "{http://www.xes-standard.org/}"


def at(hours: float) -> datetime:
    return MONDAY_9 + timedelta(hours=hours)


@pytest.fixture
def week(http, signpost, nursing, enrolled, frozen_clock) -> dict:
    """A Monday at the trust's two points of access. Community nursing (community health SPA): one referral
    from a GP system (api) acknowledged, accepted and completed; one from a BaRS sender (bars) acknowledged
    and then cancelled by the GP; one keyed from a fax by an operator, still with the service. Adult mental
    health SPA: a caller redirected at once (phone) and a call waiting for its record look-up (api). A
    referral of the week before is outside the period."""
    signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")
    files = pathway_files(f"{MENTAL_HEALTH}.bpmn", f"{MENTAL_HEALTH}_routing.dmn")
    signpost.definitions.deploy(files, "tests")
    gp, operator, team = (enrolled(p).headers for p in (GP, OPERATOR, NURSING_TEAM))
    nursing_body = {"pathway": NURSING, "referrer": "C81001", "subject": SUBJECT, "data": ROUTINE}

    def start(headers, body, when, **extra_headers) -> dict:
        frozen_clock.move_to(when)
        response = http.post("/api/v1/referrals", json=body, headers={**headers, **extra_headers})
        assert response.status_code == 201, response.json
        return response.json

    def act(referral, action, when, body=None) -> None:
        frozen_clock.move_to(when)
        assert referral["handoffs"], referral
        handoff = referral["handoffs"][-1]["id"]
        response = http.post(f"/api/v1/handoffs/{handoff}/{action}", json=body or {}, headers=team)
        assert response.status_code == 200, response.json

    start(gp, nursing_body, at(-7 * 24))
    completed = start(gp, nursing_body, at(0))
    cancelled = start(gp, nursing_body, at(0.5), **{"X-Correlation-ID": "journey-1"})
    faxed = start(operator, {**nursing_body, "channel": "fax"}, at(0.75))
    act(completed, "acknowledge", at(1))
    act(cancelled, "acknowledge", at(1))
    act(completed, "accept", at(3), {"window": "Tuesday morning"})
    frozen_clock.move_to(at(2.5))
    withdrawn = http.post(f"/api/v1/referrals/{cancelled['id']}/cancel", json={"reason": "seen"}, headers=gp)
    assert withdrawn.status_code == 200, withdrawn.json
    act(completed, "complete", at(8), {"outcome": "dressing changed; wound healing"})
    redirected = start(
        operator,
        {
            "pathway": MENTAL_HEALTH,
            "referrer": "Dr Example",
            "channel": "phone",
            "data": {"caller_role": "other", "caller_name": None, "presenting_concern": None},
        },
        at(4),
    )
    looking_up = start(
        operator,
        {
            "pathway": MENTAL_HEALTH,
            "referrer": "Dr Example",
            "subject": SUBJECT,
            "data": {"caller_role": "gp", "caller_name": "Dr Example", "presenting_concern": "low mood"},
        },
        at(5),
    )
    frozen_clock.move_to(at(9))
    return {
        "completed": completed["id"],
        "cancelled": cancelled["id"],
        "faxed": faxed["id"],
        "redirected": redirected["id"],
        "looking_up": looking_up["id"],
        "operator": operator,
    }


def report(http, headers, **query):
    return http.get("/api/v1/reports/referrals", query_string={**PERIOD, **query}, headers=headers)


def test_referrals_by_channel_outcome_and_time_in_each_status_per_pathway_and_point_of_access(http, week):
    answer = report(http, week["operator"])
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert (body["time_basis"], body["pathway"], body["point_of_access"]) == (
        "wall-clock seconds",
        None,
        None,
    )
    mental_health, nursing = body["groups"]

    assert (nursing["pathway"], nursing["point_of_access"], nursing["referrals"]) == (
        NURSING,
        "community-health-spa",
        3,
    )
    assert nursing["channels"] == [
        {"channel": "api", "referrals": 1},
        {"channel": "bars", "referrals": 1},
        {"channel": "fax", "referrals": 1},
    ]
    assert nursing["outcomes"] == [
        {"status": "cancelled", "pathway_outcome": None, "referrals": 1},
        {"status": "completed", "pathway_outcome": "Referral completed", "referrals": 1},
        {"status": "waiting", "pathway_outcome": None, "referrals": 1},
    ]
    hour = 3600
    assert nursing["time_in_state"] == [
        # Received at 9 and completed at 17; received at 9:30 and cancelled at 11:30; the fax still open.
        stays("referral", "waiting", 3, 2, median=5 * hour, p90=8 * hour),
        # Acknowledged after an hour and after half an hour; the fax's hand-off still waits.
        stays("handoff", "requested", 3, 2, median=0.75 * hour, p90=hour),
        # Accepted two hours after it was acknowledged; the other cancelled an hour and a half after.
        stays("handoff", "received", 2, 2, median=1.75 * hour, p90=2 * hour),
        stays("handoff", "accepted", 1, 1, median=5 * hour, p90=5 * hour),
    ]

    assert (mental_health["pathway"], mental_health["point_of_access"], mental_health["referrals"]) == (
        MENTAL_HEALTH,
        "adult-mental-health-spa",
        2,
    )
    assert mental_health["channels"] == [
        {"channel": "api", "referrals": 1},
        {"channel": "phone", "referrals": 1},
    ]
    assert mental_health["outcomes"] == [
        {"status": "completed", "pathway_outcome": "Caller redirected", "referrals": 1},
        {"status": "waiting", "pathway_outcome": None, "referrals": 1},
    ]
    assert mental_health["time_in_state"] == [stays("referral", "waiting", 2, 1, median=0, p90=0)]


def stays(of: str, state: str, entered: int, left: int, *, median: float, p90: float) -> dict:
    return {
        "of": of,
        "state": state,
        "entered": entered,
        "left": left,
        "median_seconds": round(median),
        "p90_seconds": round(p90),
    }


def test_the_filters_narrow_the_report_to_one_pathway_or_one_point_of_access(http, week):
    by_pathway = report(http, week["operator"], pathway=MENTAL_HEALTH).json
    assert by_pathway["pathway"] == MENTAL_HEALTH
    assert [(g["pathway"], g["referrals"]) for g in by_pathway["groups"]] == [(MENTAL_HEALTH, 2)]
    by_point = report(http, week["operator"], point_of_access="community-health-spa").json
    assert [(g["point_of_access"], g["referrals"]) for g in by_point["groups"]] == [
        ("community-health-spa", 3)
    ]
    earlier = {"from": "2026-11-16T00:00:00+00:00", "to": "2026-11-17T00:00:00+00:00"}
    last_week = report(http, week["operator"], **earlier).json["groups"]
    assert [(g["pathway"], g["referrals"], g["outcomes"][0]["status"]) for g in last_week] == [
        (NURSING, 1, "waiting")
    ]


def test_the_csv_holds_the_same_figures_as_the_json(http, week):
    figures = report(http, week["operator"]).json
    answer = http.get("/api/v1/reports/referrals.csv", query_string=PERIOD, headers=week["operator"])
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="referrals-report.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))

    expected = []
    for group in figures["groups"]:
        where = {"pathway": group["pathway"], "point_of_access": group["point_of_access"]}
        blank = dict.fromkeys(
            ("pathway_outcome", "referrals", "entered", "left", "median_seconds", "p90_seconds")
        )
        for c in group["channels"]:
            expected.append(
                {**where, **blank, "figure": "channel", "value": c["channel"], "referrals": c["referrals"]}
            )
        for o in group["outcomes"]:
            expected.append(
                {
                    **where,
                    **blank,
                    "figure": "outcome",
                    "value": o["status"],
                    "pathway_outcome": o["pathway_outcome"],
                    "referrals": o["referrals"],
                }
            )
        expected.append({**where, **blank, "figure": "repeat_contacts", "value": group["repeat_contacts"]})
        for s in group["time_in_state"]:
            times = {k: s[k] for k in ("entered", "left", "median_seconds", "p90_seconds")}
            expected.append({**where, **blank, **times, "figure": f"{s['of']}_state", "value": s["state"]})
    as_csv = [{k: "" if v is None else str(v) for k, v in row.items()} for row in expected]
    assert rows == as_csv
    assert len(rows) == 5 + 5 + len(figures["groups"]) + 5  # channels, outcomes, repeat contacts, stays


def test_the_event_log_is_xes_with_a_trace_per_referral_in_time_order_and_no_personal_data(http, week):
    answer = http.get("/api/v1/reports/event-log.xes", query_string=PERIOD, headers=week["operator"])
    assert answer.status_code == 200
    assert answer.is_streamed
    assert answer.mimetype == "application/xml"
    text = answer.get_data(as_text=True)
    log = parsed(text)
    assert log.tag == f"{XES}log" and log.get("xes.version") == "1849-2016"
    assert {e.get("prefix") for e in log.iter(f"{XES}extension")} == {"concept", "time", "lifecycle", "org"}

    traces = {attribute(t, "concept:name"): t for t in log.findall(f"{XES}trace")}
    assert list(traces) == [week[k] for k in ("completed", "cancelled", "faxed", "redirected", "looking_up")]
    completed = traces[week["completed"]]
    assert {k: attribute(completed, k) for k in ("pathway", "point_of_access", "channel", "status")} == {
        "pathway": NURSING,
        "point_of_access": "community-health-spa",
        "channel": "api",
        "status": "completed",
    }
    events = [
        (attribute(e, "concept:name"), attribute(e, "time:timestamp"), attribute(e, "org:resource"))
        for e in completed.findall(f"{XES}event")
    ]
    team, engine = LPT, "signpost"
    assert events == [
        ("Referral received", "2026-11-23T09:00:00.000+00:00", engine),
        ("Register referral", "2026-11-23T09:00:00.000+00:00", engine),
        ("Triage priority and locality team", "2026-11-23T09:00:00.000+00:00", engine),
        ("Route to locality team", "2026-11-23T09:00:00.000+00:00", engine),
        ("Hand-off requested", "2026-11-23T09:00:00.000+00:00", engine),
        ("Hand-off acknowledged", "2026-11-23T10:00:00.000+00:00", team),
        ("Hand-off accepted", "2026-11-23T12:00:00.000+00:00", team),
        ("Await acceptance by locality team", "2026-11-23T12:00:00.000+00:00", engine),
        ("Hand-off completed", "2026-11-23T17:00:00.000+00:00", team),
        ("Await visit outcome", "2026-11-23T17:00:00.000+00:00", engine),
        ("Prepare completion letter to GP", "2026-11-23T17:00:00.000+00:00", engine),
        ("Referral completed", "2026-11-23T17:00:00.000+00:00", engine),
    ]
    for trace in traces.values():
        times = [attribute(e, "time:timestamp") for e in trace.findall(f"{XES}event")]
        assert times == sorted(times)
        assert all(attribute(e, "lifecycle:transition") == "complete" for e in trace.findall(f"{XES}event"))
    [handoff] = [
        e for e in completed.findall(f"{XES}event") if attribute(e, "concept:name") == "Hand-off accepted"
    ]
    assert attribute(handoff, "service") == "community-nursing-city"
    assert [attribute(e, "concept:name") for e in traces[week["cancelled"]].findall(f"{XES}event")][-2:] == [
        "Hand-off cancelled",
        "Referral cancelled",
    ]
    for personal in (SUBJECT, "943 476 5919", "C81001", "Dr Example", "low mood", "wound healing", "Tuesday"):
        assert personal not in text
    # Nor who acted, beyond their service or organisation: no client, no person.
    assert "client:" not in text and "lpt system" not in text and "lpt operator" not in text


def parsed(xes: str) -> ET.Element:
    return ET.fromstring(xes)  # noqa: S314 - Signpost's own answer, parsed to check what it says


def attribute(element, key: str) -> str | None:
    for child in element:
        if child.get("key") == key:
            return child.get("value")
    return None


def test_the_event_log_export_is_on_the_audit_trail_of_every_referral_in_it(http, week, signpost):
    http.get("/api/v1/reports/event-log.xes", query_string=PERIOD, headers=week["operator"]).get_data()
    trust_auditor = Persona("trust auditor", LPT, ("auditor",)).enrol(signpost).headers
    for referral in ("completed", "looking_up"):
        trail = http.get("/api/v1/audit", query_string={"referral": week[referral]}, headers=trust_auditor)
        assert ("read", "GET /api/v1/reports/event-log.xes") in {
            (r["action"], r["resource"]) for r in trail.json
        }


def test_another_organisation_and_another_point_of_access_see_none_of_it(http, week, token_for, signpost):
    council = token_for("operator", organisation="leicester-city-council")
    assert report(http, council).json["groups"] == []
    xes = http.get("/api/v1/reports/event-log.xes", query_string=PERIOD, headers=council).get_data(
        as_text=True
    )
    assert parsed(xes).findall(f"{XES}trace") == []
    assert week["completed"] not in xes

    _client, token = signpost.clients.create(
        name="spa operator", organisation=LPT, roles={"operator"}, service="adult-mental-health-spa"
    )
    at_the_spa = {"Authorization": f"Bearer {token}"}
    assert [g["pathway"] for g in report(http, at_the_spa).json["groups"]] == [MENTAL_HEALTH]
    xes = http.get("/api/v1/reports/event-log.xes", query_string=PERIOD, headers=at_the_spa).get_data(
        as_text=True
    )
    names = [attribute(t, "concept:name") for t in parsed(xes).findall(f"{XES}trace")]
    assert names == [week["redirected"], week["looking_up"]]
    # The GP practice submitted referrals but works on none: reports are for the points of access.
    assert (
        http.get("/api/v1/reports/referrals", query_string=PERIOD, headers=token_for("referrer")).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        (
            {"from": "2026-11-24T00:00:00+00:00", "to": "2026-11-23T00:00:00+00:00"},
            "'to' must be after its 'from'",
        ),
        ({**PERIOD, "pathway": "no_such_pathway"}, "unknown pathway 'no_such_pathway'"),
        (
            {**PERIOD, "point_of_access": "community-nursing-city"},
            "unknown point of access 'community-nursing-city'",
        ),
        ({"from": "2025-01-01T00:00:00+00:00", "to": "2026-11-24T00:00:00+00:00"}, "at most 366 days"),
        ({"from": "last monday", "to": PERIOD["to"]}, "from"),
        ({"from": "2026-11-23T00:00:00", "to": PERIOD["to"]}, "from"),
        ({"to": PERIOD["to"]}, "from"),
    ],
)
@pytest.mark.parametrize("path", ["/referrals", "/referrals.csv", "/event-log.xes"])
def test_bad_periods_and_filters_are_refused_with_a_problem(http, week, path, query, detail):
    answer = http.get(f"/api/v1/reports{path}", query_string=query, headers=week["operator"])
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    assert detail in str(answer.json)


def test_without_a_channel_named_a_referral_records_how_it_arrived(http, nursing, enrolled):
    body = {"pathway": NURSING, "referrer": "C81001", "subject": SUBJECT, "data": ROUTINE}
    gp = enrolled(GP)
    by_token = http.post("/api/v1/referrals", json=body, headers=gp.headers)
    by_bars = http.post("/api/v1/referrals", json=body, headers={**gp.headers, "X-Correlation-ID": "j-1"})
    csrf = http.post("/api/v1/session", json={"token": gp.token}).json["csrf_token"]
    in_the_browser = http.post("/api/v1/referrals", json=body, headers={"X-CSRF-Token": csrf})
    assert [r.json["channel"] for r in (by_token, by_bars, in_the_browser)] == ["api", "bars", "web"]


def test_a_referral_names_its_channel_and_an_unknown_one_is_refused(http, nursing, gp_headers, signpost, gp):
    body = {"pathway": NURSING, "referrer": "C81001", "subject": SUBJECT, "data": ROUTINE}
    refused = http.post("/api/v1/referrals", json={**body, "channel": "pigeon"}, headers=gp_headers)
    assert refused.status_code == 422
    assert (
        http.post("/api/v1/referrals", json={**body, "channel": "pdf"}, headers=gp_headers).json["channel"]
        == "pdf"
    )
    # Started by the engine itself (not through the API), a referral says nothing of how it arrived.
    unrecorded, _ = signpost.referrals.start(gp, version=None, **body)
    assert unrecorded["channel"] is None
    operator = OPERATOR.enrol(signpost).headers
    [group] = report(http, operator).json["groups"]
    assert group["channels"] == [
        {"channel": "pdf", "referrals": 1},
        {"channel": "unrecorded", "referrals": 1},
    ]
