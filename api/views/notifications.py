from __future__ import annotations

from datetime import timedelta

from flask_smorest import Blueprint

from api.auth import current_client, requires
from api.engine_access import signpost
from api.schemas import (
    DeliverySchema,
    NotificationEventSchema,
    RotateSchema,
    SinceSchema,
    SubscriptionBodySchema,
    SubscriptionSchema,
)

blp = Blueprint(
    "notifications",
    __name__,
    url_prefix="/api/v1",
    description="Progress notifications: subscriptions, catch-up, and the delivery log",
)


@blp.route("/subscriptions", methods=["POST"])
@requires("referrer")
@blp.arguments(SubscriptionBodySchema)
@blp.response(201, SubscriptionSchema)
def subscribe(body: dict):
    return signpost().notifications.subscribe(current_client(), **body)


@blp.route("/subscriptions", methods=["GET"])
@requires("referrer")
@blp.response(200, SubscriptionSchema(many=True))
def list_subscriptions():
    return signpost().notifications.list(current_client())


@blp.route("/subscriptions/<string:subscription_id>", methods=["GET"])
@requires("referrer")
@blp.response(200, SubscriptionSchema)
def get_subscription(subscription_id: str):
    return signpost().notifications.get(subscription_id, current_client())


@blp.route("/subscriptions/<string:subscription_id>", methods=["DELETE"])
@requires("referrer")
@blp.response(204)
def unsubscribe(subscription_id: str):
    signpost().notifications.unsubscribe(subscription_id, current_client())


@blp.route("/subscriptions/<string:subscription_id>/rotate-secret", methods=["POST"])
@requires("referrer")
@blp.arguments(RotateSchema)
@blp.response(200, SubscriptionSchema)
def rotate_secret(body: dict, subscription_id: str):
    return signpost().notifications.rotate_secret(
        subscription_id, current_client(), timedelta(seconds=body["grace_seconds"])
    )


@blp.route("/subscriptions/<string:subscription_id>/events", methods=["GET"])
@requires("referrer")
@blp.arguments(SinceSchema, location="query")
@blp.response(200, NotificationEventSchema(many=True))
def events_since(query: dict, subscription_id: str):
    return signpost().notifications.events_since(
        subscription_id, query["since"], current_client(), query["limit"]
    )


@blp.route("/subscriptions/<string:subscription_id>/deliveries", methods=["GET"])
@requires("referrer")
@blp.response(200, DeliverySchema(many=True))
def subscription_deliveries(subscription_id: str):
    return signpost().notifications.deliveries(current_client(), subscription_id=subscription_id)


@blp.route("/referrals/<string:referral_id>/deliveries", methods=["GET"])
@requires("referrer", "operator")
@blp.response(200, DeliverySchema(many=True))
def referral_deliveries(referral_id: str):
    return signpost().notifications.deliveries(current_client(), referral_id=referral_id)


@blp.route("/deliveries/<int:delivery_id>/replay", methods=["POST"])
@requires("referrer")
@blp.response(202, DeliverySchema)
def replay(delivery_id: int):
    return signpost().notifications.replay(delivery_id, current_client())
