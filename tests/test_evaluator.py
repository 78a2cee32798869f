"""The restricted evaluator: what pathway code may do, what it may not, and how refusals read."""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from engine.errors import ExpressionFailed, ExpressionRejected, ExpressionTimeout
from engine.sandbox.evaluator import Evaluator, RestrictedEnvironment, iso_duration


@pytest.fixture
def evaluator() -> Evaluator:
    return Evaluator(helpers={"random": random}, time_limit_seconds=0.2)


# --- escapes that must fail, and say why -------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ("().__class__.__base__.__subclasses__()", "'__class__'"),
        ("__import__('os')", "'__import__'"),
        ("random._os", "'_os'"),
        ("random._os.system('true')", "'_os'"),
        ("(lambda: 0).__globals__", "'__globals__'"),
        ("dict(__class__=1)", "'__class__'"),
        ("sorted([1], key=lambda _item: _item)", "'_item'"),
        ("f'{x.__class__}'", "'__class__'"),
    ],
)
def test_private_names_are_refused_before_running(evaluator, source, named):
    with pytest.raises(ExpressionRejected, match="names starting with '_' are private") as refused:
        evaluator.evaluate(source, {"x": 1})
    assert named in refused.value.message
    assert refused.value.line == 1
    assert refused.value.source == source


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ("getattr(x, '__globals__')", "getattr()"),
        ("type(1)", "type()"),
        ("eval('1')", "eval()"),
        ("open('/etc/passwd')", "open()"),
        ("vars()", "vars()"),
        ("'{0.__class__}'.format(1)", "attribute 'format'"),
        ("'{x}'.format_map({'x': 1})", "attribute 'format_map'"),
        ("(x for x in []).gi_frame", "attribute 'gi_frame'"),
        ("str.mro()", "attribute 'mro'"),
    ],
)
def test_introspection_is_refused_by_name(evaluator, source, named):
    with pytest.raises(ExpressionRejected, match="is not allowed") as refused:
        evaluator.check_expression(source)
    assert named in refused.value.message


@pytest.mark.parametrize(
    ("script", "named"),
    [
        ("import os", "import"),
        ("from os import system", "import"),
        ("def helper():\n    return 1", "function definitions"),
        ("class Thing:\n    pass", "class definitions"),
        ("global counter", "global"),
        ("try:\n    x = 1\nexcept Exception:\n    pass", "try"),
        ("raise ValueError('no')", "raise"),
        ("with x:\n    pass", "with"),
        ("random.choice = len", "changing attribute 'choice'"),
    ],
)
def test_forbidden_statements_are_refused(evaluator, script, named):
    with pytest.raises(ExpressionRejected) as refused:
        evaluator.check_script(script)
    assert refused.value.message.startswith(named)
    assert refused.value.line == 1


def test_a_real_module_helper_keeps_its_private_parts_private(evaluator):
    assert 0 <= evaluator.evaluate("random.random()", {}) < 1
    with pytest.raises(ExpressionRejected, match="attribute '_os' is not allowed"):
        evaluator.execute("system = random._os.system", {})


def test_a_refusal_names_the_line_it_is_on(evaluator):
    with pytest.raises(ExpressionRejected, match="import is not allowed in pathway scripts") as refused:
        evaluator.execute("x = 1\ny = 2\nimport os\n", {})
    assert refused.value.line == 3


def test_a_syntax_error_is_refused_with_its_line(evaluator):
    with pytest.raises(ExpressionRejected, match="syntax error") as refused:
        evaluator.check_script("x = 1\ny = (\n")
    assert refused.value.line == 2


def test_an_endless_loop_times_out(evaluator):
    for script in ("while True: pass", "while True: x = 1", "while True:\n    continue"):
        with pytest.raises(ExpressionTimeout, match=r"script ran longer than 0\.2 s"):
            evaluator.execute(script, {})


def test_a_huge_comprehension_times_out(evaluator):
    with pytest.raises(ExpressionTimeout, match=r"expression ran longer than 0\.2 s"):
        evaluator.evaluate("sum(1 for a in range(10**6) for b in range(10**6))", {})


def test_the_time_limit_leaves_an_existing_trace_function_in_place(evaluator):
    def outside_tracer(frame, event, arg):
        return None

    previous = sys.gettrace()
    sys.settrace(outside_tracer)
    try:
        with pytest.raises(ExpressionTimeout):
            evaluator.execute("while True: pass", {})
        assert evaluator.evaluate("[n * 2 for n in range(3)]", {}) == [0, 2, 4]
        assert sys.gettrace() is outside_tracer
    finally:
        sys.settrace(previous)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("2 ** 10 ** 10", "the result of '**' would have more than 1,000,000 digits"),
        ("'a' * 10**10", "the result of '*' would have more than 10,000,000 items"),
        ("10**10 * 'a'", "the result of '*' would have more than 10,000,000 items"),
        ("[0] * 10**10", "the result of '*' would have more than 10,000,000 items"),
        ("1 << 10**10", "the result of '<<' would have more than 1,000,000 digits"),
        ("range(10**7)", "range() of more than 1,000,000 items is not allowed"),
        ("'x' * 6_000_000 + 'y' * 6_000_000", "the result of '+' would have more than 10,000,000 items"),
        ("[0] * 6_000_000 + [1] * 6_000_000", "the result of '+' would have more than 10,000,000 items"),
        ("'-'.join(['x' * 10**6] * 20)", "the result of join() would have more than 10,000,000 characters"),
        (
            "str.join('', ['ab'] * 6_000_000)",
            "the result of join() would have more than 10,000,000 characters",
        ),
        (
            "list(map(''.join, [['x' * 10**6] * 11]))",
            "the result of join() would have more than 10,000,000 characters",
        ),
        (
            "('a' * 10**6).replace('a', 'b' * 12)",
            "the result of replace() would have more than 10,000,000 characters",
        ),
        (
            "('a' * 10**6).replace('', 'b' * 12)",
            "the result of replace() would have more than 10,000,000 characters",
        ),
        (
            "('a' * 10**6).translate({97: 'b' * 20})",
            "the result of translate() would have more than 10,000,000 characters",
        ),
    ],
)
def test_size_bombs_fail_before_allocating(evaluator, source, problem):
    with pytest.raises(ExpressionFailed) as failed:
        evaluator.evaluate(source, {})
    assert failed.value.message == problem


def test_the_guarded_operations_still_do_their_ordinary_work(evaluator):
    data = {"when": datetime(2026, 1, 5, 9, 30)}
    assert evaluator.evaluate("', '.join(['a', 'b']) + '!'", {}) == "a, b!"
    assert evaluator.evaluate("str.join('-', 'abc')", {}) == "a-b-c"
    assert evaluator.evaluate("list(map(','.join, [['a', 'b'], ['c']]))", {}) == ["a,b", "c"]
    assert evaluator.evaluate("'a-b-c'.replace('-', '+', 1)", {}) == "a+b-c"
    assert evaluator.evaluate("'abc'.translate({97: 'xy'})", {}) == "xybc"
    assert evaluator.evaluate("[1] + [2]", {}) == [1, 2] and evaluator.evaluate("1 + 2.5", {}) == 3.5
    assert evaluator.evaluate("when.replace(hour=10)", data) == datetime(2026, 1, 5, 10, 30)
    evaluator.execute("items = [1]\nitems += [2]", data)
    assert data["items"] == [1, 2]


def test_doubling_in_a_loop_stops_at_the_size_bound(evaluator):
    with pytest.raises(ExpressionFailed, match="the result of '\\+' would have more than 10,000,000 items"):
        evaluator.execute("text = 'x'\nfor _ in range(40):\n    text += text", {})


def test_augmented_assignment_is_guarded_too(evaluator):
    data = {"text": "a", "n": 10}
    with pytest.raises(ExpressionFailed, match="more than 10,000,000 items") as failed:
        evaluator.execute("n **= 10\ntext *= n", data)
    assert failed.value.line == 2
    assert data == {"text": "a", "n": 10}


def test_lambda_is_allowed_as_a_sort_key(evaluator):
    people = [{"name": "b", "age": 40}, {"name": "a", "age": 30}]
    assert evaluator.evaluate(
        "[p['name'] for p in sorted(people, key=lambda p: p['age'])]", {"people": people}
    ) == ["a", "b"]
    assert evaluator.evaluate("sorted([3, 1, 2], key=lambda n: -n)", {}) == [3, 2, 1]


# --- normal use --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("priority == 'urgent' and age >= 18", True),
        ("not (age < 18 or priority != 'urgent')", True),
        ("referral['clinic']['code'] in ('A1', 'B2')", True),
        ("scores[-1] > scores[0]", True),
        ("[s * 2 for s in scores if s > 1]", [4, 6]),
        ("{k: len(v) for k, v in referral.items() if isinstance(v, str)}", {"reason": 7}),
        ("f'{priority!r} {ratio:.2f} {age:>4}'", "'urgent' 0.33   42"),
        ("max(scores) - min(scores)", 2),
        ("round(ratio * 100)", 33),
        ("Decimal('0.1') + Decimal('0.2')", Decimal("0.3")),
        ("(n := len(scores)) and n * 2", 6),
        ("list(zip(scores, reversed(scores)))", [(1, 3), (2, 2), (3, 1)]),
    ],
)
def test_ordinary_expressions_work(evaluator, source, expected):
    names = {
        "priority": "urgent",
        "age": 42,
        "ratio": 1 / 3,
        "scores": [1, 2, 3],
        "referral": {"clinic": {"code": "B2"}, "reason": "falls x"},
    }
    assert evaluator.evaluate(source, names) == expected


def test_expressions_from_xml_may_carry_surrounding_whitespace(evaluator):
    assert evaluator.evaluate("\n    age > 18\n  ", {"age": 20}) is True


def test_timer_expressions(evaluator):
    timer = '"PT2H" if priority == "urgent" else "P2D"'
    assert evaluator.evaluate(timer, {"priority": "urgent"}) == "PT2H"
    assert evaluator.evaluate(timer, {"priority": "routine"}) == "P2D"
    assert evaluator.evaluate("iso_duration(hours=2)", {}) == "PT2H"
    assert evaluator.evaluate("iso_duration(days=1, hours=2, minutes=30)", {}) == "P1DT2H30M"


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [
        ({"days": 2}, "P2D"),
        ({"hours": 36}, "P1DT12H"),
        ({"hours": 1.5}, "PT1H30M"),
        ({"weeks": 1}, "P7D"),
        ({"seconds": 0.5}, "PT0.5S"),
        ({}, "PT0S"),
    ],
)
def test_iso_duration(amounts, expected):
    assert iso_duration(**amounts) == expected


def test_iso_duration_refuses_negative_amounts(evaluator):
    with pytest.raises(ExpressionFailed, match="negative duration"):
        evaluator.evaluate("iso_duration(hours=-1)", {})


def test_now_is_aware_utc_from_the_engine_clock(evaluator, frozen_clock):
    frozen_clock.move_to(datetime(2025, 3, 1, 9, 0, tzinfo=UTC))
    tomorrow = evaluator.evaluate("now() + timedelta(days=1)", {})
    assert tomorrow == datetime(2025, 3, 2, 9, 0, tzinfo=UTC)
    assert tomorrow.utcoffset() == timedelta(0)


def test_datetimes_in_the_data_can_be_compared(evaluator):
    names = {"received": datetime(2025, 3, 1, 9, 0, tzinfo=UTC), "due": date(2025, 3, 4)}
    assert evaluator.evaluate("(due - received.date()).days", names) == 3


def test_a_script_assigns_updates_and_deletes_task_variables(evaluator):
    data = {"count": 1, "items": ["a"], "scratch": "drop me", "kept": True}
    evaluator.execute("count += 1\nitems = items + ['b']\nlabel = f'{count} items'\ndel scratch", data)
    assert data == {"count": 2, "items": ["a", "b"], "label": "2 items", "kept": True}


def test_a_script_may_loop_a_bounded_amount(evaluator):
    data = {"values": [3, 1, 4, 1, 5]}
    evaluator.execute("total = 0\nfor v in values:\n    total += v\nn = 0\nwhile n < 1000:\n    n += 1", data)
    assert data["total"] == 14
    assert data["n"] == 1000


def test_helpers_and_functions_are_never_written_back(evaluator):
    data = {"age": 3}
    evaluator.execute(
        "clock = now\nsquare = lambda n: n * n\nfrom_helper = square(age)\n"
        "start = date(2025, 1, 1)\nfor _ in range(2): pass",
        data,
    )
    assert data == {"age": 3, "from_helper": 9, "start": date(2025, 1, 1)}


def test_a_failed_script_leaves_the_task_variables_as_they_were(evaluator):
    data = {"count": 1}
    with pytest.raises(ExpressionFailed):
        evaluator.execute("count = 2\nextra = 1\ncount / 0", data)
    assert data == {"count": 1}


def test_runtime_errors_carry_the_line_and_the_original_exception(evaluator):
    with pytest.raises(ExpressionFailed, match="ZeroDivisionError: division by zero") as failed:
        evaluator.execute("a = 1\nb = 0\n\nc = a / b\n", {})
    assert failed.value.line == 4
    assert isinstance(failed.value.__cause__, ZeroDivisionError)


@pytest.mark.parametrize(
    ("source", "message", "cause"),
    [
        ("foo", "name 'foo' is not defined", NameError),
        ("referral['missing']", "KeyError: 'missing'", KeyError),
        ("'a' + 1", "TypeError: can only concatenate str", TypeError),
        ("[n for n in [1, 2] if n > missing]", "name 'missing' is not defined", NameError),
    ],
)
def test_runtime_errors_are_wrapped(evaluator, source, message, cause):
    with pytest.raises(ExpressionFailed) as failed:
        evaluator.evaluate(source, {"referral": {}})
    assert failed.value.message.startswith(message)
    assert isinstance(failed.value.__cause__, cause)
    assert failed.value.line == 1


def test_names_that_are_not_helpers_are_simply_undefined(evaluator):
    with pytest.raises(ExpressionFailed, match="name 'print' is not defined"):
        evaluator.evaluate("print", {})


def test_the_same_source_is_checked_once(evaluator):
    source = "score > threshold"
    for score in range(50):
        evaluator.evaluate(source, {"score": score, "threshold": 10})
    cache = evaluator._compile_expression.cache_info()
    assert (cache.misses, cache.hits) == (1, 49)


def test_helpers_given_to_the_constructor_are_available():
    evaluator = Evaluator(helpers={"weekday_names": ("Mon", "Tue")})
    assert evaluator.evaluate("weekday_names[1]", {}) == "Tue"
    with pytest.raises(ValueError, match="public identifier"):
        Evaluator(helpers={"_hidden": 1})


# --- the SpiffWorkflow environment -------------------------------------------------------------------


def test_environment_evaluates_with_external_names_visible(evaluator):
    environment = RestrictedEnvironment(evaluator)
    assert environment.evaluate("dmninputexpr > limit", {"limit": 2}, {"dmninputexpr": 3}) is True
    assert environment.evaluate("limit", {"limit": 2}) == 2


def test_environment_executes_against_the_task_data_in_place(evaluator):
    environment = RestrictedEnvironment(evaluator)
    context = {"count": 1, "old": "x"}
    external = {"shared": [1, 2], "limit": 5}
    assert environment.execute("count = count + len(shared)\nlimit = 9\ndel old", context, external) is True
    assert context == {"count": 3}
    assert external == {"shared": [1, 2], "limit": 5}


def test_environment_refuses_service_calls(evaluator):
    with pytest.raises(ExpressionFailed, match="service calls are not configured"):
        RestrictedEnvironment(evaluator).call_service({}, operation_name="lookup")


@pytest.mark.parametrize("source", ['f"{x:>1000000000}"', "'%1000000000d' % x", "'%*d' % (1000000000, x)"])
def test_huge_format_widths_are_refused_before_they_allocate(source):
    with pytest.raises(ExpressionRejected, match="format widths"):
        Evaluator().check_expression(source)


def test_ordinary_format_specs_still_work():
    assert (
        Evaluator().evaluate('f"{x:>6.2f}|{y:04d}" + " %5d" % y', {"x": 3.14159, "y": 7})
        == "  3.14|0007     7"
    )


@pytest.mark.parametrize(
    "script",
    [
        "row = [0] * 1000000\nbig = [row] * 25",
        "row = [0] * 1000000\nbig = 25 * [row]",
        "row = [0] * 1000000\nbig = [[row]] * 25",
        "row = [0] * 1000000\nbig = [row]\nbig *= 25",
        "row = [0] * 100000\nbig = [{'a': row}] * 101",
    ],
)
def test_repeating_a_list_of_lists_counts_what_the_nested_lists_hold(evaluator, script):
    started = time.monotonic()
    with pytest.raises(ExpressionFailed, match="the result of '\\*' would hold more than 10,000,000 items"):
        evaluator.execute(script, {})
    assert time.monotonic() - started < 0.2  # refused, not allocated (the time bound is 0.2 s)


def test_repeating_a_small_list_of_lists_still_works(evaluator):
    data = {}
    evaluator.execute("grid = [[0] * 3] * 2\nrows = [['x' * 10] * 4] * 4", data)
    assert data["grid"] == [[0, 0, 0], [0, 0, 0]] and len(data["rows"]) == 4
