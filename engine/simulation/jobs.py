"""Simulations asked for through the API (the studio and the console): checked at once and queued in the
database (``simulation_runs``), run by a simulation worker (``engine/simulation/worker.py``) that records
their progress and, when done, their figures and HTML report. Any API process answers for any run, and a
run whose worker stops is claimed again by another.

A run belongs to the caller's organisation (and, when the caller is an operator tied to a point of access,
to that point of access): only its clients see, cancel or read it. A request names one
pathway and, to compare, a second version of it; or a what-if, run beside the pathway as it is. The demand
and service behaviour come in the request (as a profile file would hold them: docs/simulation.md) or are
fitted from a period of history; start data comes from the version's scenario files only (history's referral
data stays where it is). Bounds: ``MOST_DAYS`` days, ``MOST_RUNS`` runs, ``MOST_ACTIVE`` queued or running
per organisation; the ``MOST_KEPT`` latest finished ones of each organisation are kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime

from engine import clock
from engine.errors import Conflict, InvalidInput, NotFound
from engine.governance.clients import Client
from engine.simulation.fit import fit
from engine.simulation.profiles import Behaviour, behaviour_from, demand_from
from engine.simulation.runner import Arm, Plan, prepare
from engine.simulation.whatifs import AS_IS, read_what_if
from engine.store import simulation_runs as store
from engine.system import Signpost

MOST_DAYS = 31
MOST_RUNS = 10
MOST_ACTIVE = 3
MOST_KEPT = 50
# The request's instants, kept as ISO 8601 text in the stored request.
_INSTANTS = ("start", "fit_from", "fit_to")


class SimulationQueue:
    """The API's side of simulations: queue, list, read and cancel them."""

    def __init__(self, signpost: Signpost):
        self._signpost = signpost
        # Called after a run is queued: a worker in this process (``signpost serve``) starts on it at once.
        self.queued_hooks: list[Callable[[], None]] = []

    def start(self, request: dict, client: Client) -> dict:
        """Check ``request`` (InvalidInput, NotFound: nothing is queued) and queue it."""
        plan, title = plan_from_request(self._signpost, request)
        prepare(self._signpost, plan)
        run_id = str(uuid.uuid4())
        with self._signpost.database.write() as conn:
            if store.count_active(conn, client.organisation) >= MOST_ACTIVE:
                raise Conflict(
                    f"{MOST_ACTIVE} simulations of {client.organisation} are queued or running already: "
                    "wait for one to finish, or cancel one"
                )
            store.insert(
                conn,
                id=run_id,
                organisation=client.organisation,
                point_of_access=_point_of_access(client),
                requested_by=client.actor,
                title=title,
                request=stored_request(request),
                status="queued",
                created_at=clock.now(),
            )
            store.forget_finished_beyond(conn, client.organisation, MOST_KEPT)
            row = store.get(conn, run_id)
        for hook in self.queued_hooks:
            hook()
        return view(row)

    def list(self, client: Client) -> list[dict]:
        with self._signpost.database.read() as conn:
            rows = store.listed(conn, client.organisation, _point_of_access(client), MOST_KEPT + MOST_ACTIVE)
        return [view(row) for row in rows]

    def get(self, run_id: str, client: Client) -> dict:
        return view(self._run(run_id, client), with_figures=True)

    def cancel(self, run_id: str, client: Client) -> dict:
        with self._signpost.database.write() as conn:
            run = self._seen(store.get(conn, run_id), run_id, client)
            if run["status"] not in store.ACTIVE:
                raise Conflict(f"simulation {run_id} is {run['status']}: there is nothing to cancel")
            store.cancel(conn, run_id, clock.now())
            return view(store.get(conn, run_id))

    def report(self, run_id: str, client: Client) -> str:
        run = self._run(run_id, client)
        if run["report_html"] is None:
            raise Conflict(f"simulation {run_id} is {run['status']}: its report exists once it is done")
        return run["report_html"]

    def _run(self, run_id: str, client: Client) -> Mapping:
        with self._signpost.database.read() as conn:
            return self._seen(store.get(conn, run_id), run_id, client)

    @staticmethod
    def _seen(run: Mapping | None, run_id: str, client: Client) -> Mapping:
        seen = (
            run is not None
            and run["organisation"] == client.organisation
            and run["point_of_access"] == _point_of_access(client)
        )
        if not seen:
            raise NotFound(f"no simulation with id {run_id}")
        return run


def view(run: Mapping, *, with_figures: bool = False) -> dict:
    return {
        "id": run["id"],
        "title": run["title"],
        "status": run["status"],
        "cancel_requested": run["cancel_requested"],
        "requested_by": run["requested_by"],
        "created_at": run["created_at"].isoformat(),
        "finished_at": None if run["finished_at"] is None else run["finished_at"].isoformat(),
        "progress": run["progress"],
        "error": run["error"],
        "figures": run["figures"] if with_figures else None,
    }


def stored_request(request: dict) -> dict:
    """The request as JSON keeps it (its instants as ISO 8601 text)."""
    return {k: v.isoformat() if k in _INSTANTS and v is not None else v for k, v in request.items()}


def request_from_stored(stored: dict) -> dict:
    return {
        k: datetime.fromisoformat(v) if k in _INSTANTS and v is not None else v for k, v in stored.items()
    }


def _point_of_access(client: Client) -> str | None:
    return client.service if "operator" in client.roles else None


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
