"""The console's server side: what the referral page (``/console/referrals/<id>``) and the duty manager's OLA
board (``/console/olas``) ask of the API, timed through the Flask test client (authentication, the audit
trail, schemas and all), against the same requests at a smaller size measured in the same run.

- The referral page as an operator opens it (web/src/pages/referral/page.js): (a) ``GET
  /api/v1/referrals/{id}`` (status, owner, hand-offs, both sides' OLA clocks, what it waits for), (b) its
  ``/timeline``, (c) its ``/events`` (the path on the diagram), (d) the notifications sent about it and their
  delivery state (``/deliveries``), and (e) the request the open page repeats every few seconds (the referral
  again with its ETag: 304 while nothing changed). For a referral with 500 events against a short one (a
  routine referral acknowledged and accepted: 11 events), both in the larger database; and for the short one
  in the smaller database too, to show that the size of the database does not weigh on a referral's page.
- The OLA board's list (``GET /api/v1/obligations?state=running&state=breached&open=true&limit=500``: the
  obligations still owed, soonest due first, as the board asks every few seconds) for the trust's operator,
  over 1,000 and over ``--n`` (100,000 by default) open clocks, with the plan of its statement.

How each database is made, quickly but with real shapes. The service directory, the OLA terms of sops/ and
the community nursing pathway are loaded as an operator would; the GP practice subscribes to a webhook for
its referrals (no worker runs, so deliveries stay pending). Template referrals run through the engine, one
per stage of the hand-off (requested, received, on hold, accepted, in progress, and one completed for the
history), and every row they wrote is copied with new ids and times shifted: instance, referral, hand-off and
its transitions, clocks, events, waits, correlations, milestones, notification events and deliveries (written
as stored, by COPY on PostgreSQL and executemany on SQLite: through SQLAlchemy's type processing the load
took minutes). Open copies were routed in the days before the measurement instant (a running clock whose due
time has passed is breached, as the ticker would have left it); a fifth of them are another point of
access's, which the operator may not see. Completed copies, half as many, are spread over the 90 days before
(one in ten met its obligations late, so its clocks stay "breached"): the history a board must not wade
through. The long referral is real: the team asks for information 60 times and the practice answers, then
the team accepts, starts and rebooks the visit until the referral has 500 events (and 60 more clocks).

Usage: python bench/console.py [--n N] [--database-url URL]
On PostgreSQL when ``--database-url`` (or SIGNPOST_DATABASE_URL) names a PostgreSQL server (scratch databases
are created on it and dropped afterwards), else on SQLite in a temporary directory. Prints the figures and,
as its last lines, ratio_referral_page=<the page (a)-(d) of the 500-event referral / the short one's>,
ratio_referral_page_database=<the short referral's page at N / at 1,000> and
ratio=<the OLA board at N open clocks / at 1,000>.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
import time_machine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import create_app  # noqa: E402 - the path must be set first
from bench.olas import settle  # noqa: E402 - the same settling after a load as the OLA bench
from engine.bpmn import SourceFile  # noqa: E402
from engine.governance.audit_keys import new_audit_key  # noqa: E402
from engine.notifications.secrets_at_rest import new_key  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.store import tables  # noqa: E402
from engine.store.db import scratch_postgres_database  # noqa: E402
from engine.system import build  # noqa: E402

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # a Wednesday afternoon: every calendar is open
SMALL = 1_000
LONG_EVENTS = 500
INFORMATION_ROUNDS = 60
ROUNDS = 15
BATCH = 1_000  # referrals per insert transaction
SEED = 20_261_125
LPT = "leicestershire-partnership-nhs-trust"
# (point_of_access, operated_by) of referrals the trust's operator may not see.
OTHER_POINT_OF_ACCESS = ("crisis-hub", "another-trust")
WEBHOOK_URL = "https://192.0.2.10/gp/webhooks"  # TEST-NET-1: never routed, and nothing is delivered anyway
PATHWAY_FILES = ("community_nursing_referral.bpmn", "community_nursing_triage.dmn")
REFERRAL = {
    "pathway": "community_nursing_referral",
    "version": None,
    "referrer": "C81001",
    "subject": "9434765919",
    "data": {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False},
}
# Each stage: the team's actions (minutes after routing); how the open referrals are spread over the stages,
# and how long ago (at most) each was routed.
STAGES = {
    "requested": ([], 0.10, timedelta(hours=6)),
    "received": ([("acknowledge", {}, 20)], 0.10, timedelta(hours=10)),
    "on-hold": (
        [("acknowledge", {}, 20), ("request-information", {"question": "Medication?"}, 40)],
        0.05,
        timedelta(hours=12),
    ),
    "accepted": (
        [("acknowledge", {}, 20), ("accept", {"window": "Tue 14:00-16:00"}, 60)],
        0.35,
        timedelta(days=2),
    ),
    "in-progress": (
        [("acknowledge", {}, 20), ("accept", {"window": "Tue 14:00-16:00"}, 60), ("start", {}, 1440)],
        0.40,
        timedelta(days=4),
    ),
    "completed": (
        [
            ("acknowledge", {}, 20),
            ("accept", {}, 60),
            ("start", {}, 1440),
            ("complete", {"outcome": "medication reviewed"}, 1500),
        ],
        0.0,
        timedelta(days=90),
    ),
}
HISTORY_PER_OPEN = 0.5
# Tables whose rows are numbered by the database: copies get numbers after the highest there.
SERIAL = (
    "handoff_transitions",
    "instance_events",
    "waits",
    "milestones",
    "notification_events",
    "deliveries",
)
# Each table copied, the column naming its own row and the columns naming a row of another copied table.
COPIED = (
    (tables.instances, "id", {}),
    (tables.referrals, "id", {"instance_id": "instances"}),
    (tables.handoffs, "id", {"instance_id": "instances"}),
    (tables.handoff_transitions, "id", {"handoff_id": "handoffs"}),
    (tables.ola_clocks, "id", {"instance_id": "instances", "handoff_id": "handoffs"}),
    (tables.instance_events, "id", {"instance_id": "instances"}),
    (tables.waits, "id", {"instance_id": "instances"}),
    (tables.correlations, None, {"instance_id": "instances"}),
    (tables.user_tasks, "id", {"instance_id": "instances"}),
    (tables.milestones, "id", {"referral_id": "referrals"}),
    (tables.notification_events, "id", {"referral_id": "referrals"}),
    (tables.deliveries, "id", {"referral_id": "referrals", "event_id": "notification_events"}),
)


class Seeded:
    """A Signpost on one scratch database, its clients, and the referrals measured."""

    def __init__(self, url: str, open_clocks: int, rng: random.Random, *, open_referrals: int | None = None):
        self.system = build(
            Settings(
                database_url=url,
                require_pathway_approval=False,
                secret_keys=(new_key(),),
                audit_keys=(new_audit_key(),),
                rate_limit="off",
                webhook_allow_private=True,
            )
        )
        system = self.system
        system.migrate()
        system.services.load_directory(
            (ROOT / "sops/services.toml").read_text(), "sops/services.toml", "bench"
        )
        system.olas.load_terms((ROOT / "sops/olas.toml").read_text(), "sops/olas.toml", "bench")
        files = [SourceFile(f, (ROOT / "processes" / f).read_bytes()) for f in PATHWAY_FILES]
        system.definitions.deploy(files, "bench")
        self.gp = system.clients.create(name="gp", organisation="city-gp-practice", roles={"referrer"})[0]
        self.team = system.clients.create(name="lpt system", organisation=LPT, roles={"service"})[0]
        token = system.clients.create(name="duty manager", organisation=LPT, roles={"operator"})[1]
        self.headers = {"Authorization": f"Bearer {token}"}
        with time_machine.travel(NOW - timedelta(days=100), tick=False):
            system.notifications.subscribe(
                self.gp, referral_id=None, url=WEBHOOK_URL, email=None, events=None
            )
        base = NOW - timedelta(days=95)
        self.templates = {
            stage: self._referral(base + timedelta(hours=8 * i), actions)
            for i, (stage, (actions, _, _)) in enumerate(STAGES.items())
        }
        self.short = self._referral(NOW - timedelta(hours=3), STAGES["accepted"][0])
        self.long = self._long_referral(NOW - timedelta(days=20))
        rows = {stage: self._rows(ref["id"]) for stage, ref in self.templates.items()}
        # Copied: the templates themselves are closed, so that their clocks, long overdue, stop.
        with time_machine.travel(base + timedelta(days=5), tick=False):
            for stage, referral in self.templates.items():
                if stage == "in-progress":
                    handoff = referral["handoffs"][0]["id"]
                    system.handoffs.act(handoff, "complete", {"outcome": "seen"}, self.team)
                elif stage != "completed":
                    system.handoffs.cancel(referral["id"], "a template for the benchmark", self.gp)
        self.open_clocks = fill(system.database, rows, open_clocks, rng, open_referrals=open_referrals)
        self.http = create_app(system).test_client()

    def _referral(self, at: datetime, actions) -> dict:
        with time_machine.travel(at, tick=False):
            referral, _ = self.system.referrals.start(self.gp, **REFERRAL)
        handoff = referral["handoffs"][0]["id"]
        for action, body, minutes in actions:
            with time_machine.travel(at + timedelta(minutes=minutes), tick=False):
                self.system.handoffs.act(handoff, action, body, self.team)
        return referral

    def _long_referral(self, at: datetime) -> dict:
        """A referral run through the engine until it has ``LONG_EVENTS`` events: information asked for and
        given again and again, then accepted, started and its visit rebooked (one event each)."""
        referral = self._referral(at, [])
        handoff, system = referral["handoffs"][0]["id"], self.system
        steps = [
            ("request-information", {"question": f"Question {i + 1}?"}) for i in range(INFORMATION_ROUNDS)
        ]
        steps += [("accept", {"window": "Tue 14:00-16:00"}), ("start", {})]
        while (events := self._event_count(referral)) < LONG_EVENTS:
            at += timedelta(minutes=30)
            action, body = steps.pop(0) if steps else ("schedule", {"window": f"visit {events}"})
            with time_machine.travel(at, tick=False):
                system.handoffs.act(handoff, action, body, self.team)
                if action == "request-information":
                    system.handoffs.supply_information(referral["id"], {"medication": "none"}, self.gp)
        assert events == LONG_EVENTS, events
        return referral

    def _event_count(self, referral: dict) -> int:
        events, referrals = tables.instance_events, tables.referrals
        with self.system.database.read() as conn:
            query = (
                sa.select(sa.func.count())
                .select_from(events.join(referrals, referrals.c.instance_id == events.c.instance_id))
                .where(referrals.c.id == referral["id"])
            )
            return conn.execute(query).scalar_one()

    def _rows(self, referral_id: str) -> dict[str, list[dict]]:
        """Every row the referral wrote, by table."""
        found: dict[str, list[dict]] = {}
        with self.system.database.read() as conn:
            referral = conn.execute(sa.select(tables.referrals).where(tables.referrals.c.id == referral_id))
            keys = {"referrals": [referral_id], "instances": [referral.mappings().one()["instance_id"]]}
            for table, own, refers in COPIED:
                column, parent = next(iter(refers.items())) if refers else ("id", "instances")
                query = sa.select(table).where(table.c[column].in_(keys[parent]))
                found[table.name] = [dict(r) for r in conn.execute(query).mappings()]
                if own and table.name not in keys:
                    keys[table.name] = [r[own] for r in found[table.name]]
        return found


class Template:
    """One template referral's rows, ready to be copied many times: each table's rows as tuples of the stored
    values (JSON already serialized), with where its times, its own id and its references to other copied
    rows are."""

    def __init__(self, rows: dict[str, list[dict]], sqlite: bool):
        self.routed_at = rows["referrals"][0]["created_at"]
        self.sqlite = sqlite
        self.now = NOW.replace(tzinfo=None) if sqlite else NOW
        self.tables = []
        for table, own, refers in COPIED:
            columns = [c.name for c in table.columns]
            jsons = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
            times = [i for i, c in enumerate(table.columns) if isinstance(c.type, tables.UTCDateTime)]
            base = [tuple(self._stored(r[c], c in jsons) for c in columns) for r in rows[table.name]]
            links = [(columns.index(column), parent) for column, parent in refers.items()]
            self.tables.append((table.name, base, times, own and columns.index(own), links))

    def _stored(self, value, is_json: bool):
        """A value as the database receives it (times as UTC instants, naive on SQLite, as the store
        writes them there)."""
        if value is None:
            return None
        if is_json:
            return json.dumps(value)
        if isinstance(value, datetime) and self.sqlite:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def copy(self, delta: timedelta, numbers: dict[str, int], late: bool) -> dict[str, list[list]]:
        """The rows of a copy routed ``delta`` later, with new ids, its clocks as they stand at NOW (a
        running clock past its due time breached, as the ticker would have left it; with ``late``, met clocks
        met late)."""
        ids: dict[str, dict] = {}
        out: dict[str, list[list]] = {}
        for table, base, times, own, links in self.tables:
            new_ids = ids.setdefault(table, {})
            copied = []
            for row in base:
                values = list(row)
                for i in times:
                    if values[i] is not None:
                        values[i] += delta
                for i, parent in links:
                    values[i] = ids[parent][values[i]]
                if own is not None:
                    if table in numbers:
                        new = numbers[table]
                        numbers[table] += 1
                    else:
                        new = str(uuid.uuid4())
                    new_ids[values[own]] = values[own] = new
                copied.append(values)
            out[table] = copied
        out["referrals"][0][REFERRAL_COLUMNS["reference"]] = f"SP-B{uuid.uuid4().hex[:12].upper()}"
        c = CLOCK_COLUMNS
        for clock in out["ola_clocks"]:
            if (
                clock[c["stopped_at"]] is None
                and clock[c["state"]] == "running"
                and clock[c["due_at"]] <= self.now
            ):
                clock[c["state"]], clock[c["breached_at"]], clock[c["next_check_at"]] = (
                    "breached",
                    clock[c["due_at"]],
                    None,
                )
            elif late and clock[c["state"]] == "met":
                clock[c["state"]], clock[c["breached_at"]] = "breached", clock[c["due_at"]]
        if self.sqlite:  # as SQLAlchemy writes times there: text, to the microsecond
            for table, _, times, _, _ in self.tables:
                for values in out[table]:
                    for i in times:
                        if values[i] is not None:
                            values[i] = values[i].isoformat(" ", "microseconds")
        return out


REFERRAL_COLUMNS = {c.name: i for i, c in enumerate(tables.referrals.columns)}
CLOCK_COLUMNS = {c.name: i for i, c in enumerate(tables.ola_clocks.columns)}


def fill(
    database,
    rows: dict[str, dict[str, list[dict]]],
    open_clocks: int,
    rng: random.Random,
    *,
    open_referrals: int | None = None,
) -> int:
    """Copies of the open templates until ``open_clocks`` clocks are open (or, when given, until
    ``open_referrals`` referrals are), then half as many completed ones; returns how many clocks are open."""
    templates = {stage: Template(stage_rows, database.is_sqlite) for stage, stage_rows in rows.items()}
    numbers = {table.name: next_id(database, table) for table, _, _ in COPIED if table.name in SERIAL}
    with database.read() as conn:
        events = tables.notification_events
        query = sa.select(events.c.subscription_id, sa.func.max(events.c.number)).group_by(
            events.c.subscription_id
        )
        subscription_numbers = dict(conn.execute(query).all())
    open_stages = [stage for stage, (_, share, _) in STAGES.items() if share]
    weights = [STAGES[stage][1] for stage in open_stages]
    batch: dict[str, list[list]] = {table.name: [] for table, _, _ in COPIED}
    event_columns = {c.name: i for i, c in enumerate(tables.notification_events.columns)}
    referrals = opened = 0

    def add(stage: str, *, late: bool = False, elsewhere: bool = False) -> None:
        nonlocal referrals, opened
        template = templates[stage]
        ago = rng.uniform(1 / 24, 1) * STAGES[stage][2]
        copy = template.copy(NOW - ago - template.routed_at, numbers, late)
        if elsewhere:
            for column, value in zip(("point_of_access", "operated_by"), OTHER_POINT_OF_ACCESS, strict=True):
                copy["referrals"][0][REFERRAL_COLUMNS[column]] = value
        for event in copy["notification_events"]:
            subscription = event[event_columns["subscription_id"]]
            subscription_numbers[subscription] += 1
            event[event_columns["number"]] = subscription_numbers[subscription]
        for name, new in copy.items():
            batch[name].extend(new)
        referrals += 1
        c = CLOCK_COLUMNS
        opened += sum(1 for clock in copy["ola_clocks"] if clock[c["stopped_at"]] is None)
        if referrals % BATCH == 0:
            write(database, batch)

    while opened < open_clocks if open_referrals is None else referrals < open_referrals:
        add(rng.choices(open_stages, weights)[0], elsewhere=rng.random() < 0.2)
    opened_referrals = referrals
    for _ in range(int(HISTORY_PER_OPEN * opened_referrals)):
        add("completed", late=rng.random() < 0.1)
    write(database, batch)
    with database.write() as conn:  # each subscription numbers its next event after the copies' events
        for subscription, number in subscription_numbers.items():
            conn.execute(
                tables.subscriptions.update()
                .where(tables.subscriptions.c.id == subscription)
                .values(last_event_number=number)
            )
    if not database.is_sqlite:  # the numbers given explicitly: each sequence moves on past them
        with database.write() as conn:
            for name in numbers:
                highest = f"(SELECT max(id) FROM {name})"  # noqa: S608 - a table name of the schema
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), {highest})")
    settle(database)
    return opened


def write(database, batch: dict[str, list[list]]) -> None:
    """Insert the rows as they are stored (no SQLAlchemy type processing: the load would take minutes):
    COPY on PostgreSQL, executemany on SQLite; in one transaction."""
    with database.write() as conn:
        for table, _, _ in COPIED:
            rows = batch[table.name]
            if not rows:
                continue
            columns = ", ".join(conn.dialect.identifier_preparer.quote(c.name) for c in table.columns)
            raw = conn.connection.driver_connection.cursor()
            if database.is_sqlite:
                marks = ", ".join("?" for _ in table.columns)
                raw.executemany(f"INSERT INTO {table.name} ({columns}) VALUES ({marks})", rows)  # noqa: S608
            else:
                with raw.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            rows.clear()


def next_id(database, table: sa.Table) -> int:
    with database.read() as conn:
        return (conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0) + 1


# ---- measuring -------------------------------------------------------------------------------------------

BOARD = "/api/v1/obligations?state=running&state=breached&open=true&limit=500"
PAGE = ("(a) referral", "(b) timeline", "(c) events", "(d) deliveries")


def requests_of(seeded: Seeded, referral: dict) -> dict[str, Callable[[], object]]:
    """The referral page's requests, each checked for its answer."""
    path = f"/api/v1/referrals/{referral['id']}"
    http, headers = seeded.http, seeded.headers
    etag = http.get(path, headers=headers).headers["ETag"]

    def get(url: str, expect: int = 200, extra: dict | None = None) -> Callable[[], object]:
        def call():
            answer = http.get(url, headers={**headers, **(extra or {})})
            assert answer.status_code == expect, (url, answer.status_code, answer.get_data()[:300])
            return answer

        return call

    return dict(
        zip(
            (*PAGE, "(e) poll (304)"),
            (
                get(path),
                get(f"{path}/timeline"),
                get(f"{path}/events"),
                get(f"{path}/deliveries"),
                get(path, 304, {"If-None-Match": etag}),
            ),
            strict=True,
        )
    )


def board_of(seeded: Seeded) -> Callable[[], object]:
    def call():
        answer = seeded.http.get(BOARD, headers=seeded.headers)
        assert answer.status_code == 200, answer.get_data()[:300]
        return answer

    return call


def timed(call) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def interleaved(contenders: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Median milliseconds of each call, in rounds that take them in turn (after one untimed round), so
    that other work on the machine weighs on all alike."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for round_number in range(ROUNDS + 1):
        for name, call in contenders.items():
            seconds = timed(call)
            if round_number:
                samples[name].append(seconds)
    return {name: statistics.median(values) * 1000 for name, values in samples.items()}


@contextmanager
def statements(database) -> Iterator[list[tuple[str, object]]]:
    """The SELECT statements (with their parameters) sent to the database inside the block."""
    sent: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append((statement, parameters))

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)


def plan(database, statement: str, parameters) -> list[str]:
    with database.read() as conn:
        if database.is_sqlite:
            return [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
        return [row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)]


def read_in_full(seeded: Seeded, calls) -> list[str]:
    """The loaded tables (those holding rows of every referral) that a statement of ``calls`` reads from end
    to end, by their plans. (The others hold a few rows or none, which PostgreSQL rightly reads whole.)"""
    scans = set()
    with statements(seeded.system.database) as sent:
        for call in calls:
            call()
    for statement, parameters in sent:
        for line in plan(seeded.system.database, statement, parameters):
            words = line.split()
            if line.startswith("SCAN ") and not words[1].startswith("anon_"):
                scans.add(words[1])
            elif "Seq Scan on " in line:
                scans.add(line.split("Seq Scan on ")[1].split()[0])
    with seeded.system.database.read() as conn:
        loaded = {
            table.name
            for table, _, _ in COPIED
            if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() >= SMALL
        }
    return sorted(scans & loaded)


def board_plan(seeded: Seeded) -> list[str]:
    with statements(seeded.system.database) as sent:
        board_of(seeded)()
    [(statement, parameters)] = [(st, p) for st, p in sent if "ola_clocks" in st]
    return plan(seeded.system.database, statement, parameters)


def seeded_database(stack: ExitStack, server: str | None, folder: str, name: str, *args, **kwargs) -> Seeded:
    """``Seeded(url, *args, **kwargs)`` on a scratch database of the PostgreSQL ``server`` (else on SQLite in
    ``folder``), closed and dropped with ``stack``."""
    url = (
        stack.enter_context(scratch_postgres_database(server, f"signpost_{name}_bench"))
        if server
        else f"sqlite:///{folder}/{name}.db"
    )
    seeded = Seeded(url, *args, **kwargs)
    stack.callback(seeded.system.close)
    return seeded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="open OLA clocks in the larger database")
    parser.add_argument("--database-url", default=os.environ.get("SIGNPOST_DATABASE_URL"))
    args = parser.parse_args()
    server = args.database_url if args.database_url and args.database_url.startswith("postgresql") else None
    backend = "PostgreSQL" if server else "SQLite"
    rng = random.Random(SEED)
    with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        seeded = {}
        for size in (SMALL, args.n):
            began = time.perf_counter()
            seeded[size] = seeded_database(stack, server, folder, f"console_{size}", size, rng)
            with seeded[size].system.database.read() as conn:
                count = conn.execute(sa.select(sa.func.count()).select_from(tables.referrals)).scalar()
            print(
                f"{seeded[size].open_clocks:>8,} open clocks, {count:,} referrals: loaded in "
                f"{time.perf_counter() - began:.1f} s"
            )
        small, large = seeded[SMALL], seeded[args.n]
        with time_machine.travel(NOW, tick=False):
            pages = {
                "short @ 1,000": requests_of(small, small.short),
                f"short @ {args.n:,}": requests_of(large, large.short),
                f"500 events @ {args.n:,}": requests_of(large, large.long),
            }
            sizes = {name: [len(calls[r]().json) for r in PAGE[1:]] for name, calls in pages.items()}
            full = {
                name: read_in_full(large if "@ 1," not in name else small, calls.values())
                for name, calls in pages.items()
            }
            boards = {SMALL: board_of(small), args.n: board_of(large)}
            shown = {size: call().json for size, call in boards.items()}
            plans = {SMALL: board_plan(small), args.n: board_plan(large)}
            medians = interleaved(
                {(name, request): call for name, calls in pages.items() for request, call in calls.items()}
                | {("board", size): call for size, call in boards.items()}
            )
    report(medians, pages, sizes, full, shown, plans, args.n, backend)


def report(medians, pages, sizes, full, shown, plans, n: int, backend: str) -> None:
    names = list(pages)
    print(f"\nthe referral page on {backend}, medians of {ROUNDS} rounds (ms):")
    print(f"{'':18}" + "".join(f"{name:>22}" for name in names) + f"{'500 / short':>13}")
    rows = {request: [medians[name, request] for name in names] for request in pages[names[0]]}
    rows["page (a)-(d)"] = [sum(medians[name, request] for request in PAGE) for name in names]
    for request, values in rows.items():
        print(f"{request:18}" + "".join(f"{v:>22.2f}" for v in values) + f"{values[2] / values[1]:>13.2f}")
    for name in names:
        timeline, events, deliveries = sizes[name]
        print(
            f"  {name}: {timeline} timeline entries, {events} events, {deliveries} deliveries; "
            f"loaded tables read in full: {', '.join(full[name]) or 'none'}"
        )
    small, large = medians["board", SMALL], medians["board", n]
    print(f"\nthe OLA board on {backend} ({BOARD}), medians of {ROUNDS} rounds (ms):")
    for size, ms in ((SMALL, small), (n, large)):
        owed = shown[size]
        breached = sum(1 for clock in owed if clock["state"] == "breached")
        print(f"  {size:>8,} open clocks {ms:8.2f}   ({len(owed)} listed, {breached} of them breached)")
        print("\n".join(f"      {line}" for line in plans[size]))
    print(f"ratio_referral_page={rows['page (a)-(d)'][2] / rows['page (a)-(d)'][1]:.2f}")
    print(f"ratio_referral_page_database={rows['page (a)-(d)'][1] / rows['page (a)-(d)'][0]:.2f}")
    print(f"ratio={large / small:.2f}")


if __name__ == "__main__":
    main()
