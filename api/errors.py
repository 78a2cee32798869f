"""The one place that maps engine errors (and HTTP-level failures) to RFC 9457 problem responses."""

from __future__ import annotations

import http
import logging

from flask import Flask, Response, json
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from api.rate_limits import RATE_LIMIT_HEADERS, TOO_MANY_REQUESTS_DESCRIPTION
from api.schemas import ProblemSchema
from engine.errors import (
    Conflict,
    DefinitionInvalid,
    ExpressionError,
    FormDataInvalid,
    IdempotencyConflict,
    IllegalTransition,
    InvalidInput,
    LeaseLost,
    NotAllowed,
    NotAuthenticated,
    NotFound,
    PreconditionFailed,
    RateLimited,
    SignpostError,
    StepFailed,
)

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://signpost.invalid/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

# Ordered: the first matching class wins, so subclasses come before their parents.
STATUS_OF = [
    (DefinitionInvalid, 422, "definition-invalid", "The definition is not valid"),
    (IllegalTransition, 409, "illegal-transition", "Not allowed from the current status"),
    (PreconditionFailed, 412, "precondition-failed", "The resource has changed"),
    (IdempotencyConflict, 409, "idempotency-conflict", "Idempotency-Key reused with a different request"),
    (LeaseLost, 409, "lease-lost", "The worker does not hold this task's lease"),
    (Conflict, 409, "conflict", "Conflict with the current state"),
    (StepFailed, 422, "step-failed", "The pathway could not process this input"),
    (ExpressionError, 422, "expression-error", "A pathway expression failed"),
    (FormDataInvalid, 422, "form-data-invalid", "The data does not fit the task's form"),
    (InvalidInput, 422, "invalid-input", "Invalid input"),
    (NotFound, 404, "not-found", "Not found"),
    (NotAuthenticated, 401, "not-authenticated", "Not authenticated"),
    (NotAllowed, 403, "not-allowed", "Not allowed"),
    (RateLimited, 429, "rate-limited", "Too many requests"),
    (SignpostError, 500, "engine-error", "Engine error"),
]


def problem(status: int, title: str, detail: str, type_slug: str = "about:blank", **extra) -> Response:
    body = {
        "type": PROBLEM_TYPE_BASE + type_slug if type_slug != "about:blank" else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="signpost"'
    return response


def engine_problem(error: SignpostError) -> Response:
    for error_class, status, slug, title in STATUS_OF:
        if isinstance(error, error_class):
            extra = {}
            if isinstance(error, DefinitionInvalid):
                extra["problems"] = [p.as_dict() for p in error.problems]
            if isinstance(error, StepFailed):
                extra["element_id"] = error.element_id
            if isinstance(error, IllegalTransition):
                extra["allowed"] = error.allowed
            if isinstance(error, FormDataInvalid):
                extra["errors"] = error.errors
            if status >= 500:
                log.error("engine error: %s", error)
            return problem(status, title, error.message, slug, **extra)
    raise AssertionError("SignpostError is the last entry of STATUS_OF")


def http_problem(error: HTTPException) -> Response:
    # flask-smorest puts request validation messages on the exception's ``data``.
    messages = getattr(error, "data", {}).get("messages") if hasattr(error, "data") else None
    detail = error.description or error.name
    extra = {}
    if messages:
        extra["errors"] = messages
        detail = "the request does not match its schema: " + _flatten(messages)
    response = problem(error.code or 500, error.name, detail, **extra)
    for header in ("Allow", "Retry-After"):
        if error.get_response().headers.get(header):
            response.headers[header] = error.get_response().headers[header]
    return response


def _flatten(messages, prefix: str = "") -> str:
    parts = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = key if key not in ("json", "form", "files", "query", "headers") else ""
            parts.append(_flatten(value, f"{prefix}.{name}".strip(".") if name else prefix))
    elif isinstance(messages, list):
        parts.append(
            f"{prefix}: {' '.join(str(m) for m in messages)}" if prefix else " ".join(map(str, messages))
        )
    else:
        parts.append(f"{prefix}: {messages}")
    return "; ".join(p for p in parts if p)


class ProblemApi(Api):
    """flask-smorest's Api, documenting every error response as what ``problem`` sends."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        super()._register_responses()
        # flask-smorest documents error bodies as application/json; these replace its lazily registered
        # error responses (the default one and one per 4xx/5xx status) with the problem+json they are.
        errors = [(s.name, s.phrase) for s in http.HTTPStatus if s >= 400]
        for name, description in [*errors, (self.DEFAULT_ERROR_RESPONSE_NAME, "Error")]:
            response = {
                "description": description,
                "content": {PROBLEM_MEDIA_TYPE: {"schema": ProblemSchema}},
            }
            if name == http.HTTPStatus.TOO_MANY_REQUESTS.name:
                response.update(description=TOO_MANY_REQUESTS_DESCRIPTION, headers=RATE_LIMIT_HEADERS)
            self.spec.components.response(name, response, lazy=True)


def register(app: Flask) -> None:
    app.register_error_handler(SignpostError, engine_problem)
    app.register_error_handler(HTTPException, http_problem)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "Internal Server Error", "an unexpected error occurred; it has been logged")
