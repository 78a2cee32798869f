"""Staged go-live of pathway versions: a pilot at some points of access, then the rest, and rollbacks."""

from __future__ import annotations

from flask_smorest import Blueprint

from api.auth import current_client, requires
from api.engine_access import signpost
from api.go_live_schemas import GoLiveBodySchema, GoLiveSchema, RollbackBodySchema

blp = Blueprint(
    "go_lives",
    __name__,
    url_prefix="/api/v1/definitions",
    description="Staged go-live: which approved version new referrals start on at each point of access, from "
    "when; pilots, scheduled go-lives and rollbacks, each in the audit trail",
)


@blp.route("/<string:key>/versions/<int:number>/go-live", methods=["POST"])
@requires("admin", "platform-admin")
@blp.arguments(GoLiveBodySchema)
@blp.response(
    201,
    GoLiveSchema,
    description="the go-live, recorded (the first of a pathway also records what was live before it)",
)
def go_live(body: dict, key: str, number: int):
    return signpost().go_lives.go_live(
        key,
        number,
        current_client(),
        reason=body["reason"],
        points_of_access=body["points_of_access"],
        live_from=body["live_from"],
    ), 201


@blp.route("/<string:key>/go-lives/<int:go_live_id>/rollback", methods=["POST"])
@requires("admin", "platform-admin")
@blp.arguments(RollbackBodySchema)
@blp.response(200, GoLiveSchema, description="the go-live, rolled back where asked")
def roll_back(body: dict, key: str, go_live_id: int):
    return signpost().go_lives.roll_back(
        key, go_live_id, current_client(), reason=body["reason"], points_of_access=body["points_of_access"]
    )


@blp.route("/<string:key>/go-lives", methods=["GET"])
@requires("designer", "operator", "admin", "clinical-approver")
@blp.response(200, GoLiveSchema(many=True), description="every go-live of the pathway, newest first")
def go_live_history(key: str):
    return signpost().go_lives.history(key)
