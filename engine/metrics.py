"""Operational metrics in Prometheus form, one registry per engine (no process-wide globals).

Each process counts what it did itself: a scrape of one gunicorn or worker process shows that process.
Gauges that describe the shared database (timers due, outbox depth) are read from it at scrape time.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Seconds; timers are meant to fire within a second or two of falling due.
LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)
STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.timers_fired = Counter(
            "signpost_timers_fired", "Instances advanced because a timer fell due", registry=self.registry
        )
        self.timer_lateness = Histogram(
            "signpost_timer_lateness_seconds",
            "How long after its due time a timer fired",
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.step_duration = Histogram(
            "signpost_instance_step_seconds",
            "Time to apply an input to an instance and run it on",
            buckets=STEP_BUCKETS,
            registry=self.registry,
        )
        self.ola_events = Counter(
            "signpost_ola_events", "OLA warnings and breaches raised", ["kind"], registry=self.registry
        )
        self.http_latency = Histogram(
            "signpost_http_request_seconds",
            "HTTP request latency by route",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "signpost_rate_limited_requests",
            "Requests refused with 429 because the caller was over its rate limit",
            ["limit"],
            registry=self.registry,
        )
        self.unaudited_requests = Counter(
            "signpost_unaudited_requests",
            "Requests to audited routes left out of the audit trail: without valid credentials "
            "(reason unauthenticated) or over a rate limit (rate-limited)",
            ["reason"],
            registry=self.registry,
        )
        self.rate_limit_storage_errors = Counter(
            "signpost_rate_limit_storage_errors",
            "Requests admitted uncounted because the rate limit storage failed",
            registry=self.registry,
        )
        self.timers_due = Gauge(
            "signpost_timers_due", "Timers due now and not yet fired", registry=self.registry
        )
        self.outbox_depth = Gauge(
            "signpost_outbox_depth", "Notifications waiting to be delivered", registry=self.registry
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
