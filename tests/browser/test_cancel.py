"""Cancelling a referral from its page, in Debian's Chromium against a real `signpost serve`: the point of
access working on a community nursing referral closes it with a reason; the page, and the referrer's, say who
cancelled it and why; a reason is required."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CONSOLE, call, start_referral
from tests.browser.test_studio import assert_accessible, sign_in_with
from tests.support.personas import GP, OPERATOR

pytestmark = [pytest.mark.wall_clock, CONSOLE]


def test_the_point_of_access_cancels_a_referral_with_a_reason(page: Page, studio, enrolled):
    gp = enrolled(GP)
    referral = start_referral(studio, gp.token)
    sign_in_with(page, enrolled(OPERATOR).token)
    page.goto(f"/console/referrals/{referral['id']}")
    page.get_by_text("Cancel this referral").click()
    page.get_by_role("button", name="Cancel the referral").click()
    expect(page.locator(".cancel-referral").get_by_role("alert")).to_contain_text("Say why")
    assert_accessible(page, "cancelling a referral")

    page.get_by_label("Why it is cancelled").fill("The person was admitted to hospital")
    page.get_by_role("button", name="Cancel the referral").click()
    expect(page.locator(".status-text")).to_have_text("Cancelled by the point of access", timeout=15_000)
    expect(page.locator(".timeline")).to_contain_text(
        "Cancelled by the point of access: The person was admitted to hospital"
    )
    expect(page.locator(".cancel-referral")).to_have_count(0)
    as_referrer = call(studio, gp.token, "GET", f"/api/v1/referrals/{referral['id']}")
    assert as_referrer["status_text"] == "Cancelled by the point of access"
