"""Scenario tests of pathways: files of scenarios (``engine/pathways/scenario_files.py``, docs/scenarios.md)
run against the real engine in virtual time, each in a throw-away store, with path coverage per process.

    runner         reads the files, prepares the scratch stores, runs each scenario, merges the coverage
    scratch        the throw-away SQLite stores, and the service directory and OLA terms they are loaded with
    stage          one scenario's Signpost, clock and clients; each step made as its client would make it
    virtual_time   a wait: the clock jumps from one due timer or OLA check to the next
    expectations   each expectation checked against the referral as the API reports it
    results        what a run answers
    service        runs asked for through the API: a draft, or a stored version, within a request's bounds

It sits in the top layer with ``system``: it builds Signposts of its own (engine.system.build).
"""

from engine.scenarios.results import Failure, Moment, RunResult, ScenarioResult, coverage_dict
from engine.scenarios.runner import DEFAULT_START, RunLimits, is_scenario_file, run_scenarios
from engine.scenarios.scratch import Directory
from engine.scenarios.service import API_LIMITS, run_draft, run_version

__all__ = [
    "API_LIMITS",
    "DEFAULT_START",
    "Directory",
    "Failure",
    "Moment",
    "RunLimits",
    "RunResult",
    "ScenarioResult",
    "coverage_dict",
    "is_scenario_file",
    "run_draft",
    "run_scenarios",
    "run_version",
]
