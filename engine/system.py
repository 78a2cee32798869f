"""The composition root: builds every engine service from Settings, once per process."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from engine import clock
from engine.bpmn import Runtime
from engine.governance.audit import Audit
from engine.governance.audit_keys import audit_keys_for
from engine.governance.clients import Clients
from engine.governance.oidc import OidcConfig, OidcVerifier
from engine.governance.rate_limits import RateLimits, check_storage_url, parse_limit
from engine.metrics import Metrics
from engine.notifications.channels import EmailChannel, SmtpSettings, WebhookChannel
from engine.notifications.deliveries import Deliverer
from engine.notifications.notifications import Notifications
from engine.notifications.secrets_at_rest import box_for
from engine.olas.calendars import CALENDARS
from engine.olas.olas import Olas
from engine.pathways.definitions import Definitions, PathwayCache
from engine.pathways.external_tasks import ExternalTasks
from engine.pathways.go_lives import GoLives
from engine.pathways.instances import Instances
from engine.pathways.messages import Messages
from engine.pathways.pipeline import StepPipeline
from engine.pathways.timers import Timers
from engine.pathways.variants import Variants
from engine.referrals.personal_data import PersonalData
from engine.referrals.referrals import Referrals
from engine.referrals.repeat_contacts import OPERATIONS as CONTACT_OPERATIONS
from engine.referrals.repeat_contacts import record_contacts
from engine.referrals.reports import ReferralReports
from engine.routing.handoffs import Handoffs
from engine.routing.routes import OPERATIONS as ROUTING_OPERATIONS
from engine.routing.routes import record_routes
from engine.routing.services import Services
from engine.sandbox.pool import SandboxedEvaluator, shared_pool
from engine.settings import Settings
from engine.store import instances as instance_store
from engine.store import notifications as notification_store
from engine.store.db import Database
from engine.store.migrate import upgrade

# Every operation a pathway's service tasks may call.
OPERATIONS = {**ROUTING_OPERATIONS, **CONTACT_OPERATIONS}

# Retention is counted in days: looking for referrals to redact once an hour is plenty.
HOUSEKEEPING_INTERVAL = timedelta(hours=1)


@dataclass
class Signpost:
    settings: Settings
    database: Database
    runtime: Runtime
    definitions: Definitions
    instances: Instances
    referrals: Referrals
    reports: ReferralReports
    clients: Clients
    timers: Timers
    services: Services
    handoffs: Handoffs
    olas: Olas
    metrics: Metrics
    notifications: Notifications
    audit: Audit
    rate_limits: RateLimits
    personal_data: PersonalData
    external_tasks: ExternalTasks
    variants: Variants
    go_lives: GoLives
    # Verifies OpenID Connect bearer JWTs; None when no issuer is configured.
    oidc: OidcVerifier | None = None
    _next_housekeeping: datetime | None = None

    def migrate(self) -> None:
        upgrade(self.database)

    def ensure_admin_client(self) -> None:
        if self.settings.admin_token:
            self.clients.ensure(
                token=self.settings.admin_token,
                name="admin (SIGNPOST_ADMIN_TOKEN)",
                organisation="signpost",
                roles={"admin", "platform-admin"},
            )

    def tick(self) -> None:
        """Everything that falls due with time: BPMN timers, OLA warnings and breaches, notifications, and
        (hourly) the redaction of referrals whose retention has ended."""
        self.timers.fire_due()
        self.olas.attend_due()
        self.notifications.deliver_due()
        now = clock.now()
        if self._next_housekeeping is None or now >= self._next_housekeeping:
            self.personal_data.redact_expired(now)
            self._next_housekeeping = now + HOUSEKEEPING_INTERVAL

    def ready(self) -> None:
        """Raise if the database cannot be reached (for a readiness probe)."""
        self.database.ping()

    def metrics_exposition(self) -> bytes:
        """Metrics in Prometheus text format, with the database-wide gauges read now."""
        with self.database.read() as conn:
            self.metrics.timers_due.set(instance_store.count_timers_due(conn, clock.now()))
            self.metrics.outbox_depth.set(notification_store.outbox_depth(conn))
        return self.metrics.exposition()

    def close(self) -> None:
        if self.oidc is not None:
            self.oidc.close()
        self.database.dispose()


def build(settings: Settings) -> Signpost:
    """Raises ``SecretKeysUnavailable`` when no key can encrypt webhook secrets, ``AuditKeysUnavailable``
    when none can sign the audit trail."""
    database = Database(settings.database_url, pool_size=settings.database_pool_size)
    secret_box = box_for(settings.secret_keys, database)
    audit_keys = audit_keys_for(settings.audit_keys, database)
    evaluator = SandboxedEvaluator(
        shared_pool(settings.sandbox_workers, settings.sandbox_memory_bytes),
        time_limit_seconds=settings.expression_time_limit_seconds,
        max_answer_bytes=settings.max_instance_data_bytes,
    )
    metrics = Metrics()
    runtime = Runtime(evaluator, OPERATIONS, max_data_bytes=settings.max_instance_data_bytes)
    pathways = PathwayCache(database)
    definitions = Definitions(
        database,
        evaluator,
        pathways,
        settings.max_upload_bytes,
        OPERATIONS,
        approval_required=settings.require_pathway_approval,
        calendars=CALENDARS,
    )
    instances = Instances(database, runtime, pathways, StepPipeline(routes=_service_calls), metrics=metrics)
    deliverer = Deliverer(
        database,
        WebhookChannel(allow_private=settings.webhook_allow_private),
        _email_channel(settings),
        secret_box=secret_box,
        public_url=settings.public_url,
        lease=timedelta(seconds=settings.delivery_lease_seconds),
    )
    notifications = Notifications(
        database,
        deliverer,
        secret_box=secret_box,
        allow_private_urls=settings.webhook_allow_private,
        email_enabled=bool(settings.smtp_host),
    )
    return Signpost(
        settings=settings,
        database=database,
        runtime=runtime,
        definitions=definitions,
        instances=instances,
        referrals=Referrals(
            database,
            definitions,
            instances,
            Messages(database, instances, runtime),
            notifications,
            approval_required=settings.require_pathway_approval,
        ),
        reports=ReferralReports(database),
        clients=Clients(database),
        timers=Timers(database, instances, runtime, metrics),
        services=Services(database),
        handoffs=Handoffs(database, instances, runtime),
        olas=Olas(database, instances, metrics),
        metrics=metrics,
        notifications=notifications,
        audit=Audit(database, audit_keys),
        rate_limits=_rate_limits(settings, metrics),
        personal_data=PersonalData(database, timedelta(days=settings.retention_days)),
        external_tasks=ExternalTasks(database, instances),
        variants=Variants(database),
        go_lives=GoLives(database, approval_required=settings.require_pathway_approval),
        oidc=_oidc_verifier(settings),
    )


def _service_calls(conn, instance_id: str, calls, now: datetime) -> list[dict]:
    """Stage 1 of the step pipeline: the repeat contacts the run's attaching calls record, then the hand-offs
    its routing calls ask for. Contacts first: a contact the engine refuses stops the step before any
    hand-off is written, and one recorded is never recorded twice when the step is retried."""
    return record_contacts(conn, instance_id, calls, now) + record_routes(conn, instance_id, calls, now)


def _email_channel(settings: Settings) -> EmailChannel | None:
    if not settings.smtp_host:
        return None  # email subscriptions are refused
    return EmailChannel(
        SmtpSettings(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_starttls,
            settings.smtp_username,
            settings.smtp_password,
            settings.smtp_sender,
        )
    )


def _rate_limits(settings: Settings, metrics: Metrics) -> RateLimits:
    return RateLimits(
        per_client=parse_limit(settings.rate_limit, "SIGNPOST_RATE_LIMIT"),
        failed_authentication=parse_limit(settings.rate_limit_failed_auth, "SIGNPOST_RATE_LIMIT_FAILED_AUTH"),
        storage_url=check_storage_url(settings.rate_limit_storage, "SIGNPOST_RATE_LIMIT_STORAGE"),
        namespace=settings.rate_limit_namespace,
        metrics=metrics,
    )


def _oidc_verifier(settings: Settings) -> OidcVerifier | None:
    if not settings.oidc_issuer:
        if settings.oidc_client_id:
            raise ValueError(
                "SIGNPOST_OIDC_CLIENT_ID needs SIGNPOST_OIDC_ISSUER: the issuer it is registered at"
            )
        return None
    return OidcVerifier(
        OidcConfig(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience or "",
            jwks_url=settings.oidc_jwks_url,
            organisation_claim=settings.oidc_organisation_claim,
            roles_claim=settings.oidc_roles_claim,
            service_claim=settings.oidc_service_claim,
            algorithms=settings.oidc_algorithms,
        )
    )
