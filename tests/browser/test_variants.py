"""A blueprint's local variants in the browser, against a real `signpost serve`: the console's referral page
says which variant a referral runs, the studio's library lists a blueprint version's variants with their
approval and the referrals started on each, and the review page approves each variant on its own (the
person who deployed the version is refused, and nothing changes)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CONSOLE, VIEWPORT, call
from tests.browser.test_studio import assert_accessible, sign_in, sign_in_with
from tests.conftest import pathway_files
from tests.support.personas import GP, Persona

pytestmark = [pytest.mark.wall_clock, CONSOLE]

PATHWAY = "adult_social_care_front_door"
COUNTY = "county-customer-service-centre"
COUNTY_OPERATOR = Persona("county duty desk", "leicestershire-county-council", ("operator",), COUNTY)


# Who deploys the front door (and so may not approve its variants), and a second clinical approver who may.
DEPLOYER = Persona("front door designer", "signpost-design", ("designer", "clinical-approver"))
APPROVER = Persona("adult social care clinical lead", "signpost-design", ("clinical-approver",))
REASON = "Checked the county's crisis response service, its two-day routine assessment and urgency from 85"


def deploy_front_door(signpost, deployed_by: str) -> None:
    """The front door deployed as a blueprint with its variants (city, county, Rutland), as version 1."""
    deployed = signpost.definitions.deploy(
        pathway_files(
            "adult_social_care_front_door.bpmn",
            "adult_social_care_eligibility.dmn",
            "adult_social_care_front_door.variants.toml",
        ),
        deployed_by,
    )
    assert deployed.number == 1


@pytest.fixture
def county_referral(signpost, enrolled) -> dict:
    """A referral to the county's front door (the front door deployed as a blueprint with its variants)."""
    deploy_front_door(signpost, "tests")
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


def approvals(studio, token: str) -> dict[str, str]:
    """Each variant's approval, as the API gives version 1 of the front door."""
    version = call(studio, token, "GET", f"/api/v1/definitions/{PATHWAY}/versions/1")
    return {variant["name"]: variant["approval"] for variant in version["variants"]}


def test_a_clinical_approver_approves_one_variant_on_the_review_page_and_the_deployer_is_refused(
    page: Page, studio, signpost, enrolled, shots
):
    deployer = enrolled(DEPLOYER)
    deploy_front_door(signpost, deployer.client.actor)
    review = f"/studio/pathways/{PATHWAY}/versions/1/approve"
    unapproved = {"city": "draft", "county": "draft", "rutland": "draft"}

    # The person who deployed it tries to approve the county's variant: refused, and nothing changes.
    sign_in(page, deployer.token)
    page.goto(review)
    county = page.locator("li.variant-review[data-variant='county']")
    county.get_by_label("Reason for approving the county variant").fill("I wrote these values myself")
    county.get_by_role("button", name="Approve the county variant").click()
    refusal = county.get_by_role("alert")
    expect(refusal).to_contain_text("the person who deployed a version cannot also approve its variants")
    expect(refusal).to_contain_text("Nothing was changed")
    expect(county.get_by_role("button", name="Approve the county variant")).to_be_enabled()
    expect(county.locator(".approved-status")).to_have_count(0)
    assert approvals(studio, deployer.token) == unapproved

    # A second clinical approver opens the review from the library and sees the three variants, unapproved.
    approver = enrolled(APPROVER)
    page.context.clear_cookies()
    sign_in(page, approver.token)
    page.get_by_role("link", name="Review and approve Adult social care front door, version 1").click()
    section = page.get_by_role("region", name="Local variants")
    expect(section).to_be_visible()
    expect(section.locator("li.variant-review")).to_have_count(3)
    for name in unapproved:
        variant = section.locator(f"li.variant-review[data-variant='{name}']")
        expect(variant.locator(".variant-pending")).to_contain_text("Draft")
        expect(variant.get_by_role("button", name=f"Approve the {name} variant")).to_be_disabled()
    county = section.locator("li.variant-review[data-variant='county']")
    expect(county).to_contain_text("Runs for referrals at county-customer-service-centre")
    values = county.get_by_role("table", name="Local values of the county variant")
    expect(values.locator("tr", has_text="urgent_from_age").locator("td")).to_have_text(
        ["85", "this variant"]
    )
    expect(values.locator("tr", has_text="duty_team_calendar").locator("td")).to_have_text(
        ["office-hours", "the blueprint (default)"]
    )
    assert_accessible(page, "the review page with a blueprint's variants")

    # The county's variant approved with a reason: the form gives way to the approval, announced.
    county.get_by_label("Reason for approving the county variant").fill(REASON)
    approve = county.get_by_role("button", name="Approve the county variant")
    expect(approve).to_be_enabled()
    # shots() pictures the top of the page: the window is made as tall as the page to show the variants.
    page.set_viewport_size({**VIEWPORT, "height": page.evaluate("document.body.scrollHeight")})
    shots(page, "variant-approval")
    page.set_viewport_size(VIEWPORT)
    approve.click()
    approved = county.locator(".approved-status")
    expect(approved).to_contain_text("approved by adult social care clinical lead")
    expect(approved).to_contain_text(REASON)
    expect(county.locator("form")).to_have_count(0)
    expect(page.locator("#announcer")).to_have_text("The county variant approved.")
    for name in ("city", "rutland"):
        expect(section.locator(f"li.variant-review[data-variant='{name}'] .variant-pending")).to_be_visible()
    assert_accessible(page, "the review page with a variant approved")

    version = call(studio, approver.token, "GET", f"/api/v1/definitions/{PATHWAY}/versions/1")
    assert {v["name"]: v["approval"] for v in version["variants"]} == {**unapproved, "county": "approved"}
    stored = next(v for v in version["variants"] if v["name"] == "county")
    assert (stored["approved_by"], stored["approval_reason"]) == (approver.client.actor, REASON)
    assert version["approval"] == "draft"  # the version itself is approved apart from its variants

    # Read again from the server, the page shows the county's variant approved.
    page.reload()
    expect(page.locator("li.variant-review[data-variant='county'] .approved-status")).to_contain_text(REASON)
