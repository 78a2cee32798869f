"""Where referrals wait, on the pathway's diagram, in Debian's Chromium against a real `signpost serve`: each
element shaded by how long it held referrals and badged with how many passed and their median stay, the same
figures in a table; another organisation's operator sees no referral counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import Page, expect

from tests.browser.conftest import CONSOLE, deploy_worklist_sample, start_worklist_referral
from tests.browser.test_studio import assert_accessible, sign_in_with
from tests.support.personas import GP, PRACTICE_OPERATOR, Persona

pytestmark = [pytest.mark.wall_clock, CONSOLE]

HERE = Path(__file__).parent
OTHER_TRUST_OPERATOR = Persona("other trust operator", "other-trust", ("operator",))
HEATMAP = "/console/heatmap?pathway=worklist_sample"


@pytest.fixture
def checked(signpost, enrolled):
    """Three referrals of the worklist sample: two checked after an hour and after half an hour, one open."""
    deploy_worklist_sample(signpost)
    gp, operator = enrolled(GP).client, enrolled(PRACTICE_OPERATOR).client
    now = datetime.now(UTC)
    for started_hours_ago, checked_after in ((3, timedelta(hours=1)), (2, timedelta(minutes=30)), (1, None)):
        started_at = now - timedelta(hours=started_hours_ago)
        referral = start_worklist_referral(signpost, gp, started_at)
        if checked_after is not None:
            [task] = referral["waiting_for"]["tasks"]
            with time_machine.travel(started_at + checked_after, tick=False):
                signpost.referrals.complete_task(task["id"], {"notes": "Checked with the practice"}, operator)


def test_an_operator_sees_where_referrals_wait_on_the_diagram(page: Page, studio, checked, enrolled, shots):
    sign_in_with(page, enrolled(PRACTICE_OPERATOR).token)
    page.goto(HEATMAP)
    expect(page.get_by_role("heading", name="Where referrals wait")).to_be_visible()
    expect(page.locator("main")).to_contain_text("3 referrals started in the period")
    review = page.locator('.djs-overlay-container [data-container-id="review"] .heat-badge')
    expect(review).to_have_text("2 · 45 min")  # the median of an hour and half an hour
    expect(page.locator('.djs-element.heat-4[data-element-id="review"]')).to_have_count(1)  # the longest
    row = page.locator("table.heatmap-table tbody tr").first
    expect(row.locator("th, td")).to_have_text(["Check the referral", "2", "45 min", "1 h"])
    assert_accessible(page, "where referrals wait")
    page.set_viewport_size({"width": 1400, "height": 1300})
    shots(page, "heatmap")


def test_another_organisations_operator_counts_none_of_them(page: Page, studio, checked, enrolled):
    sign_in_with(page, enrolled(OTHER_TRUST_OPERATOR).token)
    page.goto(HEATMAP)
    expect(page.locator("main")).to_contain_text("0 referrals started in the period")
    expect(page.locator("table.heatmap-table")).to_contain_text("No referral passed any element")
