"""A blueprint's local parameters as pathway code sees them: the read-only name ``local``.

A pathway that is a blueprint runs with the values of its variant (``engine/pathways/blueprints.py``): the
instance keeps them, per process id, in the workflow's own data (not in any task's data), and every
expression, script, timer and decision cell of that process reads them as ``local["name"]``. They reach the
code as outside context, which the environment never writes back into the task data: a script that assigns
``local`` or one of its items changes nothing beyond its own run, so a variant's values hold for the whole
referral. A process called from another (a call activity) reads its own blueprint's values, else those of
the nearest process above it that has some.
"""

from __future__ import annotations

from collections.abc import Mapping

LOCAL_NAME = "local"
# The key of the workflow's data under which an instance keeps its local parameters, by process id.
LOCAL_PARAMETERS_KEY = "signpost_local_parameters"


def with_local(task, external_context: Mapping | None) -> Mapping | None:
    """``external_context`` with ``local`` added for ``task``'s process, when the instance has values for it
    (a fresh copy each time: nothing the code does to it is kept)."""
    workflow = task.workflow
    by_process = workflow.top_workflow.data.get(LOCAL_PARAMETERS_KEY)
    if not by_process:
        return external_context
    while workflow is not None:
        values = by_process.get(workflow.spec.name)
        if values is not None:
            return {**(external_context or {}), LOCAL_NAME: dict(values)}
        workflow = workflow.parent_workflow
    return external_context


def keep_local_parameters(workflow, by_process: Mapping[str, Mapping]) -> None:
    """Give a new instance its local parameters (process id -> values)."""
    workflow.data[LOCAL_PARAMETERS_KEY] = {pid: dict(values) for pid, values in by_process.items()}
