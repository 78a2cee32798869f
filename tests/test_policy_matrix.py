"""Least privilege, tested as a matrix.

Every route either declares the roles it allows (``api.auth.requires``; admin is a role like any other)
or is public by design (PUBLIC). What the code declares must equal the reviewed table POLICY, so widening
a route's access means changing this file. Then every route is called with every role from the
organisation that owns the data and from another one (and as an operator at another point of access of the
owning organisation), and without a token, against a real referral routed to a real service: a role outside
the policy gets 403 (401 without a token, whatever the body), an allowed role from another organisation (or
that other point of access) gets what WRONG_ORGANISATION says where the data is scoped, and an allowed role
from the right organisation is never refused. Nothing answers 5xx.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from engine.governance.clients import ROLES
from engine.simulation.worker import SimulationWorker
from tests import bpmn_samples as samples
from tests.conftest import NURSING_FILES, PROCESSES, SOPS

# The organisations of the scenario: a GP practice refers; its referral is routed to City community nursing,
# a service of the partnership trust. Everyone else is in the city council, which owns other services.
REFERRER_ORG = "city-gp-practice"
SERVICE_ORG = "leicestershire-partnership-nhs-trust"
OTHER_ORG = "leicester-city-council"
# Any other role's home is SERVICE_ORG too: the trust runs the point of access the referral is worked on at.
# Auditors and admins act within their organisation: the trust's audit the referral it operates and receives,
# and its admins manage its clients. The platform roles act in every organisation, their own or another.
# Designers are scoped only where their own work is (the trust's designer ran the scenario's simulation).
HOME_ORG = {
    "designer": SERVICE_ORG,
    "referrer": REFERRER_ORG,
    "service": SERVICE_ORG,
    "operator": SERVICE_ORG,
    "auditor": SERVICE_ORG,
    "admin": SERVICE_ORG,
}
# Another point of access the trust runs. An operator tied to it works on none of the scenario's referrals, so
# it is scoped out as an operator of another organisation is: it gets what WRONG_ORGANISATION says.
OTHER_POINT_OF_ACCESS = "adult-mental-health-spa"

SERVICE_ID = "community-nursing-city"
SUBJECT = "9434765919"
HOOK = "http://127.0.0.1:9/hook"  # never called: these tests run no delivery worker
REFERRAL = {
    "pathway": "community_nursing_referral",
    "referrer": "C81001",
    "subject": SUBJECT,
    "data": {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False},
}
# The topic of the scenario's external task, worked by the trust: its point of access operates the referral.
# A pathway of its own for the go-live routes, piloted at the trust's point of access.
GO_LIVE_KEY = "matrix_go_live"
GO_LIVE_POINT = "community-health-spa"
# A blueprint sample with one variant, for the route approving a variant.
VARIANT_KEY = "matrix_blueprint"
BLUEPRINT = """
[parameters.team]
type = "service"
default = "community-nursing-city"

[variants.trust]
points_of_access = ["community-health-spa"]
"""
EXTERNAL_TOPIC = "policy-matrix"
# The MI reports' period, around the pinned clock the scenario is made on (a report covers at most a year).
MI_PERIOD = {"from": "2026-11-01T00:00:00+00:00", "to": "2026-12-01T00:00:00+00:00"}
# The point of access working on the scenario's referrals (an allowed caller's own referrals are elsewhere).
MI_POINT = "community-health-spa"
# Sent by callers who must be refused: the access decision has to come before the body is read.
UNREADABLE_BODY = {"policy-matrix": "not a field of any request"}

# Routes anyone may call, and why. The FHIR catch-all answers every other path and method under /fhir with a
# 404 or 405 OperationOutcome that names no data. (The app has no static folder, so no static route.)
PUBLIC = {
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /api/docs",
    "GET /api/docs/",
    "GET /api/docs/assets/<filename>",
    "GET /api/v1/openapi.json",
    # Signing in checks the token in its body as every request's credentials are checked (counted against
    # the address when refused); signing out removes a cookie (a live session's needs its CSRF token).
    "POST /api/v1/session",
    "DELETE /api/v1/session",
    # Signing in at the OpenID Connect issuer: whether it is configured, the redirect there, and the issuer's
    # answer, which is checked against the pending sign-in sealed in this browser's cookie and counted against
    # the address when refused (tests/test_oidc_sign_in.py).
    "GET /api/v1/session/sign-in-options",
    "GET /api/v1/session/oidc",
    "GET /api/v1/session/oidc/callback",
    # The web application's files (api/web.py): the same page for every path, and its scripts and styles.
    # They hold no data: what a page shows comes from the API, under the policy above.
    "GET /studio",
    "GET /studio/",
    "GET /studio/<page>",
    "GET /console",
    "GET /console/",
    "GET /console/<page>",
    "GET /assets/<filename>",
    *(
        f"{method} {path}"
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        for path in ("/fhir/", "/fhir/<rest>")
    ),
}

# The reviewed policy: which roles may call each route. Designers deploy and read definitions (clinical
# approvers read the versions they review), the directory and calendars, never referral data; auditors read
# the audit trail only (of their organisation's referrals; platform auditors every organisation's); admins
# manage clients (their organisation's; platform admins every organisation's), services and calendars and
# read no referral data; referrers work on their own organisation's referrals and subscriptions; operators
# on their point of access's referrals and tasks; services on hand-offs routed to their organisation.
POLICY: dict[str, set[str]] = {
    "POST /api/v1/definitions": {"designer"},
    "POST /api/v1/definitions/validate": {"designer"},
    "POST /api/v1/definitions/check-code": {"designer"},
    "GET /api/v1/definitions": {"designer", "operator", "admin", "clinical-approver"},
    "GET /api/v1/definitions/<key>": {"designer", "operator", "admin", "clinical-approver"},
    "GET /api/v1/definitions/<key>/versions/<number>": {"designer", "operator", "admin", "clinical-approver"},
    "POST /api/v1/definitions/<key>/versions/<number>/approve": {"clinical-approver"},
    # Each variant of a blueprint is clinically approved on its own, by the same role.
    "POST /api/v1/definitions/<key>/versions/<number>/variants/<name>/approve": {"clinical-approver"},
    # Going live is the operational decision of the organisation running the point of access (its admins;
    # platform admins anywhere); everyone who reads the library reads the go-lives.
    "POST /api/v1/definitions/<key>/versions/<number>/go-live": {"admin", "platform-admin"},
    "POST /api/v1/definitions/<key>/go-lives/<go_live_id>/rollback": {"admin", "platform-admin"},
    "GET /api/v1/definitions/<key>/go-lives": {"designer", "operator", "admin", "clinical-approver"},
    # Scenario runs store nothing and read no referral: designers run drafts, a clinical approver may re-run
    # a stored version's scenarios to see their results before approving it.
    "POST /api/v1/scenario-runs": {"designer"},
    "POST /api/v1/definitions/<key>/versions/<number>/scenario-runs": {"designer", "clinical-approver"},
    "POST /api/v1/referrals": {"referrer", "operator"},
    "GET /api/v1/referrals": {"referrer", "operator"},
    "POST /api/v1/referrals/search": {"referrer", "operator"},
    "GET /api/v1/referrals/<referral_id>": {"referrer", "operator"},
    "GET /api/v1/referrals/<referral_id>/events": {"operator"},
    "GET /api/v1/referrals/<referral_id>/timeline": {"referrer", "operator"},
    "GET /api/v1/referrals/<referral_id>/deliveries": {"referrer", "operator"},
    "POST /api/v1/referrals/<referral_id>/retry": {"operator"},
    "POST /api/v1/referrals/<referral_id>/information": {"referrer"},
    "POST /api/v1/referrals/<referral_id>/cancel": {"referrer", "operator"},
    "GET /api/v1/tasks": {"operator"},
    "GET /api/v1/tasks/<task_id>": {"operator"},
    "POST /api/v1/tasks/<task_id>/claim": {"operator"},
    "POST /api/v1/tasks/<task_id>/release": {"operator"},
    "POST /api/v1/tasks/<task_id>/complete": {"operator"},
    "POST /api/v1/messages": {"operator", "service"},
    "POST /api/v1/signals": {"operator", "service"},
    "GET /api/v1/external-tasks": {"service"},
    "POST /api/v1/external-tasks/fetch-and-lock": {"service"},
    "POST /api/v1/external-tasks/<task_id>/complete": {"service"},
    "POST /api/v1/external-tasks/<task_id>/extend-lease": {"service"},
    "POST /api/v1/external-tasks/<task_id>/failure": {"service"},
    "POST /api/v1/external-tasks/<task_id>/bpmn-error": {"service"},
    "GET /api/v1/services": {"designer", "operator", "service", "referrer", "admin"},
    "GET /api/v1/services/<service_id>": {"designer", "operator", "service", "referrer", "admin"},
    "PUT /api/v1/services/<service_id>": {"admin"},
    "GET /api/v1/services/<service_id>/handoffs": {"service"},
    "GET /api/v1/handoffs/<handoff_id>": {"service", "operator"},
    "POST /api/v1/handoffs/<handoff_id>/<action>": {"service"},
    "GET /api/v1/obligations": {"operator", "service"},
    "GET /api/v1/reports/ola": {"operator"},
    "GET /api/v1/reports/pathways/<key>/versions/<number>/dwell": {"operator", "designer"},
    "GET /api/v1/reports/ola.csv": {"operator"},
    # MI of the referrals an operator's point of access works on: figures, and an event log naming referrals.
    "GET /api/v1/reports/referrals": {"operator"},
    "GET /api/v1/reports/referrals.csv": {"operator"},
    "GET /api/v1/reports/event-log.xes": {"operator"},
    "GET /api/v1/calendars": {"designer", "operator", "service", "referrer", "admin"},
    "POST /api/v1/calendars/<name>/closures": {"admin"},
    "DELETE /api/v1/calendars/<name>/closures/<closure_id>": {"admin"},
    "POST /api/v1/subscriptions": {"referrer"},
    "GET /api/v1/subscriptions": {"referrer"},
    "GET /api/v1/subscriptions/<subscription_id>": {"referrer"},
    "DELETE /api/v1/subscriptions/<subscription_id>": {"referrer"},
    "POST /api/v1/subscriptions/<subscription_id>/rotate-secret": {"referrer"},
    "GET /api/v1/subscriptions/<subscription_id>/events": {"referrer"},
    "GET /api/v1/subscriptions/<subscription_id>/deliveries": {"referrer"},
    "POST /api/v1/deliveries/<delivery_id>/replay": {"referrer"},
    "GET /fhir/ServiceRequest/<referral_id>": {"referrer", "operator", "service"},
    "GET /fhir/Task/<handoff_id>": {"referrer", "operator", "service"},
    "GET /fhir/Task": {"referrer", "operator", "service"},
    "GET /api/v1/audit": {"auditor", "platform-auditor"},
    "POST /api/v1/subject-access-requests": {"auditor", "platform-auditor"},
    "GET /api/v1/clients": {"admin", "platform-admin"},
    "POST /api/v1/clients": {"admin", "platform-admin"},
    "POST /api/v1/clients/<client_id>/revoke": {"admin", "platform-admin"},
    # Who is signed in (the web application's session, or a bearer token's client): anyone with a role.
    "GET /api/v1/session": set(ROLES),
    # Simulations store nothing and answer figures, no referral: designers try a change, duty managers
    # (operators) and admins ask what demand and staffing would do.
    "POST /api/v1/simulations": {"designer", "operator", "admin"},
    "GET /api/v1/simulations": {"designer", "operator", "admin"},
    "GET /api/v1/simulations/<simulation_id>": {"designer", "operator", "admin"},
    "POST /api/v1/simulations/<simulation_id>/cancel": {"designer", "operator", "admin"},
    "GET /api/v1/simulations/<simulation_id>/report": {"designer", "operator", "admin"},
}

FILTERED = "filtered"  # 200, without the other organisation's items
# What an allowed role from another organisation gets, where the engine scopes the data by organisation.
# 404 where even the existence of another organisation's referral, task or subscription is withheld; 403
# where the engine refuses openly. Roles not named are not scoped on that route: designer, clinical-approver,
# platform-admin and platform-auditor; admin and auditor except on the clients, audit, subject access and
# go-live routes; operators on the OLA reports (figures per service, no referral in them) and on starting a
# referral; and POST /messages, where nobody waits for the probe, so every allowed caller gets the same 409.
WRONG_ORGANISATION: dict[str, dict[str, int | str]] = {
    "GET /api/v1/referrals": {"referrer": FILTERED, "operator": FILTERED},
    "POST /api/v1/referrals/search": {"referrer": FILTERED, "operator": FILTERED},
    "GET /api/v1/referrals/<referral_id>": {"referrer": 404, "operator": 404},
    "GET /api/v1/referrals/<referral_id>/events": {"operator": 404},
    "GET /api/v1/referrals/<referral_id>/timeline": {"referrer": 404, "operator": 404},
    "GET /api/v1/referrals/<referral_id>/deliveries": {"referrer": 404, "operator": 404},
    "POST /api/v1/referrals/<referral_id>/retry": {"operator": 404},
    "POST /api/v1/referrals/<referral_id>/information": {"referrer": 404},
    "POST /api/v1/referrals/<referral_id>/cancel": {"referrer": 404, "operator": 404},
    "GET /api/v1/tasks": {"operator": 404},
    "GET /api/v1/tasks/<task_id>": {"operator": 404},
    "POST /api/v1/tasks/<task_id>/claim": {"operator": 404},
    "POST /api/v1/tasks/<task_id>/release": {"operator": 404},
    "POST /api/v1/tasks/<task_id>/complete": {"operator": 404},
    "GET /api/v1/services/<service_id>/handoffs": {"service": 403},
    # An operator reads the hand-offs of referrals its point of access works on; any other is absent.
    "GET /api/v1/handoffs/<handoff_id>": {"service": 403, "operator": 404},
    "POST /api/v1/handoffs/<handoff_id>/<action>": {"service": 403},
    # External tasks are worked by the service systems of the organisation operating their referral.
    "GET /api/v1/external-tasks": {"service": FILTERED},
    "POST /api/v1/external-tasks/fetch-and-lock": {"service": FILTERED},
    "POST /api/v1/external-tasks/<task_id>/complete": {"service": 404},
    "POST /api/v1/external-tasks/<task_id>/extend-lease": {"service": 404},
    "POST /api/v1/external-tasks/<task_id>/failure": {"service": 404},
    "POST /api/v1/external-tasks/<task_id>/bpmn-error": {"service": 404},
    "GET /api/v1/obligations": {"service": FILTERED, "operator": FILTERED},
    "GET /api/v1/reports/referrals": {"operator": FILTERED},
    "GET /api/v1/reports/referrals.csv": {"operator": FILTERED},
    "GET /api/v1/reports/event-log.xes": {"operator": FILTERED},
    "POST /api/v1/subscriptions": {"referrer": 404},
    "GET /api/v1/subscriptions": {"referrer": FILTERED},
    "GET /api/v1/subscriptions/<subscription_id>": {"referrer": 404},
    "DELETE /api/v1/subscriptions/<subscription_id>": {"referrer": 404},
    "POST /api/v1/subscriptions/<subscription_id>/rotate-secret": {"referrer": 404},
    "GET /api/v1/subscriptions/<subscription_id>/events": {"referrer": 404},
    "GET /api/v1/subscriptions/<subscription_id>/deliveries": {"referrer": 404},
    "POST /api/v1/deliveries/<delivery_id>/replay": {"referrer": 404},
    "GET /fhir/ServiceRequest/<referral_id>": {"referrer": 404, "service": 404, "operator": 404},
    "GET /fhir/Task/<handoff_id>": {"referrer": 404, "service": 403, "operator": 404},
    "GET /fhir/Task": {"referrer": FILTERED, "service": FILTERED, "operator": FILTERED},
    # Auditors and admins act within their organisation; the platform roles, not named, act in every one.
    "GET /api/v1/audit": {"auditor": 404},
    "POST /api/v1/subject-access-requests": {"auditor": FILTERED},
    "GET /api/v1/clients": {"admin": FILTERED},
    "POST /api/v1/clients": {"admin": 403},
    "POST /api/v1/clients/<client_id>/revoke": {"admin": 404},
    # A simulation is its organisation's (and an operator's, its point of access's).
    "GET /api/v1/simulations": {"designer": FILTERED, "operator": FILTERED, "admin": FILTERED},
    "GET /api/v1/simulations/<simulation_id>": {"designer": 404, "operator": 404, "admin": 404},
    "POST /api/v1/simulations/<simulation_id>/cancel": {"designer": 404, "operator": 404, "admin": 404},
    "GET /api/v1/simulations/<simulation_id>/report": {"designer": 404, "operator": 404, "admin": 404},
    # An admin goes live and rolls back at its own organisation's points of access only.
    "POST /api/v1/definitions/<key>/versions/<number>/go-live": {"admin": 403},
    "POST /api/v1/definitions/<key>/go-lives/<go_live_id>/rollback": {"admin": 403},
}

# Allowed by the route, refused by the engine: a clinical sign-off needs the clinical-approver role itself.
REFUSED_BY_ENGINE: dict[str, dict[str, int]] = {}

# Run after every other route: they end the referral the others read.
RUN_LAST = {"POST /api/v1/referrals/<referral_id>/cancel"}


@dataclass(frozen=True)
class Call:
    """How to call a route as an allowed caller: the path (``{name}`` filled from the scenario's ids), a body
    that passes validation, and for a listing, how to tell that it shows the scenario's own item."""

    path: str
    json: dict | None = None
    json_from: str | None = None  # the body is the scenario's value of this name
    query: dict = field(default_factory=dict)
    upload: bool = False
    shows: Callable[[object, dict], bool] | None = None


def answer_of(response):
    """What a listing answered: its JSON, or the text of any other answer (a CSV, an XES event log)."""
    return response.get_json() if response.is_json else response.get_data(as_text=True)


def _ids_in(items, key: str = "id") -> set:
    return {item.get(key) for item in items}


CALLS: dict[str, Call] = {
    # No arrivals, a quarter of an hour: it is done almost at once (a second one running meanwhile is a 409).
    "POST /api/v1/simulations": Call(
        "/api/v1/simulations",
        json={
            "pathway": "community_nursing_referral",
            "start": "2026-01-05T00:00:00+00:00",
            "days": 0.01,
            "runs": 1,
            "warm_up_days": 0,
            "demand": {"arrivals": [{"pathway": "community_nursing_referral", "per_hour": 0}]},
        },
    ),
    "GET /api/v1/simulations": Call(
        "/api/v1/simulations", shows=lambda body, ids: ids["simulation"] in _ids_in(body)
    ),
    "GET /api/v1/simulations/<simulation_id>": Call("/api/v1/simulations/{simulation}"),
    # Done already: an allowed caller is told so (409), not refused.
    "POST /api/v1/simulations/<simulation_id>/cancel": Call("/api/v1/simulations/{simulation}/cancel"),
    "GET /api/v1/simulations/<simulation_id>/report": Call("/api/v1/simulations/{simulation}/report"),
    "POST /api/v1/definitions": Call("/api/v1/definitions", upload=True),
    "POST /api/v1/definitions/validate": Call("/api/v1/definitions/validate", upload=True),
    "POST /api/v1/definitions/check-code": Call(
        "/api/v1/definitions/check-code", json={"code": "priority == 'urgent'", "kind": "expression"}
    ),
    "GET /api/v1/definitions": Call("/api/v1/definitions"),
    "GET /api/v1/definitions/<key>": Call("/api/v1/definitions/{key}"),
    "GET /api/v1/definitions/<key>/versions/<number>": Call("/api/v1/definitions/{key}/versions/{version}"),
    "POST /api/v1/scenario-runs": Call("/api/v1/scenario-runs", upload=True),
    "POST /api/v1/definitions/<key>/versions/<number>/scenario-runs": Call(
        "/api/v1/definitions/{key}/versions/{version}/scenario-runs"
    ),
    "POST /api/v1/definitions/<key>/versions/<number>/approve": Call(
        "/api/v1/definitions/{key}/versions/{version}/approve", json={"reason": "reviewed in the matrix"}
    ),
    "POST /api/v1/definitions/<key>/versions/<number>/variants/<name>/approve": Call(
        "/api/v1/definitions/{variant_key}/versions/1/variants/{variant}/approve",
        json={"reason": "reviewed in the matrix"},
    ),
    # A pilot of the approved go-live sample at the trust's point of access; the scenario's own pilot is
    # rolled back (once: every later allowed caller gets 409, nothing left to roll back).
    "POST /api/v1/definitions/<key>/versions/<number>/go-live": Call(
        "/api/v1/definitions/{go_live_key}/versions/1/go-live",
        json={"points_of_access": [GO_LIVE_POINT], "reason": "a pilot in the matrix"},
    ),
    "POST /api/v1/definitions/<key>/go-lives/<go_live_id>/rollback": Call(
        "/api/v1/definitions/{go_live_key}/go-lives/{go_live}/rollback", json={"reason": "matrix rollback"}
    ),
    "GET /api/v1/definitions/<key>/go-lives": Call("/api/v1/definitions/{go_live_key}/go-lives"),
    "POST /api/v1/referrals": Call("/api/v1/referrals", json=REFERRAL),
    "GET /api/v1/referrals": Call(
        "/api/v1/referrals",
        query={"subject": SUBJECT},
        shows=lambda body, ids: ids["referral"] in _ids_in(body),
    ),
    "POST /api/v1/referrals/search": Call(
        "/api/v1/referrals/search",
        json={"subject": SUBJECT},
        shows=lambda body, ids: ids["referral"] in _ids_in(body),
    ),
    "GET /api/v1/referrals/<referral_id>": Call("/api/v1/referrals/{referral}"),
    "GET /api/v1/referrals/<referral_id>/events": Call("/api/v1/referrals/{referral}/events"),
    "GET /api/v1/referrals/<referral_id>/timeline": Call("/api/v1/referrals/{referral}/timeline"),
    "GET /api/v1/referrals/<referral_id>/deliveries": Call("/api/v1/referrals/{referral}/deliveries"),
    "POST /api/v1/referrals/<referral_id>/retry": Call(
        "/api/v1/referrals/{referral}/retry", json={"data": {}}
    ),
    "POST /api/v1/referrals/<referral_id>/information": Call(
        "/api/v1/referrals/{referral}/information", json={"answer": {"allergies": "none"}}
    ),
    "POST /api/v1/referrals/<referral_id>/cancel": Call(
        "/api/v1/referrals/{referral}/cancel", json={"reason": "seen in clinic instead"}
    ),
    "GET /api/v1/tasks": Call(
        "/api/v1/tasks",
        query={"referral": "{incomplete_referral}", "status": "claimed"},
        shows=lambda body, ids: ids["task"] in _ids_in(body),
    ),
    "GET /api/v1/tasks/<task_id>": Call("/api/v1/tasks/{task}"),
    "POST /api/v1/tasks/<task_id>/claim": Call("/api/v1/tasks/{task}/claim"),
    "POST /api/v1/tasks/<task_id>/release": Call("/api/v1/tasks/{task}/release"),
    "POST /api/v1/tasks/<task_id>/complete": Call(
        "/api/v1/tasks/{task}/complete", json={"data": {"clinical_need": "catheter"}}
    ),
    # Nobody waits for this signal: an allowed caller's broadcast reaches no referral.
    "POST /api/v1/signals": Call("/api/v1/signals", json={"name": "policy.matrix.probe", "data": {}}),
    # Nobody waits for this message, so an allowed caller gets 409 and no referral changes.
    "POST /api/v1/messages": Call(
        "/api/v1/messages",
        json={"name": "policy.matrix.probe", "correlation": {"referral_id": "{referral}"}, "data": {}},
    ),
    "GET /api/v1/external-tasks": Call(
        "/api/v1/external-tasks", shows=lambda body, ids: ids["external_task"] in _ids_in(body)
    ),
    # Answers come before the fetch (routes run in order) from a worker that never locked the task: an
    # allowed caller gets 409 and the task stays open; the fetch, last, locks it for the home organisation.
    "POST /api/v1/external-tasks/fetch-and-lock": Call(
        "/api/v1/external-tasks/fetch-and-lock",
        json={"worker_id": "matrix", "topics": [EXTERNAL_TOPIC], "max_tasks": 10},
        shows=lambda body, ids: ids["external_task"] in _ids_in(body),
    ),
    "POST /api/v1/external-tasks/<task_id>/complete": Call(
        "/api/v1/external-tasks/{external_task}/complete", json={"worker_id": "matrix", "data": {}}
    ),
    "POST /api/v1/external-tasks/<task_id>/extend-lease": Call(
        "/api/v1/external-tasks/{external_task}/extend-lease", json={"worker_id": "matrix"}
    ),
    "POST /api/v1/external-tasks/<task_id>/failure": Call(
        "/api/v1/external-tasks/{external_task}/failure", json={"worker_id": "matrix", "error": "probe"}
    ),
    "POST /api/v1/external-tasks/<task_id>/bpmn-error": Call(
        "/api/v1/external-tasks/{external_task}/bpmn-error", json={"worker_id": "matrix", "code": "PROBE"}
    ),
    "GET /api/v1/services": Call("/api/v1/services"),
    "GET /api/v1/services/<service_id>": Call("/api/v1/services/{service}"),
    "PUT /api/v1/services/<service_id>": Call("/api/v1/services/{service}", json_from="service_body"),
    "GET /api/v1/services/<service_id>/handoffs": Call(
        "/api/v1/services/{service}/handoffs", shows=lambda body, ids: ids["handoff"] in _ids_in(body)
    ),
    "GET /api/v1/handoffs/<handoff_id>": Call("/api/v1/handoffs/{handoff}"),
    # Not allowed from "requested": an allowed caller gets 409 and the hand-off stays as it is.
    "POST /api/v1/handoffs/<handoff_id>/<action>": Call(
        "/api/v1/handoffs/{handoff}/complete", json={"outcome": "seen"}
    ),
    "GET /api/v1/obligations": Call(
        "/api/v1/obligations", shows=lambda body, ids: ids["referral"] in _ids_in(body, "referral_id")
    ),
    "GET /api/v1/reports/pathways/<key>/versions/<number>/dwell": Call(
        "/api/v1/reports/pathways/{key}/versions/{version}/dwell",
        query={"from": "2000-01-01T00:00:00+00:00", "to": "2100-01-01T00:00:00+00:00"},
    ),
    "GET /api/v1/reports/ola": Call(
        "/api/v1/reports/ola", query={"from": "2000-01-01T00:00:00+00:00", "to": "2100-01-01T00:00:00+00:00"}
    ),
    "GET /api/v1/reports/ola.csv": Call(
        "/api/v1/reports/ola.csv",
        query={"from": "2000-01-01T00:00:00+00:00", "to": "2100-01-01T00:00:00+00:00"},
    ),
    "GET /api/v1/reports/referrals": Call(
        "/api/v1/reports/referrals",
        query=MI_PERIOD,
        shows=lambda body, ids: MI_POINT in {g["point_of_access"] for g in body["groups"]},
    ),
    "GET /api/v1/reports/referrals.csv": Call(
        "/api/v1/reports/referrals.csv", query=MI_PERIOD, shows=lambda text, ids: MI_POINT in text
    ),
    "GET /api/v1/reports/event-log.xes": Call(
        "/api/v1/reports/event-log.xes", query=MI_PERIOD, shows=lambda text, ids: ids["referral"] in text
    ),
    "GET /api/v1/calendars": Call("/api/v1/calendars"),
    "POST /api/v1/calendars/<name>/closures": Call(
        "/api/v1/calendars/{calendar}/closures",
        json={"starts_at": "{closure_starts}", "ends_at": "{closure_ends}", "reason": "local holiday"},
    ),
    "DELETE /api/v1/calendars/<name>/closures/<closure_id>": Call(
        "/api/v1/calendars/{calendar}/closures/{closure}"
    ),
    "POST /api/v1/subscriptions": Call(
        "/api/v1/subscriptions", json={"referral_id": "{referral}", "url": HOOK}
    ),
    "GET /api/v1/subscriptions": Call(
        "/api/v1/subscriptions", shows=lambda body, ids: ids["subscription"] in _ids_in(body)
    ),
    "GET /api/v1/subscriptions/<subscription_id>": Call("/api/v1/subscriptions/{subscription}"),
    "DELETE /api/v1/subscriptions/<subscription_id>": Call("/api/v1/subscriptions/{spare_subscription}"),
    "POST /api/v1/subscriptions/<subscription_id>/rotate-secret": Call(
        "/api/v1/subscriptions/{subscription}/rotate-secret", json={"grace_seconds": 60}
    ),
    "GET /api/v1/subscriptions/<subscription_id>/events": Call("/api/v1/subscriptions/{subscription}/events"),
    "GET /api/v1/subscriptions/<subscription_id>/deliveries": Call(
        "/api/v1/subscriptions/{subscription}/deliveries"
    ),
    "POST /api/v1/deliveries/<delivery_id>/replay": Call("/api/v1/deliveries/{delivery}/replay"),
    "GET /fhir/ServiceRequest/<referral_id>": Call("/fhir/ServiceRequest/{referral}"),
    "GET /fhir/Task/<handoff_id>": Call("/fhir/Task/{handoff}"),
    "GET /fhir/Task": Call(
        "/fhir/Task",
        query={"focus": "ServiceRequest/{referral}"},
        shows=lambda body, ids: ids["handoff"] in {e["resource"]["id"] for e in body.get("entry", [])},
    ),
    "GET /api/v1/audit": Call("/api/v1/audit", query={"referral": "{referral}"}),
    "POST /api/v1/subject-access-requests": Call(
        "/api/v1/subject-access-requests",
        json={"subject": SUBJECT},
        shows=lambda body, ids: ids["referral"] in {r["referral"]["id"] for r in body.get("referrals", [])},
    ),
    "GET /api/v1/clients": Call(
        "/api/v1/clients", shows=lambda body, ids: ids["spare_client"] in {c["id"] for c in body}
    ),
    "POST /api/v1/clients": Call(
        "/api/v1/clients", json={"name": "matrix made", "organisation": SERVICE_ORG, "roles": ["referrer"]}
    ),
    "POST /api/v1/clients/<client_id>/revoke": Call("/api/v1/clients/{spare_client}/revoke"),
    "GET /api/v1/session": Call("/api/v1/session"),
}


CONVERTER = re.compile(r"<(?:[^<>]*:)?(\w+)>")


def route_key(method: str, rule: str) -> str:
    """``METHOD /path/<name>``: the rule without its converters (``<any(...):action>`` → ``<action>``)."""
    return method + " " + CONVERTER.sub(r"<\1>", rule)


def declared_roles(view) -> frozenset[str] | None:
    """The roles ``requires`` stored on the view or on any view it wraps (flask-smorest wraps views)."""
    while view is not None:
        roles = getattr(view, "allowed_roles", None)
        if roles is not None:
            return frozenset(roles)
        view = getattr(view, "__wrapped__", None)
    return None


def routes(app) -> dict[str, frozenset[str] | None]:
    """Every route and method the app serves (HEAD and OPTIONS are Flask's), with its declared roles."""
    found = {}
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found[route_key(method, rule.rule)] = declared_roles(app.view_functions[rule.endpoint])
    return found


def test_every_route_declares_who_may_call_it(app):
    undeclared = sorted(
        route for route, roles in routes(app).items() if roles is None and route not in PUBLIC
    )
    assert not undeclared, (
        "routes without a policy: wrap the view in api.auth.requires(...) and add it to POLICY in "
        f"tests/test_policy_matrix.py, or list it in PUBLIC with the reason: {undeclared}"
    )


def test_the_declared_roles_are_the_reviewed_policy(app):
    served = routes(app)
    declared = {route: roles for route, roles in served.items() if roles is not None}
    assert sorted(set(PUBLIC) - set(served)) == [], "PUBLIC names routes the app does not serve"
    assert sorted(set(declared) & PUBLIC) == [], "a PUBLIC route declares roles"
    assert sorted(set(declared) - set(POLICY)) == [], "routes missing from POLICY"
    assert sorted(set(POLICY) - set(declared)) == [], "POLICY names routes the app does not serve"
    differences = {
        route: {"declared": sorted(declared[route]), "reviewed": sorted(POLICY[route])}
        for route in POLICY
        if declared[route] != POLICY[route]
    }
    assert not differences, f"the declared roles differ from POLICY (review and update one): {differences}"
    assert set().union(*POLICY.values()) <= ROLES, "POLICY names a role engine.clients does not know"
    assert set(CALLS) == set(POLICY), "every route in POLICY needs a CALLS entry saying how to call it"
    assert set(WRONG_ORGANISATION) | set(REFUSED_BY_ENGINE) | RUN_LAST <= set(POLICY)
    for route, roles in WRONG_ORGANISATION.items():
        assert set(roles) <= POLICY[route], f"{route}: WRONG_ORGANISATION names a role the route refuses"


# ---- the walk over real data -------------------------------------------------------------------------------


@pytest.fixture
def settings(settings):
    # Subscriptions to a loopback webhook are accepted without resolving a public address. Every route is
    # called without a token from the one test address, more failed sign-ins than an address may make in a
    # minute: the limit (tests/test_rate_limits.py) is not what this walk checks.
    return dataclasses.replace(settings, webhook_allow_private=True, rate_limit_failed_auth="off")


@pytest.fixture
def scenario(signpost, nursing, app) -> dict:
    """A referral from the GP practice routed to City community nursing (with its OLA clocks running), a
    second one waiting for an operator, a subscription with deliveries, and things made to be removed."""
    signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")

    def client(role: str, organisation: str):
        return signpost.clients.create(name=f"scenario {role}", organisation=organisation, roles={role})[0]

    gp, duty_worker = client("referrer", REFERRER_ORG), client("operator", SERVICE_ORG)
    subscription = signpost.notifications.subscribe(gp, referral_id=None, url=HOOK, email=None, events=None)
    spare_subscription = signpost.notifications.subscribe(
        gp, referral_id=None, url=HOOK, email=None, events=None
    )
    referral, _ = signpost.referrals.start(gp, version=None, **REFERRAL)
    [handoff] = referral["handoffs"]
    assert (handoff["to_service"], handoff["status"]) == (SERVICE_ID, "requested")
    incomplete, _ = signpost.referrals.start(
        gp, version=None, **{**REFERRAL, "data": {**REFERRAL["data"], "clinical_need": None}}
    )
    [task] = signpost.referrals.tasks(duty_worker, referral_id=incomplete["id"])
    # Claimed by someone outside the matrix, so that no caller in it completes the task.
    signpost.referrals.claim_task(task["id"], duty_worker)
    signpost.definitions.deploy([samples.source(samples.external_task(EXTERNAL_TOPIC, "matrix_lookup"))], "t")
    waiting, _ = signpost.referrals.start(
        gp,
        pathway="matrix_lookup",
        version=None,
        referrer="C81001",
        subject=None,
        data={},
        point_of_access="community-health-spa",
    )
    [external_task] = waiting["waiting_for"]["external_tasks"]
    pilot = _go_live_sample(signpost, client("clinical-approver", SERVICE_ORG), client("admin", SERVICE_ORG))
    blueprint = samples.script_then_user_task(process_id=VARIANT_KEY)
    signpost.definitions.deploy(
        [
            samples.source(blueprint, f"{VARIANT_KEY}.bpmn"),
            samples.source(BLUEPRINT, f"{VARIANT_KEY}.variants.toml"),
        ],
        "matrix designer",
    )
    [delivery, *_] = signpost.notifications.deliveries(gp, subscription_id=subscription["id"])
    later = datetime.now(UTC) + timedelta(days=400)
    closure = signpost.olas.add_closure("office-hours", later, later + timedelta(days=1), "to remove", gp)
    service = signpost.services.get(SERVICE_ID).as_dict()
    simulation = _simulation_sample(app, signpost, client("designer", SERVICE_ORG))
    return {
        "key": nursing.key,
        "version": nursing.number,
        "referral": referral["id"],
        "incomplete_referral": incomplete["id"],
        "handoff": handoff["id"],
        "task": task["id"],
        "external_task": external_task["id"],
        "service": SERVICE_ID,
        "service_body": {k: v for k, v in service.items() if k != "id"},
        "subscription": subscription["id"],
        "spare_subscription": spare_subscription["id"],
        "delivery": delivery["id"],
        "calendar": "office-hours",
        "closure": closure["id"],
        "closure_starts": (later + timedelta(days=7)).isoformat(),
        "closure_ends": (later + timedelta(days=8)).isoformat(),
        "spare_client": client("referrer", SERVICE_ORG).id,
        "go_live_key": GO_LIVE_KEY,
        "go_live": pilot["id"],
        "variant_key": VARIANT_KEY,
        "variant": "trust",
        "simulation": simulation,
    }


def _simulation_sample(app, signpost, designer) -> str:
    """A finished simulation of the trust's designer (a day without arrivals: nothing to run)."""
    jobs = app.extensions["simulations"]
    started = jobs.start(
        {
            "pathway": "community_nursing_referral",
            "start": datetime(2026, 1, 5, tzinfo=UTC),
            "days": 0.01,
            "runs": 1,
            "warm_up_days": 0,
            "demand": {"arrivals": [{"pathway": "community_nursing_referral", "per_hour": 0}]},
        },
        designer,
    )
    assert SimulationWorker(signpost, "matrix worker").work_next() == started["id"]
    assert jobs.get(started["id"], designer)["status"] == "done"
    return started["id"]


def _go_live_sample(signpost, approver, admin) -> dict:
    """An approved sample pathway piloted at the trust's point of access by the trust's admin."""
    sample = samples.script_then_user_task(process_id=GO_LIVE_KEY)
    signpost.definitions.deploy([samples.source(sample, f"{GO_LIVE_KEY}.bpmn")], "matrix designer")
    signpost.definitions.approve(GO_LIVE_KEY, 1, approver, reason="reviewed in the matrix")
    return signpost.go_lives.go_live(
        GO_LIVE_KEY, 1, admin, reason="the scenario's pilot", points_of_access=[GO_LIVE_POINT]
    )


def filled(value, ids: dict):
    """``value`` with ``{name}`` placeholders replaced by the scenario's ids."""
    if isinstance(value, str):
        return value.format_map(ids)
    if isinstance(value, dict):
        return {k: filled(v, ids) for k, v in value.items()}
    return value


def send(http, route: str, ids: dict, headers: dict, *, readable: bool):
    """Call ``route`` as an allowed caller would (``readable``), or with a body and query no route takes."""
    method = route.split(" ", 1)[0]
    call = CALLS[route]
    kwargs = {"headers": headers, "query_string": filled(call.query, ids) if readable else {}}
    if not readable:
        if method != "GET":
            kwargs["json"] = UNREADABLE_BODY
    elif call.upload:
        kwargs["data"] = {"files": [(io.BytesIO((PROCESSES / n).read_bytes()), n) for n in NURSING_FILES]}
        kwargs["content_type"] = "multipart/form-data"
    elif call.json_from is not None:
        kwargs["json"] = ids[call.json_from]
    elif call.json is not None:
        kwargs["json"] = filled(call.json, ids)
    return http.open(filled(call.path, ids), method=method, **kwargs)


def test_every_route_role_and_organisation(http, signpost, token_for, scenario):
    ids = scenario
    callers = [
        (role, organisation, token_for(role, organisation=organisation), organisation == HOME_ORG.get(role))
        for role in sorted(ROLES)
        for organisation in dict.fromkeys((HOME_ORG.get(role, SERVICE_ORG), OTHER_ORG))
    ]
    _, elsewhere = signpost.clients.create(
        name="matrix operator elsewhere",
        organisation=SERVICE_ORG,
        roles={"operator"},
        service=OTHER_POINT_OF_ACCESS,
    )
    callers.append(
        (
            "operator",
            f"{SERVICE_ORG} at {OTHER_POINT_OF_ACCESS}",
            {"Authorization": f"Bearer {elsewhere}"},
            False,
        )
    )
    problems = []

    def expect(route: str, who: str, response, wanted: str, ok: bool) -> None:
        if response.status_code >= 500 or not ok:
            problems.append(f"{route} as {who}: {response.status_code}, expected {wanted}")

    for route in sorted(POLICY, key=lambda r: r in RUN_LAST):
        allowed = POLICY[route]
        anonymous = send(http, route, ids, {}, readable=False)
        expect(route, "no token", anonymous, "401", anonymous.status_code == 401)
        for role, organisation, headers, home in callers:
            who = f"{role} of {organisation}"
            if role not in allowed:
                response = send(http, route, ids, headers, readable=False)
                expect(route, who, response, "403", response.status_code == 403)
                continue
            response = send(http, route, ids, headers, readable=True)
            refused = REFUSED_BY_ENGINE.get(route, {}).get(role)
            scoped = WRONG_ORGANISATION.get(route, {}).get(role)
            shows = CALLS[route].shows
            if refused is not None:
                expect(route, who, response, str(refused), response.status_code == refused)
            elif scoped is not None and not home:
                if scoped == FILTERED:
                    hidden = response.status_code == 200 and not shows(answer_of(response), ids)
                    expect(route, who, response, "200 without the scenario's item", hidden)
                else:
                    expect(route, who, response, str(scoped), response.status_code == scoped)
            else:
                ok = response.status_code not in (401, 403)
                if route.startswith("GET ") or shows is not None:
                    ok = response.status_code == 200 and (shows is None or shows(answer_of(response), ids))
                expect(route, who, response, "not refused (200 for a read, showing the scenario)", ok)
    assert not problems, "\n".join(problems)


def test_public_routes_answer_without_a_token_and_the_fhir_catch_all_reveals_nothing(http, scenario):
    for path in ("/healthz", "/readyz", "/metrics", "/api/docs", "/api/docs/", "/api/v1/openapi.json"):
        assert http.get(path).status_code == 200, path
    assert http.get("/api/docs/assets/swagger-ui.css").status_code == 200
    assert http.get("/static/anything").status_code == 404  # no static folder is served
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        for path, status in (
            ("/fhir/", 404),
            ("/fhir/Patient/1", 404),
            (f"/fhir/ServiceRequest/{scenario['referral']}", 405 if method != "GET" else 401),
            (f"/fhir/Task/{scenario['handoff']}", 405 if method != "GET" else 401),
        ):
            response = http.open(path, method=method)
            assert response.status_code == status, (method, path, response.status_code)
            assert scenario["referral"].encode() not in response.data
            assert b"medication" not in response.data


def test_a_service_cannot_answer_for_another_organisations_hand_off_by_message(http, token_for, scenario):
    elsewhere = token_for("service", organisation=OTHER_ORG)
    response = http.post(
        "/api/v1/messages",
        headers=elsewhere,
        json={
            "name": "handoff.accepted",
            "correlation": {"referral_id": scenario["referral"]},
            "data": {"visit_window": "never"},
        },
    )
    gp = token_for("referrer", organisation=REFERRER_ORG)
    referral = http.get(f"/api/v1/referrals/{scenario['referral']}", headers=gp).json
    # Refused as any caller's hand-off event is: another organisation learns nothing about the referral.
    assert response.status_code == 422 and "never" not in str(referral["data"])
