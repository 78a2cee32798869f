"""The simulation worker: claims the simulations queued through the API (``engine/simulation/jobs.py``) one
at a time, runs each in a thread of its own and, every ``BEAT_SECONDS`` while it runs, records its progress
and learns whether it was cancelled; then writes its figures and HTML report, or why it failed.

A worker that stops (killed, its machine gone) stops beating: after ``STALE_AFTER`` another worker claims
the run and starts it again from the beginning — a run is fully determined by its request and seed, so the
figures are the same. A run claimed ``MOST_ATTEMPTS`` times without finishing is given up as failed rather
than passed from worker to worker forever. ``signpost simulate work`` runs one; ``signpost serve`` runs one
in its own process.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict
from datetime import timedelta

from engine import clock
from engine.simulation import report
from engine.simulation.jobs import plan_from_request, request_from_stored
from engine.simulation.runner import Progress, prepare, run_prepared
from engine.store import simulation_runs as store
from engine.system import Signpost

log = logging.getLogger(__name__)

BEAT_SECONDS = 2.0
STALE_AFTER = timedelta(seconds=60)
MOST_ATTEMPTS = 3
IDLE_POLL_SECONDS = 5.0


class SimulationWorker:
    def __init__(self, signpost: Signpost, name: str | None = None):
        self._signpost = signpost
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- one run ----------------------------------------------------------------------------------------

    def work_next(self) -> str | None:
        """Claim the next run and work it to its end; its id, or None when there was none to claim."""
        run = self.claim_next()
        if run is None:
            return None
        self.work(run)
        return run["id"]

    def claim_next(self) -> Mapping | None:
        now = clock.now()
        with self._signpost.database.write() as conn:
            run = store.claim_next(conn, self.name, now, now - STALE_AFTER)
        if run is not None and run["attempts"] > MOST_ATTEMPTS:
            self._finish(
                run,
                status="failed",
                error=f"the simulation stopped the worker running it {MOST_ATTEMPTS} times; it was given up",
            )
            return None
        return run

    def work(self, run: Mapping) -> None:
        """Run a claimed simulation to its end (done, cancelled or failed) and record it."""
        log.info("simulation %s: started by %s (attempt %d)", run["id"], self.name, run["attempts"])
        try:
            plan, _title = plan_from_request(self._signpost, request_from_stored(run["request"]))
            prepared = prepare(self._signpost, plan)
        except Exception as error:  # the pathway or the history changed since it was queued
            self._finish(run, status="failed", error=_described(error))
            return
        latest: list[Progress] = []
        cancel_asked, lost, outcome = threading.Event(), threading.Event(), []

        def note(progress: Progress) -> None:
            latest[:] = [progress]

        def stop_now() -> bool:
            return cancel_asked.is_set() or lost.is_set() or self._stopping.is_set()

        def simulate() -> None:
            try:
                outcome.append(
                    run_prepared(
                        self._signpost.settings,
                        plan,
                        prepared,
                        progress=note,
                        cancelled=stop_now,
                    )
                )
            except BaseException as error:  # recorded below, by the worker's thread
                outcome.append(error)

        self._beat(run, None, cancel_asked, lost)
        if lost.is_set():
            log.warning("simulation %s: another worker has it; %s leaves it", run["id"], self.name)
            return
        simulation = threading.Thread(target=simulate, name=f"simulation-{run['id'][:8]}", daemon=True)
        simulation.start()
        last_beat = time.monotonic()
        while simulation.is_alive():
            simulation.join(BEAT_SECONDS)
            if lost.is_set():
                continue
            try:
                self._beat(run, latest[-1] if latest else None, cancel_asked, lost)
                last_beat = time.monotonic()
            except Exception:  # the database out of reach: keep running while the claim can still hold
                log.warning("simulation %s: could not record its progress", run["id"], exc_info=True)
                if time.monotonic() - last_beat > STALE_AFTER.total_seconds():
                    lost.set()  # by now another worker may have claimed it
        stopped_early = isinstance(outcome[0], BaseException) or outcome[0].cancelled
        if lost.is_set():
            log.warning("simulation %s: another worker claimed it; %s let it go", run["id"], self.name)
        elif self._stopping.is_set() and not cancel_asked.is_set() and stopped_early:
            # Stopped with its worker, not by its requester: queued again for the next worker.
            with self._signpost.database.write() as conn:
                store.release(conn, run["id"], self.name)
        else:
            self._record(run, outcome[0], latest[-1] if latest else None)

    def _beat(
        self, run: Mapping, progress: Progress | None, cancel_asked: threading.Event, lost: threading.Event
    ) -> None:
        with self._signpost.database.write() as conn:
            asked = store.beat(conn, run["id"], self.name, clock.now(), _progress_view(progress))
        if asked is None:
            lost.set()
        elif asked:
            cancel_asked.set()

    def _record(self, run: Mapping, outcome, progress: Progress | None) -> None:
        if isinstance(outcome, BaseException):
            log.error("simulation %s failed", run["id"], exc_info=outcome)
            self._finish(run, status="failed", error=_described(outcome), progress=_progress_view(progress))
        elif outcome.cancelled:
            self._finish(run, status="cancelled", progress=_progress_view(progress))
        else:
            figures = report.as_dict(outcome)
            self._finish(
                run,
                status="done",
                figures=figures,
                report_html=report.as_html(figures, run["title"]),
                progress=_progress_view(progress),
            )
        log.info("simulation %s: ended", run["id"])

    def _finish(self, run: Mapping, **values) -> None:
        with self._signpost.database.write() as conn:
            store.finish(conn, run["id"], self.name, finished_at=clock.now(), **values)

    # ---- a thread that keeps working --------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="simulation-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for a run now rather than at the next poll."""
        self._wake.set()

    def stop(self, seconds: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(seconds)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                worked = self.work_next()
            except Exception:  # a database that went away: try again at the next poll
                log.exception("the simulation worker could not claim or record a run")
                worked = None
            if worked is None:
                self._wake.wait(IDLE_POLL_SECONDS)
                self._wake.clear()


def _progress_view(progress: Progress | None) -> dict | None:
    if progress is None:
        return None
    fields = asdict(progress)
    return {
        **fields,
        "simulated_days": round(progress.simulated_days, 2),
        "referrals_per_second": round(progress.referrals_per_second, 2),
        "fraction_done": round(progress.fraction_done, 3),
        "seconds_left": None if progress.seconds_left is None else round(progress.seconds_left),
    }


def _described(error: BaseException) -> str:
    return getattr(error, "message", None) or f"{type(error).__name__}: {error}"
