"""How the cost of finding due OLA clocks grows with the number of open clocks: 1,000 against 100,000.

The ticker must not scan every open referral: it finds the clocks needing a warning or a breach through the
(state, next_check_at) index, and a duty manager's at-risk list comes from the (state, due_at) index. This
script measures both, and full passes of ``Olas.attend_due``, on a database with 1,000 open clocks and on
one with ``--n`` (100,000 by default). Both hold the same clocks that are due and the same clocks at risk,
so the ratio of the two times shows how the cost of the lookup itself grows with the open clocks around
them: near 1 when an index serves the query, near ``n / 1000`` (or worse) for a scan.

How each database is made, quickly but with real shapes:

- The service directory (sops/services.toml), the OLA terms (sops/olas.toml) and the community nursing
  pathway are loaded as an operator would. Template referrals then run through the engine, one per
  hand-off stage (requested, received, on-hold, accepted, in-progress) for each of the four locality
  teams, their actions spread over time as a team would make them (``time_machine`` moves the engine's
  clock). Their rows (instance with its workflow state, referral, hand-off, every clock) are copied; then
  the templates are driven to completion, which closes their own clocks.
- Synthetic referrals are copies of a template shifted in time, bulk-inserted with SQLAlchemy Core
  ``insert()`` in batches: instance (its workflow state with fresh task ids and its timer moved too),
  referral, hand-off and clocks, with new ids. Each copy's open clocks are recomputed on their calendar
  (8-to-8 every day) as the ticker would have left them at the measurement instant: warnings raised,
  breached once the due time has passed. Open clocks are running, paused (information requested) or
  breached. The copies' waits, events and correlations are not written: the queries read none of them.
- The same fixed sets in both databases (same seed, same instant): 50 running clocks whose next warning or
  breach fell due in the business time just before the measurement instant (on the 8-to-8 calendar at
  night that is the evening before, as the ticker finds them after downtime), and up to 25 running clocks
  due within the coming hour (none at night, when no business time passes). Every other running clock
  needs attention more than two hours later, so nothing else falls due while the script runs.
- After the load, each database is left as it would be before the next tick: ``VACUUM ANALYZE`` and a
  checkpoint on PostgreSQL, the write-ahead log checkpointed on SQLite (whose planner gets no statistics,
  as the engine gives it none).

Measured on both databases, in rounds alternating between them (so that other work on the machine weighs
on both alike), medians of runs timed with ``time.perf_counter``:

  (a) ``repository.clocks_needing_attention(conn, now, 200)``: the due clocks (warnings and breaches), as the
      ticker asks for them in batches of 200;
  (b) ``repository.clocks_at_risk(conn, states=["running"], due_before=now + 1h, limit=200)``: the duty
      manager's list, joined to the referrals for their references;
  (c) ``Olas.attend_due()``: find the due clocks and attend to each under its instance's lock (load the
      workflow, raise the warning or breach, record events and milestones, save), the due clocks put back
      as they were before each run;
  and, for contrast, the SQL statement of (a) sent as it is and with its index out of use (``NOT INDEXED``
  on SQLite, index scans disabled on PostgreSQL): what a scan of the clocks would cost.

The plans of (a) and (b) are printed for the statements the repository functions really sent:
``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL.

Usage: python bench/olas.py [--n N] [--database-url URL]
Runs on PostgreSQL when ``--database-url`` (or SIGNPOST_DATABASE_URL) names a PostgreSQL server (scratch
databases are created on it and dropped afterwards), else on SQLite in a temporary directory. Prints the
figures, the plans, a ratio (at N / at 1,000) for each figure and, as its last line,
ratio=<time of (a) at N / time of (a) at 1,000>.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
import time_machine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import clock as wall_clock  # noqa: E402 - the path must be set first
from engine.bpmn import STATE_FORMAT, SourceFile, state_json  # noqa: E402
from engine.governance.audit_keys import new_audit_key  # noqa: E402
from engine.notifications.secrets_at_rest import new_key  # noqa: E402
from engine.olas.calendars import calendar  # noqa: E402
from engine.olas.obligation_clocks import OPEN_STATES  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.store import handoffs as handoff_store  # noqa: E402
from engine.store import instances as instance_store  # noqa: E402
from engine.store import olas as ola_store  # noqa: E402
from engine.store import tables  # noqa: E402
from engine.store.db import scratch_postgres_database  # noqa: E402
from engine.system import Signpost, build  # noqa: E402

PROCESSES = ROOT / "processes"
SOPS = ROOT / "sops"
FILES = ("community_nursing_referral.bpmn", "community_nursing_triage.dmn")
PATHWAY = "community_nursing_referral"
SUBJECT = "9434765919"
TEAM_ORGANISATION = "leicestershire-partnership-nhs-trust"
# Routine medication referrals for a patient who is not housebound: the triage table sends each postcode
# district to its locality team.
POSTCODES = {
    "community-nursing-city": "LE1 5WW",
    "community-nursing-county-north": "LE11 3AA",
    "community-nursing-county-south": "LE8 4AA",
    "community-nursing-rutland": "LE15 6AA",
}
# Each stage: the hand-off actions the team makes, minutes after the referral was routed.
STAGES = {
    "requested": [],
    "received": [("acknowledge", {}, 20)],
    "on-hold": [("acknowledge", {}, 20), ("request-information", {"question": "Current medication?"}, 40)],
    "accepted": [("acknowledge", {}, 20), ("accept", {"window": "Tue 14:00-16:00"}, 60)],
    "in-progress": [
        ("acknowledge", {}, 20),
        ("accept", {"window": "Tue 14:00-16:00"}, 60),
        ("start", {}, 24 * 60),
    ],
}
# How the open referrals are spread over the stages, and how long ago (at most) each kind was routed.
STAGE_MIX = {
    "requested": (0.10, timedelta(hours=6)),
    "received": (0.10, timedelta(hours=10)),
    "on-hold": (0.05, timedelta(hours=12)),
    "accepted": (0.35, timedelta(days=2)),
    "in-progress": (0.40, timedelta(days=4)),
}
SMALL = 1_000
DUE = 50
AT_RISK = 25
QUIET = timedelta(hours=2)  # nothing else needs attention this soon after the measurement instant
LIMIT = 200  # the ticker's batch size and the at-risk list's default limit
BATCH = 2_000  # referrals per insert transaction
QUERY_REPEATS = 1_000
SCAN_REPEATS = 10
ATTEND_REPEATS = 10
ROUNDS = 10
SEED = 20_261_123


# ---- templates: real referrals through the engine -------------------------------------------------------


class Rewriter:
    """A workflow state (or its data) split once, so that each copy is joined quickly with its own values:
    the new ids of its instance, referral and hand-off and its new reference (``ids``), task ids made unique
    to the copy (saving two instances with the same task ids would clash in user_tasks), and its BPMN timer
    instants moved in time."""

    def __init__(self, text: str, ids: set[str]):
        pattern = re.compile(
            r"(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
            r'|(?<="event_value":")(?P<instant>\d{4}-\d\d-\d\dT[^"]+)'
            f"|{'|'.join(re.escape(i) for i in ids)}"
        )
        # Runs of text with a task id's last 12 digits cut out of them (each copy joins a run with its own
        # suffix), between the tokens that take a value of the copy's.
        self.runs: list[list[str]] = [[""]]
        self.tokens: list[str | datetime] = []
        position = 0
        for match in pattern.finditer(text):
            self.runs[-1][-1] += text[position : match.start()]
            token = match.group(0)
            if match.lastgroup == "id" and token not in ids:
                self.runs[-1][-1] += token[:24]
                self.runs[-1].append("")
            else:
                self.tokens.append(datetime.fromisoformat(token) if match.lastgroup == "instant" else token)
                self.runs.append([""])
            position = match.end()
        self.runs[-1][-1] += text[position:]

    def copy(self, ids: dict[str, str], serial: int, delta: timedelta) -> str:
        suffix = f"{serial:012x}"
        parts = [suffix.join(self.runs[0])]
        for token, run in zip(self.tokens, self.runs[1:], strict=True):
            parts.append((token + delta).isoformat() if isinstance(token, datetime) else ids[token])
            parts.append(suffix.join(run))
        return "".join(parts)


@dataclass
class Template:
    stage: str
    routed_at: datetime
    instance: dict
    referral: dict
    handoff: dict
    clocks: list[dict]
    timers: list[datetime]  # when the instance's BPMN timers fall due

    def __post_init__(self):
        ids = {self.instance["id"], self.handoff["id"], self.referral["id"], self.referral["reference"]}
        # Rewritten as JSON: the copies are stored uncompressed, a format the engine still reads.
        self.state = Rewriter(state_json(self.instance["state"], self.instance["serializer_version"]), ids)
        self.data = Rewriter(self.instance["data"], ids)

    @property
    def open_clocks(self) -> list[dict]:
        return [c for c in self.clocks if c["stopped_at"] is None]


def make_templates(system: Signpost, base: datetime) -> list[Template]:
    """One referral per stage and locality team, run through the engine and copied, then completed."""
    gp = system.clients.create(name="bench gp", organisation="city-gp-practice", roles={"referrer"})[0]
    team = system.clients.create(name="bench team", organisation=TEAM_ORGANISATION, roles={"service"})[0]
    templates = []
    for day, (stage, actions) in enumerate(STAGES.items()):
        for hour, (service, postcode) in enumerate(POSTCODES.items()):
            routed_at = base + timedelta(days=3 * day, hours=hour)
            with time_machine.travel(routed_at, tick=False):
                referral, _ = system.referrals.start(
                    gp,
                    pathway=PATHWAY,
                    version=None,
                    referrer="C81001",
                    subject=SUBJECT,
                    data={"clinical_need": "medication", "address_postcode": postcode, "housebound": False},
                )
            [handoff] = referral["handoffs"]
            assert handoff["to_service"] == service, handoff
            last = routed_at
            for action, body, minutes in actions:
                last = routed_at + timedelta(minutes=minutes)
                with time_machine.travel(last, tick=False):
                    system.handoffs.act(handoff["id"], action, body, team)
            templates.append(copied(system, stage, routed_at, referral["id"]))
            complete(system, gp, team, referral["id"], handoff["id"], last)
    return templates


def copied(system: Signpost, stage: str, routed_at: datetime, referral_id: str) -> Template:
    def one(conn, table: sa.Table, column: str, value: str) -> dict:
        return dict(conn.execute(sa.select(table).where(table.c[column] == value)).mappings().one())

    with system.database.read() as conn:
        referral = one(conn, tables.referrals, "id", referral_id)
        instance = one(conn, tables.instances, "id", referral["instance_id"])
        handoff = one(conn, tables.handoffs, "instance_id", referral["instance_id"])
        clocks = [dict(c) for c in ola_store.clocks_of_handoff(conn, handoff["id"])]
        timers = [w["due_at"] for w in instance_store.waits_of(conn, instance["id"]) if w["kind"] == "timer"]
    return Template(stage, routed_at, instance, referral, handoff, clocks, timers)


def complete(system: Signpost, gp, team, referral_id: str, handoff_id: str, last: datetime) -> None:
    """Drive a template referral to completion before any of its clocks falls due, which closes them all."""
    with system.database.read() as conn:
        status = handoff_store.handoff(conn, handoff_id)["status"]
    if status == "on-hold":
        with time_machine.travel(last + timedelta(minutes=5), tick=False):
            system.handoffs.supply_information(referral_id, {"medication": "none"}, gp)
        status = "received"
    actions = [("complete", {"outcome": "medication reviewed"})]
    if status in ("requested", "received"):
        actions.insert(0, ("accept", {"window": "Tue 14:00-16:00"}))
    for i, (action, body) in enumerate(actions, start=2):
        with time_machine.travel(last + timedelta(minutes=5 * i), tick=False):
            system.handoffs.act(handoff_id, action, body, team)


# ---- copies: synthetic referrals shifted in time ---------------------------------------------------------

SHIFTED = {
    "instances": ("created_at", "updated_at", "completed_at"),
    "referrals": ("created_at", "cancelled_at"),
    "handoffs": ("created_at", "updated_at"),
    "ola_clocks": (
        "started_at",
        "running_since",
        "due_at",
        "next_check_at",
        "stopped_at",
        "breached_at",
        "updated_at",
    ),
}
TABLES = (tables.instances, tables.referrals, tables.handoffs, tables.ola_clocks)


def shifted(row: dict, table: str, delta: timedelta) -> dict:
    return {**row, **{c: row[c] + delta for c in SHIFTED[table] if row[c] is not None}}


def settled(clock: dict, at: datetime) -> dict:
    """A clock's due time, warnings and next check as the ticker leaves them at ``at`` (paused: unchanged)."""
    if clock["running_since"] is None:
        return {}
    business = calendar(clock["calendar"])
    start, target, used = clock["running_since"], clock["target_seconds"], clock["accumulated_seconds"]
    thresholds = clock["warn_at"]

    def warning(i: int) -> datetime:
        return business.add(start, timedelta(seconds=max(0.0, thresholds[i] * target - used)))

    due = business.add(start, timedelta(seconds=target - used))
    sent = 0
    while sent < len(thresholds) and warning(sent) <= min(at, due):
        sent += 1
    if due <= at:
        return {
            "state": "breached",
            "due_at": due,
            "breached_at": due,
            "warnings_sent": sent,
            "next_check_at": None,
        }
    upcoming = warning(sent) if sent < len(thresholds) else due
    return {"state": "running", "due_at": due, "warnings_sent": sent, "next_check_at": min(due, upcoming)}


def started_before(business, end: datetime, seconds: float) -> datetime:
    """The latest instant (to the second) from which ``seconds`` of business time have passed by ``end``."""
    early, late = end - timedelta(days=60), end
    while late - early > timedelta(seconds=1):
        middle = early + (late - early) / 2
        if business.elapsed(middle, end).total_seconds() >= seconds:
            early = middle
        else:
            late = middle
    return early


def open_clocks(copy: dict) -> list[dict]:
    return [c for c in copy["ola_clocks"] if c["stopped_at"] is None]


class Copies:
    """Synthetic referrals made from the templates, as the ticker would have left them at ``now``."""

    def __init__(self, templates: list[Template], now: datetime, rng: random.Random):
        self.now = now
        self.rng = rng
        self.by_stage = {stage: [t for t in templates if t.stage == stage] for stage in STAGES}
        # Stages whose hand-off has one running clock (and no other open one).
        self.single = [
            stage
            for stage, group in self.by_stage.items()
            if all(len(t.open_clocks) == 1 and t.open_clocks[0]["state"] == "running" for t in group)
        ]
        self.serial = 0

    def copy(self, template: Template, delta: timedelta, *, quiet: bool = False) -> dict | None:
        """``template`` routed ``delta`` later, with new ids, its open clocks settled at ``now``; None when
        ``quiet`` and one of its clocks needs attention within ``QUIET``."""
        clocks = []
        for clock in template.clocks:
            row = shifted(clock, "ola_clocks", delta)
            if row["stopped_at"] is None:
                row.update(settled(row, self.now))
                if quiet and row["state"] == "running" and row["next_check_at"] <= self.now + QUIET:
                    return None
            clocks.append(row)
        self.serial += 1
        instance_id, handoff_id, referral_id = (str(uuid.uuid4()) for _ in range(3))
        reference = f"SP-B{self.serial:07d}"
        ids = {
            template.instance["id"]: instance_id,
            template.handoff["id"]: handoff_id,
            template.referral["id"]: referral_id,
            template.referral["reference"]: reference,
        }
        for row in clocks:
            row.update(id=str(uuid.uuid4()), handoff_id=handoff_id, instance_id=instance_id)
        return {
            "instances": [
                {
                    **shifted(template.instance, "instances", delta),
                    "id": instance_id,
                    "state": template.state.copy(ids, self.serial, delta),
                    "serializer_version": STATE_FORMAT,
                    "data": template.data.copy(ids, self.serial, delta),
                }
            ],
            "referrals": [
                {
                    **shifted(template.referral, "referrals", delta),
                    "id": referral_id,
                    "instance_id": instance_id,
                    "reference": reference,
                }
            ],
            "handoffs": [
                {**shifted(template.handoff, "handoffs", delta), "id": handoff_id, "instance_id": instance_id}
            ],
            "ola_clocks": clocks,
        }

    def due(self, count: int) -> list[dict]:
        """Referrals whose one running clock has a warning or its breach due: the instant passed 1 to 30
        business minutes ago, and the earlier thresholds were attended to when they came. Their pathway has
        no BPMN timer falling due soon, so attending to them does nothing else."""
        copies = []
        while len(copies) < count:
            template = self.rng.choice(self.by_stage[self.rng.choice(self.single)])
            clock = template.open_clocks[0]
            thresholds = [*clock["warn_at"], 1.0]
            j = self.rng.randrange(len(thresholds))
            target = clock["target_seconds"]
            business = calendar(clock["calendar"])
            started = started_before(business, self.now, thresholds[j] * target + self.rng.uniform(60, 1800))
            delta = started - clock["running_since"]
            if any(timer + delta <= self.now + QUIET for timer in template.timers):
                continue
            copy = self.copy(template, delta)
            [row] = open_clocks(copy)
            row.update(
                state="running",
                due_at=business.add(started, timedelta(seconds=target)),
                warnings_sent=j,
                next_check_at=business.add(started, timedelta(seconds=thresholds[j] * target)),
                breached_at=None,
            )
            assert row["next_check_at"] <= self.now, row
            copies.append(copy)
        return copies

    def at_risk(self, count: int, attempts: int = 200) -> list[dict]:
        """Referrals whose one running clock is due 30 to 60 minutes from now, warnings all raised (none
        when the calendar is closed for the coming hour)."""
        copies = []
        for _ in range(attempts):
            if len(copies) == count:
                break
            template = self.rng.choice(self.by_stage[self.rng.choice(self.single)])
            clock = template.open_clocks[0]
            business = calendar(clock["calendar"])
            due = self.now + timedelta(minutes=self.rng.uniform(30, 60))
            started = started_before(business, due, clock["target_seconds"])
            if abs(business.add(started, timedelta(seconds=clock["target_seconds"])) - due) > timedelta(
                seconds=1
            ):
                continue  # no business time runs up to that instant: it cannot be a due time
            copy = self.copy(template, started - clock["running_since"])
            [row] = open_clocks(copy)
            if row["state"] == "running" and row["next_check_at"] >= self.now + timedelta(minutes=25):
                copies.append(copy)
        return copies

    def background(self, count: int) -> Iterator[dict]:
        """Referrals with ``count`` open clocks in all, none needing attention within ``QUIET``."""
        left = count
        while left > 0:
            copy = self._quiet(single=left == 1)
            left -= len(open_clocks(copy))
            yield copy

    def _quiet(self, single: bool) -> dict:
        stages = [s for s in STAGE_MIX if s in self.single] if single else list(STAGE_MIX)
        weights = [STAGE_MIX[s][0] for s in stages]
        while True:
            stage = self.rng.choices(stages, weights)[0]
            template = self.rng.choice(self.by_stage[stage])
            routed_at = self.now - self.rng.uniform(0, 1) * STAGE_MIX[stage][1]
            copy = self.copy(template, routed_at - template.routed_at, quiet=True)
            if copy is not None:
                return copy


def insert(database, copies) -> int:
    """Bulk-insert synthetic referrals in batches, one transaction each; returns how many open clocks."""
    opened = 0
    batch: list[dict] = []

    def flush() -> None:
        with database.write() as conn:
            for table in TABLES:
                conn.execute(table.insert(), [row for copy in batch for row in copy[table.name]])
        batch.clear()

    for copy in copies:
        batch.append(copy)
        opened += len(open_clocks(copy))
        if len(batch) == BATCH:
            flush()
    if batch:
        flush()
    return opened


def settle(database) -> None:
    """After a load, what a database left alone would have done before the next tick: on PostgreSQL,
    autovacuum's VACUUM ANALYZE (planner statistics; no dead index entries left by the templates) and a
    checkpoint (the load's dirty pages written out); on SQLite, the write-ahead log folded back into the
    database file. SQLite's planner is left without statistics, as the engine leaves it."""
    if database.is_sqlite:
        raw = database.engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        return
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
        try:
            conn.exec_driver_sql("CHECKPOINT")
        except sa.exc.DBAPIError as refused:  # CHECKPOINT needs a superuser or pg_checkpoint
            print(f"  (no checkpoint after the load: {refused.orig})")


def census(database) -> tuple[int, int, Counter]:
    """(referrals, clocks, open clocks by state), as the database holds them."""
    clocks = tables.ola_clocks
    with database.read() as conn:
        referrals, every_clock = (
            conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (tables.referrals, clocks)
        )
        query = (
            sa.select(clocks.c.state, sa.func.count())
            .where(clocks.c.state.in_(OPEN_STATES), clocks.c.stopped_at.is_(None))
            .group_by(clocks.c.state)
        )
        return referrals, every_clock, Counter(dict(conn.execute(query).all()))


# ---- measuring -------------------------------------------------------------------------------------------


@dataclass
class Subject:
    """One database under measurement, and what it must answer."""

    size: int
    system: Signpost
    now: datetime
    due_clocks: list[dict]
    expected_at_risk: int
    statements: dict[str, tuple[str, object]] = field(default_factory=dict)

    @property
    def database(self):
        return self.system.database


@dataclass
class Figures:
    due: float
    at_risk: float
    attend: float
    raw: float
    scan: float
    plans: dict[str, list[str]]


def find_due(subject: Subject, conn):
    return ola_store.clocks_needing_attention(conn, subject.now, LIMIT)


def find_at_risk(subject: Subject, conn):
    due_before = subject.now + timedelta(hours=1)
    return ola_store.clocks_at_risk(conn, states=["running"], due_before=due_before, limit=LIMIT)


def interleaved(subjects: list[Subject], call: Callable, repeats: int, untimed: int = 2, prepare=None):
    """Median seconds of ``call(subject, conn)`` on each subject, with its last result: ``repeats`` timed
    runs each, in ``ROUNDS`` rounds alternating between the subjects (so that a burst of other work on the
    machine falls on both alike), each round in one read transaction after ``untimed`` runs."""
    samples: list[list[float]] = [[] for _ in subjects]
    results: list = [None] * len(subjects)
    for _ in range(ROUNDS):
        for i, subject in enumerate(subjects):
            with subject.database.read() as conn:
                if prepare:
                    prepare(subject, conn)
                for _ in range(untimed):
                    call(subject, conn)
                for _ in range(max(1, repeats // ROUNDS)):
                    started = time.perf_counter()
                    results[i] = call(subject, conn)
                    samples[i].append(time.perf_counter() - started)
    return [(statistics.median(s), r) for s, r in zip(samples, results, strict=True)]


@contextmanager
def statements(database) -> Iterator[list[tuple[str, object]]]:
    """The SQL statements (with their parameters) sent to the database inside the block."""
    sent: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany):
        sent.append((statement, parameters))

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)


def sent_by(subject: Subject, call: Callable) -> tuple[str, object]:
    """The one SELECT statement ``call`` sends, with its parameters."""
    with statements(subject.database) as sent, subject.database.read() as conn:
        call(subject, conn)
    [selected] = [(s, p) for s, p in sent if s.lstrip().upper().startswith("SELECT")]
    return selected


def plan(database, statement: str, parameters) -> list[str]:
    with database.read() as conn:
        if database.is_sqlite:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            depth = {0: -1}
            lines = []
            for node, parent, _unused, detail in rows:
                depth[node] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node] + detail)
            return lines
        rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
        return [row[0] for row in rows]


def sent_raw(subject: Subject, conn):
    statement, parameters = subject.statements["a"]
    return conn.exec_driver_sql(statement, parameters).all()


def scanned(subject: Subject, conn):
    """The statement of query (a) with its indexes out of use: a scan of the clocks."""
    statement, parameters = subject.statements["a"]
    if subject.database.is_sqlite:
        statement = statement.replace("FROM ola_clocks", "FROM ola_clocks NOT INDEXED", 1)
    return conn.exec_driver_sql(statement, parameters).all()


def no_index_scans(subject: Subject, conn) -> None:
    if not subject.database.is_sqlite:
        for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
            conn.exec_driver_sql(f"SET LOCAL {setting} = off")


def restore(database, due_clocks: list[dict]) -> None:
    """Put the due clocks back as they were before the ticker attended to them."""
    clocks = tables.ola_clocks
    columns = ("state", "due_at", "warnings_sent", "next_check_at", "breached_at", "updated_at")
    with database.write() as conn:
        conn.execute(
            clocks.update()
            .where(clocks.c.id == sa.bindparam("b_id"))
            .values({c: sa.bindparam(f"b_{c}") for c in columns}),
            [{f"b_{c}": clock[c] for c in ("id", *columns)} for clock in due_clocks],
        )


def attend_times(subjects: list[Subject]) -> list[float]:
    """Median seconds of a full ``attend_due`` over the due clocks on each subject, alternating between
    them, the due clocks put back before each run (the first run, untimed, warms the caches)."""
    samples: list[list[float]] = [[] for _ in subjects]
    for repeat in range(ATTEND_REPEATS + 1):
        for i, subject in enumerate(subjects):
            restore(subject.database, subject.due_clocks)
            started = time.perf_counter()
            attended = subject.system.olas.attend_due()
            elapsed = time.perf_counter() - started
            assert attended == DUE, f"attend_due attended to {attended} clocks, not {DUE}"
            if repeat:
                samples[i].append(elapsed)
    for subject in subjects:
        restore(subject.database, subject.due_clocks)
    return [statistics.median(s) for s in samples]


def measure(subjects: list[Subject]) -> list[Figures]:
    due = interleaved(subjects, find_due, QUERY_REPEATS)
    at_risk = interleaved(subjects, find_at_risk, QUERY_REPEATS)
    for subject, (_, found), (_, listed) in zip(subjects, due, at_risk, strict=True):
        assert {r["id"] for r in found} == {c["id"] for c in subject.due_clocks}, "(a) missed the due clocks"
        assert len(listed) == subject.expected_at_risk, f"(b) listed {len(listed)}"
    plans = []
    for subject in subjects:
        subject.statements = {"a": sent_by(subject, find_due), "b": sent_by(subject, find_at_risk)}
        plans.append({name: plan(subject.database, *sent) for name, sent in subject.statements.items()})
    raw = interleaved(subjects, sent_raw, QUERY_REPEATS)
    scan = interleaved(subjects, scanned, SCAN_REPEATS, untimed=1, prepare=no_index_scans)
    for (_, found), (_, scanned_rows) in zip(raw, scan, strict=True):
        assert len(found) == len(scanned_rows) == DUE, "the raw statement did not find the due clocks"
    attend = attend_times(subjects)
    return [
        Figures(due=d[0], at_risk=r[0], attend=c, raw=w[0], scan=s[0], plans=p)
        for d, r, c, w, s, p in zip(due, at_risk, attend, raw, scan, plans, strict=True)
    ]


# ---- the run ---------------------------------------------------------------------------------------------


def prepare(database_url: str, size: int, now: datetime) -> Subject:
    """A database with ``size`` open clocks, the due and at-risk ones the same at every size."""
    started = time.perf_counter()
    # The benchmark measures the clocks, not the clinical approval step before a pathway runs.
    system = build(
        Settings(
            database_url=database_url,
            require_pathway_approval=False,
            secret_keys=(new_key(),),
            audit_keys=(new_audit_key(),),
        )
    )
    try:
        system.migrate()
        system.services.load_directory((SOPS / "services.toml").read_text(), "sops/services.toml", "bench")
        system.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "bench")
        system.definitions.deploy([SourceFile(f, (PROCESSES / f).read_bytes()) for f in FILES], "bench")
        base = (now - timedelta(days=30)).replace(hour=9, minute=0, second=0)
        copies = Copies(make_templates(system, base), now, random.Random(SEED))
        due = copies.due(DUE)
        fixed = due + copies.at_risk(AT_RISK)
        opened = insert(system.database, fixed)
        insert(system.database, copies.background(size - opened))
        settle(system.database)
        referrals, every_clock, states = census(system.database)
        assert states.total() == size, f"{states.total()} open clocks, not {size}"
    except BaseException:
        system.close()
        raise
    print(
        f"  {size:,} open clocks ({', '.join(f'{states[s]:,} {s}' for s in OPEN_STATES)}; "
        f"{every_clock:,} clocks with the closed ones) on {referrals:,} referrals, built in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return Subject(
        size=size,
        system=system,
        now=now,
        due_clocks=[c for copy in due for c in open_clocks(copy)],
        # What query (b) lists: every running clock due within the hour.
        expected_at_risk=sum(
            1
            for copy in fixed
            for c in open_clocks(copy)
            if c["state"] == "running" and c["due_at"] <= now + timedelta(hours=1)
        ),
    )


@contextmanager
def scratch_database(server_url: str | None) -> Iterator[str]:
    """A scratch PostgreSQL database on ``server_url``, or a scratch SQLite file when it is None."""
    if server_url is None:
        with tempfile.TemporaryDirectory() as scratch:
            yield f"sqlite:///{scratch}/signpost_bench_olas.db"
    else:
        with scratch_postgres_database(server_url, "signpost_bench_olas") as url:
            yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n", type=int, default=100_000, help=f"open clocks at the large size (the small size is {SMALL:,})"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SIGNPOST_DATABASE_URL"),
        help="a PostgreSQL server to run on, in scratch databases (else SQLite in a temporary directory)",
    )
    args = parser.parse_args()
    if args.n < SMALL:
        parser.error(f"--n must be at least {SMALL:,}")
    server_url = (
        args.database_url if args.database_url and not args.database_url.startswith("sqlite") else None
    )
    label = "PostgreSQL" if server_url else "SQLite"
    now = wall_clock.now().replace(microsecond=0)
    print(f"{label}, measured at {now.isoformat()}:", flush=True)
    subjects: list[Subject] = []
    with scratch_database(server_url) as small_url, scratch_database(server_url) as large_url:
        try:
            for url, size in ((small_url, SMALL), (large_url, args.n)):
                subjects.append(prepare(url, size, now))
            [small, large] = measure(subjects)
        finally:
            for subject in subjects:
                subject.system.close()
    expected = subjects[0].expected_at_risk
    assert subjects[1].expected_at_risk == expected
    rows = (
        (f"(a) the {DUE} due clocks, clocks_needing_attention", "due", "ratio"),
        (f"(b) at-risk list ({expected} clocks), clocks_at_risk", "at_risk", "ratio_at_risk"),
        (f"(c) attend_due over the {DUE} due clocks", "attend", "ratio_attend"),
        ("contrast: the statement of (a) sent raw", "raw", "ratio_raw"),
        ("          the same with no index (a scan)", "scan", "ratio_scan"),
    )
    print(f"{'':<52}{SMALL:>12,}{args.n:>12,} open clocks   ratio")
    for what, field_name, _key in rows:
        below, above = getattr(small, field_name), getattr(large, field_name)
        print(f"{what:<52}{below * 1e3:>9.3f} ms{above * 1e3:>9.3f} ms{above / below:>11.2f}")
    for size, figures in ((SMALL, small), (args.n, large)):
        for name, lines in figures.plans.items():
            print(f"plan of ({name}) at {size:,} open clocks:")
            for line in lines:
                print(f"    {line}")
    for _what, field_name, key in rows[1:]:
        print(f"{key}={getattr(large, field_name) / getattr(small, field_name):.3f}")
    print(f"ratio={large.due / small.due:.3f}")


if __name__ == "__main__":
    main()
