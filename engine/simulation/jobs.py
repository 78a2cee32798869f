"""Simulations asked for through the API (the studio and the console): checked at once, then run in a worker
thread of the process that accepted them, with their progress, a way to cancel them and, when done, their
figures and HTML report.

A run belongs to the caller's organisation (and, when the caller is an operator tied to a point of access,
to that point of access): only its clients see, cancel or read it. A request names one
pathway and, to compare, a second version of it; or a what-if, run beside the pathway as it is. The demand
and service behaviour come in the request (as a profile file would hold them: docs/simulation.md) or are
fitted from a period of history; start data comes from the version's scenario files only (history's referral
data stays where it is). Bounds: ``MOST_DAYS`` days, ``MOST_RUNS`` runs, ``MOST_RUNNING`` at once per process;
the ``MOST_KEPT`` latest are remembered (in this process: a restart forgets them).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from engine import clock
from engine.errors import Conflict, InvalidInput, NotFound
from engine.governance.clients import Client
from engine.simulation import report
from engine.simulation.fit import fit
from engine.simulation.profiles import Behaviour, behaviour_from, demand_from
from engine.simulation.runner import Arm, Plan, Progress, prepare, run_prepared
from engine.simulation.whatifs import AS_IS, read_what_if
from engine.system import Signpost

log = logging.getLogger(__name__)

MOST_DAYS = 31
MOST_RUNS = 10
MOST_RUNNING = 2
MOST_KEPT = 20


@dataclass
class Job:
    id: str
    organisation: str
    point_of_access: str | None
    requested_by: str
    created_at: datetime
    title: str
    cancel: threading.Event = field(default_factory=threading.Event)
    status: str = "running"  # running | done | cancelled | failed
    progress: Progress | None = None
    summary: dict | None = None
    html: str | None = None
    error: str | None = None
    worker: threading.Thread | None = None

    def view(self, *, with_figures: bool = False) -> dict:
        progress = self.progress
        answer = {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "requested_by": self.requested_by,
            "created_at": self.created_at.isoformat(),
            "progress": None
            if progress is None
            else {
                "arm": progress.arm,
                "run": progress.run,
                "runs": progress.runs,
                "simulated_days": round(progress.simulated_days, 2),
                "days": progress.days,
                "referrals": progress.referrals,
                "referrals_per_second": round(progress.referrals_per_second, 2),
                "fraction_done": round(progress.fraction_done, 3),
                "seconds_left": None if progress.seconds_left is None else round(progress.seconds_left),
            },
            "error": self.error,
        }
        answer["figures"] = self.summary if with_figures else None
        return answer


class SimulationJobs:
    def __init__(self, signpost: Signpost):
        self._signpost = signpost
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, request: dict, client: Client) -> dict:
        """Check ``request`` (InvalidInput, NotFound: nothing starts) and start it in a worker thread."""
        plan, title = plan_from_request(self._signpost, request)
        prepared = prepare(self._signpost, plan)
        job = Job(
            str(uuid.uuid4()), client.organisation, _point_of_access(client), client.actor, clock.now(), title
        )
        with self._lock:
            if sum(j.status == "running" for j in self._jobs.values()) >= MOST_RUNNING:
                raise Conflict(
                    f"{MOST_RUNNING} simulations are running already: wait for one to finish, or cancel one"
                )
            self._jobs[job.id] = job
            while len(self._jobs) > MOST_KEPT:
                oldest = next(j for j in self._jobs.values() if j.status != "running")
                del self._jobs[oldest.id]
        worker = threading.Thread(
            target=self._run, args=(job, plan, prepared), name=f"simulation-{job.id[:8]}", daemon=True
        )
        job.worker = worker
        worker.start()
        return job.view()

    def _run(self, job: Job, plan: Plan, prepared) -> None:
        def progress(now: Progress) -> None:
            job.progress = now

        try:
            result = run_prepared(
                self._signpost.settings, plan, prepared, progress=progress, cancelled=job.cancel.is_set
            )
            if result.cancelled:
                job.status = "cancelled"
                return
            job.summary = report.as_dict(result)
            job.html = report.as_html(job.summary, job.title)
            job.status = "done"
        except Exception as error:  # a run that breaks must say so, not leave its caller polling forever
            log.exception("simulation %s failed", job.id)
            job.error = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
            job.status = "failed"

    def list(self, client: Client) -> list[dict]:
        with self._lock:
            jobs = [j for j in self._jobs.values() if _sees(client, j)]
        return [j.view() for j in reversed(jobs)]

    def get(self, job_id: str, client: Client) -> dict:
        return self._job(job_id, client).view(with_figures=True)

    def cancel(self, job_id: str, client: Client) -> dict:
        job = self._job(job_id, client)
        if job.status != "running":
            raise Conflict(f"simulation {job_id} is {job.status}: there is nothing to cancel")
        job.cancel.set()
        return job.view()

    def report(self, job_id: str, client: Client) -> str:
        job = self._job(job_id, client)
        if job.html is None:
            raise Conflict(f"simulation {job_id} is {job.status}: its report exists once it is done")
        return job.html

    def _job(self, job_id: str, client: Client) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or not _sees(client, job):
            raise NotFound(f"no simulation with id {job_id}")
        return job

    def wait(self, job_id: str, seconds: float) -> None:
        """Wait until the run is no longer running, for at most ``seconds`` (for tests and scripts)."""
        with self._lock:
            worker = self._jobs[job_id].worker
        if worker is not None:
            worker.join(seconds)


def _point_of_access(client: Client) -> str | None:
    return client.service if "operator" in client.roles else None


def _sees(client: Client, job: Job) -> bool:
    return client.organisation == job.organisation and _point_of_access(client) == job.point_of_access


def plan_from_request(signpost: Signpost, request: dict) -> tuple[Plan, str]:
    """The plan a request asks for (fields as api/views/simulations.py documents them)."""
    key, version = request["pathway"], request.get("version")
    if request["days"] > MOST_DAYS or request["runs"] > MOST_RUNS:
        raise InvalidInput(
            f"a simulation through the API lasts at most {MOST_DAYS} days and {MOST_RUNS} runs"
        )
    behaviour, history_start = Behaviour(), request.get("fit_from")
    if (history_start is None) != (request.get("fit_to") is None):
        raise InvalidInput("give both fit_from and fit_to, or neither")
    if request.get("demand") is None and history_start is None:
        raise InvalidInput(
            "give the demand ('demand': {arrivals: …}) or a period to fit it from (fit_from, fit_to)"
        )
    if history_start is not None:
        fitted = fit(signpost, history_start, request["fit_to"], [key])
        demand, behaviour = fitted.demand, fitted.behaviour
    if request.get("demand") is not None:
        demand = demand_from(request["demand"], "demand")
    if request.get("services") is not None:
        behaviour = behaviour_from(request["services"], "services")
    what_if = read_what_if("what if", **(request.get("what_if") or {}))
    if request.get("compare_version") is not None:
        arms = tuple(
            Arm(f"{key} v{number}", ((key, number),), what_if)
            for number in (version, request["compare_version"])
        )
    elif what_if.changes_anything:
        arms = (Arm("as is", ((key, version),), AS_IS), Arm("what if", ((key, version),), what_if))
    else:
        arms = (Arm(f"{key} v{version}" if version else key, ((key, version),)),)
    start = request.get("start") or request.get("fit_to")
    if start is None:
        raise InvalidInput("say when the simulated period starts ('start')")
    plan = Plan(
        arms=arms,
        start=start,
        days=request["days"],
        demand=demand,
        behaviour=behaviour,
        runs=request["runs"],
        seed=request.get("seed", 1),
        warm_up_days=request.get("warm_up_days", 2.0),
    )
    title = "Pathway simulation: " + " vs ".join(arm.label for arm in arms)
    return plan, title
