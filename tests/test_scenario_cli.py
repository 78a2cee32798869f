"""`signpost test PATH…`: scenario files run from the command line, with an exit status for CI; and `signpost
deploy` storing the scenario files beside the diagrams with each version."""

from __future__ import annotations

import shutil
import subprocess
import sys

from api.cli import main
from tests.conftest import NURSING_FILES, PROCESSES, ROOT, SOPS, process_env

NURSING_SCENARIOS = PROCESSES / "community_nursing_referral.scenarios.yaml"
FAILING = """\
pathway: community_nursing_referral
scenarios:
  - name: expects the wrong team
    start:
      subject: "9434765919"
      data: {clinical_need: medication, address_postcode: LE1 5WW, housebound: false}
    expect:
      handoffs: [{service: community-nursing-rutland, status: requested}]
"""


def signpost_test(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["test", *args, "--sops", str(SOPS)])
    out, err = capsys.readouterr()
    return status, out, err


def folder_with(tmp_path, scenarios: str | None = None):
    """The nursing pathway's diagrams in a folder of their own, with ``scenarios`` as its scenario file."""
    for name in NURSING_FILES:
        shutil.copy(PROCESSES / name, tmp_path / name)
    if scenarios is not None:
        (tmp_path / "community_nursing_referral.scenarios.yaml").write_text(scenarios)
    return tmp_path


def test_passing_scenarios_exit_0_with_each_one_and_the_coverage(capsys):
    status, out, err = signpost_test(capsys, str(NURSING_SCENARIOS), "--require-full-coverage")
    assert (status, err) == (0, "")
    assert out.splitlines()[0] == str(NURSING_SCENARIOS)
    assert "  PASS  A routine referral is accepted with a visit window and completed" in out.splitlines()
    # Named one by one, scenario files report the pathways they run, not every diagram beside them.
    assert "  community_nursing_referral  elements 17/17  flows 15/15" in out.splitlines()
    assert "bed_bureau_admission" not in out
    assert out.splitlines()[-1].startswith("4 scenarios: 4 passed, 0 failed")


def test_a_failing_scenario_exits_1_naming_its_file_and_line(capsys, tmp_path):
    folder = folder_with(tmp_path, FAILING)
    status, out, _ = signpost_test(capsys, str(folder))
    assert status == 1
    scenario_file = folder / "community_nursing_referral.scenarios.yaml"
    assert "  FAIL  expects the wrong team" in out.splitlines()
    assert (
        f"        {scenario_file}:8: closing expect: handoffs: "
        "hand-offs are [community-nursing-city requested], expected [community-nursing-rutland requested]"
    ) in out.splitlines()


def test_full_coverage_can_be_required(capsys, tmp_path):
    folder = folder_with(tmp_path, FAILING.replace("community-nursing-rutland", "community-nursing-city"))
    assert signpost_test(capsys, str(folder))[0] == 0
    status, out, _ = signpost_test(capsys, str(folder), "--require-full-coverage")
    assert status == 1
    assert "      flows not taken: Flow_missing_information, Flow_information_supplied, Flow_accepted" in out
    assert (
        out.splitlines()[-1]
        == "some sequence flows are not covered by any scenario (--require-full-coverage)"
    )


def test_unreadable_input_exits_2_with_each_problem_as_file_and_line(capsys, tmp_path):
    folder = folder_with(tmp_path, "scenarios:\n  - name: a\n    steps:\n      - wait: a fortnight\n")
    status, out, err = signpost_test(capsys, str(folder))
    assert (status, out) == (2, "")
    assert (
        f"{folder / 'community_nursing_referral.scenarios.yaml'}:4: wait 'a fortnight': give an ISO 8601"
        in err
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (
        signpost_test(capsys, str(empty))[2]
        .splitlines()[-1]
        .startswith("  no scenario files (*.scenarios.yaml)")
    )
    status, _, err = signpost_test(capsys, str(tmp_path / "missing"))
    assert status == 2 and "missing does not exist" in err


def test_the_command_runs_every_shipped_scenario_in_a_process_of_its_own(tmp_path):
    """As CI would: a process of its own, in the repository, on the real clock (the scenarios' own are
    virtual: days of timers and OLA clocks take no real time)."""
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "test", "processes", "--require-full-coverage"],
        cwd=ROOT,
        env=process_env(f"sqlite:///{tmp_path / 'unused.db'}"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    shipped = sum(
        path.read_text().count("\n  - name: ") for path in (ROOT / "processes").glob("*.scenarios.yaml")
    )
    assert f"{shipped} scenarios: {shipped} passed, 0 failed" in result.stdout
    assert not (tmp_path / "unused.db").exists()  # no database is needed, and none is made


def test_deploy_stores_the_scenario_files_beside_the_diagrams(database_url, tmp_path, signpost):
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "deploy", str(PROCESSES), str(SOPS)],
        cwd=tmp_path,
        env=process_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    files = signpost.definitions.version("community_nursing_referral", 1, with_files=True)["files"]
    stored = {f["filename"].rsplit("/", 1)[-1]: f["content"] for f in files}
    assert stored["community_nursing_referral.scenarios.yaml"] == NURSING_SCENARIOS.read_text()
    assert "bed_bureau_admission.scenarios.yaml" in stored
