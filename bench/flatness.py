"""Flat with size: the routed lifecycle through the API in a database already holding 100,000 open referrals,
against the same lifecycle in one holding 1,000, measured in the same run.

Each database is loaded as ``bench/console.py`` loads its own (template referrals run through the engine at
every stage of the hand-off, copied with new ids and times; half as many completed ones again as history;
a fifth at another point of access), then the community nursing referral of ``bench/lifecycle.py`` is
driven to its completion through the API — ``POST /referrals``, then acknowledge, accept, start and complete
by the locality team's system — with Flask's test client: authentication, the audit trail, schemas and
every statement, without a socket. Rounds alternate between the two databases so that a change in the
machine's load falls on both.

Usage: python bench/flatness.py [--n N] [--rounds R] [--per-round K] [--database-url URL]
On PostgreSQL when ``--database-url`` (or SIGNPOST_DATABASE_URL) names a PostgreSQL server (scratch databases
are created on it and dropped afterwards), else on SQLite in a temporary directory. Prints each database's
lifecycles per second and, last, ``ratio=<the lifecycle's time at N open referrals / at 1,000>`` (issue 16:
at most 1.2).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa
import time_machine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.console import LPT, NOW, SEED, Seeded, seeded_database  # noqa: E402 - the path must be set first
from bench.lifecycle import ACTION_BODIES, PROCESS_ID, REFERRAL_DATA, ROUTED, SUBJECT  # noqa: E402
from engine.store import tables  # noqa: E402

SMALL = 1_000
WARM_UP = 5


class Driven:
    """A loaded database and the two API clients of the lifecycle."""

    def __init__(self, seeded: Seeded):
        self.seeded = seeded
        clients = seeded.system.clients
        referrer = clients.create(name="bench gp", organisation="city-gp-practice", roles={"referrer"})[1]
        team = clients.create(name="bench team", organisation=LPT, roles={"service"})[1]
        self.referrer = {"Authorization": f"Bearer {referrer}"}
        self.team = {"Authorization": f"Bearer {team}"}
        self.done = 0

    def lifecycle(self) -> None:
        http = self.seeded.http
        body = {"pathway": PROCESS_ID, "referrer": "C81001", "subject": SUBJECT, "data": REFERRAL_DATA}
        started = http.post("/api/v1/referrals", json=body, headers=self.referrer)
        assert started.status_code == 201, started.get_data(as_text=True)
        [handoff] = started.get_json()["handoffs"]
        for action in ROUTED:
            answer = http.post(
                f"/api/v1/handoffs/{handoff['id']}/{action}", json=ACTION_BODIES[action], headers=self.team
            )
            assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.get_json()["status"] == "completed"
        self.done += 1

    def open_referrals(self) -> int:
        referrals, instances = tables.referrals, tables.instances
        with self.seeded.system.database.read() as conn:
            query = (
                sa.select(sa.func.count())
                .select_from(referrals.join(instances, instances.c.id == referrals.c.instance_id))
                .where(instances.c.status.not_in(("completed", "cancelled")))
            )
            return conn.execute(query).scalar_one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="open referrals in the larger database")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--per-round", type=int, default=10, help="lifecycles per database per round")
    parser.add_argument("--database-url", default=os.environ.get("SIGNPOST_DATABASE_URL"))
    args = parser.parse_args()
    server = args.database_url if args.database_url and args.database_url.startswith("postgresql") else None
    backend = "PostgreSQL" if server else "SQLite"
    rng = random.Random(SEED)
    with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        driven = {}
        for size in (SMALL, args.n):
            began = time.perf_counter()
            seeded = seeded_database(stack, server, folder, f"flatness_{size}", 0, rng, open_referrals=size)
            driven[size] = Driven(seeded)
            print(
                f"{driven[size].open_referrals():>8,} open referrals ({seeded.open_clocks:,} open clocks) on "
                f"{backend}: loaded in {time.perf_counter() - began:.1f} s",
                flush=True,
            )
        seconds: dict[int, list[float]] = {size: [] for size in driven}
        with time_machine.travel(NOW, tick=True):
            for one in driven.values():
                for _ in range(WARM_UP):
                    one.lifecycle()
            for _ in range(args.rounds):
                for size, one in driven.items():
                    began = time.perf_counter()
                    for _ in range(args.per_round):
                        one.lifecycle()
                    seconds[size].append((time.perf_counter() - began) / args.per_round)
    per_lifecycle = {size: statistics.median(times) for size, times in seconds.items()}
    for size, median in per_lifecycle.items():
        print(
            f"routed lifecycle through the API with {size:>7,} open referrals: "
            f"{1 / median:6.1f} lifecycles/s ({median * 1000:.1f} ms; median of {args.rounds} rounds of "
            f"{args.per_round})"
        )
    print(f"ratio={per_lifecycle[args.n] / per_lifecycle[SMALL]:.3f}")


if __name__ == "__main__":
    main()
