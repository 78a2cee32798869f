"""Demand and service behaviour fitted from a period of history: the referrals made and the hand-off
transitions recorded in the database between two instants.

    arrivals      per pathway and point of access, per hour of the week: referrals made in that hour of the
                  week over the period, divided by how many times that hour occurred in it
    a service     from the hand-offs routed to it in the period (whatever pathway sent them):
      acknowledges      share of decided hand-offs that were acknowledged first
      work              acknowledged -> accepted or rejected (real time), of those with no information request
      capacity          the most hand-offs it had acknowledged and not yet decided at one moment (its
                        people at their busiest), in the hours its calendar is open; unlimited for a service
                        that never acknowledges (its picking up cannot be seen)
      reject_rate       rejections among decisions; information_rate: information requests among pick-ups
      answer, to_start, to_complete   business time on its calendar, information requested -> supplied,
                        accepted -> started, started -> completed; starts: share of completions started first
    a user task   created -> completed, business time at the referral's point of access, per element id

Durations become log-normal distributions through the observed median and 90th percentile. Too few
observations (fewer than ``FEWEST``) leave the default for that figure. A period without a referral of a
pathway asked for is refused.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime

from engine.errors import InvalidInput
from engine.olas.calendars import calendar
from engine.olas.olas import percentile
from engine.simulation.hours import HOURS_IN_WEEK, Durations, hour_of_week, next_hour
from engine.simulation.profiles import DEFAULT_BEHAVIOUR, Behaviour, Demand, ServiceBehaviour, Stream
from engine.store import simulation as simulation_store
from engine.system import Signpost

FEWEST = 5
SHORTEST = 1.0  # seconds: a log-normal needs a positive median


@dataclass
class Fitted:
    demand: Demand
    behaviour: Behaviour
    history: list[dict]  # the referrals of the period (for start data)
    observed: dict = field(default_factory=dict)  # what the figures were fitted from, per service


def fit(source: Signpost, start: datetime, end: datetime, pathways: list[str] | None = None) -> Fitted:
    """Fit demand (of ``pathways``, or of every pathway with referrals in the period) and behaviour."""
    if start.utcoffset() is None or end.utcoffset() is None or end <= start:
        raise InvalidInput("the fit period needs a start before its end, both with a UTC offset")
    with source.database.read() as conn:
        referrals = simulation_store.referrals_created_between(conn, start, end, pathways)
        handoffs = simulation_store.handoff_histories(conn, start, end)
        tasks = simulation_store.user_task_times(conn, start, end)
    found = {r["pathway"] for r in referrals}
    missing = [p for p in (pathways or []) if p not in found]
    if missing or not referrals:
        raise InvalidInput(
            f"no referrals of {', '.join(missing) or 'any pathway'} were made between "
            f"{start.isoformat()} and {end.isoformat()}: there is no history to fit arrivals from"
        )
    calendars = {s.id: calendar(s.calendar) for s in source.services.list()}
    services, observed = {}, {}
    by_service: dict[str, list[dict]] = defaultdict(list)
    for handoff in handoffs:
        by_service[handoff["to_service"]].append(handoff)
    for service_id, its in sorted(by_service.items()):
        services[service_id], observed[service_id] = _service(its, calendars.get(service_id))
    return Fitted(
        _demand(referrals, start, end),
        Behaviour(services, _tasks(tasks, calendars), {}),
        referrals,
        observed,
    )


def _demand(referrals: list[dict], start: datetime, end: datetime) -> Demand:
    occurrences = Counter()
    moment = start
    while moment < end:
        occurrences[hour_of_week(moment)] += 1
        moment = next_hour(moment)
    counts: dict[tuple, Counter] = defaultdict(Counter)
    for referral in referrals:
        counts[(referral["pathway"], referral["point_of_access"])][hour_of_week(referral["created_at"])] += 1
    streams = [
        Stream(pathway, point, _rates(made, occurrences))
        for (pathway, point), made in sorted(counts.items(), key=lambda item: (item[0][0], item[0][1] or ""))
    ]
    return Demand(tuple(streams))


def _rates(made: Counter, occurrences: Counter) -> tuple[float, ...]:
    """Referrals an hour per hour of the week. An hour of the week the period did not include (a period
    shorter than a week) takes the mean of the same hour on the days of the same kind (weekdays, weekends)
    that it did include, else of that hour on any day."""
    observed = {h: made[h] / occurrences[h] for h in range(HOURS_IN_WEEK) if occurrences[h]}

    def like(hour: int, same_kind: bool) -> list[float]:
        weekend = hour // 24 >= 5
        return [
            rate
            for h, rate in observed.items()
            if h % 24 == hour % 24 and (not same_kind or (h // 24 >= 5) == weekend)
        ]

    rates = []
    for hour in range(HOURS_IN_WEEK):
        if hour in observed:
            rates.append(observed[hour])
        else:
            found = like(hour, True) or like(hour, False)
            rates.append(statistics.fmean(found) if found else 0.0)
    return tuple(rates)


def _service(handoffs: list[dict], business) -> tuple[ServiceBehaviour, dict]:
    counts = Counter()
    work, answer, to_start, to_complete, busy = [], [], [], [], []
    for handoff in handoffs:
        at = _first_times(handoff["transitions"])
        decided = at.get("accept") or at.get("reject")
        asked = at.get("request-information")
        if at.get("acknowledge") or decided or asked:
            counts["picked up"] += 1
        counts["acknowledged"] += bool(at.get("acknowledge") and decided)
        counts["decided"] += bool(decided)
        counts["rejected"] += bool(at.get("reject"))
        counts["asked"] += bool(asked)
        if at.get("acknowledge") and decided and not asked:
            work.append((decided - at["acknowledge"]).total_seconds())
            busy.append((at["acknowledge"], decided))
        if asked and at.get("supply-information"):
            answer.append(_business(business, asked, at["supply-information"]))
        if at.get("complete") and at.get("accept"):
            counts["completed"] += 1
            if at.get("start"):
                counts["started"] += 1
                to_start.append(_business(business, at["accept"], at["start"]))
                to_complete.append(_business(business, at["start"], at["complete"]))
    values: dict = {}
    if counts["decided"]:
        values["acknowledges"] = counts["acknowledged"] / counts["decided"]
        values["reject_rate"] = counts["rejected"] / counts["decided"]
    if counts["picked up"]:
        values["information_rate"] = counts["asked"] / counts["picked up"]
    if counts["completed"]:
        values["starts"] = counts["started"] / counts["completed"]
    for name, observed in (
        ("work", work),
        ("answer", answer),
        ("to_start", to_start),
        ("to_complete", to_complete),
    ):
        if len(observed) >= FEWEST:
            values[name] = _durations(observed)
    values["capacity"] = _most_at_once(busy) if busy else None
    return replace(DEFAULT_BEHAVIOUR, **values), {
        "handoffs": len(handoffs),
        **counts,
        "work_observed": len(work),
    }


def _first_times(transitions: list[tuple[str, datetime]]) -> dict[str, datetime]:
    first: dict[str, datetime] = {}
    for action, at in transitions:
        first.setdefault(action, at)
    return first


def _business(business, start: datetime, end: datetime) -> float:
    if business is None:
        return (end - start).total_seconds()
    return business.elapsed(start, end).total_seconds()


def _durations(observed: list[float]) -> Durations:
    ordered = sorted(max(SHORTEST, value) for value in observed)
    return Durations.median_p90(statistics.median(ordered), percentile(ordered, 0.9))


def _most_at_once(intervals: list[tuple[datetime, datetime]]) -> int:
    """The most intervals open at one moment (an interval ending as another begins does not overlap it)."""
    edges = sorted([(begin, 1) for begin, _ in intervals] + [(end, -1) for _, end in intervals])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def _tasks(tasks: list[dict], calendars: dict) -> dict[str, Durations]:
    taken: dict[str, list[float]] = defaultdict(list)
    for task in tasks:
        business = calendars.get(task["point_of_access"])
        taken[task["element_id"]].append(_business(business, task["created_at"], task["completed_at"]))
    return {element: _durations(values) for element, values in sorted(taken.items()) if len(values) >= FEWEST}
