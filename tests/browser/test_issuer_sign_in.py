"""Signing in to the studio at the organisation's OpenID Connect issuer, in Debian's Chromium against a real
`signpost serve` and a real local issuer (tests/support/oidc_issuer.py, which signs its person in at once):
the browser leaves for the issuer and comes back signed in, with no token in any URL or in the page's
storage; a refusal at the issuer comes back as a sentence on the sign-in page; and when the session ends
while a page is open, signing in again in a tab of its own leaves the page as it was."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Studio
from tests.browser.test_studio import assert_accessible
from tests.support.oidc_issuer import AUDIENCE, CLIENT_ID, Issuer

pytestmark = pytest.mark.wall_clock

SIGN_IN_AT_ISSUER = "Sign in with your organisation\N{RIGHT SINGLE QUOTATION MARK}s account"


@pytest.fixture
def issuer():
    issuer = Issuer()
    issuer.new_key("key-1")
    issuer.person = {
        "sub": "dana",
        "name": "Dana Designer",
        "signpost_organisation": "signpost-design",
        "signpost_roles": ["designer"],
    }
    yield issuer
    issuer.close()


@pytest.fixture
def studio(signpost, database_url, tmp_path, nursing, issuer):
    """The server, configured to sign people in at ``issuer``."""
    running = Studio(
        database_url,
        tmp_path,
        SIGNPOST_OIDC_ISSUER=issuer.url,
        SIGNPOST_OIDC_AUDIENCE=AUDIENCE,
        SIGNPOST_OIDC_CLIENT_ID=CLIENT_ID,
    )
    try:
        yield running
    finally:
        running.process.kill()


def test_a_designer_signs_in_at_the_issuer_and_no_token_reaches_the_page(page: Page, studio, issuer, shots):
    page.goto("/studio/pathways/community_nursing_referral/versions/1")
    expect(page.get_by_role("heading", name="Sign in to the Signpost studio")).to_be_visible()
    link = page.get_by_role("link", name=SIGN_IN_AT_ISSUER)
    expect(link).to_be_visible()
    expect(page.get_by_label("API token")).to_be_hidden()  # behind "Sign in with an API token instead"
    assert_accessible(page, "sign-in page with an issuer")
    shots(page, "sign-in-issuer")

    visited = []  # every address the browser went to, redirects included
    page.on(
        "request", lambda request: visited.append(request.url) if request.is_navigation_request() else None
    )
    link.click()
    expect(page.locator("header")).to_contain_text("Dana Designer")
    expect(page).to_have_url(f"{studio.base}/studio/pathways/community_nursing_referral/versions/1")
    assert [url.split("?")[0] for url in visited] == [
        f"{studio.base}/api/v1/session/oidc",
        f"{issuer.url}/authorize",
        f"{studio.base}/api/v1/session/oidc/callback",
        f"{studio.base}/studio/pathways/community_nursing_referral/versions/1",
    ]
    [exchange] = issuer.exchanges
    assert all(exchange["code_verifier"] not in url and "token" not in url for url in visited)
    # The session is an HttpOnly cookie: nothing this page's script can read holds a token.
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0


def test_a_refusal_at_the_issuer_is_said_on_the_sign_in_page(page: Page, studio, issuer):
    issuer.refuse_sign_in = "access_denied"
    page.goto("/studio/")
    page.get_by_role("link", name=SIGN_IN_AT_ISSUER).click()
    expect(page.get_by_role("alert")).to_contain_text("the issuer did not sign you in: access_denied")
    expect(page.get_by_role("link", name=SIGN_IN_AT_ISSUER)).to_be_visible()
    assert_accessible(page, "sign-in page after a refusal at the issuer")
    assert page.context.cookies() == []


def test_an_ended_session_is_renewed_in_a_tab_of_its_own(page: Page, studio, issuer):
    page.goto("/studio/")
    page.get_by_role("link", name=SIGN_IN_AT_ISSUER).click()
    expect(page.get_by_role("heading", name="Pathway library")).to_be_visible()
    # The library has finished asking the API: a request of its own must not be the one that is refused.
    expect(page.locator("tbody", has_text="community_nursing_referral")).to_be_visible()

    page.context.clear_cookies()  # the session ends (as it does when the issuer's access token expires)
    page.get_by_role("link", name="New pathway").first.click()  # its checks ask the API: refused
    dialog = page.get_by_role("dialog", name="Your session has ended, sign in again")
    expect(dialog).to_be_visible(timeout=15_000)
    dialog.get_by_role("button", name="Continue").click()
    expect(dialog.get_by_role("alert")).to_contain_text("not signed in yet")

    with page.context.expect_page() as opened:
        dialog.get_by_role("link", name=f"{SIGN_IN_AT_ISSUER} (new tab)").click()
    tab = opened.value
    expect(tab.get_by_role("heading", name="You are signed in")).to_be_visible()
    expect(tab.locator("main")).to_contain_text("Dana Designer")
    assert_accessible(tab, "signed-in tab")
    tab.close()

    dialog.get_by_role("button", name="Continue").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("header")).to_contain_text("Dana Designer")
