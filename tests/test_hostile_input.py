"""Numbers JSON does not have, sent by a referrer and by an operator: each is a 400 naming where it is, and
nothing changes. Python's parser reads ``NaN``, ``Infinity`` and 5,000-digit integers; PostgreSQL, Python's
own integer reader and most JSON readers do not, so they once ended as server errors on every retry."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from tests.support.referrals import REFERRAL

LARGEST = 2**53 - 1
HOSTILE = {
    "NaN": ("NaN", "NaN"),
    "Infinity": ("Infinity", "Infinity"),
    "-Infinity": ("-Infinity", "-Infinity"),
    "a float too large": ("1e999", "too large for a number"),
    "a 5,000-digit integer": ("9" * 5000, "an integer of 5000 digits"),
    "one past 2**53 - 1": (str(LARGEST + 1), str(LARGEST + 1)),
    "one below -(2**53 - 1)": (str(-LARGEST - 1), str(-LARGEST - 1)),
}


def raw_post(http, url: str, body: str, headers: dict):
    return http.post(url, data=body, content_type="application/json", headers=headers)


def referral_body(value: str) -> str:
    """A complete referral whose data holds ``value`` at /data/scores/1, written as JSON text."""
    text = json.dumps({**REFERRAL, "data": {**REFERRAL["data"], "scores": [1, "__VALUE__"]}})
    return text.replace('"__VALUE__"', value)


def count(signpost, table: str) -> int:
    with signpost.database.read() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608 - a test's own name


def assert_refused(response, pointer: str, said: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    detail = response.json["detail"]
    assert f"at {pointer} is" in detail and said in detail, detail


@pytest.mark.parametrize("value, said", HOSTILE.values(), ids=HOSTILE.keys())
def test_starting_a_referral_with_a_number_json_does_not_have_is_refused_and_starts_nothing(
    signpost, http, nursing, gp_headers, value, said
):
    refused = raw_post(http, "/api/v1/referrals", referral_body(value), gp_headers)
    assert_refused(refused, "/data/scores/1", said)
    assert count(signpost, "referrals") == count(signpost, "instances") == 0


def test_the_bounds_themselves_are_accepted(http, nursing, gp_headers):
    started = raw_post(http, "/api/v1/referrals", referral_body(f"{-LARGEST}, {LARGEST}, 1e308"), gp_headers)
    assert started.status_code == 201, started.json


@pytest.fixture
def open_task(http, nursing, gp_headers, operator_headers) -> tuple[dict, dict]:
    """A referral waiting for the point of access's operator to supply its clinical need, and that task."""
    incomplete = {**REFERRAL, "data": {**REFERRAL["data"], "clinical_need": None}}
    referral = http.post("/api/v1/referrals", json=incomplete, headers=gp_headers).json
    [task] = http.get(f"/api/v1/tasks?referral={referral['id']}", headers=operator_headers).json
    return referral, task


@pytest.mark.parametrize("value, said", HOSTILE.values(), ids=HOSTILE.keys())
def test_completing_a_task_with_a_number_json_does_not_have_is_refused_and_the_task_stays_open(
    signpost, http, open_task, operator_headers, gp_headers, value, said
):
    referral, task = open_task
    events_before = count(signpost, "instance_events")
    body = '{"data": {"clinical_need": "catheter", "wound_size_cm": %s}}' % value  # noqa: UP031 - raw JSON
    refused = raw_post(http, f"/api/v1/tasks/{task['id']}/complete", body, operator_headers)
    assert_refused(refused, "/data/wound_size_cm", said)
    assert count(signpost, "instance_events") == events_before

    # Nothing changed: the task is still open and completes with numbers JSON has.
    [still_open] = http.get(f"/api/v1/tasks?referral={referral['id']}", headers=operator_headers).json
    assert still_open["id"] == task["id"]
    done = raw_post(
        http,
        f"/api/v1/tasks/{task['id']}/complete",
        '{"data": {"clinical_need": "catheter", "wound_size_cm": 4.5}}',
        operator_headers,
    )
    assert done.status_code == 200, done.json
    assert http.get(f"/api/v1/referrals/{referral['id']}", headers=gp_headers).status_code == 200


def test_the_pointer_escapes_keys_and_a_constant_at_the_top_of_the_body_is_named_too(http, gp_headers):
    # RFC 6901: "~" is written "~0" and "/" is written "~1".
    body = '{"correlation": {"a/b~c": -Infinity}, "name": "x"}'
    assert_refused(raw_post(http, "/api/v1/messages", body, gp_headers), "/correlation/a~1b~0c", "-Infinity")
    top = raw_post(http, "/api/v1/referrals", "NaN", gp_headers)
    assert top.status_code == 400 and "whole value is NaN" in top.json["detail"], top.json


# ---- text JSON can write but no Unicode encoding can hold ---------------------------------------------
# JSON writes characters beyond U+FFFF as a UTF-16 surrogate pair ("\ud83d\ude00"); a surrogate escape without
# its partner reads as half a character that UTF-8, PostgreSQL and every response encoder refuse.

LONE_SURROGATES = {
    "a lone high surrogate": ("\\ud800", "\\ud800"),
    "a lone low surrogate": ("\\udfff", "\\udfff"),
    "a high surrogate ending the text": ("smile \\ud83d", "\\ud83d"),
    "a pair written the wrong way round": ("\\ude00\\ud83d", "\\ude00"),
}


def assert_surrogate_refused(response, pointer: str, said: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    detail = response.json["detail"]
    assert f"at {pointer} holds a lone UTF-16 surrogate ({said})" in detail, detail


@pytest.mark.parametrize("escaped, said", LONE_SURROGATES.values(), ids=LONE_SURROGATES.keys())
def test_starting_a_referral_with_a_lone_surrogate_is_refused_and_starts_nothing(
    signpost, http, nursing, gp_headers, escaped, said
):
    refused = raw_post(http, "/api/v1/referrals", referral_body(f'"{escaped}"'), gp_headers)
    assert_surrogate_refused(refused, "/data/scores/1", said)
    assert count(signpost, "referrals") == count(signpost, "instances") == 0


def test_a_lone_surrogate_in_a_key_is_refused_and_its_pointer_written_out(
    signpost, http, nursing, gp_headers
):
    body = referral_body('{"note \\udc00": {"a/b": 1}}')
    refused = raw_post(http, "/api/v1/referrals", body, gp_headers)
    # The detail writes the surrogate out as its escape, so that the answer itself can be encoded.
    assert_surrogate_refused(refused, "/data/scores/1/note \\udc00", "\\udc00")
    assert "the JSON body's key at" in refused.json["detail"]
    assert count(signpost, "referrals") == 0


def test_completing_a_task_with_a_lone_surrogate_is_refused_and_the_task_stays_open(
    signpost, http, open_task, operator_headers
):
    referral, task = open_task
    events_before = count(signpost, "instance_events")
    body = '{"data": {"clinical_need": "catheter", "notes": ["fine", "\\ud800"]}}'
    refused = raw_post(http, f"/api/v1/tasks/{task['id']}/complete", body, operator_headers)
    assert_surrogate_refused(refused, "/data/notes/1", "\\ud800")
    assert count(signpost, "instance_events") == events_before
    [still_open] = http.get(f"/api/v1/tasks?referral={referral['id']}", headers=operator_headers).json
    assert still_open["id"] == task["id"]


def test_a_lone_surrogate_bound_for_a_text_column_is_refused_not_a_server_error(
    signpost, http, nursing, gp_headers
):
    """A cancellation's reason is stored as text, which UTF-8 (SQLite's and PostgreSQL's) cannot encode it in:
    this was a 500."""
    started = http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers)
    assert started.status_code == 201, started.json
    cancel = f"/api/v1/referrals/{started.json['id']}/cancel"
    refused = raw_post(http, cancel, '{"reason": "resolved \\udfff"}', gp_headers)
    assert_surrogate_refused(refused, "/reason", "\\udfff")
    read = http.get(f"/api/v1/referrals/{started.json['id']}", headers=gp_headers)
    assert read.json["status"] != "cancelled", read.json

    cancelled = raw_post(http, cancel, '{"reason": "resolved \\ud83d\\ude00"}', gp_headers)
    assert cancelled.status_code == 200, cancelled.json


def test_a_surrogate_pair_is_one_character_and_is_accepted(signpost, http, nursing, gp_headers):
    started = raw_post(http, "/api/v1/referrals", referral_body('"smile \\ud83d\\ude00"'), gp_headers)
    assert started.status_code == 201, started.json
    read = http.get(f"/api/v1/referrals/{started.json['id']}", headers=gp_headers)
    assert read.status_code == 200, read.json
    assert read.json["data"]["scores"] == [1, "smile \N{GRINNING FACE}"]
