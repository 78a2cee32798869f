"""The one place that reads the time.

Everything the engine stores is timezone-aware UTC. Tests move this clock (and SpiffWorkflow's own
timer check, which reads the system clock) together with ``time-machine``.
"""

from datetime import UTC, datetime


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)
