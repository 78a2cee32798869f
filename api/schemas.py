"""Request and response shapes; they are also the OpenAPI document's schemas."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.go_live_schemas import GoLiveSchema, LiveAtSchema, ScheduledGoLiveSchema
from api.variant_schemas import ParameterSchema, VariantSchema
from engine.referrals.intake_channels import CHANNELS
from engine.referrals.nhs_number import VERIFICATION_STATUSES

# Ids, numbers and positions are stored in 32-bit integer columns (PostgreSQL's INTEGER).
LARGEST_STORED_INTEGER = 2**31 - 1
# One expression or script checked on its own: far more than any written in a diagram.
MAX_CHECKED_CODE_CHARS = 100_000


class StrictSchema(Schema):
    """Unknown fields are an error: a typo in a field name must not be silently ignored."""


class FileSchema(Schema):
    filename = fields.String()
    sha256 = fields.String()


class FileWithContentSchema(FileSchema):
    content = fields.String(metadata={"description": "the file's XML source"})


class VersionSchema(Schema):
    key = fields.String(attribute="definition_key")
    number = fields.Integer()
    sha256 = fields.String()
    process_id = fields.String()
    deployed_by = fields.String()
    deployed_at = fields.DateTime()
    approval = fields.String(
        metadata={"description": "draft | approved: referrals start only on approved ones"}
    )
    approved_by = fields.String(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    status = fields.String(metadata={"description": "draft | approved (the same as approval)"})
    deployed_by_person = fields.String(
        allow_none=True, metadata={"description": "the person the deploying client acts for, where known"}
    )
    approved_by_person = fields.String(
        allow_none=True, metadata={"description": "the person the approving client acts for, where known"}
    )
    approval_reason = fields.String(allow_none=True, metadata={"description": "why the approver approved it"})
    referrals_running = fields.Integer(metadata={"description": "referrals on this version not yet finished"})
    referrals_total = fields.Integer(metadata={"description": "every referral ever started on this version"})
    starts_new_referrals = fields.Boolean(
        metadata={
            "description": "whether new referrals start on this version (see startable_version); once the "
            "pathway has go-lives: whether it is live at any point of access"
        }
    )
    live_at = fields.List(
        fields.Nested(LiveAtSchema),
        metadata={
            "description": "where it is live now and since when, once the pathway has go-lives: a pilot "
            "names its point of access; point_of_access null stands for every other point of access"
        },
    )
    scheduled_go_lives = fields.List(
        fields.Nested(ScheduledGoLiveSchema), metadata={"description": "where it goes live later, from when"}
    )
    parameters = fields.List(
        fields.Nested(ParameterSchema),
        metadata={"description": "a blueprint's parameters, as its variants file declares them (else none)"},
    )
    variants = fields.List(
        fields.Nested(VariantSchema),
        metadata={"description": "a blueprint's variants: where each applies, its values, its approval"},
    )


class ApprovalSchema(StrictSchema):
    reason = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=2000),
            validate.Regexp(r"[\s\S]*\S", error="must say why, not be blank"),
        ],
        metadata={"description": "why the version is approved, in the approver's words (kept with it)"},
    )


class VersionWithFilesSchema(VersionSchema):
    files = fields.List(fields.Nested(FileWithContentSchema))


class DeployedSchema(Schema):
    key = fields.String()
    number = fields.Integer()
    sha256 = fields.String()
    process_id = fields.String()
    deployed_by = fields.String()
    deployed_at = fields.DateTime()
    created = fields.Boolean(metadata={"description": "false when identical content was already deployed"})
    files = fields.List(fields.Nested(FileSchema))


class DefinitionSummarySchema(Schema):
    key = fields.String()
    name = fields.String(allow_none=True)
    latest = fields.Integer(metadata={"description": "the latest version number"})
    created_at = fields.DateTime()
    startable_version = fields.Integer(
        allow_none=True,
        metadata={
            "description": "the version new referrals start on: the latest approved one (the latest, when "
            "approval is not required); once the pathway has go-lives, the one live at every point of access "
            "without a pilot of its own; null while none may take referrals"
        },
    )
    referrals_running = fields.Integer(metadata={"description": "referrals on any version not yet finished"})
    referrals_total = fields.Integer(metadata={"description": "every referral ever started on the pathway"})
    staged_go_live = fields.Boolean(
        metadata={
            "description": "whether go-lives decide the version new referrals start on at each point of "
            "access (true from the pathway's first go-live; false: the rule of approval decides)"
        }
    )
    go_lives = fields.List(
        fields.Nested(GoLiveSchema), metadata={"description": "every go-live, newest first"}
    )


class DefinitionSchema(DefinitionSummarySchema):
    versions = fields.List(fields.Nested(VersionSchema))


class ReferralStartSchema(StrictSchema):
    pathway = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "definition key of the pathway to start"},
    )
    version = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=LARGEST_STORED_INTEGER),
        metadata={"description": "version number; the latest when omitted"},
    )
    referrer = fields.String(required=True, validate=validate.Length(min=1, max=300))
    subject = fields.String(
        load_default=None,
        validate=validate.Length(max=20),
        metadata={"description": "the person's NHS number (10 digits, checked)"},
    )
    subject_verification = fields.String(
        load_default=None,
        validate=validate.OneOf(VERIFICATION_STATUSES),
        metadata={
            "description": "how far the NHS number has been verified (NHS Number Status Indicator); "
            "'unverified' (present, not traced) when omitted"
        },
    )
    point_of_access = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "the point of access that works on the referral; by default the operator's own, "
            "else the one that handles the pathway"
        },
    )
    channel = fields.String(
        load_default=None,
        validate=validate.OneOf(CHANNELS),
        metadata={
            "description": "how the referral reached the sender (e.g. 'pdf', 'phone'); when omitted, how the "
            "request arrived: 'web' (the web application), 'bars' (with X-Correlation-ID) or 'api'"
        },
    )
    data = fields.Dict(keys=fields.String(), load_default=dict)
    notify = fields.Nested(
        lambda: NotifySchema(),
        load_default=None,
        metadata={
            "description": "a one-off notification address for this referral (a webhook url or an email)"
        },
    )


class TaskSchema(Schema):
    id = fields.String()
    referral_id = fields.String(allow_none=True)
    reference = fields.String(allow_none=True, metadata={"description": "the referral's reference"})
    pathway = fields.String(allow_none=True)
    priority = fields.String(allow_none=True, metadata={"description": "from the task's camunda:priority"})
    due_at = fields.String(allow_none=True, metadata={"description": "from the task's camunda:dueDate"})
    at_risk = fields.Boolean(metadata={"description": "in the last quarter of its time, or overdue"})
    claimed_by_you = fields.Boolean(metadata={"description": "whether the caller holds it"})
    element_id = fields.String()
    title = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    status = fields.String()
    claimed_by = fields.String(allow_none=True)
    created_at = fields.String()
    completed_at = fields.String(allow_none=True)
    completed_by = fields.String(allow_none=True)


class TaskFormSchema(Schema):
    id = fields.String(allow_none=True, metadata={"description": "the form-js schema's own id"})
    filename = fields.String(metadata={"description": "the form's file in the pathway version"})
    schema = fields.Dict(metadata={"description": "the form-js schema, as deployed"})


class TaskWithFormSchema(TaskSchema):
    form = fields.Nested(
        TaskFormSchema,
        allow_none=True,
        metadata={
            "description": "the form the task names (data completing it is checked against it), or null"
        },
    )


class TimerWaitSchema(Schema):
    name = fields.String()
    due_at = fields.String()


class ExternalTaskWaitSchema(Schema):
    id = fields.String()
    topic = fields.String()
    element_id = fields.String()
    title = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "open, or failed (its failure stopped the referral)"})


class WaitingForSchema(Schema):
    tasks = fields.List(fields.Nested(TaskSchema))
    messages = fields.List(fields.String())
    signals = fields.List(fields.String())
    timers = fields.List(fields.Nested(TimerWaitSchema))
    external_tasks = fields.List(fields.Nested(ExternalTaskWaitSchema))


class IncidentSchema(Schema):
    task = fields.String(allow_none=True)
    error = fields.String()


class PathwayRefSchema(Schema):
    key = fields.String()
    version = fields.Integer()


class ReferralSchema(Schema):
    id = fields.String()
    reference = fields.String()
    pathway = fields.Nested(PathwayRefSchema)
    referrer = fields.String()
    referrer_organisation = fields.String()
    subject = fields.String(allow_none=True)
    subject_verification = fields.String(allow_none=True)
    point_of_access = fields.String(allow_none=True)
    variant = fields.String(
        allow_none=True,
        metadata={
            "description": "the variant of a blueprint pathway it runs (none: not a blueprint, or the "
            "blueprint's defaults where no variant applies)"
        },
    )
    channel = fields.String(
        allow_none=True, metadata={"description": "how it arrived; none if it came before that was kept"}
    )
    redacted_at = fields.String(
        allow_none=True, metadata={"description": "when its personal data was removed after retention"}
    )
    status = fields.String(metadata={"description": "waiting | completed | cancelled | incident"})
    status_text = fields.String(metadata={"description": "the status in plain language, for the referrer"})
    owner = fields.String(metadata={"description": "who holds the referral now"})
    handoffs = fields.List(fields.Nested(lambda: HandoffSummarySchema()))
    clocks = fields.List(
        fields.Nested(lambda: ClockSchema()), metadata={"description": "OLA clocks: who owes what"}
    )
    repeat_contacts = fields.List(
        fields.Nested(lambda: RepeatContactSchema()),
        metadata={
            "description": "contacts about this referral while it was open, and what each caller was told"
        },
    )
    notification_subscription = fields.Dict(
        metadata={
            "description": "the one-off subscription made from 'notify', with its secret (shown only now)"
        }
    )
    incident = fields.Nested(IncidentSchema, allow_none=True)
    waiting_for = fields.Nested(WaitingForSchema)
    data = fields.Dict()
    created_at = fields.String()
    updated_at = fields.String()
    completed_at = fields.String(allow_none=True)


class RepeatContactSchema(Schema):
    at = fields.String()
    answer = fields.String(metadata={"description": "the status the caller was told, without free text"})


class EventSchema(Schema):
    id = fields.Integer()
    at = fields.String()
    kind = fields.String()
    task_id = fields.String(allow_none=True)
    task_name = fields.String(allow_none=True)
    actor = fields.String()
    detail = fields.Raw(allow_none=True)


class TaskQuerySchema(StrictSchema):
    referral = fields.String(load_default=None)
    lane = fields.String(load_default=None)
    status = fields.String(
        load_default="ready",
        validate=validate.OneOf(["open", "ready", "claimed", "completed", "cancelled"]),
        metadata={"description": "open: ready or claimed (the worklist)"},
    )
    pathway = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    priority = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    created_before = fields.AwareDateTime(
        load_default=None,
        metadata={"description": "only tasks waiting since before this (ISO 8601 with offset)"},
    )
    at_risk = fields.Boolean(
        load_default=False,
        metadata={"description": "only tasks in the last quarter of their time, or overdue"},
    )
    after = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=300),
        metadata={"description": "the cursor of the next page, from the previous page's Link header"},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class TaskCompleteSchema(StrictSchema):
    data = fields.Dict(keys=fields.String(), load_default=dict)


class RetrySchema(StrictSchema):
    data = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "values to add to the data of the steps about to run again"},
    )


class MessageSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    correlation = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": 'e.g. {"referral_id": "…"} or {"reference": "SP-…"}'},
    )
    data = fields.Dict(keys=fields.String(), load_default=dict)


class MessageResultSchema(Schema):
    delivered_to = fields.List(fields.Nested(ReferralSchema))


class SignalSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    data = fields.Dict(keys=fields.String(), load_default=dict)


class SignalResultSchema(Schema):
    signal = fields.String()
    delivered_to = fields.List(
        fields.Nested(ReferralSchema), metadata={"description": "every referral that caught the signal"}
    )


class HandoffSummarySchema(Schema):
    id = fields.String()
    to_service = fields.String()
    to_service_name = fields.String(allow_none=True)
    from_service = fields.String(allow_none=True)
    referral_type = fields.String()
    status = fields.String(metadata={"description": "FHIR Task status"})
    business_status = fields.String(allow_none=True)
    owner = fields.String(metadata={"description": "who holds the ball: a service id or 'referrer'"})
    reason = fields.String(allow_none=True, metadata={"description": "why it was routed"})
    status_reason = fields.String(
        allow_none=True, metadata={"description": "why it was rejected, transferred or cancelled"}
    )
    question = fields.String(allow_none=True)
    window = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    payload = fields.Dict()
    etag = fields.String()
    created_at = fields.String()
    updated_at = fields.String()


class TransitionSchema(Schema):
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    by = fields.String()
    at = fields.String()


class HandoffSchema(HandoffSummarySchema):
    referral_id = fields.String(allow_none=True)
    actions = fields.List(
        fields.String(),
        metadata={"description": "the actions the receiving service may take on it now"},
    )
    answer = fields.Raw(allow_none=True)
    version = fields.Integer()
    transitions = fields.List(
        fields.Nested(TransitionSchema), metadata={"description": "when each change happened"}
    )


class ServiceBodySchema(Schema):
    name = fields.String(required=True)
    organisation = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "point-of-access | receiving"})
    accepts = fields.List(fields.String(), required=True)
    pathways = fields.List(
        fields.String(),
        load_default=list,
        metadata={"description": "for a point of access: the pathways whose referrals it handles"},
    )
    calendar = fields.String(required=True)
    delivery = fields.Dict(
        required=True, metadata={"description": '{"mode": "pull"} or {"mode": "webhook", "url": …}'}
    )
    description = fields.String(allow_none=True, load_default=None)


class ServiceSchema(ServiceBodySchema):
    id = fields.String(required=True)


class ServiceQuerySchema(Schema):
    organisation = fields.String(load_default=None)
    accepts = fields.String(
        load_default=None, metadata={"description": "only services accepting this referral type"}
    )


class QueueQuerySchema(Schema):
    status = fields.List(
        fields.String(
            validate=validate.OneOf(
                [
                    "requested",
                    "received",
                    "accepted",
                    "in-progress",
                    "on-hold",
                    "rejected",
                    "completed",
                    "cancelled",
                    "failed",
                ]
            )
        ),
        load_default=None,
        metadata={"description": "repeat for several; all when omitted"},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class HandoffActionSchema(Schema):
    """The fields an action takes: reject needs reason, request-information question, schedule window,
    complete outcome, transfer to_service and reason; accept takes an optional window."""

    reason = fields.String(validate=validate.Length(min=1, max=2000))
    question = fields.String(validate=validate.Length(min=1, max=2000))
    window = fields.String(validate=validate.Length(min=1, max=200))
    outcome = fields.String(validate=validate.Length(min=1, max=2000))
    to_service = fields.String(validate=validate.Length(min=1, max=100))


class InformationSchema(Schema):
    answer = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={"description": "the information asked for, as named fields"},
    )


class CancelSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ReferralQuerySchema(Schema):
    subject = fields.String(
        load_default=None,
        metadata={
            "description": "NHS number: lists the person's open referrals; without it, every referral the "
            "caller may see, newest first, a page at a time"
        },
    )
    limit = fields.Integer(
        load_default=25,
        validate=validate.Range(min=1, max=100),
        metadata={"description": "referrals per page (without subject)"},
    )
    after = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "the cursor of the next page, from the previous page's Link header"},
    )


class ReferralSearchSchema(StrictSchema):
    subject = fields.String(
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "NHS number: lists the person's open referrals"},
    )


class TimelineEntrySchema(Schema):
    at = fields.String()
    what = fields.String()
    kind = fields.String()
    by = fields.String()


class ClockSchema(Schema):
    id = fields.String()
    handoff_id = fields.String()
    ola = fields.String()
    obligation = fields.String()
    party = fields.String(metadata={"description": "receiver | sender"})
    owed_by = fields.String(metadata={"description": "who owes it, by name"})
    state = fields.String(metadata={"description": "running | paused | met | breached | cancelled"})
    calendar = fields.String()
    target_seconds = fields.Integer(metadata={"description": "the target in business seconds"})
    business_seconds_used = fields.Integer()
    business_seconds_remaining = fields.Integer()
    due_at = fields.String(allow_none=True)
    started_at = fields.String(allow_none=True)
    stopped_at = fields.String(allow_none=True)
    breached_at = fields.String(allow_none=True)


class AtRiskClockSchema(ClockSchema):
    referral_id = fields.String()
    reference = fields.String()


class ObligationQuerySchema(Schema):
    state = fields.List(
        fields.String(validate=validate.OneOf(["running", "paused", "met", "breached", "cancelled"])),
        load_default=lambda: ["running"],
    )
    due_before = fields.AwareDateTime(load_default=None, metadata={"description": "ISO 8601 with an offset"})
    open = fields.Boolean(
        load_default=False,
        metadata={
            "description": "true: only the obligations still owed (a clock met after its due time stays "
            "'breached', with stopped_at set)"
        },
    )
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=5000))


class ReportQuerySchema(Schema):
    start = fields.AwareDateTime(required=True, data_key="from")
    end = fields.AwareDateTime(required=True, data_key="to")


class ComplianceSchema(Schema):
    group = fields.List(fields.String(allow_none=True))
    met = fields.Integer()
    breached = fields.Integer()
    percent_met = fields.Float()
    median_seconds_to_meet = fields.Integer(allow_none=True)
    p90_seconds_to_meet = fields.Integer(allow_none=True)


class ElementDwellSchema(Schema):
    element_id = fields.String()
    passed = fields.Integer(metadata={"description": "referrals that passed the element"})
    median_seconds = fields.Integer(metadata={"description": "median time the element held a referral"})
    p90_seconds = fields.Integer(metadata={"description": "90th percentile of that time"})


class DwellReportSchema(Schema):
    pathway = fields.String()
    version = fields.Integer()
    referrals = fields.Integer(metadata={"description": "referrals started on the version in the period"})
    elements = fields.List(fields.Nested(ElementDwellSchema), metadata={"description": "longest stay first"})


class FailureDemandSchema(Schema):
    group = fields.List(
        fields.String(), metadata={"description": "the organisation pair holding the referral: from, to"}
    )
    repeat_contacts = fields.Integer(
        metadata={"description": "contacts about a referral already open, recorded on it in the period"}
    )


class OlaReportSchema(Schema):
    service = fields.List(fields.Nested(ComplianceSchema))
    organisation_pair = fields.List(fields.Nested(ComplianceSchema))
    obligation = fields.List(fields.Nested(ComplianceSchema))
    party = fields.List(fields.Nested(ComplianceSchema))
    failure_demand = fields.List(
        fields.Nested(FailureDemandSchema),
        metadata={"description": "repeat contacts per organisation pair: the chase calls a hand-off caused"},
    )


class ClosureBodySchema(Schema):
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ClosureSchema(Schema):
    id = fields.Integer()
    calendar = fields.String()
    starts_at = fields.String()
    ends_at = fields.String()
    reason = fields.String()
    created_by = fields.String()


class CalendarSchema(Schema):
    name = fields.String()
    time_zone = fields.String()
    closed_on_bank_holidays = fields.Boolean(metadata={"description": "England and Wales bank holidays"})
    opening = fields.Dict(keys=fields.String(), values=fields.List(fields.List(fields.String())))
    closures = fields.List(fields.Nested(ClosureSchema))


class NotifySchema(Schema):
    url = fields.String(validate=validate.Length(max=2000), metadata={"description": "webhook endpoint"})
    email = fields.String(validate=validate.Length(max=320))
    events = fields.List(fields.String(), metadata={"description": "event types; all when omitted"})


class SubscriptionBodySchema(Schema):
    referral_id = fields.String(
        load_default=None,
        metadata={"description": "one referral; when omitted, every referral your organisation submits"},
    )
    url = fields.String(load_default=None, validate=validate.Length(max=2000))
    email = fields.String(load_default=None, validate=validate.Length(max=320))
    events = fields.List(fields.String(), load_default=None)


class SubscriptionSchema(Schema):
    id = fields.String()
    organisation = fields.String()
    referral_id = fields.String(allow_none=True)
    all_referrals = fields.Boolean()
    channel = fields.String(metadata={"description": "webhook | email"})
    url = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    events = fields.List(fields.String())
    status = fields.String()
    disabled_reason = fields.String(allow_none=True)
    last_event_number = fields.Integer()
    created_at = fields.String()
    secret = fields.String(metadata={"description": "whsec_…: shown only when created or rotated"})


class RotateSchema(Schema):
    grace_seconds = fields.Integer(load_default=86400, validate=validate.Range(min=0, max=7 * 86400))


class SinceSchema(Schema):
    since = fields.Integer(load_default=0, validate=validate.Range(min=0, max=LARGEST_STORED_INTEGER))
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class AttemptSchema(Schema):
    attempt = fields.Integer()
    at = fields.String()
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer(allow_none=True)


class DeliverySchema(Schema):
    id = fields.Integer()
    subscription_id = fields.String()
    referral_id = fields.String()
    event_number = fields.Integer()
    event_type = fields.String()
    status = fields.String(metadata={"description": "pending | delivered | dead | disabled"})
    attempts = fields.Integer()
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.String(allow_none=True)
    delivered_at = fields.String(allow_none=True)
    attempt_log = fields.List(fields.Nested(AttemptSchema))


class NotificationEventSchema(Schema):
    type = fields.String()
    timestamp = fields.String()
    data = fields.Dict()


class ProblemLocationSchema(Schema):
    file = fields.String()
    element_id = fields.String(allow_none=True)
    element_name = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    message = fields.String()


class ValidationSchema(Schema):
    valid = fields.Boolean(
        metadata={"description": "whether POST /api/v1/definitions would deploy the files"}
    )
    problems = fields.List(
        fields.Nested(ProblemLocationSchema),
        metadata={"description": "what a deployment would be refused for (empty when valid)"},
    )


class CodeCheckSchema(StrictSchema):
    code = fields.String(
        required=True,
        validate=validate.Length(max=MAX_CHECKED_CODE_CHARS),
        metadata={"description": "the Python expression or script, as it would be written in the diagram"},
    )
    kind = fields.String(
        required=True,
        validate=validate.OneOf(["expression", "script"]),
        metadata={
            "description": "expression: a condition, a parameter or another single expression; script: the "
            "statements of a script task, a pre-script or a post-script"
        },
    )


class CodeProblemSchema(Schema):
    message = fields.String(metadata={"description": "what the deploy checks refuse, in plain language"})
    line = fields.Integer(allow_none=True, metadata={"description": "the line in the code, from 1"})
    column = fields.Integer(allow_none=True, metadata={"description": "the column in the line, from 1"})


class CodeCheckResultSchema(Schema):
    valid = fields.Boolean(metadata={"description": "whether a deployment would accept this code"})
    problems = fields.List(
        fields.Nested(CodeProblemSchema),
        metadata={"description": "what a deployment would be refused for in this code (empty when valid)"},
    )


class ProblemSchema(Schema):
    """Every error response: an RFC 9457 problem, sent as application/problem+json."""

    type = fields.String(metadata={"description": "a URI naming the kind of problem, or about:blank"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String(metadata={"description": "what went wrong, in plain language"})
    errors = fields.Raw(
        metadata={
            "description": "request validation messages by location and field (an object); for data that "
            'does not fit a task\'s form, a list of {"field": <key>, "message": <what is wrong>}'
        }
    )
    problems = fields.List(
        fields.Nested(ProblemLocationSchema),
        metadata={"description": "every problem found in a deployment, by file, element and line"},
    )
    element_id = fields.String(
        allow_none=True, metadata={"description": "the BPMN element that could not process the input"}
    )
    allowed = fields.List(fields.String(), metadata={"description": "the actions allowed from the status"})
