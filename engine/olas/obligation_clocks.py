"""OLA clocks: one per obligation per hand-off, driven by the hand-off's events, on a business calendar.

    (start event) → running ⇄ paused (pause / resume events) → met (stop event before the due time)
                       └─ due time passes while running → breached (stays breached; a later stop
                          event still records when the obligation was finally met)
    the hand-off closes without a stop event → cancelled

The due time is recomputed on every resume. Each running clock keeps ``next_check_at``, the next instant it
needs attention (a warning threshold or its breach), so the ticker finds due work through one index instead
of scanning open referrals. Warnings and breaches are stamped with the instant they truly happened, so a
breach that fell due while the server was down is recorded with its real time when the server comes back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from engine import clock as wall_clock
from engine.olas.calendars import Calendar, calendar
from engine.olas.terms import Ola, ola_from_stored
from engine.store import olas as ola_store
from engine.store import services as service_store

OPEN_STATES = ("running", "paused", "breached")
CLOSED_HANDOFF_STATUSES = ("rejected", "completed", "cancelled", "failed")


class CalendarBook:
    """The calendars clocks run on, with the closures admins have added, read once per transaction."""

    def __init__(self, conn):
        self._conn = conn
        self._calendars: dict[str, Calendar] = {}

    def get(self, name: str) -> Calendar:
        if name not in self._calendars:
            closures = [
                (c["starts_at"], c["ends_at"]) for c in ola_store.closures_of_calendar(self._conn, name)
            ]
            self._calendars[name] = calendar(name, closures)
        return self._calendars[name]


def on_handoff_event(conn, handoff, event: str, at: datetime, *, new: bool = False) -> None:
    """Start, pause, resume and stop the clocks of ``handoff`` for ``event`` (inside its transaction).

    ``handoff`` is the hand-off as it is after the event; ``new``: it was made in this transaction, so it
    has no clocks yet."""
    olas = [o for o in _terms(conn) if o.applies_to(handoff)]
    closing = handoff["status"] in CLOSED_HANDOFF_STATUSES
    if not olas and not closing:
        return  # no terms apply now, and the clocks it has (under earlier terms) run on untouched
    book = CalendarBook(conn)
    # Kept as they are written below, so that closing them needs no second read.
    clocks = [] if new else [dict(c) for c in ola_store.clocks_of_handoff(conn, handoff["id"])]
    started = []
    for ola in olas:
        for obligation in ola.obligations:
            mine = [c for c in clocks if c["ola"] == ola.name and c["obligation"] == obligation.name]
            live = next((c for c in mine if c["state"] in OPEN_STATES and c["stopped_at"] is None), None)
            if live is not None:
                live.update(_apply_event(conn, book, live, obligation, event, at))
            elif event in obligation.start:
                started.append(_start(conn, book, handoff, ola, obligation, at))
    if closing:
        # Clocks the closing event did not stop can never be met now.
        for live in clocks + started:
            if live["state"] in ("running", "paused"):
                ola_store.update_clock(conn, live["id"], _stopped(book, live, "cancelled", at))
            elif live["state"] == "breached" and live["stopped_at"] is None:
                ola_store.update_clock(conn, live["id"], _closed(book, live, "breached", at))


def _start(conn, book: CalendarBook, handoff, ola: Ola, obligation, at: datetime) -> dict:
    """Start a clock; returns its row as written."""
    services = service_store.services_by_id(
        conn, [s for s in (handoff["to_service"], handoff["from_service"]) if s]
    )
    to_service = services[handoff["to_service"]]
    from_service = services.get(handoff["from_service"])
    # The receiver's clocks run on the calendar the pathway agreed for the hand-off, if it named one.
    calendar_name = obligation.calendar or (
        from_service["calendar"]
        if obligation.party == "sender" and from_service
        else handoff.get("calendar") or to_service["calendar"]
    )
    row = {
        "id": str(uuid.uuid4()),
        "handoff_id": handoff["id"],
        "instance_id": handoff["instance_id"],
        "ola": ola.name,
        "obligation": obligation.name,
        "party": obligation.party,
        "from_service": handoff["from_service"],
        "to_service": handoff["to_service"],
        "from_organisation": from_service["organisation"] if from_service else None,
        "to_organisation": to_service["organisation"],
        "referral_type": handoff["referral_type"],
        "calendar": calendar_name,
        "target_seconds": obligation.target_seconds,
        "warn_at": list(obligation.warn_at),
        "rules": {
            "stop": list(obligation.stop),
            "pause": list(obligation.pause),
            "resume": list(obligation.resume),
        },
        "state": "running",
        "started_at": at,
        "running_since": at,
        "accumulated_seconds": 0.0,
        "warnings_sent": 0,
        "updated_at": at,
    }
    row.update(_schedule(book, row))
    ola_store.insert_clock(conn, row)
    return {"stopped_at": None, "breached_at": None, "business_seconds_to_stop": None, **row}


def _apply_event(conn, book: CalendarBook, live, obligation, event: str, at: datetime) -> dict:
    """Stop, pause or resume a clock for ``event``; returns the columns written (none if it ignores it)."""
    if event in obligation.stop:
        changes = _stopped(book, live, "breached" if live["state"] == "breached" else "met", at)
    elif event in obligation.pause and live["running_since"] is not None:
        accumulated = live["accumulated_seconds"] + _elapsed(book, live, live["running_since"], at)
        # Paused after its due time, before the ticker got to it: breached at its due time, like a late stop
        # (and a later resume has no time left to schedule).
        late = _past_due(live, at)
        state = "breached" if live["state"] == "breached" or late else "paused"
        changes = {
            "state": state,
            "accumulated_seconds": accumulated,
            "running_since": None,
            "due_at": None if state == "paused" else live["due_at"],
            "next_check_at": None,
            "updated_at": at,
        }
        if late:
            changes["breached_at"] = live["due_at"]
    elif event in obligation.resume and live["running_since"] is None:
        resumed = {
            **live,
            "running_since": at,
            "state": "running" if live["state"] == "paused" else live["state"],
        }
        changes = {
            "state": resumed["state"],
            "running_since": at,
            "updated_at": at,
            **_schedule(book, resumed),
        }
    else:
        return {}
    ola_store.update_clock(conn, live["id"], changes)
    return changes


def _stopped(book: CalendarBook, live, in_time: str, at: datetime) -> dict:
    """Stop a clock at ``at`` in the state ``in_time`` (met, cancelled) — unless its due time has passed
    before the ticker got to it (while the workers were down, or in the same tick as the event that stops
    it): then it was breached, at its due time, whatever stopped it since."""
    late = _past_due(live, at)
    changes = _closed(book, live, "breached" if late else in_time, at)
    if late:
        changes["breached_at"] = live["due_at"]
    return changes


def _past_due(live, at: datetime) -> bool:
    """Whether a clock the ticker still has as running was due before ``at``."""
    return live["state"] == "running" and live["due_at"] is not None and at > live["due_at"]


def _closed(book: CalendarBook, live, state: str, at: datetime) -> dict:
    accumulated = live["accumulated_seconds"]
    if live["running_since"] is not None:
        accumulated += _elapsed(book, live, live["running_since"], at)
    return {
        "state": state,
        "stopped_at": at,
        "running_since": None,
        "accumulated_seconds": accumulated,
        "business_seconds_to_stop": accumulated,
        "next_check_at": None,
        "updated_at": at,
    }


def _schedule(book: CalendarBook, clock) -> dict:
    """Due time and next check of a clock that runs from ``running_since`` with what it has accumulated."""
    if clock["state"] == "breached":
        return {"next_check_at": None}
    remaining = clock["target_seconds"] - clock["accumulated_seconds"]
    due_at = _add(book, clock, clock["running_since"], remaining)
    return {"due_at": due_at, "next_check_at": min(due_at, _next_warning_at(book, clock) or due_at)}


def _next_warning_at(book: CalendarBook, clock) -> datetime | None:
    thresholds = clock["warn_at"]
    if clock["warnings_sent"] >= len(thresholds) or clock["running_since"] is None:
        return None
    to_threshold = thresholds[clock["warnings_sent"]] * clock["target_seconds"] - clock["accumulated_seconds"]
    return _add(book, clock, clock["running_since"], max(0.0, to_threshold))


def _add(book: CalendarBook, clock, start: datetime, seconds: float) -> datetime:
    return book.get(clock["calendar"]).add(start, timedelta(seconds=seconds))


def _elapsed(book: CalendarBook, clock, start: datetime, end: datetime) -> float:
    return book.get(clock["calendar"]).elapsed(start, end).total_seconds()


def business_seconds_so_far(book: CalendarBook, clock, now: datetime) -> float:
    running = (
        _elapsed(book, clock, clock["running_since"], now) if clock["running_since"] is not None else 0.0
    )
    return clock["accumulated_seconds"] + running


def attend(conn, clock_row, now: datetime) -> list[dict]:
    """Raise the warnings and the breach that are due on a running clock; returns what happened, each with
    the instant it truly happened (a clock attended late still reports its real breach time)."""
    happened = []
    book = CalendarBook(conn)
    current = dict(clock_row)
    while (
        (warning_at := _next_warning_at(book, current)) is not None
        and warning_at <= now
        and (current["due_at"] is None or warning_at <= current["due_at"])
    ):
        threshold = current["warn_at"][current["warnings_sent"]]
        happened.append({"kind": "ola_warning", "at": warning_at, "threshold": threshold, "clock": current})
        current["warnings_sent"] += 1
    changes = {"warnings_sent": current["warnings_sent"], "updated_at": now}
    if current["due_at"] is not None and current["due_at"] <= now:
        happened.append({"kind": "ola_breached", "at": current["due_at"], "threshold": 1.0, "clock": current})
        changes.update(state="breached", breached_at=current["due_at"], next_check_at=None)
    else:
        changes["next_check_at"] = min(
            current["due_at"], _next_warning_at(book, current) or current["due_at"]
        )
    ola_store.update_clock(conn, current["id"], changes)
    return happened


def reschedule_running_on(conn, calendar_name: str) -> None:
    """Recompute due times and checks of the running clocks on a calendar whose closures changed."""
    book = CalendarBook(conn)
    for row in ola_store.running_clocks_on(conn, calendar_name):
        ola_store.update_clock(conn, row["id"], _schedule(book, row))


def _terms(conn) -> list[Ola]:
    return [ola_from_stored(row["terms"]) for row in ola_store.ola_terms_rows(conn)]


def clock_view(book: CalendarBook, row, names: dict[str, str], now: datetime | None = None) -> dict:
    now = now or wall_clock.now()
    so_far = (
        business_seconds_so_far(book, row, now)
        if row["stopped_at"] is None
        else row["business_seconds_to_stop"]
    )
    owed_by = (
        names.get(row["to_service"], row["to_service"])
        if row["party"] == "receiver"
        else (names.get(row["from_service"], "the referrer") if row["from_service"] else "the referrer")
    )
    return {
        "id": row["id"],
        "handoff_id": row["handoff_id"],
        "ola": row["ola"],
        "obligation": row["obligation"],
        "party": row["party"],
        "owed_by": owed_by,
        "state": row["state"],
        "calendar": row["calendar"],
        "target_seconds": row["target_seconds"],
        "business_seconds_used": round(so_far),
        "business_seconds_remaining": max(0, round(row["target_seconds"] - so_far)),
        "due_at": row["due_at"].isoformat() if row["due_at"] else None,
        "started_at": row["started_at"].isoformat() if row["started_at"] else None,
        "stopped_at": row["stopped_at"].isoformat() if row["stopped_at"] else None,
        "breached_at": row["breached_at"].isoformat() if row["breached_at"] else None,
    }


def services_named(rows: Iterable) -> set[str]:
    return {r["to_service"] for r in rows} | {r["from_service"] for r in rows if r["from_service"]}
