"""Staged go-live: making an approved version live at chosen points of access (a pilot) or at all of them, now
or from a later time, and rolling a go-live back. The rule it feeds is in ``go_live_rule.py``.

Who: a client with the ``admin`` role goes live (and rolls back) at the points of access its organisation
runs; ``platform-admin`` at any, and at every point of access at once. Going live is the running
organisation's operational decision — when its staff are trained, its rota ready — after the clinical one (the
approval, by a clinical approver), so it belongs to the role that already runs the organisation's services in
the directory, not to whoever designed or approved the version. Every go-live and rollback is written to the
audit trail in the transaction that records it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from engine import clock
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.governance import audit
from engine.governance.clients import Client
from engine.pathways.go_live_rule import (
    LIVE,
    SCHEDULED,
    deciding,
    go_live_views,
    live_at,
    state,
)
from engine.store import definitions as definition_store
from engine.store import go_lives as go_live_store
from engine.store import services as service_store
from engine.store.db import Connection, Database

GO_LIVE_ROLES = frozenset({"admin", "platform-admin"})
# A go-live's reason, in the words of who decided it: 1 to this many characters.
LONGEST_REASON = 2000
# A ``from`` this little in the past (a form filled in slowly, clocks a little apart) means now.
PAST_TOLERANCE = timedelta(minutes=5)
BASELINE_REASON = "live before the first go-live of this pathway (the latest approved version then)"


class GoLives:
    def __init__(self, database: Database, *, approval_required: bool = True):
        """``approval_required``: as for ``Definitions`` (it says what was live before a first go-live)."""
        self._database = database
        self._approval_required = approval_required

    def go_live(
        self,
        key: str,
        number: int,
        client: Client,
        *,
        reason: str,
        points_of_access: list[str] | None = None,
        live_from: datetime | None = None,
    ) -> dict:
        """Make approved version ``number`` of ``key`` live at ``points_of_access`` (None: every point of
        access, for a platform admin) from ``live_from`` (None or a moment ago: now). The go-live as
        ``history`` shows it."""
        reason = _reason(reason)
        _check_role(client)
        now = clock.now()
        live_from = _checked_from(live_from, now)
        with self._database.write() as conn:
            _locked_definition(conn, key)
            version = definition_store.version(conn, key, number)
            if version is None:
                raise NotFound(f"definition '{key}' has no version {number}")
            places = _places(conn, client, points_of_access)
            if version["approval"] != "approved":
                raise Conflict(
                    f"version {number} of '{key}' is a draft: a clinical approver must approve it before it "
                    "goes live"
                )
            if not go_live_store.points(conn, key):
                self._record_baseline(conn, key, version, client, now)
            go_live_id = go_live_store.insert_go_live(
                conn,
                places,
                definition_key=key,
                version_id=version["id"],
                kind="go-live",
                live_from=live_from,
                recorded_at=now,
                recorded_by=client.actor,
                organisation=client.organisation,
                reason=reason,
            )
            where = f"pathway {key} version {number} at {_names(places)} from {live_from.isoformat()}"
            _audit(conn, client, "go-live", where, go_live_id, 201)
            return _view(conn, key, go_live_id, now)

    def roll_back(
        self, key: str, go_live_id: int, client: Client, *, reason: str, points_of_access: list | None = None
    ) -> dict:
        """Take go-live ``go_live_id`` of ``key`` out, at ``points_of_access`` (None: wherever it applies):
        those points of access return to what was live there before it. A scheduled go-live rolled back never
        takes effect. Conflict when it is in force nowhere among them (rolled back already, or superseded by a
        later go-live everywhere it applies)."""
        reason = _reason(reason)
        _check_role(client)
        now = clock.now()
        with self._database.write() as conn:
            _locked_definition(conn, key)
            every_point = go_live_store.points(conn, key)
            mine = [p for p in every_point if p["go_live_id"] == go_live_id]
            if not mine:
                raise NotFound(f"pathway '{key}' has no go-live {go_live_id}")
            if mine[0]["kind"] == "baseline":
                raise Conflict(
                    f"go-live {go_live_id} records what was live before the first go-live of '{key}': there "
                    "is nothing before it to roll back to (go live with another version instead)"
                )
            chosen = _chosen(mine, points_of_access, go_live_id)
            for point in chosen:
                _check_may_act_at(client, point["point_of_access"], point["point_of_access_organisation"])
            decided = deciding(every_point, now)
            if not any(state(p, decided, now) in (LIVE, SCHEDULED) for p in chosen):
                raise Conflict(_nothing_to_roll_back(go_live_id, chosen, decided))
            go_live_store.roll_back(conn, [p["id"] for p in chosen], at=now, by=client.actor, reason=reason)
            where = (
                f"pathway {key} version {mine[0]['number']} at {_names(p['point_of_access'] for p in chosen)}"
            )
            _audit(conn, client, "roll back", where, go_live_id, 200)
            return _view(conn, key, go_live_id, now)

    def history(self, key: str) -> list[dict]:
        """Every go-live of ``key`` (rolled back ones too), newest first, each with its points of access and
        their states now (``go_live_rule.go_live_views``)."""
        with self._database.read() as conn:
            if definition_store.definition(conn, key) is None:
                raise NotFound(f"no definition with key '{key}'")
            return go_live_views(go_live_store.points(conn, key), clock.now())

    def _record_baseline(
        self, conn: Connection, key: str, going_live: Mapping, client: Client, now: datetime
    ) -> None:
        before = _live_before(conn, key, going_live, self._approval_required)
        if before is None:
            return  # a new pathway's first version: nothing was live anywhere
        baseline_id = go_live_store.insert_go_live(
            conn,
            [None],
            definition_key=key,
            version_id=before["id"],
            kind="baseline",
            live_from=now,
            recorded_at=now,
            recorded_by=client.actor,
            organisation=client.organisation,
            reason=BASELINE_REASON,
        )
        where = f"pathway {key} version {before['number']} at every point of access (baseline)"
        _audit(conn, client, "go-live", where, baseline_id, 201)


def live_version(conn: Connection, key: str, point_of_access: str | None) -> Mapping | None:
    """The version new referrals on ``key`` start on at ``point_of_access`` now, when the pathway has
    go-lives; None when it has none (the rule of approval decides). Conflict when it has go-lives but none
    is live there."""
    points = go_live_store.points(conn, key)
    if not points:
        return None
    found = live_at(points, point_of_access, clock.now())
    if found is None:
        where = f"at point of access '{point_of_access}'" if point_of_access else "without a point of access"
        raise Conflict(f"no version of '{key}' is live {where}: an admin makes an approved version go live")
    return definition_store.version(conn, key, found["number"])


def _live_before(conn: Connection, key: str, going_live: Mapping, approval_required: bool) -> Mapping | None:
    """What new referrals started on before the pathway's first go-live: the rule of approval's version — or,
    when that is the version going live (approved a moment ago, say), the one it replaced."""
    current = definition_store.version(conn, key, None, approved_only=approval_required)
    if current is not None and current["id"] != going_live["id"]:
        return current
    earlier = [
        v
        for v in definition_store.versions_of(conn, key)
        if v["number"] < going_live["number"] and (v["approval"] == "approved" or not approval_required)
    ]
    return earlier[-1] if earlier else None


def _places(conn: Connection, client: Client, named: list[str] | None) -> list[str | None]:
    """The points of access a go-live names, checked: known ones, run by the client's organisation."""
    if named is None:
        _check_may_act_at(client, None, None)
        return [None]
    if not named:
        raise InvalidInput("'points_of_access' names at least one point of access (leave it out for all)")
    if len(set(named)) != len(named):
        raise InvalidInput("'points_of_access' names a point of access twice")
    for service_id in named:
        found = service_store.service(conn, service_id)
        if found is None or found["kind"] != "point-of-access":
            raise InvalidInput(f"'{service_id}' is not a point of access in the service directory")
        _check_may_act_at(client, service_id, found["organisation"])
    return list(named)


def _chosen(mine: list[Mapping], named: list[str] | None, go_live_id: int) -> list[Mapping]:
    if named is None:
        return mine
    if not named:
        raise InvalidInput("'points_of_access' names at least one point of access (leave it out for all)")
    applies_at = {p["point_of_access"] for p in mine}
    unknown = [n for n in named if n not in applies_at]
    if unknown:
        said = _names(sorted(applies_at, key=lambda p: p or ""))
        raise InvalidInput(f"go-live {go_live_id} does not apply at {_names(unknown)}: it applies at {said}")
    return [p for p in mine if p["point_of_access"] in set(named)]


def _check_role(client: Client) -> None:
    if not client.roles & GO_LIVE_ROLES:
        raise NotAllowed("going live and rolling back need the admin or platform-admin role")


def _check_may_act_at(client: Client, point_of_access: str | None, organisation: str | None) -> None:
    """A platform admin acts anywhere; an admin at the points of access its organisation runs."""
    if "platform-admin" in client.roles:
        return
    if point_of_access is None:
        raise NotAllowed(
            "every point of access at once is a platform admin's decision: name the points of access of "
            f"{client.organisation} in 'points_of_access'"
        )
    if organisation != client.organisation:
        raise NotAllowed(
            f"'{point_of_access}' is run by {organisation}: an admin of {client.organisation} acts only at "
            "the points of access its organisation runs"
        )


def _checked_from(live_from: datetime | None, now: datetime) -> datetime:
    if live_from is None:
        return now
    if live_from.tzinfo is None:
        raise InvalidInput("'from' needs a UTC offset (e.g. 2027-01-04T08:00:00+00:00)")
    if live_from < now - PAST_TOLERANCE:
        raise InvalidInput(
            f"'from' ({live_from.isoformat()}) is in the past: a go-live takes effect now or later "
            "(leave 'from' out to go live now)"
        )
    return max(live_from, now)


def _nothing_to_roll_back(go_live_id: int, chosen: list[Mapping], decided: Mapping) -> str:
    if all(p["rolled_back_at"] is not None for p in chosen):
        return f"go-live {go_live_id} is rolled back already: nothing to roll back"
    later = sorted(
        {
            decided.get(p["point_of_access"], decided.get(None))["go_live_id"]
            for p in chosen
            if p["rolled_back_at"] is None
        }
    )
    return (
        f"go-live {go_live_id} is in force nowhere any more (superseded by go-live "
        f"{', '.join(map(str, later))}): nothing to roll back"
    )


def _names(points_of_access: Iterable[str | None]) -> str:
    return ", ".join(p or "every point of access" for p in points_of_access)


def _reason(reason) -> str:
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason or len(reason) > LONGEST_REASON:
        raise InvalidInput(f"'reason' must say why, in 1 to {LONGEST_REASON:,} characters")
    return reason


def _locked_definition(conn: Connection, key: str) -> None:
    if go_live_store.lock_definition(conn, key) is None:
        raise NotFound(f"no definition with key '{key}'")


def _audit(
    conn: Connection, client: Client, action: str, resource: str, go_live_id: int, outcome: int
) -> None:
    audit.append(
        conn,
        audit.Entry(action, resource, str(go_live_id), None, outcome, None),
        actor=client.actor,
        organisation=client.organisation,
        roles=sorted(client.roles),
    )


def _view(conn: Connection, key: str, go_live_id: int, now: datetime) -> dict:
    return next(v for v in go_live_views(go_live_store.points(conn, key), now) if v["id"] == go_live_id)
