"""``signpost test PATH…``: run the scenario files found in PATHs against the diagrams beside them.

Every path is a folder (searched, with its subfolders) or a file; a scenario file given on its own brings the
BPMN and DMN files of its folder with it. All the diagrams found are deployed together, in a throw-away
store, as ``signpost deploy`` would deploy them, with the service directory and OLA terms of ``--sops``
(default: a given folder holding services.toml and olas.toml, else ./sops). Runs in virtual time: days of
timers and OLA clocks pass in milliseconds. Coverage is reported for every process found when a folder is
given, and for the pathways the scenarios run (and what they call) when only files are.

Exit status: 0 when every scenario passed (and, with ``--require-full-coverage``, every sequence flow of every
process was covered); 1 when one failed or coverage fell short; 2 when the input could not be read (a broken
scenario file or diagram, no scenario at all, no service directory): each problem printed as ``file:line``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from engine.bpmn import SourceFile
from engine.errors import DefinitionInvalid, SignpostError
from engine.pathways.blueprints import VARIANTS_SUFFIX
from engine.pathways.forms import FORM_SUFFIX
from engine.pathways.scenario_files import SCENARIO_SUFFIXES
from engine.scenarios import Directory, RunResult, run_scenarios
from engine.settings import Settings

DIAGRAM_SUFFIXES = (".bpmn", ".dmn")
DIRECTORY_FILE = "services.toml"
OLA_FILE = "olas.toml"


def add_test_command(commands) -> None:
    test = commands.add_parser(
        "test",
        help="run the scenario files (*.scenarios.yaml) in PATHs against the BPMN/DMN beside them, in "
        "virtual time, with path coverage; exit status 0 only if all pass",
    )
    test.add_argument("paths", nargs="+", type=Path, help="folders (searched) or files")
    test.add_argument(
        "--require-full-coverage",
        action="store_true",
        help="also fail when some sequence flow of a process is not covered by any scenario",
    )
    test.add_argument(
        "--sops",
        type=Path,
        help="the folder with services.toml and olas.toml (default: a given folder with them, else ./sops)",
    )
    test.set_defaults(command=run_test_command, without_engine=True)


def run_test_command(_signpost, args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        files = _files(args.paths)
        if not any(f.filename.endswith(SCENARIO_SUFFIXES) for f in files):
            return _unreadable(["no scenario files (*.scenarios.yaml) in " + " ".join(map(str, args.paths))])
        # Files named one by one: coverage of the pathways they test, not of every diagram beside them.
        every_process = any(path.is_dir() for path in args.paths)
        directory = _directory(args.paths, args.sops)
        result = run_scenarios(files, directory, Settings.from_env(), every_process=every_process)
    except DefinitionInvalid as invalid:
        return _unreadable([_located(p.file, p.line, p.message) for p in invalid.problems])
    except (SignpostError, OSError, ValueError) as error:
        return _unreadable([getattr(error, "message", None) or str(error)])
    _report(result, time.monotonic() - started)
    short = args.require_full_coverage and not result.fully_covered
    if short:
        print("some sequence flows are not covered by any scenario (--require-full-coverage)")
    return 0 if result.passed and not short else 1


def _files(paths: list[Path]) -> list[SourceFile]:
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            found.update(dict.fromkeys(sorted(p for p in path.rglob("*") if _wanted(p.name))))
        elif path.is_file():
            found[path] = None
            if path.name.endswith(SCENARIO_SUFFIXES):
                found.update(
                    dict.fromkeys(sorted(p for p in path.parent.iterdir() if _beside_scenarios(p.name)))
                )
        else:
            raise OSError(f"{path} does not exist")
    return [SourceFile(str(path), path.read_bytes()) for path in found]


def _wanted(name: str) -> bool:
    return _beside_scenarios(name) or name.endswith(SCENARIO_SUFFIXES)


def _beside_scenarios(name: str) -> bool:
    """The files a scenario file's pathway is deployed from: its diagrams, a blueprint's variants and the
    forms its user tasks name."""
    return name.endswith((*DIAGRAM_SUFFIXES, VARIANTS_SUFFIX, FORM_SUFFIX))


def _directory(paths: list[Path], sops: Path | None) -> Directory:
    candidates = [sops] if sops is not None else [*(p for p in paths if p.is_dir()), Path("sops")]
    for folder in candidates:
        services, olas = folder / DIRECTORY_FILE, folder / OLA_FILE
        if services.is_file() and olas.is_file():
            return Directory.from_files(services.read_text(), str(services), olas.read_text(), str(olas))
    where = ", ".join(str(c) for c in candidates)
    raise OSError(
        f"no {DIRECTORY_FILE} and {OLA_FILE} found (looked in {where}): name the folder with --sops"
    )


def _report(result: RunResult, seconds: float) -> None:
    current_file = None
    for scenario in result.scenarios:
        if scenario.file != current_file:
            current_file = scenario.file
            print(current_file)
        print(f"  {'PASS' if scenario.passed else 'FAIL'}  {scenario.name}")
        for failure in scenario.failures:
            message = f"{_step(failure.step)}: {failure.message}"
            print(f"        {_located(scenario.file, failure.line, message)}")
    print("coverage")
    width = max((len(pid) for pid in result.coverage), default=0)
    for pid, coverage in sorted(result.coverage.items()):
        print(
            f"  {pid:<{width}}  elements {coverage.elements_covered}/{len(coverage.elements)}  "
            f"flows {coverage.flows_covered}/{len(coverage.flows)}"
        )
        if coverage.uncovered_elements():
            print(f"      not reached: {', '.join(coverage.uncovered_elements())}")
        if coverage.uncovered_flows():
            print(f"      flows not taken: {', '.join(coverage.uncovered_flows())}")
    failed = sum(not s.passed for s in result.scenarios)
    print(
        f"{len(result.scenarios)} scenarios: {len(result.scenarios) - failed} passed, {failed} failed "
        f"({seconds:.1f} s)"
    )


def _step(number: int | None) -> str:
    if number is None:
        return "closing expect"
    return "start" if number == 0 else f"step {number}"


def _located(file: str, line: int | None, message: str) -> str:
    return f"{file}:{line}: {message}" if line else f"{file}: {message}"


def _unreadable(lines: list[str]) -> int:
    print("scenarios not run:", file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)
    return 2
