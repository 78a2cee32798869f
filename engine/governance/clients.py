"""API clients: who is calling, for which organisation, in which roles. Tokens are stored hashed only."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from engine import clock
from engine.errors import DuplicateKey, InvalidInput, NotAllowed, NotAuthenticated, NotFound
from engine.governance import audit
from engine.store import api_clients as client_store
from engine.store import services as service_store
from engine.store.db import Database

# Platform roles act across organisations; every other role acts within its client's organisation. Only a
# platform admin grants a platform role (the start-up admin is one).
PLATFORM_ROLES = frozenset({"platform-admin", "platform-auditor"})
ROLES = (
    frozenset({"admin", "designer", "operator", "service", "referrer", "auditor", "clinical-approver"})
    | PLATFORM_ROLES
)
# Roles people hold (as opposed to systems): a client created with one of them must name its person.
HUMAN_ROLES = frozenset({"admin", "designer", "auditor", "clinical-approver"}) | PLATFORM_ROLES
# Who creates clients from the command line (``signpost clients create``), as the audit trail names it.
CLI_ACTOR = "signpost:cli"


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who a verified OpenID Connect token speaks for, in Signpost's terms (made by ``oidc``)."""

    external_subject: str  # "<issuer> <sub>"
    name: str
    organisation: str
    roles: frozenset[str]
    service: str | None


TOKEN_PREFIX = "sp_"  # noqa: S105 - a visible prefix so leaked tokens are recognisable, not a secret
# Recording every use would turn each read into a write; a minute's precision is plenty for "last used".
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class Client:
    id: int
    name: str
    organisation: str
    roles: frozenset[str]
    # For an operator: the point of access (a service id) whose referrals and tasks it works on.
    service: str | None = None
    # The person acting through this client (a staff number, an email), when one was given.
    person: str | None = None

    @property
    def actor(self) -> str:
        """How this client appears in event logs."""
        return f"client:{self.id}:{self.name}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Clients:
    def __init__(self, database: Database):
        self._database = database

    def create(
        self,
        *,
        name: str,
        organisation: str,
        roles: set[str],
        token: str | None = None,
        valid_for: timedelta | None = None,
        service: str | None = None,
        person: str | None = None,
        by: Client | str | None = None,
    ) -> tuple[Client, str]:
        """Register a client and return it with its bearer token (shown only now; only its hash is kept).
        With ``valid_for`` the token expires after that long. ``by`` is who asks: an admin client (API) or
        ``CLI_ACTOR``; then the client must name its ``person`` when it has a human role, an admin without
        the platform-admin role creates clients of its own organisation only and grants no platform role,
        and the creation is written to the audit trail. Without ``by`` (start-up, tests) none of that."""
        if valid_for is not None and valid_for <= timedelta(0):
            raise InvalidInput("a token's lifetime must be positive")
        unknown = set(roles) - ROLES
        if not roles or unknown:
            raise InvalidInput(
                f"roles must be some of {', '.join(sorted(ROLES))}; got {', '.join(sorted(roles))}"
            )
        if not name.strip() or not organisation.strip():
            raise InvalidInput("a client needs a name and an organisation")
        person = person.strip() or None if person is not None else None
        if by is not None:
            if roles & HUMAN_ROLES and person is None:
                raise InvalidInput(
                    f"a client with the role {', '.join(sorted(roles & HUMAN_ROLES))} acts for a person: "
                    "name them with 'person' (a staff number or an email)"
                )
            if isinstance(by, Client):
                _check_may_administer(by, organisation)
                if roles & PLATFORM_ROLES and "platform-admin" not in by.roles:
                    raise NotAllowed(
                        "only a platform admin grants the platform-admin or platform-auditor role"
                    )
        token = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._database.write() as conn:
            if service is not None:
                _check_point_of_access(conn, service, organisation)
            client_id = client_store.insert_client(
                conn,
                name=name,
                organisation=organisation,
                roles=roles,
                token_hash=hash_token(token),
                created_at=clock.now(),
                expires_at=clock.now() + valid_for if valid_for else None,
                service=service,
                person=person,
                created_by=by.id if isinstance(by, Client) else None,
            )
            if by is not None:
                _audit_client_change(conn, by, "create", "POST /api/v1/clients", client_id, 201)
        return Client(client_id, name, organisation, frozenset(roles), service, person), token

    def list(self, viewer: Client | None = None) -> list[dict]:
        """The clients ``viewer`` administers (every client for a platform admin or without a viewer, else
        its organisation's), without their tokens (only hashes are kept)."""
        organisation = None if viewer is None or "platform-admin" in viewer.roles else viewer.organisation
        with self._database.read() as conn:
            return [client_view(row) for row in client_store.list_clients(conn, organisation)]

    def view(self, client_id: int) -> dict:
        with self._database.read() as conn:
            row = client_store.client_row(conn, client_id)
        if row is None:
            raise NotFound(f"no client {client_id}")
        return client_view(row)

    def revoke(self, client_id: int, by: Client | str | None = None) -> dict:
        """Revoke a client's access at once. An admin ``by`` without the platform-admin role revokes its
        own organisation's clients only (another organisation's is not found), and none with a platform
        role; with ``by`` the revocation is written to the audit trail."""
        with self._database.write() as conn:
            row = client_store.client_row(conn, client_id)
            if row is None or (
                isinstance(by, Client)
                and "platform-admin" not in by.roles
                and row["organisation"] != by.organisation
            ):
                raise NotFound(f"no client {client_id}")
            if (
                isinstance(by, Client)
                and set(row["roles"]) & PLATFORM_ROLES
                and "platform-admin" not in by.roles
            ):
                raise NotAllowed("only a platform admin revokes a client with a platform role")
            if client_store.revoke_client(conn, client_id, clock.now()) and by is not None:
                _audit_client_change(
                    conn, by, "revoke", f"POST /api/v1/clients/{client_id}/revoke", client_id, 200
                )
            return client_view(client_store.client_row(conn, client_id))

    def ensure(self, *, token: str, name: str, organisation: str, roles: set[str]) -> Client:
        """The client holding ``token``, created first if there is none (start-up admin token)."""
        try:
            client = self.authenticate(token)
        except NotAuthenticated:
            pass
        else:
            if roles <= client.roles:
                return client
            # A start-up admin made before the platform roles existed becomes a platform admin.
            with self._database.write() as conn:
                client_store.set_client_roles(conn, client.id, client.roles | roles)
            return self.authenticate(token)
        try:
            return self.create(name=name, organisation=organisation, roles=roles, token=token)[0]
        except DuplicateKey:
            return self.authenticate(token)  # another process created it at the same moment

    def authenticate(self, token: str | None) -> Client:
        if not token:
            raise NotAuthenticated("send a bearer token: 'Authorization: Bearer <token>'")
        # One statement: no BEGIN and COMMIT to wait for on every request.
        with self._database.read_once() as conn:
            row = client_store.client_by_token_hash(conn, hash_token(token))
        now = clock.now()
        if row is None or row["revoked_at"] is not None:
            raise NotAuthenticated("the bearer token is not valid")
        if row["expires_at"] is not None and row["expires_at"] <= now:
            raise NotAuthenticated("the bearer token has expired")
        if row["last_used_at"] is None or now - row["last_used_at"] > LAST_USED_PRECISION:
            with self._database.write() as conn:
                client_store.touch_client(conn, row["id"], now)
        return client_of(row)

    def from_verified_claims(self, identity: VerifiedIdentity) -> Client:
        """The client a verified OpenID Connect token speaks for. Its row, keyed by issuer and subject, is
        created at first use (so audit records and ``created_by`` name it) and follows each token's name,
        organisation, roles and point of access. Revoking the row refuses the subject's further tokens."""
        now = clock.now()
        with self._database.read() as conn:
            if identity.service is not None:
                # The issuer vouches for the claims, not for how they fit together: a point of access of
                # another organisation is refused as a token client's would be (``create``).
                try:
                    _check_point_of_access(conn, identity.service, identity.organisation)
                except InvalidInput as error:
                    raise NotAuthenticated(f"the token's point of access is refused: {error}") from None
            row = client_store.client_by_external_subject(conn, identity.external_subject)
        if row is None:
            try:
                with self._database.write() as conn:
                    client_id = client_store.insert_client(
                        conn,
                        name=identity.name,
                        organisation=identity.organisation,
                        roles=identity.roles,
                        token_hash=None,
                        created_at=now,
                        service=identity.service,
                        external_subject=identity.external_subject,
                    )
                    client_store.touch_client(conn, client_id, now)
                return _client_from(client_id, identity)
            except DuplicateKey:
                # The subject's first two requests arrived together and the other one created the row.
                with self._database.read() as conn:
                    row = client_store.client_by_external_subject(conn, identity.external_subject)
                if row is None:
                    raise
        if row["revoked_at"] is not None:
            raise NotAuthenticated("this subject's access has been revoked")
        if row["expires_at"] is not None and row["expires_at"] <= now:
            raise NotAuthenticated("this subject's access has expired")
        current = {
            "name": identity.name,
            "organisation": identity.organisation,
            "roles": sorted(identity.roles),
            "service": identity.service,
        }
        changed = any(row[column] != value for column, value in current.items() if column != "roles")
        changed = changed or sorted(row["roles"]) != current["roles"]
        if changed or row["last_used_at"] is None or now - row["last_used_at"] > LAST_USED_PRECISION:
            with self._database.write() as conn:
                client_store.update_external_client(conn, row["id"], **current, last_used_at=now)
        return _client_from(row["id"], identity)


def _client_from(client_id: int, identity: VerifiedIdentity) -> Client:
    # The person behind an OpenID Connect token is its issuer's subject.
    return Client(
        client_id,
        identity.name,
        identity.organisation,
        identity.roles,
        identity.service,
        identity.external_subject,
    )


def client_of(row) -> Client:
    person = row["person"] or row["external_subject"]
    return Client(
        row["id"], row["name"], row["organisation"], frozenset(row["roles"]), row["service"], person
    )


def _check_may_administer(admin: Client, organisation: str) -> None:
    if "platform-admin" not in admin.roles and organisation != admin.organisation:
        raise NotAllowed(f"an admin of {admin.organisation} manages the clients of {admin.organisation} only")


def _audit_client_change(conn, by: Client | str, action: str, resource: str, client_id: int, outcome: int):
    audit.append(
        conn,
        audit.Entry(action, resource, f"client:{client_id}", None, outcome, None),
        actor=by if isinstance(by, str) else by.actor,
        organisation=None if isinstance(by, str) else by.organisation,
        roles=[] if isinstance(by, str) else sorted(by.roles),
    )


def _check_point_of_access(conn, service_id: str, organisation: str) -> None:
    """An operator works at a point of access its own organisation runs."""
    service = service_store.service(conn, service_id)
    if service is None or service["kind"] != "point-of-access":
        raise InvalidInput(f"'{service_id}' is not a point of access in the service directory")
    if service["organisation"] != organisation:
        raise InvalidInput(f"'{service_id}' is run by {service['organisation']}, not by {organisation}")


def client_view(row) -> dict:
    def when(value):
        return value.isoformat() if value else None

    return {
        "id": row["id"],
        "name": row["name"],
        "organisation": row["organisation"],
        "roles": row["roles"],
        "service": row["service"],
        "person": row["person"],
        "created_by": row["created_by"],
        "external_subject": row["external_subject"],
        "created_at": when(row["created_at"]),
        "expires_at": when(row["expires_at"]),
        "revoked_at": when(row["revoked_at"]),
        "last_used_at": when(row["last_used_at"]),
    }
