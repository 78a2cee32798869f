"""The referrals a client may see, newest first, a page at a time: a referrer's organisation's, an
operator's point of access's (``engine.governance.access.scope_of``); and an operator's worklist, its open
tasks soonest due first.

Pages are cut by keyset, not offset: a cursor names the last referral of a page (its ``created_at`` and
id) and the next page starts just after it, so a page deep in the list costs what the first one does and a
referral started meanwhile neither repeats nor hides one.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from engine.clock import now as clock_now
from engine.errors import InvalidInput
from engine.governance.access import scope_of, visible_referral
from engine.governance.clients import Client
from engine.referrals.views import referral_view, task_view
from engine.store import instances as instance_store
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


def task_page(
    conn,
    viewer: Client,
    scope,
    limit: int,
    after: str | None,
    *,
    referral_id: str | None = None,
    status: str | list[str] | None = None,
    at_risk: bool = False,
    **filters,
) -> tuple[list[dict], str | None]:
    """Up to ``limit`` tasks of the referrals ``scope`` works on, soonest due first, from the cursor
    ``after``; open ones unless ``status`` says otherwise; with the cursor of the next page."""
    instance_ids = None
    if referral_id is not None:
        instance_ids = [visible_referral(conn, referral_id, viewer, operating=True)["instance_id"]]
    position = _task_position(after) if after is not None else None
    now = clock_now()
    rows = instance_store.list_user_tasks(
        conn,
        instance_ids=instance_ids,
        status=instance_store.OPEN_TASKS if status in (None, "open") else status,
        scope=scope,
        limit=limit + 1,
        at_risk_at=now if at_risk else None,
        after=position,
        **filters,
    )
    tasks = [task_view(row, now) for row in rows[:limit]]
    if len(rows) <= limit:
        return tasks, None
    last = rows[limit - 1]
    return tasks, _encode(last["due_order"].isoformat(), last["created_at"].isoformat(), last["id"])


def _cursor(created_at: datetime, referral_id: str) -> str:
    return _encode(created_at.isoformat(), referral_id)


def _position(cursor: str) -> tuple[datetime, str]:
    created_at, referral_id = _decode(cursor, 2, "referrals")
    return _instant(created_at, "referrals"), referral_id


def _task_position(cursor: str) -> tuple[datetime, datetime, str]:
    due_order, created_at, task_id = _decode(cursor, 3, "tasks")
    return _instant(due_order, "tasks"), _instant(created_at, "tasks"), task_id


def _encode(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def _decode(cursor: str, count: int, what: str) -> list[str]:
    try:
        parts = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _refused(what) from None
    if len(parts) != count or not parts[-1]:
        raise _refused(what)
    return parts


def _instant(text: str, what: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise _refused(what) from None
    if instant.utcoffset() is None:
        raise _refused(what)
    return instant


def _refused(what: str) -> InvalidInput:
    return InvalidInput(f"'after' must be the cursor of a page of {what}, as the previous page gave it")
