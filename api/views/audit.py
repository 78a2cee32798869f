from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import current_client, requires
from api.engine_access import signpost

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="The audit trail, for auditors")


class AuditQuerySchema(Schema):
    referral = fields.String(required=True, metadata={"description": "the referral whose trail to read"})
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=10_000))


class AuditRecordSchema(Schema):
    id = fields.Integer()
    at = fields.String()
    actor = fields.String(metadata={"description": "client:<id>:<name>, or signpost:notifier"})
    organisation = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    action = fields.String(
        metadata={"description": "read | create | change | disclose (a notification sent)"}
    )
    resource = fields.String(
        metadata={"description": "the method and route requested, or 'webhook <host>' / 'email <domain>'"}
    )
    resource_id = fields.String(allow_none=True)
    referral_id = fields.String(allow_none=True)
    outcome = fields.Integer(
        metadata={
            "description": "the HTTP status answered; for a notification, the receiver's HTTP status or SMTP "
            "reply code (0: no answer)"
        }
    )
    source = fields.String(allow_none=True)


@blp.route("", methods=["GET"])
@requires("auditor", "platform-auditor")
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditRecordSchema(many=True))
def audit_trail(query: dict):
    return signpost().audit.trail(query["referral"], query["limit"], viewer=current_client())
