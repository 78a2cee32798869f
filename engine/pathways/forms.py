"""Task forms: form-js schemas deployed with a pathway version as ``<form id>.form.json``.

A user task names its form (``camunda:formRef="triage"`` as Camunda Modeler writes it, or SpiffWorkflow's
``formJsonSchemaFilename`` property: ``engine/bpmn/task_forms.py``). The name means, in this order: the file
of that name, the file ``<name>.form.json``, or the one form whose schema's ``id`` is the name (form-js's
editor gives every form an id such as ``Form_0x1y2z``, which Camunda's ``formRef`` uses). A deployment whose
user task names a form it does not hold is refused on that task (``DeployedForms.problem_with``).

Each form is checked when deployed (``form_schema.py``: the subset of form-js whose every field the server
can check), and the data completing a task that names a form is checked against it (``form_data.py``)
before anything changes: data that does not fit is refused, field by field (``FormDataInvalid``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from engine.bpmn import CompiledPathway, SourceFile
from engine.errors import FormDataInvalid, Problem
from engine.pathways.form_data import field_errors
from engine.pathways.form_schema import schema_problems
from engine.store import definitions as definition_store
from engine.store.db import Connection

FORM_SUFFIX = ".form.json"


@dataclass(frozen=True)
class Form:
    """A deployed form that passed its checks: the schema as uploaded and its fields by key."""

    filename: str
    form_id: str | None  # the schema's own ``id``, when it has one
    schema: dict
    fields: Mapping[str, dict]  # the input fields (components with a key), by key
    disabled: frozenset[str]  # keys of fields shown but never sent (form-js does not submit them)

    def check(self, data: dict, today: date) -> None:
        """Raise FormDataInvalid listing every field of ``data`` that does not fit the form."""
        errors = field_errors(self.fields, self.disabled, data, today)
        if errors:
            shown = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
            raise FormDataInvalid(f"the data does not fit the form {self.filename}: {shown}", errors=errors)

    def view(self) -> dict:
        return {"id": self.form_id, "filename": self.filename, "schema": self.schema}


def read_form(source: SourceFile) -> tuple[Form | None, list[Problem]]:
    """The form in ``source``, or None and why it is not a form Signpost can check."""
    try:
        schema = json.loads(source.content, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        return None, [Problem(source.filename, f"a form must be a JSON form-js schema: {error}")]
    problems, fields, disabled = schema_problems(source.filename, schema)
    if problems:
        return None, problems
    form_id = schema.get("id") if isinstance(schema.get("id"), str) else None
    return Form(source.filename, form_id, schema, fields, frozenset(disabled)), []


def form_problems(source: SourceFile) -> list[Problem]:
    """Why ``source`` is not a usable form-js schema (an empty list when it is)."""
    return read_form(source)[1]


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


class DeployedForms:
    """The forms of one deployment or version, by file name (None for a file that is not a usable form)."""

    def __init__(self, forms: Mapping[str, Form | None]):
        self._forms = dict(forms)

    def find(self, reference: str) -> Form | None:
        """The form a user task's ``reference`` means (see the module's docstring), or None."""
        for name in (reference, reference + FORM_SUFFIX):
            if name in self._forms:
                return self._forms[name]
        found = self._with_id(reference)
        return found[0] if len(found) == 1 else None

    def problem_with(self, reference: str) -> str | None:
        """What is wrong with a user task naming ``reference``: None when the deployment holds that form (or
        holds a file of that name whose own problems are reported already)."""
        if reference in self._forms or reference + FORM_SUFFIX in self._forms:
            return None
        found = self._with_id(reference)
        if len(found) == 1:
            return None
        if found:
            names = ", ".join(sorted(f.filename for f in found))
            return f"several forms have the id '{reference}' ({names}): name the form's file instead"
        wanted = reference if reference.endswith(FORM_SUFFIX) else reference + FORM_SUFFIX
        deployed = ", ".join(sorted(self._forms)) or "none"
        return (
            f"the user task's form '{reference}' is not among the deployed files: deploy {wanted} with the "
            f"pathway, or name one of the forms deployed (forms deployed: {deployed})"
        )

    def _with_id(self, reference: str) -> list[Form]:
        return [f for f in self._forms.values() if f is not None and f.form_id == reference]


def task_form(conn: Connection, pathway: CompiledPathway, version_id: int, element_id: str) -> Form | None:
    """The form the user task ``element_id`` of a deployed version names, or None when it names none. (A
    version deployed before forms were checked may name one it does not hold: it has no form then.)"""
    reference = pathway.user_task_form(element_id)
    if reference is None:
        return None
    forms = {}
    for row in definition_store.files_ending_with(conn, version_id, FORM_SUFFIX):
        forms[row["filename"]] = read_form(SourceFile(row["filename"], row["content"].encode()))[0]
    return DeployedForms(forms).find(reference)


def form_of_user_task(
    conn: Connection, pathway_of: Callable[[int], CompiledPathway], task: Mapping
) -> Form | None:
    """The form of a stored user task row (``pathway_of``: the compiled pathway of a version id), or None."""
    version_id = definition_store.version_id_of_instance(conn, task["instance_id"])
    if version_id is None:
        return None
    return task_form(conn, pathway_of(version_id), version_id, task["element_id"])
