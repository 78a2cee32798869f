"""Staged go-live in the pathway library, in Debian's Chromium against a real `signpost serve` that requires
clinical approval: the trust's admin sees where each version of community nursing is live, pilots version 2
at the trust's point of access from the keyboard (an empty reason and a past date are refused on the page,
nothing changed), sees the pilot, the version the other points of access keep and the go-live history, then
rolls the pilot back in one action. Referrals started over the API prove which version was live where.
axe-core finds no serious or critical violation on the page, with its forms open.
"""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.test_approve import changed_pathway
from tests.browser.test_studio import assert_accessible, sign_in, tab_to
from tests.conftest import PROCESSES
from tests.support.personas import GP, LPT, Persona

pytestmark = pytest.mark.wall_clock

KEY = "community_nursing_referral"
SPA = "community-health-spa"
MENTAL_HEALTH_SPA = "adult-mental-health-spa"
TRUST_ADMIN = Persona("trust admin", LPT, ("admin",))
REASON = "Community health SPA staff trained on version 2"
FORM = "#go-live-community_nursing_referral-2"


@pytest.fixture
def two_approved_versions(signpost, studio):
    """Version 1 (the studio's) and version 2 (a task renamed) of community nursing, both approved."""
    from engine.bpmn import SourceFile

    approver = signpost.clients.create(
        name="clinical lead", organisation="clinical-safety", roles={"clinical-approver"}
    )[0]
    text, _scenarios = changed_pathway()
    dmn = "community_nursing_triage.dmn"
    files = [SourceFile(f"{KEY}.bpmn", text.encode()), SourceFile(dmn, (PROCESSES / dmn).read_bytes())]
    assert signpost.definitions.deploy(files, "tests").number == 2
    for number in (1, 2):
        signpost.definitions.approve(KEY, number, approver, reason="reviewed against the SOP")


def started_on(studio, headers, point_of_access: str) -> int:
    answer = requests.post(
        f"{studio.base}/api/v1/referrals",
        json={
            "pathway": KEY,
            "referrer": "C81001",
            "point_of_access": point_of_access,
            "data": {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False},
        },
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["pathway"]["version"]


def version_row(page: Page, number: int):
    """The library's row of version ``number`` of the one pathway (versions are listed newest first)."""
    return page.locator("table.library tbody tr").nth(2 - number)


def test_an_admin_pilots_a_version_at_its_point_of_access_and_rolls_it_back(
    page: Page, studio, two_approved_versions, enrolled, shots
):
    gp = enrolled(GP).headers
    sign_in(page, enrolled(TRUST_ADMIN).token)
    expect(version_row(page, 2).locator("td.live-at")).to_have_text(
        "Every point of access (latest approved version)"
    )

    # From the keyboard: open the control, choose the trust's point of access, submit without a reason.
    page.locator("body").focus()
    tab_to(page, f"{FORM}-summary")
    page.keyboard.press("Enter")
    tab_to(page, f"{FORM}-{SPA}")
    page.keyboard.press("Space")
    expect(page.locator(f"{FORM}-{SPA}")).to_be_checked()
    # Only the points of access the trust runs are offered.
    expect(page.locator(f"{FORM}-city-single-point-of-contact")).to_have_count(0)
    page.get_by_role("button", name="Go live with version 2").click()
    expect(page.locator(f"{FORM}-error")).to_have_text("Say why.")
    assert_accessible(page, "library, go-live form open")

    # A date in the past is refused by the server, as it says, and nothing changes.
    page.locator(f"{FORM}-reason").fill(REASON)
    page.locator(f"{FORM}-from").fill("2020-01-06T09:00")
    page.get_by_role("button", name="Go live with version 2").click()
    expect(page.locator(f"{FORM}-error")).to_contain_text("is in the past")
    expect(page.locator(f"{FORM}-error")).to_contain_text("Nothing was changed.")
    assert started_on(studio, gp, SPA) == 2  # still the rule of approval: the latest approved version

    page.locator(f"{FORM}-from").fill("")
    tab_to(page, f"{FORM}-submit")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").last).to_contain_text("version 2 goes live at Community Health")
    pilot = version_row(page, 2).locator("td.live-at")
    expect(pilot).to_contain_text("Pilot Community Health Single Point of Access")
    expect(pilot).to_contain_text("since")
    expect(version_row(page, 1).locator("td.live-at")).to_contain_text("Every other point of access")
    history = page.locator("tr.go-live-history")
    history.locator("summary").click()
    expect(history).to_contain_text("Version 2 piloted")
    expect(history).to_contain_text(REASON)
    expect(history).to_contain_text("Version 1 was live before the first go-live")
    assert (started_on(studio, gp, SPA), started_on(studio, gp, MENTAL_HEALTH_SPA)) == (2, 1)
    page.locator("details.go-live-action summary", has_text="Roll back").first.click()
    assert_accessible(page, "library with a pilot, rollback form open")
    shots(page, "go-live")

    page.get_by_label("Why it is rolled back").fill("Callers confused by the renamed step")
    page.get_by_role("button", name="Roll back go-live").click()
    expect(page.get_by_role("status").last).to_contain_text("rolled back")
    expect(version_row(page, 2).locator("td.live-at")).to_have_text("—")
    expect(version_row(page, 1).locator("td.live-at")).to_contain_text("Every point of access")
    page.locator("tr.go-live-history summary").click()
    expect(page.locator("tr.go-live-history")).to_contain_text("rolled back")
    expect(page.locator("tr.go-live-history")).to_contain_text("Callers confused by the renamed step")
    assert started_on(studio, gp, SPA) == 1
    assert_accessible(page, "library after the rollback")


def test_people_who_may_not_go_live_see_where_versions_are_live_but_no_control(
    page: Page, studio, two_approved_versions, designer_token
):
    sign_in(page, designer_token)
    expect(version_row(page, 2).locator("td.live-at")).to_contain_text("Every point of access")
    expect(page.locator("details.go-live-action")).to_have_count(0)
