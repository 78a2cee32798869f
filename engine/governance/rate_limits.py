"""How many requests each API client may make, and how many failed authentications an address may make.

Every authenticated request counts against its client's allowance (``SIGNPOST_RATE_LIMIT``). A request whose
credentials are refused counts against the remote address instead (``SIGNPOST_RATE_LIMIT_FAILED_AUTH``);
an address that has used that allowance is refused before its credentials are even looked at, so that
guessing tokens is slowed down and a right guess cannot be told from a wrong one while it is refused.

Counts use a moving window: a request is admitted when fewer than the limit's amount were admitted in the
window's length before it, so there is no burst of twice the limit at a window's edge. They are kept by the
``limits`` library, in this process's memory (``memory://``: each gunicorn worker counts for itself) or in
Redis (``redis://host:port/db``: every worker and node shares one count). ``limits`` reads the system clock
itself, in seconds since the epoch, which ``time-machine`` moves in tests.

If the storage cannot be reached, requests are admitted: a referral must not be lost because the counter is
down. The outage is logged once when it starts and once when it ends, and each failed count is a metric.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from engine import clock
from engine.errors import RateLimited
from engine.metrics import Metrics

log = logging.getLogger(__name__)

OFF = "off"
STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix")
# Seconds: a Redis that does not answer must not hold every request up for long.
REDIS_TIMEOUT_SECONDS = 1.0


def parse_limit(text: str, name: str) -> RateLimitItem | None:
    """A limit such as ``600/minute`` or ``100 per 10 seconds``; None for ``off``. Raises ValueError with a
    message naming the setting when the text is not one limit of at least one request."""
    if text.strip().lower() == OFF:
        return None
    try:
        limits = parse_many(text)
    except ValueError:
        limits = []
    if len(limits) != 1:
        raise ValueError(
            f"{name} must be one rate such as '600/minute' or '100 per 10 seconds', or 'off'; got {text!r}"
        )
    limit = limits[0]
    if limit.amount < 1:
        raise ValueError(f"{name} must allow at least one request (or be 'off'); got {text!r}")
    return limit


def check_storage_url(url: str, name: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in STORAGE_SCHEMES:
        raise ValueError(
            f"{name} must be memory:// or a Redis URL (redis://host:port/db, rediss://…, redis+unix://…); "
            f"got {url!r}"
        )
    return url


@dataclass(frozen=True)
class Allowance:
    """Where a caller stands against one limit after this request."""

    admitted: bool
    limit: int  # requests allowed per window
    remaining: int  # requests still allowed in the window
    reset_seconds: int  # whole seconds until the window has room again (past the instant, never early)
    described: str  # the limit in words, e.g. "600 per 1 minute"

    def refusal(self, too_many: str) -> RateLimited:
        """The error refusing this request; ``too_many`` says what there were too many of, from whom."""
        return RateLimited(
            f"{too_many} (the limit is {self.described}); retry after {self.reset_seconds} s",
            retry_after_seconds=self.reset_seconds,
        )


class RateLimits:
    def __init__(
        self,
        *,
        per_client: RateLimitItem | None,
        failed_authentication: RateLimitItem | None,
        storage_url: str,
        namespace: str,
        metrics: Metrics,
    ):
        self._per_client = per_client
        self._failed_authentication = failed_authentication
        self._namespace = namespace
        self._metrics = metrics
        self._storage_failing = False
        if per_client is None and failed_authentication is None:
            self._limiter = None
            return
        options = {}
        if urlsplit(storage_url).scheme != "memory":
            options = {
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            }
        storage = storage_from_string(storage_url, wrap_exceptions=True, **options)
        self._limiter = MovingWindowRateLimiter(storage)

    def count_request(self, client_id: int) -> Allowance | None:
        """Count a request by an authenticated client; None when clients are not limited (or the count
        could not be made)."""
        allowance = self._hit(self._per_client, "client", str(client_id))
        if allowance is not None and not allowance.admitted:
            self._metrics.rate_limited.labels("client").inc()
        return allowance

    def address_refusal(self, address: str) -> Allowance | None:
        """Where ``address`` stands if it has failed to authenticate too often to try again now; None while
        it may try. Counts nothing."""
        limit = self._failed_authentication
        if limit is None or self._limiter is None:
            return None
        identifiers = (self._namespace, "failed-authentication", address)
        try:
            if self._limiter.test(limit, *identifiers):
                refusal = None
            else:
                refusal = self._allowance(limit, identifiers, admitted=False)
        except StorageError as error:
            self._storage_failed(error)
            return None
        self._storage_works()
        if refusal is not None:
            self._metrics.rate_limited.labels("failed-authentication").inc()
        return refusal

    def count_failed_authentication(self, address: str) -> Allowance | None:
        """Count a request from ``address`` whose credentials were refused."""
        return self._hit(self._failed_authentication, "failed-authentication", address)

    def _hit(self, limit: RateLimitItem | None, kind: str, who: str) -> Allowance | None:
        if limit is None or self._limiter is None:
            return None
        identifiers = (self._namespace, kind, who)
        try:
            admitted = self._limiter.hit(limit, *identifiers)
            allowance = self._allowance(limit, identifiers, admitted)
        except StorageError as error:
            self._storage_failed(error)
            return None
        self._storage_works()
        return allowance

    def _allowance(self, limit: RateLimitItem, identifiers: tuple[str, ...], admitted: bool) -> Allowance:
        stats = self._limiter.get_window_stats(limit, *identifiers)
        # The window has room again once the oldest counted request is more than the window's length old:
        # strictly after reset_time, so round down and add a second rather than round up.
        seconds_left = max(stats.reset_time - clock.now().timestamp(), 0.0)
        return Allowance(
            admitted=admitted,
            limit=limit.amount,
            # At the window's very edge the library may refuse a request yet count one fewer in the window.
            remaining=max(stats.remaining, 0) if admitted else 0,
            reset_seconds=math.floor(seconds_left) + 1,
            described=repr(limit),
        )

    def _storage_failed(self, error: StorageError) -> None:
        self._metrics.rate_limit_storage_errors.inc()
        if not self._storage_failing:
            self._storage_failing = True
            log.warning("rate limit storage failed, admitting requests uncounted: %s", error.storage_error)

    def _storage_works(self) -> None:
        if self._storage_failing:
            self._storage_failing = False
            log.warning("rate limit storage works again: counting requests")
