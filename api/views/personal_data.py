from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import current_client, requires
from api.engine_access import signpost
from api.schemas import StrictSchema

blp = Blueprint(
    "personal_data",
    __name__,
    url_prefix="/api/v1/subject-access-requests",
    description="Subject access requests: everything held about a person, for information governance",
)


class SubjectAccessRequestSchema(StrictSchema):
    # In the body, not the path: an NHS number in a URL would end up in every access log on the way.
    subject = fields.String(
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "the person's NHS number"},
    )


class SubjectAccessExportSchema(Schema):
    subject = fields.String()
    exported_at = fields.String()
    retention_days = fields.Integer(
        metadata={"description": "how long a finished referral keeps its personal data"}
    )
    referrals = fields.List(
        fields.Dict(),
        metadata={
            "description": "each referral with its events, hand-offs and transitions, notifications sent "
            "and the audit trail of who read or changed it"
        },
    )


@blp.route("", methods=["POST"])
@requires("auditor", "platform-auditor")
@blp.arguments(SubjectAccessRequestSchema)
@blp.response(200, SubjectAccessExportSchema)
def subject_access_export(body: dict):
    return signpost().personal_data.subject_access_export(body["subject"], current_client())
