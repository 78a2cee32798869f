"""The MI the business case asks for, per pathway and point of access over a period: referrals by channel and
by outcome, the repeat contacts recorded on them (failure demand), and how long referrals and their
hand-offs stay in each status; and the event log of the same referrals for process-mining tools
(``engine.referrals.event_log``).

A report counts the referrals received in [from, to) that the caller's point of access works on (an operator
tied to none: every point of access its organisation runs), as they stand when it is asked for: their
current status, and every stay in a status that has ended by then. Times are wall-clock seconds, not business
time: a referral's stays cross organisations with different calendars (the OLA report measures each
obligation on its own calendar). The median is the middle stay (the mean of the two middle ones for an even
count); the 90th percentile is the nearest rank, as in the OLA report. The figures are grouped in the
database (engine/store/referral_reports.py): no referral is loaded here to be counted.

The channel is what the referral recorded when it started (``engine.referrals.intake_channels``); the outcome
is the referral's status and, for a completed one, the end event its pathway reached.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from engine.errors import InvalidInput
from engine.governance.access import operating_scope
from engine.governance.clients import Client
from engine.olas.olas import check_period
from engine.pathways.instances import FINISHED
from engine.referrals.event_log import EventLog
from engine.referrals.intake_channels import UNRECORDED
from engine.routing.transitions import CLOSED, OPEN
from engine.store import definitions as definition_store
from engine.store import referral_reports as report_store
from engine.store import services as service_store
from engine.store.db import Database
from engine.store.referral_reports import Cohort

# The longest period one report covers: a year, leap day included.
LONGEST_PERIOD = timedelta(days=366)
POINT_OF_ACCESS_KIND = "point-of-access"
# The statuses a stay can end in, in the order a referral or a hand-off passes them; the others end nothing.
STATE_ORDER = {
    "referral": ("waiting", "incident"),
    "handoff": OPEN,
}
ENDED = {"referral": FINISHED, "handoff": CLOSED}
TIME_BASIS = "wall-clock seconds"


class ReferralReports:
    def __init__(self, database: Database):
        self._database = database

    def referrals(
        self,
        viewer: Client,
        start: datetime,
        end: datetime,
        pathway: str | None = None,
        point_of_access: str | None = None,
    ) -> dict:
        """Per pathway and point of access: the referrals received in [start, end) by channel and by outcome,
        and the time they and their hand-offs spent in each status."""
        with self._database.read() as conn:
            cohort = _cohort(conn, viewer, start, end, pathway, point_of_access)
            channels = report_store.channel_counts(conn, cohort)
            outcomes = report_store.outcome_counts(conn, cohort)
            durations = report_store.state_durations(conn, cohort)
            contacts = report_store.repeat_contact_counts(conn, cohort)
        groups: dict[tuple, dict] = defaultdict(
            lambda: {"channels": [], "outcomes": [], "time_in_state": [], "repeat_contacts": 0}
        )
        for row in channels:
            groups[_group(row)]["channels"].append(
                {"channel": row["channel"] or UNRECORDED, "referrals": row["referrals"]}
            )
        for row in outcomes:
            groups[_group(row)]["outcomes"].append(
                {
                    "status": row["status"],
                    "pathway_outcome": row["pathway_outcome"],
                    "referrals": row["referrals"],
                }
            )
        for row in contacts:
            groups[_group(row)]["repeat_contacts"] = row["repeat_contacts"]
        for row in durations:
            if row["state"] not in ENDED[row["of"]]:
                groups[_group(row)]["time_in_state"].append(_stays(row))
        return {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "pathway": pathway,
            "point_of_access": point_of_access,
            "time_basis": TIME_BASIS,
            "groups": [_ordered(key, figures) for key, figures in sorted(groups.items(), key=_group_order)],
        }

    def event_log(
        self,
        viewer: Client,
        start: datetime,
        end: datetime,
        pathway: str | None = None,
        point_of_access: str | None = None,
    ) -> EventLog:
        """The event log of the same referrals as ``referrals`` counts, to be written out as XES. The period
        and filters are checked now; the log is read a page of referrals at a time as it is written."""
        with self._database.read() as conn:
            cohort = _cohort(conn, viewer, start, end, pathway, point_of_access)
        return EventLog(self._database, cohort)


def _cohort(conn, viewer: Client, start, end, pathway, point_of_access) -> Cohort:
    check_period(start, end, LONGEST_PERIOD)
    if pathway is not None and definition_store.definition(conn, pathway) is None:
        raise InvalidInput(f"unknown pathway '{pathway}'")
    if point_of_access is not None:
        service = service_store.service(conn, point_of_access)
        if service is None or service["kind"] != POINT_OF_ACCESS_KIND:
            raise InvalidInput(f"unknown point of access '{point_of_access}'")
    return Cohort(start, end, operating_scope(viewer), pathway, point_of_access)


def _group(row) -> tuple[str, str | None]:
    return row["pathway"], row["point_of_access"]


def _group_order(item) -> tuple[str, str]:
    (pathway, point_of_access), _figures = item
    return pathway, point_of_access or ""


def _stays(row) -> dict:
    median, p90 = row["median_seconds"], row["p90_seconds"]
    return {
        "of": row["of"],
        "state": row["state"],
        "entered": row["entered"],
        "left": row["left"],
        "median_seconds": round(median) if median is not None else None,
        "p90_seconds": round(p90) if p90 is not None else None,
    }


def _ordered(key: tuple[str, str | None], figures: dict) -> dict:
    pathway, point_of_access = key
    channels = sorted(figures["channels"], key=lambda c: (-c["referrals"], c["channel"]))
    outcomes = sorted(
        figures["outcomes"], key=lambda o: (-o["referrals"], o["status"], o["pathway_outcome"] or "")
    )
    states = sorted(figures["time_in_state"], key=_state_order)
    return {
        "pathway": pathway,
        "point_of_access": point_of_access,
        "referrals": sum(c["referrals"] for c in channels),
        "channels": channels,
        "outcomes": outcomes,
        "repeat_contacts": figures["repeat_contacts"],
        "time_in_state": states,
    }


def _state_order(stays: dict) -> tuple:
    known = STATE_ORDER[stays["of"]]
    position = known.index(stays["state"]) if stays["state"] in known else len(known)
    return stays["of"] != "referral", position, stays["state"]
