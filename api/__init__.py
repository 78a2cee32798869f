"""Signpost's HTTP API: a thin Flask layer over ``engine``."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from api import audit_trail, docs, errors, input_guard, operations, rate_limits, web, web_session
from api.schemas import LARGEST_STORED_INTEGER
from api.views import (
    audit,
    clients,
    definitions,
    external_tasks,
    fhir,
    go_lives,
    handoffs,
    messages,
    notifications,
    olas,
    personal_data,
    referrals,
    reports,
    scenarios,
    services,
    session,
    signals,
    simulations,
    tasks,
    variants,
)
from engine.simulation.jobs import SimulationQueue
from engine.system import Signpost


class StoredIntegerConverter(IntegerConverter):
    """``<int:…>`` that matches only numbers a row can have: a larger one is a 404, not a database error."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=LARGEST_STORED_INTEGER, signed=False):
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


# Large enough for a deployment of several BPMN/DMN files; anything bigger is refused with a 413.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


def create_app(signpost: Signpost) -> Flask:
    """The WSGI app serving ``signpost``'s engine. The caller owns the engine (and the ticker)."""
    # No static folder: the API serves no files from the working directory.
    app = Flask("signpost", static_folder=None)
    app.url_map.converters["int"] = StoredIntegerConverter
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
    app.extensions["simulations"] = SimulationQueue(signpost)
    hops = signpost.settings.proxy_hops
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    api = errors.ProblemApi(app)
    for blueprint in (
        definitions.blp,
        go_lives.blp,
        variants.blp,
        referrals.blp,
        tasks.blp,
        messages.blp,
        signals.blp,
        external_tasks.blp,
        services.blp,
        handoffs.blp,
        olas.blp,
        reports.blp,
        notifications.blp,
        fhir.blp,
        audit.blp,
        personal_data.blp,
        clients.blp,
        session.blp,
        scenarios.blp,
        simulations.blp,
    ):
        api.register_blueprint(blueprint)
    errors.register(app)
    input_guard.register(app)
    docs.register(app)
    operations.register(app)
    audit_trail.register(app)
    rate_limits.register(app)
    web_session.register(app)
    web.register(app)
    return app
