from __future__ import annotations

import hashlib
import json

from flask import Response, request, url_for
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
from engine.errors import InvalidInput

RUNNING_COUNTS = ("business_seconds_used", "business_seconds_remaining")


def referral_etag(referral: dict) -> str:
    """A digest of what the referral shows, its OLA clocks' running counts left out."""
    steady = {
        **referral,
        "clocks": [{k: v for k, v in c.items() if k not in RUNNING_COUNTS} for c in referral["clocks"]],
    }
    return hashlib.sha256(json.dumps(steady, sort_keys=True, default=str).encode()).hexdigest()[:32]


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
        current_client(),
        idempotency_key=idempotency_key(),
        **{**body, "channel": body["channel"] or arrival()},
    )
    headers = {"Location": url_for("referrals.get_referral", referral_id=referral["id"])}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return referral, 201, headers


def arrival() -> str:
    """The channel of a referral whose sender did not name one: how the request reached Signpost."""
    if request.headers.get("Authorization") is None:
        return "web"  # authenticated by the web application's session cookie
    # BaRS senders name the referral's journey in X-Correlation-ID; other systems do not.
    return "bars" if request.headers.get("X-Correlation-ID") else "api"


@blp.route("/<string:referral_id>", methods=["GET"])
@requires("referrer", "operator")
@blp.response(200, ReferralSchema, description="the referral; its ETag changes when anything shown changes")
@blp.alt_response(304, description="unchanged since the ETag sent as If-None-Match")
def get_referral(referral_id: str):
    """A page that shows a referral live asks again every few seconds with the ETag it holds, and is told
    "not modified" without the referral being sent while nothing changed. The ETag leaves out the OLA clocks'
    running counts, which change every second, so the page works out the time left from ``due_at``."""
    referral = signpost().referrals.get(referral_id, current_client())
    etag = referral_etag(referral)
    headers = {"ETag": f'W/"{etag}"', "Cache-Control": "private, no-cache"}
    if request.if_none_match.contains_weak(etag):
        return Response(status=304, headers=headers)
    return referral, 200, headers


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
    description="Without subject: the referrals the caller may see (a referrer's organisation's, an "
    "operator's point of access's), newest first; a Link header (rel=next) gives the next page. With "
    "subject: the person's open referrals — prefer POST /api/v1/referrals/search, as a query string is "
    "written to proxies' access logs."
)
def list_referrals(query: dict):
    if query["subject"] is not None:
        if query["after"] is not None:
            raise InvalidInput("'after' pages through every referral: leave it out with 'subject'")
        return signpost().referrals.open_for_subject(query["subject"], current_client())
    page, next_cursor = signpost().referrals.page(current_client(), query["limit"], query["after"])
    headers = {}
    if next_cursor is not None:
        next_page = url_for("referrals.list_referrals", limit=query["limit"], after=next_cursor)
        headers["Link"] = f'<{next_page}>; rel="next"'
    return page, 200, headers


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
@requires("referrer", "operator")
@blp.doc(description="By the referrer, or by an operator of the point of access working on the referral.")
@blp.arguments(CancelSchema)
@blp.response(200, ReferralSchema)
def cancel_referral(body: dict, referral_id: str):
    signpost().handoffs.cancel(referral_id, body["reason"], current_client())
    return signpost().referrals.get(referral_id, current_client())
