from __future__ import annotations

from flask_smorest import Blueprint

from api.auth import current_client, requires
from api.engine_access import signpost
from api.schemas import ReferralSchema, TaskCompleteSchema, TaskQuerySchema, TaskSchema, TaskWithFormSchema

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="User tasks for operators")


@blp.route("", methods=["GET"])
@requires("operator")
@blp.arguments(TaskQuerySchema, location="query")
@blp.response(200, TaskSchema(many=True))
def list_tasks(query: dict):
    return signpost().referrals.tasks(
        current_client(),
        referral_id=query["referral"],
        lane=query["lane"],
        status=query["status"],
        limit=query["limit"],
    )


@blp.route("/<string:task_id>", methods=["GET"])
@requires("operator")
@blp.response(200, TaskWithFormSchema, description="the task, with the form it names (null when none)")
def get_task(task_id: str):
    return signpost().referrals.task(task_id, current_client(), with_form=True)


@blp.route("/<string:task_id>/claim", methods=["POST"])
@requires("operator")
@blp.response(200, TaskSchema)
def claim_task(task_id: str):
    return signpost().referrals.claim_task(task_id, current_client())


@blp.route("/<string:task_id>/complete", methods=["POST"])
@requires("operator")
@blp.arguments(TaskCompleteSchema)
@blp.response(200, ReferralSchema, description="the task's referral after the pathway moved on")
@blp.alt_response(
    422,
    description="data that does not fit the task's form: nothing changes, and the problem's errors list "
    'each field\'s problem as {"field": <key>, "message": …}',
)
def complete_task(body: dict, task_id: str):
    return signpost().referrals.complete_task(task_id, body["data"], current_client())
