"""Pathway simulation speed: simulated referrals per second against the in-process engine's lifecycle rate.

Both run the same community nursing BPMN and DMN on SQLite in this process:

- the baseline is bench/lifecycle.py's in-process "routed lifecycle" (start a referral, then the service
  acknowledges, accepts, starts and completes its hand-off: five transactions), measured here, in this run;
- the simulation (engine/simulation/) plays the seeds' demand with tenfold headroom — ``--peak`` referrals
  an hour (default 100) at a weekday's busiest hour, shaped over the day as contact centres see it
  (WEEKDAY_SHAPE) — for ``--days`` simulated days from a Monday, against the shipped service directory and OLA
  terms, with the locality teams staffed to keep up (docs/simulation-profile.yaml's behaviour, capacities
  scaled with the demand). Everything the real engine does for those referrals is in the time: the triage
  DMN, routing, every hand-off action, every OLA clock's warnings and breaches, the escalation timers, the
  operators' tasks — plus the simulation's own work (SimPy, reading what changed after each step).

A referral's simulated life costs more engine transactions than the baseline's lifecycle (OLA warnings and
the operators' tasks are transactions too), so the ratio says what a simulated referral costs in lifecycles.

Usage: python bench/simulation.py [--days D] [--peak P] [--n N]
Prints both rates, what a month at ``--peak`` would take at the measured rate and, as its last line,
ratio=<simulated referrals per second / in-process lifecycles per second>.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from lifecycle import ROUTED, signpost_lifecycles  # noqa: E402 - the path must be set first

from engine.bpmn import SourceFile  # noqa: E402
from engine.governance.audit_keys import new_audit_key  # noqa: E402
from engine.notifications.secrets_at_rest import new_key  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.simulation.profiles import Behaviour, behaviour_from, demand_from, read_document  # noqa: E402
from engine.simulation.runner import Arm, Plan, simulate  # noqa: E402
from engine.system import build  # noqa: E402

PATHWAY = "community_nursing_referral"
FILES = ("community_nursing_referral.bpmn", "community_nursing_triage.dmn", f"{PATHWAY}.scenarios.yaml")
PROFILE = ROOT / "docs" / "simulation-profile.yaml"
START = datetime(2026, 2, 2, tzinfo=UTC)  # a Monday
DAYS_IN_MONTH = 30


# A weekday's referrals by hour as a share of the peak hour (mid-morning), as contact centres see them; at
# weekends the daytime runs at a tenth of the peak, and nights at a fiftieth.
WEEKDAY_SHAPE = {8: 0.3, 9: 0.7, 10: 1.0, 11: 0.8, 12: 0.5, 13: 0.5, 14: 0.6, 15: 0.5, 16: 0.4, 17: 0.3}


def demand(peak: float) -> dict:
    per_hour = {"every day": peak / 50, "Sat-Sun 09:00-17:00": peak / 10}
    per_hour.update({f"Mon-Fri {h:02d}:00-{h + 1:02d}": peak * share for h, share in WEEKDAY_SHAPE.items()})
    stream = {"pathway": PATHWAY, "point_of_access": "community-health-spa", "per_hour": per_hour}
    return {"arrivals": [stream]}


def staffed(peak: float) -> Behaviour:
    """The profile's behaviour, each team's capacity grown with the demand (the profile's is for 5/hour)."""
    given = behaviour_from(read_document(PROFILE.read_text(), str(PROFILE)), str(PROFILE))
    factor = max(1.0, peak / 5)
    return Behaviour(
        {
            sid: replace(b, capacity=max(1, round(b.capacity * factor))) if isinstance(b.capacity, int) else b
            for sid, b in given.services.items()
        },
        given.tasks,
        given.external_tasks,
    )


def simulated_rate(days: float, peak: float) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        source = build(
            Settings(
                database_url=f"sqlite:///{folder}/source.db",
                require_pathway_approval=False,
                secret_keys=(new_key(),),
                audit_keys=(new_audit_key(),),
            )
        )
        try:
            source.migrate()
            directory = (ROOT / "sops/services.toml").read_text()
            source.services.load_directory(directory, "services.toml", "bench")
            source.olas.load_terms((ROOT / "sops/olas.toml").read_text(), "olas.toml", "bench")
            source.definitions.deploy(
                [SourceFile(name, (ROOT / "processes" / name).read_bytes()) for name in FILES], "bench"
            )
            plan = Plan(
                arms=(Arm("as is", ((PATHWAY, None),)),),
                start=START,
                days=days,
                demand=demand_from(demand(peak), "bench"),
                behaviour=staffed(peak),
                runs=1,
                warm_up_days=0,
            )
            started = time.perf_counter()
            result = simulate(source, plan)
            seconds = time.perf_counter() - started
        finally:
            source.close()
    return result.referrals / seconds, result.referrals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=1.0, help="simulated days (default 1)")
    parser.add_argument("--peak", type=float, default=100.0, help="referrals an hour at the weekday peak")
    parser.add_argument("--n", type=int, default=100, help="baseline lifecycles")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        signpost_lifecycles(min(20, args.n), f"sqlite:///{folder}/warm.db", ROUTED)  # imports, caches
        baseline = signpost_lifecycles(args.n, f"sqlite:///{folder}/baseline.db", ROUTED)
    print(f"{'in-process engine, routed lifecycle (SQLite):':<58}{baseline:8.1f} lifecycles/s", flush=True)
    rate, referrals = simulated_rate(args.days, args.peak)
    print(f"{'simulation (SQLite scratch store):':<58}{rate:8.1f} referrals/s ({referrals} referrals)")
    month = demand_from(demand(args.peak), "bench").per_week() * DAYS_IN_MONTH / 7
    print(
        f"a month at {args.peak:g} referrals an hour at peak: {month:,.0f} referrals, "
        f"{month / rate / 60:.1f} minutes at this rate"
    )
    print(f"ratio={rate / baseline:.3f}")


if __name__ == "__main__":
    main()
