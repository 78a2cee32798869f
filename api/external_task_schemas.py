"""Request and response shapes of the external tasks API (also the OpenAPI document's schemas)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import StrictSchema

TOPIC = fields.String(validate=validate.Length(min=1, max=200))
WORKER_ID = fields.String(
    required=True,
    validate=validate.Length(min=1, max=200),
    metadata={
        "description": "the worker's own name for itself; only the worker holding the lease may answer"
    },
)
# A lease of a second to a day; a worker that needs longer extends it.
LEASE_SECONDS = fields.Integer(load_default=300, validate=validate.Range(min=1, max=86_400))


class ExternalTaskSchema(Schema):
    id = fields.String()
    topic = fields.String()
    element_id = fields.String()
    title = fields.String(allow_none=True)
    referral_id = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "open, locked (a lease runs) or failed"})
    worker_id = fields.String(allow_none=True)
    lock_expires_at = fields.String(allow_none=True)
    retries = fields.Integer(allow_none=True)
    available_at = fields.String(allow_none=True, metadata={"description": "fetchable again from then"})
    error_message = fields.String(allow_none=True)
    created_at = fields.String()


class LockedExternalTaskSchema(ExternalTaskSchema):
    data = fields.Dict(metadata={"description": "the referral's pathway data as it stands"})


class ExternalTaskAnswerSchema(Schema):
    id = fields.String()
    topic = fields.String()
    referral_id = fields.String(allow_none=True)
    instance_status = fields.String(metadata={"description": "waiting, completed or incident afterwards"})
    incident = fields.String(allow_none=True)


class ExternalTaskQuerySchema(StrictSchema):
    topic = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class FetchAndLockSchema(StrictSchema):
    worker_id = WORKER_ID
    topics = fields.List(TOPIC, required=True, validate=validate.Length(min=1, max=50))
    max_tasks = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100))
    lease_seconds = LEASE_SECONDS


class ExternalTaskCompleteSchema(StrictSchema):
    worker_id = WORKER_ID
    data = fields.Dict(keys=fields.String(), load_default=dict)


class ExtendLeaseSchema(StrictSchema):
    worker_id = WORKER_ID
    lease_seconds = LEASE_SECONDS


class ExternalTaskFailureSchema(StrictSchema):
    worker_id = WORKER_ID
    error = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    retries = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=100),
        metadata={"description": "attempts left; 0 stops the referral with an incident (default: one fewer)"},
    )
    retry_in_seconds = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=86_400 * 7),
        metadata={"description": "when the task may be fetched again (default: a doubling back-off)"},
    )


class BpmnErrorSchema(StrictSchema):
    worker_id = WORKER_ID
    code = fields.String(required=True, validate=validate.Length(min=1, max=200))
    message = fields.String(load_default=None, validate=validate.Length(max=2000))
    data = fields.Dict(keys=fields.String(), load_default=dict)
