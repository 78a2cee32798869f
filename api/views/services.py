from __future__ import annotations

from flask_smorest import Blueprint

from api.auth import current_client, requires
from api.engine_access import signpost
from api.schemas import HandoffSchema, QueueQuerySchema, ServiceQuerySchema, ServiceSchema

blp = Blueprint(
    "services",
    __name__,
    url_prefix="/api/v1/services",
    description="The service directory, and each service's queue of hand-offs",
)

ANY_ROLE = ("designer", "operator", "service", "referrer")


@blp.route("", methods=["GET"])
@blp.arguments(ServiceQuerySchema, location="query")
@blp.response(200, ServiceSchema(many=True))
@requires(*ANY_ROLE)
def list_services(query: dict):
    return [s.as_dict() for s in signpost().services.list(**query)]


@blp.route("/<string:service_id>", methods=["GET"])
@blp.response(200, ServiceSchema)
@requires(*ANY_ROLE)
def get_service(service_id: str):
    return signpost().services.get(service_id).as_dict()


@blp.route("/<string:service_id>", methods=["PUT"])
@blp.arguments(ServiceSchema)
@blp.response(200, ServiceSchema)
@requires("admin")
def put_service(body: dict, service_id: str):
    service, created = signpost().services.put({**body, "id": service_id}, current_client().actor)
    return service.as_dict(), 201 if created else 200


@blp.route("/<string:service_id>/handoffs", methods=["GET"])
@blp.arguments(QueueQuerySchema, location="query")
@blp.response(200, HandoffSchema(many=True))
@requires("service")
def service_queue(query: dict, service_id: str):
    return signpost().handoffs.queue(service_id, current_client(), query["status"], query["limit"])
