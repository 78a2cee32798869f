"""Response shapes of blueprints and their local variants (also the OpenAPI document's schemas)."""

from __future__ import annotations

from marshmallow import Schema, fields

# A parameter's value: text, a number or true/false, by its type.
VALUE = fields.Raw(allow_none=True)


class ParameterSchema(Schema):
    name = fields.String()
    type = fields.String(
        metadata={"description": "string | integer | number | boolean | duration | service | calendar"}
    )
    default = VALUE
    has_default = fields.Boolean(
        metadata={"description": "false: every variant gives a value (a referral matching none is refused)"}
    )
    description = fields.String(allow_none=True)
    accepts = fields.String(
        allow_none=True, metadata={"description": "a service parameter: the referral type it must accept"}
    )
    kind = fields.String(
        allow_none=True, metadata={"description": "a service parameter: point-of-access or receiving"}
    )


class VariantSchema(Schema):
    name = fields.String()
    description = fields.String(allow_none=True)
    points_of_access = fields.List(
        fields.String(), metadata={"description": "the points of access whose referrals run this variant"}
    )
    organisation = fields.String(
        allow_none=True,
        metadata={"description": "the organisation whose other points of access's referrals run it"},
    )
    parameters = fields.Dict(
        keys=fields.String(), values=VALUE, metadata={"description": "the values the variant gives"}
    )
    values = fields.Dict(
        keys=fields.String(),
        values=VALUE,
        metadata={"description": "what the diagram reads as local[…]: its values over the defaults"},
    )
    approval = fields.String(metadata={"description": "draft | approved: each variant approved on its own"})
    approved_by = fields.String(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    approval_reason = fields.String(allow_none=True)
    referrals_total = fields.Integer(metadata={"description": "referrals ever started on this variant"})


class ApprovedVariantSchema(VariantSchema):
    key = fields.String()
    version = fields.Integer()
