"""Refuses request input that no view can read safely, before any view or the database sees it.

A NUL character has no use in a referral, a pathway or an id, and PostgreSQL text cannot hold one, so a
query or insert carrying it would fail as a server error. JSON nested deeper than the parser's recursion
limit would fail the same way.

Numbers JSON does not have are refused too, naming where they are (a JSON pointer): ``NaN``, ``Infinity``
and ``-Infinity`` (Python's parser accepts them, but no JSON reader, PostgreSQL's included, does), a number
too large for a float (``1e999``) and an integer outside ±(2**53 - 1), the range every JSON reader holds
exactly (RFC 7493, I-JSON). That bound also keeps clear of Python's 4,300-digit limit on reading an integer.
Fields the store keeps in integer columns have tighter bounds of their own (``api/schemas.py``).

So is text holding a lone UTF-16 surrogate: JSON writes a character beyond U+FFFF as a pair of escapes
(``"\\ud83d\\ude00"``), which Python's parser joins into one character, but it also reads an escape
without its partner (``"\\ud800"``) as half a character that UTF-8 cannot encode: PostgreSQL refuses it,
and so would any answer or webhook carrying it. A string value or an object key holding one is refused,
naming its pointer.
"""

from __future__ import annotations

import json
import math
import re

from flask import Flask, request
from werkzeug.exceptions import BadRequest

NUL = "\x00"
LARGEST_JSON_INTEGER = 2**53 - 1  # I-JSON: integers beyond it are not exchanged exactly
# What is left of a UTF-16 surrogate once the parser has joined every well-formed pair: a lone half.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class _Unrepresentable:
    """Stands, in a parsed body, for a number JSON does not have; ``why`` says what it was."""

    def __init__(self, why: str):
        self.why = why


def _refuse_unreadable_input() -> None:
    places = {
        "the path": [request.path],
        "the query string": _names_and_values(request.args),
        "a header": [text for pair in request.headers.items() for text in pair],
    }
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        places["a form field"] = _names_and_values(request.form)
        places["a file name"] = [f.filename or "" for _name, f in request.files.items(multi=True)]
    if request.is_json:
        body = _parse_json(request.get_data(cache=True))
        _refuse_unrepresentable_values(body)
        places["the JSON body"] = _strings_in(body)
    for place, values in places.items():
        if any(isinstance(value, str) and NUL in value for value in values):
            raise BadRequest(f"NUL characters are not allowed in request values (found in {place})")


def _parse_json(data: bytes):
    """The body as the views will read it, with each number JSON does not have as an ``_Unrepresentable``
    (a body that is not JSON at all is the views' to refuse, as before)."""
    if not data:
        return None
    try:
        return json.loads(
            data,
            parse_constant=lambda name: _Unrepresentable(f"{name}, which JSON does not have"),
            parse_float=_float,
            parse_int=_integer,
        )
    except RecursionError:
        raise BadRequest("the JSON body is nested too deeply") from None
    except ValueError:
        return None


def _float(text: str):
    number = float(text)
    return number if math.isfinite(number) else _Unrepresentable(f"{text[:20]}, too large for a number")


def _integer(text: str):
    digits = len(text.lstrip("-"))
    if digits > len(str(LARGEST_JSON_INTEGER)) or abs(int(text)) > LARGEST_JSON_INTEGER:
        shown = text if digits <= 20 else f"an integer of {digits} digits"
        return _Unrepresentable(f"{shown}, outside ±{LARGEST_JSON_INTEGER} (2**53 - 1)")
    return int(text)


def _refuse_unrepresentable_values(body) -> None:
    """Raise ``BadRequest`` naming, by its JSON pointer, the first number JSON does not have or the first
    string or object key holding a lone surrogate, in the order the body gives them."""
    pending = [("", None, body)]  # (pointer, the object key leading there, the value there)
    while pending:
        pointer, key, item = pending.pop()
        if isinstance(key, str):
            _refuse_lone_surrogate(key, f"key at {_shown(pointer)}")
        where = f"value at {_shown(pointer)}" if pointer else "whole value"
        if isinstance(item, _Unrepresentable):
            raise BadRequest(
                f"the JSON body's {where} is {item.why}: send a finite number within "
                f"±{LARGEST_JSON_INTEGER}, or a string"
            )
        if isinstance(item, str):
            _refuse_lone_surrogate(item, where)
            continue
        if isinstance(item, dict):
            children = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        pending.extend((f"{pointer}/{_escaped(k)}", k, value) for k, value in reversed(list(children)))


def _refuse_lone_surrogate(text: str, where: str) -> None:
    found = LONE_SURROGATE.search(text)
    if found:
        raise BadRequest(
            f"the JSON body's {where} holds a lone UTF-16 surrogate ({_shown(found.group())}), half of a "
            "character that no text encoding can hold: write a character beyond U+FFFF as both halves of "
            "its surrogate pair (\\ud83d\\ude00) or as UTF-8"
        )


def _shown(text: str) -> str:
    """``text`` with each lone surrogate written as its JSON escape, so that an answer naming it encodes."""
    return LONE_SURROGATE.sub(lambda half: f"\\u{ord(half.group()):04x}", text)


def _escaped(key) -> str:
    """A key as a JSON pointer (RFC 6901) writes it."""
    return str(key).replace("~", "~0").replace("/", "~1")


def _names_and_values(multidict) -> list[str]:
    return [text for pair in multidict.items(multi=True) for text in pair]


def _strings_in(value) -> list[str]:
    """Every string in a parsed JSON value, keys included (iteratively: the value may be deeply nested)."""
    found, pending = [], [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            found.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


def register(app: Flask) -> None:
    app.before_request(_refuse_unreadable_input)
