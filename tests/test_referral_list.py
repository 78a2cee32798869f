"""The referrals a caller may see, newest first, a page at a time (``GET /api/v1/referrals`` without a
subject): a referrer's organisation's, an operator's point of access's — what the console's lists show."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine

from tests.conftest import START
from tests.support.personas import Persona

OTHER_PRACTICE = Persona("other gp", "C82002", ("referrer",))


def referral(nhs_number: str = "9434765919") -> dict:
    return {
        "pathway": "community_nursing_referral",
        "referrer": "C81001",
        "subject": nhs_number,
        "data": {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False},
    }


@pytest.fixture
def started(http, nursing, gp_headers, enrolled):
    """Five referrals by the GP practice a minute apart (the last two at the same instant) and one by
    another practice: the ids of the practice's, oldest first."""
    ids = []
    with time_machine.travel(START, tick=False) as traveller:
        for minute in (0, 1, 2, 3, 3):
            traveller.move_to(START + timedelta(minutes=minute))
            answer = http.post("/api/v1/referrals", json=referral(), headers=gp_headers)
            assert answer.status_code == 201, answer.json
            ids.append(answer.json["id"])
        elsewhere = http.post("/api/v1/referrals", json=referral(), headers=enrolled(OTHER_PRACTICE).headers)
        assert elsewhere.status_code == 201, elsewhere.json
    return ids


def next_page(answer) -> dict | None:
    link = answer.headers.get("Link")
    if link is None:
        return None
    target, _, relation = link.partition(";")
    assert relation.strip() == 'rel="next"'
    return {name: values[0] for name, values in parse_qs(urlparse(target.strip("<>")).query).items()}


def test_a_referrer_pages_through_its_organisations_referrals_newest_first(http, started, gp_headers):
    seen, query, pages = [], {"limit": 2}, 0
    while query is not None:
        answer = http.get("/api/v1/referrals", query_string=query, headers=gp_headers)
        assert answer.status_code == 200, answer.json
        assert len(answer.json) <= 2
        seen += [r["id"] for r in answer.json]
        query, pages = next_page(answer), pages + 1
    assert pages == 3
    # Newest first; the two made at the same instant both appear, once each, in a stable order.
    assert seen[:2] == sorted(started[3:], reverse=True)
    assert seen[2:] == started[2::-1]
    first = http.get("/api/v1/referrals", headers=gp_headers).json[0]
    assert first["status_text"] and first["pathway"]["key"] == "community_nursing_referral"


def test_an_operator_sees_its_point_of_access_referrals_and_another_practice_sees_only_its_own(
    http, started, operator_headers, enrolled
):
    operated = http.get("/api/v1/referrals", query_string={"limit": 100}, headers=operator_headers)
    assert operated.status_code == 200 and len(operated.json) == 6  # both practices refer to the trust
    theirs = http.get("/api/v1/referrals", headers=enrolled(OTHER_PRACTICE).headers)
    assert len(theirs.json) == 1 and theirs.json[0]["id"] not in started
    assert "Link" not in theirs.headers


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"after": "not-a-cursor"}, "'after' must be the cursor of a page of referrals"),
        ({"after": "MjAyNi0xMS0yM3w"}, "'after' must be the cursor of a page of referrals"),
        ({"subject": "9434765919", "after": "x"}, "leave it out with 'subject'"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
    ],
)
def test_bad_paging_is_refused_saying_why(http, started, gp_headers, query, detail):
    answer = http.get("/api/v1/referrals", query_string=query, headers=gp_headers)
    assert answer.status_code in (400, 422) and answer.mimetype == "application/problem+json"
    assert detail in str(answer.json)


def test_a_referral_read_again_unchanged_is_not_sent_again(http, started, gp_headers, nursing_team_headers):
    referral_id = started[0]
    with time_machine.travel(START + timedelta(minutes=10), tick=False) as traveller:
        first = http.get(f"/api/v1/referrals/{referral_id}", headers=gp_headers)
        etag = first.headers["ETag"]
        assert first.status_code == 200 and etag.startswith('W/"')
        assert "no-cache" in first.headers["Cache-Control"]

        traveller.shift(timedelta(minutes=5))  # the clocks count on; nothing shown changed
        again = http.get(f"/api/v1/referrals/{referral_id}", headers={**gp_headers, "If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag

        [handoff] = first.json["handoffs"]
        acknowledged = http.post(
            f"/api/v1/handoffs/{handoff['id']}/acknowledge", headers=nursing_team_headers
        )
        assert acknowledged.status_code == 200, acknowledged.json
        changed = http.get(f"/api/v1/referrals/{referral_id}", headers={**gp_headers, "If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["ETag"] != etag
        assert changed.json["handoffs"][0]["status"] != handoff["status"]
