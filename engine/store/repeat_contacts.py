"""Repeat contacts: a person's open referrals at every point of access (what a contact is matched against),
the contacts recorded on a referral, and the failure demand they add up to per organisation pair."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from engine.store.db import note_change
from engine.store.tables import instances, referrals, repeat_contacts

FINISHED = ("completed", "cancelled")

_INSERT_REPEAT_CONTACT = repeat_contacts.insert()


def open_referrals_of_person(conn: Connection, subject: str, *, besides_instance: str) -> list[RowMapping]:
    """Every open referral of the person with this NHS number, whoever holds it, newest first, except the
    one whose instance is ``besides_instance`` (the contact itself): their id, reference, pathway and when
    they were made. Who may be told what of them is the caller's business."""
    query = (
        sa.select(
            referrals.c.id,
            referrals.c.reference,
            referrals.c.pathway_key,
            referrals.c.created_at,
            referrals.c.instance_id,
        )
        .join(instances, instances.c.id == referrals.c.instance_id)
        .where(
            referrals.c.subject == subject,
            referrals.c.cancelled_at.is_(None),
            instances.c.status.not_in(FINISHED),
            referrals.c.instance_id != besides_instance,
        )
        .order_by(referrals.c.created_at.desc(), referrals.c.id.desc())
    )
    return list(conn.execute(query).mappings())


def is_recorded(conn: Connection, referral_id: str, contact_instance_id: str) -> bool:
    query = sa.select(repeat_contacts.c.id).where(
        repeat_contacts.c.referral_id == referral_id,
        repeat_contacts.c.contact_instance_id == contact_instance_id,
    )
    return conn.execute(query).first() is not None


def insert_repeat_contact(conn: Connection, values: dict) -> None:
    conn.execute(_INSERT_REPEAT_CONTACT, values)
    note_change(conn, "referral", values["referral_id"])


def contacts_of_referral(conn: Connection, referral_id: str) -> list[RowMapping]:
    """The repeat contacts recorded on a referral, oldest first."""
    query = (
        sa.select(repeat_contacts)
        .where(repeat_contacts.c.referral_id == referral_id)
        .order_by(repeat_contacts.c.recorded_at, repeat_contacts.c.id)
    )
    return list(conn.execute(query).mappings())


def failure_demand_between(
    conn: Connection, start: datetime, end: datetime, organisation: str | None = None
) -> list[RowMapping]:
    """Repeat contacts recorded in [start, end), counted per organisation pair holding the referral they were
    about (``from_organisation``, ``to_organisation``, ``contacts``); with ``organisation``, only the pairs
    it is part of."""
    contacts = sa.func.count(repeat_contacts.c.id).label("contacts")
    query = (
        sa.select(repeat_contacts.c.from_organisation, repeat_contacts.c.to_organisation, contacts)
        .where(repeat_contacts.c.recorded_at >= start, repeat_contacts.c.recorded_at < end)
        .group_by(repeat_contacts.c.from_organisation, repeat_contacts.c.to_organisation)
    )
    if organisation is not None:
        query = query.where(
            sa.or_(
                repeat_contacts.c.from_organisation == organisation,
                repeat_contacts.c.to_organisation == organisation,
            )
        )
    return list(conn.execute(query).mappings())
