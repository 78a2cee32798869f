"""Who may see which referral: the one rule every read and change of referral data applies.

A referral is visible to the organisation that submitted it, and to the operators of the point of access that
works on it: an operator tied to a point of access sees that point of access's referrals only; an operator
tied to none sees those of every point of access its organisation runs. Receiving services see hand-offs
routed to their organisation (``engine.routing``), not referrals as such. Nobody else, admins included,
reads referral data: admins manage clients, services and calendars; auditors read the audit trail.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from engine.errors import NotFound
from engine.governance.clients import Client
from engine.store import referrals as referral_store
from engine.store.db import Connection


@dataclass(frozen=True)
class ReferralScope:
    """The referrals a client may see, in the terms the store filters by (any one match makes it visible)."""

    submitted_by: str | None  # the client's organisation: referrals it submitted
    point_of_access: str | None = None  # an operator's point of access
    operated_by: str | None = None  # an operator with no point of access: its organisation's points of access


def scope_of(client: Client) -> ReferralScope:
    if "operator" not in client.roles:
        return ReferralScope(submitted_by=client.organisation)
    if client.service:
        return ReferralScope(submitted_by=client.organisation, point_of_access=client.service)
    return ReferralScope(submitted_by=client.organisation, operated_by=client.organisation)


def operating_scope(client: Client) -> ReferralScope:
    """The referrals an operator works on, without those its organisation only submitted: what its point of
    access answers for in reports."""
    return dataclasses.replace(scope_of(client), submitted_by=None)


def operates(client: Client, referral) -> bool:
    """Whether ``client`` is an operator working on ``referral`` (a row with point_of_access, operated_by)."""
    if "operator" not in client.roles:
        return False
    if client.service:
        return referral["point_of_access"] == client.service
    return referral["operated_by"] == client.organisation


def sees_referral(client: Client, referral) -> bool:
    return referral["referrer_organisation"] == client.organisation or operates(client, referral)


def visible_referral(conn: Connection, referral_id: str, viewer: Client, *, operating: bool = False):
    """The referral (with its instance's status and data) if ``viewer`` sees it — or, with ``operating``,
    works on it as an operator. Otherwise NotFound, never a refusal: whether a referral exists is itself
    information another organisation may not have."""
    referral = referral_store.referral_overview(conn, referral_id=referral_id)
    allowed = operates if operating else sees_referral
    if referral is None or not allowed(viewer, referral):
        raise NotFound(f"no referral with id {referral_id}")
    return referral
