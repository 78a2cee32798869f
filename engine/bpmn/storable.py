"""What a step leaves must be storable: JSON can hold it, and it is not too much.

A pathway script can leave a value JSON cannot hold (a ``zip`` or ``map`` object, a generator, an integer too
long to write, a NaN) or far more data than an instance should carry. Saving such an instance would fail on
every try — at every tick, for a timer — so the step fails instead, naming the task, the variable and why,
and the instance becomes an incident.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from engine.bpmn.serialization import StateCodec
from engine.errors import StepFailed
from engine.sandbox.evaluator import items_held

# The most an instance's data may take as stored JSON (SIGNPOST_MAX_INSTANCE_DATA_BYTES).
DEFAULT_MAX_DATA_BYTES = 4 * 1024 * 1024

# What json raises for a value it cannot write (RecursionError: a list that holds itself, or nested too deep).
UNSTORABLE = (TypeError, ValueError, OverflowError, RecursionError)


def dump_data(data: dict) -> str:
    """Business data as plain JSON for reading (dates as ISO 8601 strings; no NaN or infinity)."""
    return json.dumps(data, default=_plain_json, separators=(",", ":"), allow_nan=False)


def _plain_json(value):
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return None  # callables and other non-data never leave the engine


def dump_after_step(workflow, data: dict, codec: StateCodec, max_data_bytes: int) -> tuple[str, str]:
    """The workflow's state and its business ``data`` written out, or StepFailed naming its last task."""
    too_much = f"more than the {max_data_bytes:,} bytes allowed (SIGNPOST_MAX_INSTANCE_DATA_BYTES)"
    try:
        # Every item or character takes at least a byte written out: counted first (cheaply, each shared
        # object once), data far over the limit is refused before it is written out at all.
        if items_held(data, max_data_bytes) > max_data_bytes:
            raise _failed_on(workflow.last_task, f"the instance's data would take {too_much}")
        state = codec.dump(workflow)
        stored_data = dump_data(data)
    except UNSTORABLE as error:
        raise _failed_on(workflow.last_task, _why_unstorable(workflow, error, codec)) from error
    size = len(stored_data.encode())
    if size > max_data_bytes:
        raise _failed_on(workflow.last_task, f"the instance's data would take {size:,} bytes, {too_much}")
    return state, stored_data


def _why_unstorable(workflow, error: Exception, codec: StateCodec) -> str:
    """Which variable cannot be stored and why: the last task's data first, then every task's."""
    last = workflow.last_task
    holders = ([last] if last is not None else []) + list(workflow.get_tasks())
    for task in holders:
        for name, value in list(task.data.items()):
            try:
                codec.dump_value(value)
                dump_data({name: value})
            except UNSTORABLE as bad:
                return f"variable '{name}' cannot be stored: {_reason(value, bad)}"
    return f"the instance's state cannot be stored: {_reason(None, error)}"


def _reason(value, error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "it holds itself, or is nested too deep"
    if isinstance(error, ValueError) and "out of range float" in str(error).lower():
        return "NaN and infinity (inf) are not numbers JSON can hold"
    if isinstance(error, TypeError) and value is not None and not isinstance(value, dict | list):
        return f"a {type(value).__name__} object is not data JSON can hold (make it a list or a string)"
    return str(error)


def _failed_on(task, detail: str) -> StepFailed:
    spec = getattr(task, "task_spec", None)
    element_id = getattr(spec, "bpmn_id", None)
    task_name = getattr(spec, "bpmn_name", None) or element_id
    where = f"task '{task_name}'" if task_name else "the process"
    return StepFailed(f"{where} failed: {detail}", element_id=element_id, task_name=task_name)
