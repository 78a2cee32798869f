"""Checking a scenario's expectations against the referral as the engine reports it.

Each check reads what a client of the API would see (the referral's view: status, status text, open tasks,
hand-offs, OLA clocks, data), the milestones its events mark (what subscribers are notified of), and the
path the tokens took (the end events reached). A failed check says what was expected and what was found.
"""

from __future__ import annotations

import json

from engine.bpmn import PathTrace
from engine.notifications.milestones import milestones_of
from engine.pathways.scenario_files import Check
from engine.scenarios.stage import Stage

MISSING = object()


def failed_checks(stage: Stage, checks: tuple[Check, ...], trace: PathTrace) -> list[tuple[Check, str]]:
    """Each check that does not hold, with why."""
    failed = []
    for check in checks:
        message = CHECKS[check.kind](stage, check.expected, trace)
        if message:
            failed.append((check, message))
    return failed


def _status(stage: Stage, expected: str, _trace) -> str | None:
    view = stage.view
    if view["status"] == expected:
        return None
    incident = view.get("incident") or {}
    why = f" (incident at '{incident.get('task')}': {incident.get('error')})" if incident else ""
    return f"status is {view['status']!r}{why}, expected {expected!r}"


def _status_text(stage: Stage, expected: str, _trace) -> str | None:
    text = stage.view["status_text"]
    return None if expected in text else f'status text is "{text}", which does not contain "{expected}"'


def _end_events(_stage: Stage, expected: tuple[str, ...], trace: PathTrace) -> str | None:
    reached = trace.completed_elements()
    missing = [element for element in expected if element not in reached]
    if not missing:
        return None
    return f"not reached: {', '.join(missing)} (completed so far: {', '.join(sorted(reached)) or 'nothing'})"


def _tasks(stage: Stage, expected: tuple[str, ...], _trace) -> str | None:
    open_tasks = list(stage.view["waiting_for"]["tasks"])
    unmatched = []
    for wanted in expected:
        match = next((t for t in open_tasks if wanted in (t["element_id"], t["title"])), None)
        if match is None:
            unmatched.append(wanted)
        else:
            open_tasks.remove(match)
    if not unmatched and not open_tasks:
        return None
    shown = ", ".join(t["element_id"] for t in stage.view["waiting_for"]["tasks"]) or "none"
    return f"open tasks are [{shown}], expected [{', '.join(expected)}]"


def _handoffs(stage: Stage, expected: tuple[dict, ...], _trace) -> str | None:
    actual = [(h["to_service"], h["status"]) for h in stage.view["handoffs"]]
    wanted = [(h.get("service"), h.get("status")) for h in expected]
    if actual == wanted:
        return None
    return f"hand-offs are [{_pairs(actual)}], expected [{_pairs(wanted)}]"


def _clocks(stage: Stage, expected: tuple[dict, ...], _trace) -> str | None:
    service_of = {h["id"]: h["to_service"] for h in stage.view["handoffs"]}
    clocks = [(c["obligation"], c["state"], service_of.get(c["handoff_id"])) for c in stage.view["clocks"]]
    missing = [
        wanted
        for wanted in expected
        if not any(
            obligation == wanted["obligation"]
            and state == wanted["state"]
            and wanted.get("service") in (None, service)
            for obligation, state, service in clocks
        )
    ]
    if not missing:
        return None
    described = "; ".join(
        f"{w['obligation']} {w['state']}" + (f" ({w['service']})" if w.get("service") else "")
        for w in missing
    )
    found = "; ".join(f"{o} {s} ({service})" for o, s, service in clocks) or "no clocks"
    return f"no clock {described}; the clocks: {found}"


def _milestones(stage: Stage, expected: tuple[str, ...], _trace) -> str | None:
    sent = [m for event in stage.events() for m in milestones_of({**event, "detail": _detail(event)})]
    missing = [m for m in expected if m not in sent]
    if not missing:
        return None
    return f"not sent: {', '.join(missing)} (sent: {', '.join(dict.fromkeys(sent)) or 'none'})"


def _data(stage: Stage, expected: dict, _trace) -> str | None:
    problems = []
    for path, wanted in expected.items():
        found = stage.view["data"]
        for part in path.split("."):
            found = found.get(part, MISSING) if isinstance(found, dict) else MISSING
        if found is MISSING:
            problems.append(f"data has no {path}")
        elif not _same(found, wanted):
            problems.append(f"data {path} is {json.dumps(found)}, expected {json.dumps(wanted)}")
    return "; ".join(problems) or None


def _same(found, wanted) -> bool:
    """Equal as JSON values: true is not 1, 1 is 1.0."""
    if isinstance(found, bool) or isinstance(wanted, bool):
        return type(found) is type(wanted) and found == wanted
    if isinstance(found, dict) and isinstance(wanted, dict):
        return found.keys() == wanted.keys() and all(_same(found[k], wanted[k]) for k in found)
    if isinstance(found, list) and isinstance(wanted, list):
        return len(found) == len(wanted) and all(map(_same, found, wanted))
    return found == wanted


def _pairs(pairs) -> str:
    return ", ".join(f"{service} {status}" for service, status in pairs) or "none"


def _detail(event) -> dict:
    detail = event["detail"]
    return json.loads(detail) if isinstance(detail, str) else detail or {}


CHECKS = {
    "status": _status,
    "status_text_contains": _status_text,
    "end_event": _end_events,
    "tasks": _tasks,
    "handoffs": _handoffs,
    "clocks": _clocks,
    "milestones": _milestones,
    "data": _data,
}
