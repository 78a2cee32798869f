"""One expression or script checked on its own, ``POST /api/v1/definitions/check-code``: what the studio's
condition and script fields show as the designer types. It answers with the problem the deploy checks give
for the same code (a deployment holding it is refused with the same message), located by line and column,
and never runs the code."""

from __future__ import annotations

import io
import time

import pytest

from tests import bpmn_samples as samples

PATH = "/api/v1/definitions/check-code"


def check(http, headers, code, kind="expression"):
    return http.post(PATH, json={"code": code, "kind": kind}, headers=headers)


def test_good_code_has_no_problems(http, designer_headers):
    for code, kind in [
        ("len(missing_fields) > 0", "expression"),
        ('priority == "urgent" and age >= 65', "expression"),
        ('acceptance_due = "PT2H" if priority == "urgent" else "P1D"\nchecked = True', "script"),
    ]:
        answer = check(http, designer_headers, code, kind)
        assert (answer.status_code, answer.content_type) == (200, "application/json"), code
        assert answer.json == {"valid": True, "problems": []}, code


SYNTAX_ERRORS = [
    ("x ==", "expression", 1, 5, "syntax error: invalid syntax"),
    ("len(x) > (", "expression", 1, 10, "syntax error: '(' was never closed"),
    ("a = 1\nb = (a +", "script", 2, 5, "syntax error: '(' was never closed"),
    ("  priority ==", "expression", 1, 14, "syntax error: invalid syntax"),
]
FORBIDDEN = [
    ("import os", "script", 1, 1, "import is not allowed in pathway scripts"),
    ("checked = True\nvalue = ().__class__", "script", 2, 9, "names starting with '_' are private"),
    ("open('/etc/passwd').read()", "expression", 1, 1, "open"),
    ("${score > 3}", "expression", 1, 1, "is written in JUEL"),
]


@pytest.mark.parametrize(
    ("code", "kind", "line", "column", "says"),
    SYNTAX_ERRORS + FORBIDDEN,
    ids=[f"syntax error {n}" for n in range(len(SYNTAX_ERRORS))] + ["import", "private", "open", "JUEL"],
)
def test_refused_code_is_located_by_line_and_column(http, designer_headers, code, kind, line, column, says):
    answer = check(http, designer_headers, code, kind)
    assert (answer.status_code, answer.json["valid"]) == (200, False)
    [problem] = answer.json["problems"]
    assert (problem["line"], problem["column"]) == (line, column)
    assert says in problem["message"]
    if "syntax error" in says:
        assert problem["message"] == says


def test_the_message_is_the_one_a_deployment_is_refused_with(http, designer_headers):
    script = "checked = True\nimport os"
    [problem] = check(http, designer_headers, script, "script").json["problems"]
    refused = http.post(
        "/api/v1/definitions",
        data={"files": [(io.BytesIO(samples.script_then_user_task(script).encode()), "sample.bpmn")]},
        headers=designer_headers,
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    [deploy_problem] = refused.json["problems"]
    assert deploy_problem["element_id"] == "compute"
    assert deploy_problem["message"].endswith(f"(line {problem['line']}): {problem['message']}")


def test_the_code_is_checked_not_run(http, designer_headers):
    started = time.monotonic()
    endless = check(http, designer_headers, "while True:\n    waited = 1", "script")
    assert endless.json == {"valid": True, "problems": []}
    failing = check(http, designer_headers, "1 / 0 + bpmn_error('never')", "expression")
    assert failing.json == {"valid": True, "problems": []}
    assert time.monotonic() - started < 30  # had the loop run, the evaluator's time limit would refuse it


@pytest.mark.parametrize(
    "body",
    [
        {"code": "x > 1"},
        {"kind": "expression"},
        {"code": "x > 1", "kind": "feel"},
        {"code": 42, "kind": "expression"},
        {"code": "x > 1", "kind": "expression", "language": "python"},
        {"code": "x" * 100_001, "kind": "expression"},
    ],
    ids=["no kind", "no code", "unknown kind", "code not text", "unknown field", "too long"],
)
def test_bad_input_is_a_problem(http, designer_headers, body):
    answer = http.post(PATH, json=body, headers=designer_headers)
    assert 400 <= answer.status_code < 500
    assert answer.content_type == "application/problem+json"
    assert answer.json["status"] == answer.status_code


def test_a_body_that_is_not_json_is_a_problem(http, designer_headers):
    answer = http.post(PATH, data="code=x", headers=designer_headers, content_type="text/plain")
    assert 400 <= answer.status_code < 500
    assert answer.content_type == "application/problem+json"


def test_only_a_signed_in_designer_may_check_code(http, token_for):
    anonymous = http.post(PATH, json={"code": "x > 1", "kind": "expression"})
    assert (anonymous.status_code, anonymous.content_type) == (401, "application/problem+json")
    for role in ("operator", "clinical-approver", "admin"):
        answer = http.post(PATH, json={"code": "x > 1", "kind": "expression"}, headers=token_for(role))
        assert (answer.status_code, answer.content_type) == (403, "application/problem+json"), role


def test_the_endpoint_is_documented(http):
    spec = http.get("/api/v1/openapi.json").json
    operation = spec["paths"][PATH]["post"]
    assert "requestBody" in operation and "200" in operation["responses"]
