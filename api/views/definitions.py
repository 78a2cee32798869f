from __future__ import annotations

from dataclasses import asdict

from flask import request
from flask_smorest import Blueprint

from api.auth import current_client, requires
from api.engine_access import signpost
from api.schemas import (
    ApprovalSchema,
    CodeCheckResultSchema,
    CodeCheckSchema,
    DefinitionSchema,
    DeployedSchema,
    ValidationSchema,
    VersionSchema,
    VersionWithFilesSchema,
)
from api.views.uploads import upload_body, uploaded_files

blp = Blueprint(
    "definitions",
    __name__,
    url_prefix="/api/v1/definitions",
    description="Pathway definitions: BPMN and DMN files deployed as numbered versions",
)

UPLOAD_BODY = upload_body()


@blp.route("", methods=["POST"])
@requires("designer")
@blp.doc(requestBody=UPLOAD_BODY)
@blp.response(201, DeployedSchema, description="a new version was stored")
@blp.alt_response(200, schema=DeployedSchema, description="identical content: the existing version")
def deploy():
    deployed = signpost().definitions.deploy(uploaded_files(), current_client().actor, key=_key())
    return asdict(deployed), 201 if deployed.created else 200


@blp.route("/validate", methods=["POST"])
@requires("designer")
@blp.doc(requestBody=UPLOAD_BODY)
@blp.response(
    200,
    ValidationSchema,
    description="what POST /api/v1/definitions would answer for the same upload, found by the same checks; "
    "nothing is stored. valid: whether it would deploy; problems: what it would be refused for, as a refused "
    "deployment's 422 lists them",
)
def validate_definition():
    problems = signpost().definitions.validate(uploaded_files(), key=_key())
    return {"valid": not problems, "problems": [problem.as_dict() for problem in problems]}


def _key() -> str | None:
    return request.form.get("key") or None


@blp.route("/check-code", methods=["POST"])
@requires("designer")
@blp.arguments(CodeCheckSchema)
@blp.response(
    200,
    CodeCheckResultSchema,
    description="what the deploy checks would refuse in one expression or script, with its line and column; "
    "the code is checked as deployed code is, never run",
)
def check_code(body: dict):
    problems = signpost().definitions.check_code(body["code"], body["kind"])
    return {"valid": not problems, "problems": [problem.as_dict() for problem in problems]}


@blp.route("", methods=["GET"])
@requires("designer", "operator", "admin", "clinical-approver")
@blp.response(
    200, DefinitionSchema(many=True), description="the pathway library: every definition and version"
)
def list_definitions():
    return signpost().definitions.list()


@blp.route("/<string:key>", methods=["GET"])
@requires("designer", "operator", "admin", "clinical-approver")
@blp.response(200, DefinitionSchema)
def get_definition(key: str):
    return signpost().definitions.get(key)


@blp.route("/<string:key>/versions/<int:number>", methods=["GET"])
@requires("designer", "operator", "admin", "clinical-approver")
@blp.response(200, VersionWithFilesSchema)
def get_version(key: str, number: int):
    return signpost().definitions.version(key, number, with_files=True)


@blp.route("/<string:key>/versions/<int:number>/approve", methods=["POST"])
@requires("clinical-approver")
@blp.arguments(ApprovalSchema)
@blp.response(200, VersionSchema, description="the version, approved, with the approval's reason")
def approve_version(body: dict, key: str, number: int):
    return signpost().definitions.approve(key, number, current_client(), reason=body["reason"])
