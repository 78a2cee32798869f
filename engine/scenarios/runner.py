"""Running scenario files against the real engine, in virtual time, in throw-away stores.

    read      every scenario file, strictly (a broken file: DefinitionInvalid naming each problem and line;
              nothing runs, nothing is stored anywhere)
    prepare   a scratch SQLite store with the service directory, the OLA terms and the pathway files deployed
    run       each scenario on its own copy of that store and its own virtual clock: start, each step, its
              expectations; a step the engine refuses ends the scenario with that failure
    cover     the path every scenario's tokens took (read from the instance's task tree after each step),
              merged per process: which elements and sequence flows some scenario went through

Bounds: at most ``max_scenarios`` scenarios and ``max_steps`` steps per scenario (checked before anything
runs), ``max_wakes`` stops of the clock per step, and ``time_limit_seconds`` of real time per run, checked
before every step and at every stop of the clock (a scenario cut short fails saying so; the ones after it are
reported as not run). Pathway code runs in the sandbox as it does for every referral, and one engine step is
bounded as in production (the evaluator's time limit per expression, SpiffWorkflow's task-tree depth).
"""

from __future__ import annotations

import contextvars
import functools
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine import clock
from engine.bpmn import PathTrace, SourceFile, coverage_of, diagrams_of
from engine.errors import DefinitionInvalid, InvalidInput, Problem, SignpostError
from engine.pathways.scenario_files import SCENARIO_SUFFIXES, Scenario, read_scenario_file, scenario_pathway
from engine.scenarios.expectations import failed_checks
from engine.scenarios.results import Failure, Moment, RunResult, ScenarioResult
from engine.scenarios.scratch import Directory, ScratchStores
from engine.scenarios.stage import Stage
from engine.settings import Settings

# Where a scenario's clock starts unless it says otherwise: a Monday at 9 (GMT), inside every calendar's
# working hours, and a fixed date so that a run's outcome never depends on the day it runs.
DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class RunLimits:
    time_limit_seconds: float | None = None
    max_scenarios: int = 500
    max_steps: int = 500
    max_wakes: int = 1_000


class _OutOfTime(Exception):
    """The run's real-time limit passed: the scenario in progress and those after it stop."""


def is_scenario_file(filename: str) -> bool:
    return filename.endswith(SCENARIO_SUFFIXES)


def run_scenarios(
    files: list[SourceFile],
    directory: Directory,
    settings: Settings,
    *,
    limits: RunLimits | None = None,
    pathways: set[str] | None = None,
    every_process: bool = True,
) -> RunResult:
    """Run every scenario in the scenario files among ``files`` against the diagrams among them (all deployed
    together, every top-level process a pathway). Coverage covers every process in the diagrams; with
    ``every_process`` false, only the pathways some scenario ran and the processes they call. With
    ``pathways``, only the scenarios of those pathways run, and coverage covers those pathways and the
    processes they call. Raises DefinitionInvalid for a broken scenario file or diagram, InvalidInput past the
    caps on scenarios and steps."""
    # A context of its own: nothing the caller's context watches (the audit trail of the request that asked
    # for the run adds its record to every transaction committed in it) sees the scratch stores, and the
    # virtual clocks are set there only.
    run = functools.partial(_run, files, directory, settings, limits or RunLimits(), pathways, every_process)
    return contextvars.Context().run(run)


def _run(files, directory, settings, limits: RunLimits, pathways, every_process: bool) -> RunResult:
    if not files:
        raise DefinitionInvalid([Problem("(none)", "no files were uploaded (use the form field 'files')")])
    scenario_files = _read_all([f for f in files if is_scenario_file(f.filename)], settings.max_upload_bytes)
    _check_caps(scenario_files, limits)
    diagrams = diagrams_of(files, settings.max_upload_bytes)
    deadline = None if limits.time_limit_seconds is None else time.monotonic() + limits.time_limit_seconds
    with tempfile.TemporaryDirectory(prefix="signpost-scenarios-") as folder:
        stores = ScratchStores(settings, Path(folder))
        try:
            with clock.running_on(clock.VirtualClock(DEFAULT_START)):
                deployed = stores.prepare(directory, [f for f in files if not is_scenario_file(f.filename)])
            results, trace = [], PathTrace()
            for scenario in (s for scenario_file in scenario_files for s in scenario_file.scenarios):
                pathway, problem = _pathway_of(scenario, sorted(deployed))
                if pathways is not None and pathway not in pathways:
                    continue
                result = ScenarioResult(scenario.name, scenario.file, scenario.line, pathway)
                results.append(result)
                if problem:
                    result.failures.append(Failure(0, scenario.line, problem))
                elif deadline is not None and time.monotonic() > deadline:
                    result.failures.append(Failure(None, scenario.line, _out_of_time(limits, "not run")))
                else:
                    trace.merge(_run_one(stores, scenario, result, limits, deadline))
        finally:
            stores.close()
    if pathways is not None or not every_process:
        keys_shown = pathways if pathways is not None else {r.pathway for r in results}
        wanted = {p for key in keys_shown if key in deployed for p in {key, *deployed[key]}}
        diagrams = {pid: diagram for pid, diagram in diagrams.items() if pid in wanted}
    return RunResult(results, coverage_of(diagrams, trace))


def _read_all(sources: list[SourceFile], max_bytes: int):
    read, problems = [], []
    for source in sources:
        if len(source.content) > max_bytes:
            problems.append(Problem(source.filename, f"larger than the {max_bytes:,} bytes allowed"))
            continue
        try:
            read.append(read_scenario_file(source))
        except DefinitionInvalid as invalid:
            problems.extend(invalid.problems)
    if problems:
        raise DefinitionInvalid(problems)
    return read


def _check_caps(scenario_files, limits: RunLimits) -> None:
    scenarios = [s for f in scenario_files for s in f.scenarios]
    if len(scenarios) > limits.max_scenarios:
        raise InvalidInput(f"{len(scenarios)} scenarios: a run takes at most {limits.max_scenarios}")
    for scenario in scenarios:
        if len(scenario.steps) > limits.max_steps:
            raise InvalidInput(
                f"{scenario.file}, line {scenario.line}: scenario {scenario.name!r} has "
                f"{len(scenario.steps)} steps; a scenario takes at most {limits.max_steps}"
            )


def _pathway_of(scenario: Scenario, keys: list[str]) -> tuple[str | None, str | None]:
    """The pathway a scenario runs, or why it has none: named in the scenario or its file, else the one the
    file is named after, else the deployment's only one."""
    if scenario.pathway is not None:
        if scenario.pathway in keys:
            return scenario.pathway, None
        return (
            scenario.pathway,
            f"no pathway {scenario.pathway!r} among the files ({', '.join(keys) or 'none'})",
        )
    if scenario_pathway(scenario.file) in keys:
        return scenario_pathway(scenario.file), None
    if len(keys) == 1:
        return keys[0], None
    return None, (
        f"say which pathway the scenario runs (pathway: …, in the scenario or at the top of the file): "
        f"the files hold {', '.join(keys) or 'none'}"
    )


def _run_one(
    stores: ScratchStores, scenario: Scenario, result: ScenarioResult, limits, deadline
) -> PathTrace:
    """Run one scenario into ``result``; returns the path its tokens took."""
    trace = PathTrace()

    def check_deadline() -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise _OutOfTime

    # The clock starts early enough for the person's referrals already open when the scenario starts.
    virtual = clock.VirtualClock((scenario.start.at or DEFAULT_START) - scenario.start.lead_time)
    try:
        with clock.running_on(virtual):
            stage = Stage(stores.fresh(), virtual, max_wakes=limits.max_wakes, deadline_check=check_deadline)
            _play(stage, scenario, result, trace, check_deadline)
    except _OutOfTime:
        result.failures.append(Failure(len(result.timeline), None, _out_of_time(limits, "stopped")))
    return trace


def _play(stage: Stage, scenario: Scenario, result: ScenarioResult, trace: PathTrace, check_deadline) -> None:
    try:
        done = stage.start(result.pathway, scenario.start)
    except SignpostError as refused:
        result.failures.append(
            Failure(0, scenario.start.line, f"the referral could not start: {refused.message}")
        )
        return
    _after(stage, trace, result, 0, done)
    for number, step in enumerate(scenario.steps, start=1):
        check_deadline()
        try:
            done = stage.perform(step)
        except SignpostError as refused:
            result.failures.append(Failure(number, step.line, refused.message))
            return
        _after(stage, trace, result, number, done)
        for check, message in failed_checks(stage, step.expect, trace):
            result.failures.append(Failure(number, check.line, f"{check.kind}: {message}"))
    for check, message in failed_checks(stage, scenario.expect, trace):
        result.failures.append(Failure(None, check.line, f"{check.kind}: {message}"))


def _after(stage: Stage, trace: PathTrace, result: ScenarioResult, number: int, done: str) -> None:
    trace.observe(stage.workflow())
    view = stage.view
    moment = Moment(
        number, stage.clock.now().isoformat(timespec="seconds"), done, view["status"], view["status_text"]
    )
    result.timeline.append(moment)


def _out_of_time(limits: RunLimits, what: str) -> str:
    return f"{what}: the run's time limit of {limits.time_limit_seconds:g} seconds was reached"
