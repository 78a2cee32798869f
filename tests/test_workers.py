"""Workers sharing PostgreSQL, as real processes: every due timer fires exactly once while API calls race
it, while workers are killed with SIGKILL, and after a downtime in which nothing attended to timers.

The pathway "race" waits for the message ``accept`` with an interrupting boundary timer: exactly one of
them may win, so an instance that is both accepted and escalated, or escalated twice, is a concurrency bug.
"""

from __future__ import annotations

import heapq
import json
import os
import random
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from engine.bpmn import SourceFile
from tests import bpmn_samples as samples
from tests.conftest import process_env
from tests.support.net import free_port
from tests.support.personas import GP, PRACTICE_OPERATOR
from tests.support.processes import Process

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("SIGNPOST_DATABASE_URL", "").startswith("postgresql"),
        reason="workers share PostgreSQL (row locks with SKIP LOCKED); SQLite has one writer and one ticker",
    ),
    pytest.mark.wall_clock,
]

TICK_SECONDS = "0.2"
HTTP_TIMEOUT_SECONDS = 60
SETTLE_TIMEOUT_SECONDS = 180
REFERRALS = 2000  # about 40 s through one API process on 2 cores
CREATORS = 4
SENDERS = 4

RACE = samples.process(
    """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:receiveTask id="await" name="Await acceptance" messageRef="accept_message">
      <bpmn:extensionElements>
        <spiffworkflow:messageVariable>acceptance</spiffworkflow:messageVariable>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:receiveTask>
    <bpmn:boundaryEvent id="deadline" name="Deadline" attachedToRef="await" cancelActivity="true">
      <bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:timerEventDefinition id="deadline_timer">
        <bpmn:timeDuration>wait_for</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:scriptTask id="accept" name="Accept">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>accepted = True</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="escalate" name="Escalate">
      <bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
      <bpmn:script>escalated = True</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="accepted_end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="escalated_end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="await"/>
    <bpmn:sequenceFlow id="f2" sourceRef="await" targetRef="accept"/>
    <bpmn:sequenceFlow id="f3" sourceRef="accept" targetRef="accepted_end"/>
    <bpmn:sequenceFlow id="f4" sourceRef="deadline" targetRef="escalate"/>
    <bpmn:sequenceFlow id="f5" sourceRef="escalate" targetRef="escalated_end"/>""",
    process_id="race",
    name="Race",
).replace("</bpmn:definitions>", '  <bpmn:message id="accept_message" name="accept"/>\n</bpmn:definitions>')

FIRED = re.compile(r"fired the timers of instance (\S+), ([0-9.]+) s after they fell due")


def timers_fired_by(process: Process) -> list[tuple[str, float]]:
    """(instance id, lateness in seconds) of each 'fired the timers' line, in order."""
    return [(m.group(1), float(m.group(2))) for m in process.matches(FIRED)]


# What a competing message may meet once the timer has won: nothing waiting, or a finished instance.
TIMER_WON = re.compile(r"no instance matching .* is waiting for message|has completed|no longer waiting")


# ---- processes -----------------------------------------------------------------------------------------


class Fleet:
    """Every process a test starts, all of them killed at the end whatever happened."""

    def __init__(self, database_url: str, cwd):
        self.database_url = make_url(database_url)
        self.env = process_env(
            database_url,
            SIGNPOST_TICK_SECONDS=TICK_SECONDS,
            # One referrer drives thousands of referrals here: far beyond any sensible per-client limit.
            SIGNPOST_RATE_LIMIT="off",
            PYTHONUNBUFFERED="1",
        )
        self.env.pop("SIGNPOST_ADMIN_TOKEN", None)
        self.cwd = cwd
        self.processes: list[Process] = []
        self.workers: list[Process] = []
        self._lock = threading.Lock()

    def start(self, *args: str, env: dict[str, str] | None = None, name: str = "") -> Process:
        process = Process([sys.executable, *args], {**self.env, **(env or {})}, self.cwd, name)
        with self._lock:
            self.processes.append(process)
        return process

    def worker(self) -> Process:
        """A `signpost worker`, its connections named after it in pg_stat_activity."""
        with self._lock:
            name = f"signpost-worker-{len(self.workers)}"
        url = self.database_url.update_query_dict({"application_name": name})
        worker = self.start(
            "-m",
            "api.cli",
            "worker",
            env={"SIGNPOST_DATABASE_URL": url.render_as_string(hide_password=False)},
            name=name,
        )
        with self._lock:
            self.workers.append(worker)
        return worker

    def api(self) -> str:
        """An API process without a ticker (the WSGI app gunicorn serves), on a free port: its base URL."""
        port = free_port()
        api = self.start(
            "-m", "flask", "--app", "api.wsgi:app", "run", "--port", str(port), "--no-reload", "--no-debugger"
        )
        api.wait_for(r"Running on http://127\.0\.0\.1")
        return f"http://127.0.0.1:{port}"

    def stop_workers(self) -> list[Process]:
        """SIGTERM every live worker and wait for it: afterwards their output is complete."""
        with self._lock:
            live = [w for w in self.workers if w.alive()]
        for worker in live:
            # One started just now may still be importing: SIGTERM is only handled once it attends.
            worker.wait_for("is attending to timers")
            assert worker.stop() == 0, "".join(worker.lines)
        return self.workers

    def kill_all(self) -> None:
        for process in self.processes:
            if process.alive():
                process.kill()


@pytest.fixture
def fleet(database_url, tmp_path):
    fleet = Fleet(database_url, tmp_path)
    try:
        yield fleet
    finally:
        fleet.kill_all()


# ---- the API as a client sees it -----------------------------------------------------------------------


def call(base: str, path: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


class Schedule:
    """Items to hand out at given monotonic times, to any number of threads."""

    def __init__(self):
        self._heap: list[tuple[float, int, object]] = []
        self._count = 0
        self._closed = False
        self._changed = threading.Condition()

    def put(self, at: float, item) -> None:
        with self._changed:
            heapq.heappush(self._heap, (at, self._count, item))
            self._count += 1
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def get(self):
        """The next item once its time has come; None once closed and empty."""
        with self._changed:
            while True:
                if self._heap:
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        return heapq.heappop(self._heap)[2]
                elif self._closed:
                    return None
                else:
                    wait = None
                self._changed.wait(wait)


class Race:
    """Start ``count`` referrals through the API; for every other one, send ``accept`` near its deadline."""

    def __init__(self, base: str, referrer: str, operator: str, count: int, timer_seconds: float):
        self.base, self.referrer, self.operator = base, referrer, operator
        self.count, self.timer_seconds = count, timer_seconds
        self.referrals: list[str] = []
        self.competed: dict[str, tuple[int, dict]] = {}  # referral id -> the API's answer to `accept`
        self.failures: list[str] = []
        # Per HTTP status: when `accept` was answered, in seconds after the referral's deadline.
        self.answered_after_deadline: dict[int, list[float]] = defaultdict(list)
        self._lock = threading.Lock()
        self._numbers = iter(range(count))
        self._schedule = Schedule()
        self._random = random.Random(20261123)

    def run(self) -> float:
        """Returns how long starting every referral and sending every message took, in seconds."""
        began = time.monotonic()
        creators = [threading.Thread(target=self._create) for _ in range(CREATORS)]
        senders = [threading.Thread(target=self._send) for _ in range(SENDERS)]
        for thread in creators + senders:
            thread.start()
        for thread in creators:
            thread.join()
        self._schedule.close()
        for thread in senders:
            thread.join()
        assert not self.failures, self.failures[:5]
        assert len(self.referrals) == self.count
        return time.monotonic() - began

    def summary(self) -> str:
        return ", ".join(
            f"{status} x{len(times)} (answered {spread(times)} s after the deadline)"
            for status, times in sorted(self.answered_after_deadline.items())
        )

    def _create(self) -> None:
        body = {"pathway": "race", "referrer": "C81001", "data": {"wait_for": f"PT{self.timer_seconds:g}S"}}
        while True:
            with self._lock:
                number = next(self._numbers, None)
            if number is None:
                return
            # The pathway starts its timer after the request is sent: its deadline is no earlier than this.
            deadline = time.monotonic() + self.timer_seconds
            status, referral = call(self.base, "/api/v1/referrals", self.referrer, body)
            if status != 201:
                with self._lock:
                    self.failures.append(f"start: {status} {referral}")
                continue
            with self._lock:
                self.referrals.append(referral["id"])
                # Around the deadline: some messages arrive before the timer is due, some after it fired,
                # and many while a worker is firing it.
                offset = self._random.uniform(-1.0, 0.5)
            if number % 2 == 0:
                self._schedule.put(deadline + offset, (referral["id"], deadline))

    def _send(self) -> None:
        while (scheduled := self._schedule.get()) is not None:
            referral_id, deadline = scheduled
            body = {"name": "accept", "correlation": {"referral_id": referral_id}}
            status, answer = call(self.base, "/api/v1/messages", self.operator, body)
            answered = time.monotonic() - deadline
            with self._lock:
                self.competed[referral_id] = (status, answer)
                self.answered_after_deadline[status].append(answered)
                if status not in (202, 409) or (status == 409 and not TIMER_WON.search(answer["detail"])):
                    self.failures.append(f"accept {referral_id}: {status} {answer}")


# ---- what the database says ------------------------------------------------------------------------------


def workers_writing(signpost) -> set[str]:
    """The workers (by connection name) with a transaction open that has locked or changed something."""
    query = sa.text("""
        SELECT application_name FROM pg_stat_activity
        WHERE application_name LIKE 'signpost-worker-%' AND state IN ('active', 'idle in transaction')
          AND (query ILIKE '%FOR UPDATE%' OR query ILIKE 'UPDATE %' OR query ILIKE 'INSERT %'
               OR query ILIKE 'DELETE %')
    """)
    with signpost.database.read() as conn:
        return set(conn.execute(query).scalars())


NOTHING_WAITS = "SELECT count(*) FROM instances WHERE status = 'waiting'"
NO_TIMER_WAITS = "SELECT count(*) FROM waits WHERE kind = 'timer'"


def wait_until_none(signpost, count_query: str = NOTHING_WAITS, timeout: float = SETTLE_TIMEOUT_SECONDS):
    """Poll until ``count_query`` counts nothing (bounded); returns how long that took, in seconds."""
    began = time.monotonic()
    pause = threading.Event()
    while True:
        with signpost.database.read() as conn:
            left = conn.exec_driver_sql(count_query).scalar()
        if left == 0:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise AssertionError(f"{count_query} still counts {left} after {timeout} s")
        pause.wait(0.2)


def outcomes(signpost) -> dict[str, dict]:
    """Per referral: its instance's status, data and how many timer, message and incident events it logged."""
    query = """
        SELECT r.id, i.id, i.status, i.data,
               count(e.id) FILTER (WHERE e.kind = 'timer_fired'),
               count(e.id) FILTER (WHERE e.kind = 'message_received'),
               count(e.id) FILTER (WHERE e.kind = 'incident')
        FROM referrals r JOIN instances i ON i.id = r.instance_id
        LEFT JOIN instance_events e ON e.instance_id = i.id
        GROUP BY r.id, i.id, i.status, i.data
    """
    with signpost.database.read() as conn:
        rows = conn.exec_driver_sql(query).all()
    return {
        referral_id: {
            "instance_id": instance_id,
            "status": status,
            "data": json.loads(data),
            "timers": timers,
            "messages": messages,
            "incidents": incidents,
        }
        for referral_id, instance_id, status, data, timers, messages, incidents in rows
    }


def assert_each_won_exactly_once(signpost, referrals: list[str]) -> dict[str, dict]:
    """Every instance finished by exactly one of the message and the timer, each logged once; nothing left."""
    found = outcomes(signpost)
    assert sorted(found) == sorted(referrals)
    assert Counter(o["status"] for o in found.values()) == Counter(completed=len(referrals))
    for referral_id, outcome in found.items():
        accepted, escalated = outcome["data"].get("accepted"), outcome["data"].get("escalated")
        assert (accepted, escalated) in ((True, None), (None, True)), (referral_id, outcome)
        expected = (1, 0) if escalated else (0, 1)
        assert (outcome["timers"], outcome["messages"], outcome["incidents"]) == (*expected, 0), outcome
    with signpost.database.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM waits").scalar() == 0
    return found


def escalated(found: dict[str, dict]) -> set[str]:
    return {o["instance_id"] for o in found.values() if o["data"].get("escalated")}


def assert_the_api_answered_what_happened(race: Race, found: dict[str, dict]) -> Counter:
    """A delivered `accept` means the message won; a 409 means the timer had. Returns the answers."""
    assert len(race.competed) == (race.count + 1) // 2
    for referral_id, (status, _answer) in race.competed.items():
        won = "accepted" if status == 202 else "escalated"
        assert found[referral_id]["data"].get(won) is True, (referral_id, status, found[referral_id])
    # Nothing but the timer may turn a message away, and it cannot fire before its deadline.
    assert min(race.answered_after_deadline[409], default=1) > 0, race.summary()
    uncontested = set(race.referrals) - set(race.competed)
    assert all(found[r]["data"].get("escalated") for r in uncontested)
    return Counter(status for status, _ in race.competed.values())


def fired_once_each(workers: list[Process]) -> dict[str, float]:
    """Instance id -> lateness, from the workers' 'fired the timers' lines, checking none said it twice."""
    fired = [line for worker in workers for line in timers_fired_by(worker)]
    twice = [instance_id for instance_id, times in Counter(i for i, _ in fired).items() if times > 1]
    assert not twice, f"{len(twice)} instances fired more than once, e.g. {twice[:3]}"
    return dict(fired)


def spread(values) -> str:
    ordered = sorted(values)
    if not ordered:
        return "none"
    return " ".join(f"p{q}={ordered[round(q / 100 * (len(ordered) - 1))]:.2f}" for q in (50, 90, 99, 100))


# ---- the tests -------------------------------------------------------------------------------------------


def deploy(signpost, bpmn: str) -> None:
    version = signpost.definitions.deploy([SourceFile("race.bpmn", bpmn.encode())], "tests")
    approver = signpost.clients.create(name="approver", organisation="spa", roles={"clinical-approver"})[0]
    signpost.definitions.approve(version.key, version.number, approver, reason="tested in the workers suite")


@pytest.fixture
def tokens(enrolled):
    """The bearer tokens of the GP and of its practice's operator. No point of access handles the race
    pathway, so the submitting organisation's operators work on its referrals and may message them (a service
    only those routed to it; these are not routed)."""
    return enrolled(GP).token, enrolled(PRACTICE_OPERATOR).token


def start_workers(fleet: Fleet, count: int) -> list[Process]:
    workers = [fleet.worker() for _ in range(count)]
    for worker in workers:
        worker.wait_for("is attending to timers")
    return workers


def test_three_workers_fire_each_of_2000_timers_once_while_the_api_races_half_of_them(
    signpost, tokens, fleet
):
    deploy(signpost, RACE)
    base = fleet.api()
    start_workers(fleet, 3)
    race = Race(base, *tokens, count=REFERRALS, timer_seconds=3)
    driven = race.run()
    settled = wait_until_none(signpost)

    found = assert_each_won_exactly_once(signpost, race.referrals)
    answers = assert_the_api_answered_what_happened(race, found)
    assert answers[202] > 0 and answers[409] > 0, f"the race was not a race: {answers}"
    fired = fired_once_each(fleet.stop_workers())
    assert set(fired) == escalated(found)  # only workers fire timers, and each said so once
    print(
        f"\n{race.count} referrals driven in {driven:.1f} s, settled {settled:.1f} s later; "
        f"accept {race.summary()}; lateness {spread(fired.values())}"
    )


def test_workers_killed_with_sigkill_lose_and_repeat_nothing(signpost, tokens, fleet):
    deploy(signpost, RACE)
    base = fleet.api()
    start_workers(fleet, 3)
    killed: list[Process] = []
    killed_writing: list[Process] = []
    done = threading.Event()
    chooser = random.Random(7)

    def kill_workers() -> None:
        # Every 0.5 to 1 s kill a worker and start another, so that three stay alive; but not while the last
        # replacement is still starting, or start-ups alone would take all of a small machine.
        while not done.wait(chooser.uniform(0.5, 1.0)):
            alive = [w for w in fleet.workers if w.alive()]
            if not all(w.says("is attending to timers") for w in alive):
                continue
            # Preferably one in the middle of changing an instance.
            writing = []
            for _ in range(25):
                names = workers_writing(signpost)
                if writing := [w for w in alive if w.name in names]:
                    break
                done.wait(0.02)
            victim = chooser.choice(writing or alive)
            victim.kill()
            killed.append(victim)
            if writing:
                killed_writing.append(victim)
            fleet.worker()

    killer = threading.Thread(target=kill_workers)
    killer.start()
    try:
        race = Race(base, *tokens, count=REFERRALS, timer_seconds=3)
        driven = race.run()
        settled = wait_until_none(signpost)
    finally:
        done.set()
        killer.join()

    found = assert_each_won_exactly_once(signpost, race.referrals)
    # With workers dying and starting, timers fire late by varying amounts, so which side wins most varies:
    # the API's answers must only agree with what happened.
    assert_the_api_answered_what_happened(race, found)
    # A worker killed between its commit and its log line fired a timer without saying so.
    fired = fired_once_each(fleet.stop_workers())
    assert set(fired) <= escalated(found)
    # The kills hit workers at work: some just as PostgreSQL showed them inside a write transaction.
    assert len(killed) >= 5 and len(killed_writing) >= 3, (len(killed), len(killed_writing))
    print(
        f"\n{race.count} referrals, {len(killed)} workers killed ({len(killed_writing)} inside a write "
        f"transaction): driven in {driven:.1f} s, settled "
        f"{settled:.1f} s later; accept {race.summary()}; lateness {spread(fired.values())}"
    )


def test_a_timer_fired_by_one_worker_is_not_fired_or_counted_again_by_the_others(signpost, tokens, fleet):
    # The timer does not interrupt: after it fires each instance still waits for its message, so another
    # worker that saw the timer due before it fired finds the instance waiting, not finished.
    deploy(signpost, RACE.replace('cancelActivity="true"', 'cancelActivity="false"'))
    referrer = signpost.clients.authenticate(tokens[0])
    referrals = [
        signpost.referrals.start(
            referrer, pathway="race", version=None, referrer="C81001", subject=None, data={"wait_for": "PT1S"}
        )[0]["id"]
        for _ in range(600)
    ]
    # Every timer is due by the time the workers attend, so they all read the same list at once.
    workers = start_workers(fleet, 3)
    wait_until_none(signpost, NO_TIMER_WAITS)

    found = outcomes(signpost)
    assert sorted(found) == sorted(referrals)
    assert all(o["status"] == "waiting" and o["data"]["escalated"] for o in found.values())
    assert {(o["timers"], o["messages"], o["incidents"]) for o in found.values()} == {(1, 0, 0)}
    fired = fired_once_each(fleet.stop_workers())
    assert set(fired) == {o["instance_id"] for o in found.values()}
    passed_over = sum(1 for w in workers for line in w.lines if "has no timer due any more" in line)
    assert passed_over > 0, "the workers never met an instance another one had just fired"
    print(f"\n600 timers due at once: {passed_over} fired elsewhere since seen due were passed over")


def test_timers_due_during_a_downtime_fire_once_on_restart_with_their_lateness(signpost, tokens, fleet):
    deploy(signpost, RACE)
    # Nothing attends to timers while the referrals start and their timers fall due: the downtime.
    referrer = signpost.clients.authenticate(tokens[0])
    referrals = [
        signpost.referrals.start(
            referrer, pathway="race", version=None, referrer="C81001", subject=None, data={"wait_for": "PT1S"}
        )[0]["id"]
        for _ in range(300)
    ]
    with signpost.database.read() as conn:
        last_due = conn.exec_driver_sql("SELECT max(due_at) FROM waits WHERE kind = 'timer'").scalar()
    downtime = threading.Event()
    while datetime.now(UTC) < last_due:
        downtime.wait(0.2)
    downtime.wait(2)
    # Every lateness is at least this, give or take the millisecond the log line rounds to.
    least_lateness = (datetime.now(UTC) - last_due).total_seconds() - 0.001

    # The server with its ticker comes back first, then two workers join it.
    port = free_port()
    server = fleet.start("-m", "api.cli", "serve", "--port", str(port))
    server.wait_for(r"Running on http://127\.0\.0\.1")
    fleet.worker()
    fleet.worker()
    wait_until_none(signpost, timeout=60)

    found = assert_each_won_exactly_once(signpost, referrals)
    assert escalated(found) == {o["instance_id"] for o in found.values()}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=HTTP_TIMEOUT_SECONDS) as response:
        metrics = response.read().decode()
    server.stop()
    fired = fired_once_each([*fleet.stop_workers(), server])
    assert set(fired) == escalated(found)
    assert min(fired.values()) >= least_lateness, (least_lateness, spread(fired.values()))
    # The server's own metrics count what its ticker fired, with that lateness.
    by_server = timers_fired_by(server)
    assert by_server, "the server's ticker fired nothing"
    assert f"signpost_timers_fired_total {float(len(by_server))}" in metrics
    assert f"signpost_timer_lateness_seconds_count {float(len(by_server))}" in metrics
    lateness_sum = float(re.search(r"^signpost_timer_lateness_seconds_sum (\S+)$", metrics, re.M).group(1))
    assert lateness_sum >= least_lateness * len(by_server)
    print(
        f"\n300 timers after {least_lateness:.1f} s down: {len(by_server)} fired by the server, lateness "
        f"{spread(fired.values())}"
    )
