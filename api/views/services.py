from __future__ import annotations

from flask_smorest import Blueprint

from api.auth import current_client, requires
from api.engine_access import signpost
from api.schemas import HandoffSchema, QueueQuerySchema, ServiceBodySchema, ServiceQuerySchema, ServiceSchema

blp = Blueprint(
    "services",
    __name__,
    url_prefix="/api/v1/services",
    description="The service directory, and each service's queue of hand-offs",
)

ANY_ROLE = ("designer", "operator", "service", "referrer", "admin")


@blp.route("", methods=["GET"])
@requires(*ANY_ROLE)
@blp.arguments(ServiceQuerySchema, location="query")
@blp.response(200, ServiceSchema(many=True))
def list_services(query: dict):
    return [s.as_dict() for s in signpost().services.list(**query)]


@blp.route("/<string:service_id>", methods=["GET"])
@requires(*ANY_ROLE)
@blp.response(200, ServiceSchema)
def get_service(service_id: str):
    return signpost().services.get(service_id).as_dict()


@blp.route("/<string:service_id>", methods=["PUT"])
@requires("admin")
@blp.arguments(ServiceBodySchema)
@blp.response(200, ServiceSchema)
def put_service(body: dict, service_id: str):
    service, created = signpost().services.put({**body, "id": service_id}, current_client().actor)
    return service.as_dict(), 201 if created else 200


@blp.route("/<string:service_id>/handoffs", methods=["GET"])
@requires("service")
@blp.arguments(QueueQuerySchema, location="query")
@blp.response(200, HandoffSchema(many=True))
def service_queue(query: dict, service_id: str):
    return signpost().handoffs.queue(service_id, current_client(), query["status"], query["limit"])
