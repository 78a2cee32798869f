"""Driving a conformance diagram through the API: deploy it (or see it refused), start a referral on it, read
it, complete its tasks. Every referral read on the way is checked to list how it can move on."""

from __future__ import annotations

import io

import pytest


def assert_listed(referral: dict) -> dict:
    """A waiting referral lists how it can move on; one waiting with nothing listed would wait forever."""
    if referral.get("status") == "waiting":
        waiting = referral["waiting_for"]
        assert any(waiting[kind] for kind in waiting), f"waits with nothing listed: {referral}"
    return referral


@pytest.fixture
def post_files(http, designer_headers):
    def post(*files: tuple[str, str | bytes]):
        form = {"files": [(io.BytesIO(c if isinstance(c, bytes) else c.encode()), n) for n, c in files]}
        return http.post(
            "/api/v1/definitions", data=form, headers=designer_headers, content_type="multipart/form-data"
        )

    return post


@pytest.fixture
def deploy(post_files):
    def deploy(*files: tuple[str, str | bytes]) -> dict:
        response = post_files(*files)
        assert response.status_code == 201, response.json
        return response.json

    return deploy


@pytest.fixture
def refused(post_files):
    def refused(*files: tuple[str, str | bytes]) -> list[dict]:
        response = post_files(*files)
        assert response.status_code == 422, response.json
        assert response.content_type == "application/problem+json"
        return response.json["problems"]

    return refused


@pytest.fixture
def start(http, gp_headers):
    def start(pathway: str, data: dict | None = None) -> dict:
        response = http.post(
            "/api/v1/referrals",
            json={"pathway": pathway, "referrer": "C81001", "data": data or {}},
            headers=gp_headers,
        )
        assert response.status_code == 201, response.json
        return assert_listed(response.json)

    return start


@pytest.fixture
def read(http, gp_headers):
    def read(referral: dict) -> dict:
        response = http.get(f"/api/v1/referrals/{referral['id']}", headers=gp_headers)
        assert response.status_code == 200, response.json
        return assert_listed(response.json)

    return read


@pytest.fixture
def complete(http, practice_operator_headers):
    def complete(referral: dict, element_id: str, data: dict | None = None) -> dict:
        [task, *_] = [t for t in referral["waiting_for"]["tasks"] if t["element_id"] == element_id]
        response = http.post(
            f"/api/v1/tasks/{task['id']}/complete",
            json={"data": data or {}},
            headers=practice_operator_headers,
        )
        assert response.status_code == 200, response.json
        return assert_listed(response.json)

    return complete


@pytest.fixture
def reached(http, practice_operator_headers):
    """The element ids an instance completed, in order (from its event log)."""

    def reached(referral: dict) -> list[str]:
        response = http.get(f"/api/v1/referrals/{referral['id']}/events", headers=practice_operator_headers)
        assert response.status_code == 200, response.json
        return [e["detail"]["element_id"] for e in response.json if e["kind"] == "step_completed"]

    return reached
