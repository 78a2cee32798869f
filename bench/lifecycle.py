"""Full lifecycles of the community nursing pathway: raw SpiffWorkflow in memory vs Signpost.

All contenders run the same BPMN and DMN: start a referral (register, triage, route to the locality team,
wait for acceptance), deliver ``handoff.accepted``, deliver ``handoff.completed`` (completion letter, end).

- Raw SpiffWorkflow parses once, answers the routing service task in memory and serializes/deserializes the
  whole workflow (spec included, as SpiffWorkflow does) at each wait.
- Signpost's engine + store does what its API does, called in-process: one transaction per input (start,
  the service accepts the hand-off, the service completes it), state saved and loaded from the database;
  and again as the "routed lifecycle", with the four actions the HTTP clients below make.
- Signpost through HTTP: a real ``signpost serve`` process on a scratch database, set up with the command
  line as an operator would, driven by 1 and by 4 concurrent clients (threads, one connection each). Each
  referral is POST /api/v1/referrals (complete data, so it routes at once), then the receiving service
  acknowledges, accepts, starts and completes the hand-off named in the referral response; every referral
  is then checked to be ``completed``. The clients speak HTTP/1.1 and would keep their connections open,
  but Werkzeug's server (under ``signpost serve``) answers ``Connection: close``, so every request opens a
  new loopback connection.

Each runs on SQLite, and on PostgreSQL as well when ``--database-url`` (or SIGNPOST_DATABASE_URL) names a
PostgreSQL server (a scratch database is created on it and dropped afterwards).

Usage: python bench/lifecycle.py [--n N] [--database-url URL]
Prints every rate, a ratio to the raw rate for each, and, as its last line, ratio=<Signpost engine on
SQLite rate / raw rate>.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import queue
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402 - the path must be set first
from round_trips import profile_lifecycle  # noqa: E402
from round_trips import report as report_round_trips  # noqa: E402
from SpiffWorkflow.bpmn import BpmnEvent  # noqa: E402
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment  # noqa: E402
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: E402
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition  # noqa: E402

from engine.bpmn import SourceFile  # noqa: E402
from engine.governance.audit_keys import new_audit_key  # noqa: E402
from engine.notifications.secrets_at_rest import new_key  # noqa: E402
from engine.sandbox.evaluator import Evaluator  # noqa: E402
from engine.sandbox.pool import SandboxedEvaluator, shared_pool  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.store.db import scratch_postgres_database  # noqa: E402
from engine.system import build  # noqa: E402

PROCESSES = ROOT / "processes"
DIRECTORY = ROOT / "sops" / "services.toml"
FILES = ("community_nursing_referral.bpmn", "community_nursing_triage.dmn")
PROCESS_ID = "community_nursing_referral"
REFERRAL_DATA = {"clinical_need": "wound_care", "address_postcode": "LE1 5WW", "housebound": True}
SUBJECT = "9434765919"
TEAM = "community-nursing-city"  # where the triage table sends wound care in LE1
TEAM_ORGANISATION = "leicestershire-partnership-nhs-trust"
WINDOW = "Tue 14:00-16:00"
OUTCOME = "wound dressed"
ACTION_BODIES = {
    "acknowledge": {},
    "accept": {"window": WINDOW},
    "start": {},
    "complete": {"outcome": OUTCOME},
}
ROUTED = ("acknowledge", "accept", "start", "complete")  # what the service does in the HTTP lifecycle
CONCURRENCY = (1, 4)
WARM_UP = 5  # referrals through a fresh server before timing (first requests load the spec, fill caches)
SERVER_START_SECONDS = 60
# Encrypts the webhook secrets in this run's databases, in this process and in the ones it starts.
SECRET_KEY = new_key()
AUDIT_KEY = new_audit_key()


# ---- raw SpiffWorkflow -----------------------------------------------------------------------------------


class RouteInMemory(TaskDataEnvironment):
    """Answers the pathway's ``signpost.route`` service task as Signpost's operation does, with no store."""

    def call_service(self, context, operation_name=None, operation_params=None, **_ignored):
        params = {name: param["value"] for name, param in (operation_params or {}).items()}
        return json.dumps(
            {
                "id": str(uuid.uuid4()),
                "to_service": params["service"],
                "referral_type": params["referral_type"],
                "status": "requested",
            }
        )


def raw_lifecycles(n: int) -> float:
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(PROCESSES / FILES[0]))
    parser.add_dmn_file(str(PROCESSES / FILES[1]))
    spec = parser.get_spec(PROCESS_ID)
    subprocess_specs = parser.get_subprocess_specs(PROCESS_ID)
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    script_engine = PythonScriptEngine(environment=RouteInMemory())
    started = time.perf_counter()
    for i in range(n):
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
        workflow.task_tree.data.update(REFERRAL_DATA, referrer=f"GP{i}", subject_nhs_number=SUBJECT)
        workflow.do_engine_steps()
        [waiting] = workflow.get_tasks(spec_name="await_acceptance")
        handoff = waiting.data["handoff"]
        # The payloads Signpost's hand-off actions deliver to the pathway.
        common = {"handoff_id": handoff["id"], "service": handoff["to_service"]}
        for name, payload in (
            ("handoff.accepted", {**common, "status": "accepted", "window": WINDOW}),
            ("handoff.completed", {**common, "status": "completed", "outcome": OUTCOME}),
        ):
            stored = serializer.serialize_json(workflow)
            workflow = serializer.deserialize_json(stored)
            workflow.script_engine = script_engine
            workflow.send_event(BpmnEvent(MessageEventDefinition(name), payload))
            workflow.do_engine_steps()
        serializer.serialize_json(workflow)
        assert workflow.completed, "the raw lifecycle did not complete"
        assert workflow.data["completion_letter"]["outcome"] == OUTCOME
    return n / (time.perf_counter() - started)


# ---- Signpost engine + store, in-process -----------------------------------------------------------------


def signpost_lifecycles(
    n: int, database_url: str, actions: tuple[str, ...] = ("accept", "complete"), calls: list | None = None
) -> float:
    """Lifecycles through the engine and store in-process; ``actions`` are what the service does to the
    hand-off (accept and complete deliver the two messages the pathway waits for)."""
    system = build(
        Settings(
            database_url=database_url,
            require_pathway_approval=False,
            secret_keys=(SECRET_KEY,),
            audit_keys=(AUDIT_KEY,),
        )
    )
    try:
        system.migrate()
        system.services.load_directory(DIRECTORY.read_text(), str(DIRECTORY), "bench")
        system.definitions.deploy([SourceFile(f, (PROCESSES / f).read_bytes()) for f in FILES], "bench")
        referrer = system.clients.create(name="bench gp", organisation="bench-gp", roles={"referrer"})[0]
        team = system.clients.create(name="bench team", organisation=TEAM_ORGANISATION, roles={"service"})[0]
        referral_ids = []
        pool = shared_pool()
        answered_before = pool.requests_answered
        started = time.perf_counter()
        for i in range(n):
            referral, _ = system.referrals.start(
                referrer,
                pathway=PROCESS_ID,
                version=None,
                referrer=f"GP{i}",
                subject=SUBJECT,
                data=REFERRAL_DATA,
            )
            [handoff] = referral["handoffs"]
            for action in actions:
                system.handoffs.act(handoff["id"], action, ACTION_BODIES[action], team)
            referral_ids.append(referral["id"])
        rate = n / (time.perf_counter() - started)
        if calls is not None:
            calls.append((pool.requests_answered - answered_before) / n)
        for referral_id in referral_ids:
            status = system.referrals.get(referral_id, referrer)["status"]
            assert status == "completed", f"referral {referral_id} is {status}, not completed"
        return rate
    finally:
        system.close()


# Pathway code that goes to a sandbox process (it calls functions): plain comparisons run in the server.
SAMPLE_CODE = ("address_postcode.split(' ')[0]", "len(clinical_need) > 3 and housebound")


def sandbox_cost(calls_per_lifecycle: float, lifecycle_rate: float, n: int) -> None:
    """What running pathway code in sandbox processes adds to a lifecycle: the same expressions on the same
    data, evaluated in this process and through the sandbox pool, times the sandbox calls a lifecycle made."""
    in_process = Evaluator()
    sandboxed = SandboxedEvaluator(shared_pool())
    per_call = {}
    for name, evaluator in (("in process", in_process), ("sandboxed", sandboxed)):
        for source in SAMPLE_CODE:
            evaluator.evaluate(source, REFERRAL_DATA)  # compiled and cached
        started = time.perf_counter()
        for i in range(n):
            for source in SAMPLE_CODE:
                # Different data each time: the sandboxed evaluator remembers the values of repeated requests.
                evaluator.evaluate(source, {**REFERRAL_DATA, "round": i})
        per_call[name] = (time.perf_counter() - started) / (n * len(SAMPLE_CODE))
    added = calls_per_lifecycle * (per_call["sandboxed"] - per_call["in process"])
    share = added * lifecycle_rate
    print(
        f"pathway code: {calls_per_lifecycle:.1f} sandbox calls per lifecycle, "
        f"{per_call['in process'] * 1e6:.0f} µs per call in process, "
        f"{per_call['sandboxed'] * 1e6:.0f} µs sandboxed: the sandbox adds {added * 1e3:.2f} ms per "
        f"lifecycle, {share:.1%} of the engine's time on SQLite",
        flush=True,
    )


# ---- Signpost through HTTP: a real server process --------------------------------------------------------


def _signpost_command(args: list[str], env: dict[str, str]) -> str:
    """Run ``signpost ARGS`` with this interpreter (so the same virtualenv); returns what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"signpost {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def _created_token(printed: str) -> str:
    tokens = [line.removeprefix("token: ") for line in printed.splitlines() if line.startswith("token: ")]
    if len(tokens) != 1:
        raise RuntimeError(f"no token in the output of 'signpost clients create':\n{printed}")
    return tokens[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# How each server says it is ready: Werkzeug under ``signpost serve``, and gunicorn's master once it listens
# (connections queue on its socket until a worker takes them).
READY = {"serve": "Running on", "gunicorn": "Listening at"}
GUNICORN_WORKERS = 4


def _server_command(server: str, port: int) -> list[str]:
    if server == "gunicorn":
        # The production settings (threaded keep-alive workers, a pool sized to them), with this many workers.
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:api.gunicorn_conf",
            "--workers",
            str(GUNICORN_WORKERS),
            "--bind",
            f"127.0.0.1:{port}",
            "api.wsgi:app",
        ]
    return [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]


def _pump(stream, startup: queue.Queue, tail: deque, ready: str) -> None:
    """Read the server's output until it ends: start-up lines go to ``startup`` until the server says it
    is running (then None at the end), and the last lines are kept for error messages. Reading all of it
    keeps the pipe from filling up with the per-request log."""
    starting = True
    for line in stream:
        tail.append(line)
        if starting:
            startup.put(line)
            starting = ready not in line
    startup.put(None)


@contextmanager
def running_server(env: dict[str, str], kind: str = "serve") -> Iterator[tuple[int, int]]:
    """``signpost serve`` (or gunicorn with 4 API workers) on a free port, stopped at the end whatever
    happens; yields the port and the server's process id."""
    port = _free_port()
    server = subprocess.Popen(
        _server_command(kind, port),
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    startup: queue.Queue = queue.Queue()
    tail: deque = deque(maxlen=40)
    reader = threading.Thread(target=_pump, args=(server.stdout, startup, tail, READY[kind]), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                line = startup.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(
                    f"signpost serve did not start within {SERVER_START_SECONDS}s:\n{''.join(tail)}"
                ) from None
            if line is None:
                raise RuntimeError(f"signpost serve stopped ({server.wait()}):\n{''.join(tail)}")
            if READY[kind] in line:
                break
        yield port, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        reader.join(timeout=30)
        server.stdout.close()


class Api:
    """An HTTP/1.1 connection to the server, reused while the server keeps it open (http.client opens a new
    one when the server has closed it). With ``latencies``, each request's time is added to the list of its
    kind (``POST referrals``, ``POST accept``…)."""

    def __init__(self, port: int, latencies: dict[str, list[float]] | None = None):
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self._latencies = latencies

    def call(self, method: str, path: str, token: str, body: dict | None = None, expect: int = 200) -> dict:
        headers = {"Authorization": f"Bearer {token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        self._connection.request(method, path, body=payload, headers=headers)
        response = self._connection.getresponse()
        text = response.read()  # read to the end, so the connection can carry the next request
        if self._latencies is not None:
            kind = f"{method} {path.rstrip('/').rsplit('/', 1)[-1]}"
            self._latencies.setdefault(kind, []).append(time.perf_counter() - started)
        if response.status != expect:
            raise RuntimeError(f"{method} {path}: {response.status} {text.decode(errors='replace')}")
        return json.loads(text)

    def close(self) -> None:
        self._connection.close()


def routed_lifecycle(api: Api, referrer: str, team: str, i: int) -> str:
    """One referral from the GP to its completion by the locality team; returns the referral id."""
    referral = api.call(
        "POST",
        "/api/v1/referrals",
        referrer,
        {"pathway": PROCESS_ID, "referrer": f"GP{i}", "subject": SUBJECT, "data": REFERRAL_DATA},
        expect=201,
    )
    [handoff] = referral["handoffs"]
    assert handoff["to_service"] == TEAM and handoff["status"] == "requested", handoff
    actions = "/api/v1/handoffs/" + handoff["id"]
    for action in ROUTED:
        after = api.call("POST", f"{actions}/{action}", team, ACTION_BODIES[action])
    assert after["status"] == "completed", after
    return referral["id"]


def drive(
    port: int, referrer: str, team: str, n: int, clients: int, latencies: dict | None = None
) -> tuple[float, list[str]]:
    """N routed lifecycles split over ``clients`` threads, each with its own connection; returns
    (referrals per second, their ids). Request times go to ``latencies`` by kind, when given."""
    shares = [range(c, n, clients) for c in range(clients)]
    done: list[list[str]] = [[] for _ in range(clients)]
    failures: list[BaseException] = []
    ready = threading.Barrier(clients + 1)

    def client(c: int) -> None:
        api = Api(port, latencies)
        try:
            ready.wait()
            for i in shares[c]:
                done[c].append(routed_lifecycle(api, referrer, team, i))
        except BaseException as failure:  # reported by the main thread
            failures.append(failure)
        finally:
            api.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} of {clients} clients failed") from failures[0]
    return n / elapsed, [referral_id for ids in done for referral_id in ids]


def set_up_database(database_url: str) -> tuple[dict[str, str], str, str]:
    """Set up a database as an operator would; the environment to serve it with, and the referrer's and
    the service's tokens."""
    env = {
        **os.environ,
        "SIGNPOST_DATABASE_URL": database_url,
        # Given, so that serve neither generates nor writes a development token.
        "SIGNPOST_ADMIN_TOKEN": "sp_bench_" + secrets.token_urlsafe(24),
        # The benchmark measures the lifecycle, not the clinical approval step before it.
        "SIGNPOST_SKIP_PATHWAY_APPROVAL": "true",
        # One referrer drives every lifecycle far faster than a client's default allowance.
        "SIGNPOST_RATE_LIMIT": "off",
        "SIGNPOST_SECRET_KEYS": SECRET_KEY,
        "SIGNPOST_AUDIT_KEYS": AUDIT_KEY,
    }
    _signpost_command(["db", "upgrade"], env)
    # The service directory and the one pathway measured (not every pathway in processes/).
    _signpost_command(["deploy", str(ROOT / "sops"), *(str(PROCESSES / f) for f in FILES)], env)
    referrer = _created_token(
        _signpost_command(["clients", "create", "--org", "city-gp-practice", "--role", "referrer"], env)
    )
    team = _created_token(
        _signpost_command(["clients", "create", "--org", TEAM_ORGANISATION, "--role", "service"], env)
    )
    return env, referrer, team


def http_lifecycles(n: int, database_url: str, kind: str = "serve") -> dict[int, float]:
    """Set up a database as an operator would, serve it, and drive it with each client count."""
    env, referrer, team = set_up_database(database_url)
    rates = {}
    with running_server(env, kind) as (port, server_pid):
        drive(port, referrer, team, WARM_UP, 1)
        for clients in CONCURRENCY:
            latencies: dict[str, list[float]] = {}
            cpu_before = cpu_used(server_pid, database_url)
            rates[clients], referral_ids = drive(port, referrer, team, n, clients, latencies)
            cpu_after = cpu_used(server_pid, database_url)
            server_cpu, database_cpu = (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])
            print(
                f"CPU per referral, {clients} client{'s' if clients > 1 else ''} through {kind}: "
                f"{server_cpu / n * 1e3:.1f} ms server processes + {database_cpu / n * 1e3:.1f} ms database",
                flush=True,
            )
            if clients > 1 and kind == "gunicorn":
                report_latencies(f"{clients} clients through {kind}", latencies)
            api = Api(port)
            try:
                for referral_id in referral_ids:
                    status = api.call("GET", f"/api/v1/referrals/{referral_id}", referrer)["status"]
                    assert status == "completed", f"referral {referral_id} is {status}, not completed"
            finally:
                api.close()
    return rates


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_by_process() -> tuple[dict[int, int], dict[int, float]]:
    """Every process's parent and CPU seconds (user + system) so far, from /proc."""
    parents, seconds = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        seconds[int(entry.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return parents, seconds


def cpu_used(server_pid: int, database_url: str) -> tuple[float, float]:
    """CPU seconds used so far by the server and every process under it (workers, sandboxes), and by the
    database's server processes serving its database (SQLite: none)."""
    parents, seconds = _cpu_by_process()
    tree = {server_pid}
    while grown := {pid for pid, parent in parents.items() if parent in tree} - tree:
        tree |= grown
    backends: list[int] = []
    if not database_url.startswith("sqlite"):
        engine = sa.create_engine(database_url)
        try:
            with engine.connect() as conn:
                query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                backends = [pid for (pid,) in conn.exec_driver_sql(query)]
        finally:
            engine.dispose()
    return sum(seconds.get(pid, 0.0) for pid in tree), sum(seconds.get(pid, 0.0) for pid in backends)


# ---- round trips and stored state -----------------------------------------------------------------------


def profile_database(database_url: str, backend: str) -> None:
    """On a database the HTTP contender set up (the directory, the OLA terms, the pathway), count the round
    trips of one routed lifecycle in-process and through the API, and the stored state's size."""
    from api import create_app  # Flask only for this

    system = build(
        Settings(
            database_url=database_url,
            require_pathway_approval=False,
            rate_limit="off",
            secret_keys=(SECRET_KEY,),
            audit_keys=(AUDIT_KEY,),
        )
    )
    try:
        referrer, referrer_token = system.clients.create(
            name="profile gp", organisation="city-gp-practice", roles={"referrer"}
        )
        team, team_token = system.clients.create(
            name="profile team", organisation=TEAM_ORGANISATION, roles={"service"}
        )
        http = create_app(system).test_client()

        def lifecycle(system, i: int, between) -> None:
            referral, _ = system.referrals.start(
                referrer,
                pathway=PROCESS_ID,
                version=None,
                referrer=f"GP{i}",
                subject=SUBJECT,
                data=REFERRAL_DATA,
            )
            between(lambda: _instance_of(system, referral))
            [handoff] = referral["handoffs"]
            for action in ROUTED:
                system.handoffs.act(handoff["id"], action, ACTION_BODIES[action], team)
                between(lambda: _instance_of(system, referral))

        def api_lifecycle(i: int, done) -> None:
            def call(path: str, token: str, body: dict, expect: int = 200) -> dict:
                response = http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == expect, response.get_data(as_text=True)
                return response.get_json()

            body = {"pathway": PROCESS_ID, "referrer": f"GP{i}", "subject": SUBJECT, "data": REFERRAL_DATA}
            referral = call("/api/v1/referrals", referrer_token, body, 201)
            done("POST referrals")
            [handoff] = referral["handoffs"]
            for action in ROUTED:
                call(f"/api/v1/handoffs/{handoff['id']}/{action}", team_token, ACTION_BODIES[action])
                done(f"POST {action}")

        report_round_trips(profile_lifecycle(system, lifecycle, api_lifecycle), backend)
    finally:
        system.close()


def _instance_of(system, referral: dict) -> str:
    with system.database.read() as conn:
        query = sa.text("SELECT instance_id FROM referrals WHERE id = :id")
        return conn.execute(query, {"id": referral["id"]}).scalar_one()


def report_latencies(what: str, latencies: dict[str, list[float]]) -> None:
    """p50/p95/p99 (nearest rank) of each kind of request, in ms."""

    def rank(ordered: list[float], p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    parts = []
    for kind, times in latencies.items():
        ordered = sorted(times)
        parts.append(f"{kind} " + "/".join(f"{rank(ordered, p) * 1e3:.1f}" for p in (50, 95, 99)))
    print(f"latency p50/p95/p99 ms, {what}: {'; '.join(parts)}", flush=True)


# ---- the run ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="lifecycles per contender (and per client count)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SIGNPOST_DATABASE_URL"),
        help="also run Signpost on this database (e.g. PostgreSQL); SQLite always runs",
    )
    parser.add_argument(
        "--postgresql-only", action="store_true", help="leave SQLite out (with --database-url)"
    )
    parser.add_argument(
        "--profile-only",
        action="store_true",
        help="only count the round trips and the stored state's size of one lifecycle, on each database",
    )
    args = parser.parse_args()
    postgres_url = (
        args.database_url if args.database_url and not args.database_url.startswith("sqlite") else None
    )
    if args.profile_only:
        for name, server_url in (("SQLite", None), ("PostgreSQL", postgres_url)):
            if name == "SQLite" or server_url:
                with scratch_database(server_url, "signpost_bench_profile") as url:
                    set_up_database(url)
                    profile_database(url, name)
        return

    raw_lifecycles(min(20, args.n))  # warm-up: imports, caches
    raw = raw_lifecycles(args.n)
    report("raw SpiffWorkflow (in memory, spec serialized with each save)", raw, "lifecycles")
    ratios = {}
    databases = [] if args.postgresql_only and postgres_url else [("sqlite", "SQLite", None)]
    if postgres_url:
        databases.append(("postgresql", "PostgreSQL", postgres_url))
    for key, name, server_url in databases:
        calls: list[float] = []
        with scratch_database(server_url, "signpost_bench") as url:
            engine = signpost_lifecycles(args.n, url, calls=calls)
        report(f"Signpost engine + store on {name}", engine, "lifecycles")
        if key == "sqlite":
            sandbox_cost(calls[0], engine, args.n)
        ratios[key] = engine / raw
        with scratch_database(server_url, "signpost_bench_routed") as url:
            routed = signpost_lifecycles(args.n, url, ROUTED)
        report(f"Signpost engine + store on {name}, routed lifecycle", routed, "lifecycles")
        ratios[f"routed_{key}"] = routed / raw
        with scratch_database(server_url, "signpost_bench_http") as url:
            over_http = http_lifecycles(args.n, url)
            profile_database(url, name)
        for clients, rate in over_http.items():
            report(
                f"Signpost over HTTP on {name}, {clients} client{'s' if clients > 1 else ''}",
                rate,
                "referrals",
            )
            ratios[f"http_{key}_c{clients}"] = rate / raw
        if key == "postgresql":
            # The production layout: stateless API processes under gunicorn sharing PostgreSQL.
            with scratch_database(server_url, "signpost_bench_gunicorn") as url:
                through_gunicorn = http_lifecycles(args.n, url, "gunicorn")
            for clients, rate in through_gunicorn.items():
                report(
                    f"Signpost through gunicorn ({GUNICORN_WORKERS} workers) on PostgreSQL, "
                    f"{clients} client{'s' if clients > 1 else ''}",
                    rate,
                    "referrals",
                )
                ratios[f"gunicorn_postgresql_c{clients}"] = rate / raw
    for key, ratio in ratios.items():
        if key != "sqlite":
            print(f"ratio_{key}={ratio:.3f}")
    if "sqlite" in ratios:
        print(f"ratio={ratios['sqlite']:.3f}")


def report(what: str, rate: float, unit: str) -> None:
    print(f"{what + ':':<63}{rate:8.1f} {unit}/s", flush=True)


@contextmanager
def scratch_database(server_url: str | None, prefix: str) -> Iterator[str]:
    """A scratch PostgreSQL database on ``server_url``, or a scratch SQLite file when it is None."""
    if server_url is None:
        with tempfile.TemporaryDirectory() as scratch:
            yield f"sqlite:///{scratch}/{prefix}.db"
    else:
        with scratch_postgres_database(server_url, prefix) as url:
            yield url


if __name__ == "__main__":
    main()
