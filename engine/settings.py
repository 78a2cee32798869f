"""Configuration, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_PATH = Path("var") / "signpost.db"


@dataclass(frozen=True)
class Settings:
    """Everything the engine and the API need to know about their surroundings.

    ``SIGNPOST_DATABASE_URL``: an SQLAlchemy URL; defaults to an SQLite file at ``var/signpost.db``.
    ``SIGNPOST_ADMIN_TOKEN``: when set, an admin client with this bearer token is ensured at start-up.
    ``SIGNPOST_EXPRESSION_TIME_LIMIT``: seconds a pathway expression or script may run (default 1).
    ``SIGNPOST_MAX_UPLOAD_BYTES``: the largest deployment file accepted (default 2 MiB).
    ``SIGNPOST_TICK_SECONDS``: how often the in-process ticker looks for due timers (default 1).
    ``SIGNPOST_SKIP_PATHWAY_APPROVAL``: let referrals start on versions nobody has clinically approved
    (development and tests only; by default a version needs a clinical-approver's approval first).
    ``SIGNPOST_WEBHOOK_ALLOW_PRIVATE``: allow webhook URLs on loopback/private addresses and plain http
    (development and tests only; refused by default against SSRF).
    ``SIGNPOST_PUBLIC_URL``: the API's address as referrers see it, for links in emails.
    ``SIGNPOST_SMTP_HOST`` / ``_PORT`` / ``_STARTTLS`` / ``_USERNAME`` / ``_PASSWORD`` / ``_FROM``: the mail
    server for email notifications (none: email subscriptions are refused).
    ``SIGNPOST_DELIVERY_LEASE_SECONDS``: how long a worker holds a notification it is sending before another
    worker may send it again (default 60: longer than a webhook's 15 s timeout).
    """

    database_url: str
    admin_token: str | None = None
    expression_time_limit_seconds: float = 1.0
    max_upload_bytes: int = 2 * 1024 * 1024
    tick_seconds: float = 1.0
    require_pathway_approval: bool = True
    webhook_allow_private: bool = False
    public_url: str = "http://127.0.0.1:8000"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "signpost@localhost"
    delivery_lease_seconds: float = 60.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("SIGNPOST_DATABASE_URL") or f"sqlite:///{DEFAULT_DATABASE_PATH}",
            admin_token=env.get("SIGNPOST_ADMIN_TOKEN") or None,
            expression_time_limit_seconds=_positive_float(env, "SIGNPOST_EXPRESSION_TIME_LIMIT", 1.0),
            max_upload_bytes=int(_positive_float(env, "SIGNPOST_MAX_UPLOAD_BYTES", 2 * 1024 * 1024)),
            tick_seconds=_positive_float(env, "SIGNPOST_TICK_SECONDS", 1.0),
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
        )


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
