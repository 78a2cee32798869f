"""Signing in to the web application: a person's API token exchanged for a session cookie
(``api.web_session``), who is signed in, and signing out."""

from __future__ import annotations

from contextlib import suppress

from flask import Response, jsonify, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import rate_limits, web_session
from api.auth import current_client, requires, sign_in
from api.engine_access import signpost
from engine.errors import NotAuthenticated
from engine.governance.clients import ROLES, Client

blp = Blueprint(
    "session",
    __name__,
    url_prefix="/api/v1/session",
    description="The web application's session: sign in with an API token, who is signed in, sign out",
)


class SignInSchema(Schema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=4096),
        metadata={"description": "an API token (or an OpenID Connect JWT when an issuer is configured)"},
    )


class SessionSchema(Schema):
    name = fields.String()
    organisation = fields.String()
    roles = fields.List(fields.String())
    person = fields.String(allow_none=True)
    service = fields.String(allow_none=True, metadata={"description": "an operator's point of access"})
    csrf_token = fields.String(
        allow_none=True,
        metadata={
            "description": "send it as X-CSRF-Token with every POST, PUT, PATCH and DELETE made with the "
            "session cookie; none when the request was authenticated by a bearer token"
        },
    )
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "when the session ends"})


def _who(client: Client, session) -> dict:
    return {
        "name": client.name,
        "organisation": client.organisation,
        "roles": sorted(client.roles),
        "person": client.person,
        "service": client.service,
        "csrf_token": session.csrf_token if session else None,
        "expires_at": session.expires_at if session else None,
    }


@blp.route("", methods=["POST"])
@rate_limits.documented
@blp.arguments(SignInSchema)
@blp.response(201, SessionSchema, description="signed in: the session cookie is set (HttpOnly)")
def start_session(body: dict):
    web_session.check_origin()
    client = sign_in(body["token"])
    session, sealed = web_session.sessions().issue(body["token"])
    response = jsonify(SessionSchema().dump(_who(client, session)))
    response.status_code = 201
    web_session.set_cookie(response, sealed, session)
    return response


@blp.route("", methods=["GET"])
@requires(*ROLES)
@blp.response(200, SessionSchema)
def who_am_i():
    return _who(current_client(), web_session.current_session())


@blp.route("", methods=["DELETE"])
@rate_limits.documented
@blp.response(204, description="signed out: the session cookie is removed")
def end_session():
    """Removes the cookie from this browser. A session that has already ended signs out too; a live one
    needs its CSRF token, so that another site's page cannot sign the person out. An address refused for
    too many failed authentications is refused here too."""
    rate_limits.refuse_if_over(
        signpost().rate_limits.address_refusal(request.remote_addr or "unknown"),
        "too many failed authentications from this address",
    )
    web_session.check_origin()
    # An ended or forged session has nothing to protect: only a cookie to remove.
    with suppress(NotAuthenticated):
        web_session.token_from_cookie()
    web_session.check_csrf()
    response = Response(status=204)
    web_session.clear_cookie(response)
    return response
