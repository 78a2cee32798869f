"""The personas tests act as, each defined once: who it is (organisation, roles and, for an operator, the
point of access it works at) and the two forms a test takes it in. ``gp`` is the engine's ``Client``, for
tests that call the engine; ``gp_headers`` is the ``Authorization`` header of that same client, for tests
that call the HTTP API. A test asking for both gets one client; each test gets clients of its own.

Registered from tests/conftest.py (``pytest_plugins``). A client a test needs only to show scoping (another
practice, another council) stays with that test, named for how it differs; ``token_for`` makes one ad hoc.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import pytest

if TYPE_CHECKING:
    from engine.governance.clients import Client

GP_PRACTICE = "city-gp-practice"
LPT = "leicestershire-partnership-nhs-trust"


class Enrolment(NamedTuple):
    """A client as it was made: the engine's view of it and its bearer token (shown only at creation)."""

    client: Client
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Persona:
    """Who a test acts as: the name, organisation and roles of a client and, for an operator, its point of
    access (a client of another system than ``signpost``: ``GP.enrol(system)``)."""

    name: str
    organisation: str
    roles: tuple[str, ...]
    service: str | None = None  # an operator's point of access; with none, all those its organisation runs

    def enrol(self, signpost) -> Enrolment:
        """A new client of this persona."""
        client, token = signpost.clients.create(
            name=self.name, organisation=self.organisation, roles=set(self.roles), service=self.service
        )
        return Enrolment(client, token)

    def client_in(self, signpost) -> Client:
        """A new client of this persona, for a helper that has no fixtures (or works on another system)."""
        return self.enrol(signpost).client


# A GP practice's system, which refers patients and reads what becomes of its referrals.
GP = Persona("gp", GP_PRACTICE, ("referrer",))
# The trust's system for its receiving services (the community nursing teams among them): it sees and works
# the hand-offs routed to any service of the trust.
NURSING_TEAM = Persona("lpt system", LPT, ("service",))
# An operator at the trust tied to no one point of access, so it works on the referrals of every point of
# access the trust runs (the community health SPA, which handles community nursing referrals, among them):
# the operators' tasks, the events and clocks of a referral, the obligations at risk (a duty manager's view).
OPERATOR = Persona("lpt operator", LPT, ("operator",))
# An operator at the GP practice itself. No point of access handles the sample pathways of
# tests/bpmn_samples.py, so the referrer's organisation operates their referrals: this is who works them.
PRACTICE_OPERATOR = Persona("practice operator", GP_PRACTICE, ("operator",))
DESIGNER = Persona("designer", "signpost-design", ("designer",))
# Information governance for the whole platform: it audits and exports every organisation's referrals.
AUDITOR = Persona("auditor", "information-governance", ("platform-auditor",))
# The platform's admin, like the start-up admin (SIGNPOST_ADMIN_TOKEN): it manages every organisation's
# clients.
ADMIN = Persona("admin", "signpost", ("admin", "platform-admin"))


@pytest.fixture
def enrolled(signpost):
    """This test's client of a persona, made the first time it is asked for: ``enrolled(GP).client``,
    ``.headers`` and ``.token`` are always the same client in one test."""
    made: dict[Persona, Enrolment] = {}

    def enrolment(persona: Persona) -> Enrolment:
        if persona not in made:
            made[persona] = persona.enrol(signpost)
        return made[persona]

    return enrolment


@pytest.fixture
def gp(enrolled) -> Client:
    return enrolled(GP).client


@pytest.fixture
def gp_headers(enrolled) -> dict[str, str]:
    return enrolled(GP).headers


@pytest.fixture
def nursing_team(enrolled) -> Client:
    return enrolled(NURSING_TEAM).client


@pytest.fixture
def nursing_team_headers(enrolled) -> dict[str, str]:
    return enrolled(NURSING_TEAM).headers


@pytest.fixture
def operator(enrolled) -> Client:
    return enrolled(OPERATOR).client


@pytest.fixture
def operator_headers(enrolled) -> dict[str, str]:
    return enrolled(OPERATOR).headers


@pytest.fixture
def practice_operator(enrolled) -> Client:
    return enrolled(PRACTICE_OPERATOR).client


@pytest.fixture
def practice_operator_headers(enrolled) -> dict[str, str]:
    return enrolled(PRACTICE_OPERATOR).headers


@pytest.fixture
def designer(enrolled) -> Client:
    return enrolled(DESIGNER).client


@pytest.fixture
def designer_headers(enrolled) -> dict[str, str]:
    return enrolled(DESIGNER).headers


@pytest.fixture
def auditor(enrolled) -> Client:
    return enrolled(AUDITOR).client


@pytest.fixture
def auditor_headers(enrolled) -> dict[str, str]:
    return enrolled(AUDITOR).headers


@pytest.fixture
def admin(enrolled) -> Client:
    return enrolled(ADMIN).client


@pytest.fixture
def admin_headers(enrolled) -> dict[str, str]:
    return enrolled(ADMIN).headers
