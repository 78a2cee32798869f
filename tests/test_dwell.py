"""Where referrals wait (``GET /api/v1/reports/pathways/{key}/versions/{n}/dwell``): per element of a pathway
version, the referrals that passed it and how long it held them, from their event logs."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from tests import bpmn_samples as samples
from tests.conftest import START
from tests.support.personas import Persona

OTHER_TRUST_OPERATOR = Persona("other trust operator", "other-trust", ("operator",))
PERIOD = {"from": (START - timedelta(days=1)).isoformat(), "to": (START + timedelta(days=1)).isoformat()}
URL = "/api/v1/reports/pathways/sample/versions/1/dwell"


@pytest.fixture
def reviewed(signpost, gp, practice_operator):
    """Three referrals whose "Review" task was completed after 10, 20 and 60 minutes, and one still open."""
    signpost.definitions.deploy([samples.source(samples.script_then_user_task())], "tests")
    for number, minutes in enumerate((10, 20, 60, None)):
        started_at = START + timedelta(hours=number)
        with time_machine.travel(started_at, tick=False):
            referral, _ = signpost.referrals.start(
                gp, pathway="sample", version=None, referrer="r", subject=None, data={}
            )
        if minutes is not None:
            [task] = referral["waiting_for"]["tasks"]
            with time_machine.travel(started_at + timedelta(minutes=minutes), tick=False):
                signpost.referrals.complete_task(task["id"], {}, practice_operator)


def test_each_element_says_how_many_referrals_passed_and_how_long_it_held_them(
    http, reviewed, practice_operator_headers, designer_headers
):
    answer = http.get(URL, query_string=PERIOD, headers=practice_operator_headers)
    assert answer.status_code == 200, answer.json
    assert answer.json["referrals"] == 4
    by_element = {e["element_id"]: e for e in answer.json["elements"]}
    assert by_element["review"] == {
        "element_id": "review",
        "passed": 3,
        "median_seconds": 1200,
        "p90_seconds": 3600,
    }
    # An automated step completes in the same change as the one before it: it holds nobody.
    assert by_element["compute"]["passed"] == 4 and by_element["compute"]["median_seconds"] == 0
    assert answer.json["elements"][0]["element_id"] == "review"  # the longest stay first
    # A designer reads the same figures (and no referral).
    assert http.get(URL, query_string=PERIOD, headers=designer_headers).json == answer.json


def test_another_organisations_operator_counts_none_of_them(http, reviewed, enrolled):
    answer = http.get(URL, query_string=PERIOD, headers=enrolled(OTHER_TRUST_OPERATOR).headers)
    assert answer.status_code == 200
    assert answer.json["referrals"] == 0 and answer.json["elements"] == []


def test_bad_requests_are_refused(http, reviewed, practice_operator_headers):
    backwards = {"from": PERIOD["to"], "to": PERIOD["from"]}
    refused = http.get(URL, query_string=backwards, headers=practice_operator_headers)
    assert refused.status_code == 422 and "'to' must be after its 'from'" in refused.json["detail"]
    missing = http.get(
        "/api/v1/reports/pathways/sample/versions/9/dwell",
        query_string=PERIOD,
        headers=practice_operator_headers,
    )
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
