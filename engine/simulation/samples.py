"""The data simulated people give the engine: a referral's start data, what an operator enters to complete a
user task, what a system answers to an external task.

They come from the scenario files stored with the pathway version (each scenario's start, each ``complete``
and ``external_task`` step), from a sample file of the same shape as a scenario file, and, when demand is
fitted from history, from the referrals of the fitted period: their data as the pathway holds it, kept to the
fields the scenarios start with (what a referrer sends, not what the pathway added on the way).

A task an operator meets again in the same referral (a "complete the missing information" loop) gets, from
its third time on, every sample of that task merged: what the operator would finally enter to get it done.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field

from engine.bpmn import SourceFile
from engine.errors import DefinitionInvalid, InvalidInput
from engine.pathways.scenario_files import SCENARIO_SUFFIXES, read_scenario_file, scenario_pathway

# What the engine adds to every referral's data: never start data.
ENGINE_FIELDS = ("referral_id", "reference", "referrer", "subject_nhs_number")
SIMULATED_REFERRER = "SIM-GP"
# From this visit of the same task in the same referral on, the samples are merged.
MERGE_FROM_VISIT = 3


@dataclass(frozen=True)
class StartSample:
    data: dict
    subject: str | None = None
    referrer: str = SIMULATED_REFERRER


@dataclass(frozen=True)
class ExternalAnswer:
    data: dict
    error_code: str | None = None
    error_message: str | None = None


@dataclass
class Samples:
    starts: dict[str, list[StartSample]] = field(default_factory=lambda: defaultdict(list))
    # By task element id and by title, as scenario steps name tasks.
    tasks: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    external: dict[str, list[ExternalAnswer]] = field(default_factory=lambda: defaultdict(list))
    # The start fields each pathway's scenarios use.
    start_fields: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def from_files(cls, files: list[SourceFile]) -> Samples:
        samples = cls()
        for source in files:
            if source.filename.endswith(SCENARIO_SUFFIXES):
                samples.add_scenario_file(source)
        return samples

    def add_scenario_file(self, source: SourceFile) -> None:
        try:
            read = read_scenario_file(source)
        except DefinitionInvalid as invalid:
            problems = "; ".join(p.describe() for p in invalid.problems[:3])
            raise InvalidInput(f"sample data {source.filename} cannot be read: {problems}") from None
        for scenario in read.scenarios:
            pathway = scenario.pathway or read.pathway or scenario_pathway(source.filename)
            start = scenario.start
            self.starts[pathway].append(
                StartSample(dict(start.data), start.subject, start.referrer or SIMULATED_REFERRER)
            )
            self.start_fields[pathway].update(start.data)
            for step in scenario.steps:
                if step.kind == "complete":
                    self.tasks[str(step.target)].append(dict(step.data))
                elif step.kind == "external_task":
                    self.external[str(step.target)].append(
                        ExternalAnswer(dict(step.data), step.error_code, step.error_message)
                    )

    def add_history(self, pathway: str, rows: list[dict]) -> int:
        """Start samples from referrals of the history (their data kept to the scenarios' start fields, or
        every field the pathway did not add when no scenario says); returns how many were added. Once the
        history gives some, the scenarios' own starts of that pathway are no longer drawn."""
        wanted = self.start_fields.get(pathway)
        added = []
        for row in rows:
            if row["pathway"] != pathway or row["data"] is None:
                continue
            data = json.loads(row["data"]) if isinstance(row["data"], str) else dict(row["data"])
            kept = {k: v for k, v in data.items() if (k in wanted if wanted else k not in ENGINE_FIELDS)}
            added.append(StartSample(kept, row["subject"], row["referrer"] or SIMULATED_REFERRER))
        if added:
            self.starts[pathway] = added
        return len(added)

    def start_for(self, pathway: str, rng: random.Random) -> StartSample:
        found = self.starts.get(pathway)
        return rng.choice(found) if found else StartSample({})

    def task_data(self, element_id: str, title: str | None, visit: int, rng: random.Random) -> dict:
        found = self.tasks.get(element_id) or (self.tasks.get(title) if title else None)
        if not found:
            return {}
        if visit >= MERGE_FROM_VISIT:
            merged: dict = {}
            for sample in found:
                merged.update({k: v for k, v in sample.items() if v not in (None, "")})
            return merged
        return dict(rng.choice(found))

    def external_answer(self, topic: str, rng: random.Random) -> ExternalAnswer:
        found = self.external.get(topic)
        return rng.choice(found) if found else ExternalAnswer({})

    def has_start(self, pathway: str) -> bool:
        return bool(self.starts.get(pathway))
