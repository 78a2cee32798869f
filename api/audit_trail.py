"""The audit record of every request that reads or changes referral data, written before the answer leaves.

A change commits with its record: while a request is served, each write transaction it commits carries the
request's record (``Audit.begin_request``) with the status the view answers on success and the referrals the
transaction changed. If the answer's status then differs (a failure after the commit), a second record says
what was answered. A request that committed no change (a read, a search, a refusal) is recorded before its
answer leaves, with every referral the answer holds; if that record cannot be written, the answer is
withheld (a 500) so that nothing is disclosed unrecorded.

Requests from callers without valid credentials, and requests refused for a rate limit, are not chained:
anyone can send them in any number, with ids of their choosing. They are counted
(``signpost_unaudited_requests``) and logged, at most one line a second.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from itertools import islice

from flask import Flask, Response, current_app, g, request

from api.engine_access import signpost
from api.errors import problem
from engine.governance.audit import Entry
from engine.referrals.fhir import operation_outcome

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
# Requests sent with POST that read and change nothing (the NHS number travels in the body).
READS_BY_POST = frozenset({"referrals.search_open_referrals", "personal_data.subject_access_export"})
# Views answering with referrals themselves (whose ``id`` is the referral's); any other answer names its
# referrals as ``referral_id``.
REFERRAL_ANSWERS = frozenset(
    {
        "referrals.get_referral",
        "referrals.open_referrals_for_subject",
        "referrals.search_open_referrals",
        "referrals.start_referral",
        "referrals.retry_referral",
        "referrals.cancel_referral",
        "tasks.complete_task",
    }
)
SAMPLED_LOG_SECONDS = 1.0
# Collecting ids from an answer stops here: list answers are bounded well below it.
MOST_REFERRALS_PER_RECORD = 10_000


def _audited() -> bool:
    if request.method == "OPTIONS":
        return False
    if request.path.startswith("/api/v1/services/") and request.path.endswith("/handoffs"):
        return True  # a service's queue lists referrals routed to it
    return request.path.startswith(AUDITED_PREFIXES)


def _begin() -> None:
    if _audited():
        g.audit_request = signpost().audit.begin_request(_change_record)


def _change_record():
    """The record a write transaction of this request commits with; none before the view's roles admitted
    the caller (authentication notes a client's last use in a transaction of its own)."""
    client = g.get("client")
    if client is None:
        return None
    return _entry(_declared_status(), ()), client


def _declared_status() -> int:
    """The status the view answers with on success, as it documents it (flask-smorest's ``_apidoc``)."""
    view = current_app.view_functions.get(request.endpoint or "")
    responses = (getattr(view, "_apidoc", None) or {}).get("response", {}).get("responses", {})
    successes = [int(code) for code in responses if str(code).isdigit() and 200 <= int(code) < 300]
    return min(successes, default=200)


def _entry(status: int, referral_ids) -> Entry:
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    args = request.view_args or {}
    return Entry(
        action=_action(status),
        resource=f"{request.method} {rule}",
        resource_id=next(iter(args.values()), None) if args else None,
        referral_id=_addressed_referral(),
        outcome=status,
        source=request.remote_addr,
        referral_ids=tuple(referral_ids),
    )


def _addressed_referral() -> str | None:
    """The referral the request names: in its path, as ``?referral=``, or as a FHIR search's focus."""
    args = request.view_args or {}
    focus = request.args.get("focus", "")
    return (
        args.get("referral_id")
        or request.args.get("referral")
        or (focus.rpartition("ServiceRequest/")[2] if "ServiceRequest/" in focus else None)
    )


def _action(status: int) -> str:
    if request.method in ("GET", "HEAD") or request.endpoint in READS_BY_POST:
        return "read"
    return "create" if status == 201 else "change"


def _record(response: Response) -> Response:
    trail = g.pop("audit_request", None)
    if trail is not None:
        trail.close()
    if not _audited():
        return response
    # The authenticated caller, also when its roles refused the request.
    caller = g.get("client") or g.get("caller")
    if caller is None or response.status_code == 429:
        _not_chained(response, "rate-limited" if response.status_code == 429 else "unauthenticated")
        return response
    recorded = trail.recorded if trail is not None else []
    if recorded:
        if response.status_code != recorded[-1].outcome:
            _record_real_outcome(recorded[-1], response.status_code, caller)
        return response
    try:
        signpost().audit.record(_entry(response.status_code, _referrals_in(response)), caller)
    except Exception:
        log.exception(
            "could not write the audit record of %s %s: the answer is withheld", request.method, _rule()
        )
        return _withheld()
    return response


def _record_real_outcome(recorded: Entry, status: int, caller) -> None:
    """The change committed with its record; the answer then failed. Say what was answered too."""
    entry = Entry(
        recorded.action,
        recorded.resource,
        recorded.resource_id,
        recorded.referral_id,
        status,
        recorded.source,
        recorded.referral_ids,
    )
    try:
        signpost().audit.record(entry, caller)
    except Exception:
        # The change and its record are committed; only the later failure's status is missing.
        log.exception("could not record the answer %s to %s %s", status, request.method, _rule())


def name_answered_referrals(referral_ids: Iterable[str]) -> None:
    """The referrals an answer that is not JSON holds (a streamed export), for its audit record; read (up to
    MOST_REFERRALS_PER_RECORD of them) when the record is written, before the answer leaves."""
    g.answered_referrals = referral_ids


def _referrals_in(response: Response) -> set[str]:
    """The referrals an answer holds: the ``referral_id`` of anything in it, the ``id`` of the referrals a
    view answers with, the ServiceRequests FHIR resources are or name, and those a view named."""
    if not response.is_json:
        return set(islice(g.pop("answered_referrals", ()), MOST_REFERRALS_PER_RECORD))
    body = response.get_json(silent=True)
    found: set[str] = set()
    if request.endpoint in REFERRAL_ANSWERS:
        for item in body if isinstance(body, list) else [body]:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                found.add(item["id"])
    _collect(body, found)
    return found


def _collect(value, found: set[str]) -> None:
    stack = [value]
    while stack and len(found) < MOST_REFERRALS_PER_RECORD:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if isinstance(item.get("referral_id"), str):
                found.add(item["referral_id"])
            if item.get("resourceType") == "ServiceRequest" and isinstance(item.get("id"), str):
                found.add(item["id"])
            reference = item.get("reference")
            if isinstance(reference, str) and reference.startswith("ServiceRequest/"):
                found.add(reference.removeprefix("ServiceRequest/"))
            stack.extend(v for v in item.values() if isinstance(v, list | dict))


def _withheld() -> Response:
    detail = "the answer could not be recorded in the audit trail, so it is withheld; it has been logged"
    if request.path.startswith("/fhir"):
        return Response(
            json.dumps(operation_outcome("exception", detail)), status=500, mimetype="application/fhir+json"
        )
    return problem(500, "Internal Server Error", detail)


def _rule() -> str:
    return request.url_rule.rule if request.url_rule is not None else "(no route)"


class SampledLog:
    """Logs at most one line per interval about requests left out of the audit trail, saying how many
    there were since the last line."""

    def __init__(self, interval: float = SAMPLED_LOG_SECONDS):
        self._interval = interval
        self._lock = threading.Lock()
        self._next = 0.0
        self._unlogged = 0

    def note(self, reason: str, status: int, method: str, route: str, source: str | None) -> None:
        now = time.monotonic()  # a pace, not a time of day
        with self._lock:
            self._unlogged += 1
            if now < self._next:
                return
            count, self._unlogged, self._next = self._unlogged, 0, now + self._interval
        log.warning(
            "not in the audit trail (%s): %d request(s) in the last %gs, the latest %s %s %s from %s",
            reason,
            count,
            self._interval,
            status,
            method,
            route,
            source or "unknown",
        )


def _not_chained(response: Response, reason: str) -> None:
    signpost().metrics.unaudited_requests.labels(reason).inc()
    current_app.extensions["signpost.unaudited_log"].note(
        reason, response.status_code, request.method, _rule(), request.remote_addr
    )


def _end(_error) -> None:
    trail = g.pop("audit_request", None)
    if trail is not None:  # the answer never reached ``_record`` (an error while making it)
        trail.close()


def register(app: Flask) -> None:
    app.extensions["signpost.unaudited_log"] = SampledLog()
    app.before_request(_begin)
    app.after_request(_record)
    app.teardown_request(_end)
