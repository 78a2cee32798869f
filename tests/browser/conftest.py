"""The web application in a real browser: Debian's Chromium, driven by Playwright (pytest-playwright's
fixtures), through a real `signpost serve` process on a free port with the test's own database.

Playwright's own browser download is not used (these machines reach no such site): the browser is the one
at ``CHROMIUM`` (``.ci/run`` installs it with apt-get). Without it these tests are skipped, saying so —
except where ``SIGNPOST_REQUIRE_BROWSER`` is set (``.ci/run`` sets it), where they fail.
axe-core comes from web/node_modules (a development dependency of web/package.json) and is added to every
page by Playwright before the page's own script runs, so the page's Content-Security-Policy stays as served.
"""

from __future__ import annotations

import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import time_machine

from engine.bpmn import SourceFile
from tests.conftest import ROOT, process_env
from tests.support.net import free_port
from tests.support.personas import DESIGNER
from tests.support.processes import Process

CHROMIUM = Path(os.environ.get("SIGNPOST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium")
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
BUILT = ROOT / "web" / "dist" / "index.html"
SCREENSHOTS = ROOT / "docs" / "screenshots"
HERE = Path(__file__).parent
VIEWPORT = {"width": 1400, "height": 900}


@pytest.fixture(autouse=True)
def _browser_available():
    if not CHROMIUM.is_file():
        if os.environ.get("SIGNPOST_REQUIRE_BROWSER"):
            pytest.fail(f"no Chromium at {CHROMIUM}, and SIGNPOST_REQUIRE_BROWSER says these tests must run")
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's (`apt-get install -y chromium`; .ci/run does)"
        )
    if not BUILT.is_file() or not AXE.is_file():
        pytest.fail(
            "the web application is not built: `make test` builds it (npm ci and npm run build in web/)"
        )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "headless": True}


@pytest.fixture
def browser_context_args(browser_context_args, studio):
    return {**browser_context_args, "base_url": studio.base, "viewport": VIEWPORT}


@pytest.fixture
def context(context):
    context.add_init_script(path=str(AXE))
    # The page reads the clock the test's processes read: Chromium is not a Python process, so CI's run with
    # every process's clock moved ahead would otherwise leave the browser a year behind its server.
    context.clock.set_system_time(datetime.now(UTC))
    return context


@pytest.fixture
def page(page):
    """The page, refusing any breach of its Content-Security-Policy (the browser reports each one)."""
    breaches = []
    page.on("console", lambda m: breaches.append(m.text) if "Content Security Policy" in m.text else None)
    yield page
    assert breaches == [], breaches


class Studio:
    """A `signpost serve` process on a free port serving the studio."""

    def __init__(self, database_url: str, cwd, **settings: str):
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        env = process_env(database_url, PYTHONUNBUFFERED="1", **settings)
        env.pop("SIGNPOST_ADMIN_TOKEN", None)
        self.process = Process([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env, cwd)
        self.process.wait_for(r"Running on http://127\.0\.0\.1")


@pytest.fixture
def studio(signpost, database_url, tmp_path, nursing, request):
    """The server, with the community nursing pathway deployed (and the service directory it routes to).
    A module marked ``studio_settings(NAME=value, …)`` runs it with those settings in its environment."""
    marker = request.node.get_closest_marker("studio_settings")
    running = Studio(database_url, tmp_path, **(marker.kwargs if marker else {}))
    try:
        yield running
    finally:
        running.process.kill()


# The console's screens: referrals may start on the nursing pathway before its clinical approval (as in
# `make run`); approval is tests/browser/test_approve.py's subject.
CONSOLE = pytest.mark.studio_settings(SIGNPOST_SKIP_PATHWAY_APPROVAL="true")
ROUTINE_NURSING_REFERRAL = {
    "pathway": "community_nursing_referral",
    "referrer": "C81001",
    "subject": "9434765919",
    "data": {"clinical_need": "medication", "address_postcode": "LE1 5WW", "housebound": False},
}


def call(studio: Studio, token: str, method: str, path: str, json: dict | None = None) -> dict:
    """The server's answer (JSON) to a request made elsewhere than in the browser: by another client."""
    answer = requests.request(
        method, f"{studio.base}{path}", json=json, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert answer.ok, answer.text
    return answer.json()


def deploy_worklist_sample(signpost) -> None:
    """tests/browser/worklist.bpmn with its form: start -> a script -> "Check the referral" (a user task with
    a form, due two hours after it is ready, of the referral's priority) -> end, with its drawing."""
    files = [SourceFile(name, (HERE / name).read_bytes()) for name in ("worklist.bpmn", "review.form.json")]
    signpost.definitions.deploy(files, "tests")


def start_worklist_referral(signpost, referrer, at: datetime, priority: str = "routine") -> dict:
    """A referral of the worklist sample, started at ``at`` (the engine's clock moved there)."""
    with time_machine.travel(at, tick=False):
        referral, _ = signpost.referrals.start(
            referrer,
            pathway="worklist_sample",
            version=None,
            referrer="C81001",
            subject=None,
            data={"priority": priority},
        )
    return referral


def start_referral(studio: Studio, token: str) -> dict:
    """A routine community nursing referral, started over HTTP by the client of ``token``."""
    return call(studio, token, "POST", "/api/v1/referrals", ROUTINE_NURSING_REFERRAL)


@pytest.fixture
def designer_token(enrolled) -> str:
    return enrolled(DESIGNER).token


@pytest.fixture
def shots():
    """``shots(page, "name")`` saves docs/screenshots/name.png (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    return take
