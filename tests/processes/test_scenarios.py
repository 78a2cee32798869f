"""Every scenario file in processes/ (docs/scenarios.md), run as `signpost test processes` runs them: each
scenario must pass, and together they must take every sequence flow of every pathway. This is how `make
test` runs the designers' scenarios."""

from __future__ import annotations

import pytest

from engine.bpmn import SourceFile
from engine.pathways.forms import FORM_SUFFIX
from engine.scenarios import Directory, is_scenario_file, run_scenarios
from engine.settings import Settings
from tests.conftest import PROCESSES, SOPS

PATHWAYS = (
    "adult_mental_health_spa",
    "adult_social_care_front_door",
    "ambulance_conveyance_avoidance",
    "bed_bureau_admission",
    "clinical_triage_nhs111",
    "community_nursing_referral",
    "first_contact_plus",
    "integrated_crisis_response",
    "repeat_contact",
)


@pytest.fixture(scope="module")
def shipped():
    """One run of every shipped scenario, read by the tests below (module-scoped: it needs no pinned clock, as
    every scenario runs on a virtual clock of its own, and no database: the run makes its own)."""
    files = [
        SourceFile(str(path.relative_to(PROCESSES.parent)), path.read_bytes())
        for path in sorted(PROCESSES.iterdir())
        if path.suffix in (".bpmn", ".dmn", ".toml")
        or path.name.endswith(FORM_SUFFIX)
        or is_scenario_file(path.name)
    ]
    directory = Directory.from_files(
        (SOPS / "services.toml").read_text(),
        "sops/services.toml",
        (SOPS / "olas.toml").read_text(),
        "sops/olas.toml",
    )
    return run_scenarios(files, directory, Settings(database_url="sqlite://"))


def test_every_pathway_has_scenarios():
    assert sorted(p.name for p in PROCESSES.glob("*.bpmn")) == [f"{p}.bpmn" for p in PATHWAYS]
    for pathway in PATHWAYS:
        assert (PROCESSES / f"{pathway}.scenarios.yaml").is_file(), pathway


def test_every_shipped_scenario_passes(shipped):
    failed = [
        f"{s.file}:{f.line}: {s.name}: step {f.step}: {f.message}"
        for s in shipped.scenarios
        for f in s.failures
    ]
    assert failed == []
    assert {s.pathway for s in shipped.scenarios} == set(PATHWAYS)


def test_the_scenarios_take_every_sequence_flow_and_reach_every_element(shipped):
    assert sorted(shipped.coverage) == list(PATHWAYS)
    uncovered = {
        pid: (c.uncovered_elements(), c.uncovered_flows())
        for pid, c in shipped.coverage.items()
        if c.uncovered_elements() or c.uncovered_flows()
    }
    assert uncovered == {}
    assert shipped.fully_covered
