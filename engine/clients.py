"""API clients: who is calling, for which organisation, in which roles. Tokens are stored hashed only."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from engine import clock
from engine.errors import InvalidInput, NotAuthenticated, NotFound
from engine.store import repository as repo
from engine.store.db import Database

ROLES = frozenset({"admin", "designer", "operator", "service", "referrer", "auditor", "clinical-approver"})
TOKEN_PREFIX = "sp_"  # noqa: S105 - a visible prefix so leaked tokens are recognisable, not a secret
# Recording every use would turn each read into a write; a minute's precision is plenty for "last used".
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class Client:
    id: int
    name: str
    organisation: str
    roles: frozenset[str]

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
            client_id = repo.insert_client(
                conn,
                name=name,
                organisation=organisation,
                roles=roles,
                token_hash=hash_token(token),
                created_at=clock.now(),
                expires_at=clock.now() + valid_for if valid_for else None,
            )
        return Client(client_id, name, organisation, frozenset(roles)), token

    def list(self) -> list[dict]:
        """Every client without its token (only hashes are kept): for admins."""
        with self._database.read() as conn:
            return [client_view(row) for row in repo.list_clients(conn)]

    def revoke(self, client_id: int) -> dict:
        with self._database.write() as conn:
            if repo.client_row(conn, client_id) is None:
                raise NotFound(f"no client {client_id}")
            repo.revoke_client(conn, client_id, clock.now())
            return client_view(repo.client_row(conn, client_id))

    def ensure(self, *, token: str, name: str, organisation: str, roles: set[str]) -> Client:
        """The client holding ``token``, created first if there is none (start-up admin token)."""
        try:
            return self.authenticate(token)
        except NotAuthenticated:
            pass
        try:
            return self.create(name=name, organisation=organisation, roles=roles, token=token)[0]
        except IntegrityError:
            return self.authenticate(token)  # another process created it at the same moment

    def authenticate(self, token: str | None) -> Client:
        if not token:
            raise NotAuthenticated("send a bearer token: 'Authorization: Bearer <token>'")
        with self._database.read() as conn:
            row = repo.client_by_token_hash(conn, hash_token(token))
        now = clock.now()
        if row is None or row["revoked_at"] is not None:
            raise NotAuthenticated("the bearer token is not valid")
        if row["expires_at"] is not None and row["expires_at"] <= now:
            raise NotAuthenticated("the bearer token has expired")
        if row["last_used_at"] is None or now - row["last_used_at"] > LAST_USED_PRECISION:
            with self._database.write() as conn:
                repo.touch_client(conn, row["id"], now)
        return Client(row["id"], row["name"], row["organisation"], frozenset(row["roles"]))


def client_view(row) -> dict:
    def when(value):
        return value.isoformat() if value else None

    return {
        "id": row["id"],
        "name": row["name"],
        "organisation": row["organisation"],
        "roles": row["roles"],
        "created_at": when(row["created_at"]),
        "expires_at": when(row["expires_at"]),
        "revoked_at": when(row["revoked_at"]),
        "last_used_at": when(row["last_used_at"]),
    }
