"""A sandbox worker: runs pathway code sent by the server, one request at a time, inside process limits.

Started by ``engine.sandbox.pool`` as ``python -m engine.sandbox.worker --memory-bytes N``. Before it reads
its first request it caps its address space (a runaway allocation is a MemoryError here, not swap on the
server), forbids core dumps and file writes, and points its standard output away from the pipe its answers
use. Each request also arms a CPU-time alarm whose default action ends the process: if the server has gone
and nobody kills this worker, a C call that never returns still cannot burn CPU for long.

Once set up it writes an empty frame: the server waits for it before sending a request, so that a slow start
on a busy machine is not charged to the pathway code's time limit.

A worker that crashes (a C stack overflow is a SIGSEGV) simply ends; the server sees the pipe close, fails
the step as an incident and starts another worker.
"""

from __future__ import annotations

import argparse
import builtins
import os
import pickle
import resource
import signal
import sys
from datetime import datetime

from engine.errors import BpmnErrorThrown, ExpressionError, ExpressionRejected, ExpressionTimeout
from engine.sandbox.boundary import READY_FRAME, dump_frame, plain_data, read_frame, write_all
from engine.sandbox.evaluator import Evaluator

REQUEST_LIMIT_BYTES = 1 << 30
# The CPU alarm is a backstop behind the server's own kill at the time limit: it fires this much later.
CPU_ALARM_MARGIN_SECONDS = 2.0
OUT_OF_MEMORY = "pathway code ran out of the memory it may use (SIGNPOST_SANDBOX_MEMORY_MB)"


class _Clock:
    """``now()`` in pathway code: the server's time for the step, sent with each request (tests pin it,
    and a step reads the time once)."""

    def __init__(self):
        self.current: datetime | None = None

    def __call__(self) -> datetime:
        return self.current


def main(argv: list[str] | None = None) -> int:
    options = _arguments(argv)
    answers = os.dup(1)
    requests = os.dup(0)
    _detach_standard_streams()
    _limit_process(options.memory_bytes)
    clock = _Clock()
    evaluator = Evaluator(helpers={"now": clock})
    signal.signal(signal.SIGPROF, signal.SIG_DFL)  # the CPU alarm's default action ends the process
    # Ready: the server counts a request's time limit from here, not from this interpreter's start.
    write_all(answers, READY_FRAME)
    while (body := read_frame(requests, None, REQUEST_LIMIT_BYTES)) is not None:
        operation, source, names, now, time_limit, max_items = _request(body)
        clock.current = now
        evaluator.time_limit_seconds = time_limit
        signal.setitimer(signal.ITIMER_PROF, time_limit + CPU_ALARM_MARGIN_SECONDS)
        try:
            answer = _answer(evaluator, operation, source, names, max_items)
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        # After a MemoryError the allocator may be left fragmented and large: this worker retires.
        retire = answer[0] == "error" and answer[5]
        try:
            frame = dump_frame(answer)
        except (RecursionError, MemoryError, TypeError, ValueError) as error:
            frame = dump_frame(
                ("error", "failed", f"the answer could not be sent: {error}", None, None, True, None)
            )
            retire = True
        write_all(answers, frame)
        if retire:
            return 0
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m engine.sandbox.worker")
    parser.add_argument("--memory-bytes", type=int, required=True)
    return parser.parse_args(argv)


def _request(body: bytes) -> tuple:
    return pickle.loads(body)  # noqa: S301 -- written by the server that started this process


def _detach_standard_streams() -> None:
    """Nothing but answers may reach the answer pipe, and nothing may wait on a terminal."""
    quiet = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(quiet, fd)
    os.close(quiet)


def _limit_process(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def _answer(evaluator: Evaluator, operation: str, source: str, names: dict, max_items: int) -> tuple:
    try:
        if operation == "check_expression":
            evaluator.check_expression(source)
            return ("ok", None)
        if operation == "check_script":
            evaluator.check_script(source)
            return ("ok", None)
        if operation == "evaluate":
            value = evaluator.evaluate(source, names)
            return ("ok", plain_data(value, max_items, "the expression's value"))
        if operation == "execute":
            evaluator.execute(source, names)
            counted = [0]
            return (
                "ok",
                {
                    name: plain_data(value, max_items, f"variable '{name}'", counted)
                    for name, value in names.items()
                },
            )
        return ("error", "failed", f"unknown sandbox operation {operation!r}", None, None, False, None)
    except BpmnErrorThrown as thrown:
        return ("bpmn_error", thrown.code, thrown.error_message)
    except ExpressionError as error:
        if isinstance(error.__cause__, MemoryError):
            return ("error", "failed", OUT_OF_MEMORY, error.line, None, True, None)
        return ("error", _kind(error), error.message, error.line, _cause_name(error), False, error.column)
    except MemoryError:
        return ("error", "failed", OUT_OF_MEMORY, None, None, True, None)
    except RecursionError:
        return ("error", "failed", "nested too deep", None, None, False, None)


def _kind(error: ExpressionError) -> str:
    if isinstance(error, ExpressionRejected):
        return "rejected"
    return "timeout" if isinstance(error, ExpressionTimeout) else "failed"


def _cause_name(error: BaseException) -> str | None:
    """The builtin exception behind a failure (a NameError tells a deploy check that the value depends on
    instance data); other causes are not named."""
    cause = error.__cause__
    if cause is not None and getattr(builtins, type(cause).__name__, None) is type(cause):
        return type(cause).__name__
    return None


if __name__ == "__main__":
    sys.exit(main())
