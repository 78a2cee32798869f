"""Files deployed beside a pathway's BPMN and DMN: task forms (``*.form.json``, form-js schemas), scenario
tests (``*.scenarios.yaml``) and a blueprint's variants (``*.variants.toml``). They are stored with the
version exactly as uploaded, like the diagrams, and each is checked by its own kind when deployed: a refused
companion refuses the deployment. The forms are also what the deployment's user tasks may name
(``forms.py``); the variants are checked against the service directory once the diagrams are parsed
(``variants.py``)."""

from __future__ import annotations

from engine.bpmn import SourceFile
from engine.errors import Problem
from engine.pathways.blueprints import VARIANTS_SUFFIX
from engine.pathways.forms import FORM_SUFFIX, DeployedForms, read_form
from engine.pathways.scenario_files import SCENARIO_SUFFIXES, scenario_problems


def is_companion(filename: str) -> bool:
    return filename.endswith((FORM_SUFFIX, VARIANTS_SUFFIX, *SCENARIO_SUFFIXES))


def companion_problems(source: SourceFile) -> list[Problem]:
    if source.filename.endswith(FORM_SUFFIX):
        return read_form(source)[1]
    if source.filename.endswith(VARIANTS_SUFFIX):
        return []  # read with the service directory at hand (variants.py)
    return scenario_problems(source)


def checked_companions(companions: list[SourceFile], max_bytes: int) -> tuple[DeployedForms, list[Problem]]:
    """The forms among ``companions`` (a file that is not a usable form is listed without one, so that a task
    naming it is not also told the form is missing) and the problems of every companion."""
    forms, problems = {}, []
    for source in companions:
        is_form = source.filename.endswith(FORM_SUFFIX)
        if len(source.content) > max_bytes:
            problems.append(Problem(source.filename, f"larger than the {max_bytes:,} bytes allowed"))
            form = None
        elif is_form:
            form, found = read_form(source)
            problems.extend(found)
        elif source.filename.endswith(VARIANTS_SUFFIX):
            continue  # read with the service directory at hand (variants.py)
        else:
            problems.extend(scenario_problems(source))
        if is_form:
            forms[source.filename] = form
    return DeployedForms(forms), problems
