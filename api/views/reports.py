from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from api.audit_trail import name_answered_referrals
from api.auth import current_client, requires
from api.csv_answer import csv_answer
from api.engine_access import signpost
from api.report_schemas import ReferralReportQuerySchema, ReferralReportSchema

blp = Blueprint(
    "reports",
    __name__,
    url_prefix="/api/v1/reports",
    description="MI: referrals by channel, outcome and time in each status, and their event log (XES)",
)

SCOPE = (
    "Counts the referrals received in [from, to) (at most 366 days) that the caller's point of access works "
    "on (an operator tied to none: every point of access its organisation runs), optionally of one pathway "
    "and one point of access, as they stand now."
)
CSV_COLUMNS = (
    "pathway",
    "point_of_access",
    "figure",
    "value",
    "pathway_outcome",
    "referrals",
    "entered",
    "left",
    "median_seconds",
    "p90_seconds",
)


@blp.route("/referrals", methods=["GET"])
@requires("operator")
@blp.doc(
    description=SCOPE + " Per pathway and point of access: referrals by channel and by outcome, and how "
    "long the referrals and their hand-offs stayed in each status (wall-clock seconds, stays ended by now)."
)
@blp.arguments(ReferralReportQuerySchema, location="query")
@blp.response(200, ReferralReportSchema)
def referral_report(query: dict):
    return signpost().reports.referrals(current_client(), **query)


@blp.route("/referrals.csv", methods=["GET"])
@requires("operator")
@blp.doc(description="The figures of /reports/referrals, one row each. " + SCOPE)
@blp.arguments(ReferralReportQuerySchema, location="query")
@blp.response(
    200,
    description="columns: " + ", ".join(CSV_COLUMNS) + "; figure is channel, outcome, repeat_contacts (its "
    "value the contacts), referral_state or handoff_state",
    content_type="text/csv",
)
def referral_report_csv(query: dict):
    report = signpost().reports.referrals(current_client(), **query)
    return csv_answer(CSV_COLUMNS, csv_rows(report), "referrals-report.csv")


@blp.route("/event-log.xes", methods=["GET"])
@requires("operator")
@blp.doc(
    description="The event log of the same referrals in XES (IEEE 1849), for process-mining tools: a trace "
    "per referral named by its id, its steps, task completions, hand-off transitions and OLA events in time "
    "order. No NHS number, referrer, form data or words anyone wrote; actors as services and organisations. "
    "Streamed as it is read. " + SCOPE
)
@blp.arguments(ReferralReportQuerySchema, location="query")
@blp.response(200, description="an XES document", content_type="application/xml")
def event_log(query: dict):
    log = signpost().reports.event_log(current_client(), **query)
    name_answered_referrals(log.case_ids())
    return Response(
        log.xes(),
        mimetype="application/xml",
        headers={"Content-Disposition": 'attachment; filename="referrals.xes"'},
    )


def csv_rows(report: dict):
    for group in report["groups"]:
        where = [group["pathway"], group["point_of_access"]]
        no_times = [None] * 4
        for c in group["channels"]:
            yield [*where, "channel", c["channel"], None, c["referrals"], *no_times]
        for o in group["outcomes"]:
            yield [*where, "outcome", o["status"], o["pathway_outcome"], o["referrals"], *no_times]
        yield [*where, "repeat_contacts", group["repeat_contacts"], None, None, *no_times]
        for s in group["time_in_state"]:
            figures = [s[k] for k in ("entered", "left", "median_seconds", "p90_seconds")]
            yield [*where, f"{s['of']}_state", s["state"], None, None, *figures]
