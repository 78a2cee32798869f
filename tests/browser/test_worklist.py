"""The operator's worklist and a task's form, in Debian's Chromium against a real `signpost serve`: the open
tasks of the point of access soonest due first, with their priority; filtered by priority; one claimed from
the keyboard alone, opened and completed with its form (form-js's viewer) — what the server refuses shown on
the field it names, and nothing completed until the data fits. (The browser checks what the server checks; the
server also bounds the text it searches a pattern in, which is how a refusal only it makes is shown here.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CONSOLE, call, deploy_worklist_sample, start_worklist_referral
from tests.browser.test_studio import assert_accessible, sign_in_with, tab_to
from tests.support.personas import GP, PRACTICE_OPERATOR

pytestmark = [pytest.mark.wall_clock, CONSOLE]

HERE = Path(__file__).parent


@pytest.fixture
def waiting(signpost, enrolled) -> list[dict]:
    """Two referrals whose "Check the referral" task waits: an urgent one made an hour ago (due in an hour),
    then a routine one made now (due in two)."""
    deploy_worklist_sample(signpost)
    gp = enrolled(GP).client
    now = datetime.now(UTC)
    referrals = [
        start_worklist_referral(signpost, gp, now - timedelta(hours=1), "urgent"),
        start_worklist_referral(signpost, gp, now, "routine"),
    ]
    return referrals


def test_an_operator_claims_a_task_from_the_worklist_and_completes_it_through_its_form(
    page: Page, studio, waiting, enrolled, shots
):
    urgent, routine = waiting
    operator = enrolled(PRACTICE_OPERATOR)
    sign_in_with(page, operator.token)
    page.get_by_role("link", name="Worklist", exact=True).click()
    rows = page.locator("table.worklist tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(urgent["reference"])  # soonest due first
    expect(rows.nth(0)).to_contain_text("urgent")
    expect(rows.nth(1)).to_contain_text(routine["reference"])
    assert_accessible(page, "worklist")
    shots(page, "worklist")

    page.get_by_label("Priority").fill("routine")
    page.get_by_label("Priority").press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text(routine["reference"])
    page.get_by_label("Priority").fill("")
    page.get_by_label("Priority").press("Enter")
    expect(rows).to_have_count(2)

    tab_to(page, "table.worklist tbody button")  # Claim, on the first task, from the keyboard alone
    page.keyboard.press("Enter")
    expect(rows.nth(0)).to_contain_text("You")
    expect(rows.nth(0).get_by_role("button", name="Release")).to_be_visible()

    rows.nth(0).get_by_role("link", name="Check the referral").click()
    expect(page.get_by_role("heading", name="Check the referral")).to_be_visible()
    notes = page.get_by_label("What was checked")
    notes.fill("  ok  ")
    page.get_by_role("button", name="Complete").click()  # refused in the browser: nothing is sent
    expect(page.locator(".fjs-form-field-error")).to_contain_text("minimum length of 5")
    notes.fill("checked " * 1_500)  # 12,000 characters: more than the server searches a pattern in
    page.get_by_role("button", name="Complete").click()
    expect(page.locator(".fjs-form-field-error")).to_contain_text("is longer than the 10,000 characters")
    assert_accessible(page, "task form with the server's refusal")
    shots(page, "task-form")
    task = call(studio, operator.token, "GET", "/api/v1/tasks?status=open")[0]
    assert task["status"] == "claimed"  # nothing was completed

    notes.fill("Spoke to the practice nurse")
    page.get_by_role("button", name="Complete").click()
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text(routine["reference"])
