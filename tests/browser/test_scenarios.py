"""Scenario tests in the studio, in Debian's Chromium against a real `signpost serve`: a designer opens a
version of community nursing deployed with its scenario file, runs the scenarios, sees every one pass and the
path coverage painted on the diagram; breaks an expectation and sees the failure (reached from the keyboard,
it puts the cursor on its line); breaks the file and sees why nothing ran. axe-core finds no serious or
critical violation. The README's screenshot docs/screenshots/scenarios.png is taken here.
"""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_studio import assert_accessible, sign_in, tab_to
from tests.conftest import NURSING_FILES, PROCESSES, SOPS

pytestmark = pytest.mark.wall_clock

SCENARIOS = "community_nursing_referral.scenarios.yaml"
RUN = 60_000  # ms: every scenario of the pathway, in virtual time


@pytest.fixture
def page(page: Page):
    """The page, refusing any breach of its Content-Security-Policy (as in test_studio.py)."""
    breaches = []
    page.on("console", lambda m: breaches.append(m.text) if "Content Security Policy" in m.text else None)
    yield page
    assert breaches == [], breaches


@pytest.fixture
def with_scenarios(signpost, studio, designer_token) -> int:
    """Community nursing deployed again through the API, this time with its scenario file (its version), and
    the OLA terms of sops/olas.toml, which its scenarios expect clocks of."""
    signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")
    files = [
        ("files", (name, (PROCESSES / name).read_bytes(), "application/octet-stream"))
        for name in (*NURSING_FILES, SCENARIOS)
    ]
    answer = requests.post(
        f"{studio.base}/api/v1/definitions",
        files=files,
        headers={"Authorization": f"Bearer {designer_token}"},
        timeout=60,
    )
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["number"]


def test_a_designer_runs_the_scenarios_and_sees_the_coverage_on_the_diagram(
    page: Page, studio, designer_token, with_scenarios
):
    sign_in(page, designer_token)
    page.goto(f"/studio/pathways/community_nursing_referral/versions/{with_scenarios}")
    expect(
        page.get_by_role("heading", name=f"community_nursing_referral · version {with_scenarios}")
    ).to_be_visible()
    text = page.get_by_label(f"Scenario file: {SCENARIOS}")
    expect(text).to_have_value(re.compile(r"pathway: community_nursing_referral"))
    expect(page.locator(".scenarios-summary")).to_have_text("Not run yet.")

    # all pass, and every element and flow is covered
    page.get_by_role("button", name="Run scenarios").click()
    expect(page.locator(".scenarios-summary")).not_to_have_text("Running the scenarios…", timeout=RUN)
    assert page.locator(".scenarios-summary").inner_text().startswith("All "), page.locator(
        ".scenarios-list"
    ).inner_text()
    expect(page.locator(".scenario.failed")).to_have_count(0)
    totals = page.locator('.coverage-totals li[data-process="community_nursing_referral"]')
    expect(totals).to_contain_text("everything covered")
    count = totals.locator(".coverage-count").inner_text()
    elements, flows = re.fullmatch(r"(\d+)/\1 elements, (\d+)/\2 flows", count).groups()
    covered = page.locator(".djs-element.signpost-covered")
    expect(covered).to_have_count(int(elements) + int(flows))
    expect(page.locator(".djs-connection.signpost-covered")).to_have_count(int(flows))
    expect(page.locator(".djs-element.signpost-uncovered")).to_have_count(0)
    expect(page.locator('.djs-element[data-element-id="escalate_to_duty_manager"]')).to_have_class(
        re.compile("signpost-covered")
    )
    expect(page.locator(".coverage-legend")).to_contain_text("Not covered by any scenario")
    assert_accessible(page, "modeler with scenario results and coverage")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".scenarios").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "scenarios.png"), full_page=True)

    # one expectation broken: that scenario fails, saying what it found; the others still pass
    original = text.input_value()
    assert "status_text_contains: Sent to City community nursing" in original
    text.fill(original.replace("Sent to City community nursing", "Sent to Nowhere", 1))
    page.get_by_role("button", name="Run scenarios").click()
    expect(page.locator(".scenarios-summary")).to_have_text(
        re.compile(r"1 of \d+ scenarios failed\."), timeout=RUN
    )
    failure = page.locator(".failures .scenario-button")
    expect(failure).to_have_count(1)
    expect(failure).to_contain_text('line 15, step 1: status_text_contains: status text is "Sent to City')
    expect(page.locator(".scenario.failed > .scenario-button")).to_contain_text(
        "A routine referral is accepted with a visit window and completed"
    )

    # keyboard: the list is one stop in the tab order; arrows reach the failure; Enter goes to its line
    tab_to(page, ".scenario-button")
    for _ in range(20):
        if page.evaluate("document.activeElement.matches('.failures .scenario-button')"):
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(text).to_be_focused()
    selected = page.evaluate("(t => t.value.slice(t.selectionStart, t.selectionEnd))(document.activeElement)")
    assert selected.strip() == "status_text_contains: Sent to Nowhere", selected
    assert_accessible(page, "modeler with a failing scenario")

    # a broken file: nothing runs, and the problem is listed with its line
    text.fill("pathway: community_nursing_referral\nscenarios:\n  - name: x\n    bogus: 1\n")
    page.get_by_role("button", name="Run scenarios").click()
    expect(page.locator(".scenarios-summary")).to_contain_text("Nothing ran", timeout=RUN)
    expect(page.locator(".scenarios-list")).to_contain_text("bogus")
    expect(page.locator(".djs-element.signpost-covered")).to_have_count(0)
