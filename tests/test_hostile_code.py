"""Hostile pathway code against a real `signpost serve` process: a designer's upload, or the referral that
runs it, can crash, freeze or bloat only the sandbox process it runs in. While each attack runs, /healthz
keeps answering within a second; afterwards the step is an incident (or the upload refused), the server's
own memory has barely grown and an ordinary referral still runs.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

import pytest
import requests

from tests import bpmn_samples as samples
from tests.conftest import process_env
from tests.support.net import free_port
from tests.support.personas import DESIGNER, GP
from tests.support.processes import Process

pytestmark = pytest.mark.wall_clock

HEALTHZ_LIMIT_SECONDS = 1.0
# What the server process itself may grow by over all the attacks (the sandbox processes are apart).
SERVER_GROWTH_LIMIT_BYTES = 150 * 1024 * 1024
DISTINCT_CHARACTERS = "".join(chr(code) for code in range(0x4E00, 0x4E00 + 8000))


@dataclass(frozen=True)
class Attack:
    name: str
    script: str = "x = 1"
    timer: str | None = None  # a boundary timer's duration expression, evaluated when deployed


RUNTIME_ATTACKS = [
    # Hashing a tuple nested 300,000 deep overflows the C stack: SIGSEGV.
    Attack("stack overflow", "t = ()\nfor i in range(300000):\n    t = (t,)\ns = {t}"),
    # Every item hashes alike: one C call that runs for minutes.
    Attack("hash collisions", "s = set(range(0, 200000 * (2**61 - 1), 2**61 - 1))"),
    # One C call converting a 300,000-digit decimal.
    Attack("huge decimal", "n = int(Decimal('1e300000'))"),
    # One formatting call allocating gigabytes.
    Attack("huge padding", "s = '%.1000000000d' % 1"),
    # A pure-Python codec the evaluator's tracer does not follow, quadratic in distinct characters.
    Attack("slow codec", f"b = '{DISTINCT_CHARACTERS}'.encode('punycode')"),
    # Far more data than an instance may store.
    Attack("huge answer", "x = 'a' * 9000000"),
]
DEPLOY_ATTACKS = [
    # The same stack overflow in a timer expression, which deploying evaluates to check it.
    Attack("stack overflow in a timer", timer="(t := ()) or [t := (t,) for _ in range(300000)] and str({t})"),
]


def timer_then_script(script: str, process_id: str) -> str:
    """start -> one-second timer -> script 'compute' -> user task -> end: the script runs in the ticker."""
    return samples.process(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="Wait">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_timer"><bpmn:timeDuration>PT1S</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="compute" name="Compute">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="review" name="Review">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="compute"/>
    <bpmn:sequenceFlow id="f3" sourceRef="compute" targetRef="review"/>
    <bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="end"/>""",
        process_id,
    )


def pathway(attack: Attack, process_id: str) -> str:
    if attack.timer is None:
        return samples.script_then_user_task(attack.script, process_id)
    return samples.timer_wait(attack.timer, process_id)


class Server:
    """A `signpost serve` process on a free port, with the clients a test acts as."""

    def __init__(self, database_url: str, cwd, designer: str, referrer: str):
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        env = process_env(
            database_url,
            SIGNPOST_SKIP_PATHWAY_APPROVAL="true",
            SIGNPOST_RATE_LIMIT="off",
            # Generous, so that the stack-overflow attack always reaches its hash under a loaded CI machine.
            SIGNPOST_EXPRESSION_TIME_LIMIT="5",
            PYTHONUNBUFFERED="1",
        )
        env.pop("SIGNPOST_ADMIN_TOKEN", None)
        self.process = Process([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env, cwd)
        self.process.wait_for(r"Running on http://127\.0\.0\.1")
        self.designer = {"Authorization": f"Bearer {designer}"}
        self.referrer = {"Authorization": f"Bearer {referrer}"}

    def resident_bytes(self) -> int:
        with open(f"/proc/{self.process.popen.pid}/status") as status:
            line = next(line for line in status if line.startswith("VmRSS:"))
        return int(line.split()[1]) * 1024

    def deploy(self, process_id: str, bpmn: str) -> requests.Response:
        files = {"files": (f"{process_id}.bpmn", bpmn.encode())}
        return requests.post(
            f"{self.base}/api/v1/definitions", files=files, headers=self.designer, timeout=60
        )

    def read(self, referral_id: str) -> dict:
        answer = requests.get(
            f"{self.base}/api/v1/referrals/{referral_id}", headers=self.referrer, timeout=60
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def start(self, process_id: str) -> requests.Response:
        body = {"pathway": process_id, "referrer": "C81001", "data": {}}
        return requests.post(f"{self.base}/api/v1/referrals", json=body, headers=self.referrer, timeout=60)


class HealthWatch:
    """Asks /healthz over and over while an attack runs; the slowest answer is what counts."""

    def __init__(self, base: str):
        self.base = base
        self.slowest = 0.0
        self.failures: list[str] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._done.set()
        self._thread.join(timeout=30)

    def pause(self, seconds: float) -> None:
        """Wait between two looks at something the server does in its own time."""
        self._done.wait(seconds)

    def _watch(self) -> None:
        with requests.Session() as session:
            while not self._done.is_set():
                began = time.monotonic()
                try:
                    answer = session.get(f"{self.base}/healthz", timeout=10)
                    if answer.status_code != 200:
                        self.failures.append(f"/healthz answered {answer.status_code}")
                except requests.RequestException as error:
                    self.failures.append(f"/healthz did not answer: {error}")
                self.slowest = max(self.slowest, time.monotonic() - began)
                self._done.wait(0.05)


@pytest.fixture
def server(signpost, database_url, tmp_path, enrolled):
    designer, referrer = enrolled(DESIGNER).token, enrolled(GP).token
    running = Server(database_url, tmp_path, designer, referrer)
    try:
        yield running
    finally:
        running.process.kill()


def test_pathway_code_cannot_crash_freeze_or_bloat_the_server(server, subtests):
    memory_before = server.resident_bytes()
    for number, attack in enumerate(RUNTIME_ATTACKS):
        with subtests.test(attack=attack.name):
            process_id = f"attack_{number}"
            deployed = server.deploy(process_id, pathway(attack, process_id))
            assert deployed.status_code == 201, deployed.text
            with HealthWatch(server.base) as health:
                started = server.start(process_id)
            assert started.status_code == 201, started.text
            assert started.json()["status"] == "incident", started.json()
            assert started.json()["incident"]["task"] == "Compute"
            assert health.failures == []
            assert health.slowest < HEALTHZ_LIMIT_SECONDS, f"/healthz took {health.slowest:.2f} s"
            assert server.process.alive()
    for number, attack in enumerate(DEPLOY_ATTACKS):
        with subtests.test(attack=attack.name):
            process_id = f"deploy_attack_{number}"
            with HealthWatch(server.base) as health:
                refused = server.deploy(process_id, pathway(attack, process_id))
            assert refused.status_code == 422, refused.text
            assert "stopped the process running it" in refused.text
            assert health.failures == []
            assert health.slowest < HEALTHZ_LIMIT_SECONDS, f"/healthz took {health.slowest:.2f} s"
    growth = server.resident_bytes() - memory_before
    assert growth < SERVER_GROWTH_LIMIT_BYTES, f"the server grew by {growth / 2**20:.0f} MiB"

    assert server.deploy("ordinary", samples.script_then_user_task("x = 1", "ordinary")).status_code == 201
    ordinary = server.start("ordinary")
    assert ordinary.status_code == 201, ordinary.text
    assert ordinary.json()["status"] != "incident", ordinary.json()
    assert server.process.alive()


def at_review(referral: dict) -> bool:
    return [task["element_id"] for task in referral["waiting_for"]["tasks"]] == ["review"]


def test_a_crash_after_a_timer_is_an_incident_and_the_ticker_goes_on(server):
    """The same stack overflow run by the server's ticker, after a timer: before the sandbox it killed the
    server at the first tick after every restart, and the instance never became an incident."""
    deployed = server.deploy("after_timer", timer_then_script(RUNTIME_ATTACKS[0].script, "after_timer"))
    assert deployed.status_code == 201, deployed.text
    assert server.deploy("innocent", timer_then_script("x = 1", "innocent")).status_code == 201
    with HealthWatch(server.base) as health:
        poisoned = server.start("after_timer").json()["id"]
        innocent = server.start("innocent").json()["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.read(poisoned)["status"] == "incident" and at_review(server.read(innocent)):
                break
            health.pause(0.2)
    assert server.read(poisoned)["status"] == "incident"
    assert "stopped the process running it" in server.read(poisoned)["incident"]["error"]
    assert at_review(server.read(innocent)), "the innocent timer did not fire"
    assert health.failures == []
    assert health.slowest < HEALTHZ_LIMIT_SECONDS, f"/healthz took {health.slowest:.2f} s"
    assert server.process.alive()
