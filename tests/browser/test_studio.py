"""A designer's day in the studio, in Debian's Chromium against a real `signpost serve`: sign in with a token,
find the pathway in the library, draw a small pathway with the palette and the context pad, see what the
server refuses marked on the element, fix it, deploy; an ended session changes nothing; a forged or expired
cookie and a change without the CSRF token are refused; the library and the problem list work from the
keyboard alone; and axe-core finds no serious or critical violation on any page.

The screenshots the README shows (docs/screenshots/) are taken here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import time_machine
from playwright.sync_api import Page, expect

from engine.governance.sessions import ENDED, Sessions
from engine.notifications.secrets_at_rest import SecretBox
from tests.conftest import NURSING_FILES, PROCESSES, SECRET_KEYS
from tests.support.personas import DESIGNER, Persona

pytestmark = pytest.mark.wall_clock

REFUSED = Path(__file__).with_name("refused.bpmn")
COOKIE = "signpost-session"
SECOND_DESIGNER = Persona("second designer", "signpost-design", ("designer",))
IMPACTS_REFUSED = ("serious", "critical")


# ---- helpers ------------------------------------------------------------------------------------------


def sign_in_with(page: Page, token: str) -> None:
    """Signs in with an API token at the application's front page."""
    page.goto("/studio/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("header")).to_contain_text("Sign out")


def sign_in(page: Page, token: str) -> None:
    sign_in_with(page, token)
    expect(page.get_by_role("heading", name="Pathway library")).to_be_visible()


def assert_accessible(page: Page, where: str) -> None:
    """axe-core (added to every page before its own script) finds no serious or critical violation."""
    violations = page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ['violations'] })).violations.map(
            (v) => ({ id: v.id, impact: v.impact, help: v.help,
                      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }))"""
    )
    refused = [v for v in violations if v["impact"] in IMPACTS_REFUSED]
    assert refused == [], f"{where}: {json.dumps(refused, indent=2)}"


def tab_to(page: Page, selector: str, limit: int = 200) -> None:
    """Presses Tab until the focused element matches ``selector`` (as a keyboard user would)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(selector) => document.activeElement?.matches(selector)", selector):
            return
    raise AssertionError(f"{selector} was not reached with {limit} presses of Tab")


def canvas_point(page: Page, x: int, y: int) -> tuple[float, float]:
    box = page.locator("#bpmn-workbench .canvas").bounding_box()
    return box["x"] + x, box["y"] + y


def type_label(page: Page, text: str) -> None:
    """Types the label of the element just created (bpmn-js opens its label for editing) and leaves it."""
    expect(page.locator(".djs-direct-editing-content")).to_be_focused()
    page.keyboard.type(text)
    page.mouse.click(*canvas_point(page, 700, 450))


def shape(page: Page, prefix: str):
    """The shape (not its label) whose id begins with ``prefix``."""
    return page.locator(
        f'.djs-element.djs-shape[data-element-id^="{prefix}"]:not([data-element-id$="_label"])'
    )


def select(page: Page, prefix: str) -> None:
    """Clicks the shape whose id begins with ``prefix`` until it is selected (its context pad open)."""
    for _ in range(3):
        shape(page, prefix).click()
        try:
            expect(page.locator(".djs-context-pad.open")).to_be_visible(timeout=3_000)
            return
        except AssertionError:
            continue
    raise AssertionError(f"the shape {prefix}… could not be selected")


def open_group(page: Page, label: str) -> None:
    header = page.locator(".bio-properties-panel-group-header", has_text=label)
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


@pytest.fixture
def page(page: Page):
    """The page, refusing any breach of its Content-Security-Policy (the browser reports each one)."""
    breaches = []
    page.on("console", lambda m: breaches.append(m.text) if "Content Security Policy" in m.text else None)
    yield page
    assert breaches == [], breaches


# ---- the tests ----------------------------------------------------------------------------------------


def test_a_designer_signs_in_and_finds_the_deployed_pathways(page: Page, studio, designer_token, shots):
    page.goto("/studio/")
    expect(page).to_have_url(f"{studio.base}/studio/sign-in?next=%2Fstudio%2F")
    expect(page.get_by_role("heading", name="Sign in to the Signpost studio")).to_be_visible()
    assert_accessible(page, "sign-in page")
    page.get_by_label("API token").fill("sp_not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That token was not accepted")
    assert_accessible(page, "sign-in page with an error")
    shots(page, "sign-in")

    page.get_by_label("API token").fill(designer_token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Pathway library")).to_be_visible()
    nursing = page.locator("tbody", has_text="community_nursing_referral")
    expect(nursing).to_contain_text("Community nursing referral")
    expect(nursing).to_contain_text("Version 1")
    expect(page.locator("header")).to_contain_text("designer")
    assert_accessible(page, "pathway library")
    shots(page, "library")

    response = requests.get(f"{studio.base}/studio/", timeout=10)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("style-src-attr")[0]


def test_a_designer_draws_sees_the_servers_refusal_fixes_it_and_deploys(
    page: Page, studio, designer_token, shots
):
    sign_in(page, designer_token)
    page.get_by_role("link", name="New pathway").first.click()
    expect(page.get_by_role("heading", name="New pathway")).to_be_visible()
    expect(page.locator(".djs-palette")).to_be_visible()
    assert_accessible(page, "modeler with an empty diagram")

    # start event from the palette, then a task and an end event from the context pad
    page.click('.djs-palette [data-action="create.start-event"]')
    page.mouse.click(*canvas_point(page, 220, 220))
    type_label(page, "Referral received")
    select(page, "Event_")
    page.click('.djs-context-pad [data-action="append.append-task"]')
    type_label(page, "Check the referral")
    select(page, "Activity_")
    page.click('.djs-context-pad [data-action="replace"]')
    page.click('.djs-popup [data-id="replace-with-user-task"]')  # the user task stays selected
    page.click('.djs-context-pad [data-action="append.end-event"]')
    type_label(page, "Referral checked")

    # a pre-script the server refuses: marked on the task, in its field and in the checks list
    shape(page, "Activity_").click()
    open_group(page, "Scripts before and after")
    page.locator("#bio-properties-panel-signpost-pre-script").fill("checked_by = ().__class__")
    marked = page.locator('.djs-element.signpost-problem[data-element-id^="Activity_"]')
    expect(marked).to_be_visible(timeout=15_000)
    expect(page.locator(".checks-list")).to_contain_text("names starting with '_' are private")
    expect(page.locator('[data-entry-id="signpost-pre-script"]')).to_contain_text("is refused")
    deploy = page.get_by_role("button", name="Deploy", exact=True)
    expect(deploy).to_be_disabled()
    expect(page.locator("#deploy-note")).to_have_text("Fix the problems the server found to deploy.")
    assert_accessible(page, "modeler showing the server's problem")
    shots(page, "modeler-server-problem")

    page.locator("#bio-properties-panel-signpost-pre-script").fill("checked = True")
    expect(marked).to_have_count(0, timeout=15_000)
    expect(page.locator(".checks-summary")).to_contain_text("The server accepts these files.")

    # the pathway's key and name: the process's, with nothing selected
    page.mouse.click(*canvas_point(page, 700, 450))
    open_group(page, "General")
    page.locator("#bio-properties-panel-id").fill("referral_check")
    page.locator("#bio-properties-panel-name").fill("Referral check")
    expect(deploy).to_be_enabled(timeout=15_000)
    deploy.click()
    expect(page.locator(".deploy-status")).to_contain_text(
        "Deployed version 1 of referral_check", timeout=15_000
    )
    expect(page).to_have_url(f"{studio.base}/studio/pathways/referral_check/versions/1")
    shots(page, "modeler-deployed")

    stored = requests.get(
        f"{studio.base}/api/v1/definitions/referral_check",
        headers={"Authorization": f"Bearer {designer_token}"},
        timeout=10,
    ).json()
    [version] = stored["versions"]
    assert version["status"] == "draft" and version["deployed_by"].endswith(":designer")
    page.get_by_role("link", name="Pathway library", exact=True).click()
    expect(page.locator("tbody", has_text="referral_check")).to_contain_text("Draft")


def test_a_version_opens_with_signposts_properties(page: Page, studio, designer_token, shots):
    sign_in(page, designer_token)
    page.get_by_role("link", name="version 1 of Community nursing referral").click()
    expect(page.get_by_role("heading", name="community_nursing_referral · version 1")).to_be_visible()
    expect(page.locator(".checks-summary")).to_contain_text("The server accepts these files.", timeout=15_000)

    page.locator('.djs-element[data-element-id="allocate_to_locality_team"]').click()
    expect(page.locator("#bio-properties-panel-signpost-service-kind")).to_have_value("route")
    expect(page.locator("#bio-properties-panel-signpost-route-referral_type")).to_have_value(
        '"community-nursing"'
    )
    page.locator('.djs-element[data-element-id="acceptance_overdue"]').click()
    expect(page.locator(".signpost-preview")).to_have_text(
        "Computed when the timer starts waiting: the value of acceptance_due."
    )
    page.locator("#bio-properties-panel-timerEventDefinitionValue").fill('"PT48H"')
    expect(page.locator(".signpost-preview")).to_have_text("After 48 hours.")
    assert_accessible(page, "modeler with a version open")
    shots(page, "modeler-timer")

    page.get_by_role("tab", name="community_nursing_triage.dmn").click()
    expect(page.locator("#dmn-workbench .tjs-table")).to_be_visible()
    assert_accessible(page, "decision table")


def test_the_library_and_the_problem_list_work_from_the_keyboard(page: Page, studio, designer_token, shots):
    page.goto("/studio/")
    expect(page.get_by_label("API token")).to_be_focused()
    page.keyboard.type(designer_token)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Pathway library")).to_be_visible()

    tab_to(page, "#library-filter")
    page.keyboard.type("nursing")
    expect(page.locator("table.library tbody:visible")).to_have_count(1)
    tab_to(page, 'a[href="/studio/pathways/community_nursing_referral/versions/1"]')
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="community_nursing_referral · version 1")).to_be_visible()

    # a Camunda Modeler file the server refuses twice: a script and a JUEL condition
    page.locator("#import-files").set_input_files(str(REFUSED))
    expect(page.locator(".checks-summary")).to_contain_text("2 problems to fix", timeout=15_000)
    expect(page.locator(".djs-element.signpost-problem")).to_have_count(2, timeout=15_000)
    tab_to(page, ".check-button")
    focused_element = "document.activeElement.dataset.element"
    first = page.evaluate(focused_element)
    page.keyboard.press("ArrowDown")
    assert {first, page.evaluate(focused_element)} == {"score", "urgent"}
    if page.evaluate(focused_element) != "score":
        page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(page.locator(".bio-properties-panel-header-label")).to_have_text("Score the referral")
    expect(page.locator('[data-entry-id="signpost-script"]')).to_contain_text("is refused")
    assert_accessible(page, "modeler with the server's problems listed")
    shots(page, "modeler-checks")


def test_an_ended_session_changes_nothing_and_asks_to_sign_in_again(
    page: Page, studio, signpost, enrolled, shots
):
    designer = enrolled(DESIGNER)
    sign_in(page, designer.token)
    page.get_by_role("link", name="New pathway").first.click()
    page.click('.djs-palette [data-action="create.start-event"]')
    page.mouse.click(*canvas_point(page, 220, 220))
    type_label(page, "Referral received")
    expect(page.locator("section.checks")).to_have_attribute("aria-busy", "false", timeout=15_000)

    signpost.clients.revoke(designer.client.id)
    select(page, "Event_")
    page.click('.djs-context-pad [data-action="append.append-task"]')
    type_label(page, "Check the referral")
    dialog = page.get_by_role("dialog", name="Your session has ended, sign in again")
    expect(dialog).to_be_visible(timeout=15_000)
    expect(dialog).to_contain_text("Nothing was changed")
    expect(shape(page, "Activity_")).to_have_count(1)  # the drawing is still there
    assert_accessible(page, "session-ended dialog")
    shots(page, "session-ended")

    dialog.get_by_label("API token").fill(enrolled(SECOND_DESIGNER).token)
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("header")).to_contain_text("second designer")
    expect(shape(page, "Activity_")).to_have_count(1)
    # the server's check runs again under the new session
    expect(page.locator(".checks-summary")).not_to_contain_text("could not check", timeout=15_000)


def test_forged_and_expired_session_cookies_are_refused(page: Page, studio, designer_token):
    sessions = Sessions(SecretBox(SECRET_KEYS))
    with time_machine.travel(datetime.now(UTC) - timedelta(hours=9), tick=False):
        _, expired = sessions.issue(designer_token)
    plain = json.dumps(
        {"purpose": "signpost-web-session", "token": designer_token, "csrf": "x", "expires": 2**40}
    )
    forged = {
        "expired": expired,
        "garbled": expired[:-12] + "A" * 12,
        "in the clear": plain,
        "sealed with another key": Sessions(
            SecretBox(["hV4pFq0m3u9oVq8y7N3xJ1lK2cD5eF6gH7iJ8kL9mN0="])
        ).issue(designer_token)[1],
    }
    for what, value in forged.items():
        answer = requests.get(f"{studio.base}/api/v1/session", cookies={COOKIE: value}, timeout=10)
        assert answer.status_code == 401, what
        assert answer.headers["Content-Type"] == "application/problem+json"
        # (JSON in a cookie is not even read as one: it is refused as no session at all)
        assert answer.json()["detail"] in (ENDED, "send a bearer token: 'Authorization: Bearer <token>'"), (
            what
        )

    page.context.add_cookies([{"name": COOKIE, "value": expired, "url": studio.base}])
    page.goto("/studio/")
    expect(page.get_by_role("heading", name="Sign in to the Signpost studio")).to_be_visible()


def test_changes_made_with_the_session_cookie_need_its_csrf_token(page: Page, studio, designer_token):
    sign_in(page, designer_token)
    [cookie] = [c for c in page.context.cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert COOKIE not in page.evaluate("document.cookie")  # the page's script never sees the token
    assert designer_token not in page.content()

    # from the studio's own page, a change without the header is refused
    status = page.evaluate(
        "async () => (await fetch('/api/v1/definitions', { method: 'POST', body: new FormData() })).status"
    )
    assert status == 403

    upload = [("files", (name, (PROCESSES / name).read_bytes())) for name in NURSING_FILES]
    with requests.Session() as browser_like:
        browser_like.cookies.set(COOKIE, cookie["value"])
        assert browser_like.get(f"{studio.base}/api/v1/definitions", timeout=10).status_code == 200
        for headers in ({}, {"X-CSRF-Token": "not-the-sessions"}):
            refused = browser_like.post(
                f"{studio.base}/api/v1/definitions", files=upload, headers=headers, timeout=30
            )
            assert refused.status_code == 403, refused.text
            assert refused.headers["Content-Type"] == "application/problem+json"
            assert "X-CSRF-Token" in refused.json()["detail"]
        csrf = browser_like.get(f"{studio.base}/api/v1/session", timeout=10).json()["csrf_token"]
        same = browser_like.post(
            f"{studio.base}/api/v1/definitions", files=upload, headers={"X-CSRF-Token": csrf}, timeout=30
        )
        assert same.status_code == 200, same.text  # identical to version 1: nothing new, but not refused
        assert browser_like.delete(f"{studio.base}/api/v1/session", timeout=10).status_code == 403
        signed_out = browser_like.delete(
            f"{studio.base}/api/v1/session", headers={"X-CSRF-Token": csrf}, timeout=10
        )
        assert signed_out.status_code == 204
        assert "Max-Age=0" in signed_out.headers["Set-Cookie"]
