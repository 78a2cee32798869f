"""``signpost simulate``: replay demand against a pathway version in virtual time and predict OLA compliance.

    signpost simulate --pathway community_nursing_referral --demand demand.yaml --services services.yaml \\
        --days 28 --runs 5 --target accept-or-reject=PT2H --report report.html
    signpost simulate --pathway community_nursing_referral@3 --pathway community_nursing_referral@4 \\
        --fit-from 2026-01-05 --fit-to 2026-02-02 --report compare.html
    signpost simulate generate-history --profile docs/simulation-profile.yaml --start 2026-01-05 --days 28
    signpost simulate backtest --fit-from 2026-01-05 --fit-to 2026-01-26 --predict-to 2026-02-02

The pathways, service directory and OLA terms are read from the configured database; nothing is written to it
except by ``generate-history``. One ``--pathway`` with what-if options runs two arms, "as is" and "what if"
(``--no-baseline`` runs only the latter); two ``--pathway`` run side by side. Progress goes to standard error;
Ctrl-C stops at the next simulated hour (twice: at once). Exit status 0 when done, 1 when the input is refused
(the message says why), 130 when cancelled.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from engine import clock
from engine.bpmn import SourceFile
from engine.errors import InvalidInput
from engine.simulation import report
from engine.simulation.fit import fit
from engine.simulation.history import backtest, generate_history
from engine.simulation.profiles import Behaviour, behaviour_from, demand_from, read_document
from engine.simulation.runner import Arm, Plan, Progress, simulate
from engine.simulation.whatifs import WhatIf, read_what_if
from engine.simulation.worker import SimulationWorker

CANCELLED = 130


def add_simulate_command(commands) -> None:
    sim = commands.add_parser(
        "simulate",
        help="predict OLA compliance, queues and waits for a pathway version against a demand profile, in "
        "virtual time on the real engine (generate-history, backtest: see --help)",
        description=__doc__.split("\n\n")[0],
    )
    sim.add_argument("--pathway", action="append", metavar="KEY[@VERSION]", help="once, or twice to compare")
    sim.add_argument("--demand", type=Path, help="arrivals by hour of week (YAML, TOML or JSON)")
    sim.add_argument("--services", type=Path, help="service behaviour (default: fitted, else defaults)")
    sim.add_argument(
        "--samples", type=Path, action="append", default=[], help="a scenario file of sample data"
    )
    sim.add_argument("--fit-from", type=_instant, help="fit demand and behaviour from history since then")
    sim.add_argument("--fit-to", type=_instant, help="… until then")
    sim.add_argument(
        "--start", type=_instant, help="first instant reported (default: --fit-to, else next Monday)"
    )
    sim.add_argument("--days", type=float, default=7.0)
    sim.add_argument(
        "--warm-up", type=float, default=2.0, metavar="DAYS", help="simulated first, not reported"
    )
    sim.add_argument("--runs", type=int, default=3, help="repeats with seeds SEED, SEED+1, … (default 3)")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--demand-scale", type=float, default=1.0, help="what if: arrivals x this")
    sim.add_argument("--close", action="append", default=[], metavar="SERVICE@DATE", help="what if: closed")
    sim.add_argument("--target", action="append", default=[], metavar="[OLA:]OBLIGATION=PT2H")
    sim.add_argument("--capacity", action="append", default=[], metavar="SERVICE=N|+N")
    sim.add_argument("--no-baseline", action="store_true", help="with what-ifs: skip the 'as is' arm")
    sim.add_argument("--report", type=Path, help="write the HTML report here")
    sim.add_argument("--json", type=Path, help="write the figures as JSON here ('-': standard output)")
    sim.add_argument("--csv", type=Path, help="write compliance as CSV here ('-': standard output)")
    sim.add_argument("--save-profile", type=Path, help="write the demand and behaviour used (YAML or JSON)")
    sim.set_defaults(command=run_simulate)
    actions = sim.add_subparsers(metavar="ACTION")

    history = actions.add_parser("generate-history", help="play a known profile into the configured database")
    history.add_argument("--profile", type=Path, default=Path("docs/simulation-profile.yaml"))
    history.add_argument("--start", type=_instant, required=True)
    history.add_argument("--days", type=float, default=28.0)
    history.add_argument("--seed", type=int, default=1)
    history.add_argument("--scale", type=float, default=1.0, help="arrivals x this")
    history.set_defaults(command=run_generate_history)

    test = actions.add_parser("backtest", help="fit on one period, predict the next, compare with history")
    test.add_argument("--fit-from", type=_instant, required=True)
    test.add_argument("--fit-to", type=_instant, required=True)
    test.add_argument("--predict-to", type=_instant, required=True)
    test.add_argument("--runs", type=int, default=3)
    test.add_argument("--seed", type=int, default=1)
    test.set_defaults(command=run_backtest)

    work = actions.add_parser(
        "work", help="run the simulations queued through the API, one at a time, until stopped (SIGTERM)"
    )
    work.set_defaults(command=run_simulation_worker)


def run_simulation_worker(signpost, _args) -> int:
    stopping = threading.Event()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: stopping.set())
    worker = SimulationWorker(signpost)
    worker.start()
    print(
        f"Signpost simulation worker {worker.name}: running the simulations queued through the API",
        flush=True,
    )
    stopping.wait()
    # A simulation in progress stops at its next simulated hour and goes back to the queue.
    worker.stop()
    return 0


def run_simulate(signpost, args) -> int:
    if not args.pathway:
        raise InvalidInput(
            "name the pathway to simulate: --pathway KEY[@VERSION] (twice to compare versions)"
        )
    if len(args.pathway) > 2:
        raise InvalidInput("give --pathway once, or twice to compare two versions side by side")
    pathways = [_pathway(text) for text in args.pathway]
    keys = [key for key, _ in pathways]
    demand, behaviour, history = _inputs(signpost, args, keys)
    start = args.start or args.fit_to or _next_monday()
    plan = Plan(
        arms=_arms(pathways, args),
        start=start,
        days=args.days,
        demand=demand,
        behaviour=behaviour,
        runs=args.runs,
        seed=args.seed,
        warm_up_days=args.warm_up,
        samples=tuple(SourceFile(str(p), _read(p).encode()) for p in args.samples),
        history=tuple(history),
    )
    if args.save_profile:
        _save_profile(args.save_profile, plan)
    with _ctrl_c() as stopping:
        result = simulate(signpost, plan, progress=_Terminal().show, cancelled=stopping.is_set)
    print(file=sys.stderr)
    if result.cancelled:
        print("simulation cancelled: nothing written", file=sys.stderr)
        return CANCELLED
    summary = report.as_dict(result)
    _print_summary(summary)
    if args.report:
        title = "Pathway simulation: " + ", ".join(text for text in args.pathway)
        args.report.write_text(report.as_html(summary, title))
        print(f"report written to {args.report}")
    if args.json:
        _write(args.json, json.dumps(summary, indent=2))
    if args.csv:
        _write(args.csv, report.as_csv(summary))
    return 0


def _inputs(signpost, args, keys: list[str]):
    behaviour, history = Behaviour(), []
    if (args.fit_from is None) != (args.fit_to is None):
        raise InvalidInput("give both --fit-from and --fit-to, or neither")
    if args.demand is None and args.fit_from is None:
        raise InvalidInput(
            "give the demand: --demand FILE, or --fit-from and --fit-to to fit it from history"
        )
    if args.fit_from is not None:
        fitted = fit(signpost, args.fit_from, args.fit_to, keys)
        demand, behaviour, history = fitted.demand, fitted.behaviour, fitted.history
    if args.demand is not None:
        demand = demand_from(read_document(_read(args.demand), str(args.demand)), str(args.demand))
    if args.services is not None:
        behaviour = behaviour_from(
            read_document(_read(args.services), str(args.services)), str(args.services)
        )
    return demand, behaviour, history


def _arms(pathways: list[tuple[str, int | None]], args) -> tuple[Arm, ...]:
    what_if = read_what_if(
        "what if",
        demand_scale=args.demand_scale,
        close=args.close,
        target=args.target,
        capacity=args.capacity,
    )
    if len(pathways) == 2:
        return tuple(Arm(_label(key, number), ((key, number),), what_if) for key, number in pathways)
    (key, number) = pathways[0]
    if not what_if.changes_anything:
        return (Arm(_label(key, number), ((key, number),)),)
    if args.no_baseline:
        return (Arm("what if", ((key, number),), what_if),)
    return (Arm("as is", ((key, number),), WhatIf()), Arm("what if", ((key, number),), what_if))


def _label(key: str, number: int | None) -> str:
    return f"{key} v{number}" if number is not None else f"{key} (latest)"


def run_generate_history(signpost, args) -> int:
    document = read_document(_read(args.profile), str(args.profile))
    demand = demand_from(document, str(args.profile))
    if args.scale <= 0:
        raise InvalidInput("--scale must be positive")
    terminal = _Terminal(days=args.days)
    outcome = generate_history(
        signpost,
        start=args.start,
        days=args.days,
        demand=demand.scaled(args.scale),
        behaviour=behaviour_from(document, str(args.profile)),
        seed=args.seed,
        on_hour=terminal.hour,
    )
    print(file=sys.stderr)
    print(f"{outcome.referrals} referrals written from {args.start.isoformat()} over {args.days:g} days")
    for note, count in outcome.notes.most_common(10):
        print(f"  {count}x {note}")
    return 0


def run_backtest(signpost, args) -> int:
    with _ctrl_c():
        tested = backtest(
            signpost,
            fit_from=args.fit_from,
            fit_to=args.fit_to,
            predict_to=args.predict_to,
            runs=args.runs,
            seed=args.seed,
            progress=_Terminal().show,
        )
    print(file=sys.stderr)
    print("\n".join(tested.lines()))
    return 0


class _Terminal:
    """Progress on standard error, at most twice a second."""

    def __init__(self, days: float | None = None):
        self._shown = 0.0
        self._days = days
        self._began = time.monotonic()

    def show(self, progress: Progress) -> None:
        if time.monotonic() - self._shown >= 0.5:
            self._shown = time.monotonic()
            print(f"\r{progress.line()}\033[K", end="", file=sys.stderr, flush=True)

    def hour(self, hours: int, referrals: int) -> None:
        if time.monotonic() - self._shown >= 0.5:
            self._shown = time.monotonic()
            rate = referrals / max(1e-9, self._shown - self._began)
            print(
                f"\rday {hours / 24:.1f} of {self._days:g}: {referrals} referrals, {rate:.1f}/s\033[K",
                end="",
                file=sys.stderr,
                flush=True,
            )


class _ctrl_c:
    """The first Ctrl-C asks the run to stop at the next simulated hour; a second one interrupts at once."""

    def __init__(self):
        self._event = threading.Event()
        self._previous = None

    def is_set(self) -> bool:
        return self._event.is_set()

    def _handle(self, signum, frame):
        if self._event.is_set():
            raise KeyboardInterrupt
        self._event.set()
        print("\nstopping at the next simulated hour (Ctrl-C again to stop at once)", file=sys.stderr)

    def __enter__(self):
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *_exc):
        signal.signal(signal.SIGINT, self._previous)
        return False


def _print_summary(summary: dict) -> None:
    print(
        f"{summary['referrals']:,} referrals simulated in {summary['seconds']:g} s "
        f"({summary['referrals_per_second']} referrals/s); "
        f"period {summary['start'][:16]} to {summary['end'][:16]}"
    )
    for arm in summary["arms"]:
        print(f"{arm['label']}: {'; '.join(arm['what_if']) or 'no change'}")
        for row in arm["compliance"]["service"]:
            interval = (
                f" (95% CI {row['percent_met_low']:g}-{row['percent_met_high']:g})"
                if row["percent_met_low"] is not None
                else ""
            )
            print(
                f"  {' / '.join(row['group']):<42} {row['percent_met']:>5g}% met{interval}, "
                f"{row['met']:g} met, {row['breached']:g} breached a run"
            )


def _pathway(text: str) -> tuple[str, int | None]:
    key, at, number = text.partition("@")
    if not key:
        raise InvalidInput(f"--pathway {text!r}: write KEY or KEY@VERSION")
    if not at:
        return key, None
    if not number.isdigit() or int(number) < 1:
        raise InvalidInput(f"--pathway {text!r}: the version is a number from 1")
    return key, int(number)


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or an ISO 8601 instant") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _next_monday() -> datetime:
    today = clock.now().date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise InvalidInput(f"{path}: {error.strerror or error}") from None


def _write(path: Path, text: str) -> None:
    if str(path) == "-":
        print(text)
    else:
        path.write_text(text)
        print(f"written to {path}")


def _save_profile(path: Path, plan: Plan) -> None:
    document = {"arrivals": plan.demand.describe(), **plan.behaviour.describe()}
    if path.suffix == ".json":
        path.write_text(json.dumps(document, indent=2))
    else:
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    print(f"profile written to {path}")
