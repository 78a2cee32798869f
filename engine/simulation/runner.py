"""Running a simulation: each arm in throw-away stores, each run on a fresh copy, in virtual time.

    check     the pathways and versions exist in the caller's database, the demand names them and points of
              access that exist, the behaviour names services that exist, the what-ifs name what exists
    prepare   per arm, a scratch SQLite store (engine/scenarios/scratch.py) with the caller's service
              directory and OLA terms (the what-if's targets applied) and the versions' files deployed
    run       ``runs`` times per arm, each on a fresh copy of the arm's store with seed ``seed + run``
              (the same seeds in every arm), from ``start - warm_up`` to ``start + days``
    read      the engine's own OLA report and dwell report over [start, start + days) on the run's store

Progress is reported every simulated hour; ``cancelled`` is asked at the same moments and stops the run at
once (nothing of a cancelled simulation is kept: its stores are thrown away).
"""

from __future__ import annotations

import contextvars
import functools
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from engine import clock
from engine.bpmn import SourceFile
from engine.errors import InvalidInput
from engine.governance.clients import Client
from engine.scenarios.scratch import Directory, ScratchStores
from engine.simulation.profiles import Behaviour, Demand
from engine.simulation.results import ArmResult, RunFigures
from engine.simulation.samples import Samples
from engine.simulation.whatifs import AS_IS, WhatIf
from engine.simulation.world import Outcome, Setup, World
from engine.store import simulation as simulation_store
from engine.system import Signpost

# Reads the dwell report of the scratch store: every referral, as figures only.
READER = Client(0, "simulation", "simulation", frozenset({"designer"}))
MOST_DAYS = 92
MOST_RUNS = 50


@dataclass(frozen=True)
class Arm:
    label: str
    pathways: tuple[tuple[str, int | None], ...]  # (key, version number; None: the latest)
    what_if: WhatIf = AS_IS


@dataclass(frozen=True)
class Plan:
    arms: tuple[Arm, ...]
    start: datetime
    days: float
    demand: Demand
    behaviour: Behaviour
    runs: int = 1
    seed: int = 1
    warm_up_days: float = 2.0
    samples: tuple[SourceFile, ...] = ()
    history: tuple[dict, ...] = ()  # referrals of a fitted period, for start data

    @property
    def origin(self) -> datetime:
        return self.start - timedelta(days=self.warm_up_days)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


@dataclass(frozen=True)
class Progress:
    arm: str
    run: int  # from 1
    runs: int
    simulated_days: float
    days: float  # per run, warm-up included
    referrals: int  # started so far in all runs
    referrals_per_second: float
    fraction_done: float
    seconds_left: float | None

    def line(self) -> str:
        left = f"{self.seconds_left:.0f} s left" if self.seconds_left is not None else "…"
        return (
            f"{self.arm}, run {self.run}/{self.runs}: day {self.simulated_days:.1f} of {self.days:g}, "
            f"{self.referrals} referrals, {self.referrals_per_second:.1f}/s, {left}"
        )


@dataclass
class SimulationResult:
    plan: Plan
    arms: list[ArmResult] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False

    @property
    def referrals(self) -> int:
        return sum(r.referrals for arm in self.arms for r in arm.runs)


class _Cancelled(Exception):
    """The caller asked the simulation to stop."""


def simulate(
    source: Signpost,
    plan: Plan,
    *,
    progress: Callable[[Progress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> SimulationResult:
    """Run ``plan`` against the pathways, directory and OLA terms of ``source``'s database (nothing is written
    there). NotFound for an unknown pathway or version; InvalidInput for anything else that does not fit."""
    return run_prepared(source.settings, plan, prepare(source, plan), progress=progress, cancelled=cancelled)


def prepare(source: Signpost, plan: Plan) -> list[PreparedArm]:
    """Everything ``simulate`` checks and reads from ``source`` before anything runs."""
    _check_bounds(plan)
    return [_prepared(source, plan, arm) for arm in plan.arms]


def run_prepared(settings, plan: Plan, prepared: list[PreparedArm], *, progress=None, cancelled=None):
    """Run what ``prepare`` made ready (in any thread: nothing here touches the source database)."""
    run = functools.partial(_simulate, settings, plan, prepared, progress, cancelled)
    # A context of its own: the virtual clocks are set there only, and nothing the caller's context watches
    # (a request's audit record) sees the scratch stores' transactions.
    return contextvars.Context().run(run)


def _check_bounds(plan: Plan) -> None:
    if not 0 < plan.days <= MOST_DAYS:
        raise InvalidInput(f"days must be more than 0 and at most {MOST_DAYS}, not {plan.days:g}")
    if not 1 <= plan.runs <= MOST_RUNS:
        raise InvalidInput(f"runs must be 1 to {MOST_RUNS}, not {plan.runs}")
    if not 0 <= plan.warm_up_days <= 14:
        raise InvalidInput(f"warm-up must be 0 to 14 days, not {plan.warm_up_days:g}")
    if plan.start.utcoffset() is None:
        raise InvalidInput("the start needs a UTC offset")


@dataclass(frozen=True)
class PreparedArm:
    arm: Arm
    files: list[SourceFile]
    directory: Directory
    samples: Samples
    demand: Demand


def _prepared(source: Signpost, plan: Plan, arm: Arm) -> PreparedArm:
    files: dict[str, SourceFile] = {}
    for key, number in arm.pathways:
        version = source.definitions.version(key, number, with_files=True)  # NotFound names what is missing
        for stored in version["files"]:
            content = stored["content"].encode()
            if stored["filename"] in files and files[stored["filename"]].content != content:
                raise InvalidInput(
                    f"the pathways of '{arm.label}' were deployed with different copies of "
                    f"{stored['filename']}: simulate them one at a time"
                )
            files[stored["filename"]] = SourceFile(stored["filename"], content)
    directory = Directory.of(source)
    services = {entry["id"]: entry for entry in directory.services}
    keys = [key for key, _ in arm.pathways]
    demand = Demand(
        tuple(s for s in plan.demand.scaled(arm.what_if.demand_scale).streams if s.pathway in keys)
    )
    for key in keys:
        if not demand.of(key):
            raise InvalidInput(f"the demand has no arrivals for pathway '{key}'")
    for stream in demand.streams:
        point = services.get(stream.point_of_access) if stream.point_of_access else None
        if stream.point_of_access and (point is None or point["kind"] != "point-of-access"):
            raise InvalidInput(
                f"arrivals for {stream.pathway} name {stream.point_of_access!r}, which is not a point of "
                "access in the service directory"
            )
    unknown = sorted(set(plan.behaviour.services) - set(services))
    if unknown:
        raise InvalidInput(
            f"the service behaviour names services the directory does not have: {', '.join(unknown)}"
        )
    arm.what_if.check(set(services), list(directory.olas))
    directory = Directory(directory.services, tuple(arm.what_if.apply_to_terms(list(directory.olas))))
    samples = Samples.from_files(list(files.values()))
    for extra in plan.samples:
        samples.add_scenario_file(extra)
    for key in keys:
        samples.add_history(key, list(plan.history))
    return PreparedArm(arm, list(files.values()), directory, samples, demand)


def _simulate(settings, plan: Plan, prepared: list[PreparedArm], progress, cancelled) -> SimulationResult:
    result = SimulationResult(plan)
    began = time.monotonic()
    total_runs = len(prepared) * plan.runs
    per_run_hours = (plan.end - plan.origin) / timedelta(hours=1)
    try:
        for arm_number, arm in enumerate(prepared):
            arm_result = ArmResult(
                arm.arm.label, [k for k, _ in arm.arm.pathways], arm.arm.what_if.describe()
            )
            result.arms.append(arm_result)
            with tempfile.TemporaryDirectory(prefix="signpost-simulation-") as folder:
                stores = ScratchStores(settings, Path(folder))
                try:
                    stores.prepare(arm.directory, arm.files)
                    for run in range(plan.runs):
                        done_runs = arm_number * plan.runs + run

                        def on_hour(
                            hours: int, referrals: int, arm_label=arm.arm.label, run=run, done=done_runs
                        ):
                            if cancelled is not None and cancelled():
                                raise _Cancelled
                            if progress is None:
                                return
                            elapsed = time.monotonic() - began
                            fraction = (done + hours / per_run_hours) / total_runs
                            started = result.referrals + referrals
                            progress(
                                Progress(
                                    arm_label,
                                    run + 1,
                                    plan.runs,
                                    hours / 24,
                                    per_run_hours / 24,
                                    started,
                                    started / elapsed if elapsed > 0 else 0.0,
                                    fraction,
                                    elapsed / fraction - elapsed if fraction > 0.01 else None,
                                )
                            )

                        arm_result.runs.append(_one_run(stores.fresh(), plan, arm, plan.seed + run, on_hour))
                finally:
                    stores.close()
    except _Cancelled:
        result.cancelled = True
    result.seconds = time.monotonic() - began
    return result


def _one_run(signpost: Signpost, plan: Plan, arm: PreparedArm, seed: int, on_hour) -> RunFigures:
    began = time.monotonic()
    virtual = clock.VirtualClock(plan.origin)
    with clock.running_on(virtual):
        setup = Setup(
            signpost=signpost,
            clock=virtual,
            origin=plan.origin,
            end=plan.end,
            versions={key: None for key, _ in arm.arm.pathways},
            demand=arm.demand,
            behaviour=plan.behaviour,
            samples=arm.samples,
            what_if=arm.arm.what_if,
            seed=seed,
            on_hour=on_hour,
        )
        outcome: Outcome = World(setup).run()
        virtual.move_to(plan.end)
        return read_figures(signpost, plan, [k for k, _ in arm.arm.pathways], outcome, seed, began)


def read_figures(signpost: Signpost, plan: Plan, keys: list[str], outcome: Outcome, seed: int, began: float):
    """The figures of a finished run, read from its store with the engine's own reports."""
    compliance = signpost.olas.report(plan.start, plan.end)
    dwell = []
    for key in keys:
        number = signpost.definitions.version(key)["number"]
        dwell += signpost.referrals.dwell(READER, key, number, plan.start, plan.end)["elements"]
    with signpost.database.read() as conn:
        statuses = simulation_store.referral_statuses(conn)
    return RunFigures(
        seed=seed,
        referrals=outcome.referrals,
        refused=outcome.refused,
        statuses=statuses,
        compliance=compliance,
        dwell=dwell,
        queues=outcome.queues,
        notes=outcome.notes,
        seconds=time.monotonic() - began,
    )
