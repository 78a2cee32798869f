"""Checking the data that completes a task against its form, field by field, as form-js's own validator does.

Per field (``form_schema.py`` says which fields and checks a form may have): an empty answer (absent, null,
``""``, ``[]``, an unticked checkbox) is refused when the field is required and accepted otherwise; any other
answer must have the field's type (text, a number, true or false, one or several of the listed values, an
ISO 8601 date or time) and keep its bounds (lengths counted without surrounding spaces, as form-js counts
them; numbers within min and max, with at most ``decimalDigits`` decimals and a multiple of ``increment``) and
its pattern (searched for anywhere in the text, as a JavaScript ``RegExp.test`` does). A key that is not a
field of the form, or is a disabled one (shown, never sent), is refused too: a form decides what a task's
completion may write into the pathway's data. A message says what the field needs, never what was sent (an
answer may be personal data).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from numbers import Real

import regex

_MISSING = object()
# As form-js checks them (an address with a domain; an international number).
EMAIL = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
PHONE = re.compile(r"^(\+|00)[1-9]\d{6,19}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?$")
# A designer's regular expression must not make one request take the server's time: a pattern is searched
# for (with the ``regex`` module, which can stop) for at most this long, and not in longer text; the answer
# is refused instead, with a sentence. (form_schema.py refuses the shape that backtracks exponentially.)
PATTERN_TIME_LIMIT_SECONDS = 0.25
LONGEST_TEXT_FOR_PATTERN = 10_000


def field_errors(
    fields: Mapping[str, dict], disabled, data: dict, today: date | None
) -> list[dict[str, str]]:
    """Every problem of ``data`` against a form's ``fields`` (by key), as ``{"field", "message"}``."""
    errors = []
    for key, component in fields.items():
        if key in disabled:
            continue
        message = value_problem(component, data.get(key, _MISSING), today)
        if message:
            errors.append({"field": key, "message": message})
    for key in sorted(k for k in data if k not in fields or k in disabled):
        why = (
            "is disabled on the form: it is shown, never sent"
            if key in fields
            else "is not a field of the form"
        )
        errors.append({"field": key, "message": why})
    return errors


def value_problem(component: dict, value, today: date | None) -> str | None:
    """What is wrong with ``value`` as the answer to one field (None when nothing is). ``today`` is None to
    skip the check of past dates (a default value has no day)."""
    kind = component["type"]
    checks = component.get("validate") or {}
    if _empty(kind, value):
        return "is required" if checks.get("required") else None
    return _CHECKS[kind](component, checks, value, today)


def _empty(kind: str, value) -> bool:
    return (
        value is _MISSING
        or value is None
        or (isinstance(value, str) and value == "")
        or (isinstance(value, list) and not value)
        or (kind == "checkbox" and value is False)
    )


def _text(component: dict, checks: dict, value, _today) -> str | None:
    if not isinstance(value, str):
        return "must be text"
    length = len(value.strip())
    if "minLength" in checks and length < checks["minLength"]:
        return f"must be at least {checks['minLength']} characters long"
    if "maxLength" in checks and length > checks["maxLength"]:
        return f"must be at most {checks['maxLength']} characters long"
    pattern = checks.get("pattern")
    if pattern:
        if len(value) > LONGEST_TEXT_FOR_PATTERN:
            return f"is longer than the {LONGEST_TEXT_FOR_PATTERN:,} characters checked against a pattern"
        try:
            found = regex.search(pattern, value, timeout=PATTERN_TIME_LIMIT_SECONDS)
        except TimeoutError:
            return "took too long to check against its pattern: the pathway's designer should simplify it"
        if not found:
            return checks.get("patternErrorMessage") or f"must match the pattern {pattern}"
    kind = checks.get("validationType")
    if kind == "email" and not EMAIL.match(value):
        return "must be an email address"
    if kind == "phone" and not PHONE.match(value.replace(" ", "")):
        return "must be an international phone number (e.g. +441162951234)"
    return None


def _number(component: dict, checks: dict, value, _today) -> str | None:
    as_text = component.get("serializeToString") is True
    if (
        isinstance(value, bool)
        or not isinstance(value, (Real, str))
        or (isinstance(value, str) and not as_text)
    ):
        return "must be a number" + (" (sent as text)" if as_text else "")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else repr(value))
    except InvalidOperation:
        return "must be a number"
    if not number.is_finite() or (isinstance(value, float) and not math.isfinite(value)):
        return "must be a finite number"
    if "min" in checks and number < Decimal(repr(checks["min"])):
        return f"must be at least {checks['min']}"
    if "max" in checks and number > Decimal(repr(checks["max"])):
        return f"must be at most {checks['max']}"
    digits = component.get("decimalDigits")
    if digits is not None and -number.as_tuple().exponent > digits:
        return "must be a whole number" if digits == 0 else f"must have at most {digits} decimal digits"
    increment = component.get("increment")
    try:
        if increment and number % Decimal(repr(increment)) != 0:
            return f"must be a multiple of {increment}"
    except InvalidOperation:
        return f"is too large to check as a multiple of {increment}"
    return None


def _checkbox(_component: dict, _checks: dict, value, _today) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _options(component: dict) -> list:
    return [option["value"] for option in component.get("values") or []]


def _listed(options: list, value) -> bool:
    # 1 == True in Python; an answer of true is not the option 1.
    return not isinstance(value, bool) and any(type(value) is type(o) and value == o for o in options)


def _one_of(component: dict, _checks: dict, value, _today) -> str | None:
    options = _options(component)
    if _listed(options, value):
        return None
    return f"must be one of: {', '.join(map(str, options))}"


def _some_of(component: dict, _checks: dict, value, _today) -> str | None:
    options = _options(component)
    if not isinstance(value, list):
        return "must be a list of the options chosen"
    if not all(_listed(options, v) for v in value):
        return f"may hold only these options: {', '.join(map(str, options))}"
    if len({repr(v) for v in value}) != len(value):
        return "lists an option twice"
    return None


def _datetime(component: dict, _checks: dict, value, today: date | None) -> str | None:
    subtype = component.get("subtype", "date")
    if not isinstance(value, str):
        return "must be text: an ISO 8601 " + subtype
    day = None
    try:
        if subtype == "date":
            day = date.fromisoformat(value) if DATE.match(value) else None
            if day is None:
                return "must be a date (YYYY-MM-DD)"
        elif subtype == "time":
            return None if TIME.match(value) else "must be a time (HH:MM, optionally with a UTC offset)"
        else:
            if "T" not in value:
                return "must be a date and time (YYYY-MM-DDTHH:MM, optionally with a UTC offset)"
            day = datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return f"must be a valid {subtype} in ISO 8601"
    if today is not None and component.get("disallowPassedDates") and day < today:
        return "must not be in the past"
    return None


_CHECKS = {
    "textfield": _text,
    "textarea": _text,
    "number": _number,
    "checkbox": _checkbox,
    "radio": _one_of,
    "select": _one_of,
    "checklist": _some_of,
    "taglist": _some_of,
    "datetime": _datetime,
}
