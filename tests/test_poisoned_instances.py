"""One poisoned instance must not stop the background work of all the others (issue "Trust boundaries").

A pathway script can leave a value that JSON cannot hold (a ``zip`` object, a generator, a huge integer, a
NaN) or far too much of it. Such a step is an incident on its own instance — started through the API, or
fired by a timer — and every background loop (timers, OLA clocks, deliveries) handles each item on its
own, so one that raises is recorded and the others go on.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from engine.notifications.channels import Attempt, WebhookChannel
from engine.settings import Settings
from tests import bpmn_samples as samples
from tests.conftest import AUDIT_KEYS, SECRET_KEYS, SOPS, stored_instance
from tests.support.referrals import REFERRAL


@pytest.fixture
def settings(database_url) -> Settings:
    """The suite's settings, with webhooks to 127.0.0.1 allowed (the webhook channel is faked here)."""
    return Settings(
        database_url=database_url,
        expression_time_limit_seconds=0.5,
        require_pathway_approval=False,
        webhook_allow_private=True,
        secret_keys=SECRET_KEYS,
        audit_keys=AUDIT_KEYS,
    )


def timer_then_script(script: str, duration: str = '"PT1M"') -> str:
    """start -> timer -> script 'compute' -> user task 'after' -> end."""
    return samples.process(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="Wait">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_timer"><bpmn:timeDuration>{duration}</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="compute" name="Compute">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="after" name="After"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="compute"/>
    <bpmn:sequenceFlow id="f3" sourceRef="compute" targetRef="after"/>
    <bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end"/>""",
    )


def deploy(signpost, bpmn: str) -> None:
    signpost.definitions.deploy([samples.source(bpmn)], "tests")


def start(http, headers, data: dict | None = None):
    body = {"pathway": "sample", "referrer": "C81001", "data": data or {}}
    return http.post("/api/v1/referrals", json=body, headers=headers)


def read(http, referral_id: str, headers) -> dict:
    answer = http.get(f"/api/v1/referrals/{referral_id}", headers=headers)
    assert answer.status_code == 200, answer.json
    return answer.json


POISON = "x = data_in if poison else 1\nif poison:\n    x = zip([1, 2], [3, 4])"


def test_a_timer_leading_to_unstorable_data_makes_only_that_instance_an_incident(
    signpost, http, gp_headers, practice_operator_headers, frozen_clock
):
    deploy(signpost, timer_then_script(POISON))
    poisoned = start(http, gp_headers, {"poison": True, "data_in": 0})
    innocent = start(http, gp_headers, {"poison": False, "data_in": 0})
    assert poisoned.status_code == innocent.status_code == 201, (poisoned.json, innocent.json)
    assert poisoned.json["status"] == innocent.json["status"] == "waiting"

    frozen_clock.shift(timedelta(minutes=2))
    signpost.tick()

    fired = read(http, innocent.json["id"], practice_operator_headers)
    assert fired["status"] == "waiting"
    assert [t["element_id"] for t in fired["waiting_for"]["tasks"]] == ["after"]
    stopped = read(http, poisoned.json["id"], practice_operator_headers)
    assert stopped["status"] == "incident"
    assert stopped["incident"]["task"] == "Compute"
    assert "'x'" in stopped["incident"]["error"] and "zip" in stopped["incident"]["error"]
    # It waits for nobody now: the next tick does not try it again.
    assert signpost.timers.fire_due() == 0


@pytest.mark.parametrize(
    ("script", "why"),
    [
        ("x = zip([1], [2])", "zip"),
        ("x = map(str, [1, 2])", "map"),
        ("x = (n for n in [1, 2])", "generator"),
        ("x = 10 ** 5000", "digits"),
        ("x = float('nan')", "NaN"),
        ("x = [float('inf')]", "inf"),
    ],
)
def test_a_script_leaving_unstorable_data_at_start_answers_an_incident_not_a_500(
    signpost, http, gp_headers, script, why
):
    deploy(signpost, samples.script_then_user_task(script))
    started = start(http, gp_headers)
    assert started.status_code == 201, started.json
    assert started.json["status"] == "incident"
    assert started.json["incident"]["task"] == "Compute"
    assert "'x'" in started.json["incident"]["error"]
    assert why in started.json["incident"]["error"]


@pytest.mark.parametrize(
    "script",
    [
        "x = 'a' * 9000000",
        # Shared rows: cheap to build, 16 million items written out; refused before being written out.
        "r = [0] * 1000000\na = [r, r]\nb = [a, a]\nc = [b, b]\nx = [c, c]",
    ],
)
def test_a_step_storing_more_data_than_the_limit_is_an_incident(signpost, http, gp_headers, script):
    deploy(signpost, samples.script_then_user_task(script))
    started = start(http, gp_headers)
    assert started.status_code == 201, started.json
    assert started.json["status"] == "incident"
    assert started.json["incident"]["task"] == "Compute"
    assert "SIGNPOST_MAX_INSTANCE_DATA_BYTES" in started.json["incident"]["error"]


def break_stored_state(signpost, referral_id: str) -> str:
    """Leave the referral's stored instance state unreadable, as a bug or a bad migration could."""
    instance_id = str(uuid.UUID(signpost.referrals.instance_id(referral_id)))
    with signpost.database.write() as conn:
        conn.exec_driver_sql(f"UPDATE instances SET state = 'not json' WHERE id = '{instance_id}'")  # noqa: S608
    return instance_id


def test_an_instance_that_cannot_be_loaded_when_its_timer_is_due_does_not_stop_the_others(
    signpost, http, gp_headers, practice_operator_headers, frozen_clock
):
    deploy(signpost, timer_then_script("x = 1"))
    broken = start(http, gp_headers).json
    innocent = start(http, gp_headers).json
    instance_id = break_stored_state(signpost, broken["id"])

    frozen_clock.shift(timedelta(minutes=2))
    assert signpost.timers.fire_due() == 1

    assert (
        read(http, innocent["id"], practice_operator_headers)["waiting_for"]["tasks"][0]["element_id"]
        == "after"
    )
    stored = stored_instance(signpost, broken["id"])
    assert stored["status"] == "incident"
    assert "firing its timers failed unexpectedly" in stored["incident_error"]
    # An incident waits for nobody: the next tick does not try it again.
    assert stored["id"] == instance_id
    assert signpost.timers.fire_due() == 0


def test_an_ola_clock_that_raises_does_not_stop_the_other_clocks(
    signpost, http, nursing, gp_headers, operator_headers, frozen_clock
):
    signpost.olas.load_terms((SOPS / "olas.toml").read_text(), "sops/olas.toml", "tests")
    submitted = [http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers) for _ in range(2)]
    assert [r.status_code for r in submitted] == [201, 201], [r.json for r in submitted]
    broken, innocent = (r.json for r in submitted)
    break_stored_state(signpost, broken["id"])

    frozen_clock.shift(timedelta(minutes=35))  # past half of the hour the team has to acknowledge
    signpost.tick()

    warned = http.get(f"/api/v1/referrals/{innocent['id']}/events", headers=operator_headers)
    assert warned.status_code == 200, warned.json
    assert "ola_warning" in [e["kind"] for e in warned.json]
    stored = stored_instance(signpost, broken["id"])
    assert stored["status"] == "incident"
    assert "attending to its OLA clocks failed unexpectedly" in stored["incident_error"]
    # Its clock is still due, but it is not tried again and again: the next tick ends.
    assert signpost.olas.attend_due() == 0


def test_a_delivery_whose_channel_raises_is_a_failed_attempt_and_the_others_go_out(
    signpost, http, nursing, gp_headers, monkeypatch
):
    def send(_channel, message):  # the network edge: one receiver's send blows up
        if message.url.endswith("/explodes"):
            raise RuntimeError("a bug below the channel")
        return Attempt(ok=True, status_code=204)

    monkeypatch.setattr(WebhookChannel, "send", send)
    hooks = {}
    for path in ("explodes", "works"):
        made = http.post(
            "/api/v1/subscriptions", json={"url": f"http://127.0.0.1:9/{path}"}, headers=gp_headers
        )
        assert made.status_code == 201, made.json
        hooks[path] = made.json["id"]
    assert http.post("/api/v1/referrals", json=REFERRAL, headers=gp_headers).status_code == 201

    signpost.tick()

    def deliveries(path):
        answer = http.get(f"/api/v1/subscriptions/{hooks[path]}/deliveries", headers=gp_headers)
        assert answer.status_code == 200, answer.json
        return answer.json

    assert {d["status"] for d in deliveries("works")} == {"delivered"}
    held = deliveries("explodes")
    assert {d["status"] for d in held} == {"pending"}
    assert any("sending failed unexpectedly (RuntimeError)" in (d["last_error"] or "") for d in held)
