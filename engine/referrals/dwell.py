"""Where referrals wait on a pathway version: per BPMN element, how many referrals passed it and how long they
stayed there (median and 90th percentile), for the heatmap on the pathway's diagram.

A referral's event log records when each element was completed (``step_completed``, ``task_completed``,
``external_task_completed``, with the element's id). The time an element held a referral is the time from
the event before its completion (the referral's start, or the completion of the element it came from) to
its completion: an automated step completes in the same change as the one before it (no time), while a
person's task, a system's task, a hand-off awaited or a timer holds the referral until it moves on.
Referrals started in [start, end) count; an operator sees those its point of access works on, a designer
(who reads no referral) every referral of the version, as figures only.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime

from engine.errors import InvalidInput, NotFound
from engine.governance.access import operating_scope
from engine.governance.clients import Client
from engine.olas.olas import check_period, percentile
from engine.store import definitions as definition_store
from engine.store import instances as instance_store
from engine.store import referrals as referral_store

COMPLETIONS = ("step_completed", "task_completed", "external_task_completed")
STARTED = "started"
# A version with more referrals than this in the period is refused: ask for a shorter period.
MOST_REFERRALS = 20_000


def dwell_report(conn, viewer: Client, key: str, number: int, start: datetime, end: datetime) -> dict:
    check_period(start, end)
    version = definition_store.version(conn, key, number)
    if version is None:
        raise NotFound(f"no version {number} of pathway '{key}'")
    # An operator counts the referrals its point of access works on, not those its organisation submitted.
    scope = operating_scope(viewer) if "operator" in viewer.roles else None
    instance_ids = referral_store.instances_of_version(
        conn, version["id"], start, end, scope, limit=MOST_REFERRALS + 1
    )
    if len(instance_ids) > MOST_REFERRALS:
        raise InvalidInput(
            f"more than {MOST_REFERRALS:,} referrals started on this version in the period: ask for a "
            "shorter one"
        )
    passed: dict[str, set[str]] = defaultdict(set)
    stays: dict[str, list[float]] = defaultdict(list)
    for batch in _batches(instance_ids, 500):
        events = instance_store.events_of_kinds(conn, batch, (STARTED, *COMPLETIONS))
        previous: dict[str, datetime] = {}
        for instance_id, at, kind, detail in events:
            element_id = (detail or {}).get("element_id") if kind in COMPLETIONS else None
            if element_id and instance_id in previous:
                passed[element_id].add(instance_id)
                stays[element_id].append((at - previous[instance_id]).total_seconds())
            previous[instance_id] = at
    elements = [
        {
            "element_id": element_id,
            "passed": len(passed[element_id]),
            "median_seconds": round(statistics.median(stays[element_id])),
            "p90_seconds": round(percentile(sorted(stays[element_id]), 0.9)),
        }
        for element_id in passed
    ]
    elements.sort(key=lambda e: (-e["median_seconds"], e["element_id"]))
    return {"pathway": key, "version": number, "referrals": len(instance_ids), "elements": elements}


def _batches(items: list[str], size: int):
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]
