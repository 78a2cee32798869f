"""Schemathesis against the served OpenAPI document: every operation, in process, with generated input.

For each operation a bounded, derandomised set of requests (valid ones and deliberately invalid ones) is
sent to the Flask app by a client holding every role, over a database that already holds the community
nursing pathway, the service directory, referrals, a task, a hand-off and a subscription, so that ids in
paths, queries and bodies sometimes name real things. Every response must be free of server errors and
match what the document promises: a documented status code and content type, documented headers, and a
body that fits its schema.
"""

from __future__ import annotations

import dataclasses
import logging

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from engine.governance.clients import ROLES
from engine.settings import Settings

EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ORGANISATION = "leicestershire-partnership-nhs-trust"  # runs the nursing teams the pathway routes to
SUBJECT = "9434765919"
REFERRAL_NEEDING_AN_OPERATOR = {
    "pathway": "community_nursing_referral",
    "referrer": "C81001",
    "subject": SUBJECT,
    "data": {"clinical_need": None, "address_postcode": "LE1 5WW", "housebound": True},
}
ROUTED_REFERRAL = {**REFERRAL_NEEDING_AN_OPERATOR, "data": {**REFERRAL_NEEDING_AN_OPERATOR["data"]}}
ROUTED_REFERRAL["data"].update(clinical_need="medication", housebound=False)


@pytest.fixture
def settings(settings) -> Settings:
    # Webhook URLs are accepted without a DNS look-up, so generated hosts never leave this machine.
    return dataclasses.replace(settings, webhook_allow_private=True)


@pytest.fixture
def every_role(token_for):
    """Mint a bearer header for a new client holding every role (one per operation: an operation that
    revokes clients may revoke the one it runs as, and must not spoil the operations after it)."""
    return lambda: token_for(*sorted(ROLES), organisation=ORGANISATION)


@pytest.fixture
def real_values(http, every_role, nursing) -> dict[str, dict[str, list]]:
    """Values naming things that exist, by where they go (path, query, body) and the parameter's name."""
    headers = every_role()
    waiting = http.post("/api/v1/referrals", json=REFERRAL_NEEDING_AN_OPERATOR, headers=headers)
    routed = http.post("/api/v1/referrals", json=ROUTED_REFERRAL, headers=headers)
    assert waiting.status_code == routed.status_code == 201, (waiting.json, routed.json)
    tasks = http.get("/api/v1/tasks", query_string={"referral": waiting.json["id"]}, headers=headers).json
    handoffs = routed.json["handoffs"]
    assert tasks and handoffs, "the pathway should give a task and a hand-off to aim at"
    subscription = http.post(
        "/api/v1/subscriptions",
        json={"referral_id": routed.json["id"], "url": "http://127.0.0.1:9/hook"},
        headers=headers,
    )
    assert subscription.status_code == 201, subscription.json
    referral_ids = [waiting.json["id"], routed.json["id"]]
    return {
        "path": {
            "key": [nursing.key],
            "number": [nursing.number],
            "referral_id": referral_ids,
            "task_id": [task["id"] for task in tasks],
            "handoff_id": [handoff["id"] for handoff in handoffs],
            "service_id": [handoffs[0]["to_service"]],
            "subscription_id": [subscription.json["id"]],
            "name": ["office-hours", "24x7"],
        },
        "query": {
            "referral": referral_ids,
            "focus": [f"ServiceRequest/{referral_id}" for referral_id in referral_ids],
            "subject": [SUBJECT],
        },
        "body": {"pathway": [nursing.key], "referral_id": referral_ids, "subject": [SUBJECT]},
    }


def aimed_at(real: dict[str, list]):
    """A flatmap hook giving the generated values as they are, or with the names in ``real`` replaced by
    real values: generated ids almost never exist, and the paths behind a found one matter most."""

    def hook(context, generated):
        if not isinstance(generated, dict) or not generated.keys() & real.keys():
            return st.just(generated)
        replaced = {
            name: st.sampled_from(real[name]) if name in real else st.just(value)
            for name, value in generated.items()
        }
        return st.one_of(st.just(generated), st.fixed_dictionaries(replaced))

    return hook


@pytest.fixture
def api_schema(app, real_values):
    # The bearer token is always sent: generated requests explore the operations rather than a missing
    # Authorization header, which would turn most of them into the same 401.
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    schema.hook("flatmap_path_parameters")(aimed_at(real_values["path"]))
    schema.hook("flatmap_query")(aimed_at(real_values["query"]))
    schema.hook("flatmap_body")(aimed_at(real_values["body"]))
    return schema


def answers_as_documented(operation, headers: dict[str, str]) -> None:
    """Run the operation's generated cases, valid and invalid, and check every response."""
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
    )

    @given(case=cases)
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def each_case(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    each_case()


def test_every_operation_answers_as_documented(api_schema, every_role, subtests, signpost, caplog):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 30, "the document should list every operation"
    for operation in operations:
        with subtests.test(operation.label):
            answers_as_documented(operation, every_role())
    # Nothing failed quietly either: no audit record lost, no error logged behind a clean answer.
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert signpost.audit.verify().intact


HOSTILE_REQUESTS = {
    "nul-in-path": ("GET", "/api/v1/referrals/%00", {}, 400),
    "nul-in-query": ("GET", "/api/v1/tasks?referral=a%00b", {}, 400),
    "nul-in-json": ("POST", "/api/v1/messages", {"json": {"name": "x\x00", "correlation": {"a": "b"}}}, 400),
    "nul-in-json-key": ("POST", "/api/v1/referrals", {"json": {**ROUTED_REFERRAL, "data": {"\x00": 1}}}, 400),
    "deeply-nested-json": (
        "POST",
        "/api/v1/referrals",
        {"data": "[" * 100_000 + "]" * 100_000, "content_type": "application/json"},
        400,
    ),
    "idempotency-key-too-long": (
        "POST",
        "/api/v1/referrals",
        {"json": ROUTED_REFERRAL, "headers": {"Idempotency-Key": "k" * 201}},
        422,
    ),
    "version-number-past-any-column": (
        "GET",
        "/api/v1/definitions/community_nursing_referral/versions/99999999999999999999",
        {},
        404,
    ),
    "referral-version-past-any-column": (
        "POST",
        "/api/v1/referrals",
        {"json": {**ROUTED_REFERRAL, "version": 2**31}},
        422,
    ),
    # Past the integers every JSON reader holds exactly (2**53 - 1): refused with the body, whatever field.
    "referral-version-past-json-integers": (
        "POST",
        "/api/v1/referrals",
        {"json": {**ROUTED_REFERRAL, "version": 10**20}},
        400,
    ),
    "negative-audit-limit": ("GET", "/api/v1/audit?referral=x&limit=-1", {}, 422),
    "huge-audit-limit": ("GET", "/api/v1/audit?referral=x&limit=100000000000000000000", {}, 422),
}


@pytest.mark.parametrize(
    ("method", "path", "options", "status"), HOSTILE_REQUESTS.values(), ids=HOSTILE_REQUESTS
)
def test_hostile_values_the_generator_rarely_reaches_are_problems(
    http, every_role, nursing, method, path, options, status
):
    """Each was once a server error on one database or both: a NUL PostgreSQL cannot store, JSON deeper than
    the parser's recursion limit, a key or a number longer than its column."""
    headers = {**every_role(), **options.get("headers", {})}
    response = http.open(
        path, method=method, headers=headers, **{k: v for k, v in options.items() if k != "headers"}
    )
    assert response.status_code == status, response.get_data()[:500]
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == status and response.json["detail"]


def test_requests_naming_hostile_or_numeric_ids_are_audited_and_the_chain_holds(http, every_role, signpost):
    headers = every_role()
    before = signpost.audit.verify().records
    http.get("/api/v1/tasks", query_string={"referral": "r" * 300}, headers=headers)
    http.post("/api/v1/deliveries/1/replay", headers=headers)
    # Refused before its credentials are looked at: counted, not chained (tests/test_audit.py).
    http.get("/api/v1/referrals/%00", headers=headers)
    verdict = signpost.audit.verify()
    assert (verdict.intact, verdict.records) == (True, before + 2), verdict.problem
