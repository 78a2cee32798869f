"""Pathway simulation (engine/simulation/, `signpost simulate`): demand replayed against the real engine in
virtual time predicts OLA compliance; what-ifs move it the way they should; bad input is refused; a generated
history is recovered by fitting, and the back-test's error stays within its stated tolerance.

Runs are small (a day or so of demand, fixed seeds), so the figures are deterministic and the file is quick.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from api.cli import main
from engine.errors import InvalidInput, NotFound
from engine.simulation.fit import fit
from engine.simulation.history import backtest, generate_history
from engine.simulation.profiles import behaviour_from, demand_from, read_document
from engine.simulation.report import as_csv, as_dict, as_html
from engine.simulation.runner import Arm, Plan, simulate
from engine.simulation.whatifs import WhatIf, read_what_if
from tests.conftest import NURSING_FILES, ROOT, SOPS, pathway_files

NURSING = "community_nursing_referral"
CITY = "community-nursing-city"
# A Monday in January (GMT): every calendar open at 09:00, no bank holiday that week.
MONDAY = datetime(2026, 1, 12, tzinfo=UTC)
# Busy enough that the city team's one person falls behind in the day, so that OLA clocks breach.
DEMAND = {"arrivals": [{"pathway": NURSING, "per_hour": {"Mon-Fri 09:00-17:00": 3}}]}
SERVICES = {
    "services": {
        CITY: {
            "capacity": 1,
            "reject_rate": 0.1,
            "information_rate": 0.0,
            "work": {"median": "PT25M", "p90": "PT40M"},
            "to_start": {"median": "PT2H", "p90": "PT4H"},
            "to_complete": {"median": "PT1H", "p90": "PT2H"},
        }
    }
}
# What the back-test may get wrong: predicted minus recorded % met per service, on average.
BACKTEST_TOLERANCE_POINTS = 15.0


@pytest.fixture
def deployed(signpost):
    """The shipped directory and OLA terms, and the nursing pathway with its scenario file (sample data)."""
    signpost.services.load_directory((SOPS / "services.toml").read_text(), "sops/services.toml", "tests")
    signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")
    files = pathway_files(*NURSING_FILES, "community_nursing_referral.scenarios.yaml")
    return signpost.definitions.deploy(files, "tests")


def plan(*arms: Arm, days: float = 1.0, runs: int = 1, demand=DEMAND, services=SERVICES, **more) -> Plan:
    return Plan(
        arms=arms,
        start=MONDAY,
        days=days,
        demand=demand_from(demand, "demand"),
        behaviour=behaviour_from(services, "services"),
        runs=runs,
        warm_up_days=more.pop("warm_up_days", 0),
        **more,
    )


def breached(arm, grouping: str, group: list[str]) -> float:
    rows = [r for r in arm.summary()["compliance"][grouping] if r["group"] == group]
    return rows[0]["breached"] if rows else 0.0


def test_a_shorter_target_raises_predicted_breaches_and_more_capacity_lowers_them(signpost, deployed):
    pathway = ((NURSING, None),)
    result = simulate(
        signpost,
        plan(
            Arm("as is", pathway),
            Arm("two-hour acceptance", pathway, read_what_if("t", target=["accept-or-reject=PT2H"])),
            Arm("a second person", pathway, read_what_if("c", capacity=[f"{CITY}=+1"])),
        ),
    )
    as_is, shorter, more_people = result.arms
    accept = ["community nursing locality teams", "accept-or-reject"]
    acknowledge = ["community nursing locality teams", "acknowledge"]
    assert result.referrals > 30 and not result.cancelled
    assert breached(as_is, "obligation", acknowledge) > 0
    assert breached(shorter, "obligation", accept) > breached(as_is, "obligation", accept)
    assert breached(more_people, "service", [CITY]) < breached(as_is, "service", [CITY])
    # The same seeds give every arm the same referrals: only the what-if differs.
    assert as_is.runs[0].referrals == shorter.runs[0].referrals == more_people.runs[0].referrals
    summary = as_is.summary()
    assert {r["group"][0] for r in summary["compliance"]["service"]} >= {CITY}
    assert summary["queues"][CITY] and max(p["waiting"] for p in summary["queues"][CITY]) >= 1
    assert "await_acceptance" in {e["element_id"] for e in summary["dwell"]}


def test_repeated_runs_give_a_confidence_interval_and_the_same_seed_the_same_figures(signpost, deployed):
    small = {"arrivals": [{"pathway": NURSING, "per_hour": {"Mon 09:00-13:00": 3}}]}
    arm = Arm("as is", ((NURSING, None),))
    first = simulate(signpost, plan(arm, days=0.5, runs=2, demand=small)).arms[0]
    again = simulate(signpost, plan(arm, days=0.5, runs=1, demand=small)).arms[0]
    assert first.runs[0].compliance == again.runs[0].compliance
    row = next(r for r in first.summary()["compliance"]["service"] if r["group"] == [CITY])
    assert row["percent_met_low"] is not None and row["percent_met_low"] <= row["percent_met"]
    assert row["percent_met"] <= row["percent_met_high"]


@pytest.mark.parametrize(
    ("arms", "demand", "services", "refused_for"),
    [
        (
            (Arm("x", (("no_such_pathway", None),)),),
            DEMAND,
            SERVICES,
            "no definition with key 'no_such_pathway'",
        ),
        ((Arm("x", ((NURSING, 9),)),), DEMAND, SERVICES, "has no version 9"),
        ((Arm("x", ((NURSING, None),)),), DEMAND, {"services": {"no-such-team": {}}}, "no-such-team"),
        (
            (Arm("x", ((NURSING, None),)),),
            {"arrivals": [{"pathway": "other_pathway", "per_hour": 1}]},
            SERVICES,
            "no arrivals for pathway 'community_nursing_referral'",
        ),
        (
            (Arm("x", ((NURSING, None),)),),
            {"arrivals": [{"pathway": NURSING, "point_of_access": CITY, "per_hour": 1}]},
            SERVICES,
            "not a point of access",
        ),
        (
            (Arm("x", ((NURSING, None),), read_what_if("w", target=["no-such-obligation=PT1H"])),),
            DEMAND,
            SERVICES,
            "matches no obligation",
        ),
        (
            (Arm("x", ((NURSING, None),), read_what_if("w", close=["nowhere@2026-01-12"])),),
            DEMAND,
            SERVICES,
            "'nowhere'",
        ),
    ],
)
def test_a_simulation_of_what_does_not_exist_is_refused_before_it_runs(
    signpost, deployed, arms, demand, services, refused_for
):
    with pytest.raises((NotFound, InvalidInput), match=refused_for):
        simulate(signpost, plan(*arms, demand=demand, services=services))


@pytest.mark.parametrize(
    ("document", "refused_for"),
    [
        ({"arrivals": [{"pathway": NURSING, "per_hour": -2}]}, "negative"),
        ({"arrivals": [{"pathway": NURSING, "per_hour": {"Mon-Fri 09:00-17:00": -1}}]}, "negative"),
        ({"arrivals": [{"pathway": NURSING, "per_hour": {"Funday": 1}}]}, "cannot read 'Funday'"),
        ({"arrivals": [{"pathway": NURSING, "per_hour": [1, 2]}]}, "168"),
        ({"arrivals": []}, "no arrivals"),
        ({"arrivals": [{"per_hour": 1}]}, "name its 'pathway'"),
    ],
)
def test_a_demand_profile_with_negative_or_unreadable_rates_is_refused(document, refused_for):
    with pytest.raises(InvalidInput, match=refused_for):
        demand_from(document, "demand.yaml")


@pytest.mark.parametrize(
    ("services", "refused_for"),
    [
        ({CITY: {"reject_rate": 1.5}}, "between 0 and 1"),
        ({CITY: {"capacity": -1}}, "negative"),
        ({CITY: {"work": {"median": "PT1H", "p90": "PT10M"}}}, "shorter than the median"),
        ({CITY: {"work": "ten minutes"}}, "ISO 8601"),
        ({CITY: {"speed": 3}}, "unknown speed"),
    ],
)
def test_service_behaviour_that_makes_no_sense_is_refused(services, refused_for):
    with pytest.raises(InvalidInput, match=refused_for):
        behaviour_from({"services": services}, "services.yaml")


def test_what_ifs_are_read_strictly():
    for words, refused_for in (
        ({"close": ["community-nursing-city"]}, "service@YYYY-MM-DD"),
        ({"close": ["x@tomorrow"]}, "not a date"),
        ({"target": ["accept-or-reject"]}, "obligation=PT2H"),
        ({"target": ["accept-or-reject=-PT2H"]}, "negative"),
        ({"capacity": ["x=lots"]}, "service=3"),
        ({"demand_scale": -1}, "positive"),
    ):
        with pytest.raises(InvalidInput, match=refused_for):
            read_what_if("w", **words)
    assert read_what_if("w").changes_anything is False
    assert WhatIf().capacity_of(CITY, 2) == 2
    assert read_what_if("w", capacity=[f"{CITY}=+2"]).capacity_of(CITY, 2) == 4


def test_fitting_a_period_without_history_is_refused(signpost, deployed):
    with pytest.raises(InvalidInput, match="no history to fit"):
        fit(signpost, MONDAY, MONDAY + timedelta(days=7), [NURSING])


def test_the_command_writes_a_report_json_and_csv_and_refuses_bad_input(
    signpost, deployed, database_url, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("SIGNPOST_DATABASE_URL", database_url)
    demand = tmp_path / "demand.yaml"
    demand.write_text(f"arrivals:\n  - pathway: {NURSING}\n    per_hour: {{'Mon 09:00-12:00': 3}}\n")
    services = tmp_path / "services.json"
    services.write_text(json.dumps(SERVICES))
    common = ["simulate", "--pathway", NURSING, "--demand", str(demand), "--services", str(services)]
    window = ["--start", MONDAY.isoformat(), "--days", "0.5", "--warm-up", "0", "--runs", "1"]
    status = main(
        [
            *common,
            *window,
            *("--target", "acknowledge=PT30M", "--report", str(tmp_path / "r.html")),
            *("--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv")),
        ]
    )
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "as is" in out and "what if" in out and "% met" in out
    html = (tmp_path / "r.html").read_text()
    assert "<svg" in html and "Predicted OLA compliance" in html and CITY in html
    assert (
        "<script" not in html
        and "src=" not in html
        and "http" not in html.replace("http://www.w3.org/2000/svg", "")
    )
    figures = json.loads((tmp_path / "r.json").read_text())
    assert [arm["label"] for arm in figures["arms"]] == ["as is", "what if"]
    assert (tmp_path / "r.csv").read_text().startswith("arm,grouping,group,met,breached,percent_met")

    for args, refused_for in (
        (["simulate", "--pathway", "nope", "--demand", str(demand)], "no definition with key 'nope'"),
        (["simulate", "--pathway", f"{NURSING}@7", "--demand", str(demand)], "has no version 7"),
        (["simulate", "--pathway", NURSING], "give the demand"),
        ([*common, "--capacity", "nowhere=2"], "'nowhere'"),
        (
            ["simulate", "--pathway", NURSING, "--fit-from", "2026-01-05", "--fit-to", "2026-01-12"],
            "no history",
        ),
    ):
        assert main(args) == 1, args
        assert refused_for in capsys.readouterr().err


def test_the_back_test_recovers_a_generated_history_within_its_tolerance(signpost, deployed):
    truth = read_document((ROOT / "docs" / "simulation-profile.yaml").read_text(), "profile.yaml")
    demand = demand_from(truth, "profile").scaled(0.4)
    known = behaviour_from(truth, "profile")
    written = generate_history(signpost, start=MONDAY, days=5, demand=demand, behaviour=known, seed=3)
    assert written.referrals > 60

    fitted = fit(signpost, MONDAY, MONDAY + timedelta(days=4), [NURSING])
    city, truth_city = fitted.behaviour.services[CITY], known.services[CITY]
    assert abs(city.reject_rate - truth_city.reject_rate) <= 0.1
    assert abs(city.work.median() - truth_city.work.median()) <= 0.35 * truth_city.work.median()
    assert 1 <= city.capacity <= truth_city.capacity
    weekday_peak = [h for h in range(4 * 24) if 8 <= h % 24 < 18]
    fitted_rate = sum(fitted.demand.streams[0].per_hour[h] for h in weekday_peak) / len(weekday_peak)
    assert fitted_rate == pytest.approx(5 * 0.4, rel=0.35)

    tested = backtest(
        signpost,
        fit_from=MONDAY,
        fit_to=MONDAY + timedelta(days=4),
        predict_to=MONDAY + timedelta(days=5),
        runs=2,
        warm_up_days=1,
    )
    assert any(row.service == CITY and row.error is not None for row in tested.rows)
    assert tested.mean_absolute_error <= BACKTEST_TOLERANCE_POINTS, "\n".join(tested.lines())
    assert "mean absolute error" in tested.lines()[-1]


def test_the_report_of_a_period_where_nothing_fell_due_says_so(signpost, deployed):
    night = {"arrivals": [{"pathway": NURSING, "per_hour": {"Mon 00:00-06:00": 1}}]}
    result = simulate(signpost, plan(Arm("as is", ((NURSING, None),)), days=0.25, demand=night))
    summary = as_dict(result)
    assert summary["referrals"] > 0 and summary["arms"][0]["compliance"]["service"] == []
    assert as_csv(summary).splitlines()[1:] == []
    assert "No obligation fell due in the period" in as_html(summary)
