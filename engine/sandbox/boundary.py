"""What crosses between the server and a sandbox worker: framed pickles of plain data only.

The server sends task data it already holds; the worker answers with values that pathway code made. Those
are checked in the worker before they are sent (``plain_data``): only the types a step may store, no cycles,
not nested too deep, not more items than the instance could store, sets as lists and dictionary keys as the
text JSON would make of them — so that nothing the server reads back can be slow to hash or to walk. The
server reads answers with an unpickler that builds nothing but those types (``load_answer``).
"""

from __future__ import annotations

import io
import os
import pickle
import select
import struct
import time
from datetime import date, datetime, timedelta, timezone
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any

from engine.errors import ExpressionFailed

HEADER = struct.Struct(">Q")
# The empty frame a worker writes once it is set up and reading requests.
READY_FRAME = HEADER.pack(0)
FrameTooLong = OverflowError
MAX_DEPTH = 100
# The classes an answer may hold beyond the builtin containers and scalars.
_DATA_CLASSES = {
    ("datetime", "datetime"): datetime,
    ("datetime", "date"): date,
    ("datetime", "time"): time_of_day,
    ("datetime", "timedelta"): timedelta,
    ("datetime", "timezone"): timezone,
    ("decimal", "Decimal"): Decimal,
}
_TEXT_KINDS = frozenset({str, bytes})
_FLAT_KINDS = frozenset({int, float, bool, type(None)}) | _TEXT_KINDS
_SCALARS = (*_FLAT_KINDS, Decimal, datetime, date, time_of_day, timedelta, timezone)


def plain_data(value: Any, max_items: int, what: str, counted: list[int] | None = None) -> Any:
    """``value`` as plain data (sets become lists, dictionary keys text), or ExpressionFailed saying why not.

    ``what`` names the value in the message ("variable 'x'", "the expression's value"); ``counted`` carries
    the count of items across several values that are stored together.
    """
    counted = [0] if counted is None else counted
    return _plain(value, max_items, what, counted, depth=0, holding=set())


def _plain(value: Any, max_items: int, what: str, counted: list[int], depth: int, holding: set[int]) -> Any:
    counted[0] += 1 + (len(value) if isinstance(value, str | bytes) else 0)
    if counted[0] > max_items:
        raise ExpressionFailed(
            f"{what} holds more than the {max_items:,} items an instance may store "
            "(SIGNPOST_MAX_INSTANCE_DATA_BYTES)"
        )
    if isinstance(value, _SCALARS):
        return value
    if depth >= MAX_DEPTH:
        raise ExpressionFailed(f"{what} is nested more than {MAX_DEPTH} levels deep")
    if id(value) in holding:
        raise ExpressionFailed(f"{what} holds itself")
    holding.add(id(value))
    try:
        if isinstance(value, dict):
            return {
                _key(key, what): _plain(item, max_items, what, counted, depth + 1, holding)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            flat = _flat_items(value, max_items, what, counted)
            if flat is not None:
                return flat
            items = [_plain(item, max_items, what, counted, depth + 1, holding) for item in value]
            return tuple(items) if isinstance(value, tuple) else items
    finally:
        holding.discard(id(value))
    raise ExpressionFailed(
        f"{what} is a {type(value).__name__} object, which is not data a step can keep "
        "(make it a list or text)"
    )


def _flat_items(value, max_items: int, what: str, counted: list[int]) -> list | tuple | None:
    """A sequence of scalars as it is to be answered, counted without a Python step per item (a list of a
    million numbers is ordinary data); None when it holds containers or anything else."""
    kinds = set(map(type, value))
    if not kinds <= _FLAT_KINDS:
        return None
    counted[0] += len(value)
    if kinds <= _TEXT_KINDS:
        counted[0] += sum(map(len, value))
    elif kinds & _TEXT_KINDS:
        counted[0] += sum(len(item) for item in value if type(item) in _TEXT_KINDS)
    if counted[0] > max_items:
        raise ExpressionFailed(
            f"{what} holds more than the {max_items:,} items an instance may store "
            "(SIGNPOST_MAX_INSTANCE_DATA_BYTES)"
        )
    return value if isinstance(value, tuple) else list(value)


def _key(key: Any, what: str) -> str:
    """A dictionary key as JSON would store it: keys that are not text could collide when hashed."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int | float):
        return str(key) if isinstance(key, int) and abs(key) < 10**100 else repr(key)[:100]
    raise ExpressionFailed(f"{what} has a {type(key).__name__} as a dictionary key; keys must be text")


def dump_frame(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        found = _DATA_CLASSES.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"an answer may not hold {module}.{name}")
        return found


def load_answer(body: bytes) -> Any:
    return _DataUnpickler(io.BytesIO(body)).load()


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_frame(fd: int, deadline: float | None, max_bytes: int) -> bytes | None:
    """One frame's body from ``fd``; None at end of file (the other side exited). Raises TimeoutError when
    no whole frame arrived by ``deadline``, FrameTooLong when one is announced longer than ``max_bytes``."""
    header = _read_exactly(fd, HEADER.size, deadline)
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    if length > max_bytes:
        raise FrameTooLong(f"{length:,} bytes")
    return _read_exactly(fd, length, deadline)


def _read_exactly(fd: int, length: int, deadline: float | None) -> bytes | None:
    chunks, remaining = [], length
    while remaining:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
