"""The shapes of a change of an instance: the input (``Apply``), what it did (``Change``), and what the caller
gets back (``Outcome``, with an optional ``Report`` made in the same transaction)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from engine.store.db import Connection


@dataclass
class Change:
    """What an input did to a workflow: the events it logs and the user task it closed, if any."""

    events: list[dict] = field(default_factory=list)
    completed_task_id: str | None = None
    # What the input answers its caller (e.g. the hand-off after a transition).
    result: dict | None = None
    # End the instance here instead of running it on (a cancelled referral).
    cancel: bool = False


# An input: it changes the loaded workflow (None when the instance has finished and the caller allowed
# that) and may write through the connection, inside the instance's transaction, at the change's time.
Apply = Callable[[object | None, Connection, datetime], Change]


@dataclass
class Outcome:
    instance_id: str
    status: str
    incident: str | None = None
    # What the caller's ``report`` made of the instance inside the same transaction (saves a round trip).
    report: dict | None = None
    result: dict | None = None


Report = Callable[[Connection, str], dict]

# Finds the instance a change is for and locks its row, first thing in the change's transaction (a worker
# claiming the next due timer): the row as ``lock_instance`` reads it, or None when there is none.
Claim = Callable[[Connection], object | None]
