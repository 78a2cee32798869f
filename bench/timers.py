"""Timers on PostgreSQL: how late they fire with 1, 2 and 4 worker processes, how many fire per second, and
what finding the due ones costs with 1,000 and with 100,000 timers pending.

Firing (real worker processes, real time). One scratch database; a tiny pathway (start, an intermediate
timer whose due time is the referral's ``due_at`` field, end) deployed once. For each worker count:

- That many ``python -m api.cli worker`` processes (``signpost worker``, with this interpreter),
  ``SIGNPOST_TICK_SECONDS=0.2``, each read line by line in a thread. They start first, so that their
  start-up overlaps the set-up; with nothing due yet, they only look.
- Through the engine in-process (``signpost.referrals.start``, one transaction per referral, from 4
  threads), ``--n`` referrals whose timers fall due one after another, evenly over one minute
  (``--window``): the "timers due in the same minute". Then ``--burst`` more (``--n`` / 2 by default)
  whose timers all fall due at one instant, ``BURST_GAP`` seconds after the minute, to see how fast the
  workers clear a backlog. The due times are absolute (``timeDate``, not a duration), so a slow set-up
  cannot shift them: the minute starts when the set-up is expected to be over (at the mean start rate
  measured so far, with a margin) and the workers ready. The script reports how long before the first
  due time the workers were ready, and says so loudly if they were not.
- Every line "fired the timers of instance X, L s after they fell due" is collected until every timer of
  the batch has fired (or a deadline passes: then the script fails, showing what the database's sessions
  are doing). The workers are then stopped with SIGTERM, whatever happened.
- Nothing may fire twice: the log must hold exactly one "fired" line per instance, and the database
  exactly one ``timer_fired`` event per instance, every instance completed. Lines "timer of instance X
  not fired" are counted as stale attempts: a worker found the instance due, but by the time it took the
  instance's lock another worker had fired it and committed (the pathway has ended, so nothing happens).

Figures per worker count:

- lateness: L as the worker logs it (its clock after the commit minus the due time), over the timers due
  in the minute: p50, p99 (nearest rank) and max. The target: p99 under 2 s at 1,000 timers a minute.
- spread rate: timers of the minute / (last fire - first due time). It can only follow the pace at which
  they fall due (``--n`` a minute), so it shows that the workers kept up, not what they could do.
- burst: every timer due at one instant. Drain = last fire - that instant (waiting for the next tick
  included); burst rate = (burst - 1) / (last fire - first fire), the pace of firing itself: the
  throughput figure that can show how workers scale.
- CPU over the burst (from half a second before it falls due until its last "fired" line is read), from
  /proc: the worker processes and their PostgreSQL backends (from ``pg_stat_activity``), in CPU
  milliseconds per timer and in cores kept busy over that time. On 2 cores more workers can only help
  while workers plus database need less than the 2 cores; the load average is printed at the start and
  after each worker count, as other work on the machine competes for the same cores.

Due-work lookup. The cost of ``repository.instances_with_due_timers(conn, now, 200)``, the query every
worker tick starts with, at 1,000 and at ``--pending`` (100,000 by default) pending timers, in two scratch
databases measured in turns, call by call, so that whatever else runs on the machine weighs on both alike.
Each pending timer belongs to its own instance: a real instance of the pathway is started through the
engine and its row copied (new id, stub ``state``, which nothing reads here) in SQLAlchemy Core
``insert()`` executemany batches, with one ``waits`` row each, so the foreign key from ``waits`` to
``instances`` holds and the real table and indexes are measured. The same 50 timers are due (1 s to 10
minutes ago) in both databases, among the same first 1,000 rows; the rest fall due over the coming week
(1 hour to 7 days ahead). ``ANALYZE`` after the load, as autovacuum would. Figures: the median of 300
calls as the caller sees them (round trip included), the median "Execution Time" of 50 ``EXPLAIN
ANALYZE`` runs (inside PostgreSQL), and for contrast the statement with index scans switched off (a scan
of ``waits``). The ``EXPLAIN (ANALYZE, BUFFERS)`` plans are printed.

Usage: python bench/timers.py [--n N] [--burst B] [--window SECONDS] [--workers 1,2,4] [--pending P]
                             [--database-url URL]
``--database-url`` (default SIGNPOST_DATABASE_URL, else postgresql+psycopg://postgres@127.0.0.1:5432/
postgres) names a PostgreSQL server: scratch databases are made on it and dropped afterwards. A default
run took 250 to 290 s on a 2-core machine shared with other work (load average 2 to 11), three minutes
of it the three minutes of timers; the set-up and the bursts slow down as the machine gets busier. Prints
the figures and, as its last line, ratio=<lookup time at P pending / at 1,000 pending>, as the caller
sees it.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import queue
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import clock  # noqa: E402 - the path must be set first
from engine.bpmn import SourceFile  # noqa: E402
from engine.governance.audit_keys import new_audit_key  # noqa: E402
from engine.notifications.secrets_at_rest import new_key  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.store import instances as instance_store  # noqa: E402
from engine.store import tables  # noqa: E402
from engine.store.db import Database, scratch_postgres_database  # noqa: E402
from engine.system import Signpost, build  # noqa: E402

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PATHWAY = "bench_timer"
PATHWAY_BPMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="bench_timer_definitions"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{PATHWAY}" name="Timer benchmark" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="Wait until due">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_timer">
        <bpmn:timeDate>due_at</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
WORKER_COUNTS = (1, 2, 4)
TICK_SECONDS = 0.2
BURST_GAP = 3.0  # seconds from the last timer of the minute to the burst
# Referrals whose timers fall due in 30 days, started before the first worker count: the first load the
# pathway, the others give a first start rate.
WARM_UP = 10
TIMED_WARM_UP = 40
SETUP_THREADS = 4
SETUP_MARGIN = 1.2  # the set-up is expected to take this much longer than the start rate says
WORKER_START_SECONDS = 60
# Encrypts the webhook secrets in this run's databases, in this process and in the ones it starts.
SECRET_KEY = new_key()
AUDIT_KEY = new_audit_key()
GRACE_SECONDS = 1.0  # reading on after the last timer fired (five ticks)
FIRED = re.compile(r"fired the timers of instance (\S+), ([0-9.]+) s after they fell due")
NOT_FIRED = re.compile(r"timer of instance (\S+) not fired")
READY = re.compile(r"Signpost worker (\d+) is attending")
CHUNK = 1_000  # ids per IN (...) when reading back

SMALL = 1_000
DUE_NOW = 50
LIMIT = 200  # the ticker's batch size
INSERT_BATCH = 5_000
QUERY_REPEATS = 300
SCAN_REPEATS = 10
EXPLAIN_REPEATS = 50

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---- firing: set-up through the engine -------------------------------------------------------------------


def prepare(url: str) -> tuple[Signpost, object]:
    """Migrate, deploy the pathway and make a referrer client; returns the engine and the client."""
    system = build(
        Settings(
            database_url=url,
            require_pathway_approval=False,
            secret_keys=(SECRET_KEY,),
            audit_keys=(AUDIT_KEY,),
        )
    )
    system.migrate()
    system.definitions.deploy([SourceFile(f"{PATHWAY}.bpmn", PATHWAY_BPMN.encode())], "bench")
    referrer = system.clients.create(name="bench gp", organisation="bench-gp", roles={"referrer"})[0]
    return system, referrer


def start_referrals(system: Signpost, referrer, due_times: list[datetime]) -> dict[str, datetime]:
    """One referral per due time, each waiting on its timer; returns {instance id: due time}."""

    def start(numbered: tuple[int, datetime]) -> tuple[str, datetime]:
        i, due = numbered
        referral, _ = system.referrals.start(
            referrer,
            pathway=PATHWAY,
            version=None,
            referrer=f"GP{i}",
            subject=None,
            data={"due_at": due.isoformat()},
        )
        timers = referral["waiting_for"]["timers"]
        if not timers:  # a due time already past when the referral started: its timer fired at once
            raise RuntimeError(
                f"the set-up fell behind: a referral started after {due.isoformat()}, its timer's due "
                "time (the machine is too busy for this --n)"
            )
        [timer] = timers
        assert abs(datetime.fromisoformat(timer["due_at"]) - due) < timedelta(milliseconds=1), timer
        return referral["id"], due

    # A few threads overlap each start's round trips to the database with the next one's Python work.
    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        referral_due = dict(pool.map(start, enumerate(due_times)))
    referrals = tables.referrals
    due_of_instance = {}
    ids = list(referral_due)
    with system.database.read() as conn:
        for chunk in range(0, len(ids), CHUNK):
            query = sa.select(referrals.c.id, referrals.c.instance_id).where(
                referrals.c.id.in_(ids[chunk : chunk + CHUNK])
            )
            for referral_id, instance_id in conn.execute(query):
                due_of_instance[instance_id] = referral_due[referral_id]
    return due_of_instance


def fired_events(database: Database, instance_ids: list[str]) -> tuple[Counter, Counter]:
    """(timer_fired events per instance, instances by status) for ``instance_ids``, from the database."""
    events, instances = tables.instance_events, tables.instances
    fired: Counter = Counter()
    statuses: Counter = Counter()
    with database.read() as conn:
        for chunk in range(0, len(instance_ids), CHUNK):
            ids = instance_ids[chunk : chunk + CHUNK]
            query = (
                sa.select(events.c.instance_id, sa.func.count())
                .where(events.c.kind == "timer_fired", events.c.instance_id.in_(ids))
                .group_by(events.c.instance_id)
            )
            fired.update(dict(conn.execute(query).all()))
            query = (
                sa.select(instances.c.status, sa.func.count())
                .where(instances.c.id.in_(ids))
                .group_by(instances.c.status)
            )
            statuses.update(dict(conn.execute(query).all()))
    return fired, statuses


# ---- firing: worker processes ----------------------------------------------------------------------------


class Workers:
    """``count`` ``signpost worker`` processes on ``url``; their output lines arrive on ``lines`` as
    (worker number, line, when it arrived), and (worker number, None, …) when a worker's output ends."""

    def __init__(self, url: str, count: int):
        env = {
            **os.environ,
            "SIGNPOST_DATABASE_URL": url,
            "SIGNPOST_TICK_SECONDS": str(TICK_SECONDS),
            "SIGNPOST_SECRET_KEYS": SECRET_KEY,
            "SIGNPOST_AUDIT_KEYS": AUDIT_KEY,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
        self.lines: queue.Queue = queue.Queue()
        self._held: deque = deque()  # lines read while waiting for the workers to be ready, not yet seen
        self.tail: deque = deque(maxlen=40)
        self.processes: list[subprocess.Popen] = []
        self.started = clock.now()
        self._readers: list[threading.Thread] = []
        for number in range(count):
            process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "worker"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            self.processes.append(process)
            reader = threading.Thread(target=self._pump, args=(number, process.stdout), daemon=True)
            reader.start()
            self._readers.append(reader)

    def _pump(self, number: int, stream) -> None:
        for line in stream:
            self.lines.put((number, line, clock.now()))
        self.lines.put((number, None, clock.now()))

    def next_line(self, timeout: float) -> tuple[int, str, datetime] | None:
        """The next (worker number, line, when it arrived), or None if none came within ``timeout``
        seconds. A worker whose output ends (it stopped) is an error."""
        if self._held:
            return self._held.popleft()
        try:
            number, line, arrived = self.lines.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if line is None:
            raise RuntimeError(
                f"worker {number} stopped ({self.processes[number].wait()}):\n{''.join(self.tail)}"
            )
        self.tail.append(f"[{number}] {line}")
        return number, line, arrived

    def wait_ready(self) -> datetime:
        """Wait until every worker has said it is running; returns when the last one said so."""
        ready: dict[int, datetime] = {}
        held = []  # a worker ready before the others may already be firing: its lines are kept
        deadline = time.monotonic() + WORKER_START_SECONDS
        while len(ready) < len(self.processes):
            got = self.next_line(deadline - time.monotonic())
            if got is None:
                raise RuntimeError(
                    f"the workers did not start within {WORKER_START_SECONDS} s:\n{''.join(self.tail)}"
                )
            if READY.search(got[1]):
                ready[got[0]] = got[2]
            else:
                held.append(got)
        self._held.extend(held)
        return max(ready.values())

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for reader in self._readers:
            reader.join(timeout=30)
        for process in self.processes:
            process.stdout.close()


@contextmanager
def running_workers(url: str, count: int) -> Iterator[Workers]:
    """Workers started now and stopped at the end of the block, whatever happened."""
    workers = Workers(url, count)
    try:
        yield workers
    finally:
        workers.stop()


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process so far (from /proc; a process gone reads as absent)."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


def sessions(database: Database) -> str:
    """What every session on the scratch database is doing (for a failure message)."""
    with database.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT pid, state, wait_event_type, wait_event, now() - xact_start, left(query, 160) "
            "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).all()
    return "\n".join("  " + " | ".join(str(value) for value in row) for row in rows)


def backend_pids(database: Database) -> list[int]:
    """The PostgreSQL server processes serving the scratch database, other than this connection's."""
    with database.read() as conn:
        query = (
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in conn.exec_driver_sql(query)]


class CpuMeter:
    """CPU used by the workers and by the database's server processes between ``start`` and ``stop``."""

    def __init__(self, database: Database, workers: Workers):
        self._database = database
        self._workers = workers

    def start(self) -> None:
        self._backends = backend_pids(self._database)
        self._before = cpu_seconds(self._workers.pids()), cpu_seconds(self._backends)
        self._started = time.monotonic()

    def stop(self) -> tuple[float, float, float]:
        """(worker CPU seconds, database CPU seconds, wall seconds) since ``start``."""
        backends = sorted(set(self._backends) | set(backend_pids(self._database)))
        workers, database = cpu_seconds(self._workers.pids()), cpu_seconds(backends)
        wall = time.monotonic() - self._started
        before_workers, before_database = self._before
        return _used(before_workers, workers), _used(before_database, database), wall


def _used(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


# ---- firing: one worker count ----------------------------------------------------------------------------


@dataclass
class Phase:
    workers: int
    setup_seconds: float
    start_rate: float
    ready_before_due: float  # seconds from the workers being ready to the first due time (< 0: late)
    startup_seconds: float  # from starting the workers to the last of them being ready
    lateness: list[float]  # the timers of the minute
    spread_rate: float
    burst: int
    burst_drain: float
    burst_rate: float
    stale: int
    errors: list[str]
    load: float  # the machine's 1-minute load average when the phase ended
    cpu_workers: float
    cpu_database: float
    cpu_wall: float  # the seconds over which CPU was measured: from 0.5 s before the burst to its last fire

    @property
    def cpu_per_timer(self) -> float:
        """CPU seconds of workers and database per timer fired in the burst."""
        return (self.cpu_workers + self.cpu_database) / self.burst if self.burst else 0.0

    @property
    def cores_busy(self) -> float:
        """Cores kept busy by the workers and their database backends while the burst drained."""
        return (self.cpu_workers + self.cpu_database) / self.cpu_wall if self.cpu_wall else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.lateness)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def run_phase(
    system: Signpost,
    referrer,
    url: str,
    workers: int,
    n: int,
    burst: int,
    window: float,
    start_rate: float,
    startup_per_worker: float,
) -> Phase:
    fires: dict[str, list[float]] = {}
    stale = 0
    errors: list[str] = []  # a failed tick is retried on the next one: counted and shown, not fatal
    # The workers start first: their start-up overlaps the set-up, and with nothing due they only look.
    with running_workers(url, workers) as running:
        setup_started = time.monotonic()
        expected_setup = (n + burst) / start_rate * SETUP_MARGIN
        expected_startup = 2.0 + startup_per_worker * workers * SETUP_MARGIN
        first_due = clock.now() + timedelta(seconds=max(expected_setup, expected_startup) + 0.5)
        spread_due = [first_due + timedelta(seconds=window * i / n) for i in range(n)]
        burst_at = first_due + timedelta(seconds=window + BURST_GAP)
        spread = start_referrals(system, referrer, spread_due)
        bursting = start_referrals(system, referrer, [burst_at] * burst)
        setup_seconds = time.monotonic() - setup_started
        due = {**spread, **bursting}
        fires = {instance_id: [] for instance_id in due}
        ready = running.wait_ready()
        ready_before_due = (first_due - ready).total_seconds()
        startup_seconds = (ready - running.started).total_seconds()
        meter = CpuMeter(system.database, running)
        metering = False
        cpu: tuple[float, float, float] | None = None
        burst_left = set(bursting)
        left = len(due)
        deadline = time.monotonic() + (burst_at - clock.now()).total_seconds() + 30 + (n + burst) / 50
        while left:
            until_burst = (burst_at - clock.now()).total_seconds() - 0.5
            if not metering and until_burst <= 0:
                meter.start()
                metering = True
            wait = deadline - time.monotonic()
            got = running.next_line(min(wait, until_burst) if not metering else wait)
            if got is None:
                if time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"{left} of {len(due)} timers had not fired by the deadline:\n{''.join(running.tail)}"
                        f"the database's sessions:\n{sessions(system.database)}"
                    )
                continue
            line = got[1]
            if fired := FIRED.search(line):
                instance_id, lateness = fired.group(1), float(fired.group(2))
                if instance_id not in fires:
                    raise RuntimeError(f"a worker fired an instance of no batch: {line}")
                if not fires[instance_id]:
                    left -= 1
                fires[instance_id].append(lateness)
                burst_left.discard(instance_id)
                if metering and not burst_left and cpu is None:
                    cpu = meter.stop()
            elif NOT_FIRED.search(line):
                stale += 1
            elif " ERROR " in line:
                errors.append(line.strip())
        # A little longer, so that a second "fired" line for an instance would still be seen.
        grace = time.monotonic() + GRACE_SECONDS
        while (got := running.next_line(grace - time.monotonic())) is not None:
            if fired := FIRED.search(got[1]):
                fires.setdefault(fired.group(1), []).append(float(fired.group(2)))
            elif NOT_FIRED.search(got[1]):
                stale += 1
    twice = {instance_id: len(seen) for instance_id, seen in fires.items() if len(seen) != 1}
    assert not twice, f"'fired' lines per instance other than one: {twice}"
    events, statuses = fired_events(system.database, list(due))
    assert all(events[instance_id] == 1 for instance_id in due), "an instance has other than one timer_fired"
    assert statuses == Counter({"completed": len(due)}), f"instances not all completed: {statuses}"

    def fire_time(instance_id: str) -> float:
        return due[instance_id].timestamp() + fires[instance_id][0]

    lateness = [fires[instance_id][0] for instance_id in spread]
    last_spread = max(fire_time(instance_id) for instance_id in spread)
    burst_fires = sorted(fire_time(instance_id) for instance_id in bursting)
    return Phase(
        workers=workers,
        setup_seconds=setup_seconds,
        start_rate=(n + burst) / setup_seconds,
        ready_before_due=ready_before_due,
        startup_seconds=startup_seconds,
        lateness=lateness,
        spread_rate=n / (last_spread - first_due.timestamp()),
        burst=burst,
        burst_drain=burst_fires[-1] - burst_at.timestamp() if burst else 0.0,
        burst_rate=(burst - 1) / (burst_fires[-1] - burst_fires[0]) if burst > 1 else 0.0,
        stale=stale,
        errors=errors,
        load=os.getloadavg()[0],
        cpu_workers=cpu[0] if cpu else 0.0,
        cpu_database=cpu[1] if cpu else 0.0,
        cpu_wall=cpu[2] if cpu else 0.0,
    )


def firing(server_url: str, n: int, burst: int, window: float, counts: list[int]) -> list[Phase]:
    with scratch_postgres_database(server_url, "signpost_bench_timers") as url:
        system, referrer = prepare(url)
        try:
            later = clock.now() + timedelta(days=30)
            start_referrals(system, referrer, [later] * WARM_UP)  # loads the pathway, fills the pool
            started = time.monotonic()
            start_referrals(system, referrer, [later] * TIMED_WARM_UP)
            rates = [TIMED_WARM_UP / (time.monotonic() - started)]
            startup_per_worker = 1.5  # seconds; the workers start together, on the same cores
            phases = []
            for workers in counts:
                phase = run_phase(
                    system,
                    referrer,
                    url,
                    workers,
                    n,
                    burst,
                    window,
                    statistics.mean(rates),
                    startup_per_worker,
                )
                report_phase(phase)
                phases.append(phase)
                rates.append(phase.start_rate)
                startup_per_worker = max(startup_per_worker, phase.startup_seconds / workers)
            return phases
        finally:
            system.close()


def report_phase(phase: Phase) -> None:
    plural = "s" if phase.workers > 1 else ""
    ready = (
        f"{phase.ready_before_due:.1f} s before the first due time"
        if phase.ready_before_due >= 0
        else f"{-phase.ready_before_due:.1f} s AFTER THE FIRST DUE TIME (LATENESS INCLUDES IT)"
    )
    print(
        f"{phase.workers} worker{plural}: set-up {phase.setup_seconds:.1f} s "
        f"({phase.start_rate:.0f} referrals/s started in-process); workers ready in "
        f"{phase.startup_seconds:.1f} s, {ready}",
        flush=True,
    )
    print(
        f"  lateness over the minute: p50 {phase.percentile(50):.3f} s, p99 {phase.percentile(99):.3f} s, "
        f"max {max(phase.lateness):.3f} s; spread rate {phase.spread_rate:.1f} timers/s",
        flush=True,
    )
    if phase.burst:
        print(
            f"  burst of {phase.burst}: drained {phase.burst_drain:.2f} s after falling due, "
            f"{phase.burst_rate:.0f} timers/s; "
            f"CPU per timer {phase.cpu_workers / phase.burst * 1e3:.2f} ms workers + "
            f"{phase.cpu_database / phase.burst * 1e3:.2f} ms database, {phase.cores_busy:.2f} cores busy",
            flush=True,
        )
    print(
        f"  stale attempts (fired by another worker first): {phase.stale}; nothing fired twice; "
        f"load average {phase.load:.2f}",
        flush=True,
    )
    if phase.errors:
        print(f"  {len(phase.errors)} ERROR lines from the workers, the first: {phase.errors[0]}", flush=True)


# ---- due-work lookup -------------------------------------------------------------------------------------


@dataclass
class Lookup:
    pending: int
    seconds: float  # as the caller sees it: round trip, driver and SQLAlchemy included
    server_ms: float  # the statement's execution inside PostgreSQL (EXPLAIN ANALYZE's "Execution Time")
    scan_seconds: float
    plan: list[str]
    claim_seconds: float  # what a worker sends now: the due instance found and locked in one statement


def template_instance(system: Signpost, referrer) -> tuple[dict, str]:
    """The row of a real instance waiting on its timer, and the timer's name; the instance's own wait is
    removed, so that the pending timers are exactly the synthetic ones."""
    due = start_referrals(system, referrer, [clock.now() + timedelta(days=7)])
    [instance_id] = due
    with system.database.write() as conn:
        row = dict(instance_store.instance(conn, instance_id))
        [wait] = instance_store.waits_of(conn, instance_id)
        instance_store.replace_waits(conn, instance_id, [])
    return row, wait["name"]


def pending_rows(
    template: dict, timer: str, now: datetime, rng: random.Random
) -> Iterator[tuple[dict, dict]]:
    """(instance row, wait row) pairs without end: the first ``DUE_NOW`` due already, the rest due in the
    coming week. The instance rows are the template's with a new id and a stub ``state``: nothing loads
    them (the lookup reads ``waits`` alone), and the real 2.6 kB state would only slow the load."""
    for i in itertools.count():
        if i < DUE_NOW:
            due = now - timedelta(seconds=rng.uniform(1, 600))
        else:
            due = now + timedelta(seconds=rng.uniform(3600, 7 * 24 * 3600))
        instance_id = str(uuid.uuid4())
        yield (
            {**template, "id": instance_id, "state": "{}"},
            {"instance_id": instance_id, "kind": "timer", "name": timer, "due_at": due},
        )


def insert_pending(database: Database, rows: list[tuple[dict, dict]]) -> None:
    """Bulk-insert in batches (executemany), one transaction each; then refresh the planner statistics."""
    for start in range(0, len(rows), INSERT_BATCH):
        batch = rows[start : start + INSERT_BATCH]
        with database.write() as conn:
            conn.execute(tables.instances.insert(), [instance for instance, _ in batch])
            conn.execute(tables.waits.insert(), [wait for _, wait in batch])


def analyze(database: Database) -> int:
    """ANALYZE, as autovacuum would after such a load; returns the number of pending timers."""
    with database.write() as conn:
        conn.exec_driver_sql("ANALYZE")
        return conn.execute(sa.select(sa.func.count()).select_from(tables.waits)).scalar_one()


@contextmanager
def statements(database: Database) -> Iterator[list[tuple[str, object]]]:
    """The SQL statements (with their parameters) sent to the database inside the block."""
    sent: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany):
        sent.append((statement, parameters))

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)


def alternating(databases: list[Database], call: Callable, repeats: int, setup: Callable | None = None):
    """Median seconds of ``call(conn)`` on each database, taking turns call by call (so that whatever else
    the machine is doing weighs on every database alike), each in one read transaction after a few
    untimed calls; returns [(median seconds, last result)] in the order of ``databases``."""
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(database.read()) for database in databases]
        if setup:
            for conn in conns:
                setup(conn)
        results = [None] * len(conns)
        for conn in conns:
            for _ in range(min(10, repeats)):
                call(conn)
        samples: list[list[float]] = [[] for _ in conns]
        for _ in range(repeats):
            for k, conn in enumerate(conns):
                started = time.perf_counter()
                results[k] = call(conn)
                samples[k].append(time.perf_counter() - started)
    return [(statistics.median(s), result) for s, result in zip(samples, results, strict=True)]


def measure_lookup(databases: list[Database], sizes: list[int], now: datetime, due_ids: set[str]):
    def find(conn):
        return instance_store.instances_with_due_timers(conn, now, LIMIT)

    timed = alternating(databases, find, QUERY_REPEATS)
    for (_, found), size in zip(timed, sizes, strict=True):
        assert {i for i, _ in found} == due_ids, f"at {size:,} pending the lookup found other than the due"
    claims = alternating(databases, lambda conn: instance_store.claim_due_timer(conn, now), QUERY_REPEATS)
    for (_, claimed), size in zip(claims, sizes, strict=True):
        assert claimed["id"] in due_ids, f"at {size:,} pending the claim took an instance not due"
    with statements(databases[0]) as sent, databases[0].read() as conn:
        find(conn)
    [(statement, parameters)] = [(s, p) for s, p in sent if s.lstrip().upper().startswith("SELECT")]

    def explain(conn) -> float:
        lines = [row[0] for row in conn.exec_driver_sql("EXPLAIN ANALYZE " + statement, parameters)]
        [execution] = [line for line in lines if line.startswith("Execution Time:")]
        return float(execution.split()[2])

    def no_index_scans(conn) -> None:
        for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
            conn.exec_driver_sql(f"SET LOCAL {setting} = off")

    executions = [[], []]
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(database.read()) for database in databases]
        for _ in range(EXPLAIN_REPEATS):
            for k, conn in enumerate(conns):
                executions[k].append(explain(conn))
        plans = [
            [row[0] for row in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)]
            for conn in conns
        ]
    scans = alternating(
        databases,
        lambda conn: conn.exec_driver_sql(statement, parameters).all(),
        SCAN_REPEATS,
        no_index_scans,
    )
    for _, rows in scans:
        assert len(rows) == DUE_NOW, f"the scan found {len(rows)}, not {DUE_NOW}"
    return [
        Lookup(size, seconds, statistics.median(server), scan, plan, claim)
        for size, (seconds, _), server, (scan, _), plan, (claim, _) in zip(
            sizes, timed, executions, scans, plans, claims, strict=True
        )
    ]


def lookup(server_url: str, large: int) -> list[Lookup]:
    """The lookup at ``SMALL`` and at ``large`` pending timers, in two databases holding the same first
    ``SMALL`` rows (the same ``DUE_NOW`` due among them), measured in turns."""
    with (
        scratch_postgres_database(server_url, "signpost_bench_timers_small") as small_url,
        scratch_postgres_database(server_url, "signpost_bench_timers_large") as large_url,
    ):
        systems = []
        try:
            templates = []
            for url in (small_url, large_url):
                system, referrer = prepare(url)
                systems.append(system)
                templates.append(template_instance(system, referrer))
            (template, timer), (other, _) = templates
            assert template["version_id"] == other["version_id"], "the pathway has other ids in each database"
            now = clock.now()
            rows = pending_rows(template, timer, now, random.Random(20_261_123))
            first = list(itertools.islice(rows, SMALL))
            due_ids = {instance["id"] for instance, wait in first if wait["due_at"] <= now}
            loading = time.monotonic()
            for system in systems:
                insert_pending(system.database, first)
            insert_pending(systems[1].database, list(itertools.islice(rows, large - SMALL)))
            sizes = [analyze(system.database) for system in systems]
            assert sizes == [SMALL, large], f"{sizes} pending timers, not {[SMALL, large]}"
            print(
                f"lookup: {SMALL:,} and {large:,} pending timers in two databases, the same {DUE_NOW} due in "
                f"each (loaded in {time.monotonic() - loading:.1f} s)",
                flush=True,
            )
            figures = measure_lookup([system.database for system in systems], sizes, now, due_ids)
            for found in figures:
                print(
                    f"  {found.pending:,} pending: instances_with_due_timers(conn, now, {LIMIT}) "
                    f"{found.seconds * 1e3:.3f} ms median ({found.server_ms:.3f} ms executing in "
                    f"PostgreSQL); with index scans off {found.scan_seconds * 1e3:.3f} ms",
                    flush=True,
                )
            return figures
        finally:
            for system in systems:
                system.close()


# ---- the run ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="timers due in the same minute, per worker count")
    parser.add_argument(
        "--burst", type=int, help="timers due at one instant after the minute (default: N / 2)"
    )
    parser.add_argument("--window", type=float, default=60.0, help="seconds the N timers are spread over")
    parser.add_argument(
        "--workers",
        default=",".join(map(str, WORKER_COUNTS)),
        help="worker counts to run, comma-separated",
    )
    parser.add_argument("--pending", type=int, default=100_000, help="pending timers at the large size")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SIGNPOST_DATABASE_URL") or DEFAULT_SERVER,
        help="the PostgreSQL server to make scratch databases on",
    )
    args = parser.parse_args()
    burst = args.n // 2 if args.burst is None else args.burst
    if not args.database_url.startswith("postgresql"):
        parser.error("this benchmark needs PostgreSQL (workers sharing one database)")
    if args.n < 2 or burst < 0 or args.pending < SMALL:
        parser.error(f"--n must be at least 2, --burst at least 0, --pending at least {SMALL:,}")
    started = time.monotonic()
    load = os.getloadavg()
    print(
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start; "
        f"{args.n} timers due over {args.window:g} s, then {burst} due at one instant; "
        f"workers tick every {TICK_SECONDS:g} s",
        flush=True,
    )
    counts = [int(count) for count in args.workers.split(",")]
    phases = firing(args.database_url, args.n, burst, args.window, counts)
    lookups = lookup(args.database_url, args.pending)
    small, large = lookups
    for figures in lookups:
        print(f"plan at {figures.pending:,} pending timers:")
        for line in figures.plan:
            print(f"    {line}")
    print(f"summary ({time.monotonic() - started:.0f} s in all):")
    for phase in phases:
        verdict = "under" if phase.percentile(99) < 2 else "NOT under"
        timers = len(phase.lateness) + phase.burst
        print(
            f"  {phase.workers} worker{'s' if phase.workers > 1 else ' '}: lateness p50 "
            f"{phase.percentile(50):.3f} s, p99 {phase.percentile(99):.3f} s ({verdict} 2 s); "
            f"burst {phase.burst_rate:.0f} timers/s, {phase.cpu_per_timer * 1e3:.1f} CPU ms each, "
            f"{phase.cores_busy:.2f} cores busy; stale attempts {phase.stale} of "
            f"{timers} fired ({phase.stale / timers:.1%})"
        )
    ratio = large.seconds / small.seconds
    print(
        f"  lookup at {small.pending:,} / {large.pending:,} pending: {small.seconds * 1e3:.3f} / "
        f"{large.seconds * 1e3:.3f} ms ({small.server_ms:.3f} / {large.server_ms:.3f} ms in PostgreSQL); "
        f"scanning without the index: {small.scan_seconds * 1e3:.2f} / {large.scan_seconds * 1e3:.2f} ms"
    )
    print(
        f"  a worker's claim of the next due instance at {small.pending:,} / {large.pending:,} pending: "
        f"{small.claim_seconds * 1e3:.3f} / {large.claim_seconds * 1e3:.3f} ms "
        f"(ratio {large.claim_seconds / small.claim_seconds:.2f})"
    )
    flat = "flat" if ratio < 1.5 else "NOT flat"
    print(
        f"  due-work lookup from {small.pending:,} to {large.pending:,} pending: {flat} (ratio {ratio:.2f})"
    )
    print(f"ratio_server={large.server_ms / small.server_ms:.3f}")
    print(f"ratio_scan={large.scan_seconds / small.scan_seconds:.3f}")
    print(f"ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
