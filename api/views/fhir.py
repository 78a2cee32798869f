"""Read-only FHIR R4 views: GET a referral as a ServiceRequest, a hand-off as a Task, and search a referral's
Tasks by focus. Every answer, errors included, is ``application/fhir+json``: errors are OperationOutcomes."""

from __future__ import annotations

import json
import logging
import re

import flask
from flask import Response, request
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException

from api.auth import current_client, requires
from api.engine_access import signpost
from api.errors import STATUS_OF
from api.rate_limits import RATE_LIMIT_HEADERS, TOO_MANY_REQUESTS_DESCRIPTION
from engine.errors import SignpostError
from engine.referrals.fhir import FhirViews, operation_outcome

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
READERS = ("referrer", "operator", "service")
# FHIR IssueType codes for the HTTP statuses these views answer with.
ISSUE_CODE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-long",
    422: "processing",
    429: "throttled",
}
# The logical id of a FHIR resource (the id datatype's pattern).
FHIR_ID = r"[A-Za-z0-9\-.]{1,64}"
SERVED_PATHS = re.compile(r"(ServiceRequest|Task)(/[^/]+)?")

blp = Blueprint(
    "fhir",
    __name__,
    url_prefix="/fhir",
    description="Read-only FHIR R4 views: a referral is a ServiceRequest, each hand-off a Task",
)


def _fhir_doc(description: str) -> dict:
    return {
        "responses": {
            "200": {"description": description, "content": {FHIR_JSON: {"schema": {"type": "object"}}}},
            "429": {
                "description": TOO_MANY_REQUESTS_DESCRIPTION + " (an OperationOutcome)",
                "headers": RATE_LIMIT_HEADERS,
                "content": {FHIR_JSON: {"schema": {"type": "object"}}},
            },
            "default": {
                "description": "an OperationOutcome saying what went wrong",
                "content": {FHIR_JSON: {"schema": {"type": "object"}}},
            },
        }
    }


def fhir_response(resource: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(resource), status=status, mimetype=FHIR_JSON, headers=headers)


def outcome_response(status: int, diagnostics: str, code: str | None = None) -> Response:
    response = fhir_response(
        operation_outcome(code or ISSUE_CODE.get(status, "exception"), diagnostics), status
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="signpost"'
    return response


def fhir_base() -> str:
    return request.url_root.rstrip("/") + blp.url_prefix


def views() -> FhirViews:
    return FhirViews(signpost().database)


@blp.route("/ServiceRequest/<string:referral_id>", methods=["GET"])
@blp.doc(**_fhir_doc("the referral as a FHIR R4 ServiceRequest"))
@requires(*READERS)
def get_service_request(referral_id: str):
    return fhir_response(views().service_request(referral_id, current_client()))


@blp.route("/Task/<string:handoff_id>", methods=["GET"])
@blp.doc(**_fhir_doc('the hand-off as a FHIR R4 Task; the ETag is W/"<meta.versionId>"'))
@requires(*READERS)
def get_task(handoff_id: str):
    task = views().task(handoff_id, current_client())
    return fhir_response(task, headers={"ETag": f'W/"{task["meta"]["versionId"]}"'})


@blp.route("/Task", methods=["GET"])
@blp.doc(
    parameters=[
        {
            "name": "focus",
            "in": "query",
            "required": True,
            "schema": {"type": "string"},
            "description": "ServiceRequest/{referral_id}: the referral whose hand-offs to list",
        }
    ],
    **_fhir_doc("a searchset Bundle of the referral's Tasks that the client may see"),
)
@requires(*READERS)
def search_tasks():
    referral_id = _focused_referral(request.args.getlist("focus"))
    if isinstance(referral_id, Response):
        return referral_id
    return fhir_response(views().tasks_focused_on(referral_id, current_client(), fhir_base()))


def _focused_referral(values: list[str]) -> str | Response:
    if not values:
        return outcome_response(
            400, "search Tasks by their referral: focus=ServiceRequest/{referral_id}", "required"
        )
    if len(values) > 1:
        return outcome_response(400, "give one focus parameter", "not-supported")
    focus = values[0].removeprefix(fhir_base() + "/")
    found = re.fullmatch(f"ServiceRequest/({FHIR_ID})", focus)
    if found is None:
        return outcome_response(
            400, f"focus must be ServiceRequest/{{referral_id}}, got {values[0]!r}", "invalid"
        )
    return found.group(1)


def unsupported(rest: str):
    """Any other path under /fhir, or another method on a served one."""
    if SERVED_PATHS.fullmatch(rest):
        response = outcome_response(405, f"{request.method} is not supported: these views are read-only")
        response.headers["Allow"] = "GET, HEAD, OPTIONS"
        return response
    return outcome_response(404, f"this server does not serve /fhir/{rest}: only ServiceRequest and Task")


# Registered on the plain Flask blueprint so that the catch-all stays out of the OpenAPI document.
for rule, defaults in (("/", {"rest": ""}), ("/<path:rest>", {})):
    flask.Blueprint.add_url_rule(
        blp,
        rule,
        "unsupported",
        unsupported,
        defaults=defaults,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    )


@blp.errorhandler(SignpostError)
def engine_outcome(error: SignpostError) -> Response:
    status = next(
        status for error_class, status, _slug, _title in STATUS_OF if isinstance(error, error_class)
    )
    if status >= 500:
        log.error("engine error: %s", error)
    return outcome_response(status, error.message)


@blp.errorhandler(HTTPException)
def http_outcome(error: HTTPException) -> Response:
    return outcome_response(error.code or 500, error.description or error.name)


@blp.errorhandler(Exception)
def unexpected_outcome(error: Exception) -> Response:
    log.exception("unhandled error")
    return outcome_response(500, "an unexpected error occurred; it has been logged")
