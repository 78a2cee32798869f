"""Running scenario files (engine/scenarios/, docs/scenarios.md): every shipped scenario, against the engine
driving the same referral lifecycle directly, measured in the same run.

- Engine, directly: the routine community nursing lifecycle in-process on one SQLite store, as
  bench/lifecycle.py's "routed lifecycle" does it (start the referral; the service acknowledges, accepts with
  a window, starts and completes), one transaction per input, on the wall clock.
- The routine scenario through the runner: the same five inputs as a scenario ("A routine referral is
  accepted with a visit window and completed" without its expectations), N copies in one run. Each copy gets
  a fresh copy of the run's store, its own Signpost and virtual clock, and after every step the instance is
  read back for coverage: this is what isolation, virtual time and coverage cost per scenario. The run's
  fixed cost (migrating the template store, loading the directory, deploying the files) is measured apart,
  with a run of no scenarios, and taken out.
- Every shipped scenario: `signpost test processes` in-process (all of processes/, 22 scenarios with their
  expectations, waits of hours and days in virtual time, full coverage), R times.

Usage: python bench/scenarios.py [--n N] [--runs R]
Prints each figure, the ratios to the engine's lifecycle rate, and, as its last line, ratio=<shipped
scenarios per second / engine lifecycles per second>.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.bpmn import SourceFile  # noqa: E402 - the path must be set first
from engine.governance.audit_keys import new_audit_key  # noqa: E402
from engine.notifications.secrets_at_rest import new_key  # noqa: E402
from engine.scenarios import Directory, is_scenario_file, run_scenarios  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.system import build  # noqa: E402

PROCESSES = ROOT / "processes"
SOPS = ROOT / "sops"
NURSING = ("community_nursing_referral.bpmn", "community_nursing_triage.dmn")
DATA = {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False}
SUBJECT = "9434765919"
TEAM = "community-nursing-city"
TEAM_ORGANISATION = "leicestershire-partnership-nhs-trust"
ACTIONS = (
    ("acknowledge", {}),
    ("accept", {"window": "Tue 14:00-16:00"}),
    ("start", {}),
    ("complete", {"outcome": "wound dressed"}),
)
ROUTINE = """\
  - name: routine {number}
    start:
      subject: "9434765919"
      data: {{clinical_need: medication, address_postcode: LE1 5WW, housebound: false}}
    steps:
      - {{service: community-nursing-city, action: acknowledge}}
      - {{service: community-nursing-city, action: accept, body: {{window: Tue 14:00-16:00}}}}
      - {{service: community-nursing-city, action: start}}
      - {{service: community-nursing-city, action: complete, body: {{outcome: wound dressed}}}}
"""


def directory() -> Directory:
    services, olas = SOPS / "services.toml", SOPS / "olas.toml"
    return Directory.from_files(services.read_text(), str(services), olas.read_text(), str(olas))


def settings(database_url: str = "sqlite://") -> Settings:
    return Settings(
        database_url=database_url,
        require_pathway_approval=False,
        secret_keys=(new_key(),),
        audit_keys=(new_audit_key(),),
    )


def engine_lifecycles(n: int) -> float:
    """The routine lifecycle through the engine on one store; lifecycles per second."""
    with tempfile.TemporaryDirectory() as scratch:
        system = build(settings(f"sqlite:///{scratch}/bench.db"))
        try:
            system.migrate()
            directory().load_into(system)
            system.definitions.deploy([SourceFile(f, (PROCESSES / f).read_bytes()) for f in NURSING], "bench")
            referrer = system.clients.create(name="bench gp", organisation="bench-gp", roles={"referrer"})[0]
            team = system.clients.create(
                name="bench team", organisation=TEAM_ORGANISATION, roles={"service"}
            )[0]
            started = time.perf_counter()
            for i in range(n):
                referral, _ = system.referrals.start(
                    referrer,
                    pathway="community_nursing_referral",
                    version=None,
                    referrer=f"GP{i}",
                    subject=SUBJECT,
                    data=DATA,
                )
                [handoff] = referral["handoffs"]
                for action, body in ACTIONS:
                    system.handoffs.act(handoff["id"], action, body, team)
            rate = n / (time.perf_counter() - started)
            assert system.referrals.get(referral["id"], referrer)["status"] == "completed"
            return rate
        finally:
            system.close()


def nursing_run(scenarios: str) -> tuple[float, object]:
    files = [SourceFile(f, (PROCESSES / f).read_bytes()) for f in NURSING]
    files.append(SourceFile("community_nursing_referral.scenarios.yaml", scenarios.encode()))
    started = time.perf_counter()
    result = run_scenarios(files, directory(), settings())
    return time.perf_counter() - started, result


def routine_scenarios(n: int) -> tuple[float, float]:
    """(seconds of a run's fixed cost, routine scenarios per second past it)."""
    fixed, _ = nursing_run("scenarios: []\n")
    text = "scenarios:\n" + "".join(ROUTINE.format(number=i) for i in range(n))
    seconds, result = nursing_run(text)
    assert result.passed and len(result.scenarios) == n, [
        s.failures for s in result.scenarios if not s.passed
    ]
    return fixed, n / max(seconds - fixed, 1e-9)


def shipped_scenarios(runs: int) -> tuple[int, float]:
    """(scenarios per run, scenarios per second) for every shipped scenario file, as `signpost test`."""
    files = [
        SourceFile(str(p.relative_to(ROOT)), p.read_bytes())
        for p in sorted(PROCESSES.iterdir())
        if p.suffix in (".bpmn", ".dmn") or is_scenario_file(p.name)
    ]
    count, started = 0, time.perf_counter()
    for _ in range(runs):
        result = run_scenarios(files, directory(), settings())
        assert result.passed and result.fully_covered
        count = len(result.scenarios)
    return count, count * runs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=50, help="engine lifecycles, and routine scenarios in one run"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of every shipped scenario")
    args = parser.parse_args()

    engine_lifecycles(3)  # warm-up: the sandbox's processes start, the spec is parsed once
    engine = engine_lifecycles(args.n)
    report("engine, directly (routine lifecycle, one store)", engine, "lifecycles")
    fixed, routine = routine_scenarios(args.n)
    print(f"{'a run: template store, directory, deployment (fixed cost):':<63}{fixed:8.2f} s", flush=True)
    report("routine scenario through the runner (past the fixed cost)", routine, "scenarios")
    count, shipped = shipped_scenarios(args.runs)
    report(f"every shipped scenario ({count} per run, {args.runs} runs)", shipped, "scenarios")
    print(f"{'seconds per run of every shipped scenario:':<63}{count / shipped:8.2f} s")
    print(f"ratio_routine_scenario={routine / engine:.3f}")
    print(f"ratio={shipped / engine:.3f}")


def report(what: str, rate: float, unit: str) -> None:
    print(f"{what + ':':<63}{rate:8.1f} {unit}/s", flush=True)


if __name__ == "__main__":
    main()
