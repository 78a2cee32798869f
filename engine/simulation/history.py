"""A generated history, and the back-test that says how far to trust a prediction.

``generate_history`` plays a known demand against known service behaviour for some weeks, on the real
engine and into a real database (not a scratch store): the referrals, hand-offs, transitions and OLA clocks it
leaves are what those weeks would have left, for tests, demonstrations and the back-test. Its clients are
made in that database (organisation ``simulated-referrers`` and those of the services).

``backtest`` fits demand and behaviour on one period of a database's history, simulates the period after it,
and sets the predicted compliance per service beside what the history actually recorded for that period.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine import clock
from engine.bpmn import SourceFile
from engine.errors import InvalidInput
from engine.pathways.scenario_files import SCENARIO_SUFFIXES
from engine.simulation.fit import fit
from engine.simulation.profiles import Behaviour, Demand
from engine.simulation.runner import Arm, Plan, Progress, simulate
from engine.simulation.samples import Samples
from engine.simulation.whatifs import WhatIf
from engine.simulation.world import Outcome, Setup, World
from engine.system import Signpost


def generate_history(
    target: Signpost,
    *,
    start: datetime,
    days: float,
    demand: Demand,
    behaviour: Behaviour,
    seed: int = 1,
    on_hour=None,
) -> Outcome:
    """Play ``demand`` against ``behaviour`` from ``start`` for ``days`` into ``target``'s database, on the
    latest version of each pathway the demand names (deployed there, with the directory and OLA terms)."""
    if start.utcoffset() is None or not 0 < days <= 92:
        raise InvalidInput("a history starts at an instant with a UTC offset and lasts 1 to 92 days")
    samples = Samples()
    for pathway in sorted({s.pathway for s in demand.streams}):
        version = target.definitions.version(pathway, None, with_files=True)  # NotFound if not deployed
        # Refused now rather than every referral refused later: a draft awaiting clinical approval (Conflict).
        target.definitions.startable(
            pathway, None, approval_required=target.settings.require_pathway_approval
        )
        for stored in version["files"]:
            if stored["filename"].endswith(SCENARIO_SUFFIXES):
                samples.add_scenario_file(SourceFile(stored["filename"], stored["content"].encode()))

    def play() -> Outcome:
        virtual = clock.VirtualClock(start)
        with clock.running_on(virtual):
            world = World(
                Setup(
                    signpost=target,
                    clock=virtual,
                    origin=start,
                    end=start + timedelta(days=days),
                    versions={},
                    demand=demand,
                    behaviour=behaviour,
                    samples=samples,
                    what_if=WhatIf(),
                    seed=seed,
                    on_hour=on_hour,
                )
            )
            return world.run()

    return contextvars.Context().run(play)


@dataclass(frozen=True)
class BacktestRow:
    service: str
    predicted_percent_met: float | None
    predicted_low: float | None
    predicted_high: float | None
    actual_percent_met: float | None
    actual_clocks: int

    @property
    def error(self) -> float | None:
        if self.predicted_percent_met is None or self.actual_percent_met is None:
            return None
        return round(self.predicted_percent_met - self.actual_percent_met, 1)


@dataclass(frozen=True)
class Backtest:
    rows: list[BacktestRow]
    fitted: object  # the Fitted profile

    @property
    def mean_absolute_error(self) -> float | None:
        errors = [abs(r.error) for r in self.rows if r.error is not None]
        return round(sum(errors) / len(errors), 1) if errors else None

    def lines(self) -> list[str]:
        said = [f"{'service':<40} {'predicted % met (95% CI)':>26} {'actual % met':>13} {'error':>7}"]
        for row in self.rows:
            interval = (
                f" ({row.predicted_low:g}-{row.predicted_high:g})" if row.predicted_low is not None else ""
            )
            predicted = (
                "—" if row.predicted_percent_met is None else f"{row.predicted_percent_met:g}{interval}"
            )
            actual = "—" if row.actual_percent_met is None else f"{row.actual_percent_met:g}"
            error = "—" if row.error is None else f"{row.error:+g}"
            said.append(f"{row.service:<40} {predicted:>26} {actual:>13} {error:>7}")
        said.append(f"mean absolute error: {self.mean_absolute_error} percentage points")
        return said


def backtest(
    source: Signpost,
    *,
    fit_from: datetime,
    fit_to: datetime,
    predict_to: datetime,
    runs: int = 3,
    seed: int = 1,
    warm_up_days: float = 2.0,
    progress=None,
) -> Backtest:
    """Fit on [fit_from, fit_to), simulate [fit_to, predict_to), compare with the recorded compliance."""
    if predict_to <= fit_to:
        raise InvalidInput("the predicted period must end after the fitted one")
    fitted = fit(source, fit_from, fit_to)
    pathways = sorted({s.pathway for s in fitted.demand.streams})
    plan = Plan(
        arms=(Arm("predicted", tuple((p, None) for p in pathways)),),
        start=fit_to,
        days=(predict_to - fit_to) / timedelta(days=1),
        demand=fitted.demand,
        behaviour=fitted.behaviour,
        runs=runs,
        seed=seed,
        warm_up_days=warm_up_days,
        history=tuple(fitted.history),
    )
    result = simulate(source, plan, progress=progress)
    predicted = {r["group"][0]: r for r in result.arms[0].summary()["compliance"]["service"]}
    actual = {r["group"][0]: r for r in source.olas.report(fit_to, predict_to)["service"]}
    rows = [
        BacktestRow(
            service,
            predicted[service]["percent_met"] if service in predicted else None,
            predicted[service]["percent_met_low"] if service in predicted else None,
            predicted[service]["percent_met_high"] if service in predicted else None,
            actual[service]["percent_met"] if service in actual else None,
            actual[service]["met"] + actual[service]["breached"] if service in actual else 0,
        )
        for service in sorted(set(predicted) | set(actual))
    ]
    return Backtest(rows, fitted)


__all__ = ["Backtest", "BacktestRow", "Progress", "backtest", "generate_history"]
