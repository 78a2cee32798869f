"""A blueprint's local variants in the browser, against a real `signpost serve`: the console's referral page
says which variant a referral runs, and the studio's library lists a blueprint version's variants with their
approval and the referrals started on each."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CONSOLE
from tests.browser.test_studio import assert_accessible, sign_in, sign_in_with
from tests.conftest import pathway_files
from tests.support.personas import GP, Persona

pytestmark = [pytest.mark.wall_clock, CONSOLE]

PATHWAY = "adult_social_care_front_door"
COUNTY = "county-customer-service-centre"
COUNTY_OPERATOR = Persona("county duty desk", "leicestershire-county-council", ("operator",), COUNTY)


@pytest.fixture
def county_referral(signpost, enrolled) -> dict:
    """A referral to the county's front door (the front door deployed as a blueprint with its variants)."""
    signpost.definitions.deploy(
        pathway_files(
            "adult_social_care_front_door.bpmn",
            "adult_social_care_eligibility.dmn",
            "adult_social_care_front_door.variants.toml",
        ),
        "tests",
    )
    referral, _ = signpost.referrals.start(
        enrolled(GP).client,
        pathway=PATHWAY,
        version=None,
        referrer="C81001",
        subject="9434765919",
        point_of_access=COUNTY,
        data={
            "needs_description": "Struggling to wash and dress since a fall",
            "need_type": "personal_care",
            "address_postcode": "LE11 3AB",
            "age": 82,
            "consent_given": True,
            "safeguarding_concern": False,
            "risk_indicators": None,
            "open_case_worker": None,
        },
    )
    assert referral["variant"] == "county"
    return referral


def test_the_referral_page_says_which_variant_and_the_library_lists_them(
    page: Page, studio, county_referral, enrolled, designer_token
):
    sign_in_with(page, enrolled(COUNTY_OPERATOR).token)
    page.goto(f"/console/referrals/{county_referral['id']}")
    facts = page.locator(".referral-facts")
    expect(facts).to_contain_text("Local variant")
    expect(facts.locator("dd.variant")).to_have_text("county")
    assert_accessible(page, "a referral on a blueprint's variant")

    page.context.clear_cookies()
    sign_in(page, designer_token)
    variants = page.locator("table.library tbody", has_text=PATHWAY).locator(".variants")
    expect(variants).to_contain_text("Blueprint: 3 local variants")
    county = variants.locator("li[data-variant='county']")
    expect(county).to_contain_text("Draft")
    expect(county).to_contain_text(COUNTY)
    expect(county).to_contain_text("1 referral")
    assert_accessible(page, "the library with a blueprint's variants")
