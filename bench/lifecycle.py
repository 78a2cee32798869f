"""Full lifecycles of the community nursing pathway: raw SpiffWorkflow in memory vs Signpost's engine + store.

Both run the same BPMN and DMN: start a referral (register, triage, allocate, wait for acceptance), deliver
``handoff.accepted``, deliver ``handoff.completed`` (completion letter, end). The raw baseline parses once
and serializes/deserializes the whole workflow (spec included, as SpiffWorkflow does) at each wait; Signpost
does what its API does: one transaction per input, state saved and loaded from the database.

Usage: python bench/lifecycle.py [--n N] [--database-url URL]
Prints both rates and, as its last line, ratio=<signpost rate / raw rate>.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn import BpmnEvent  # noqa: E402 - the path must be set first
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: E402
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition  # noqa: E402

from engine.bpmn import SourceFile  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.store.db import scratch_postgres_database  # noqa: E402
from engine.system import build  # noqa: E402

PROCESSES = ROOT / "processes"
FILES = ("community_nursing_referral.bpmn", "community_nursing_triage.dmn")
PROCESS_ID = "community_nursing_referral"
REFERRAL_DATA = {"clinical_need": "wound_care", "address_postcode": "LE1 5WW", "housebound": True}
ACCEPTED = {"visit_window": "Tue 14:00-16:00"}
COMPLETED = {"visit_outcome": "wound dressed"}


def raw_lifecycles(n: int) -> float:
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(PROCESSES / FILES[0]))
    parser.add_dmn_file(str(PROCESSES / FILES[1]))
    spec = parser.get_spec(PROCESS_ID)
    subprocess_specs = parser.get_subprocess_specs(PROCESS_ID)
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    started = time.perf_counter()
    for i in range(n):
        workflow = BpmnWorkflow(spec, subprocess_specs)
        workflow.task_tree.data.update(REFERRAL_DATA, referrer=f"GP{i}", subject_nhs_number="9434765919")
        workflow.do_engine_steps()
        for name, payload in (("handoff.accepted", ACCEPTED), ("handoff.completed", COMPLETED)):
            stored = serializer.serialize_json(workflow)
            workflow = serializer.deserialize_json(stored)
            workflow.send_event(BpmnEvent(MessageEventDefinition(name), payload))
            workflow.do_engine_steps()
        serializer.serialize_json(workflow)
        assert workflow.completed, "the raw lifecycle did not complete"
    return n / (time.perf_counter() - started)


def signpost_lifecycles(n: int, database_url: str) -> float:
    system = build(Settings(database_url=database_url))
    system.migrate()
    system.definitions.deploy([SourceFile(f, (PROCESSES / f).read_bytes()) for f in FILES], "bench")
    referrer = system.clients.create(name="bench gp", organisation="bench-gp", roles={"referrer"})[0]
    service = system.clients.create(name="bench service", organisation="bench-nursing", roles={"service"})[0]
    started = time.perf_counter()
    for i in range(n):
        referral, _ = system.referrals.start(
            referrer,
            pathway=PROCESS_ID,
            version=None,
            referrer=f"GP{i}",
            subject="9434765919",
            data=REFERRAL_DATA,
        )
        correlation = {"referral_id": referral["id"]}
        system.referrals.deliver_message("handoff.accepted", correlation, ACCEPTED, service)
        [done] = system.referrals.deliver_message("handoff.completed", correlation, COMPLETED, service)
        assert done["status"] == "completed", "the Signpost lifecycle did not complete"
    rate = n / (time.perf_counter() - started)
    system.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="lifecycles per contender")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SIGNPOST_DATABASE_URL"),
        help="also run Signpost on this database (e.g. PostgreSQL); SQLite always runs",
    )
    args = parser.parse_args()

    raw_lifecycles(min(20, args.n))  # warm-up: imports, caches
    raw = raw_lifecycles(args.n)
    print(f"raw SpiffWorkflow (in memory, spec serialized with each save): {raw:8.1f} lifecycles/s")
    with tempfile.TemporaryDirectory() as scratch:
        sqlite = signpost_lifecycles(args.n, f"sqlite:///{scratch}/bench.db")
    print(f"Signpost engine + store on SQLite:                             {sqlite:8.1f} lifecycles/s")
    if args.database_url and not args.database_url.startswith("sqlite"):
        with scratch_postgres_database(args.database_url, "signpost_bench") as url:
            postgres = signpost_lifecycles(args.n, url)
        print(f"Signpost engine + store on PostgreSQL:                         {postgres:8.1f} lifecycles/s")
        print(f"ratio_postgresql={postgres / raw:.2f}")
    print(f"ratio={sqlite / raw:.2f}")


if __name__ == "__main__":
    main()
