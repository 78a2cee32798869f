"""What a scenario run answers: per scenario passed or failed, each failure at its step and line, the timeline
of what happened when; and path coverage per process."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.bpmn import ProcessCoverage


@dataclass(frozen=True)
class Failure:
    """A failed expectation or a step the engine refused. ``step``: the step's number (1 for the first of
    ``steps``), 0 for ``start``, None for the scenario's closing ``expect``."""

    step: int | None
    line: int | None
    message: str

    def as_dict(self) -> dict:
        return {"step": self.step, "line": self.line, "message": self.message}


@dataclass(frozen=True)
class Moment:
    """One entry of a scenario's timeline: what was done at which (virtual) time, and where the referral
    stood afterwards."""

    step: int
    at: str
    did: str
    status: str | None
    status_text: str | None

    def as_dict(self) -> dict:
        return {
            "step": self.step,
            "at": self.at,
            "did": self.did,
            "status": self.status,
            "status_text": self.status_text,
        }


@dataclass
class ScenarioResult:
    name: str
    file: str
    line: int
    pathway: str | None
    failures: list[Failure] = field(default_factory=list)
    timeline: list[Moment] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "file": self.file,
            "line": self.line,
            "pathway": self.pathway,
            "passed": self.passed,
            "failures": [f.as_dict() for f in self.failures],
            "timeline": [m.as_dict() for m in self.timeline],
        }


@dataclass(frozen=True)
class RunResult:
    scenarios: list[ScenarioResult]
    coverage: dict[str, ProcessCoverage]

    @property
    def passed(self) -> bool:
        """Every scenario passed, and there was at least one."""
        return bool(self.scenarios) and all(s.passed for s in self.scenarios)

    @property
    def fully_covered(self) -> bool:
        """Some scenario went along every sequence flow of every process."""
        return all(not c.uncovered_flows() for c in self.coverage.values())

    def as_dict(self) -> dict:
        return {
            "scenarios": [s.as_dict() for s in self.scenarios],
            "coverage": {pid: coverage_dict(c) for pid, c in self.coverage.items()},
            "passed": self.passed,
        }


def coverage_dict(coverage: ProcessCoverage) -> dict:
    """``covered``/``total`` count elements and flows together; each is also counted on its own."""
    return {
        "file": coverage.file,
        "elements": dict(coverage.elements),
        "flows": dict(coverage.flows),
        "covered": coverage.elements_covered + coverage.flows_covered,
        "total": len(coverage.elements) + len(coverage.flows),
        "elements_covered": coverage.elements_covered,
        "elements_total": len(coverage.elements),
        "flows_covered": coverage.flows_covered,
        "flows_total": len(coverage.flows),
    }
