"""Simulations through the API (api/views/simulations.py): started in the background, polled, cancelled, read
as figures and as the HTML report; refused with a problem document when they cannot run; seen by the
caller's organisation only."""

from __future__ import annotations

from tests.conftest import NURSING_FILES, SOPS, pathway_files

NURSING = "community_nursing_referral"
CITY = "community-nursing-city"
REQUEST = {
    "pathway": NURSING,
    "start": "2026-01-12T00:00:00+00:00",
    "days": 0.5,
    "warm_up_days": 0,
    "runs": 1,
    "demand": {"arrivals": [{"pathway": NURSING, "per_hour": {"Mon 08:00-12:00": 3}}]},
    "services": {"services": {CITY: {"capacity": 1, "work": {"median": "PT25M", "p90": "PT40M"}}}},
    "what_if": {"target": ["acknowledge=PT30M"]},
}


def deploy(signpost):
    signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")
    files = pathway_files(*NURSING_FILES, "community_nursing_referral.scenarios.yaml")
    signpost.definitions.deploy(files, "tests")


def test_a_designer_starts_a_simulation_polls_it_and_reads_its_figures_and_report(
    http, app, signpost, directory, designer_headers, operator_headers
):
    deploy(signpost)
    started = http.post("/api/v1/simulations", json=REQUEST, headers=designer_headers)
    assert started.status_code == 202, started.json
    simulation = started.json
    assert simulation["status"] == "running" and simulation["figures"] is None
    app.extensions["simulations"].wait(simulation["id"], 300)

    done = http.get(f"/api/v1/simulations/{simulation['id']}", headers=designer_headers).json
    assert done["status"] == "done", done["error"]
    assert done["progress"]["referrals"] > 0 and done["progress"]["fraction_done"] > 0.9
    arms = done["figures"]["arms"]
    assert [arm["label"] for arm in arms] == ["as is", "what if"]
    assert any(row["group"] == [CITY] for row in arms[0]["compliance"]["service"])
    listed = http.get("/api/v1/simulations", headers=designer_headers).json
    assert [s["id"] for s in listed] == [simulation["id"]]

    report = http.get(f"/api/v1/simulations/{simulation['id']}/report", headers=designer_headers)
    assert report.status_code == 200 and report.mimetype == "text/html"
    assert b"<svg" in report.data and "default-src 'none'" in report.headers["Content-Security-Policy"]
    # Another organisation's duty manager does not see it at all.
    assert http.get(f"/api/v1/simulations/{simulation['id']}", headers=operator_headers).status_code == 404
    assert http.get("/api/v1/simulations", headers=operator_headers).json == []


def test_a_running_simulation_can_be_cancelled(http, app, signpost, directory, operator_headers):
    deploy(signpost)
    longer = {**REQUEST, "days": 5, "what_if": None}
    started = http.post("/api/v1/simulations", json=longer, headers=operator_headers).json
    cancelled = http.post(f"/api/v1/simulations/{started['id']}/cancel", headers=operator_headers)
    assert cancelled.status_code == 200
    app.extensions["simulations"].wait(started["id"], 300)
    after = http.get(f"/api/v1/simulations/{started['id']}", headers=operator_headers).json
    assert after["status"] == "cancelled" and after["figures"] is None
    again = http.post(f"/api/v1/simulations/{started['id']}/cancel", headers=operator_headers)
    assert again.status_code == 409
    assert (
        http.get(f"/api/v1/simulations/{started['id']}/report", headers=operator_headers).status_code == 409
    )


def test_a_simulation_that_cannot_run_is_refused_at_once_with_the_reason(
    http, signpost, directory, designer_headers
):
    deploy(signpost)
    for body, status, reason in (
        ({**REQUEST, "pathway": "no_such_pathway"}, 404, "no definition with key 'no_such_pathway'"),
        ({**REQUEST, "version": 4}, 404, "has no version 4"),
        ({**REQUEST, "demand": {"arrivals": [{"pathway": NURSING, "per_hour": -3}]}}, 422, "negative"),
        ({**REQUEST, "services": {"services": {"nowhere": {}}}}, 422, "nowhere"),
        ({**REQUEST, "what_if": {"capacity": ["nowhere=2"]}}, 422, "nowhere"),
        (
            {**REQUEST, "demand": None, "fit_from": "2025-01-06T00:00:00Z", "fit_to": "2025-02-03T00:00:00Z"},
            422,
            "no history to fit",
        ),
    ):
        response = http.post("/api/v1/simulations", json=body, headers=designer_headers)
        assert response.status_code == status, (body, response.json)
        assert response.mimetype == "application/problem+json"
        assert reason in response.json["detail"]
    assert (
        http.post("/api/v1/simulations", json={**REQUEST, "days": 90}, headers=designer_headers).status_code
        == 422
    )
    assert http.get("/api/v1/simulations", headers=designer_headers).json == []
