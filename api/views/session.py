"""Signing in to the web application: at the OpenID Connect issuer (authorization code with PKCE,
``engine.governance.oidc_sign_in``) or with a person's API token, either ending in a session cookie
(``api.web_session``); who is signed in, and signing out."""

from __future__ import annotations

from contextlib import suppress
from urllib.parse import urlencode

from flask import Response, jsonify, redirect, request, url_for
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import rate_limits, web_session
from api.auth import current_client, requires, sign_in
from api.engine_access import signpost
from engine.errors import NotAuthenticated, RateLimited
from engine.governance.clients import ROLES, Client
from engine.governance.oidc_sign_in import safe_next

blp = Blueprint(
    "session",
    __name__,
    url_prefix="/api/v1/session",
    description="The web application's session: sign in at the OpenID Connect issuer or with an API token, "
    "who is signed in, sign out",
)
SIGN_IN_PAGE = "/studio/sign-in"


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


class IssuerSchema(Schema):
    issuer = fields.String(metadata={"description": "the OpenID Connect issuer people sign in at"})
    start = fields.String(
        metadata={"description": "open this (a browser navigation, with ?next=/studio/…) to sign in there"}
    )


class SignInOptionsSchema(Schema):
    openid_connect = fields.Nested(
        IssuerSchema, allow_none=True, metadata={"description": "none when no issuer is configured for it"}
    )
    api_token = fields.Boolean(metadata={"description": "signing in with an API token (always possible)"})


class IssuerStartSchema(Schema):
    next_page = fields.String(
        data_key="next",
        load_default=None,
        validate=validate.Length(max=2000),
        metadata={"description": "the studio page to open once signed in (another site's is ignored)"},
    )


class IssuerAnswerSchema(Schema):
    """What the issuer sends the browser back with (OpenID Connect Core 3.1.2.5 and 3.1.2.6)."""

    class Meta:
        unknown = "exclude"  # issuers add their own parameters (session_state, iss)

    code = fields.String(load_default=None, validate=validate.Length(max=4096))
    state = fields.String(load_default=None, validate=validate.Length(max=512))
    error = fields.String(load_default=None, validate=validate.Length(max=200))
    error_description = fields.String(load_default=None, validate=validate.Length(max=2000))


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
    _refuse_an_address_over_its_limit()
    web_session.check_origin()
    # An ended or forged session has nothing to protect: only a cookie to remove.
    with suppress(NotAuthenticated):
        web_session.token_from_cookie()
    web_session.check_csrf()
    response = Response(status=204)
    web_session.clear_cookie(response)
    return response


@blp.route("/sign-in-options", methods=["GET"])
@rate_limits.documented
@blp.response(200, SignInOptionsSchema)
def sign_in_options():
    """How a person may sign in: the sign-in page shows the issuer's button when one is configured."""
    _refuse_an_address_over_its_limit()
    issuer_sign_in = web_session.issuer_sign_in()
    issuer = None
    if issuer_sign_in is not None:
        issuer = {"issuer": issuer_sign_in.issuer, "start": url_for("session.start_issuer_sign_in")}
    return {"openid_connect": issuer, "api_token": True}


@blp.route("/oidc", methods=["GET"])
@rate_limits.documented
@blp.arguments(IssuerStartSchema, location="query", as_kwargs=True)
@blp.response(302, description="to the issuer's sign-in page; a short-lived cookie holds the pending sign-in")
def start_issuer_sign_in(next_page: str | None):
    issuer_sign_in = web_session.require_issuer_sign_in()
    _refuse_an_address_over_its_limit()
    authorization_url, sealed = issuer_sign_in.begin(_callback_url(), next_page)
    response = redirect(authorization_url, code=302)
    web_session.set_pending_sign_in_cookie(response, sealed)
    return response


@blp.route("/oidc/callback", methods=["GET"])
@rate_limits.documented
@blp.arguments(IssuerAnswerSchema, location="query")
@blp.response(
    303,
    description="signed in: to the page asked for, with the session cookie set (HttpOnly); "
    "refused: to the sign-in page, saying why",
)
def finish_issuer_sign_in(answer: dict):
    """Where the issuer sends the browser back. A refused sign-in is counted against the address, as a
    refused token is, and goes back to the sign-in page with the reason; nothing else changes."""
    issuer_sign_in = web_session.require_issuer_sign_in()
    pending = request.cookies.get(web_session.PENDING_SIGN_IN_COOKIE)
    try:
        _refuse_an_address_over_its_limit()
        try:
            issued = issuer_sign_in.finish(pending, answer, _callback_url())
        except NotAuthenticated:
            limits = signpost().rate_limits
            rate_limits.note(limits.count_failed_authentication(request.remote_addr or "unknown"))
            raise
        sign_in(issued.access_token)
    except (NotAuthenticated, RateLimited) as refused:
        response = redirect(f"{SIGN_IN_PAGE}?{urlencode({'problem': refused.message})}", code=303)
        web_session.clear_pending_sign_in_cookie(response)
        return response
    session, sealed = web_session.sessions().issue(issued.access_token, not_after=issued.expires_at)
    response = redirect(safe_next(issued.next_path), code=303)
    web_session.set_cookie(response, sealed, session)
    web_session.clear_pending_sign_in_cookie(response)
    return response


def _callback_url() -> str:
    """The redirect URI registered at the issuer: this server's callback as the browser reaches it."""
    return url_for("session.finish_issuer_sign_in", _external=True)


def _refuse_an_address_over_its_limit() -> None:
    """An address refused for too many failed authentications is refused here too, before anything is
    looked at."""
    rate_limits.refuse_if_over(
        signpost().rate_limits.address_refusal(request.remote_addr or "unknown"),
        "too many failed authentications from this address",
    )
