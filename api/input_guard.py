"""Refuses request input that no view can read safely, before any view or the database sees it.

A NUL character has no use in a referral, a pathway or an id, and PostgreSQL text cannot hold one, so a
query or insert carrying it would fail as a server error. JSON nested deeper than the parser's recursion
limit would fail the same way.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import BadRequest

NUL = "\x00"


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
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            raise BadRequest("the JSON body is nested too deeply") from None
        places["the JSON body"] = _strings_in(body)
    for place, values in places.items():
        if any(isinstance(value, str) and NUL in value for value in values):
            raise BadRequest(f"NUL characters are not allowed in request values (found in {place})")


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
