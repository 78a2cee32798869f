"""How a referral arrived (its channel): recorded once, when it starts, and counted by the MI reports.

The sender may say how the referral reached it: an operator keying a PDF, a phone call, a fax, an email or a
letter; a portal of its own in front of the API. When it does not, the API records how the request itself
arrived: through Signpost's web application (``web``), from a system speaking BaRS (which sends its
``X-Correlation-ID`` journey header: ``bars``), or from any other system with a bearer token (``api``).
Referrals started before channels were recorded have none: the reports count them as ``unrecorded`` rather
than guess.
"""

from __future__ import annotations

from engine.errors import InvalidInput

CHANNELS = ("api", "bars", "web", "portal", "pdf", "phone", "fax", "email", "letter")
UNRECORDED = "unrecorded"


def checked_channel(channel: str | None) -> str | None:
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"unknown channel '{channel}': one of {', '.join(CHANNELS)}")
    return channel
