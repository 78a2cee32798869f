"""The referrer's view of the console, in Debian's Chromium against a real `signpost serve`: a GP practice's
referrer signs in and lands on the referrals its organisation sent, opens one, and watches it move as the
community nursing team acknowledges it — without reloading. The page meets axe-core's checks, reads on a
phone and prints without the application's chrome. Another practice sees none of it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import call, start_referral
from tests.browser.test_studio import assert_accessible, sign_in_with
from tests.conftest import SOPS
from tests.support.personas import GP, NURSING_TEAM, Persona

# As CONSOLE, and the practice's webhook may be on this machine (nothing listens there).
pytestmark = [
    pytest.mark.wall_clock,
    pytest.mark.studio_settings(SIGNPOST_SKIP_PATHWAY_APPROVAL="true", SIGNPOST_WEBHOOK_ALLOW_PRIVATE="true"),
]
PRACTICE_WEBHOOK = "http://127.0.0.1:9/practice-hook"
DELIVERY_WORDS = {"pending": "Being sent", "delivered": "Delivered", "dead": "Not delivered"}

OTHER_PRACTICE = Persona("other gp", "C82002", ("referrer",))
PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def olas(signpost, directory):
    """The OLA terms, loaded before the server starts (autouse fixtures come first)."""
    signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")


def test_a_referrer_watches_a_referral_move_without_reloading(page: Page, studio, enrolled, shots):
    gp = enrolled(GP)
    # The practice is told of its referrals by webhook: the page shows each notification and how it went.
    call(studio, gp.token, "POST", "/api/v1/subscriptions", {"url": PRACTICE_WEBHOOK})
    referral = start_referral(studio, gp.token)
    sign_in_with(page, gp.token)
    expect(page).to_have_url(f"{studio.base}/console/referrals")
    row = page.locator("tbody tr", has_text=referral["reference"])
    expect(row).to_contain_text(referral["status_text"])
    expect(row).to_contain_text("to acknowledge the referral by")
    expect(page.get_by_role("link", name="Pathway library")).to_have_count(0)  # not a referrer's page
    expect(page.get_by_role("button", name="Show older referrals")).to_be_hidden()  # one page holds them all
    assert_accessible(page, "referrer's referrals")
    shots(page, "referrer-referrals")

    row.get_by_role("link", name=referral["reference"]).click()
    expect(page.get_by_role("heading", name=f"Referral {referral['reference']}")).to_be_visible()
    expect(page.locator(".status-text")).to_have_text(referral["status_text"])
    expect(page.locator(".obligations")).to_contain_text("On track")
    expect(page.locator(".timeline")).to_contain_text("Referral received")
    deliveries = call(studio, gp.token, "GET", f"/api/v1/referrals/{referral['id']}/deliveries")
    received = next(d for d in deliveries if d["event_type"] == "referral.received")
    expect(page.locator(".notifications li.delivery", has_text="received")).to_contain_text(
        DELIVERY_WORDS[received["status"]]
    )
    assert_accessible(page, "referral status page")
    shots(page, "referrer-status")

    # The nursing team acknowledges it elsewhere: the open page shows it within a few seconds.
    [handoff] = referral["handoffs"]
    call(studio, enrolled(NURSING_TEAM).token, "POST", f"/api/v1/handoffs/{handoff['id']}/acknowledge")
    expect(page.locator(".timeline")).to_contain_text("Received by City community nursing", timeout=15_000)
    expect(page.locator(".status-text")).not_to_have_text(referral["status_text"])

    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(page, "referral status page on a phone")
    shots(page, "referrer-phone")

    page.emulate_media(media="print")
    expect(page.locator("header.app-header")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(page.locator(".timeline")).to_be_visible()


def test_another_practice_sees_none_of_it(page: Page, studio, enrolled):
    referral = start_referral(studio, enrolled(GP).token)
    sign_in_with(page, enrolled(OTHER_PRACTICE).token)
    expect(page.get_by_role("heading", name="Referrals")).to_be_visible()
    expect(page.locator("main")).to_contain_text("No referrals yet")
    page.goto(f"/console/referrals/{referral['id']}")
    expect(page.get_by_role("alert")).to_contain_text("could not be shown")
    expect(page.locator("main")).not_to_contain_text(referral["reference"])
