"""A fixed, broad scenario driven through the HTTP API on a pinned clock, then a normalized JSON dump of every
table: proof that a refactor changed no stored outcome.

Run it on the code before and after a change, each checkout with its own interpreter and as the working
directory, and compare the dumps; they must be identical::

    git worktree add ../signpost-old <old commit>    # once, then give it its own .venv
    SNAPSHOT=$PWD/bench/store_snapshot.py
    (cd ../signpost-old && PYTHONPATH=$PWD .venv/bin/python $SNAPSHOT --out /tmp/old.json)
    PYTHONPATH=$PWD .venv/bin/python $SNAPSHOT --out /tmp/new.json
    diff /tmp/old.json /tmp/new.json && echo identical
    .venv/bin/python $SNAPSHOT --compare /tmp/old.json /tmp/new.json   # the differing rows, table by table

``--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres`` runs it on a scratch database created
on that server (and dropped afterwards) instead of a fresh SQLite file. Compare dumps of the same backend.

The script imports nothing of the project but its public entry points (``engine.settings.Settings``,
``engine.system.build``, ``api.create_app`` and the schema's ``engine.store.tables.metadata``), so that it
runs unchanged on both sides of a refactor that moves modules. It deploys ``processes/`` and ``sops/`` of the
checkout it runs in and then, with the Flask test client: approves the pathways, creates clients, subscribes
a webhook, starts referrals on each pathway and works them through user tasks and every hand-off action
(acknowledge, accept with a window, schedule, request-information and the referrer's answer, reject,
transfer, start, complete), cancels one, moves the clock so that BPMN timers fire and OLA clocks warn and
breach (``signpost.tick()``), reads the audit trail, FHIR views and reports, and finally lets retention
redact finished referrals. Everything random is made deterministic (see ``deterministic``); what cannot be
(Fernet ciphertexts) is normalized in the dump.

The output is one JSON document: ``tables`` (every table of the schema plus ``alembic_version``, each a list
of rows sorted by primary key) and ``responses`` (every request made, with its status and JSON body).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import secrets
import sys
import tempfile
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
import time_machine
from cryptography.fernet import Fernet, MultiFernet

SEED = 20261123
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday at 9 (GMT: local time is UTC)
# A fixed Fernet key for the webhook secrets stored by the scenario (no key file is made beside the database).
SECRET_KEY = "nOu9XWJzCEk8qJXFvY8kt2fh8rp6oA-H6ez6Pc8mvNY="  # noqa: S105 - a fixed test key
# Fixed, so that the chain's HMACs come out the same in every run.
AUDIT_KEY = "snapshot:Zx4rT8bN2mQ6wE1yU5iO9pA3sD7fG0hJ"
# TEST-NET-1 (RFC 5737): reserved for documentation, never routed. The subscription is made by a system
# that allows non-public webhook addresses (as the tests' settings do); the system that ticks refuses them
# at send time, as production does, before opening any connection (an IP literal needs no DNS either). So
# deliveries fail, are retried with (seeded) jitter and dead-lettered, and nothing reaches the network.
WEBHOOK_URL = "https://192.0.2.10/signpost/webhooks"

GP_PRACTICE = "C81001"
LPT = "leicestershire-partnership-nhs-trust"
CITY = "leicester-city-council"
COUNTY = "leicestershire-county-council"
UHL = "university-hospitals-of-leicester"
EMAS = "east-midlands-ambulance-service"
GP_ORG = "city-gp-practice"

PATHWAYS = ("community_nursing_referral", "adult_social_care_front_door", "bed_bureau_admission")


# ---- determinism ---------------------------------------------------------------------------------------


def deterministic(seed: int) -> None:
    """Replace every source of randomness the engine draws on with a seeded generator of its own (one per
    kind, so that a change in how often one is drawn does not shift the others):

    - ``uuid.uuid4``: referral, instance, hand-off, OLA clock and subscription ids, and SpiffWorkflow's task
      ids (which it imports as ``from uuid import uuid4``, hence the sweep over loaded modules below);
    - ``secrets.token_bytes`` / ``token_hex`` / ``token_urlsafe``: API tokens (stored as their SHA-256) and
      webhook secrets;
    - ``secrets.choice``: referral references (SP-XXXXXXXX);
    - ``random``: the retry jitter of webhook deliveries (module-level ``random.uniform``).

    Must be called after the project is imported, so that names bound with ``from … import`` are swept too.
    """
    uuid_rng = random.Random(f"{seed}:uuid")
    token_rng = random.Random(f"{seed}:token")
    choice_rng = random.Random(f"{seed}:choice")
    jitter_rng = random.Random(f"{seed}:jitter")

    def uuid4() -> uuid.UUID:
        return uuid.UUID(int=uuid_rng.getrandbits(128), version=4)

    def token_bytes(nbytes: int | None = None) -> bytes:
        return token_rng.randbytes(32 if nbytes is None else nbytes)

    def token_hex(nbytes: int | None = None) -> str:
        return token_bytes(nbytes).hex()

    def token_urlsafe(nbytes: int | None = None) -> str:
        return base64.urlsafe_b64encode(token_bytes(nbytes)).rstrip(b"=").decode("ascii")

    replacements = {
        uuid.uuid4: uuid4,
        secrets.token_bytes: token_bytes,
        secrets.token_hex: token_hex,
        secrets.token_urlsafe: token_urlsafe,
        secrets.choice: choice_rng.choice,
        random.uniform: jitter_rng.uniform,
        random.random: jitter_rng.random,
        random.randint: jitter_rng.randint,
        random.choice: jitter_rng.choice,
    }
    random.seed(seed)  # anything else drawing on the module-level generator
    # By identity: the originals stay alive in ``replacements``, so their ids cannot be reused.
    by_id = {id(original): replacement for original, replacement in replacements.items()}
    for module in list(sys.modules.values()):
        for name, value in list(getattr(module, "__dict__", {}).items()):
            replacement = by_id.get(id(value))
            if replacement is not None:
                setattr(module, name, replacement)


# ---- the database --------------------------------------------------------------------------------------


@contextmanager
def scratch_database(server_url: str | None):
    """A fresh SQLite file, or a scratch database created on the PostgreSQL server and dropped after."""
    if not server_url or server_url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="signpost-snapshot-") as folder:
            yield f"sqlite:///{Path(folder) / 'signpost.db'}"
        return
    url = sa.make_url(server_url)
    name = f"signpost_snapshot_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def plain(value):
    """A stored value as JSON can hold it, the same way on every run."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def dump_tables(database_url: str) -> dict:
    from engine.store.tables import metadata

    # The one column left random: a Fernet token carries a random IV (os.urandom), so the stored ciphertext
    # of the same webhook secret differs from run to run. Compare what it decrypts to instead (itself
    # deterministic, see ``deterministic``). Every hash stored is kept as it is: api_clients.token_hash
    # hashes a token drawn from the seeded generator, audit_log.hash chains deterministic records, and
    # idempotency_keys.request_sha256 hashes the request. Webhook signatures (HMAC) are never stored.
    box = MultiFernet([Fernet(SECRET_KEY)])

    def unsealed(value):
        if isinstance(value, str) and value.startswith("fernet:"):
            return {"fernet_plaintext": box.decrypt(value.removeprefix("fernet:").encode()).decode()}
        return value

    normalize = {("subscriptions", "secret"): unsealed, ("subscriptions", "previous_secret"): unsealed}
    engine = sa.create_engine(database_url)
    tables = {}
    try:
        with engine.connect() as conn:
            stored = set(sa.inspect(conn).get_table_names())
            expected = {t.name for t in metadata.sorted_tables}
            if stored - expected - {"alembic_version"} or expected - stored:
                raise SystemExit(f"tables differ from the schema: {sorted(stored ^ expected)}")
            for table in sorted(metadata.sorted_tables, key=lambda t: t.name):
                key = [c.name for c in table.primary_key.columns] or [c.name for c in table.columns]
                rows = [dict(r) for r in conn.execute(sa.select(table)).mappings()]
                rows.sort(key=lambda r: tuple((r[k] is None, r[k]) for k in key))
                tables[table.name] = [
                    {c: plain(normalize.get((table.name, c), lambda v: v)(v)) for c, v in row.items()}
                    for row in rows
                ]
            if "alembic_version" in stored:
                versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
                tables["alembic_version"] = [{"version_num": v} for v in sorted(versions)]
    finally:
        engine.dispose()
    return tables


# ---- the HTTP driver -----------------------------------------------------------------------------------


class UnexpectedAnswer(Exception):
    pass


class Api:
    """The Flask test client, with a bearer token per named client and a transcript of every exchange."""

    def __init__(self, http, traveller):
        self.http = http
        self.clock = traveller
        self.tokens: dict[str, str] = {}
        self.transcript: list[dict] = []

    def call(self, who, method, path, *, json=None, query=None, data=None, headers=None, expect=200):
        sent = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        sent.update(headers or {})
        response = self.http.open(path, method=method, json=json, query_string=query, data=data, headers=sent)
        body = response.get_json(silent=True) if response.is_json else response.get_data(as_text=True)
        self.transcript.append(
            {
                "at": datetime.now(UTC).isoformat(),
                "who": who,
                "request": f"{method} {path}",
                "query": query,
                "json": json,
                "status": response.status_code,
                "headers": {
                    k: response.headers[k]
                    for k in ("ETag", "Location", "Idempotent-Replayed")
                    if k in response.headers
                },
                "body": body,
            }
        )
        if response.status_code != expect:
            raise UnexpectedAnswer(
                f"{method} {path} as {who}: expected {expect}, got {response.status_code}: {body}"
            )
        return body

    def get(self, who, path, **kw):
        return self.call(who, "GET", path, **kw)

    def post(self, who, path, body=None, **kw):
        return self.call(who, "POST", path, json=body if body is not None else {}, **kw)

    # -- the scenario's vocabulary --

    def later(self, **delta) -> None:
        self.clock.shift(timedelta(**delta))

    def start(self, who, pathway, subject, data, *, referrer=GP_PRACTICE, headers=None, expect=201) -> dict:
        self.later(minutes=1)
        body = {"pathway": pathway, "referrer": referrer, "subject": subject, "data": data}
        return self.post(who, "/api/v1/referrals", body, headers=headers, expect=expect)

    def referral(self, who, referral_id) -> dict:
        return self.get(who, f"/api/v1/referrals/{referral_id}")

    def handoff_to(
        self,
        who,
        referral_id,
        service,
        statuses=("requested", "received", "accepted", "in-progress", "on-hold"),
    ) -> dict:
        found = [
            h
            for h in self.referral(who, referral_id)["handoffs"]
            if h["to_service"] == service and h["status"] in statuses
        ]
        if len(found) != 1:
            raise UnexpectedAnswer(f"referral {referral_id}: {len(found)} open hand-offs to {service}")
        return found[0]

    def act(self, service_client, handoff_id, action, body=None, *, headers=None, expect=200) -> dict:
        self.later(minutes=1)
        return self.post(
            service_client,
            f"/api/v1/handoffs/{handoff_id}/{action}",
            body or {},
            headers=headers,
            expect=expect,
        )

    def task(self, operator, referral_id, element_id) -> dict:
        tasks = self.get(operator, "/api/v1/tasks", query={"referral": referral_id})
        found = [t for t in tasks if t["element_id"] == element_id]
        if len(found) != 1:
            raise UnexpectedAnswer(f"referral {referral_id}: tasks {[t['element_id'] for t in tasks]}")
        return found[0]

    def complete(self, operator, referral_id, element_id, data, *, claim=False) -> dict:
        task = self.task(operator, referral_id, element_id)
        self.later(minutes=1)
        if claim:
            self.post(operator, f"/api/v1/tasks/{task['id']}/claim")
        return self.post(operator, f"/api/v1/tasks/{task['id']}/complete", {"data": data})


# ---- the scenario --------------------------------------------------------------------------------------

NURSING_ROUTINE = {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False}
CONTACT = {
    "needs_description": "Struggling to wash and dress since a fall; daughter visits weekly",
    "need_type": "personal_care",
    "address_postcode": "LE2 1AA",
    "age": 82,
    "consent_given": True,
    "safeguarding_concern": False,
    "risk_indicators": None,
    "open_case_worker": None,
}
BREATHLESS_BY_AMBULANCE = {
    "presenting_problem": "breathlessness",
    "news2_score": 6,
    "specialty": "respiratory",
    "needs_ambulance": True,
    "pickup_address": "12 Narborough Road, Leicester LE3 0BQ",
    "preferred_hospital": None,
    "clinical_summary": "COPD exacerbation, saturation 88% on air",
}
FALL_AT_HOME = {
    "presenting_problem": "fall",
    "news2_score": 2,
    "specialty": "acute_medicine",
    "needs_ambulance": False,
    "pickup_address": None,
    "preferred_hospital": None,
    "clinical_summary": "Found on the floor, no injury, carer unable to cope",
}
LOW_ACUITY_INFECTION = {
    "presenting_problem": "infection",
    "news2_score": 3,
    "specialty": "acute_medicine",
    "needs_ambulance": False,
    "pickup_address": None,
    "preferred_hospital": "leicester-general-hospital-admissions",
    "clinical_summary": "Urinary infection, not improving on oral antibiotics",
}
CLIENTS = (  # name, organisation, roles, extra
    ("designer", "signpost-design", ["designer"], {"person": "designer@signpost-design.example"}),
    ("approver", "clinical-safety", ["clinical-approver"], {"person": "approver@clinical-safety.example"}),
    ("gp", GP_ORG, ["referrer"], {}),
    ("lpt-operator", LPT, ["operator"], {}),
    ("spoc-operator", CITY, ["operator"], {"service": "city-single-point-of-contact"}),
    ("bed-clerk", UHL, ["operator"], {}),
    ("bed-clinician", UHL, ["operator"], {"valid_for_days": 365}),
    ("lpt-service", LPT, ["service"], {}),
    ("city-service", CITY, ["service"], {}),
    ("county-service", COUNTY, ["service"], {}),
    ("uhl-service", UHL, ["service"], {}),
    ("emas-service", EMAS, ["service"], {}),
    (
        "auditor",
        "information-governance",
        ["auditor", "platform-auditor"],
        {"person": "auditor@information-governance.example"},
    ),
    ("leaver", GP_ORG, ["referrer"], {"valid_for_days": 30}),
)


def run(signpost, permissive, create_app, root: Path, api: Api) -> None:
    # Deploy as `signpost deploy processes sops` does: the service directory, the OLA terms, the pathways.
    sops = root / "sops"
    signpost.services.load_directory(
        (sops / "services.toml").read_text(), "sops/services.toml", "cli:snapshot"
    )
    signpost.olas.load_terms((sops / "olas.toml").read_text(), "sops/olas.toml", "cli:snapshot")
    _admin, api.tokens["admin"] = signpost.clients.create(
        name="admin", organisation="signpost", roles={"admin", "platform-admin"}, person="platform admin"
    )

    for name, organisation, roles, extra in CLIENTS:
        body = {"name": name, "organisation": organisation, "roles": roles, **extra}
        api.tokens[name] = api.post("admin", "/api/v1/clients", body, expect=201)["token"]
    api.get("admin", "/api/v1/clients")

    # The diagrams and a blueprint's variants (the front door's, one per council).
    files = sorted(
        p
        for p in (root / "processes").iterdir()
        if p.suffix in (".bpmn", ".dmn") or p.name.endswith((".variants.toml", ".form.json"))
    )
    for pathway in PATHWAYS:
        upload = {"files": [(io.BytesIO(p.read_bytes()), p.name) for p in files], "key": pathway}
        api.call("designer", "POST", "/api/v1/definitions", data=upload, expect=201)
        api.later(seconds=30)
    api.call(
        "designer",
        "POST",
        "/api/v1/definitions",
        data={"files": [(io.BytesIO(p.read_bytes()), p.name) for p in files], "key": PATHWAYS[0]},
    )  # identical content: the existing version (200)
    api.get("designer", "/api/v1/definitions")
    # Not approved yet: a referral is refused.
    api.start("gp", PATHWAYS[0], "9434765919", NURSING_ROUTINE, expect=409)
    for pathway in PATHWAYS:
        # The reason (required since the approval kept one) is ignored by code from before that.
        api.post(
            "approver",
            f"/api/v1/definitions/{pathway}/versions/1/approve",
            {"reason": "Clinical safety review of the shipped pathway"},
        )
    # The front door's referrals below start at the city's point of access: its variant needs approving too.
    api.post(
        "approver",
        f"/api/v1/definitions/{PATHWAYS[1]}/versions/1/variants/city/approve",
        {"reason": "Clinical safety review of the city's variant"},
    )
    api.get("designer", f"/api/v1/definitions/{PATHWAYS[1]}/versions/1")

    api.later(minutes=5)
    api.post(
        "admin",
        "/api/v1/calendars/office-hours/closures",
        {
            "starts_at": "2026-11-25T12:00:00+00:00",
            "ends_at": "2026-11-25T17:00:00+00:00",
            "reason": "staff training",
        },
        expect=201,
    )
    api.get("gp", "/api/v1/calendars")

    # The GP practice subscribes to every referral it submits (see WEBHOOK_URL for why nothing is sent).
    with permissive_api(permissive, create_app, api) as subscribing:
        subscription = subscribing.post("gp", "/api/v1/subscriptions", {"url": WEBHOOK_URL}, expect=201)

    # ---- community nursing ----
    n1 = api.start("gp", PATHWAYS[0], "9434765919", NURSING_ROUTINE, headers={"Idempotency-Key": "n1"})
    api.start("gp", PATHWAYS[0], "9434765919", NURSING_ROUTINE, headers={"Idempotency-Key": "n1"})  # replayed
    api.start(
        "gp",
        PATHWAYS[0],
        "9434765919",
        {**NURSING_ROUTINE, "housebound": True},
        headers={"Idempotency-Key": "n1"},
        expect=409,
    )  # same key, other body
    n2 = api.start("gp", PATHWAYS[0], "9434765927", {**NURSING_ROUTINE, "clinical_need": "end_of_life"})
    n3 = api.start(
        "gp", PATHWAYS[0], "9434765935", {**NURSING_ROUTINE, "clinical_need": None, "address_postcode": ""}
    )
    n4 = api.start("gp", PATHWAYS[0], "9434765943", {**NURSING_ROUTINE, "address_postcode": "NN1 1AA"})
    n5 = api.start(
        "gp",
        PATHWAYS[0],
        "9434765951",
        {"clinical_need": "wound_care", "housebound": True, "address_postcode": "LE11 3AB"},
    )
    n6 = api.start("gp", PATHWAYS[0], "9434765978", NURSING_ROUTINE)
    n7 = api.start("gp", PATHWAYS[0], "9434765986", {**NURSING_ROUTINE, "clinical_need": "catheter"})

    # n1: every step of the happy path, with If-Match on the acknowledgement and a stale one refused.
    h1 = api.handoff_to("gp", n1["id"], "community-nursing-city")
    fresh = api.get("lpt-service", f"/api/v1/handoffs/{h1['id']}")
    api.act("lpt-service", h1["id"], "acknowledge", headers={"If-Match": fresh["etag"]})
    api.act(
        "lpt-service",
        h1["id"],
        "accept",
        {"window": "Tue 14:00-16:00"},
        headers={"If-Match": fresh["etag"]},
        expect=412,
    )
    api.act(
        "lpt-service",
        h1["id"],
        "accept",
        {"window": "Tue 14:00-16:00"},
        headers={"Idempotency-Key": "accept-n1"},
    )
    api.act(
        "lpt-service",
        h1["id"],
        "accept",
        {"window": "Tue 14:00-16:00"},
        headers={"Idempotency-Key": "accept-n1"},
    )  # replayed
    api.act("lpt-service", h1["id"], "schedule", {"window": "Wed 10:00-12:00"})
    api.act("lpt-service", h1["id"], "start")
    api.act("lpt-service", h1["id"], "complete", {"outcome": "wound dressed"})
    api.act("lpt-service", h1["id"], "start", expect=409)  # completed already

    # n3: the operator completes the dataset in two goes.
    api.complete(
        "lpt-operator", n3["id"], "complete_missing_information", {"clinical_need": "wound_care"}, claim=True
    )
    api.complete("lpt-operator", n3["id"], "complete_missing_information", {"address_postcode": "LE15 6AB"})

    # n4: rejected by the point of access it was routed to; the operator closes it.
    h4 = api.handoff_to("gp", n4["id"], "community-health-spa")
    api.act("lpt-service", h4["id"], "reject", {"reason": "out of area"})
    api.complete("lpt-operator", n4["id"], "review_rejection", {"action_taken": "signposted to GP"})

    # n5: the team asks the referrer a question; the GP answers; the visit goes ahead.
    h5 = api.handoff_to("gp", n5["id"], "community-nursing-county-north")
    api.act("lpt-service", h5["id"], "acknowledge")
    api.act("lpt-service", h5["id"], "request-information", {"question": "Is there a key safe? Code?"})
    api.get("gp", f"/api/v1/referrals/{n5['id']}/timeline")
    api.later(minutes=20)
    api.post(
        "gp",
        f"/api/v1/referrals/{n5['id']}/information",
        {"answer": {"key_safe": "yes", "code": "given by phone"}},
    )
    api.post("gp", f"/api/v1/referrals/{n5['id']}/information", {"answer": {"again": True}}, expect=409)

    # n6: the referrer withdraws it before the team responds.
    api.later(minutes=2)
    api.post("gp", f"/api/v1/referrals/{n6['id']}/cancel", {"reason": "patient admitted to hospital"})

    # n7: the city team passes it to urgent community response, which accepts it.
    h7 = api.handoff_to("gp", n7["id"], "community-nursing-city")
    api.act("lpt-service", h7["id"], "complete", {"outcome": "too soon"}, expect=409)
    api.act(
        "lpt-service",
        h7["id"],
        "transfer",
        {"to_service": "urgent-community-response", "reason": "needs a same-day visit"},
    )
    h7b = api.handoff_to("gp", n7["id"], "urgent-community-response")
    api.act("lpt-service", h7b["id"], "accept", {"window": "today 15:00-17:00"})

    # ---- adult social care front door ----
    f1 = api.start("gp", PATHWAYS[1], "9434765994", {**CONTACT, "need_type": "social_isolation"})
    api.complete("spoc-operator", f1["id"], "confirm_eligibility", {"triage_notes": "lonely, no care need"})

    f2 = api.start(
        "gp",
        PATHWAYS[1],
        "9434766001",
        {**CONTACT, "open_case_worker": "Priya Shah (SW-1042)", "address_postcode": "LE3 9QP"},
    )
    api.complete("spoc-operator", f2["id"], "confirm_eligibility", {"triage_notes": "agree"})
    h2 = api.handoff_to("spoc-operator", f2["id"], "city-duty-social-work")
    api.act("city-service", h2["id"], "acknowledge")
    api.act("city-service", h2["id"], "accept")
    api.act("city-service", h2["id"], "complete", {"outcome": "care plan reviewed"})

    f3 = api.start("gp", PATHWAYS[1], "9434766028", {**CONTACT, "age": None, "consent_given": None})
    api.complete("spoc-operator", f3["id"], "complete_contact_details", {"age": 82})
    api.complete("spoc-operator", f3["id"], "complete_contact_details", {"consent_given": True})
    api.complete("spoc-operator", f3["id"], "confirm_eligibility", {"triage_notes": "agree"})
    # f3 waits at the duty worker's assessment: its timer fires when the clock jumps at the end.

    f4 = api.start("gp", PATHWAYS[1], "9434766036", {**CONTACT, "open_case_worker": "Priya Shah (SW-1042)"})
    api.complete("spoc-operator", f4["id"], "confirm_eligibility", {"triage_notes": "agree"})
    h4c = api.handoff_to("spoc-operator", f4["id"], "city-duty-social-work")
    api.act("city-service", h4c["id"], "accept")
    api.act(
        "city-service",
        h4c["id"],
        "transfer",
        {"to_service": "county-duty-social-work", "reason": "moved to Loughborough last week"},
    )
    h4d = api.handoff_to("spoc-operator", f4["id"], "county-duty-social-work")
    api.act("county-service", h4d["id"], "reject", {"reason": "no open case here"})
    api.complete(
        "spoc-operator",
        f4["id"],
        "review_rejected_handoff",
        {"open_case_worker": None, "duty_team": "county-duty-social-work", "address_postcode": "LE11 3AB"},
    )

    f5 = api.start("gp", PATHWAYS[1], "9434765919", {**CONTACT, "risk_indicators": ["falls", "lives_alone"]})
    api.complete("spoc-operator", f5["id"], "confirm_eligibility", {"triage_notes": "agree"})
    api.complete(
        "spoc-operator",
        f5["id"],
        "duty_worker_assessment",
        {"assessment_outcome": "urgent_community_response", "assessment_summary": "fallen twice"},
    )
    h5u = api.handoff_to("spoc-operator", f5["id"], "urgent-community-response")
    api.act("lpt-service", h5u["id"], "reject", {"reason": "needs a GP review first"})
    api.complete(
        "spoc-operator",
        f5["id"],
        "review_rejected_handoff",
        {
            "eligible": False,
            "signpost_to": "the person's GP practice",
            "eligibility_reason": "GP review first",
        },
    )

    # ---- bed bureau admission ----
    b1 = api.start("gp", PATHWAYS[2], "9434765927", BREATHLESS_BY_AMBULANCE)
    api.complete("bed-clerk", b1["id"], "bed_check", {"hospital": "glenfield-hospital-admissions"})
    hb1 = api.handoff_to("bed-clerk", b1["id"], "glenfield-hospital-admissions")
    api.act("uhl-service", hb1["id"], "acknowledge")
    api.act("uhl-service", hb1["id"], "accept")
    # b1 now waits for the ambulance booking: its 30-minute chase timer fires below.

    b2 = api.start("gp", PATHWAYS[2], "9434765935", FALL_AT_HOME)
    hb2 = api.handoff_to("bed-clerk", b2["id"], "city-icrs")
    api.act("city-service", hb2["id"], "accept")
    api.act("city-service", hb2["id"], "complete", {"outcome": "care package restarted at home"})

    b3 = api.start("gp", PATHWAYS[2], "9434765943", LOW_ACUITY_INFECTION)
    hb3 = api.handoff_to("bed-clerk", b3["id"], "clinical-navigation-hub")
    api.act("lpt-service", hb3["id"], "reject", {"reason": "needs acute assessment"})
    api.complete("bed-clinician", b3["id"], "review_declined_alternative", {"clinician_decision": "admit"})
    api.complete("bed-clerk", b3["id"], "bed_check", {"hospital": "leicester-general-hospital-admissions"})
    hb3g = api.handoff_to("bed-clerk", b3["id"], "leicester-general-hospital-admissions")
    api.act("uhl-service", hb3g["id"], "accept")

    b4 = api.start("gp", PATHWAYS[2], "9434765951", BREATHLESS_BY_AMBULANCE)
    api.complete("bed-clerk", b4["id"], "bed_check", {"hospital": "glenfield-hospital-admissions"})
    api.act(
        "uhl-service", api.handoff_to("bed-clerk", b4["id"], "glenfield-hospital-admissions")["id"], "accept"
    )
    hb4t = api.handoff_to("bed-clerk", b4["id"], "patient-transport")
    api.act("emas-service", hb4t["id"], "reject", {"reason": "needs a paramedic crew: call 999"})
    api.complete(
        "bed-clinician",
        b4["id"],
        "arrange_transport_otherwise",
        {"transport_arrangement": "999 ambulance", "pickup_window": "within the hour"},
    )

    # ---- time passes: timers fire, OLA clocks warn and breach, deliveries are attempted ----
    def tick_at(minutes_after_start: float) -> None:
        api.clock.move_to(START + timedelta(minutes=minutes_after_start))
        signpost.tick()

    for minutes in (100, 115, 130, 160):
        tick_at(minutes)
    api.get("lpt-operator", "/api/v1/obligations", query={"state": ["running", "breached"]})
    # b1's ambulance chase fires: the clerk chases, then the booking is confirmed.
    api.complete("bed-clerk", b1["id"], "chase_ambulance", {"chase_note": "crew allocation pending"})
    api.act(
        "emas-service",
        api.handoff_to("bed-clerk", b1["id"], "patient-transport")["id"],
        "accept",
        {"window": "10:30-11:00"},
    )
    for minutes in (200, 245, 300):
        tick_at(minutes)
    # n2 (urgent) escalated when acceptance was 2 hours overdue.
    api.complete(
        "lpt-operator", n2["id"], "escalate_to_duty_manager", {"escalation_note": "rang the lead"}, claim=True
    )
    h2n = api.handoff_to("gp", n2["id"], "community-nursing-city")
    api.act("lpt-service", h2n["id"], "accept", {"window": "today 15:00-17:00"})
    api.act("lpt-service", h2n["id"], "complete", {"outcome": "symptoms controlled"})
    api.act("lpt-service", h5["id"], "accept", {"window": "Thu 09:00-10:00"})
    api.act("lpt-service", h7b["id"], "start")
    for minutes in (8 * 60, 11 * 60, 14 * 60, 20 * 60):
        tick_at(minutes)
    api.act("lpt-service", h7b["id"], "complete", {"outcome": "catheter replaced"})
    api.act("lpt-service", h5["id"], "start")

    # ---- reads: what referrers, operators, services and auditors see ----
    for referral in (n1, n2, n5, f2, f4, b1, b3):
        api.referral("gp", referral["id"])
        api.get("gp", f"/api/v1/referrals/{referral['id']}/timeline")
    api.get("lpt-operator", f"/api/v1/referrals/{n2['id']}/events")
    api.get("spoc-operator", f"/api/v1/referrals/{f4['id']}/events")
    api.get("lpt-operator", f"/api/v1/referrals/{f1['id']}", expect=404)  # another organisation's
    api.post("gp", "/api/v1/referrals/search", {"subject": "9434765919"})
    api.get("lpt-service", "/api/v1/services/community-nursing-city/handoffs")
    api.get(
        "uhl-service",
        "/api/v1/services/glenfield-hospital-admissions/handoffs",
        query={"status": ["accepted", "completed"]},
    )
    api.get("spoc-operator", "/api/v1/tasks", query={"status": "completed"})
    api.get("gp", f"/fhir/ServiceRequest/{n1['id']}")
    api.get("lpt-service", f"/fhir/Task/{h1['id']}")
    api.get("gp", "/fhir/Task", query={"focus": f"ServiceRequest/{b3['id']}"})
    api.get("lpt-operator", "/api/v1/obligations", query={"state": ["running", "paused", "breached"]})
    report_window = {"from": "2026-11-23T00:00:00+00:00", "to": "2026-11-30T00:00:00+00:00"}
    api.get("lpt-operator", "/api/v1/reports/ola", query=report_window)
    api.get("lpt-operator", "/api/v1/reports/ola.csv", query=report_window)
    sid = subscription["id"]
    api.get("gp", "/api/v1/subscriptions")
    api.get("gp", f"/api/v1/subscriptions/{sid}/events", query={"since": 3})
    api.get("gp", f"/api/v1/subscriptions/{sid}/deliveries")
    api.get("gp", f"/api/v1/referrals/{n1['id']}/deliveries")
    api.post("gp", f"/api/v1/subscriptions/{sid}/rotate-secret", {"grace_seconds": 3600})
    for referral in (n1, n5, n6, f4, b1):
        api.get("auditor", "/api/v1/audit", query={"referral": referral["id"]})

    # ---- a client leaves; days pass; retention redacts finished referrals ----
    leaver_id = next(c["id"] for c in api.get("admin", "/api/v1/clients") if c["name"] == "leaver")
    api.post("admin", f"/api/v1/clients/{leaver_id}/revoke")
    api.get("leaver", f"/api/v1/referrals/{n1['id']}", expect=401)
    for day in (1, 2, 3, 4):
        tick_at(day * 24 * 60 + 5)
    api.complete("spoc-operator", f3["id"], "escalate_overdue_assessment", {"note": "allocated today"})
    api.complete(
        "spoc-operator",
        f3["id"],
        "duty_worker_assessment",
        {"assessment_outcome": "no_further_action", "assessment_summary": "daughter visits daily"},
    )
    api.act("lpt-service", h5["id"], "complete", {"outcome": "leg ulcer dressed"})
    tick_at(4 * 24 * 60 + 90)
    api.post("auditor", "/api/v1/subject-access-requests", {"subject": "9434765919"})
    api.get("auditor", "/api/v1/audit", query={"referral": n1["id"]})
    api.get("gp", f"/api/v1/subscriptions/{sid}/deliveries")


@contextmanager
def permissive_api(permissive, create_app, api: Api):
    other = Api(create_app(permissive).test_client(), api.clock)
    other.tokens = api.tokens
    other.transcript = api.transcript
    try:
        yield other
    finally:
        permissive.close()


def compare(old_path: Path, new_path: Path) -> int:
    """Print the rows (by primary key) and responses that differ between two dumps; 0 when identical."""
    old, new = json.loads(old_path.read_text()), json.loads(new_path.read_text())
    differences = 0
    for name in sorted(set(old["tables"]) | set(new["tables"])):
        before, after = old["tables"].get(name, []), new["tables"].get(name, [])
        for index in range(max(len(before), len(after))):
            row_before = before[index] if index < len(before) else None
            row_after = after[index] if index < len(after) else None
            if row_before != row_after:
                differences += 1
                columns = sorted(set(row_before or {}) | set(row_after or {}))
                changed = {
                    c: [(row_before or {}).get(c), (row_after or {}).get(c)]
                    for c in columns
                    if (row_before or {}).get(c) != (row_after or {}).get(c)
                }
                print(f"{name} row {index}: {json.dumps(changed, ensure_ascii=False)[:2000]}")
    for index, (a, b) in enumerate(zip(old["responses"], new["responses"], strict=False)):
        if a != b:
            differences += 1
            print(f"response {index} ({a['request']} / {b['request']}): {a['status']} / {b['status']}")
    if len(old["responses"]) != len(new["responses"]):
        differences += 1
        print(f"{len(old['responses'])} responses / {len(new['responses'])}")
    print("identical" if not differences else f"{differences} differences")
    return 1 if differences else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server URL (a scratch database is made on it)")
    parser.add_argument("--out", type=Path, help="write the JSON here (default: standard output)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("OLD", "NEW"),
        help="run nothing: show the rows and responses that differ between two dumps (exit 1 if any)",
    )
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)

    root = Path.cwd()
    if not (root / "processes").is_dir() or not (root / "sops").is_dir():
        parser.error("run it with the checkout to snapshot as the working directory")
    from api import create_app
    from engine.settings import Settings
    from engine.system import build

    with scratch_database(args.database_url) as database_url:
        deterministic(args.seed)
        settings = Settings(
            database_url=database_url,
            secret_keys=(SECRET_KEY,),
            audit_keys=(AUDIT_KEY,),
            retention_days=2,  # so that the scenario's last days see finished referrals redacted
        )
        with time_machine.travel(START, tick=False) as traveller:
            signpost = build(settings)
            try:
                signpost.migrate()
                permissive = build(
                    Settings(
                        database_url=database_url,
                        secret_keys=(SECRET_KEY,),
                        audit_keys=(AUDIT_KEY,),
                        webhook_allow_private=True,
                    )
                )
                api = Api(create_app(signpost).test_client(), traveller)
                run(signpost, permissive, create_app, root, api)
            finally:
                signpost.close()
            tables = dump_tables(database_url)
    document = {"tables": tables, "responses": api.transcript}
    text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if args.out:
        args.out.write_text(text)
        counts = ", ".join(f"{name} {len(rows)}" for name, rows in tables.items())
        print(f"{args.out}: {len(api.transcript)} requests; rows: {counts}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
