"""What a simulation answers: per arm (a pathway version or a what-if), the predicted OLA compliance per
service, organisation pair, obligation and party as the console's OLA report groups it, with a 95% confidence
interval across the runs (Student's t over the runs' own figures); queue lengths per service over time; where
on the diagram referrals wait (the console's dwell heatmap, predicted).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from engine.olas.olas import REPORT_GROUPINGS

# Student's t at 97.5% for 1..30 degrees of freedom (two-sided 95%); 1.96 beyond.
T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


@dataclass
class RunFigures:
    """One run of one arm."""

    seed: int
    referrals: int
    refused: int
    statuses: dict[str, int]
    compliance: dict[str, list[dict]]  # as Olas.report answers
    dwell: list[dict]  # as the dwell report's elements
    queues: dict[str, list[tuple[int, int, int]]]
    notes: Counter
    seconds: float


@dataclass
class ArmResult:
    label: str
    pathways: list[str]
    what_if: list[str]
    runs: list[RunFigures] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "label": self.label,
            "pathways": self.pathways,
            "what_if": self.what_if,
            "runs": len(self.runs),
            "referrals_per_run": _mean([r.referrals for r in self.runs]),
            "refused_per_run": _mean([r.refused for r in self.runs]),
            "statuses_at_end": _mean_counts([r.statuses for r in self.runs]),
            "compliance": {g: self._compliance(g) for g in REPORT_GROUPINGS},
            "queues": self._queues(),
            "dwell": self._dwell(),
            "notes": dict(sum((r.notes for r in self.runs), Counter()).most_common(20)),
        }

    def _compliance(self, grouping: str) -> list[dict]:
        per_group: dict[tuple, list[dict]] = defaultdict(list)
        for run in self.runs:
            for row in run.compliance.get(grouping, []):
                per_group[tuple(row["group"])].append(row)
        rows = []
        for group, found in sorted(per_group.items()):
            percents = [r["percent_met"] for r in found]
            low, high = confidence_interval(percents)
            rows.append(
                {
                    "group": list(group),
                    "met": _mean([r["met"] for r in found]),
                    "breached": _mean([r["breached"] for r in found]),
                    "percent_met": _mean(percents),
                    "percent_met_low": low,
                    "percent_met_high": high,
                    "median_seconds_to_meet": _mean([r["median_seconds_to_meet"] for r in found]),
                    "p90_seconds_to_meet": _mean([r["p90_seconds_to_meet"] for r in found]),
                    "runs_with_clocks": len(found),
                }
            )
        return rows

    def _queues(self) -> dict[str, list[dict]]:
        series: dict[str, dict[int, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
        for run in self.runs:
            for service, samples in run.queues.items():
                for hour, waiting, working in samples:
                    series[service][hour].append((waiting, working))
        return {
            service: [
                {
                    "hour": hour,
                    "waiting": _mean([w for w, _ in values]),
                    "working": _mean([k for _, k in values]),
                    "most_waiting": max(w for w, _ in values),
                }
                for hour, values in sorted(by_hour.items())
            ]
            for service, by_hour in sorted(series.items())
        }

    def _dwell(self) -> list[dict]:
        per_element: dict[str, list[dict]] = defaultdict(list)
        for run in self.runs:
            for element in run.dwell:
                per_element[element["element_id"]].append(element)
        elements = [
            {
                "element_id": element_id,
                "passed": _mean([f["passed"] for f in found]),
                "median_seconds": statistics.median(f["median_seconds"] for f in found),
                "p90_seconds": statistics.median(f["p90_seconds"] for f in found),
            }
            for element_id, found in per_element.items()
        ]
        return sorted(elements, key=lambda e: (-e["median_seconds"], e["element_id"]))


def confidence_interval(values: list[float]) -> tuple[float | None, float | None]:
    """The 95% confidence interval of the mean of ``values`` (None without two or more)."""
    if len(values) < 2:
        return None, None
    mean = statistics.fmean(values)
    t = T_975[len(values) - 2] if len(values) - 1 <= len(T_975) else 1.96
    half = t * statistics.stdev(values) / math.sqrt(len(values))
    return round(max(0.0, mean - half), 1), round(min(100.0, mean + half), 1)


def _mean(values) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 1) if present else None


def _mean_counts(counts: list[dict[str, int]]) -> dict[str, float]:
    keys = sorted({k for c in counts for k in c})
    return {k: _mean([c.get(k, 0) for c in counts]) for k in keys}
