from __future__ import annotations

from flask_smorest import Blueprint

from api.auth import current_client, requires
from api.engine_access import signpost
from api.external_task_schemas import (
    BpmnErrorSchema,
    ExtendLeaseSchema,
    ExternalTaskAnswerSchema,
    ExternalTaskCompleteSchema,
    ExternalTaskFailureSchema,
    ExternalTaskQuerySchema,
    ExternalTaskSchema,
    FetchAndLockSchema,
    LockedExternalTaskSchema,
)

blp = Blueprint(
    "external-tasks",
    __name__,
    url_prefix="/api/v1/external-tasks",
    description="Service tasks done by workers outside Signpost: fetch and lock work by topic, then answer",
)


@blp.route("", methods=["GET"])
@requires("service")
@blp.arguments(ExternalTaskQuerySchema, location="query")
@blp.response(200, ExternalTaskSchema(many=True))
def list_external_tasks(query: dict):
    return signpost().external_tasks.queue(current_client(), topic=query["topic"], limit=query["limit"])


@blp.route("/fetch-and-lock", methods=["POST"])
@requires("service")
@blp.arguments(FetchAndLockSchema)
@blp.response(200, LockedExternalTaskSchema(many=True))
def fetch_and_lock(body: dict):
    return signpost().external_tasks.fetch_and_lock(
        current_client(), body["worker_id"], body["topics"], body["max_tasks"], body["lease_seconds"]
    )


@blp.route("/<string:task_id>/complete", methods=["POST"])
@requires("service")
@blp.arguments(ExternalTaskCompleteSchema)
@blp.response(200, ExternalTaskAnswerSchema)
def complete_external_task(body: dict, task_id: str):
    return signpost().external_tasks.complete(task_id, body["worker_id"], body["data"], current_client())


@blp.route("/<string:task_id>/extend-lease", methods=["POST"])
@requires("service")
@blp.arguments(ExtendLeaseSchema)
@blp.response(200, ExternalTaskSchema)
def extend_lease(body: dict, task_id: str):
    return signpost().external_tasks.extend_lease(
        task_id, body["worker_id"], body["lease_seconds"], current_client()
    )


@blp.route("/<string:task_id>/failure", methods=["POST"])
@requires("service")
@blp.arguments(ExternalTaskFailureSchema)
@blp.response(200, ExternalTaskAnswerSchema)
def report_failure(body: dict, task_id: str):
    return signpost().external_tasks.failure(
        task_id,
        body["worker_id"],
        body["error"],
        current_client(),
        retries=body["retries"],
        retry_in_seconds=body["retry_in_seconds"],
    )


@blp.route("/<string:task_id>/bpmn-error", methods=["POST"])
@requires("service")
@blp.arguments(BpmnErrorSchema)
@blp.response(200, ExternalTaskAnswerSchema)
def throw_bpmn_error(body: dict, task_id: str):
    return signpost().external_tasks.bpmn_error(
        task_id, body["worker_id"], body["code"], body["message"], body["data"], current_client()
    )
