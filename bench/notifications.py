"""Progress notifications: deliveries per second to a local receiver with 1 and 4 worker processes, and what
writing the outbox adds to each referral step.

(a) Delivery throughput. A backlog of ``--n`` webhook deliveries is made as referrers make it: referrals of
    the community nursing pathway submitted with a one-off ``notify`` URL each (so each referral's events
    form their own line, which workers may send in parallel; within a line they go one at a time, in
    order), three milestones apiece (received, triaged, routed). The backlog is made with the clock moved a
    day ahead (``time_machine``), so that nothing is due while the workers start; once every worker has said
    it is running, one UPDATE makes the whole backlog due and the clock starts. Real ``signpost worker``
    processes (``python -m api.cli worker``, tick 0.1 s) send it to a receiver in this process: a
    ``ThreadingHTTPServer`` on 127.0.0.1 speaking HTTP/1.1 with keep-alive, which verifies every signature
    with the ``standardwebhooks`` library before answering 204. The rate is the backlog over the time from
    the release to the last delivery's arrival; afterwards every delivery must read ``delivered`` and every
    event must have arrived (a duplicate, from a lease that ran out, is counted and reported).
(b) The outbox's cost per step. Referrals from two practices run through the same five steps in process
    (submit, which routes at once; acknowledge; accept with a visit window; start; complete), one
    transaction each: one practice has ``--subscribers`` webhook subscriptions to all its referrals, the
    other none. Each milestone (six per referral) then also writes, per subscriber, a numbered event and a
    delivery row. The two alternate referral by referral so that drift in the machine hits both alike. No
    worker runs meanwhile: only writing the outbox is measured, not sending it.

Runs on SQLite (a file in a temporary directory), and on PostgreSQL as well when ``--database-url`` (or
SIGNPOST_DATABASE_URL) names a PostgreSQL server (a scratch database is created on it and dropped after).

Usage: python bench/notifications.py [--n N] [--subscribers S] [--database-url URL]
Prints the figures and, as its last line, ratio=<time of a referral's five steps with S subscribers / with
none> on SQLite.
"""

from __future__ import annotations

import argparse
import math
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import sqlalchemy as sa
import time_machine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import clock  # noqa: E402 - the path must be set first
from engine.bpmn import SourceFile  # noqa: E402
from engine.governance.audit_keys import new_audit_key  # noqa: E402
from engine.notifications.secrets_at_rest import new_key  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.store import tables  # noqa: E402
from engine.store.db import scratch_postgres_database  # noqa: E402
from engine.system import Signpost, build  # noqa: E402

PROCESSES = ROOT / "processes"
SOPS = ROOT / "sops"
FILES = ("community_nursing_referral.bpmn", "community_nursing_triage.dmn")
TEAM = "leicestershire-partnership-nhs-trust"
SUBJECT = "9434765919"  # the NHS number is part of the minimum dataset: without it the referral waits
REFERRAL = {"clinical_need": "wound_care", "address_postcode": "LE1 5WW", "housebound": True}
MILESTONES_PER_REFERRAL = 3  # received, triaged, routed
WORKER_COUNTS = (1, 4)
STARTUP_TIMEOUT_SECONDS = 60
DELIVERY_TIMEOUT_SECONDS = 300
STEPS = ("submit", "acknowledge", "accept", "start", "complete")
# Encrypts the webhook secrets in this run's databases, in this process and in the ones it starts.
SECRET_KEY = new_key()
AUDIT_KEY = new_audit_key()


# ---- the receiver ----------------------------------------------------------------------------------------


class Receiver:
    """Verifies each delivery's signature with the secret of its path and counts the distinct webhook-ids."""

    def __init__(self):
        self.secrets: dict[str, Webhook] = {}
        self.ids: set[str] = set()
        self.requests = 0
        self.refused = 0
        self.last_arrival = 0.0
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{path}"

    def reset(self) -> None:
        with self._changed:
            self.ids, self.requests, self.refused = set(), 0, 0

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.ids) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RuntimeError(f"only {len(self.ids)} of {count} deliveries arrived in {timeout:g} s")
                self._changed.wait(remaining)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _arrived(self, path: str, headers: dict, body: bytes) -> int:
        try:
            self.secrets[path].verify(body, headers)
        except (KeyError, WebhookVerificationError):
            with self._changed:
                self.requests += 1
                self.refused += 1
            return 401
        with self._changed:
            self.requests += 1
            self.ids.add(headers["webhook-id"])
            self.last_arrival = time.perf_counter()
            self._changed.notify_all()
        return 204

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: each worker reuses its connection

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver._arrived(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        return Handler


# ---- worker processes ------------------------------------------------------------------------------------


class Worker:
    def __init__(self, database_url: str, cwd: str):
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "SIGNPOST_DATABASE_URL": database_url,
            "SIGNPOST_WEBHOOK_ALLOW_PRIVATE": "1",
            "SIGNPOST_TICK_SECONDS": "0.1",
            "SIGNPOST_SECRET_KEYS": SECRET_KEY,
            "SIGNPOST_AUDIT_KEYS": AUDIT_KEY,
        }
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker"],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._ready: queue.Queue[bool] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.append(line)
            if "is attending to" in line:
                self._ready.put(True)
        self._ready.put(False)

    def wait_ready(self) -> None:
        if not self._ready.get(timeout=STARTUP_TIMEOUT_SECONDS):
            raise RuntimeError("a worker stopped before it was ready:\n" + "".join(self.lines))

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
        self.popen.wait(timeout=STARTUP_TIMEOUT_SECONDS)
        self._reader.join(timeout=STARTUP_TIMEOUT_SECONDS)

    def failures(self) -> int:
        return sum("tick failed" in line for line in self.lines)


# ---- (a) delivery throughput -----------------------------------------------------------------------------


@dataclass
class Throughput:
    workers: int
    deliveries: int
    seconds: float
    requests: int
    refused: int
    failed_ticks: int

    @property
    def rate(self) -> float:
        return self.deliveries / self.seconds


def make_backlog(system: Signpost, receiver: Receiver, referrals: int, run: int) -> list[str]:
    """Referrals submitted a day ahead with a one-off webhook each; returns their subscription ids."""
    gp = system.clients.create(name=f"bench gp {run}", organisation="city-gp-practice", roles={"referrer"})[0]
    subscriptions = []
    with time_machine.travel(clock.now() + timedelta(days=1), tick=False):
        for i in range(referrals):
            path = f"/run{run}/referral{i}"
            referral, _ = system.referrals.start(
                gp,
                pathway="community_nursing_referral",
                version=None,
                referrer="C81001",
                subject=SUBJECT,
                data=REFERRAL,
                notify={"url": receiver.url(path)},
            )
            receiver.secrets[path] = Webhook(referral["notification_subscription"]["secret"])
            subscriptions.append(referral["notification_subscription"]["id"])
    return subscriptions


def deliver_backlog(
    system: Signpost, receiver: Receiver, workers: int, n: int, run: int, cwd: str
) -> Throughput:
    referrals = math.ceil(n / MILESTONES_PER_REFERRAL)
    subscriptions = make_backlog(system, receiver, referrals, run)
    expected = referrals * MILESTONES_PER_REFERRAL
    receiver.reset()
    fleet = [Worker(system.settings.database_url, cwd) for _ in range(workers)]
    try:
        for worker in fleet:
            worker.wait_ready()
        deliveries = tables.deliveries
        mine = deliveries.c.subscription_id.in_(subscriptions)
        with system.database.write() as conn:
            conn.execute(deliveries.update().where(mine).values(next_attempt_at=clock.now()))
        released = time.perf_counter()
        try:
            receiver.wait_for(expected, DELIVERY_TIMEOUT_SECONDS)
        except RuntimeError as late:
            output = "".join(line for worker in fleet for line in worker.lines[-20:])
            raise RuntimeError(
                f"{late} ({receiver.requests} requests, {receiver.refused} refused)\n{output}"
            ) from None
        seconds = receiver.last_arrival - released
    finally:
        for worker in fleet:
            worker.stop()
    with system.database.read() as conn:
        query = sa.select(deliveries.c.status, sa.func.count()).where(mine).group_by(deliveries.c.status)
        statuses = dict(conn.execute(query).all())
    if statuses != {"delivered": expected}:
        raise RuntimeError(f"not every delivery was delivered: {statuses}")
    return Throughput(
        workers=workers,
        deliveries=expected,
        seconds=seconds,
        requests=receiver.requests,
        refused=receiver.refused,
        failed_ticks=sum(w.failures() for w in fleet),
    )


# ---- (b) the outbox's cost per step ----------------------------------------------------------------------


def referral_steps(system: Signpost, gp, team) -> list[float]:
    """Seconds taken by each of a referral's five steps, each its own transaction."""
    times = []
    began = time.perf_counter()
    referral, _ = system.referrals.start(
        gp,
        pathway="community_nursing_referral",
        version=None,
        referrer="C81001",
        subject=SUBJECT,
        data=REFERRAL,
    )
    times.append(time.perf_counter() - began)
    [handoff] = referral["handoffs"]
    for action, body in (
        ("acknowledge", {}),
        ("accept", {"window": "Tue 14:00-16:00"}),
        ("start", {}),
        ("complete", {"outcome": "dressed"}),
    ):
        began = time.perf_counter()
        system.handoffs.act(handoff["id"], action, body, team)
        times.append(time.perf_counter() - began)
    return times


def step_costs(
    system: Signpost, receiver: Receiver, referrals: int, subscribers: int
) -> dict[str, list[list[float]]]:
    busy = system.clients.create(name="bench busy gp", organisation="busy-gp-practice", roles={"referrer"})[0]
    quiet = system.clients.create(
        name="bench quiet gp", organisation="quiet-gp-practice", roles={"referrer"}
    )[0]
    team = system.clients.create(name="bench team", organisation=TEAM, roles={"service"})[0]
    for i in range(subscribers):
        system.notifications.subscribe(
            busy, referral_id=None, url=receiver.url(f"/busy{i}"), email=None, events=None
        )
    contenders = {"subscribed": busy, "none": quiet}
    measured: dict[str, list[list[float]]] = {name: [] for name in contenders}
    for _ in range(3):  # warm-up, untimed
        for gp in contenders.values():
            referral_steps(system, gp, team)
    for i in range(referrals):
        order = list(contenders.items())
        for name, gp in order if i % 2 == 0 else reversed(order):
            measured[name].append(referral_steps(system, gp, team))
    with system.database.read() as conn:
        written = conn.execute(
            sa.select(sa.func.count()).select_from(tables.notification_events)
        ).scalar_one()
    expected = (referrals + 3) * 6 * subscribers
    if written < expected:
        raise RuntimeError(f"{written} notification events written, expected at least {expected}")
    return measured


# ---- running it ------------------------------------------------------------------------------------------


@dataclass
class Figures:
    label: str
    throughput: list[Throughput]
    steps: dict[str, list[list[float]]]
    subscribers: int

    def step_ratio(self) -> float:
        totals = {name: statistics.median(sum(r) for r in runs) for name, runs in self.steps.items()}
        return totals["subscribed"] / totals["none"]


def run(database_url: str, label: str, n: int, subscribers: int) -> Figures:
    system = build(
        Settings(
            database_url=database_url,
            require_pathway_approval=False,
            webhook_allow_private=True,
            secret_keys=(SECRET_KEY,),
            audit_keys=(AUDIT_KEY,),
        )
    )
    receiver = Receiver()
    try:
        system.migrate()
        system.services.load_directory((SOPS / "services.toml").read_text(), "sops/services.toml", "bench")
        system.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "bench")
        system.definitions.deploy([SourceFile(f, (PROCESSES / f).read_bytes()) for f in FILES], "bench")
        throughput = []
        with tempfile.TemporaryDirectory() as cwd:
            for run_number, workers in enumerate(WORKER_COUNTS):
                measured = deliver_backlog(system, receiver, workers, n, run_number, cwd)
                throughput.append(measured)
                print(
                    f"{label}: {measured.deliveries} deliveries with {workers} worker(s) in "
                    f"{measured.seconds:.2f} s: {measured.rate:.1f}/s ({measured.requests} requests, "
                    f"{measured.requests - measured.deliveries - measured.refused} duplicates, "
                    f"{measured.refused} refused, {measured.failed_ticks} failed ticks)",
                    flush=True,
                )
        steps = step_costs(system, receiver, max(20, n // 15), subscribers)
    finally:
        receiver.close()
        system.close()
    return Figures(label, throughput, steps, subscribers)


def report(figures: Figures) -> None:
    one, four = figures.throughput
    print(f"{figures.label}: deliveries/s, 1 worker:  {one.rate:8.1f}")
    print(f"{figures.label}: deliveries/s, 4 workers: {four.rate:8.1f}  ({four.rate / one.rate:.2f}x)")
    print(
        f"{figures.label}: median ms per step, with {figures.subscribers} subscribers / with none "
        f"({len(figures.steps['none'])} referrals each):"
    )
    for index, step in enumerate(STEPS):
        subscribed = statistics.median(r[index] for r in figures.steps["subscribed"]) * 1e3
        none = statistics.median(r[index] for r in figures.steps["none"]) * 1e3
        print(f"    {step:<12} {subscribed:7.2f} / {none:7.2f}  ({subscribed / none:.2f}x)")
    totals = {name: statistics.median(sum(r) for r in runs) * 1e3 for name, runs in figures.steps.items()}
    subscribed, none = totals["subscribed"], totals["none"]
    print(f"    {'all five':<12} {subscribed:7.2f} / {none:7.2f}  ({figures.step_ratio():.2f}x)", flush=True)


@contextmanager
def scratch_database(server_url: str | None) -> Iterator[str]:
    if server_url is None:
        with tempfile.TemporaryDirectory() as scratch:
            yield f"sqlite:///{scratch}/signpost_bench_notifications.db"
    else:
        with scratch_postgres_database(server_url, "signpost_bench_notifications") as url:
            yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1200, help="deliveries per throughput run")
    parser.add_argument("--subscribers", type=int, default=10, help="subscriptions of the busy practice")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SIGNPOST_DATABASE_URL"),
        help="a PostgreSQL server to run on as well, in a scratch database",
    )
    args = parser.parse_args()
    if args.n < MILESTONES_PER_REFERRAL or args.subscribers < 1:
        parser.error("--n must be at least 3 and --subscribers at least 1")
    server_url = (
        args.database_url if args.database_url and not args.database_url.startswith("sqlite") else None
    )
    contenders = [("SQLite", None)] + ([("PostgreSQL", server_url)] if server_url else [])
    results = {}
    for label, url in contenders:
        with scratch_database(url) as database_url:
            results[label] = run(database_url, label, args.n, args.subscribers)
        report(results[label])
    for label, figures in results.items():
        one, four = figures.throughput
        print(f"ratio_workers_{label.lower()}={four.rate / one.rate:.3f}")
    if "PostgreSQL" in results:
        print(f"ratio_postgresql={results['PostgreSQL'].step_ratio():.3f}")
    print(f"ratio={results['SQLite'].step_ratio():.3f}")


if __name__ == "__main__":
    main()
