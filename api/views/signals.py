from __future__ import annotations

from flask_smorest import Blueprint

from api.auth import current_client, requires
from api.engine_access import signpost
from api.idempotency import IDEMPOTENCY_HEADER, idempotency_key
from api.schemas import SignalResultSchema, SignalSchema

blp = Blueprint(
    "signals",
    __name__,
    url_prefix="/api/v1/signals",
    description="BPMN signals broadcast to every referral the caller speaks for that waits for them",
)


@blp.route("", methods=["POST"])
@requires("service", "operator")
@blp.arguments(SignalSchema)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
@blp.response(202, SignalResultSchema)
def send_signal(body: dict):
    return signpost().referrals.send_signal(
        body["name"], body["data"], current_client(), idempotency_key=idempotency_key()
    )
