"""Simulations in the console, in Debian's Chromium against a real `signpost serve`: a designer asks what
the community nursing pathway would do with given referral rates, as it is and with a two-hour acceptance
target, follows the run's progress and reads % met per service arm beside arm, with the full report a link
away."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CONSOLE
from tests.browser.test_studio import assert_accessible, sign_in_with
from tests.conftest import NURSING_FILES, SOPS, pathway_files
from tests.support.personas import DESIGNER

pytestmark = [pytest.mark.wall_clock, CONSOLE]


def test_a_designer_simulates_a_what_if_and_reads_the_prediction(
    page: Page, studio, signpost, enrolled, shots
):
    signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")
    # The version with its scenario file: the simulated referrals' data is drawn from it.
    signpost.definitions.deploy(
        pathway_files(*NURSING_FILES, "community_nursing_referral.scenarios.yaml"), "tests"
    )
    sign_in_with(page, enrolled(DESIGNER).token)
    page.goto("/console/simulations")
    expect(page.get_by_role("heading", name="Simulations", exact=True)).to_be_visible()
    expect(page.get_by_label("Pathway")).to_contain_text("Community nursing referral")
    page.get_by_label("Days", exact=True).fill("1")
    page.get_by_label("Runs (repeats with other seeds, for a confidence interval)").fill("1")
    page.get_by_label("These referral rates:").check()
    page.get_by_label("Referrals an hour, weekdays 08:00 to 18:00").fill("2")
    page.get_by_label("Referrals an hour at other times").fill("0")
    page.get_by_label("A changed target").fill("accept-or-reject=PT2H")
    assert_accessible(page, "simulations form")
    page.get_by_role("button", name="Simulate").click()

    result = page.locator("table.simulation-result")
    expect(result).to_be_visible(timeout=120_000)
    expect(result.locator("thead th")).to_have_text(["Service", "as is", "what if"])
    expect(result.locator("tbody")).to_contain_text("community-nursing-city")
    report = page.get_by_role("link", name="Open the full report", exact=False)
    expect(report).to_have_attribute("href", re.compile(r"^/api/v1/simulations/[0-9a-f-]+/report$"))
    expect(page.locator("#sim-history-title")).to_be_visible()
    assert_accessible(page, "simulation result")
    page.set_viewport_size({"width": 1400, "height": 1900})
    shots(page, "simulation")
