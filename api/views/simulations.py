"""Pathway simulations for the studio and the console (docs/simulation.md): queue one (a simulation worker
runs it), poll its progress, cancel it, read its figures and its HTML report. Designers, operators (duty
managers) and admins; a simulation is seen by its organisation only. What is stored is the run itself: a
simulation runs on throw-away stores and reads only figures (no referral) from this database.
"""

from __future__ import annotations

from flask import Response, current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import current_client, requires
from engine.simulation.jobs import MOST_DAYS, MOST_RUNS

blp = Blueprint(
    "simulations",
    __name__,
    url_prefix="/api/v1",
    description="Pathway simulations: predicted OLA compliance, queues and waits, before a change goes live",
)
ROLES = ("designer", "operator", "admin")


class WhatIfSchema(Schema):
    demand_scale = fields.Float(load_default=1.0, metadata={"description": "every arrival rate x this"})
    close = fields.List(fields.String(), load_default=list, metadata={"description": "service@YYYY-MM-DD"})
    target = fields.List(
        fields.String(), load_default=list, metadata={"description": "[OLA name:]obligation=PT2H"}
    )
    capacity = fields.List(fields.String(), load_default=list, metadata={"description": "service=N or =+N"})


class SimulationRequestSchema(Schema):
    pathway = fields.String(required=True, metadata={"description": "the pathway's key"})
    version = fields.Integer(
        load_default=None, validate=validate.Range(min=1), metadata={"description": "latest"}
    )
    compare_version = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1),
        metadata={"description": "a second version of the pathway, simulated beside the first"},
    )
    start = fields.AwareDateTime(load_default=None, metadata={"description": "first instant reported"})
    days = fields.Float(load_default=7.0, validate=validate.Range(min=0.01, max=MOST_DAYS))
    warm_up_days = fields.Float(load_default=2.0, validate=validate.Range(min=0, max=14))
    runs = fields.Integer(load_default=3, validate=validate.Range(min=1, max=MOST_RUNS))
    seed = fields.Integer(load_default=1, validate=validate.Range(min=0, max=2**31))
    demand = fields.Dict(load_default=None, metadata={"description": "{arrivals: [{pathway, per_hour}]}"})
    services = fields.Dict(load_default=None, metadata={"description": "{services: {id: behaviour}, tasks}"})
    fit_from = fields.AwareDateTime(load_default=None)
    fit_to = fields.AwareDateTime(load_default=None)
    what_if = fields.Nested(WhatIfSchema, load_default=None)


class ProgressSchema(Schema):
    arm = fields.String()
    run = fields.Integer()
    runs = fields.Integer()
    simulated_days = fields.Float()
    days = fields.Float()
    referrals = fields.Integer()
    referrals_per_second = fields.Float()
    fraction_done = fields.Float()
    seconds_left = fields.Integer(allow_none=True)


class SimulationSchema(Schema):
    id = fields.String()
    title = fields.String()
    status = fields.String(metadata={"description": "queued, running, done, cancelled or failed"})
    cancel_requested = fields.Boolean(metadata={"description": "asked to stop; its worker ends it shortly"})
    requested_by = fields.String()
    created_at = fields.String()
    finished_at = fields.String(allow_none=True)
    progress = fields.Nested(ProgressSchema, allow_none=True)
    error = fields.String(allow_none=True)
    figures = fields.Dict(allow_none=True, metadata={"description": "when done: as signpost simulate --json"})


def jobs():
    return current_app.extensions["simulations"]


@blp.route("/simulations", methods=["POST"])
@requires(*ROLES)
@blp.arguments(SimulationRequestSchema)
@blp.response(202, SimulationSchema, description="queued: poll GET /simulations/{id}")
def start_simulation(body: dict):
    return jobs().start(body, current_client())


@blp.route("/simulations", methods=["GET"])
@requires(*ROLES)
@blp.response(200, SimulationSchema(many=True), description="the organisation's simulations, newest first")
def list_simulations():
    return jobs().list(current_client())


@blp.route("/simulations/<string:simulation_id>", methods=["GET"])
@requires(*ROLES)
@blp.response(200, SimulationSchema)
def get_simulation(simulation_id: str):
    return jobs().get(simulation_id, current_client())


@blp.route("/simulations/<string:simulation_id>/cancel", methods=["POST"])
@requires(*ROLES)
@blp.response(200, SimulationSchema)
def cancel_simulation(simulation_id: str):
    return jobs().cancel(simulation_id, current_client())


@blp.route("/simulations/<string:simulation_id>/report", methods=["GET"])
@requires(*ROLES)
@blp.response(
    200, description="the HTML report (self-contained: inline charts, no scripts)", content_type="text/html"
)
def simulation_report(simulation_id: str):
    html = jobs().report(simulation_id, current_client())
    return Response(
        html,
        mimetype="text/html",
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )
