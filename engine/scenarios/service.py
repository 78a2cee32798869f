"""Scenario runs asked for through the API: a draft's files, or a stored version's, against the service
directory and OLA terms the caller's own database holds, within the bounds an HTTP request can afford."""

from __future__ import annotations

from engine.bpmn import SourceFile
from engine.scenarios.results import RunResult
from engine.scenarios.runner import RunLimits, run_scenarios
from engine.scenarios.scratch import Directory
from engine.system import Signpost

# What one request may ask for: scenarios, steps per scenario, stops of the clock per step, real seconds.
API_LIMITS = RunLimits(time_limit_seconds=60, max_scenarios=100, max_steps=200, max_wakes=1_000)


def run_draft(signpost: Signpost, files: list[SourceFile], limits: RunLimits = API_LIMITS) -> RunResult:
    """Run the scenario files among ``files`` against the diagrams among them, deployed nowhere but in the
    run's throw-away stores (nothing is stored in ``signpost``'s database)."""
    return run_scenarios(files, Directory.of(signpost), signpost.settings, limits=limits)


def run_version(signpost: Signpost, key: str, number: int, limits: RunLimits = API_LIMITS) -> RunResult:
    """Run the scenario files stored with version ``number`` of ``key`` (its scenarios of that pathway, with
    coverage of that pathway and the processes it calls). NotFound for an unknown version."""
    version = signpost.definitions.version(key, number, with_files=True)
    files = [SourceFile(f["filename"], f["content"].encode()) for f in version["files"]]
    return run_scenarios(files, Directory.of(signpost), signpost.settings, limits=limits, pathways={key})
