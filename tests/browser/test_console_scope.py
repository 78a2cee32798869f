"""Scope in the console is the API's, in Debian's Chromium against a real `signpost serve`: a GP practice's
referrals — community nursing referrals with hand-offs to the trust's teams and their OLA clocks (one
overdue and breached, one due soon, one accepted, one waiting for information), a referral whose task waits
on the practice's worklist, and one stopped by an incident — are seen by no one else. Another organisation's
operator, a service user of another organisation and another practice's referrer each walk every console
page, and the direct addresses of the practice's referrals and task: no reference, id or NHS number of the
practice's appears anywhere, and each address of the practice's objects says plainly that there is no such
referral or task, or that the person may not open it. The pages pass axe-core's checks as they are.

The server runs on the wall clock (as the other browser tests' does), so the referrals are started by the
engine in this process at instants counted back from now, on the 24x7 calendar of the OLA terms below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from engine.bpmn import SourceFile
from tests.browser.conftest import CONSOLE, HERE, call, deploy_worklist_sample, start_worklist_referral
from tests.browser.test_ola_board import TERMS
from tests.browser.test_studio import assert_accessible, sign_in_with
from tests.support.personas import GP, NURSING_TEAM, OPERATOR, PRACTICE_OPERATOR, Persona
from tests.test_olas import act, start_referral

pytestmark = [pytest.mark.wall_clock, CONSOLE]

NHS_NUMBER = "9434765919"  # the subject of tests.test_olas.start_referral's referrals
CITY = "leicester-city-council"  # runs a point of access and services of its own, none of them involved here
OTHERS = {
    "operator": Persona("city operator", CITY, ("operator",)),
    "service": Persona("city council system", CITY, ("service",)),
    "referrer": Persona("other gp", "C82002", ("referrer",)),
}
NOT_ALLOWED = "Not allowed"


@dataclass
class Practice:
    """The first organisation's referrals, and everything of theirs another must not see."""

    referrals: list[dict]
    task: dict

    @property
    def secrets(self) -> list[str]:
        found = [NHS_NUMBER, f"{NHS_NUMBER[:3]} {NHS_NUMBER[3:6]} {NHS_NUMBER[6:]}", self.task["id"]]
        for referral in self.referrals:
            found += [referral["id"], referral["reference"], *(h["id"] for h in referral["handoffs"])]
        return found


@pytest.fixture(autouse=True)
def olas(signpost, directory):
    """The OLA terms, loaded before the server starts (autouse fixtures come first)."""
    signpost.olas.load_terms(TERMS, "olas.toml", "tests")


@pytest.fixture
def practice(signpost, enrolled) -> Practice:
    gp, team = enrolled(GP).client, enrolled(NURSING_TEAM).client
    deploy_worklist_sample(signpost)
    signpost.definitions.deploy([SourceFile("incident.bpmn", (HERE / "incident.bpmn").read_bytes())], "tests")
    now = datetime.now(UTC)
    overdue = start_referral(signpost, gp, now - timedelta(hours=2))
    due_soon = start_referral(signpost, gp, now - timedelta(minutes=50))
    accepted = start_referral(signpost, gp, now - timedelta(hours=3))
    act(signpost, team, accepted, "acknowledge", {}, now - timedelta(hours=2, minutes=50))
    act(
        signpost, team, accepted, "accept", {"window": "Friday morning"}, now - timedelta(hours=2, minutes=40)
    )
    asked = start_referral(signpost, gp, now - timedelta(minutes=30))
    act(
        signpost,
        team,
        asked,
        "request-information",
        {"question": "Which dressings?"},
        now - timedelta(minutes=20),
    )
    signpost.olas.attend_due()  # the overdue acknowledgement is breached, as the ticker would have it
    waiting = start_worklist_referral(signpost, gp, now - timedelta(hours=1), "urgent")
    stopped, _ = signpost.referrals.start(
        gp, pathway="incident_sample", version=None, referrer="C81001", subject=NHS_NUMBER, data={}
    )
    assert stopped["status"] == "incident"
    [task] = signpost.referrals.tasks(enrolled(PRACTICE_OPERATOR).client, limit=10)
    return Practice([overdue, due_soon, accepted, asked, waiting, stopped], task)


def test_the_practice_and_the_trust_see_their_own(page: Page, studio, practice, enrolled):
    """The control: what the other organisations must not see is there for those who may."""
    trust = call(studio, enrolled(OPERATOR).token, "GET", "/api/v1/obligations?state=running&state=breached")
    overdue, due_soon = practice.referrals[:2]
    owed = {(c["reference"], c["state"]) for c in trust}
    assert {(overdue["reference"], "breached"), (due_soon["reference"], "running")} <= owed
    queue = call(
        studio, enrolled(NURSING_TEAM).token, "GET", "/api/v1/services/community-nursing-city/handoffs"
    )
    assert len(queue) == 4
    sign_in_with(page, enrolled(PRACTICE_OPERATOR).token)
    page.goto("/console/tasks")
    expect(page.locator("table.worklist tbody tr")).to_contain_text(practice.referrals[4]["reference"])
    page.goto("/console/referrals")
    for referral in practice.referrals:
        expect(page.locator("main")).to_contain_text(referral["reference"])


def pages_for(who: str, practice: Practice) -> list[tuple[str, list[str]]]:
    """Every console page ``who`` can open, and the direct addresses of the practice's objects, each with
    what the page must say."""
    referral_pages = [
        (
            f"/console/referrals/{r['id']}",
            [
                "could not be shown",
                NOT_ALLOWED if who == "service" else "no such referral, or it is not one you",
            ],
        )
        for r in practice.referrals
    ]
    task = practice.task["id"]
    if who == "operator":
        return [
            ("/console/referrals", ["No referrals yet."]),
            *referral_pages,
            ("/console/tasks", ["No open tasks match."]),
            (f"/console/tasks/{task}", ["could not be shown", "no such task, or it is not one you may see"]),
            ("/console/olas", ["Nothing is due soon or overdue.", "No obligation was met or breached"]),
            *(
                (f"/console/heatmap?pathway={key}", ["0 referrals started in the period."])
                for key in ("community_nursing_referral", "worklist_sample", "incident_sample")
            ),
            ("/console/services", [NOT_ALLOWED]),
        ]
    if who == "service":
        return [
            *(
                (f"/console/services?service={service}&view={view}", ["No hand-offs here."])
                for service in ("community-nursing-city", "city-duty-social-work")
                for view in ("new", "working", "waiting", "closed")
            ),
            (
                "/console/olas",
                ["Nothing is due soon or overdue.", f"The report could not be loaded. {NOT_ALLOWED}"],
            ),
            ("/console/referrals", [NOT_ALLOWED]),
            *referral_pages,
            ("/console/tasks", [NOT_ALLOWED]),
            (f"/console/tasks/{task}", ["could not be shown", NOT_ALLOWED]),
            ("/console/heatmap", [NOT_ALLOWED]),
        ]
    return [
        ("/console/referrals", ["No referrals yet."]),
        *referral_pages,
        ("/console/tasks", [NOT_ALLOWED]),
        (f"/console/tasks/{task}", ["could not be shown", NOT_ALLOWED]),
        ("/console/olas", [f"The obligations could not be loaded. {NOT_ALLOWED}"]),
        ("/console/heatmap", [NOT_ALLOWED]),
        ("/console/services", ["Your organisation runs no service in the directory."]),
    ]


@pytest.mark.parametrize("who", OTHERS)
def test_another_organisation_sees_none_of_the_practices_referrals_anywhere_in_the_console(
    page: Page, studio, practice, enrolled, shots, who
):
    sign_in_with(page, enrolled(OTHERS[who]).token)
    secrets = practice.secrets
    for path, says in pages_for(who, practice):
        page.goto(path)
        main = page.locator("main")
        for words in says:
            expect(main).to_contain_text(words)
        expect(main).not_to_contain_text("Loading")  # every request the page makes has been answered
        shown = page.locator("body").inner_text()
        leaked = [secret for secret in secrets if secret in shown]
        assert leaked == [], f"{who} at {path} sees {leaked}"
        assert_accessible(page, f"{who} at {path}")
        if who == "operator" and path == f"/console/referrals/{practice.referrals[0]['id']}":
            shots(page, "console-scope")
