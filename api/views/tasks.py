from __future__ import annotations

from flask import request, url_for
from flask_smorest import Blueprint

from api.auth import current_client, requires
from api.engine_access import signpost
from api.schemas import ReferralSchema, TaskCompleteSchema, TaskQuerySchema, TaskSchema, TaskWithFormSchema

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="User tasks for operators")


@blp.route("", methods=["GET"])
@requires("operator")
@blp.arguments(TaskQuerySchema, location="query")
@blp.response(200, TaskSchema(many=True))
@blp.doc(
    description="Soonest due first (tasks without a due time last, oldest first); a Link header (rel=next) "
    "gives the next page."
)
def list_tasks(query: dict):
    client = current_client()
    tasks, next_cursor = signpost().referrals.task_page(
        client,
        limit=query["limit"],
        after=query["after"],
        referral_id=query["referral"],
        lane=query["lane"],
        status=query["status"],
        pathway=query["pathway"],
        priority=query["priority"],
        created_before=query["created_before"],
        at_risk=query["at_risk"],
    )
    headers = {}
    if next_cursor is not None:
        args = {k: v for k, v in request.args.items() if k != "after"}
        headers["Link"] = f'<{url_for("tasks.list_tasks", **args, after=next_cursor)}>; rel="next"'
    return [_as_seen_by(client, task) for task in tasks], 200, headers


@blp.route("/<string:task_id>", methods=["GET"])
@requires("operator")
@blp.response(200, TaskWithFormSchema, description="the task, with the form it names (null when none)")
def get_task(task_id: str):
    return _as_seen_by(current_client(), signpost().referrals.task(task_id, current_client(), with_form=True))


@blp.route("/<string:task_id>/claim", methods=["POST"])
@requires("operator")
@blp.response(200, TaskSchema)
def claim_task(task_id: str):
    return _as_seen_by(current_client(), signpost().referrals.claim_task(task_id, current_client()))


@blp.route("/<string:task_id>/release", methods=["POST"])
@requires("operator")
@blp.response(200, TaskSchema, description="the task, back in the worklist for anyone to claim")
def release_task(task_id: str):
    """Only whoever claimed a task releases it (409 otherwise)."""
    return _as_seen_by(current_client(), signpost().referrals.release_task(task_id, current_client()))


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


def _as_seen_by(client, task: dict) -> dict:
    return {**task, "claimed_by_you": task["claimed_by"] is not None and task["claimed_by"] == client.actor}
