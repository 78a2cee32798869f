"""Probes and metrics for whoever runs Signpost: /healthz, /readyz and /metrics (no authentication, so
that load balancers and Prometheus can reach them; they reveal no referral data)."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, g, request

from api.engine_access import signpost
from api.errors import problem

blp = Blueprint("operations", __name__)


@blp.route("/healthz")
def healthz() -> Response:
    """The process is up and serving."""
    return Response('{"status": "ok"}', mimetype="application/json")


@blp.route("/readyz")
def readyz() -> Response:
    """The process can do its work: the database answers."""
    try:
        signpost().ready()
    except Exception as error:  # any failure to reach the database means not ready
        return problem(503, "Service Unavailable", f"the database is not reachable: {type(error).__name__}")
    return Response('{"status": "ready"}', mimetype="application/json")


@blp.route("/metrics")
def metrics() -> Response:
    return Response(signpost().metrics_exposition(), mimetype="text/plain; version=0.0.4; charset=utf-8")


def _start_timer() -> None:
    # A duration, not a time of day: the monotonic counter is the right instrument.
    g.request_started = time.perf_counter()


def _record_latency(response: Response) -> Response:
    started = g.pop("request_started", None)
    if started is not None:
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        signpost().metrics.http_latency.labels(request.method, route, str(response.status_code)).observe(
            time.perf_counter() - started
        )
    return response


def register(app: Flask) -> None:
    app.register_blueprint(blp)
    app.before_request(_start_timer)
    app.after_request(_record_latency)
