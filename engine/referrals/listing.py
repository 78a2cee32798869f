"""The referrals a client may see, newest first, a page at a time: a referrer's organisation's, an
operator's point of access's (``engine.governance.access.scope_of``).

Pages are cut by keyset, not offset: a cursor names the last referral of a page (its ``created_at`` and
id) and the next page starts just after it, so a page deep in the list costs what the first one does and a
referral started meanwhile neither repeats nor hides one.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from engine.errors import InvalidInput
from engine.governance.access import scope_of
from engine.governance.clients import Client
from engine.referrals.views import referral_view
from engine.store import referrals as referral_store


def referral_page(conn, viewer: Client, limit: int, after: str | None) -> tuple[list[dict], str | None]:
    """Up to ``limit`` referrals from the cursor ``after`` an earlier page gave, and the cursor of the next
    page (None on the last)."""
    position = _position(after) if after is not None else None
    rows = referral_store.visible_referrals_page(conn, scope_of(viewer), limit + 1, position)
    views = [
        referral_view(conn, referral_store.referral_overview(conn, referral_id=referral_id))
        for referral_id, _ in rows[:limit]
    ]
    if len(rows) <= limit:
        return views, None
    last_id, last_created_at = rows[limit - 1]
    return views, _cursor(last_created_at, last_id)


def _cursor(created_at: datetime, referral_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{referral_id}".encode()).decode().rstrip("=")


def _position(cursor: str) -> tuple[datetime, str]:
    refused = InvalidInput("'after' must be the cursor of a page of referrals, as the previous page gave it")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, _, referral_id = text.partition("|")
        position = datetime.fromisoformat(created_at), referral_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise refused from None
    if position[0].utcoffset() is None or not referral_id:
        raise refused
    return position
