"""processes/first_contact_plus.bpmn end to end through the HTTP API: a portal referral sign-posted to two
services of the directory (hand-offs of type "sign-post": acknowledged, never accepted), a follow-up two weeks
later that asks the person, and the outcome recorded with the sign-posting closed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.pathway_desk import PathwayDesk

PATHWAY = "first_contact_plus"
FILES = ("first_contact_plus.bpmn", "first_contact_plus_signposting.dmn")
AGE_UK = "age-uk-leicestershire-rutland"
CARERS = "carers-support"


@pytest.fixture
def desk(http, signpost, frozen_clock):
    return PathwayDesk.deployed(http, signpost, frozen_clock, "first-contact-plus", PATHWAY, FILES)


def test_a_portal_referral_is_sign_posted_followed_up_and_its_outcome_recorded(desk):
    started = desk.start(
        PATHWAY,
        {
            "channel": "portal",
            "needs": ["social_isolation", "caring_for_someone"],
            "contact_phone": "07700 900123",
            "consent_to_share": True,
            "referral_notes": "Cares for her mother",
        },
        referrer="portal-user-7",
    )
    assert [(h["to_service"], h["referral_type"], h["status"]) for h in started["handoffs"]] == [
        (AGE_UK, "sign-post", "requested"),
        (CARERS, "sign-post", "requested"),
    ]
    assert started["data"]["signpost_reasons"] == ["Befriending and social groups", "Support for carers"]
    assert started["waiting_for"]["tasks"] == []
    [timer] = started["waiting_for"]["timers"]
    assert timer["name"] == "Follow-up due"

    desk.service_acts(AGE_UK, "acknowledge")
    assert desk.wait(timedelta(days=13))["waiting_for"]["external_tasks"] == []
    asking = desk.wait(timedelta(days=1, minutes=1))
    assert [t["topic"] for t in asking["waiting_for"]["external_tasks"]] == ["first-contact-plus-follow-up"]

    done = desk.external_task(
        "first-contact-plus-follow-up", {"follow_up_outcome": "helped", "follow_up_notes": "carers group"}
    )
    assert done["status"] == "completed"
    assert done["data"]["signposting_outcome"] == {"outcome": "helped", "services": [AGE_UK, CARERS]}
    assert [(h["status"], h["business_status"]) for h in done["handoffs"]] == [
        ("cancelled", "closed by the point of access"),
        ("cancelled", "closed by the point of access"),
    ]
    assert done["status_text"] == "Sign-posting followed up: helped"
