"""A service's queue in the console, in Debian's Chromium against a real `signpost serve`: staff of the
community nursing team find a new referral's hand-off, acknowledge it from the keyboard alone, accept it with
a visit window, and complete it with an outcome; a change made elsewhere while they were filling in a form
is shown to them and never overwritten (the action carries the hand-off's ETag and the server refuses a
stale one); and the queue picks up a new hand-off without reloading."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CONSOLE, call, start_referral
from tests.browser.test_studio import assert_accessible, sign_in_with, tab_to
from tests.support.personas import GP, NURSING_TEAM

pytestmark = [pytest.mark.wall_clock, CONSOLE]

QUEUE = "/console/services?service=community-nursing-city"


def test_staff_work_a_hand_off_through_the_queue_and_a_change_made_elsewhere_is_never_overwritten(
    page: Page, studio, enrolled, shots
):
    gp, team = enrolled(GP), enrolled(NURSING_TEAM)
    referral = start_referral(studio, gp.token)
    [handoff] = referral["handoffs"]
    sign_in_with(page, team.token)
    expect(page).to_have_url(f"{studio.base}/console/services")  # a service's staff start at the queue
    page.goto(QUEUE)
    item = page.locator(".queue-item")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("requested")
    assert_accessible(page, "service queue")
    shots(page, "service-queue")

    tab_to(page, ".queue-item button")  # the first action, Acknowledge, from the keyboard alone
    page.keyboard.press("Enter")
    expect(item).to_contain_text("received")

    item.get_by_role("button", name="Accept").click()
    item.get_by_label("Visit window (optional)").fill("Friday morning")
    item.get_by_role("button", name="Accept").click()
    expect(page.locator("main")).to_contain_text("No hand-offs here")  # accepted: no longer new
    page.get_by_role("link", name="Accepted and in progress").click()
    expect(item).to_contain_text("accepted")
    expect(item).to_contain_text("Friday morning")

    # Someone else schedules the visit while this person writes the outcome: their completion is refused.
    item.get_by_role("button", name="Complete").click()
    item.get_by_label("Outcome").fill("Medication review done")
    call(
        studio,
        team.token,
        "POST",
        f"/api/v1/handoffs/{handoff['id']}/schedule",
        {"window": "Monday afternoon"},
    )
    item.get_by_role("button", name="Complete").click()
    expect(item.get_by_role("alert")).to_contain_text("Someone else changed this hand-off meanwhile")
    expect(item).to_contain_text("Monday afternoon")  # shown as it now is
    assert_accessible(page, "service queue after a conflict")
    current = call(studio, team.token, "GET", f"/api/v1/handoffs/{handoff['id']}")
    assert current["status"] == "accepted" and current["outcome"] is None  # nothing was overwritten

    item.get_by_role("button", name="Complete").click()
    item.get_by_label("Outcome").fill("Medication review done")
    item.get_by_role("button", name="Complete").click()
    expect(page.locator("main")).to_contain_text("No hand-offs here")
    page.get_by_role("link", name="Closed").click()
    expect(item).to_contain_text("completed")
    expect(item).to_contain_text("Medication review done")

    # A new referral arrives: the queue shows it without reloading.
    page.get_by_role("link", name="New").click()
    expect(page.locator("main")).to_contain_text("No hand-offs here")
    newer = start_referral(studio, gp.token)
    expect(page.locator(".queue-item")).to_have_count(1, timeout=15_000)
    assert newer["handoffs"][0]["status"] == "requested"
