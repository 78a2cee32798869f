"""The `signpost` command as `make run` uses it: migrate, deploy, create clients, serve."""

from __future__ import annotations

import json
import logging
import queue
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, process_env
from tests.support.net import free_port

SIGNPOST = [sys.executable, "-m", "api.cli"]
STARTUP_TIMEOUT_SECONDS = 60


def run(database_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = process_env(database_url)
    return subprocess.run([*SIGNPOST, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_deploy_is_idempotent_and_reports_each_pathway(database_url, tmp_path):
    first = run(database_url, "deploy", str(ROOT / "processes"), str(ROOT / "sops"), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "community_nursing_referral version 1 deployed" in first.stdout
    again = run(database_url, "deploy", str(ROOT / "processes"), cwd=tmp_path)
    assert "community_nursing_referral version 1 unchanged" in again.stdout


def test_deploy_of_a_broken_file_lists_its_problems_and_fails(database_url, tmp_path):
    broken = tmp_path / "broken.bpmn"
    broken.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><x/>')
    result = run(database_url, "deploy", str(broken), cwd=tmp_path)
    assert result.returncode == 1
    assert "broken.bpmn" in result.stderr and "DOCTYPE" in result.stderr


def test_clients_create_prints_a_token_that_authenticates(database_url, tmp_path, signpost):
    result = run(
        database_url, "clients", "create", "--org", "city-gp-practice", "--role", "referrer", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    token = re.search(r"^token: (\S+)$", result.stdout, re.M).group(1)
    client = signpost.clients.authenticate(token)
    assert (client.organisation, client.roles) == ("city-gp-practice", frozenset({"referrer"}))


def test_clients_create_refuses_an_unknown_role(database_url, tmp_path):
    result = run(database_url, "clients", "create", "--org", "x", "--role", "superuser", cwd=tmp_path)
    assert result.returncode == 1
    assert "roles must be some of" in result.stderr


def read_until(process: subprocess.Popen, pattern: str) -> str:
    """Read the server's output until a line matches ``pattern`` (bounded by a deadline, not by sleeping).

    A thread does the reading: select() on a pipe wrapped in a buffered reader misses lines already
    buffered, so waiting on a queue is the reliable way to bound the wait."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=STARTUP_TIMEOUT_SECONDS)
        except queue.Empty:
            raise AssertionError("server said nothing for a minute:\n" + "".join(seen)) from None
        seen.append(line)
        if re.search(pattern, line):
            return "".join(seen)


@pytest.fixture
def served(database_url, tmp_path):
    assert (
        run(database_url, "deploy", str(ROOT / "processes"), str(ROOT / "sops"), cwd=tmp_path).returncode == 0
    )
    port = free_port()
    env = process_env(database_url, PYTHONUNBUFFERED="1")
    env.pop("SIGNPOST_ADMIN_TOKEN", None)
    process = subprocess.Popen(
        [*SIGNPOST, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = read_until(process, r"Running on http://127\.0\.0\.1")
        yield f"http://127.0.0.1:{port}", banner, tmp_path
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_prints_where_to_go_and_serves_the_deployed_pathway(served):
    base, banner, workdir = served
    token = (workdir / "var" / "dev-admin-token").read_text().strip()
    assert f"{base}/api/docs" in banner
    assert f"admin token: in {workdir / 'var' / 'dev-admin-token'}" in banner
    assert token not in banner  # the banner says where the token is, never the token
    request = urllib.request.Request(
        f"{base}/api/v1/definitions", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        definitions = json.load(response)
    assert "community_nursing_referral" in [d["key"] for d in definitions]
    with urllib.request.urlopen(f"{base}/api/docs", timeout=30) as response:
        assert b"swagger-ui" in response.read()


def test_the_development_server_logs_requests_without_their_query_strings(caplog):
    from api.cli import PathOnlyRequestLog

    # Only the request line matters to the access log: no socket is needed to write one.
    handler = PathOnlyRequestLog.__new__(PathOnlyRequestLog)
    handler.requestline = "GET /api/v1/referrals?subject=9434765919 HTTP/1.1"
    handler.client_address = ("127.0.0.1", 50123)
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        handler.log_request(200, 512)
    [line] = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert '"GET /api/v1/referrals HTTP/1.1" 200 512' in line
    assert "9434765919" not in line


def test_serve_never_prints_a_production_admin_token(database_url, tmp_path):
    """A supervisor's log or a terminal's scroll-back keeps whatever a server prints at start-up."""
    token = "sp_prod_" + "k" * 40
    port = free_port()
    env = process_env(database_url, PYTHONUNBUFFERED="1", SIGNPOST_ADMIN_TOKEN=token)
    process = subprocess.Popen(
        [*SIGNPOST, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = read_until(process, r"Running on http://127\.0\.0\.1")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/clients", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200  # the token works: it was ensured, just not shown
    finally:
        process.terminate()
        process.wait(timeout=30)
    # The banner is everything the server printed before it began serving.
    assert "admin token: the one in SIGNPOST_ADMIN_TOKEN" in banner
    assert token not in banner and "k" * 40 not in banner
    assert not (tmp_path / "var" / "dev-admin-token").exists()
