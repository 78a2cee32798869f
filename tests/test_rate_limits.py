"""Rate limits per API client and per address failing to authenticate: 429 with Retry-After and RateLimit
headers, a moving window that passes with the clock, shared counts in Redis across processes, and the
settings that turn limits off or name their storage."""

from __future__ import annotations

import dataclasses
import logging
import re
import uuid
from datetime import UTC, datetime

import pytest
import redis
import schemathesis
import time_machine
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import create_app
from engine.settings import Settings
from engine.system import build

MONDAY_NINE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LIMITED = "/api/v1/calendars"  # any operation that needs a client will do
ROLE = "operator"
REDIS_URL = "redis://127.0.0.1:6379/0"
# Only loopback addresses: a remote address here is the WSGI environ's, not a connection.
OTHER_ADDRESS = {"REMOTE_ADDR": "127.0.0.2"}
WRONG_TOKEN = {"Authorization": "Bearer sp_not-a-token"}


@pytest.fixture
def settings(settings) -> Settings:
    return dataclasses.replace(settings, rate_limit="3/minute", rate_limit_failed_auth="2/minute")


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY_NINE, tick=False) as traveller:
        yield traveller


def rate_limit_headers(response) -> dict[str, str]:
    return {
        name: response.headers[name]
        for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After")
        if name in response.headers
    }


def metric(http, name: str, labels: str = "") -> float:
    text = http.get("/metrics").get_data(as_text=True)
    found = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_a_client_over_its_limit_gets_429_until_the_window_passes_and_others_are_served(
    http, token_for, clock
):
    alice, bob = token_for(ROLE), token_for(ROLE)
    answers = [http.get(LIMITED, headers=alice) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [rate_limit_headers(a) for a in answers] == [
        {"RateLimit-Limit": "3", "RateLimit-Remaining": str(left), "RateLimit-Reset": "61"}
        for left in (2, 1, 0)
    ]

    refused = http.get(LIMITED, headers=alice)
    assert refused.status_code == 429
    assert refused.content_type == "application/problem+json"
    assert refused.json["type"].endswith("/rate-limited") and refused.json["status"] == 429
    assert refused.json["detail"] == (
        "too many requests from this client (the limit is 3 per 1 minute); retry after 61 s"
    )
    assert rate_limit_headers(refused) == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "61",
        "Retry-After": "61",
    }
    assert http.get(LIMITED, headers=bob).status_code == 200, "another client has an allowance of its own"

    clock.shift(30)
    still = http.get(LIMITED, headers=alice)
    assert (still.status_code, still.headers["Retry-After"]) == (429, "31")
    clock.shift(31)  # as long as Retry-After said
    assert [http.get(LIMITED, headers=alice).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert metric(http, "signpost_rate_limited_requests_total", '{limit="client"}') == 3


def test_the_window_moves_with_each_request_rather_than_resetting_on_the_minute(http, token_for, clock):
    alice = token_for(ROLE)
    for _ in range(3):
        assert http.get(LIMITED, headers=alice).status_code == 200
        clock.shift(20)
    clock.shift(-0.5)
    # At 0:59.5 the first request is not yet a minute old: refused, for half a second.
    refused = http.get(LIMITED, headers=alice)
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "1")
    clock.shift(1)
    admitted = http.get(LIMITED, headers=alice)
    assert admitted.status_code == 200
    # Only the first request left the window: the one from 0:20 is next to go, 19.5 s later.
    assert rate_limit_headers(admitted) == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "20",
    }
    assert http.get(LIMITED, headers=alice).headers["Retry-After"] == "20"


def test_an_address_failing_to_authenticate_is_refused_even_with_a_right_token_then_served_again(
    http, token_for, clock
):
    alice = token_for(ROLE)
    failures = [http.get(LIMITED, headers=WRONG_TOKEN) for _ in range(2)]
    assert [f.status_code for f in failures] == [401, 401]
    assert [f.headers["RateLimit-Remaining"] for f in failures] == ["1", "0"]

    refused = http.get(LIMITED, headers=WRONG_TOKEN)
    assert refused.status_code == 429
    assert refused.json["detail"] == (
        "too many failed authentications from this address (the limit is 2 per 1 minute); retry after 61 s"
    )
    assert refused.headers["Retry-After"] == "61"
    # A right guess looks the same as a wrong one while the address is refused.
    assert http.get(LIMITED, headers=alice).status_code == 429
    assert http.get(LIMITED, headers=alice, environ_base=OTHER_ADDRESS).status_code == 200
    assert http.get(LIMITED, headers=WRONG_TOKEN, environ_base=OTHER_ADDRESS).status_code == 401
    assert metric(http, "signpost_rate_limited_requests_total", '{limit="failed-authentication"}') == 2

    clock.shift(61)
    assert http.get(LIMITED, headers=alice).status_code == 200
    assert http.get(LIMITED, headers=WRONG_TOKEN).status_code == 401


def test_authenticated_requests_do_not_count_as_failures_and_refused_roles_count_as_requests(
    http, token_for, clock
):
    referrer = token_for("referrer")
    answers = [http.get("/api/v1/clients", headers=referrer).status_code for _ in range(4)]
    assert answers == [403, 403, 403, 429], "a 403 is an authenticated request like any other"
    assert http.get(LIMITED, headers=WRONG_TOKEN).status_code == 401, "no failed authentication was counted"


def test_probes_metrics_and_docs_are_never_limited(http, token_for, clock):
    alice = token_for(ROLE)
    for _ in range(4):
        http.get(LIMITED, headers=alice)
        http.get(LIMITED, headers=WRONG_TOKEN)
    assert http.get(LIMITED, headers=alice).status_code == 429
    for path in ("/healthz", "/readyz", "/metrics", "/api/docs", "/api/v1/openapi.json"):
        for _ in range(5):
            answer = http.get(path, headers=alice)
            assert answer.status_code == 200, path
            assert rate_limit_headers(answer) == {}, path


@pytest.mark.parametrize("off", ["off", "OFF"])
def test_limits_configured_off_count_nothing(settings, token_for, off):
    system = build(dataclasses.replace(settings, rate_limit=off, rate_limit_failed_auth=off))
    try:
        http = create_app(system).test_client()
        _client, token = system.clients.create(name="busy", organisation="city-gp-practice", roles={ROLE})
        busy = {"Authorization": f"Bearer {token}"}
        answers = [http.get(LIMITED, headers=busy) for _ in range(20)]
        assert {a.status_code for a in answers} == {200}
        assert all(rate_limit_headers(a) == {} for a in answers)
        assert {http.get(LIMITED, headers=WRONG_TOKEN).status_code for _ in range(20)} == {401}
    finally:
        system.close()


def test_the_429_is_documented_on_every_operation_and_answers_as_documented(app, http, token_for, clock):
    document = http.get("/api/v1/openapi.json").json
    operations = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    ]
    assert len(operations) > 30
    assert [f"{method} {path}" for method, path, op in operations if "429" not in op["responses"]] == []

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    alice = token_for(ROLE)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    for _ in range(3):
        http.get(LIMITED, headers=alice)
    for path, parameters in ((LIMITED, {}), ("/fhir/Task/{handoff_id}", {"handoff_id": "h-1"})):
        case = schema[path]["GET"].Case(path_parameters=parameters, headers=alice)
        response = case.call_and_validate(checks=checks)
        assert response.status_code == 429, path
    fhir = http.get("/fhir/Task/h-1", headers=alice)
    assert fhir.content_type == "application/fhir+json"
    assert fhir.json["issue"][0]["code"] == "throttled" and fhir.headers["Retry-After"] == "61"


def test_an_unreachable_storage_admits_requests_uncounted_and_says_so_once(settings, caplog):
    # Nothing listens on port 1 of the loopback address: every count fails at once.
    system = build(dataclasses.replace(settings, rate_limit_storage="redis://127.0.0.1:1/0"))
    try:
        http = create_app(system).test_client()
        _client, token = system.clients.create(name="busy", organisation="city-gp-practice", roles={ROLE})
        busy = {"Authorization": f"Bearer {token}"}
        with caplog.at_level(logging.WARNING, logger="engine.governance.rate_limits"):
            answers = [http.get(LIMITED, headers=busy) for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5
        assert all(rate_limit_headers(a) == {} for a in answers)
        warnings = [r.getMessage() for r in caplog.records if r.name == "engine.governance.rate_limits"]
        assert len(warnings) == 1 and "admitting requests uncounted" in warnings[0]
        assert metric(http, "signpost_rate_limit_storage_errors_total") == 10  # standing + count, 5 times
    finally:
        system.close()


def redis_unreachable() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
    except redis.RedisError as error:
        return f"no Redis at {REDIS_URL} ({type(error).__name__}): the shared count cannot be shown"
    return None


def test_two_processes_sharing_redis_share_one_count(settings):
    if reason := redis_unreachable():
        pytest.skip(reason)
    # A namespace of this test's own: other runs may use the same Redis at the same time, with the same
    # client ids. Redis expires the counts a minute after their last request.
    shared = dataclasses.replace(
        settings, rate_limit_storage=REDIS_URL, rate_limit_namespace=f"signpost-test-{uuid.uuid4().hex}"
    )
    first, second = build(shared), build(shared)  # each process builds its own engine and app
    try:
        one, two = create_app(first).test_client(), create_app(second).test_client()
        _client, token = first.clients.create(name="a", organisation="city-gp-practice", roles={ROLE})
        _client, other = first.clients.create(name="b", organisation="city-gp-practice", roles={ROLE})
        alice, bob = {"Authorization": f"Bearer {token}"}, {"Authorization": f"Bearer {other}"}

        answers = [
            one.get(LIMITED, headers=alice),
            two.get(LIMITED, headers=alice),
            one.get(LIMITED, headers=alice),
        ]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
        assert two.get(LIMITED, headers=alice).status_code == 429
        assert one.get(LIMITED, headers=alice).status_code == 429
        assert two.get(LIMITED, headers=bob).status_code == 200

        assert one.get(LIMITED, headers=WRONG_TOKEN).status_code == 401
        assert two.get(LIMITED, headers=WRONG_TOKEN).status_code == 401
        assert one.get(LIMITED, headers=bob).status_code == 429, "the address failed twice, across both"
    finally:
        first.close()
        second.close()


def test_rate_limit_settings_are_read_and_checked_at_start_up(tmp_path):
    base = {"SIGNPOST_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    defaults = Settings.from_env(base)
    assert (defaults.rate_limit, defaults.rate_limit_failed_auth, defaults.rate_limit_storage) == (
        "600/minute",
        "60/minute",
        "memory://",
    )
    configured = Settings.from_env(
        {
            **base,
            "SIGNPOST_RATE_LIMIT": "100 per 10 seconds",
            "SIGNPOST_RATE_LIMIT_FAILED_AUTH": "off",
            "SIGNPOST_RATE_LIMIT_STORAGE": "redis://cache:6379/2",
            "SIGNPOST_RATE_LIMIT_NAMESPACE": "staging",
        }
    )
    assert (configured.rate_limit, configured.rate_limit_failed_auth) == ("100 per 10 seconds", "off")
    assert (configured.rate_limit_storage, configured.rate_limit_namespace) == (
        "redis://cache:6379/2",
        "staging",
    )
    for name, value, message in [
        ("SIGNPOST_RATE_LIMIT", "lots", "one rate such as '600/minute'"),
        ("SIGNPOST_RATE_LIMIT", "1/second;5/minute", "one rate such as"),
        ("SIGNPOST_RATE_LIMIT_FAILED_AUTH", "0/minute", "at least one request"),
        ("SIGNPOST_RATE_LIMIT_STORAGE", "memcached://cache:11211", "memory:// or a Redis URL"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            Settings.from_env({**base, name: value})
