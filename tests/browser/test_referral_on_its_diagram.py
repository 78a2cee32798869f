"""A referral on its pathway's diagram, for the operators who work it, in Debian's Chromium against a real
`signpost serve`: a referral stopped by an incident shows the failing element marked and the error in words;
the operator retries it with corrected data from the page, and the diagram then shows the path taken and
where the referral waits now. A referrer's view of the same referral has no diagram and no retry."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.bpmn import SourceFile
from tests.browser.conftest import CONSOLE
from tests.browser.test_studio import assert_accessible, sign_in_with
from tests.support.personas import GP, PRACTICE_OPERATOR

pytestmark = [pytest.mark.wall_clock, CONSOLE]

INCIDENT_PATHWAY = Path(__file__).with_name("incident.bpmn")


@pytest.fixture
def stopped(signpost, enrolled) -> dict:
    """A referral of the incident sample, stopped at "Compute the share" (no divisor given)."""
    signpost.definitions.deploy([SourceFile("incident.bpmn", INCIDENT_PATHWAY.read_bytes())], "tests")
    referral, _ = signpost.referrals.start(
        enrolled(GP).client, pathway="incident_sample", version=None, referrer="C81001", subject=None, data={}
    )
    assert referral["status"] == "incident"
    return referral


def test_an_operator_sees_the_incident_on_the_diagram_and_retries_it_with_corrected_data(
    page: Page, studio, stopped, enrolled, shots
):
    sign_in_with(page, enrolled(PRACTICE_OPERATOR).token)
    page.goto(f"/console/referrals/{stopped['id']}")
    diagram = page.locator(".referral-diagram")
    expect(diagram.locator(".djs-element.signpost-incident")).to_have_attribute("data-element-id", "compute")
    expect(diagram.locator(".djs-shape.signpost-passed")).to_have_attribute("data-element-id", "start")
    expect(diagram.locator(".waits")).to_contain_text("Stopped by an incident at Compute the share")
    expect(diagram.locator(".waits")).to_contain_text("divisor")
    expect(page.locator("form.retry")).to_contain_text("Stopped at Compute the share")
    assert_accessible(page, "referral on its diagram with an incident")
    page.set_viewport_size({"width": 1400, "height": 1400})
    shots(page, "referral-incident")

    retry = page.locator("form.retry")
    retry.get_by_label("Corrected data").fill("not json")
    retry.get_by_role("button", name="Retry").click()
    expect(retry.get_by_role("alert")).to_contain_text("must be a JSON object")

    retry.get_by_label("Corrected data").fill('{"divisor": 4}')
    retry.get_by_role("button", name="Retry").click()
    expect(page.locator("form.retry")).to_have_count(0, timeout=15_000)
    waiting = diagram.locator(".djs-element.signpost-waiting")
    expect(waiting).to_have_attribute("data-element-id", "review", timeout=15_000)
    passed = diagram.locator(".djs-element.signpost-passed")
    expect(passed).to_have_count(4)  # the start event, the script and the flows from each
    expect(diagram.locator(".waits")).to_contain_text("A person's task: Review the share")


def test_a_referrer_sees_no_diagram_and_no_retry(page: Page, studio, stopped, enrolled):
    sign_in_with(page, enrolled(GP).token)
    page.goto(f"/console/referrals/{stopped['id']}")
    expect(page.get_by_role("heading", name=f"Referral {stopped['reference']}")).to_be_visible()
    expect(page.locator(".referral-diagram")).to_have_count(0)
    expect(page.locator("form.retry")).to_have_count(0)
