"""The MI reports' SQL: referrals counted by channel and by outcome, and the time spent in each state, grouped
per pathway and point of access in the database (not by loading every referral), on SQLite and PostgreSQL;
and the event log of a period's referrals, read a page of referrals at a time for the export.

A report covers a cohort: the referrals received (created) in [start, end) that the caller's scope sees,
optionally of one pathway and one point of access (``Cohort``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from engine.store.referrals import visible_referrals
from engine.store.tables import (
    api_clients,
    definition_versions,
    handoff_transitions,
    handoffs,
    instance_events,
    instances,
    referrals,
    repeat_contacts,
)

# The instance events that change a referral's status, and the status each leads to.
STATUS_EVENTS = {
    "started": "waiting",
    "retried": "waiting",
    "incident": "incident",
    "completed": "completed",
    "cancelled": "cancelled",
}


@dataclass(frozen=True)
class Cohort:
    start: datetime
    end: datetime
    scope: object  # an engine.governance.access.ReferralScope
    pathway: str | None = None
    point_of_access: str | None = None

    def condition(self) -> sa.ColumnElement[bool]:
        conditions = [
            referrals.c.created_at >= self.start,
            referrals.c.created_at < self.end,
            visible_referrals(self.scope),
        ]
        if self.pathway is not None:
            conditions.append(referrals.c.pathway_key == self.pathway)
        if self.point_of_access is not None:
            conditions.append(referrals.c.point_of_access == self.point_of_access)
        return sa.and_(*conditions)


class _SecondsBetween(FunctionElement):
    """Wall-clock seconds from the first timestamp to the second (a float)."""

    type = sa.Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(_SecondsBetween)
def _seconds_between(element, compiler, **kw) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(_SecondsBetween, "sqlite")
def _seconds_between_on_sqlite(element, compiler, **kw) -> str:
    # SQLite keeps these columns as ISO text; julianday() reads it to the millisecond.
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


def channel_counts(conn: Connection, cohort: Cohort) -> list[RowMapping]:
    """(pathway, point_of_access, channel, referrals); ``channel`` is None for referrals from before it was
    kept."""
    query = (
        sa.select(
            referrals.c.pathway_key.label("pathway"),
            referrals.c.point_of_access,
            referrals.c.channel,
            sa.func.count().label("referrals"),
        )
        .where(cohort.condition())
        .group_by(referrals.c.pathway_key, referrals.c.point_of_access, referrals.c.channel)
    )
    return list(conn.execute(query).mappings())


def outcome_counts(conn: Connection, cohort: Cohort) -> list[RowMapping]:
    """(pathway, point_of_access, status, pathway_outcome, referrals). A completed referral's pathway outcome
    is the end event it reached: the name of its last completed step, in the change that completed it."""
    completed = (
        sa.select(referrals.c.instance_id)
        .join(instances, instances.c.id == referrals.c.instance_id)
        .where(cohort.condition(), instances.c.status == "completed")
    )
    last_step = (
        sa.select(instance_events.c.instance_id, sa.func.max(instance_events.c.id).label("event_id"))
        .where(instance_events.c.instance_id.in_(completed), instance_events.c.kind == "step_completed")
        .group_by(instance_events.c.instance_id)
        .subquery()
    )
    end_event = instance_events.alias("end_event")
    pathway_outcome = sa.case((instances.c.status == "completed", end_event.c.task_name)).label(
        "pathway_outcome"
    )
    query = (
        sa.select(
            referrals.c.pathway_key.label("pathway"),
            referrals.c.point_of_access,
            instances.c.status,
            pathway_outcome,
            sa.func.count().label("referrals"),
        )
        .join(instances, instances.c.id == referrals.c.instance_id)
        .outerjoin(last_step, last_step.c.instance_id == referrals.c.instance_id)
        .outerjoin(end_event, end_event.c.id == last_step.c.event_id)
        .where(cohort.condition())
        .group_by(referrals.c.pathway_key, referrals.c.point_of_access, instances.c.status, pathway_outcome)
    )
    return list(conn.execute(query).mappings())


def repeat_contact_counts(conn: Connection, cohort: Cohort) -> list[RowMapping]:
    """(pathway, point_of_access, repeat_contacts): the contacts recorded on the cohort's referrals by people
    asking where a referral had got to, up to now: failure demand."""
    query = (
        sa.select(
            referrals.c.pathway_key.label("pathway"),
            referrals.c.point_of_access,
            sa.func.count(repeat_contacts.c.id).label("repeat_contacts"),
        )
        .join(repeat_contacts, repeat_contacts.c.referral_id == referrals.c.id)
        .where(cohort.condition())
        .group_by(referrals.c.pathway_key, referrals.c.point_of_access)
    )
    return list(conn.execute(query).mappings())


def state_durations(conn: Connection, cohort: Cohort) -> list[RowMapping]:
    """(pathway, point_of_access, of, state, entered, left, median_seconds, p90_seconds): per referral status
    (``of`` = "referral") and hand-off status (``of`` = "handoff"), how many stays began, how many have ended,
    and the median and 90th percentile (nearest rank) of the wall-clock seconds the ended ones lasted."""
    stays = _stays(cohort)
    seconds = _SecondsBetween(stays.c.entered_at, stays.c.left_at)
    group = (stays.c.pathway, stays.c.point_of_access, stays.c.of, stays.c.state)
    ranked = sa.select(
        *group,
        seconds.label("seconds"),
        sa.func.row_number().over(partition_by=group, order_by=sa.nulls_last(seconds)).label("rank"),
        sa.func.count(seconds).over(partition_by=group).label("finished"),
    ).subquery()
    rank, finished, lasted = ranked.c.rank, ranked.c.finished, ranked.c.seconds
    # Integer division on both databases: the middle rank(s), and the nearest rank of the 90th percentile.
    middle = sa.or_(rank == (finished + 1) // 2, rank == (finished + 2) // 2)
    ninetieth = rank == (9 * finished + 9) // 10
    by_group = (ranked.c.pathway, ranked.c.point_of_access, ranked.c.of, ranked.c.state)
    query = sa.select(
        *by_group,
        sa.func.count().label("entered"),
        sa.func.count(lasted).label("left"),
        sa.func.avg(sa.case((middle, lasted))).label("median_seconds"),
        sa.func.max(sa.case((ninetieth, lasted))).label("p90_seconds"),
    ).group_by(*by_group)
    return list(conn.execute(query).mappings())


def _stays(cohort: Cohort) -> sa.Subquery:
    """One row per stay of a referral or a hand-off in a status: when it entered it and (unless it is still
    there) when it left. Consecutive records of one status (a visit scheduled while accepted) are one stay."""
    status = sa.case(*((instance_events.c.kind == kind, state) for kind, state in STATUS_EVENTS.items()))
    referral_records = (
        _records(
            "referral", instance_events.c.instance_id, status, instance_events.c.at, instance_events.c.id
        )
        .join(referrals, referrals.c.instance_id == instance_events.c.instance_id)
        .where(cohort.condition(), instance_events.c.kind.in_(list(STATUS_EVENTS)))
    )
    transitions = handoff_transitions.c
    handoff_records = (
        _records("handoff", transitions.handoff_id, transitions.to_status, transitions.at, transitions.id)
        .join(handoffs, handoffs.c.id == transitions.handoff_id)
        .join(referrals, referrals.c.instance_id == handoffs.c.instance_id)
        .where(cohort.condition())
    )
    records = sa.union_all(referral_records, handoff_records).subquery()
    in_order = {
        "partition_by": (records.c.of, records.c.subject_id),
        "order_by": (records.c.at, records.c.id),
    }
    with_previous = sa.select(
        records, sa.func.lag(records.c.state).over(**in_order).label("previous_state")
    ).subquery()
    changes = with_previous.c.previous_state.is_(None) | (
        with_previous.c.previous_state != with_previous.c.state
    )
    in_order = {
        "partition_by": (with_previous.c.of, with_previous.c.subject_id),
        "order_by": (with_previous.c.at, with_previous.c.id),
    }
    return (
        sa.select(
            with_previous.c.pathway,
            with_previous.c.point_of_access,
            with_previous.c.of,
            with_previous.c.state,
            with_previous.c.at.label("entered_at"),
            sa.func.lead(with_previous.c.at).over(**in_order).label("left_at"),
        )
        .where(changes)
        .subquery()
    )


def _records(of: str, subject_id, state, at, record_id) -> sa.Select:
    """Status records of the cohort's referrals (``of`` "referral") or of their hand-offs ("handoff")."""
    return sa.select(
        referrals.c.pathway_key.label("pathway"),
        referrals.c.point_of_access,
        sa.literal(of).label("of"),
        subject_id.label("subject_id"),
        state.label("state"),
        at.label("at"),
        record_id.label("id"),
    )


# ---- the event log --------------------------------------------------------------------------------------


def cohort_page(
    conn: Connection, cohort: Cohort, limit: int, after: tuple[datetime, str] | None = None
) -> list[RowMapping]:
    """Up to ``limit`` referrals of the cohort, oldest first, from just after ``after`` (created_at, id): the
    cases of the event log, with what a case says about itself (no personal data)."""
    query = (
        sa.select(
            referrals.c.id,
            referrals.c.instance_id,
            referrals.c.created_at,
            referrals.c.pathway_key,
            definition_versions.c.number.label("version_number"),
            referrals.c.point_of_access,
            referrals.c.operated_by,
            referrals.c.referrer_organisation,
            referrals.c.channel,
            instances.c.status,
        )
        .join(instances, instances.c.id == referrals.c.instance_id)
        .join(definition_versions, definition_versions.c.id == instances.c.version_id)
        .where(cohort.condition())
        .order_by(referrals.c.created_at, referrals.c.id)
        .limit(limit)
    )
    if after is not None:
        created_at, referral_id = after
        query = query.where(
            sa.or_(
                referrals.c.created_at > created_at,
                sa.and_(referrals.c.created_at == created_at, referrals.c.id > referral_id),
            )
        )
    return list(conn.execute(query).mappings())


def events_of_instances(conn: Connection, instance_ids: list[str], kinds: Iterable[str]) -> list[RowMapping]:
    """The events of ``kinds`` of several instances, each instance's in the order they happened."""
    query = (
        sa.select(
            instance_events.c.instance_id,
            instance_events.c.at,
            instance_events.c.kind,
            instance_events.c.task_name,
            instance_events.c.actor,
            instance_events.c.detail,
        )
        .where(instance_events.c.instance_id.in_(instance_ids), instance_events.c.kind.in_(list(kinds)))
        .order_by(instance_events.c.instance_id, instance_events.c.at, instance_events.c.id)
    )
    return list(conn.execute(query).mappings())


def transitions_of_instances(
    conn: Connection, instance_ids: list[str], actions: Iterable[str]
) -> list[RowMapping]:
    """The hand-off transitions of ``actions`` of several instances' hand-offs, in the order they happened."""
    query = (
        sa.select(
            handoffs.c.instance_id,
            handoff_transitions.c.at,
            handoff_transitions.c.action,
            handoff_transitions.c.actor,
            handoff_transitions.c.handoff_id,
            handoffs.c.to_service,
        )
        .join(handoffs, handoffs.c.id == handoff_transitions.c.handoff_id)
        .where(handoffs.c.instance_id.in_(instance_ids), handoff_transitions.c.action.in_(list(actions)))
        .order_by(handoffs.c.instance_id, handoff_transitions.c.at, handoff_transitions.c.id)
    )
    return list(conn.execute(query).mappings())


def organisations_of_clients(conn: Connection, client_ids: Iterable[int]) -> dict[int, RowMapping]:
    """Client id -> (organisation, service) of the clients named."""
    wanted = sorted(set(client_ids))
    if not wanted:
        return {}
    query = sa.select(api_clients.c.id, api_clients.c.organisation, api_clients.c.service).where(
        api_clients.c.id.in_(wanted)
    )
    return {row["id"]: row for row in conn.execute(query).mappings()}
