"""How the operator's worklist (``GET /api/v1/tasks``: open tasks soonest due first, a keyset page at a
time) grows with the number of open tasks: 1,000 against ``--n`` (10,000 by default).

Each database gets the same small pathway (a user task with ``camunda:dueDate`` and ``camunda:priority``),
deployed as an operator would; 100 template referrals run through the engine so that every row has its real
shape; then their instance, referral and user-task rows are copied with new ids and creation times spread
over a day (SQLAlchemy Core bulk ``insert()``), up to the size measured. The queries read nothing else.

Measured through the engine's own call (``Referrals.task_page``, what the API view calls), medians of runs
timed with ``time.perf_counter``, in rounds alternating between the two databases:

  (a) the first page of 50;
  (b) the page after 20 pages of 50 (its cursor taken from the page before, as the Link header gives it);
  (c) the first page of the tasks due soon or overdue (``at_risk``).

Usage: python bench/worklist.py [--n N] [--database-url URL]
On PostgreSQL when ``--database-url`` (or SIGNPOST_DATABASE_URL) names a PostgreSQL server (scratch
databases are created on it and dropped afterwards), else on SQLite in a temporary directory. Prints the
figures and, as its last line, ratio=<time of (a) at N / time of (a) at 1,000>.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
import time_machine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.bpmn import SourceFile
from engine.settings import Settings
from engine.store.tables import instances, referrals, user_tasks
from engine.system import build

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TEMPLATES = 100
PAGE = 50
ROUNDS = 15
PATHWAY = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://signpost.invalid/bench">
  <bpmn:process id="worklist_bench" name="Worklist bench" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review" camunda:dueDate="PT4H" camunda:priority="${priority}">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def scratch_url(server: str | None, name: str, folder: str) -> tuple[str, object]:
    if server is None:
        return f"sqlite:///{folder}/{name}.db", None
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    return sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False), admin


def filled(url: str, size: int):
    """A Signpost system on ``url`` with ``size`` open worklist tasks, and an operator who sees them all."""
    system = build(Settings(database_url=url, require_pathway_approval=False))
    system.migrate()
    system.definitions.deploy([SourceFile("worklist_bench.bpmn", PATHWAY.encode())], "bench")
    referrer = system.clients.create(name="gp", organisation="bench-practice", roles={"referrer"})[0]
    operator = system.clients.create(name="operator", organisation="bench-practice", roles={"operator"})[0]
    for number in range(TEMPLATES):
        with time_machine.travel(START + timedelta(minutes=number), tick=False):
            system.referrals.start(
                referrer,
                pathway="worklist_bench",
                version=None,
                referrer="B00001",
                subject=None,
                data={"priority": ("urgent", "routine", "soon")[number % 3]},
            )
    with system.database.read() as conn:
        rows = {
            table.name: {row["instance_id" if table is not instances else "id"]: dict(row) for row in rows}
            for table in (instances, referrals, user_tasks)
            for rows in [conn.execute(sa.select(table)).mappings().all()]
        }
    templates = [
        (instance, rows["referrals"][instance_id], rows["user_tasks"][instance_id])
        for instance_id, instance in rows["instances"].items()
    ]
    copies = size - TEMPLATES
    batch: list[tuple[dict, dict, dict]] = []
    for number in range(copies):
        instance, referral, task = templates[number % len(templates)]
        shift = timedelta(seconds=(number * 86_400) // max(copies, 1))
        instance_id, referral_id = str(uuid.uuid4()), str(uuid.uuid4())
        batch.append(
            (
                {**instance, "id": instance_id},
                {**referral, "id": referral_id, "instance_id": instance_id, "reference": f"B{number:09d}"},
                {
                    **task,
                    "id": str(uuid.uuid4()),
                    "instance_id": instance_id,
                    "created_at": task["created_at"] + shift,
                    "due_at": task["due_at"] + shift,
                    "at_risk_from": task["at_risk_from"] + shift,
                },
            )
        )
        if len(batch) == 1000 or number == copies - 1:
            with system.database.write() as conn:
                conn.execute(instances.insert(), [b[0] for b in batch])
                conn.execute(referrals.insert(), [b[1] for b in batch])
                conn.execute(user_tasks.insert(), [b[2] for b in batch])
            batch = []
    return system, operator


def timed(call) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def measure(system, operator) -> dict[str, float]:
    referrals_api = system.referrals
    # Four hours in: the tasks made in the first hour are in the last quarter of their four hours.
    at = START + timedelta(hours=4)
    with time_machine.travel(at, tick=False):
        cursor = None
        for _ in range(20):
            _, cursor = referrals_api.task_page(operator, limit=PAGE, after=cursor)
        return {
            "(a) first page": timed(lambda: referrals_api.task_page(operator, limit=PAGE)),
            "(b) 21st page": timed(lambda: referrals_api.task_page(operator, limit=PAGE, after=cursor)),
            "(c) at risk": timed(lambda: referrals_api.task_page(operator, limit=PAGE, at_risk=True)),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--database-url", default=os.environ.get("SIGNPOST_DATABASE_URL"))
    args = parser.parse_args()
    server = args.database_url if args.database_url and args.database_url.startswith("postgresql") else None
    with tempfile.TemporaryDirectory() as folder:
        systems, admins = {}, []
        for size in (1_000, args.n):
            url, admin = scratch_url(server, f"signpost_bench_worklist_{size}", folder)
            if admin is not None:
                admins.append((admin, f"signpost_bench_worklist_{size}"))
            began = time.perf_counter()
            systems[size] = filled(url, size)
            print(f"{size:>7,} open tasks loaded in {time.perf_counter() - began:.1f} s")
        runs: dict[int, dict[str, list[float]]] = {size: {} for size in systems}
        for _ in range(ROUNDS):
            for size, (system, operator) in systems.items():
                for name, seconds in measure(system, operator).items():
                    runs[size].setdefault(name, []).append(seconds)
        print(f"\nmedians of {ROUNDS} runs on {'PostgreSQL' if server else 'SQLite'} (ms):")
        print(f"{'':16}{'1,000':>10}{f'{args.n:,}':>10}{'ratio':>8}")
        for name in runs[1_000]:
            small = statistics.median(runs[1_000][name])
            large = statistics.median(runs[args.n][name])
            print(f"{name:16}{small * 1000:>10.2f}{large * 1000:>10.2f}{large / small:>8.2f}")
        for system, _ in systems.values():
            system.close()
        for admin, name in admins:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    small = statistics.median(runs[1_000]["(a) first page"])
    large = statistics.median(runs[args.n]["(a) first page"])
    print(f"ratio={large / small:.2f}")


if __name__ == "__main__":
    main()
