"""The MI reports' request and response shapes (engine/referrals/reports.py); also OpenAPI schemas."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import ReportQuerySchema
from engine.referrals.intake_channels import CHANNELS, UNRECORDED


class ReferralReportQuerySchema(ReportQuerySchema):
    pathway = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "only this pathway (a definition key)"},
    )
    point_of_access = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "only this point of access (a service id)"},
    )


class ChannelCountSchema(Schema):
    channel = fields.String(metadata={"description": " | ".join((*CHANNELS, UNRECORDED))})
    referrals = fields.Integer()


class OutcomeCountSchema(Schema):
    status = fields.String(metadata={"description": "waiting | incident | completed | cancelled"})
    pathway_outcome = fields.String(
        allow_none=True, metadata={"description": "of a completed referral: the end event it reached"}
    )
    referrals = fields.Integer()


class StateTimeSchema(Schema):
    of = fields.String(metadata={"description": "referral (its status) | handoff (a hand-off's status)"})
    state = fields.String()
    entered = fields.Integer(metadata={"description": "stays in the status that began"})
    left = fields.Integer(metadata={"description": "those that have ended; the times are theirs"})
    median_seconds = fields.Integer(allow_none=True, metadata={"description": "wall-clock seconds"})
    p90_seconds = fields.Integer(
        allow_none=True, metadata={"description": "90th percentile (nearest rank), wall-clock seconds"}
    )


class ReferralGroupSchema(Schema):
    pathway = fields.String()
    point_of_access = fields.String(allow_none=True)
    referrals = fields.Integer(metadata={"description": "received in the period"})
    channels = fields.List(fields.Nested(ChannelCountSchema), metadata={"description": "most first"})
    outcomes = fields.List(fields.Nested(OutcomeCountSchema), metadata={"description": "most first"})
    repeat_contacts = fields.Integer(
        metadata={
            "description": "contacts recorded on these referrals by people chasing them: failure demand"
        }
    )
    time_in_state = fields.List(
        fields.Nested(StateTimeSchema), metadata={"description": "the referral's statuses, then hand-offs'"}
    )


class ReferralReportSchema(Schema):
    from_ = fields.String(data_key="from", attribute="from")
    to = fields.String()
    pathway = fields.String(allow_none=True)
    point_of_access = fields.String(allow_none=True)
    time_basis = fields.String(metadata={"description": "what the times measure: wall-clock seconds"})
    groups = fields.List(
        fields.Nested(ReferralGroupSchema), metadata={"description": "per pathway and point of access"}
    )
