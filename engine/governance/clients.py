"""API clients: who is calling, for which organisation, in which roles. Tokens are stored hashed only."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from engine import clock
from engine.errors import DuplicateKey, InvalidInput, NotAuthenticated, NotFound
from engine.store import api_clients as client_store
from engine.store import services as service_store
from engine.store.db import Database

ROLES = frozenset({"admin", "designer", "operator", "service", "referrer", "auditor", "clinical-approver"})


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
    ) -> tuple[Client, str]:
        """Register a client and return it with its bearer token (shown only now; only its hash is kept).
        With ``valid_for`` the token expires after that long."""
        if valid_for is not None and valid_for <= timedelta(0):
            raise InvalidInput("a token's lifetime must be positive")
        unknown = set(roles) - ROLES
        if not roles or unknown:
            raise InvalidInput(
                f"roles must be some of {', '.join(sorted(ROLES))}; got {', '.join(sorted(roles))}"
            )
        if not name.strip() or not organisation.strip():
            raise InvalidInput("a client needs a name and an organisation")
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
            )
        return Client(client_id, name, organisation, frozenset(roles), service), token

    def list(self) -> list[dict]:
        """Every client without its token (only hashes are kept): for admins."""
        with self._database.read() as conn:
            return [client_view(row) for row in client_store.list_clients(conn)]

    def view(self, client_id: int) -> dict:
        with self._database.read() as conn:
            row = client_store.client_row(conn, client_id)
        if row is None:
            raise NotFound(f"no client {client_id}")
        return client_view(row)

    def revoke(self, client_id: int) -> dict:
        with self._database.write() as conn:
            if client_store.client_row(conn, client_id) is None:
                raise NotFound(f"no client {client_id}")
            client_store.revoke_client(conn, client_id, clock.now())
            return client_view(client_store.client_row(conn, client_id))

    def ensure(self, *, token: str, name: str, organisation: str, roles: set[str]) -> Client:
        """The client holding ``token``, created first if there is none (start-up admin token)."""
        try:
            return self.authenticate(token)
        except NotAuthenticated:
            pass
        try:
            return self.create(name=name, organisation=organisation, roles=roles, token=token)[0]
        except DuplicateKey:
            return self.authenticate(token)  # another process created it at the same moment

    def authenticate(self, token: str | None) -> Client:
        if not token:
            raise NotAuthenticated("send a bearer token: 'Authorization: Bearer <token>'")
        with self._database.read() as conn:
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
    return Client(client_id, identity.name, identity.organisation, identity.roles, identity.service)


def client_of(row) -> Client:
    return Client(row["id"], row["name"], row["organisation"], frozenset(row["roles"]), row["service"])


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
        "external_subject": row["external_subject"],
        "created_at": when(row["created_at"]),
        "expires_at": when(row["expires_at"]),
        "revoked_at": when(row["revoked_at"]),
        "last_used_at": when(row["last_used_at"]),
    }
