"""Configuration, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.governance.rate_limits import check_storage_url, parse_limit
from engine.notifications.secrets_at_rest import parse_keys

DEFAULT_DATABASE_PATH = Path("var") / "signpost.db"
DEFAULT_RETENTION_DAYS = 2922


@dataclass(frozen=True)
class Settings:
    """Everything the engine and the API need to know about their surroundings.

    ``SIGNPOST_DATABASE_URL``: an SQLAlchemy URL; defaults to an SQLite file at ``var/signpost.db``.
    ``SIGNPOST_ADMIN_TOKEN``: when set, an admin client with this bearer token is ensured at start-up.
    ``SIGNPOST_EXPRESSION_TIME_LIMIT``: seconds a pathway expression or script may run (default 1).
    ``SIGNPOST_SANDBOX_WORKERS``: how many sandbox processes each server or worker process keeps for running
    pathway code (default 4; started as needed).
    ``SIGNPOST_SANDBOX_MEMORY_MB``: the address space each sandbox process may use (default 512).
    ``SIGNPOST_MAX_UPLOAD_BYTES``: the largest deployment file accepted (default 2 MiB).
    ``SIGNPOST_MAX_INSTANCE_DATA_BYTES``: the most an instance's data may take as stored JSON (default 4 MiB);
    a step leaving more makes the instance an incident.
    ``SIGNPOST_TICK_SECONDS``: how often the in-process ticker looks for due timers (default 1).
    ``SIGNPOST_DATABASE_POOL_SIZE``: connections each process keeps open to PostgreSQL (default 10; as many
    again may be opened for a burst). One per request a process serves at once is enough:
    ``api/gunicorn_conf.py`` sets it to its threads per worker plus one.
    ``SIGNPOST_SKIP_PATHWAY_APPROVAL``: let referrals start on versions nobody has clinically approved
    (development and tests only; by default a version needs a clinical-approver's approval first).
    ``SIGNPOST_WEBHOOK_ALLOW_PRIVATE``: allow webhook URLs on loopback/private addresses and plain http
    (development and tests only; refused by default against SSRF).
    ``SIGNPOST_PUBLIC_URL``: the API's address as referrers see it, for links in emails.
    ``SIGNPOST_SMTP_HOST`` / ``_PORT`` / ``_STARTTLS`` / ``_USERNAME`` / ``_PASSWORD`` / ``_FROM``: the mail
    server for email notifications (none: email subscriptions are refused).
    ``SIGNPOST_PROXY_HOPS``: how many reverse proxies stand in front of Signpost (default 0). With N, the
    caller's address (for the audit trail and the per-address rate limit) is taken from the N-th last entry
    of X-Forwarded-For; with 0 that header is ignored, since any caller could write it.
    ``SIGNPOST_RETENTION_DAYS``: how long a finished referral keeps its personal data before it is redacted
    (default 2922, eight years, the usual retention for adult health records); its audit and OLA facts stay.
    ``SIGNPOST_DELIVERY_LEASE_SECONDS``: how long a worker holds a notification it is sending before another
    worker may send it again (default 60: longer than a webhook's 15 s timeout).
    ``SIGNPOST_OIDC_ISSUER``: accept OpenID Connect / OAuth2 bearer JWTs signed by this issuer (exactly as in
    its tokens' ``iss``; https, or http on loopback only). Unset: only Signpost's own tokens are accepted.
    ``SIGNPOST_OIDC_AUDIENCE``: the ``aud`` those tokens must carry (required with an issuer).
    ``SIGNPOST_OIDC_JWKS_URL``: where the issuer publishes its keys (default: the ``jwks_uri`` of
    ``<issuer>/.well-known/openid-configuration``).
    ``SIGNPOST_OIDC_ORGANISATION_CLAIM`` / ``_ROLES_CLAIM`` / ``_SERVICE_CLAIM``: the claims naming the
    caller's organisation (default ``signpost_organisation``), its roles (``signpost_roles``: a list or a
    space-separated string; roles Signpost does not know are ignored) and an operator's point of access
    (``signpost_service``). A dotted name such as ``realm_access.roles`` reaches into nested claims.
    ``SIGNPOST_OIDC_ALGORITHMS``: the signature algorithms accepted (default ``RS256 ES256``; asymmetric
    ones only).
    ``SIGNPOST_RATE_LIMIT``: requests each API client may make, e.g. ``600/minute`` (the default) or
    ``100 per 10 seconds``, counted over a moving window; ``off`` disables. Over it: 429 with Retry-After.
    ``SIGNPOST_RATE_LIMIT_FAILED_AUTH``: requests with refused credentials each remote address may make
    (default ``60/minute``; ``off`` disables); past it the address is refused before its token is checked.
    Behind a reverse proxy every caller has the proxy's address unless the proxy's forwarding is trusted.
    ``SIGNPOST_RATE_LIMIT_STORAGE``: where the counts are kept: ``memory://`` (the default: each process
    counts for itself, so with N gunicorn workers a client may make up to N times the limit) or
    ``redis://host:port/db`` (shared by every worker and node). If it cannot be reached, requests are
    admitted uncounted and the outage is logged.
    ``SIGNPOST_RATE_LIMIT_NAMESPACE``: the prefix of the counts in shared storage (default ``signpost``):
    deployments sharing one Redis need different ones, since client ids repeat between databases.
    ``SIGNPOST_SECRET_KEYS``: Fernet keys (comma-separated; make one with ``signpost secrets new-key``) that
    encrypt the webhook secrets stored in the database. The first key encrypts, every key decrypts: to
    rotate, put a new key first, run ``signpost secrets rotate``, then drop the old key. Unset: a local
    SQLite database gets a key generated beside it (``<database file>.secret-keys``, mode 0600), and any
    other database refuses to start.
    ``SIGNPOST_AUDIT_KEYS``: the keys that sign the audit trail, ``id:secret`` (comma-separated; make one with
    ``signpost audit new-key``). The first signs new records, every one verifies: to rotate, put a new key
    first and keep the old ones as long as their records are to be verified. Unset: as for
    ``SIGNPOST_SECRET_KEYS`` (``<database file>.audit-keys`` beside a local SQLite database; any other
    database refuses to start).

    Secrets are left out of ``repr``, so that a Settings in a log line or a traceback shows none.
    """

    database_url: str = field(repr=False)  # may hold the database's password
    admin_token: str | None = field(default=None, repr=False)
    expression_time_limit_seconds: float = 1.0
    sandbox_workers: int = 4
    sandbox_memory_bytes: int = 512 * 1024 * 1024
    max_upload_bytes: int = 2 * 1024 * 1024
    max_instance_data_bytes: int = 4 * 1024 * 1024
    tick_seconds: float = 1.0
    database_pool_size: int = 10
    require_pathway_approval: bool = True
    webhook_allow_private: bool = False
    public_url: str = "http://127.0.0.1:8000"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_sender: str = "signpost@localhost"
    delivery_lease_seconds: float = 60.0
    retention_days: int = DEFAULT_RETENTION_DAYS
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_organisation_claim: str = "signpost_organisation"
    oidc_roles_claim: str = "signpost_roles"
    oidc_service_claim: str = "signpost_service"
    oidc_algorithms: tuple[str, ...] = ("RS256", "ES256")
    # Signing in to the web application at the issuer (authorization code with PKCE): Signpost's client there.
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    oidc_scopes: tuple[str, ...] = ("openid", "profile")
    rate_limit: str = "600/minute"
    rate_limit_failed_auth: str = "60/minute"
    # A Redis URL may hold its password.
    rate_limit_storage: str = field(default="memory://", repr=False)
    rate_limit_namespace: str = "signpost"
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    audit_keys: tuple[str, ...] = field(default=(), repr=False)
    proxy_hops: int = 0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("SIGNPOST_DATABASE_URL") or f"sqlite:///{DEFAULT_DATABASE_PATH}",
            admin_token=env.get("SIGNPOST_ADMIN_TOKEN") or None,
            expression_time_limit_seconds=_positive_float(env, "SIGNPOST_EXPRESSION_TIME_LIMIT", 1.0),
            sandbox_workers=int(_positive_float(env, "SIGNPOST_SANDBOX_WORKERS", 4)),
            sandbox_memory_bytes=int(_positive_float(env, "SIGNPOST_SANDBOX_MEMORY_MB", 512)) * 1024 * 1024,
            max_upload_bytes=int(_positive_float(env, "SIGNPOST_MAX_UPLOAD_BYTES", 2 * 1024 * 1024)),
            max_instance_data_bytes=int(
                _positive_float(env, "SIGNPOST_MAX_INSTANCE_DATA_BYTES", 4 * 1024 * 1024)
            ),
            tick_seconds=_positive_float(env, "SIGNPOST_TICK_SECONDS", 1.0),
            database_pool_size=int(_positive_float(env, "SIGNPOST_DATABASE_POOL_SIZE", 10)),
            require_pathway_approval=not _flag(env, "SIGNPOST_SKIP_PATHWAY_APPROVAL"),
            webhook_allow_private=_flag(env, "SIGNPOST_WEBHOOK_ALLOW_PRIVATE"),
            public_url=env.get("SIGNPOST_PUBLIC_URL") or "http://127.0.0.1:8000",
            smtp_host=env.get("SIGNPOST_SMTP_HOST") or None,
            smtp_port=int(_positive_float(env, "SIGNPOST_SMTP_PORT", 25)),
            smtp_starttls=_flag(env, "SIGNPOST_SMTP_STARTTLS"),
            smtp_username=env.get("SIGNPOST_SMTP_USERNAME") or None,
            smtp_password=env.get("SIGNPOST_SMTP_PASSWORD") or None,
            smtp_sender=env.get("SIGNPOST_SMTP_FROM") or "signpost@localhost",
            delivery_lease_seconds=_positive_float(env, "SIGNPOST_DELIVERY_LEASE_SECONDS", 60.0),
            retention_days=int(_positive_float(env, "SIGNPOST_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)),
            oidc_issuer=env.get("SIGNPOST_OIDC_ISSUER") or None,
            oidc_audience=env.get("SIGNPOST_OIDC_AUDIENCE") or None,
            oidc_jwks_url=env.get("SIGNPOST_OIDC_JWKS_URL") or None,
            oidc_organisation_claim=env.get("SIGNPOST_OIDC_ORGANISATION_CLAIM") or "signpost_organisation",
            oidc_roles_claim=env.get("SIGNPOST_OIDC_ROLES_CLAIM") or "signpost_roles",
            oidc_service_claim=env.get("SIGNPOST_OIDC_SERVICE_CLAIM") or "signpost_service",
            oidc_algorithms=tuple(
                (env.get("SIGNPOST_OIDC_ALGORITHMS") or "RS256 ES256").replace(",", " ").split()
            ),
            oidc_client_id=env.get("SIGNPOST_OIDC_CLIENT_ID") or None,
            oidc_client_secret=env.get("SIGNPOST_OIDC_CLIENT_SECRET") or None,
            oidc_scopes=tuple(
                (env.get("SIGNPOST_OIDC_SCOPES") or "openid profile").replace(",", " ").split()
            ),
            rate_limit=_rate_limit(env, "SIGNPOST_RATE_LIMIT", "600/minute"),
            rate_limit_failed_auth=_rate_limit(env, "SIGNPOST_RATE_LIMIT_FAILED_AUTH", "60/minute"),
            rate_limit_storage=check_storage_url(
                env.get("SIGNPOST_RATE_LIMIT_STORAGE") or "memory://", "SIGNPOST_RATE_LIMIT_STORAGE"
            ),
            rate_limit_namespace=env.get("SIGNPOST_RATE_LIMIT_NAMESPACE") or "signpost",
            proxy_hops=_hops(env, "SIGNPOST_PROXY_HOPS"),
            secret_keys=parse_keys(env.get("SIGNPOST_SECRET_KEYS")),
            audit_keys=parse_keys(env.get("SIGNPOST_AUDIT_KEYS")),
        )


def _rate_limit(env, name: str, default: str) -> str:
    """The setting as given, once it has been checked to be a rate or ``off`` (so that a mistake stops the
    process at start-up rather than at its first request)."""
    raw = (env.get(name) or "").strip() or default
    parse_limit(raw, name)
    return raw


def _hops(env, name: str) -> int:
    raw = (env.get(name) or "0").strip()
    if not raw.isdigit() or int(raw) > 10:
        raise ValueError(
            f"{name} must be the number of reverse proxies in front of Signpost (0-10), got {raw!r}"
        )
    return int(raw)


def _flag(env, name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def _positive_float(env, name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value
