"""Simulations through the API (api/views/simulations.py): queued in the database and run by a simulation
worker, polled, cancelled, read as figures and as the HTML report; refused with a problem document when they
cannot run; seen by the caller's organisation only; claimed again when their worker stops."""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from engine.simulation.jobs import MOST_ACTIVE
from engine.simulation.worker import MOST_ATTEMPTS, STALE_AFTER, SimulationWorker
from engine.store import simulation_runs
from tests.conftest import NURSING_FILES, ROOT, SOPS, pathway_files, process_env
from tests.support.processes import Process

NURSING = "community_nursing_referral"
CITY = "community-nursing-city"
REQUEST = {
    "pathway": NURSING,
    "start": "2026-01-12T00:00:00+00:00",
    "days": 0.5,
    "warm_up_days": 0,
    "runs": 1,
    "demand": {"arrivals": [{"pathway": NURSING, "per_hour": {"Mon 08:00-12:00": 3}}]},
    "services": {"services": {CITY: {"capacity": 1, "work": {"median": "PT25M", "p90": "PT40M"}}}},
    "what_if": {"target": ["acknowledge=PT30M"]},
}


def deploy(signpost):
    signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")
    files = pathway_files(*NURSING_FILES, "community_nursing_referral.scenarios.yaml")
    signpost.definitions.deploy(files, "tests")


def test_a_designer_starts_a_simulation_polls_it_and_reads_its_figures_and_report(
    http, signpost, directory, designer_headers, operator_headers
):
    deploy(signpost)
    started = http.post("/api/v1/simulations", json=REQUEST, headers=designer_headers)
    assert started.status_code == 202, started.json
    simulation = started.json
    assert simulation["status"] == "queued" and simulation["figures"] is None
    assert SimulationWorker(signpost, "worker 1").work_next() == simulation["id"]

    done = http.get(f"/api/v1/simulations/{simulation['id']}", headers=designer_headers).json
    assert done["status"] == "done", done["error"]
    assert done["progress"]["referrals"] > 0 and done["progress"]["fraction_done"] > 0.9
    arms = done["figures"]["arms"]
    assert [arm["label"] for arm in arms] == ["as is", "what if"]
    assert any(row["group"] == [CITY] for row in arms[0]["compliance"]["service"])
    listed = http.get("/api/v1/simulations", headers=designer_headers).json
    assert [s["id"] for s in listed] == [simulation["id"]]

    report = http.get(f"/api/v1/simulations/{simulation['id']}/report", headers=designer_headers)
    assert report.status_code == 200 and report.mimetype == "text/html"
    assert b"<svg" in report.data and "default-src 'none'" in report.headers["Content-Security-Policy"]
    # Another organisation's duty manager does not see it at all.
    assert http.get(f"/api/v1/simulations/{simulation['id']}", headers=operator_headers).status_code == 404
    assert http.get("/api/v1/simulations", headers=operator_headers).json == []


def test_a_running_simulation_can_be_cancelled(http, signpost, directory, operator_headers):
    deploy(signpost)
    longer = {**REQUEST, "days": 5, "what_if": None}
    started = http.post("/api/v1/simulations", json=longer, headers=operator_headers).json
    worker = SimulationWorker(signpost, "worker 1")
    claimed = worker.claim_next()
    assert claimed["id"] == started["id"]
    cancelled = http.post(f"/api/v1/simulations/{started['id']}/cancel", headers=operator_headers)
    assert cancelled.status_code == 200
    assert (cancelled.json["status"], cancelled.json["cancel_requested"]) == ("running", True)
    worker.work(claimed)
    after = http.get(f"/api/v1/simulations/{started['id']}", headers=operator_headers).json
    assert after["status"] == "cancelled" and after["figures"] is None
    again = http.post(f"/api/v1/simulations/{started['id']}/cancel", headers=operator_headers)
    assert again.status_code == 409
    assert (
        http.get(f"/api/v1/simulations/{started['id']}/report", headers=operator_headers).status_code == 409
    )


def test_a_simulation_that_cannot_run_is_refused_at_once_with_the_reason(
    http, signpost, directory, designer_headers
):
    deploy(signpost)
    for body, status, reason in (
        ({**REQUEST, "pathway": "no_such_pathway"}, 404, "no definition with key 'no_such_pathway'"),
        ({**REQUEST, "version": 4}, 404, "has no version 4"),
        ({**REQUEST, "demand": {"arrivals": [{"pathway": NURSING, "per_hour": -3}]}}, 422, "negative"),
        ({**REQUEST, "services": {"services": {"nowhere": {}}}}, 422, "nowhere"),
        ({**REQUEST, "what_if": {"capacity": ["nowhere=2"]}}, 422, "nowhere"),
        (
            {**REQUEST, "demand": None, "fit_from": "2025-01-06T00:00:00Z", "fit_to": "2025-02-03T00:00:00Z"},
            422,
            "no history to fit",
        ),
    ):
        response = http.post("/api/v1/simulations", json=body, headers=designer_headers)
        assert response.status_code == status, (body, response.json)
        assert response.mimetype == "application/problem+json"
        assert reason in response.json["detail"]
    assert (
        http.post("/api/v1/simulations", json={**REQUEST, "days": 90}, headers=designer_headers).status_code
        == 422
    )
    assert http.get("/api/v1/simulations", headers=designer_headers).json == []


def test_a_queued_simulation_is_cancelled_at_once_and_never_runs(http, signpost, directory, designer_headers):
    deploy(signpost)
    started = http.post("/api/v1/simulations", json=REQUEST, headers=designer_headers).json
    cancelled = http.post(f"/api/v1/simulations/{started['id']}/cancel", headers=designer_headers).json
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"] is not None
    assert SimulationWorker(signpost, "worker 1").work_next() is None


def test_a_simulation_whose_worker_stopped_is_claimed_again_and_finished(
    http, signpost, directory, designer_headers, frozen_clock
):
    deploy(signpost)
    started = http.post("/api/v1/simulations", json=REQUEST, headers=designer_headers).json
    stopped, spare = SimulationWorker(signpost, "stopped worker"), SimulationWorker(signpost, "spare worker")
    claimed = stopped.claim_next()  # and then never beats
    assert claimed["id"] == started["id"]
    assert spare.work_next() is None  # its worker may only be slow
    frozen_clock.shift(STALE_AFTER + timedelta(seconds=1))
    assert spare.work_next() == started["id"]
    done = http.get(f"/api/v1/simulations/{started['id']}", headers=designer_headers).json
    assert done["status"] == "done", done["error"]
    assert [arm["label"] for arm in done["figures"]["arms"]] == ["as is", "what if"]
    # The stopped worker, back, finds the run is no longer its own and writes nothing over it.
    stopped.work(claimed)
    assert http.get(f"/api/v1/simulations/{started['id']}", headers=designer_headers).json == done


def test_a_simulation_that_keeps_stopping_its_worker_is_given_up(
    http, signpost, directory, designer_headers, frozen_clock
):
    deploy(signpost)
    started = http.post("/api/v1/simulations", json=REQUEST, headers=designer_headers).json
    for attempt in range(MOST_ATTEMPTS):
        assert SimulationWorker(signpost, f"worker {attempt}").claim_next()["id"] == started["id"]
        frozen_clock.shift(STALE_AFTER + timedelta(seconds=1))
    assert SimulationWorker(signpost, "last worker").work_next() is None
    failed = http.get(f"/api/v1/simulations/{started['id']}", headers=designer_headers).json
    assert failed["status"] == "failed"
    assert f"stopped the worker running it {MOST_ATTEMPTS} times" in failed["error"]


def test_an_organisation_queues_a_bounded_number_of_simulations(http, signpost, directory, designer_headers):
    deploy(signpost)
    for _ in range(MOST_ACTIVE):
        assert http.post("/api/v1/simulations", json=REQUEST, headers=designer_headers).status_code == 202
    refused = http.post("/api/v1/simulations", json=REQUEST, headers=designer_headers)
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    assert "queued or running already" in refused.json["detail"]
    assert len(http.get("/api/v1/simulations", headers=designer_headers).json) == MOST_ACTIVE


@pytest.mark.wall_clock
def test_a_simulation_survives_its_worker_process_being_killed(
    http, signpost, directory, designer_headers, database_url
):
    queued, worker = running_in_a_worker_process(http, signpost, designer_headers, database_url)
    worker.kill()
    with signpost.database.read() as conn:
        assert simulation_runs.get(conn, queued["id"])["status"] == "running"

    # Nobody beats for it any more: once that is stale, another worker starts it again and finishes it.
    with time_machine.travel(datetime.now(UTC) + STALE_AFTER + timedelta(seconds=1), tick=True):
        assert SimulationWorker(signpost, "spare worker").work_next() == queued["id"]
    done = http.get(f"/api/v1/simulations/{queued['id']}", headers=designer_headers).json
    assert done["status"] == "done", done["error"]
    assert done["progress"]["fraction_done"] > 0.99 and done["figures"]["arms"]


@pytest.mark.wall_clock
def test_a_simulation_worker_stopped_with_sigterm_puts_its_run_back_in_the_queue(
    http, signpost, directory, designer_headers, database_url
):
    queued, worker = running_in_a_worker_process(http, signpost, designer_headers, database_url)
    assert worker.stop() == 0
    with signpost.database.read() as conn:
        run = simulation_runs.get(conn, queued["id"])
    assert (run["status"], run["worked_by"], run["attempts"], run["progress"]) == ("queued", None, 0, None)


def running_in_a_worker_process(http, signpost, headers, database_url) -> tuple[dict, Process]:
    """A simulation queued and running, with progress recorded, in a `signpost simulate work` process."""
    deploy(signpost)
    # Long enough to be stopped in the middle: a few hundred referrals in each of two runs.
    demand = {"arrivals": [{"pathway": NURSING, "per_hour": 2}]}
    longer = {**REQUEST, "days": 3, "runs": 2, "what_if": None, "demand": demand}
    queued = http.post("/api/v1/simulations", json=longer, headers=headers).json
    worker = Process(
        [sys.executable, "-m", "api.cli", "simulate", "work"], process_env(database_url), ROOT, "simulations"
    )
    try:
        worker.wait_for("running the simulations queued through the API")
        running = wait_for_run(signpost, queued["id"], lambda run: run["progress"] is not None)
        assert running["status"] == "running" and running["attempts"] == 1
    except BaseException:
        worker.kill()
        raise
    return queued, worker


def wait_for_run(signpost, run_id: str, condition, timeout: float = 120.0):
    """The run once ``condition`` holds of it, read from the database as a worker process writes it."""
    deadline, pause = time.monotonic() + timeout, threading.Event()
    while time.monotonic() < deadline:
        with signpost.database.read() as conn:
            run = simulation_runs.get(conn, run_id)
        if condition(run):
            return run
        pause.wait(0.1)
    raise AssertionError(f"simulation {run_id} did not get there in {timeout:g} s: {dict(run)}")
