from __future__ import annotations

from flask_smorest import Blueprint

from api.auth import current_client, requires
from api.engine_access import signpost
from api.schemas import MessageResultSchema, MessageSchema

blp = Blueprint(
    "messages",
    __name__,
    url_prefix="/api/v1/messages",
    description="BPMN messages delivered to the referrals waiting for them",
)


@blp.route("", methods=["POST"])
@requires("service", "operator")
@blp.arguments(MessageSchema)
@blp.response(202, MessageResultSchema)
def send_message(body: dict):
    delivered = signpost().referrals.deliver_message(
        body["name"], body["correlation"], body["data"], current_client()
    )
    return {"delivered_to": delivered}
