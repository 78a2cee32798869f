from __future__ import annotations

from flask import request
from flask_smorest import Blueprint

from api.auth import current_client, requires
from api.engine_access import signpost
from api.idempotency import IDEMPOTENCY_HEADER, idempotency_key
from api.schemas import HandoffActionSchema, HandoffSchema

blp = Blueprint(
    "handoffs",
    __name__,
    url_prefix="/api/v1/handoffs",
    description="Hand-offs (FHIR Tasks) and what the receiving service does with them",
)

ACTIONS = (
    "acknowledge",
    "accept",
    "reject",
    "request-information",
    "schedule",
    "start",
    "complete",
    "transfer",
)
ACTION_HEADERS = [
    {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "the hand-off's ETag as last read; a stale one is refused with 412",
    },
    IDEMPOTENCY_HEADER,
]


@blp.route("/<string:handoff_id>", methods=["GET"])
@requires("service", "operator")
@blp.response(200, HandoffSchema)
def get_handoff(handoff_id: str):
    handoff = signpost().handoffs.get(handoff_id, current_client())
    return handoff, 200, {"ETag": handoff["etag"]}


@blp.route(
    "/<string:handoff_id>/<any(" + ", ".join(f"'{a}'" for a in ACTIONS) + "):action>", methods=["POST"]
)
@requires("service")
@blp.arguments(HandoffActionSchema)
@blp.doc(parameters=ACTION_HEADERS)
@blp.response(200, HandoffSchema)
def act_on_handoff(body: dict, handoff_id: str, action: str):
    handoff = signpost().handoffs.act(
        handoff_id,
        action,
        body,
        current_client(),
        if_match=request.headers.get("If-Match"),
        idempotency_key=idempotency_key(),
    )
    return handoff, 200, {"ETag": handoff["etag"]}
