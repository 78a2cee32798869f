"""Running Signpost: probes, metrics, the worker process, and workers sharing PostgreSQL (SKIP LOCKED)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from api import create_app
from engine.settings import Settings
from engine.system import build
from tests import bpmn_samples as samples
from tests.conftest import process_env

WORKER_TIMEOUT_SECONDS = 60


def start_waiting_on_a_timer(signpost, gp) -> dict:
    """A referral started now, waiting on a 30-minute timer."""
    signpost.definitions.deploy([samples.source(samples.timer_wait('"PT30M"'))], "tests")
    referral, _ = signpost.referrals.start(
        gp, pathway="sample", version=None, referrer="r", subject=None, data={}
    )
    return referral


def test_health_and_readiness_probes(http, settings):
    assert http.get("/healthz").json == {"status": "ok"}
    assert http.get("/readyz").json == {"status": "ready"}
    unreachable = build(
        Settings(
            database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
            secret_keys=settings.secret_keys,
            audit_keys=settings.audit_keys,
        )
    )
    try:
        response = create_app(unreachable).test_client().get("/readyz")
    finally:
        unreachable.close()
    assert (response.status_code, response.content_type) == (503, "application/problem+json")
    assert "database is not reachable" in response.json["detail"]


def test_metrics_count_fired_timers_their_lateness_and_http_latency(http, signpost, gp, frozen_clock):
    start_waiting_on_a_timer(signpost, gp)
    assert "signpost_timers_due 0.0" in http.get("/metrics").data.decode()  # due in 30 minutes
    frozen_clock.shift(timedelta(minutes=31, seconds=30))
    assert "signpost_timers_due 1.0" in http.get("/metrics").data.decode()
    assert signpost.timers.fire_due() == 1
    text = http.get("/metrics").data.decode()
    assert "signpost_timers_fired_total 1.0" in text
    assert 'signpost_timer_lateness_seconds_bucket{le="60.0"} 0.0' in text
    assert 'signpost_timer_lateness_seconds_bucket{le="300.0"} 1.0' in text  # fired 90 s late
    assert "signpost_timers_due 0.0" in text
    assert "signpost_outbox_depth 0.0" in text
    assert 'signpost_http_request_seconds_count{method="GET",route="/metrics",status="200"}' in text
    assert "signpost_instance_step_seconds_count" in text


@pytest.mark.skipif(
    not os.environ.get("SIGNPOST_DATABASE_URL", "").startswith("postgresql"),
    reason="row locks with SKIP LOCKED are PostgreSQL's; SQLite serialises writers instead",
)
def test_a_worker_skips_an_instance_another_process_holds_and_fires_it_afterwards(signpost, gp, frozen_clock):
    referral = start_waiting_on_a_timer(signpost, gp)
    frozen_clock.shift(timedelta(minutes=31))
    instance_id = signpost.referrals.instance_id(referral["id"])
    with signpost.database.engine.connect() as other_process, other_process.begin():
        other_process.execute(
            sa.text("SELECT id FROM instances WHERE id = :id FOR UPDATE"), {"id": instance_id}
        )
        assert signpost.timers.fire_due() == 0  # returns at once instead of waiting for the lock
    assert signpost.timers.fire_due() == 1
    assert signpost.timers.fire_due() == 0


@pytest.mark.wall_clock
def test_the_worker_process_fires_a_due_timer(database_url, signpost, gp, practice_operator):
    # Started an hour ago on the clock the worker reads, so its 30-minute timer is due.
    with time_machine.travel(datetime.now(UTC) - timedelta(hours=1), tick=False):
        referral = start_waiting_on_a_timer(signpost, gp)
    instance_id = signpost.referrals.instance_id(referral["id"])
    env = process_env(database_url, SIGNPOST_TICK_SECONDS="0.2", PYTHONUNBUFFERED="1")
    worker = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in worker.stdout], daemon=True).start()
        seen = []
        while not any(f"fired the timers of instance {instance_id}" in line for line in seen):
            try:
                seen.append(lines.get(timeout=WORKER_TIMEOUT_SECONDS))
            except queue.Empty:
                raise AssertionError("the worker fired nothing within a minute:\n" + "".join(seen)) from None
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0  # SIGTERM ends it cleanly
    after = signpost.referrals.get(referral["id"], practice_operator)
    assert [t["element_id"] for t in after["waiting_for"]["tasks"]] == ["after"]
