"""API clients: who is calling, for which organisation, in which roles. Tokens are stored hashed only."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from engine import clock
from engine.errors import InvalidInput, NotAuthenticated
from engine.store import repository as repo
from engine.store.db import Database

ROLES = frozenset({"admin", "designer", "operator", "service", "referrer", "auditor"})
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
        self, *, name: str, organisation: str, roles: set[str], token: str | None = None
    ) -> tuple[Client, str]:
        """Register a client and return it with its bearer token (shown only now; only its hash is kept)."""
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
            )
        return Client(client_id, name, organisation, frozenset(roles)), token

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
        if row is None or row["revoked_at"] is not None:
            raise NotAuthenticated("the bearer token is not valid")
        now = clock.now()
        if row["last_used_at"] is None or now - row["last_used_at"] > LAST_USED_PRECISION:
            with self._database.write() as conn:
                repo.touch_client(conn, row["id"], now)
        return Client(row["id"], row["name"], row["organisation"], frozenset(row["roles"]))
