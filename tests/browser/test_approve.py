"""Compare and approve, in Debian's Chromium against a real `signpost serve` that requires clinical approval:
a changed version is deployed as a draft; the person who deployed it cannot approve it (the page shows the
refusal and nothing changes); a second person sees the draft beside the version in use with what changed
marked, the scenario results and the coverage, and approves it from the keyboard with a reason; the API then
shows the approval and starts new referrals on the new version. axe-core finds no serious or critical
violation on the page.
"""

from __future__ import annotations

import io
import re

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import AXE
from tests.browser.test_studio import assert_accessible, sign_in, tab_to
from tests.conftest import PROCESSES
from tests.support.personas import GP

pytestmark = pytest.mark.wall_clock

KEY = "community_nursing_referral"
BPMN = f"{KEY}.bpmn"
DMN = "community_nursing_triage.dmn"
SCENARIOS = f"{KEY}.scenarios.yaml"
REFERRAL = {
    "pathway": KEY,
    "referrer": "C81001",
    "subject": "943 476 5919",
    "data": {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False},
}
REASON = "Reviewed the renamed registration step against the triage SOP; scenarios pass"


def client(signpost, name: str, roles: set[str], person: str) -> dict[str, str]:
    _client, token = signpost.clients.create(
        name=name, organisation="signpost-design", roles=roles, person=person
    )
    return {"token": token, "headers": {"Authorization": f"Bearer {token}"}}


def version(studio, headers, number: int) -> dict:
    answer = requests.get(
        f"{studio.base}/api/v1/definitions/{KEY}/versions/{number}", headers=headers, timeout=10
    )
    answer.raise_for_status()
    return answer.json()


def changed_pathway() -> tuple[str, str]:
    """The community nursing pathway (and its scenarios) with a task renamed and an end event replaced by
    another (end_escalated removed, end_escalation_closed added)."""
    text = (PROCESSES / BPMN).read_text()
    assert text.count('name="Register referral"') == 1
    text = text.replace('name="Register referral"', 'name="Register and log referral"')
    text = text.replace("end_escalated", "end_escalation_closed")
    scenarios = (PROCESSES / SCENARIOS).read_text().replace("end_escalated", "end_escalation_closed")
    return text, scenarios


@pytest.fixture
def draft(studio, signpost):
    """Version 1 (the fixture's) approved by a clinical lead; version 2, with a renamed task, deployed by
    Dana, who is both designer and clinical approver. Returns Dana's and a second approver's clients."""
    lead = client(signpost, "clinical lead", {"clinical-approver"}, "lead@example.org")
    approved = requests.post(
        f"{studio.base}/api/v1/definitions/{KEY}/versions/1/approve",
        json={"reason": "The first version, reviewed"},
        headers=lead["headers"],
        timeout=10,
    )
    assert approved.status_code == 200, approved.text
    dana = client(signpost, "dana", {"designer", "clinical-approver"}, "dana@example.org")
    changed, scenarios = changed_pathway()
    files = [
        ("files", (BPMN, io.BytesIO(changed.encode()))),
        ("files", (DMN, io.BytesIO((PROCESSES / DMN).read_bytes()))),
        ("files", (SCENARIOS, io.BytesIO(scenarios.encode()))),
    ]
    deployed = requests.post(
        f"{studio.base}/api/v1/definitions", files=files, headers=dana["headers"], timeout=30
    )
    assert deployed.status_code == 201, deployed.text
    assert deployed.json()["number"] == 2
    second = client(signpost, "lee", {"clinical-approver"}, "lee@example.org")
    return {"dana": dana, "lee": second}


def test_the_deployer_is_refused_and_a_second_person_approves_after_seeing_the_diff(
    page: Page, browser, browser_context_args, studio, signpost, draft, enrolled, shots
):
    # The deployer tries: the refusal is shown, and nothing changes.
    sign_in(page, draft["dana"]["token"])
    page.goto(f"/studio/pathways/{KEY}/versions/2/approve")
    approve = page.get_by_role("button", name="Approve version 2")
    expect(approve).to_be_disabled()
    page.get_by_label("Reason for approval").fill("I drew it, it is fine")
    approve.click()
    expect(page.locator("#approval-error")).to_contain_text(
        "the person who deployed a version cannot also approve it"
    )
    expect(page.locator("#approval-error")).to_contain_text("Nothing was changed")
    assert version(studio, draft["dana"]["headers"], 2)["approval"] == "draft"

    # A second person opens the draft from the library and sees what changed.
    other = browser.new_context(**browser_context_args)
    other.add_init_script(path=str(AXE))
    lee = other.new_page()
    sign_in(lee, draft["lee"]["token"])
    lee.get_by_role("link", name="Review and approve Community nursing referral, version 2").click()
    expect(lee.get_by_role("heading", name="Review version 2 of")).to_be_visible()
    expect(
        lee.locator('#diff-draft .djs-element.diff-changed[data-element-id="register_referral"]')
    ).to_have_count(1)
    expect(
        lee.locator('#diff-base .djs-element.diff-changed[data-element-id="register_referral"]')
    ).to_have_count(1)
    expect(lee.locator('#diff-base .diff-removed[data-element-id="end_escalated"]')).to_have_count(1)
    expect(lee.locator('#diff-draft .diff-added[data-element-id="end_escalation_closed"]')).to_have_count(1)
    properties = lee.locator("table.changed-properties")
    expect(properties.locator("tr.change-added")).to_contain_text("end_escalation_closed")
    expect(properties.locator("tr.change-removed")).to_contain_text("end_escalated")
    row = properties.locator("tbody tr", has_text="register_referral")
    expect(row.locator("td")).to_have_text(
        [
            "changed",
            "Register and log referral register_referral",
            "name",
            "Register referral",
            "Register and log referral",
        ]
    )
    expect(lee.locator(".scenario-total")).to_contain_text(re.compile(r"\d+ of \d+ scenarios pass"))
    expect(lee.locator("table.coverage")).to_contain_text(KEY)
    assert_accessible(lee, "approve page")

    # Keyboard only: Tab to the reason, type, Tab to Approve, Enter.
    lee.locator("body").focus()
    tab_to(lee, "#approval-reason")
    lee.keyboard.type(REASON)
    lee.keyboard.press("Tab")
    expect(lee.get_by_role("button", name="Approve version 2")).to_be_focused()
    shots(lee, "approve")
    lee.keyboard.press("Enter")
    expect(lee.locator(".approved-status")).to_contain_text("approved by lee@example.org")
    expect(lee.locator(".approved-status")).to_contain_text(REASON)
    assert_accessible(lee, "approve page, approved")
    other.close()

    stored = version(studio, draft["dana"]["headers"], 2)
    assert (stored["approval"], stored["approval_reason"]) == ("approved", REASON)
    assert stored["approved_by_person"] == "lee@example.org"
    started = requests.post(
        f"{studio.base}/api/v1/referrals", json=REFERRAL, headers=enrolled(GP).headers, timeout=30
    )
    assert started.status_code == 201, started.text
    assert started.json()["pathway"] == {"key": KEY, "version": 2}


def test_a_first_version_is_shown_as_a_new_pathway_and_a_designer_alone_cannot_approve_it(
    page: Page, studio, designer_token
):
    sign_in(page, designer_token)
    page.goto(f"/studio/pathways/{KEY}/versions/1/approve")
    expect(page.locator(".new-pathway")).to_contain_text("New pathway")
    expect(page.locator(".diff-changes")).to_contain_text("Every element of the draft is new.")
    expect(page.locator("#diff-draft .djs-element")).not_to_have_count(0)
    assert_accessible(page, "approve page, new pathway")
    page.get_by_label("Reason for approval").fill("Looks right to me")
    page.get_by_role("button", name="Approve version 1").click()
    expect(page.locator("#approval-error")).to_contain_text(
        "needs one of the roles clinical-approver; the client has designer."
    )
    expect(page.get_by_role("button", name="Approve version 1")).to_be_enabled()
    headers = {"Authorization": f"Bearer {designer_token}"}
    assert version(studio, headers, 1)["approval"] == "draft"
