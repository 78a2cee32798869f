"""Records every request that reads or changes referral data in the audit trail, after it is answered."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request

from api.engine_access import signpost
from engine.governance.audit import Entry

log = logging.getLogger(__name__)

AUDITED_PREFIXES = (
    "/api/v1/referrals",
    "/api/v1/handoffs",
    "/api/v1/tasks",
    "/api/v1/messages",
    "/api/v1/signals",
    "/api/v1/external-tasks",
    "/api/v1/obligations",
    "/api/v1/reports",
    "/api/v1/subscriptions",
    "/api/v1/deliveries",
    "/api/v1/audit",
    "/api/v1/subject-access-requests",
    "/fhir",
)


def _audited() -> bool:
    if request.path.startswith("/api/v1/services/") and request.path.endswith("/handoffs"):
        return True  # a service's queue lists referrals routed to it
    return request.path.startswith(AUDITED_PREFIXES)


def _action(status: int) -> str:
    if request.method in ("GET", "HEAD"):
        return "read"
    return "create" if status == 201 else "change"


def _referral_id(response: Response) -> str | None:
    args = request.view_args or {}
    if "referral_id" in args:
        return args["referral_id"]
    if request.args.get("referral"):
        return request.args["referral"]
    body = response.get_json(silent=True) if response.is_json else None
    if isinstance(body, dict):
        if "referral_id" in body and isinstance(body["referral_id"], str):
            return body["referral_id"]
        if request.path.startswith("/api/v1/referrals") and isinstance(body.get("id"), str):
            return body["id"]
    return None


def _record(response: Response) -> Response:
    if not _audited() or request.method == "OPTIONS":
        return response
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    args = request.view_args or {}
    entry = Entry(
        action=_action(response.status_code),
        resource=f"{request.method} {rule}",
        resource_id=next(iter(args.values()), None) if args else None,
        referral_id=_referral_id(response),
        outcome=response.status_code,
        source=request.remote_addr,
    )
    try:
        # The authenticated caller, also when its roles or rate limit refused the request.
        signpost().audit.record(entry, g.get("client") or g.get("caller"))
    except Exception:
        # The answer has been computed and the change committed; failing the response now would make the
        # caller retry a change that happened. Log loudly instead.
        log.exception("could not write the audit record for %s %s", request.method, request.path)
    return response


def register(app: Flask) -> None:
    app.after_request(_record)
