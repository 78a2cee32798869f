"""The duty manager's OLA board, in Debian's Chromium against a real `signpost serve`: the obligations due
soon and overdue now, soonest first, with the rest behind a filter; a hand-off made elsewhere appears
without reloading; and the period's compliance per organisation pair and obligation, the same figures as
GET /api/v1/reports/ola. Another organisation's duty manager sees none of it.

The server runs on the wall clock, so the referrals are started (by the engine, in this process) at
instants counted back from now, on the 24x7 calendar so that any day of the week gives the same figures.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CONSOLE
from tests.browser.test_studio import assert_accessible, sign_in_with
from tests.support.personas import GP, NURSING_TEAM, OPERATOR, Persona
from tests.test_olas import act, start_referral

pytestmark = [pytest.mark.wall_clock, CONSOLE]

TERMS = """
[[ola]]
name = "community nursing locality teams"
to_services = ["community-nursing-city", "community-nursing-county-north", "community-nursing-county-south",
               "community-nursing-rutland"]
  [[ola.obligation]]
  name = "acknowledge"
  party = "receiver"
  target = "PT1H"
  calendar = "24x7"
  start = ["requested"]
  stop = ["acknowledged", "accepted", "rejected", "transferred"]

  [[ola.obligation]]
  name = "accept-or-reject"
  party = "receiver"
  target = "PT4H"
  calendar = "24x7"
  start = ["requested"]
  stop = ["accepted", "rejected", "transferred"]
"""
# The duty manager of an organisation that neither sent nor received these hand-offs.
OTHER_TRUST_OPERATOR = Persona("other trust operator", "other-trust", ("operator",))


@pytest.fixture(autouse=True)
def olas(signpost, directory):
    """The OLA terms, loaded before the server starts (autouse fixtures come first)."""
    signpost.olas.load_terms(TERMS, "olas.toml", "tests")


def test_a_duty_manager_sees_what_is_owed_now_and_how_obligations_were_met(
    page: Page, studio, signpost, enrolled, shots
):
    gp, team = enrolled(GP).client, enrolled(NURSING_TEAM).client
    now = datetime.now(UTC)
    overdue = start_referral(signpost, gp, now - timedelta(hours=2))
    due_soon = start_referral(signpost, gp, now - timedelta(minutes=50))
    on_track = start_referral(signpost, gp, now - timedelta(minutes=1))
    # Three days ago: acknowledged in 30 minutes (met), accepted after 5 hours (breached: 4 hours allowed).
    earlier = start_referral(signpost, gp, now - timedelta(days=3))
    act(signpost, team, earlier, "acknowledge", {}, now - timedelta(days=3) + timedelta(minutes=30))
    act(signpost, team, earlier, "accept", {}, now - timedelta(days=3) + timedelta(hours=5))

    signpost.olas.attend_due()  # the overdue acknowledgement is breached (as the server's ticker would)

    sign_in_with(page, enrolled(OPERATOR).token)
    page.get_by_role("link", name="OLA board").click()
    expect(page.get_by_role("heading", name="OLA board")).to_be_visible()
    rows = page.locator("table.obligations-now tbody tr")
    expect(rows.first).to_contain_text(overdue["reference"])
    expect(rows.first).to_contain_text("Overdue")
    expect(page.locator("table.obligations-now")).to_contain_text(due_soon["reference"])
    expect(page.locator("table.obligations-now")).not_to_contain_text(on_track["reference"])
    page.get_by_label("Only those due soon or overdue").uncheck()
    expect(page.locator("table.obligations-now")).to_contain_text(on_track["reference"])
    page.get_by_label("Only those due soon or overdue").check()

    pairs = page.locator("table.compliance", has_text="By obligation")
    # Acknowledge: one met in 30 minutes, one breached now; accept-or-reject: one breached.
    expect(pairs.locator("tr", has_text="acknowledge").locator("td")).to_have_text(
        ["acknowledge", "1", "1", "50%", "30 min", "30 min"]
    )
    expect(pairs.locator("tr", has_text="accept-or-reject").locator("td")).to_have_text(
        ["accept-or-reject", "0", "1", "0%", "—", "—"]
    )
    csv = page.get_by_role("link", name="Download as CSV")
    expect(csv).to_have_attribute("href", re.compile(r"^/api/v1/reports/ola\.csv\?from="))
    assert_accessible(page, "OLA board")
    shots(page, "ola-board")

    # Acknowledged elsewhere: the overdue acknowledgement stops and leaves the board without a reload.
    act(signpost, team, overdue, "acknowledge", {}, datetime.now(UTC))
    overdue_rows = page.locator("table.obligations-now tr", has_text=overdue["reference"])
    expect(overdue_rows.filter(has_text="acknowledge the referral")).to_have_count(0, timeout=15_000)


def test_another_organisations_duty_manager_sees_none_of_it(page: Page, studio, signpost, enrolled):
    gp = enrolled(GP).client
    overdue = start_referral(signpost, gp, datetime.now(UTC) - timedelta(hours=2))
    sign_in_with(page, enrolled(OTHER_TRUST_OPERATOR).token)
    page.goto("/console/olas")
    expect(page.locator("table.compliance").first).to_contain_text("No obligation was met or breached")
    expect(page.locator("main")).to_contain_text("Nothing is due soon or overdue")
    expect(page.locator("main")).not_to_contain_text(overdue["reference"])
