"""Request and response shapes of staged go-live (also the OpenAPI document's schemas)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

REASON = {
    "required": True,
    "validate": [
        validate.Length(min=1, max=2000),
        validate.Regexp(r"[\s\S]*\S", error="must say why, not be blank"),
    ],
}
POINT_OF_ACCESS_ID = fields.String(validate=validate.Length(min=1, max=100))


def _points_of_access(description: str):
    return fields.List(
        POINT_OF_ACCESS_ID,
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={"description": description},
    )


class GoLiveBodySchema(Schema):
    points_of_access = _points_of_access(
        "the points of access (service ids) the version goes live at: a pilot. Left out: every point of "
        "access (platform admins only); an admin names points of access its organisation runs"
    )
    live_from = fields.AwareDateTime(
        data_key="from",
        load_default=None,
        metadata={
            "description": "when it goes live (ISO 8601 with an offset); now when left out. Not in the past "
            "(a few minutes' leeway counts as now)"
        },
    )
    reason = fields.String(**REASON, metadata={"description": "why it goes live, in the decider's words"})


class RollbackBodySchema(Schema):
    points_of_access = _points_of_access(
        "where to roll the go-live back (some of the points of access it names); everywhere it applies when "
        "left out"
    )
    reason = fields.String(**REASON, metadata={"description": "why it is rolled back"})


class PlaceSchema(Schema):
    point_of_access = fields.String(
        allow_none=True,
        metadata={"description": "a point of access (service id); null: every point of access"},
    )
    point_of_access_name = fields.String(allow_none=True)
    pilot = fields.Boolean(metadata={"description": "whether it names a point of access (not all of them)"})


class GoLivePointSchema(PlaceSchema):
    state = fields.String(
        metadata={
            "description": "live (it decides the version there now) | scheduled (from a later time) | "
            "superseded (a later go-live decides there) | rolled-back"
        }
    )
    rolled_back_at = fields.DateTime(allow_none=True)
    rolled_back_by = fields.String(allow_none=True)
    rollback_reason = fields.String(allow_none=True)


class GoLiveSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    version = fields.Integer()
    kind = fields.String(
        metadata={"description": "go-live | baseline (what was live before the pathway's first go-live)"}
    )
    live_from = fields.DateTime(data_key="from", attribute="from")
    recorded_at = fields.DateTime()
    recorded_by = fields.String()
    organisation = fields.String()
    reason = fields.String()
    pilot = fields.Boolean(metadata={"description": "whether it names points of access (not all of them)"})
    state = fields.String(metadata={"description": "the first of its points' states: live, scheduled, …"})
    points = fields.List(fields.Nested(GoLivePointSchema))


class LiveAtSchema(PlaceSchema):
    since = fields.DateTime()
    go_live_id = fields.Integer()


class ScheduledGoLiveSchema(PlaceSchema):
    live_from = fields.DateTime(data_key="from", attribute="from")
    go_live_id = fields.Integer()
