"""The sandbox pool on its own: what comes back from a worker, what happens when a worker dies, hangs or
answers too much, and that a replacement takes its place."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from engine.errors import BpmnErrorThrown, ExpressionFailed, ExpressionRejected, ExpressionTimeout
from engine.sandbox.plain_expressions import is_plain_expression
from engine.sandbox.pool import SandboxedEvaluator, SandboxPool

DEEP_HASH = "t = ()\nfor i in range(300000):\n    t = (t,)\ns = {t}"


@pytest.fixture
def pool():
    pool = SandboxPool(size=2, memory_bytes=256 * 1024 * 1024)
    yield pool
    pool.close()


@pytest.fixture
def sandboxed(pool):
    return SandboxedEvaluator(pool, time_limit_seconds=2, max_answer_bytes=100_000)


def test_values_come_back_as_the_data_a_step_keeps(sandboxed):
    names = {"age": 80, "seen": datetime(2026, 11, 23, tzinfo=UTC)}
    sandboxed.execute(
        "later = seen + timedelta(days=2)\ncost = Decimal('1.50')\ntags = {'a'}\n"
        "counts = {1: 'one'}\ndel age",
        names,
    )
    assert names == {
        "seen": datetime(2026, 11, 23, tzinfo=UTC),
        "later": datetime(2026, 11, 25, tzinfo=UTC),
        "cost": Decimal("1.50"),
        "tags": ["a"],  # a set's items hash unpredictably slowly: it comes back as a list
        "counts": {"1": "one"},  # keys as JSON stores them
    }


def test_now_is_the_servers_clock_not_the_workers(sandboxed, frozen_clock):
    assert sandboxed.evaluate("now()", {}) == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_errors_keep_their_kind_line_and_cause(sandboxed):
    with pytest.raises(ExpressionRejected):
        sandboxed.check_script("import os")
    with pytest.raises(ExpressionFailed) as failed:
        sandboxed.execute("x = 1\ny = missing + 1", {})
    assert failed.value.line == 2
    assert isinstance(failed.value.__cause__, NameError)
    with pytest.raises(BpmnErrorThrown) as thrown:
        sandboxed.execute("bpmn_error('NO_BED', 'none free')", {})
    assert (thrown.value.code, thrown.value.error_message) == ("NO_BED", "none free")


def test_a_failed_script_changes_nothing(sandboxed):
    names = {"items": [1]}
    with pytest.raises(ExpressionFailed):
        sandboxed.execute("items.append(2)\nboom = 1 / 0", names)
    assert names == {"items": [1]}


def test_a_crashing_worker_is_an_error_and_is_replaced(pool, sandboxed):
    with pytest.raises(ExpressionFailed, match="killed by SIGSEGV"):
        sandboxed.execute(DEEP_HASH, {})
    assert pool.workers_replaced == 1
    assert sandboxed.evaluate("1 + 1", {}) == 2


def test_a_call_the_tracer_cannot_stop_is_killed_at_the_time_limit(pool, sandboxed):
    with pytest.raises(ExpressionTimeout, match="ran longer than 2 s and was stopped"):
        sandboxed.evaluate("len(set(range(0, 200000 * (2**61 - 1), 2**61 - 1)))", {})
    assert pool.workers_replaced == 1
    assert sandboxed.evaluate("2 * 3", {}) == 6


def test_a_huge_allocation_fails_in_the_worker_alone(sandboxed):
    with pytest.raises(ExpressionFailed, match="ran out of the memory"):
        sandboxed.evaluate("'%.1000000000d' % 1", {})


@pytest.mark.parametrize(
    ("script", "why"),
    [
        ("x = 'a' * 200000", "more than the 100,000 items"),
        ("x = [1]\nx.append(x)", "holds itself"),
        ("x = []\nfor i in range(150):\n    x = [x]", "nested more than 100 levels deep"),
        ("x = zip([1], [2])", "zip object"),
        ("x = {(1, 2): 'pair'}", "tuple as a dictionary key"),
    ],
)
def test_what_a_step_may_not_keep_does_not_come_back(sandboxed, script, why):
    with pytest.raises(ExpressionFailed, match=why):
        sandboxed.execute(script, {})


def test_workers_answer_several_threads_at_once(sandboxed):
    results, errors = {}, []

    def evaluate(n: int) -> None:
        try:
            results[n] = sandboxed.evaluate("n * n", {"n": n})
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=evaluate, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == {n: n * n for n in range(20)}


@pytest.mark.parametrize(
    "source",
    [
        "priority == 'urgent' and not housebound",
        "dmninputexpr in ('LE1', 'LE2')",
        "len(missing_fields) > 0",
        "{'need': clinical_need, 'tags': [1, 2]}",
        "'PT48H'",
        "visit['outcome'] if visit else None",
    ],
)
def test_plain_expressions_run_here_without_a_sandbox_process(source):
    assert is_plain_expression(source)


@pytest.mark.parametrize(
    "source",
    [
        "str(x)",  # a call: quadratic for a huge integer
        "x * 2",  # arithmetic
        "x.upper()",  # an attribute
        "[n for n in x]",  # a comprehension
        "len(x, y)",
        "now() > due",
        "a == b" + " or a == b" * 200,  # too long to parse here
    ],
)
def test_anything_that_computes_goes_to_a_sandbox_process(source):
    assert not is_plain_expression(source)


def test_only_code_that_computes_costs_a_round_trip(pool, sandboxed):
    data = {"priority": "urgent", "postcode": "le1 5ww"}
    before = pool.requests_answered
    assert sandboxed.evaluate("priority == 'urgent'", data) is True
    assert pool.requests_answered == before
    for _ in range(3):  # a decision table asks for its input expression once per rule
        assert sandboxed.evaluate("postcode.upper()[:3]", data) == "LE1"
    assert pool.requests_answered == before + 1
    assert sandboxed.evaluate("postcode.upper()[:3]", {**data, "postcode": "le2 1aa"}) == "LE2"
    assert pool.requests_answered == before + 2


def test_code_naming_now_is_asked_again_when_the_time_moves(pool, sandboxed, frozen_clock):
    assert sandboxed.evaluate("str(now())", {}) == "2026-11-23 09:00:00+00:00"
    frozen_clock.shift(timedelta(hours=1))
    assert sandboxed.evaluate("str(now())", {}) == "2026-11-23 10:00:00+00:00"


def test_a_new_workers_start_is_not_charged_to_the_time_limit(monkeypatch):
    # On a busy machine a new worker's interpreter can take longer to start than a script may run: the
    # limit counts from the worker's "ready", so a tight limit still lets a cold pool answer.
    monkeypatch.setattr("engine.sandbox.pool.ANSWER_MARGIN_SECONDS", 0.0)
    cold = SandboxPool(size=1, memory_bytes=256 * 1024 * 1024)
    try:
        tight = SandboxedEvaluator(cold, time_limit_seconds=0.05, max_answer_bytes=1_000)
        assert tight.evaluate("sum(range(10))", {}) == 45
        assert cold.workers_replaced == 0
    finally:
        cold.close()
