"""Signpost's HTTP API: a thin Flask layer over ``engine``."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from api import audit_trail, docs, errors, operations
from api.views import (
    audit,
    clients,
    definitions,
    fhir,
    handoffs,
    messages,
    notifications,
    olas,
    referrals,
    services,
    tasks,
)
from engine.system import Signpost

# Large enough for a deployment of several BPMN/DMN files; anything bigger is refused with a 413.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


def create_app(signpost: Signpost) -> Flask:
    """The WSGI app serving ``signpost``'s engine. The caller owns the engine (and the ticker)."""
    app = Flask("signpost")
    app.config.update(
        API_TITLE="Signpost",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=max(MAX_REQUEST_BYTES, signpost.settings.max_upload_bytes * 8),
        API_SPEC_OPTIONS={
            "info": {
                "description": "Referral routing with two-way operating level agreements. Every request "
                "needs 'Authorization: Bearer <token>'."
            },
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    app.extensions["signpost"] = signpost
    api = Api(app)
    for blueprint in (
        definitions.blp,
        referrals.blp,
        tasks.blp,
        messages.blp,
        services.blp,
        handoffs.blp,
        olas.blp,
        notifications.blp,
        fhir.blp,
        audit.blp,
        clients.blp,
    ):
        api.register_blueprint(blueprint)
    errors.register(app)
    docs.register(app)
    operations.register(app)
    audit_trail.register(app)
    return app
