from __future__ import annotations

from flask_smorest import Blueprint

from api.auth import current_client, requires
from api.csv_answer import csv_answer
from api.engine_access import signpost
from api.schemas import (
    AtRiskClockSchema,
    CalendarSchema,
    ClosureBodySchema,
    ClosureSchema,
    DwellReportSchema,
    ObligationQuerySchema,
    OlaReportSchema,
    ReportQuerySchema,
)

blp = Blueprint(
    "olas", __name__, url_prefix="/api/v1", description="Two-way OLAs: clocks at risk, and compliance reports"
)

CSV_COLUMNS = (
    "grouping",
    "group",
    "met",
    "breached",
    "percent_met",
    "median_seconds_to_meet",
    "p90_seconds_to_meet",
    "repeat_contacts",
)


@blp.route("/obligations", methods=["GET"])
@requires("operator", "service")
@blp.arguments(ObligationQuerySchema, location="query")
@blp.response(200, AtRiskClockSchema(many=True))
def obligations(query: dict):
    return signpost().olas.at_risk(
        current_client(),
        states=query["state"],
        due_before=query["due_before"],
        limit=query["limit"],
        open_only=query["open"],
    )


@blp.route("/reports/ola", methods=["GET"])
@requires("operator")
@blp.doc(description="Compliance of the hand-offs the caller's organisation sent or received.")
@blp.arguments(ReportQuerySchema, location="query")
@blp.response(200, OlaReportSchema)
def ola_report(query: dict):
    return signpost().olas.report(query["start"], query["end"], current_client().organisation)


@blp.route("/reports/ola.csv", methods=["GET"])
@requires("operator")
@blp.arguments(ReportQuerySchema, location="query")
@blp.response(200, description="the same figures as /reports/ola, one row per group", content_type="text/csv")
def ola_report_csv(query: dict):
    report = signpost().olas.report(query["start"], query["end"], current_client().organisation)
    rows = (
        [grouping, " / ".join(str(g) for g in row["group"]), *(row.get(c, "") for c in CSV_COLUMNS[2:])]
        for grouping, rows in report.items()
        for row in rows
    )
    return csv_answer(CSV_COLUMNS, rows, "ola-report.csv")


@blp.route("/reports/pathways/<string:key>/versions/<int:number>/dwell", methods=["GET"])
@requires("operator", "designer")
@blp.arguments(ReportQuerySchema, location="query")
@blp.response(200, DwellReportSchema)
@blp.doc(
    description="Where referrals wait on a pathway version: per element, the referrals started in the period "
    "that passed it and how long it held them. Operators count their point of access's referrals; designers, "
    "who read no referral, every referral of the version, as figures only."
)
def dwell_report(query: dict, key: str, number: int):
    return signpost().referrals.dwell(current_client(), key, number, query["start"], query["end"])


@blp.route("/calendars", methods=["GET"])
@requires("designer", "operator", "service", "referrer", "admin")
@blp.response(200, CalendarSchema(many=True))
def calendars():
    return signpost().olas.calendars()


@blp.route("/calendars/<string:name>/closures", methods=["POST"])
@requires("admin")
@blp.arguments(ClosureBodySchema)
@blp.response(201, ClosureSchema)
def add_closure(body: dict, name: str):
    return signpost().olas.add_closure(
        name, body["starts_at"], body["ends_at"], body["reason"], current_client()
    )


@blp.route("/calendars/<string:name>/closures/<int:closure_id>", methods=["DELETE"])
@requires("admin")
@blp.response(204)
def remove_closure(name: str, closure_id: int):
    signpost().olas.remove_closure(name, closure_id)
