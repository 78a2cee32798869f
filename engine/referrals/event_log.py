"""The referrals' event log as XES (IEEE 1849-2016), the format process-mining tools read (ProM, Disco,
Celonis, pm4py, bupaR, Apromore), so that an analyst can rediscover the pathways as they are really run.

XES rather than OCEL 2.0: far more tools read it, and it streams, one trace after another, where OCEL's
objects and events are two lists that a reader takes whole. What OCEL would add — the hand-offs between
organisations as objects of their own — is kept as event attributes: each hand-off event names its
hand-off (``handoff``) and the service it went to (``service``), and ``org:resource`` / ``org:group`` say
which service and organisation acted, so a tool can still draw the hand-overs of work between them.

One trace per referral, its ``concept:name`` the referral id. Its events, in the order they happened (ties
in the order they were recorded), are the pathway's steps (gateways left out: tools rediscover them), the
operators' and systems' task completions, every hand-off transition, OLA warnings and breaches, incidents,
retries and cancellation; all with ``lifecycle:transition`` "complete".

Personal data stays out: no NHS number, no referrer, no reference, no form data, reasons, questions,
answers or outcomes in words (any of which may be clinical) and no person: an actor is exported as its
service or organisation, never as the client or person who acted. The attributes are ids, statuses,
the pathway's own element names and the names of OLA obligations.

The log is read a page of referrals at a time, each page in its own short read transaction, and written as
it is read: no more than a page is held at once, and no transaction stays open while the client reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from xml.sax.saxutils import quoteattr

from engine.olas.terms import EVENTS as HANDOFF_EVENTS
from engine.pathways.events import ENGINE_ACTOR
from engine.routing.transitions import CANCEL
from engine.store import referral_reports as report_store
from engine.store.db import Database
from engine.store.referral_reports import Cohort

PAGE = 500
SIGNPOST = "signpost"
STEPS = ("step_completed", "task_completed", "external_task_completed")
HANDOFF_PREFIX = "handoff_"
NAMED = {"incident": "Incident", "retried": "Retried", "cancelled": "Referral cancelled"}
OLA_EVENTS = {"ola_warning": "OLA warning", "ola_breached": "OLA breached"}
EXPORTED_KINDS = (
    *STEPS,
    *NAMED,
    *OLA_EVENTS,
    # Every hand-off event an OLA clock can hear, and a hand-off closed by its point of access.
    *(HANDOFF_PREFIX + event for event in (*HANDOFF_EVENTS, "closed")),
)
# Hand-off transitions that log no event of their own (the referral's cancellation is the event), by action.
UNEVENTED = {CANCEL.action: HANDOFF_PREFIX + "cancelled"}
# The detail of an event that may be exported (its key -> the attribute's): ids and names, never words a
# person wrote. ``service`` is the service a hand-off is with (for a transfer, the one it left).
EXPORTED_DETAIL = {
    "element_id": "element",
    "handoff_id": "handoff",
    "obligation": "obligation",
    "party": "party",
}
XES_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1849-2016" xes.features="" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
  <extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
  <global scope="trace">
    <string key="concept:name" value="__INVALID__"/>
  </global>
  <global scope="event">
    <string key="concept:name" value="__INVALID__"/>
    <date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>
    <string key="lifecycle:transition" value="complete"/>
  </global>
  <classifier name="Activity" keys="concept:name"/>
  <classifier name="Activity and resource" keys="concept:name org:resource"/>
"""


class EventLog:
    """The event log of a report's referrals (``Cohort``), read when it is written."""

    def __init__(self, database: Database, cohort: Cohort):
        self._database = database
        self._cohort = cohort

    def case_ids(self) -> Iterator[str]:
        """The referrals in the log (its traces' names), for the audit record of the export."""
        for page in self._pages(with_events=False):
            for case, _events, _actors in page:
                yield case["id"]

    def xes(self) -> Iterator[str]:
        """The log as XES text, a trace at a time."""
        yield XES_HEAD
        cohort = self._cohort
        period = f"{cohort.start.isoformat()}/{cohort.end.isoformat()}"
        yield f"  {_attribute('string', 'concept:name', f'Signpost referrals {period}')}\n"
        for page in self._pages(with_events=True):
            yield "".join(_trace(case, events, actors) for case, events, actors in page)
        yield "</log>\n"

    def _pages(self, *, with_events: bool) -> Iterator[list[tuple]]:
        after = None
        while True:
            with self._database.read() as conn:
                cases = report_store.cohort_page(conn, self._cohort, PAGE, after)
                if not cases:
                    return
                by_instance: dict[str, list] = defaultdict(list)
                actors = {}
                if with_events:
                    instance_ids = [c["instance_id"] for c in cases]
                    events = report_store.events_of_instances(conn, instance_ids, EXPORTED_KINDS)
                    for event in events:
                        by_instance[event["instance_id"]].append(event)
                    unevented = report_store.transitions_of_instances(conn, instance_ids, UNEVENTED)
                    for transition in unevented:
                        _merge(by_instance[transition["instance_id"]], transition)
                    clients = {_client_id(e["actor"]) for e in [*events, *unevented]} - {None}
                    actors = report_store.organisations_of_clients(conn, clients)
            yield [(case, by_instance[case["instance_id"]], actors) for case in cases]
            last = cases[-1]
            after = (last["created_at"], last["id"])


def _merge(events: list, transition) -> None:
    """Add a hand-off transition that has no event of its own (a hand-off cancelled with its referral) to its
    referral's events, before the first one at or after its time: the change that made it logged its own
    event (the referral cancelled) after it."""
    event = {
        "kind": UNEVENTED[transition["action"]],
        "at": transition["at"],
        "actor": transition["actor"],
        "task_name": None,
        "detail": {"handoff_id": transition["handoff_id"], "service": transition["to_service"]},
    }
    later = next((i for i, e in enumerate(events) if e["at"] >= transition["at"]), len(events))
    events.insert(later, event)


def _trace(case, events, actors) -> str:
    attributes = [
        ("string", "concept:name", case["id"]),
        ("string", "pathway", case["pathway_key"]),
        ("int", "pathway_version", case["version_number"]),
        ("string", "point_of_access", case["point_of_access"]),
        ("string", "operated_by", case["operated_by"]),
        ("string", "referrer_organisation", case["referrer_organisation"]),
        ("string", "channel", case["channel"]),
        ("string", "status", case["status"]),
        ("date", "received", case["created_at"]),
    ]
    lines = ["  <trace>\n", *_attributes(attributes, "    ")]
    for event in events:
        name = _activity(event)
        if name is not None:
            lines.append(_event(event, name, actors))
    lines.append("  </trace>\n")
    return "".join(lines)


def _activity(event) -> str | None:
    """The activity an event is an instance of, or None for one the log leaves out (a gateway passed)."""
    kind, detail = event["kind"], event["detail"] or {}
    if kind in STEPS:
        if kind == "step_completed" and str(detail.get("kind", "")).endswith("Gateway"):
            return None
        return event["task_name"]
    if kind.startswith(HANDOFF_PREFIX):
        return "Hand-off " + kind.removeprefix(HANDOFF_PREFIX).replace("_", " ")
    if kind in OLA_EVENTS:
        obligation = detail.get("obligation")
        return f"{OLA_EVENTS[kind]}: {obligation}" if obligation else OLA_EVENTS[kind]
    return NAMED[kind]


def _event(event, name: str, actors) -> str:
    resource, group = _acting(event["actor"], actors)
    detail = event["detail"] or {}
    attributes = [
        ("string", "concept:name", name),
        ("date", "time:timestamp", event["at"]),
        ("string", "lifecycle:transition", "complete"),
        ("string", "org:resource", resource),
        ("string", "org:group", group),
        *(("string", key, detail.get(field)) for field, key in EXPORTED_DETAIL.items()),
        ("string", "service", detail.get("service") or detail.get("to_service")),
        ("string", "to_service", detail.get("to_service") if detail.get("service") else None),
    ]
    return "".join(["    <event>\n", *_attributes(attributes, "      "), "    </event>\n"])


def _acting(actor: str, actors) -> tuple[str, str]:
    """(org:resource, org:group): the service (or, for a client tied to none, the organisation) and the
    organisation that acted; Signpost itself for the engine and its housekeeping."""
    client = actors.get(_client_id(actor))
    if client is None or actor == ENGINE_ACTOR:
        return SIGNPOST, SIGNPOST
    return client["service"] or client["organisation"], client["organisation"]


def _client_id(actor: str) -> int | None:
    """The client id in an actor as ``Client.actor`` writes it (``client:<id>:<name>``)."""
    kind, _, rest = actor.partition(":")
    number = rest.partition(":")[0]
    return int(number) if kind == "client" and number.isdigit() else None


def _attributes(attributes, indent: str) -> list[str]:
    return [
        f"{indent}{_attribute(kind, key, value)}\n" for kind, key, value in attributes if value is not None
    ]


def _attribute(kind: str, key: str, value) -> str:
    if isinstance(value, datetime):
        value = value.isoformat(timespec="milliseconds")
    return f"<{kind} key={quoteattr(key)} value={quoteattr(str(value))}/>"
