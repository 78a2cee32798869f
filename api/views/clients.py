from __future__ import annotations

from datetime import timedelta

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import current_client, requires
from api.engine_access import signpost

blp = Blueprint(
    "clients",
    __name__,
    url_prefix="/api/v1/clients",
    description="API clients, for admins (of their organisation) and platform admins",
)


class ClientBodySchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    organisation = fields.String(required=True, validate=validate.Length(min=1, max=200))
    roles = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    valid_for_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=3650))
    service = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "for an operator: the point of access (a service id) whose referrals it sees"
        },
    )
    person = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "the person the client acts for (a staff number, an email): required for the "
            "human roles admin, designer, auditor, clinical-approver, platform-admin and platform-auditor"
        },
    )


class ClientSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    organisation = fields.String()
    roles = fields.List(fields.String())
    service = fields.String(allow_none=True)
    person = fields.String(allow_none=True)
    created_by = fields.Integer(
        allow_none=True,
        metadata={"description": "the client that created it (none: start-up or command line)"},
    )
    external_subject = fields.String(
        allow_none=True,
        metadata={"description": "'<issuer> <subject>' of a client that signs in with OpenID Connect tokens"},
    )
    created_at = fields.String()
    expires_at = fields.String(allow_none=True)
    revoked_at = fields.String(allow_none=True)
    last_used_at = fields.String(allow_none=True)
    token = fields.String(metadata={"description": "the bearer token: shown only when the client is created"})


@blp.route("", methods=["GET"])
@requires("admin", "platform-admin")
@blp.response(200, ClientSchema(many=True))
def list_clients():
    return signpost().clients.list(current_client())


@blp.route("", methods=["POST"])
@requires("admin", "platform-admin")
@blp.arguments(ClientBodySchema)
@blp.response(201, ClientSchema)
def create_client(body: dict):
    days = body["valid_for_days"]
    client, token = signpost().clients.create(
        name=body["name"],
        organisation=body["organisation"],
        roles=set(body["roles"]),
        valid_for=timedelta(days=days) if days else None,
        service=body["service"],
        person=body["person"],
        by=current_client(),
    )
    return {**signpost().clients.view(client.id), "token": token}


@blp.route("/<int:client_id>/revoke", methods=["POST"])
@requires("admin", "platform-admin")
@blp.response(200, ClientSchema)
def revoke_client(client_id: int):
    return signpost().clients.revoke(client_id, by=current_client())
