"""Two-way OLAs as a service: loading the terms, attending to due clocks, listing and reporting them."""

from __future__ import annotations

import logging
import math
import statistics
from collections import defaultdict
from datetime import datetime, timedelta

from engine import clock
from engine.errors import Conflict, InstanceBusy, InvalidInput, NotFound
from engine.governance.access import scope_of
from engine.governance.clients import Client
from engine.metrics import Metrics
from engine.olas.calendars import CALENDARS, calendar
from engine.olas.obligation_clocks import (
    CalendarBook,
    attend,
    clock_view,
    reschedule_running_on,
    services_named,
)
from engine.olas.terms import Ola, ola_as_dict, parse_olas
from engine.pathways.changes import Change
from engine.pathways.events import ENGINE_ACTOR, instance_event
from engine.pathways.instances import Instances
from engine.store import olas as ola_store
from engine.store import repeat_contacts as repeat_contact_store
from engine.store import services as service_store
from engine.store.db import Database

log = logging.getLogger(__name__)

REPORT_GROUPINGS = ("service", "organisation_pair", "obligation", "party")


class Olas:
    def __init__(self, database: Database, instances: Instances, metrics: Metrics, batch_size: int = 200):
        self._database = database
        self._instances = instances
        self._metrics = metrics
        self._batch_size = batch_size

    def load_terms(self, text: str, filename: str, updated_by: str) -> list[Ola]:
        """Replace the OLA terms with those of a terms file (all or nothing). Clocks already running keep
        the terms they started under."""
        with self._database.write() as conn:
            known = {row["id"] for row in service_store.list_services(conn)}
            olas = parse_olas(text, filename, known)
            now = clock.now()
            ola_store.replace_ola_terms(
                conn,
                [
                    {"name": o.name, "terms": ola_as_dict(o), "updated_at": now, "updated_by": updated_by}
                    for o in olas
                ],
            )
        return olas

    def attend_due(self) -> int:
        """Raise every warning and breach that is due; returns how many clocks were attended to."""
        attended = 0
        # Instances whose clocks failed in this call: not tried again until the next tick.
        failed: set[str] = set()
        while True:
            with self._database.read() as conn:
                due = ola_store.clocks_needing_attention(conn, clock.now(), self._batch_size)
            attended_now = 0
            by_instance: dict[str, list[str]] = defaultdict(list)
            for row in due:
                by_instance[row["instance_id"]].append(row["id"])
            for instance_id, clock_ids in by_instance.items():
                if instance_id in failed:
                    continue
                try:
                    self._instances.advance(
                        instance_id,
                        self._attending(instance_id, clock_ids),
                        actor=ENGINE_ACTOR,
                        finished_too=True,
                        skip_locked=True,
                    )
                except InstanceBusy:
                    continue  # another worker is attending to it
                except Conflict as stopped:
                    # In incident: its clocks wait until it is retried.
                    failed.add(instance_id)
                    log.warning("OLA clocks of instance %s not attended to: %s", instance_id, stopped)
                    continue
                except Exception as error:  # one broken instance must not stop the clocks of the others
                    failed.add(instance_id)
                    log.exception("attending to the OLA clocks of instance %s failed", instance_id)
                    self._instances.record_unexpected_failure(
                        instance_id, "attending to its OLA clocks", error
                    )
                    continue
                attended_now += len(clock_ids)
            attended += attended_now
            if len(due) < self._batch_size or attended_now == 0:
                return attended

    def _attending(self, instance_id: str, clock_ids: list[str]):
        def apply(workflow, conn, now) -> Change:
            events = []
            for clock_id in clock_ids:
                row = ola_store.clock(conn, clock_id)
                # Re-read under the instance lock: another ticker or a transition may have got there first.
                if (
                    row is None
                    or row["state"] != "running"
                    or row["next_check_at"] is None
                    or row["next_check_at"] > now
                ):
                    continue
                for happened in attend(conn, row, now):
                    self._metrics.ola_events.labels(kind=happened["kind"]).inc()
                    payload = _ola_payload(happened)
                    # At the moment the warning or breach fell due, which may be before this tick.
                    events.append(
                        instance_event(happened["kind"], ENGINE_ACTOR, happened["at"], detail=payload)
                    )
                    if workflow is not None:
                        self._instances.deliver_if_waiting(
                            workflow, happened["kind"].replace("_", "."), payload
                        )
            return Change(events=events)

        return apply

    def at_risk(
        self,
        client: Client,
        *,
        states: list[str],
        due_before: datetime | None,
        limit: int,
        open_only: bool = False,
    ) -> list[dict]:
        """Clocks for a duty manager's worklist, soonest due first; a service client sees only its own. With
        ``open_only``, only the obligations still owed (not those met, late or not, or cancelled)."""
        with self._database.read() as conn:
            # A service sees the clocks of hand-offs to its organisation; an operator those of the referrals
            # its point of access works on.
            to_services = (
                [s["id"] for s in service_store.list_services(conn, organisation=client.organisation)]
                if "service" in client.roles
                else None
            )
            scope = scope_of(client) if "operator" in client.roles else None
            if to_services is None and scope is None:
                return []
            rows = ola_store.clocks_at_risk(
                conn,
                states=states,
                due_before=due_before,
                to_services=to_services,
                scope=scope,
                limit=limit,
                open_only=open_only,
            )
            names = service_store.service_names(conn, services_named(rows))
            book, now = CalendarBook(conn), clock.now()
            return [
                {
                    **clock_view(book, r, names, now),
                    "referral_id": r["referral_id"],
                    "reference": r["reference"],
                }
                for r in rows
            ]

    def calendars(self) -> list[dict]:
        """The shipped calendars with their opening hours and the closures admins have added."""
        with self._database.read() as conn:
            return [
                {
                    **describe_calendar(cal),
                    "closures": [closure_view(c) for c in ola_store.closures_of_calendar(conn, name)],
                }
                for name, cal in CALENDARS.items()
            ]

    def add_closure(
        self, name: str, starts_at: datetime, ends_at: datetime, reason: str, client: Client
    ) -> dict:
        """Close a calendar for a period (e.g. a local holiday): no business time passes inside it. Running
        clocks on that calendar get their due times recomputed in the same transaction."""
        calendar(name)  # refuses an unknown calendar with InvalidInput
        if starts_at.tzinfo is None or ends_at.tzinfo is None or ends_at <= starts_at:
            raise InvalidInput("a closure needs 'starts_at' before 'ends_at', both with a UTC offset")
        if not reason.strip():
            raise InvalidInput("say why the calendar is closed ('reason')")
        with self._database.write() as conn:
            closure_id = ola_store.insert_closure(
                conn,
                calendar=name,
                starts_at=starts_at,
                ends_at=ends_at,
                reason=reason,
                created_by=client.actor,
                created_at=clock.now(),
            )
            reschedule_running_on(conn, name)
            return closure_view(ola_store.closure(conn, closure_id))

    def remove_closure(self, name: str, closure_id: int) -> None:
        with self._database.write() as conn:
            if not ola_store.delete_closure(conn, name, closure_id):
                raise NotFound(f"calendar '{name}' has no closure {closure_id}")
            reschedule_running_on(conn, name)

    def report(
        self, start: datetime, end: datetime, organisation: str | None = None
    ) -> dict[str, list[dict]]:
        """Compliance over [start, end) per service, organisation pair, obligation and party; with
        ``organisation``, of the hand-offs it sent or received only (what its duty manager answers for).
        ``failure_demand`` counts the repeat contacts recorded in the period per organisation pair holding the
        referral they were about (engine/referrals/repeat_contacts.py): the chase calls the pair's hand-off
        left a caller to make."""
        check_period(start, end)
        with self._database.read() as conn:
            rows = ola_store.clocks_stopped_between(conn, start, end, organisation)
            demand = repeat_contact_store.failure_demand_between(conn, start, end, organisation)
        keys = {
            "service": lambda r: (r["to_service"],),
            "organisation_pair": lambda r: (r["from_organisation"] or "referrer", r["to_organisation"]),
            "obligation": lambda r: (r["ola"], r["obligation"]),
            "party": lambda r: (r["party"],),
        }
        report = {grouping: _compliance(rows, key) for grouping, key in keys.items()}
        report["failure_demand"] = _failure_demand(demand)
        return report


def _failure_demand(rows) -> list[dict]:
    counted = [
        {
            "group": [r["from_organisation"] or "referrer", r["to_organisation"]],
            "repeat_contacts": r["contacts"],
        }
        for r in rows
    ]
    return sorted(counted, key=lambda row: row["group"])


def _compliance(rows, key) -> list[dict]:
    groups: dict[tuple, list] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    result = []
    for group_key, members in sorted(groups.items(), key=lambda item: tuple(str(k) for k in item[0])):
        met = [m for m in members if m["state"] == "met"]
        times = sorted(m["business_seconds_to_stop"] for m in met)
        result.append(
            {
                "group": list(group_key),
                "met": len(met),
                "breached": len(members) - len(met),
                "percent_met": round(100 * len(met) / len(members), 1),
                "median_seconds_to_meet": round(statistics.median(times)) if times else None,
                "p90_seconds_to_meet": round(percentile(times, 0.9)) if times else None,
            }
        )
    return result


def check_period(start: datetime, end: datetime, longest: timedelta | None = None) -> None:
    """Refuse a report period [start, end) that ends before it starts or, given ``longest``, lasts longer."""
    if end <= start:
        raise InvalidInput("the report's 'to' must be after its 'from'")
    if longest is not None and end - start > longest:
        raise InvalidInput(f"a report covers at most {longest.days} days: ask for a shorter period")


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``fraction`` of the values at or below it."""
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def describe_calendar(cal) -> dict:
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return {
        "name": cal.name,
        "time_zone": cal.time_zone,
        "closed_on_bank_holidays": cal.closed_on_bank_holidays,
        "opening": {
            days[d]: [[_hhmm(o), _hhmm(c, end=True)] for o, c in cal.opening.get(d, [])] for d in range(7)
        },
    }


def _hhmm(moment, *, end: bool = False) -> str:
    # An interval ending at 00:00 runs to midnight: say so.
    return "24:00" if end and moment.hour == moment.minute == 0 else moment.isoformat("minutes")


def closure_view(row) -> dict:
    return {
        "id": row["id"],
        "calendar": row["calendar"],
        "starts_at": row["starts_at"].isoformat(),
        "ends_at": row["ends_at"].isoformat(),
        "reason": row["reason"],
        "created_by": row["created_by"],
    }


def _ola_payload(happened: dict) -> dict:
    row = happened["clock"]
    return {
        "ola": row["ola"],
        "obligation": row["obligation"],
        "party": row["party"],
        "handoff_id": row["handoff_id"],
        "service": row["to_service"],
        "threshold": happened["threshold"],
        "due_at": row["due_at"].isoformat() if row["due_at"] else None,
        "at": happened["at"].isoformat(),
    }
