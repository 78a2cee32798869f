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
from pathlib import Path

import pytest

from tests.conftest import ROOT, process_env
from tests.support.net import free_port
from tests.support.personas import DESIGNER
from tests.support.processes import Process

CHROMIUM = Path(os.environ.get("SIGNPOST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium")
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
BUILT = ROOT / "web" / "dist" / "index.html"
SCREENSHOTS = ROOT / "docs" / "screenshots"
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
    return context


class Studio:
    """A `signpost serve` process on a free port serving the studio."""

    def __init__(self, database_url: str, cwd):
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        env = process_env(database_url, PYTHONUNBUFFERED="1")
        env.pop("SIGNPOST_ADMIN_TOKEN", None)
        self.process = Process([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env, cwd)
        self.process.wait_for(r"Running on http://127\.0\.0\.1")


@pytest.fixture
def studio(signpost, database_url, tmp_path, nursing):
    """The server, with the community nursing pathway deployed (and the service directory it routes to)."""
    running = Studio(database_url, tmp_path)
    try:
        yield running
    finally:
        running.process.kill()


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
