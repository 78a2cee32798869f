"""Pre-started sandbox workers, and the evaluator the engine uses: the same checks, expressions and scripts
as ``Evaluator``, each run in a worker and answered as plain data.

A request waits for its answer with the server's interpreter free (a pipe read with a deadline), so the
server keeps answering — ``/healthz`` among the rest — whatever the code does. A worker that gives no answer
by the time limit (plus a margin for sending the data) is killed; one that dies is noticed by its closed
pipe. Either way the caller gets an ExpressionTimeout or ExpressionFailed — the step fails and the instance
becomes an incident — and a replacement worker starts in the background.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from engine import clock
from engine.errors import (
    BpmnErrorThrown,
    ExpressionFailed,
    ExpressionRejected,
    ExpressionTimeout,
)
from engine.sandbox.boundary import (
    FrameTooLong,
    dump_frame,
    load_answer,
    plain_data,
    read_frame,
    write_all,
)
from engine.sandbox.evaluator import Evaluator
from engine.sandbox.plain_expressions import is_plain_expression

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 4
DEFAULT_MEMORY_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_ANSWER_BYTES = 4 * 1024 * 1024
# Beyond the time limit, for sending the data both ways and checking what comes back.
ANSWER_MARGIN_SECONDS = 1.0
START_TIMEOUT_SECONDS = 30.0
# The directory that holds the ``engine`` package: a worker runs in isolated mode (no current directory,
# no PYTHON* variables, no user site) and finds the engine here.
_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])
_WORKER_MAIN = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from engine.sandbox.worker import main; sys.exit(main(sys.argv[1:]))"
)


class _Worker:
    def __init__(self, memory_bytes: int):
        self.process = subprocess.Popen(  # noqa: S603 -- this interpreter, a fixed command
            [sys.executable, "-I", "-c", _WORKER_MAIN, _SOURCE_ROOT, "--memory-bytes", str(memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )

    def wait_until_ready(self) -> bool:
        """Whether the worker announced itself set up within START_TIMEOUT_SECONDS."""
        try:
            ready = read_frame(self.process.stdout.fileno(), time.monotonic() + START_TIMEOUT_SECONDS, 0)
        except (TimeoutError, FrameTooLong):
            return False
        return ready == b""

    def ask(self, frame: bytes, deadline: float, max_answer_bytes: int) -> bytes | None:
        """The answer's body; None if the worker ended without one. Raises FrameTimeout, FrameTooLarge."""
        try:
            write_all(self.process.stdin.fileno(), frame)
        except (BrokenPipeError, ConnectionResetError):
            return None
        return read_frame(self.process.stdout.fileno(), deadline, max_answer_bytes)

    def how_it_ended(self) -> str:
        code = self.process.wait(timeout=5)
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit status {code}"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            pipe.close()


class SandboxPool:
    """Up to ``size`` workers, started as needed and kept for the next request. Per process: a pool found
    after a fork starts its own workers."""

    def __init__(self, size: int = DEFAULT_WORKERS, memory_bytes: int = DEFAULT_MEMORY_BYTES):
        if size < 1:
            raise ValueError("a sandbox pool needs at least one worker")
        self.size = size
        self.memory_bytes = memory_bytes
        self._changed = threading.Condition()
        self._idle: list[_Worker] = []
        self._running = 0  # idle, busy and starting
        self._pid = os.getpid()
        self.workers_replaced = 0
        self.requests_answered = 0

    def prestart(self) -> None:
        """Start one worker now, in the background, so that the first step does not wait for it."""
        self._start_in_background()

    def run(self, request: bytes, time_limit: float, max_answer_bytes: int) -> tuple:
        """The worker's answer to ``request`` (a frame), or ExpressionTimeout / ExpressionFailed when it gave
        none."""
        worker = self._acquire()
        healthy = False
        try:
            deadline = time.monotonic() + time_limit + ANSWER_MARGIN_SECONDS
            try:
                body = worker.ask(request, deadline, max_answer_bytes)
            except TimeoutError:
                raise ExpressionTimeout(
                    f"pathway code ran longer than {time_limit:g} s and was stopped"
                ) from None
            except FrameTooLong as too_large:
                raise ExpressionFailed(
                    f"pathway code answered with {too_large}, "
                    f"more than the {max_answer_bytes:,} bytes allowed"
                ) from None
            if body is None:
                ended = worker.how_it_ended()
                log.warning("a sandbox worker ended while running pathway code (%s)", ended)
                raise ExpressionFailed(f"pathway code stopped the process running it ({ended})")
            answer = load_answer(body)
            healthy = not (answer[0] == "error" and answer[5])
            self.requests_answered += 1
            return answer
        finally:
            self._release(worker, healthy)

    def close(self) -> None:
        with self._changed:
            idle, self._idle = self._idle, []
            self._running -= len(idle)
        for worker in idle:
            worker.kill()

    def _acquire(self) -> _Worker:
        with self._changed:
            self._forget_if_forked()
            if not self._changed.wait_for(
                lambda: self._idle or self._running < self.size, timeout=START_TIMEOUT_SECONDS
            ):
                raise ExpressionFailed("every sandbox worker stayed busy; try again")
            if self._idle:
                return self._idle.pop()
            self._running += 1
        try:
            return self._started_worker()
        except OSError as error:
            self._gone()
            raise ExpressionFailed(f"could not start a sandbox worker: {error}") from error

    def _started_worker(self) -> _Worker:
        """A new worker, set up and waiting for its first request; OSError if it could not be started."""
        worker = _Worker(self.memory_bytes)
        if worker.wait_until_ready():
            return worker
        worker.kill()
        raise OSError(f"it was not ready within {START_TIMEOUT_SECONDS:g} s")

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if healthy:
            with self._changed:
                if os.getpid() == self._pid:
                    self._idle.append(worker)
                    self._changed.notify()
                    return
        worker.kill()
        self._gone()
        self.workers_replaced += 1
        self._start_in_background()

    def _gone(self) -> None:
        with self._changed:
            self._running -= 1
            self._changed.notify()

    def _start_in_background(self) -> None:
        with self._changed:
            if self._running >= self.size or self._idle:
                return
            self._running += 1
        threading.Thread(target=self._start_one, name="sandbox-start", daemon=True).start()

    def _start_one(self) -> None:
        try:
            worker = self._started_worker()
        except OSError:
            log.exception("could not start a sandbox worker")
            self._gone()
            return
        self._release(worker, healthy=True)

    def _forget_if_forked(self) -> None:
        # The parent's workers answer the parent: a forked child (a gunicorn worker) starts its own.
        if os.getpid() != self._pid:
            self._pid, self._idle, self._running = os.getpid(), [], 0


class SandboxedEvaluator:
    """Checks, evaluates and executes pathway code in a SandboxPool; the interface of ``Evaluator``.

    Plain expressions (``engine.sandbox.plain_expressions``: comparisons, boolean logic, subscripts and
    literals, nothing that computes) are checked and evaluated here by the same evaluator instead: they can
    do no more work than comparing the data a step already holds. ``max_answer_bytes`` bounds what one
    answer may carry (as items and as bytes): no step may make more data than an instance may store.
    """

    def __init__(
        self,
        pool: SandboxPool,
        time_limit_seconds: float = 1.0,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ):
        if time_limit_seconds <= 0:
            raise ValueError("time_limit_seconds must be positive")
        self.pool = pool
        self.time_limit_seconds = time_limit_seconds
        self.max_answer_bytes = max_answer_bytes
        self._here = Evaluator(time_limit_seconds=time_limit_seconds)
        self._recent = _RecentValues(RECENT_VALUES)

    def check_expression(self, source: str) -> None:
        """Raise ExpressionRejected unless ``source`` is one allowed expression."""
        if isinstance(source, str) and is_plain_expression(source):
            self._here.check_expression(source)
            return
        self._ask("check_expression", source, {})

    def check_script(self, source: str) -> None:
        """Raise ExpressionRejected unless ``source`` is an allowed script."""
        self._ask("check_script", source, {})

    def evaluate(self, source: str, names: Mapping[str, Any]) -> Any:
        """The value of expression ``source`` with ``names`` as its variables."""
        if isinstance(source, str) and is_plain_expression(source):
            value = self._here.evaluate(source, names)
            return plain_data(value, self.max_answer_bytes, "the expression's value")
        return self._ask("evaluate", source, names)

    def execute(self, source: str, names: dict[str, Any]) -> None:
        """Run script ``source`` against the task data ``names``; only when it succeeds are its variables
        written back (all at once: a failed script leaves ``names`` as it was)."""
        result = self._ask("execute", source, names)
        names.clear()
        names.update(result)

    def _ask(self, operation: str, source: str, names: Mapping[str, Any]) -> Any:
        if not isinstance(source, str):
            raise ExpressionRejected("there is no code here", source=source)
        sendable = {name: value for name, value in names.items() if _is_data(value)}
        # Code can reach the clock only by naming ``now``: without it, a request does not depend on the time
        # (and a decision table's repeated input expression is found in ``_recent``).
        now = clock.now() if _NAMES_NOW.search(source) else None
        request = (operation, source, sendable, now, self.time_limit_seconds, self.max_answer_bytes)
        try:
            frame = dump_frame(request)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as error:
            raise ExpressionFailed(f"the task data cannot be given to pathway code: {error}") from error
        digest = hashlib.blake2b(frame, digest_size=32).digest() if operation == "evaluate" else None
        if digest is not None and (known := self._recent.get(digest)) is not None:
            return known[0]
        try:
            answer = self.pool.run(frame, self.time_limit_seconds, self.max_answer_bytes)
        except ExpressionFailed as error:
            error.source = source
            raise
        value = _outcome(answer, source)
        if digest is not None and isinstance(value, _IMMUTABLE):
            self._recent.put(digest, value)
        return value


class _RecentValues:
    """The last few expression values by a digest of their request. A decision table evaluates its input
    expression once per rule on the same data; pathway code is deterministic given its data and ``now()``
    (both part of the request), so the same request has the same value. Only immutable values are kept, so
    that no two variables ever share one object."""

    def __init__(self, size: int):
        self._size = size
        self._values: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, request: bytes) -> tuple[Any] | None:
        with self._lock:
            if request not in self._values:
                return None
            self._values.move_to_end(request)
            return (self._values[request],)

    def put(self, request: bytes, value: Any) -> None:
        with self._lock:
            self._values[request] = value
            if len(self._values) > self._size:
                self._values.popitem(last=False)


_NAMES_NOW = re.compile(r"\bnow\b")
_IMMUTABLE = (str, int, float, bool, type(None), Decimal, datetime, date, timedelta)
RECENT_VALUES = 256


def _is_data(value: Any) -> bool:
    return not callable(value) and not isinstance(value, ModuleType)


def _outcome(answer: tuple, source: str) -> Any:
    status = answer[0]
    if status == "ok":
        return answer[1]
    if status == "bpmn_error":
        raise BpmnErrorThrown(answer[1], answer[2])
    _, kind, message, line, cause_name, _retired, column = answer
    error_class = {"rejected": ExpressionRejected, "timeout": ExpressionTimeout}.get(kind, ExpressionFailed)
    error = error_class(message, line=line, source=source, column=column)
    cause = getattr(builtins, cause_name, None) if cause_name else None
    if isinstance(cause, type) and issubclass(cause, Exception):
        raise error from cause(message)
    raise error


_shared: dict[tuple[int, int, int], SandboxPool] = {}
_shared_lock = threading.Lock()


def shared_pool(size: int = DEFAULT_WORKERS, memory_bytes: int = DEFAULT_MEMORY_BYTES) -> SandboxPool:
    """One pool per process and configuration, shared by every engine the process builds."""
    key = (os.getpid(), size, memory_bytes)
    with _shared_lock:
        pool = _shared.get(key)
        if pool is None:
            pool = _shared[key] = SandboxPool(size, memory_bytes)
            pool.prestart()
        return pool
