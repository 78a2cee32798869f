from __future__ import annotations

from flask import url_for
from flask_smorest import Blueprint

from api.auth import current_client, requires
from api.engine_access import signpost
from api.idempotency import IDEMPOTENCY_HEADER, idempotency_key
from api.schemas import (
    CancelSchema,
    EventSchema,
    HandoffSummarySchema,
    InformationSchema,
    ReferralQuerySchema,
    ReferralSchema,
    ReferralSearchSchema,
    ReferralStartSchema,
    RetrySchema,
    TimelineEntrySchema,
)

blp = Blueprint(
    "referrals",
    __name__,
    url_prefix="/api/v1/referrals",
    description="Referrals: a pathway started for one person, and where it has got to",
)


@blp.route("", methods=["POST"])
@requires("referrer", "operator")
@blp.arguments(ReferralStartSchema)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
@blp.response(201, ReferralSchema)
def start_referral(body: dict):
    referral, replayed = signpost().referrals.start(
        current_client(), idempotency_key=idempotency_key(), **body
    )
    headers = {"Location": url_for("referrals.get_referral", referral_id=referral["id"])}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return referral, 201, headers


@blp.route("/<string:referral_id>", methods=["GET"])
@requires("referrer", "operator")
@blp.response(200, ReferralSchema)
def get_referral(referral_id: str):
    return signpost().referrals.get(referral_id, current_client())


@blp.route("/<string:referral_id>/events", methods=["GET"])
@requires("operator")
@blp.response(200, EventSchema(many=True))
def referral_events(referral_id: str):
    return signpost().referrals.events(referral_id, current_client())


@blp.route("/<string:referral_id>/retry", methods=["POST"])
@requires("operator")
@blp.arguments(RetrySchema)
@blp.response(200, ReferralSchema)
def retry_referral(body: dict, referral_id: str):
    return signpost().referrals.retry(referral_id, body["data"], current_client())


@blp.route("", methods=["GET"])
@requires("referrer", "operator")
@blp.arguments(ReferralQuerySchema, location="query")
@blp.response(200, ReferralSchema(many=True))
@blp.doc(
    description="Prefer POST /api/v1/referrals/search: a query string is written to proxies' access logs."
)
def open_referrals_for_subject(query: dict):
    return signpost().referrals.open_for_subject(query["subject"], current_client())


@blp.route("/search", methods=["POST"])
@requires("referrer", "operator")
@blp.arguments(ReferralSearchSchema)
@blp.response(200, ReferralSchema(many=True))
@blp.doc(
    description="The person's open referrals, with the NHS number in the body: kept out of every URL log."
)
def search_open_referrals(body: dict):
    return signpost().referrals.open_for_subject(body["subject"], current_client())


@blp.route("/<string:referral_id>/timeline", methods=["GET"])
@requires("referrer", "operator")
@blp.response(200, TimelineEntrySchema(many=True))
def referral_timeline(referral_id: str):
    return signpost().referrals.timeline(referral_id, current_client())


@blp.route("/<string:referral_id>/information", methods=["POST"])
@requires("referrer")
@blp.arguments(InformationSchema)
@blp.response(200, HandoffSummarySchema(many=True), description="the referral's hand-offs afterwards")
def supply_information(body: dict, referral_id: str):
    return signpost().handoffs.supply_information(referral_id, body["answer"], current_client())


@blp.route("/<string:referral_id>/cancel", methods=["POST"])
@requires("referrer")
@blp.arguments(CancelSchema)
@blp.response(200, ReferralSchema)
def cancel_referral(body: dict, referral_id: str):
    signpost().handoffs.cancel(referral_id, body["reason"], current_client())
    return signpost().referrals.get(referral_id, current_client())
