"""Scenario runs: a pathway's scenario files run in virtual time against the real engine, in throw-away
stores, with path coverage per process (docs/scenarios.md). A draft's files are uploaded and run without
being deployed; a stored version's scenario files are run as they were stored with it. A run stores nothing.
"""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.auth import requires
from api.engine_access import signpost
from api.views.uploads import upload_body, uploaded_files
from engine.scenarios import run_draft, run_version

blp = Blueprint(
    "scenarios",
    __name__,
    url_prefix="/api/v1",
    description="Scenario runs: pathway scenario files run in virtual time, with path coverage",
)

UPLOAD_BODY = upload_body(
    "the draft's .bpmn and .dmn files (and forms) with its *.scenarios.yaml files, as "
    "POST /api/v1/definitions takes them",
    with_key=False,
)


class FailureSchema(Schema):
    step = fields.Integer(
        allow_none=True,
        metadata={
            "description": "the step's number (1 is the first of steps), 0 the start, null the closing expect"
        },
    )
    line = fields.Integer(allow_none=True, metadata={"description": "the line in the scenario file"})
    message = fields.String()


class MomentSchema(Schema):
    step = fields.Integer()
    at = fields.String(metadata={"description": "the virtual time, ISO 8601"})
    did = fields.String()
    status = fields.String(allow_none=True)
    status_text = fields.String(allow_none=True)


class ScenarioResultSchema(Schema):
    name = fields.String()
    file = fields.String()
    line = fields.Integer()
    pathway = fields.String(allow_none=True)
    passed = fields.Boolean()
    failures = fields.List(fields.Nested(FailureSchema))
    timeline = fields.List(fields.Nested(MomentSchema))


class ProcessCoverageSchema(Schema):
    file = fields.String()
    elements = fields.Dict(
        keys=fields.String(), values=fields.Boolean(), metadata={"description": "flow node id: reached"}
    )
    flows = fields.Dict(
        keys=fields.String(), values=fields.Boolean(), metadata={"description": "sequence flow id: taken"}
    )
    covered = fields.Integer(metadata={"description": "elements and flows covered"})
    total = fields.Integer(metadata={"description": "elements and flows"})
    elements_covered = fields.Integer()
    elements_total = fields.Integer()
    flows_covered = fields.Integer()
    flows_total = fields.Integer()


class ScenarioRunSchema(Schema):
    scenarios = fields.List(fields.Nested(ScenarioResultSchema))
    coverage = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(ProcessCoverageSchema),
        metadata={"description": "per process id"},
    )
    passed = fields.Boolean(metadata={"description": "at least one scenario ran and every one passed"})


@blp.route("/scenario-runs", methods=["POST"])
@requires("designer")
@blp.doc(requestBody=UPLOAD_BODY)
@blp.response(200, ScenarioRunSchema, description="every scenario run (passed or not) and the coverage")
def run_draft_scenarios():
    return run_draft(signpost(), uploaded_files("upload")).as_dict()


@blp.route("/definitions/<string:key>/versions/<int:number>/scenario-runs", methods=["POST"])
@requires("designer", "clinical-approver")
@blp.response(200, ScenarioRunSchema, description="the version's scenarios run and their coverage")
def run_version_scenarios(key: str, number: int):
    return run_version(signpost(), key, number).as_dict()
