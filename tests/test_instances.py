"""Instances: incidents and retry, concurrent changes, timers, and what is stored."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from engine.bpmn import STATE_FORMAT, state_json
from engine.errors import Conflict, TaskNotReady
from engine.system import build
from tests import bpmn_samples as samples
from tests.conftest import stored_instance

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def deploy_and_start(signpost, gp, bpmn: str, data: dict | None = None) -> dict:
    signpost.definitions.deploy([samples.source(bpmn)], "tests")
    referral, _ = signpost.referrals.start(
        gp, pathway="sample", version=None, referrer="r", subject=None, data=data or {}
    )
    return referral


def test_a_failing_script_at_start_is_an_incident_that_a_retry_with_data_resolves(
    signpost, gp, practice_operator
):
    referral = deploy_and_start(signpost, gp, samples.script_then_user_task("total = 10 / divisor"))
    assert referral["status"] == "incident"
    assert referral["incident"]["task"] == "Compute"
    assert "divisor" in referral["incident"]["error"]
    assert referral["waiting_for"]["tasks"] == []

    with pytest.raises(Conflict, match="stopped by an incident at 'Compute'"):
        signpost.timers.fire(signpost.referrals.instance_id(referral["id"]))

    still_broken = signpost.referrals.retry(referral["id"], {"divisor": 0}, practice_operator)
    assert still_broken["status"] == "incident"
    assert "division by zero" in still_broken["incident"]["error"]

    fixed = signpost.referrals.retry(referral["id"], {"divisor": 4}, practice_operator)
    assert fixed["status"] == "waiting"
    assert fixed["incident"] is None
    assert fixed["data"]["total"] == 2.5
    kinds = [e["kind"] for e in signpost.referrals.events(referral["id"], practice_operator)]
    assert kinds.count("incident") == 2 and kinds.count("retried") == 2


def test_a_failure_after_a_completed_task_keeps_the_completion_and_nothing_after_it(
    signpost, gp, practice_operator
):
    referral = deploy_and_start(signpost, gp, samples.user_task_then_script("result = answer * 2"))
    [task] = referral["waiting_for"]["tasks"]
    before = stored_instance(signpost, referral["id"])

    after = signpost.referrals.complete_task(task["id"], {"note": "no answer given"}, practice_operator)
    assert after["status"] == "incident"
    assert "answer" in after["incident"]["error"]
    stored = stored_instance(signpost, referral["id"])
    assert stored["lock_version"] == before["lock_version"] + 1
    state = state_json(stored["state"], stored["serializer_version"])
    assert "note" in state and "result" not in state
    [closed] = signpost.referrals.tasks(practice_operator, referral_id=referral["id"], status="completed")
    assert closed["id"] == task["id"]

    resumed = signpost.referrals.retry(referral["id"], {"answer": 21}, practice_operator)
    assert resumed["data"]["result"] == 42
    assert resumed["data"]["note"] == "no answer given"
    assert [t["element_id"] for t in resumed["waiting_for"]["tasks"]] == ["after"]


def test_a_retry_without_an_incident_is_refused(signpost, gp, practice_operator):
    referral = deploy_and_start(signpost, gp, samples.script_then_user_task())
    with pytest.raises(Conflict, match="no incident"):
        signpost.referrals.retry(referral["id"], {}, practice_operator)


def test_escapes_at_run_time_are_incidents_not_breakouts(signpost, gp):
    # The script is harmless at deploy; the data it reads is what a hostile caller controls.
    referral = deploy_and_start(
        signpost, gp, samples.script_then_user_task("y = payload * 10**9"), data={"payload": "x" * 100}
    )
    assert referral["status"] == "incident"
    assert referral["incident"]["task"] == "Compute"


def test_concurrent_completions_of_one_task_let_exactly_one_win(signpost, gp, practice_operator):
    referral = deploy_and_start(signpost, gp, samples.script_then_user_task())
    [task] = referral["waiting_for"]["tasks"]
    barrier = threading.Barrier(6)
    results = []

    def complete(n: int):
        barrier.wait()
        try:
            results.append(
                ("ok", signpost.referrals.complete_task(task["id"], {"winner": n}, practice_operator))
            )
        except (TaskNotReady, Conflict) as lost:
            results.append(("lost", lost))

    threads = [threading.Thread(target=complete, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for kind, r in results if kind == "ok"]
    assert len(winners) == 1 and len(results) == 6
    final = signpost.referrals.get(referral["id"], practice_operator)
    assert final["status"] == "completed"
    assert final["data"]["winner"] == winners[0]["data"]["winner"]
    kinds = [e["kind"] for e in signpost.referrals.events(referral["id"], practice_operator)]
    assert kinds.count("task_completed") == 1


def test_a_timer_fires_once_when_due(signpost, gp, practice_operator, frozen_clock):
    frozen_clock.move_to(NOON)
    referral = deploy_and_start(signpost, gp, samples.timer_wait('"PT30M"'))
    [timer] = referral["waiting_for"]["timers"]
    assert datetime.fromisoformat(timer["due_at"]) == NOON + timedelta(minutes=30)
    frozen_clock.move_to(NOON + timedelta(minutes=29))
    assert signpost.timers.fire_due() == 0
    # At the due instant itself SpiffWorkflow does not fire it yet: neither fired nor counted as fired.
    frozen_clock.move_to(NOON + timedelta(minutes=30))
    assert signpost.timers.fire_due() == 0
    assert [e["kind"] for e in signpost.referrals.events(referral["id"], practice_operator)][
        -1
    ] != "timer_fired"
    frozen_clock.move_to(NOON + timedelta(minutes=31))
    assert signpost.timers.fire_due() == 1
    assert signpost.timers.fire_due() == 0
    fired = signpost.referrals.get(referral["id"], practice_operator)
    assert [t["element_id"] for t in fired["waiting_for"]["tasks"]] == ["after"]
    assert fired["waiting_for"]["timers"] == []


def test_a_timer_due_while_the_server_was_down_fires_after_restart(
    signpost, settings, gp, practice_operator, frozen_clock
):
    frozen_clock.move_to(NOON)
    referral = deploy_and_start(signpost, gp, samples.timer_wait("wait_for"), data={"wait_for": "PT1H"})
    signpost.close()
    frozen_clock.move_to(NOON + timedelta(days=2))
    restarted = build(settings)
    try:
        assert restarted.timers.fire_due() == 1
        after = restarted.referrals.get(referral["id"], practice_operator)
    finally:
        restarted.close()
    assert [t["element_id"] for t in after["waiting_for"]["tasks"]] == ["after"]


ROUTE_THEN_TIMED_TASK = samples.process(
    f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {samples.routing_task("community-nursing-city", "community-nursing")}
    <bpmn:userTask id="review" name="Review">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="overdue" name="Overdue" attachedToRef="review"><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:timerEventDefinition id="overdue_timer"><bpmn:timeDuration>"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:scriptTask id="after_overdue" name="After the timer"><bpmn:incoming>f4</bpmn:incoming>
      <bpmn:outgoing>f5</bpmn:outgoing><bpmn:script>overdue = True</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end_reviewed"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_overdue"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="route"/>
    <bpmn:sequenceFlow id="f2" sourceRef="route" targetRef="review"/>
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end_reviewed"/>
    <bpmn:sequenceFlow id="f4" sourceRef="overdue" targetRef="after_overdue"/>
    <bpmn:sequenceFlow id="f5" sourceRef="after_overdue" targetRef="end_overdue"/>"""
)


def test_a_change_made_after_a_timer_fell_due_fires_the_timer_too(
    signpost, directory, gp, nursing_team, practice_operator, frozen_clock
):
    # SpiffWorkflow refreshes the timers at the end of its engine steps: a timer found due there must still
    # run in the same change (here a hand-off event the pathway does not wait for), or it would be left
    # ready, no longer indexed as waiting, and never fire.
    frozen_clock.move_to(NOON)
    referral = deploy_and_start(signpost, gp, ROUTE_THEN_TIMED_TASK)
    [handoff] = referral["handoffs"]
    frozen_clock.move_to(NOON + timedelta(hours=2))
    signpost.handoffs.act(handoff["id"], "acknowledge", {}, nursing_team)
    after = signpost.referrals.get(referral["id"], practice_operator)
    assert after["status"] == "completed"
    assert after["data"]["overdue"] is True
    assert signpost.timers.fire_due() == 0


def test_a_timer_expression_giving_nonsense_at_run_time_is_an_incident(signpost, gp):
    referral = deploy_and_start(signpost, gp, samples.timer_wait("wait_for"), data={"wait_for": "soon"})
    assert referral["status"] == "incident"
    assert referral["incident"]["task"] == "Wait"


def test_stored_state_leaves_the_spec_out_and_loads_back(signpost, gp, practice_operator):
    referral = deploy_and_start(signpost, gp, samples.script_then_user_task())
    stored = stored_instance(signpost, referral["id"])
    state = json.loads(state_json(stored["state"], stored["serializer_version"]))
    assert "spec" not in state and "subprocess_specs" not in state
    assert state["tasks"]
    [task] = referral["waiting_for"]["tasks"]
    assert signpost.referrals.complete_task(task["id"], {}, practice_operator)["status"] == "completed"


def test_a_state_stored_before_compression_still_loads_and_is_stored_compressed_after(
    signpost, gp, practice_operator
):
    referral = deploy_and_start(signpost, gp, samples.script_then_user_task())
    stored = stored_instance(signpost, referral["id"])
    plain = state_json(stored["state"], stored["serializer_version"])
    assert stored["serializer_version"] != STATE_FORMAT and len(stored["state"]) < len(plain)
    with signpost.database.write() as conn:  # the row as a database written before compression holds it
        conn.execute(
            sa.text("UPDATE instances SET state = :state, serializer_version = :format WHERE id = :id"),
            {"state": plain, "format": STATE_FORMAT, "id": stored["id"]},
        )

    [task] = referral["waiting_for"]["tasks"]
    assert signpost.referrals.complete_task(task["id"], {}, practice_operator)["status"] == "completed"
    after = stored_instance(signpost, referral["id"])
    assert after["serializer_version"] == stored["serializer_version"]
    assert json.loads(state_json(after["state"], after["serializer_version"]))["completed"] is True


def test_completing_a_task_twice_is_a_conflict(signpost, gp, practice_operator):
    referral = deploy_and_start(signpost, gp, samples.user_task_then_script("x = 1"))
    [task] = referral["waiting_for"]["tasks"]
    signpost.referrals.complete_task(task["id"], {}, practice_operator)
    with pytest.raises(TaskNotReady):
        signpost.referrals.complete_task(task["id"], {}, practice_operator)


def test_step_failures_name_the_element(signpost, gp):
    referral = deploy_and_start(signpost, gp, samples.gateway("missing_value > 3"))
    assert referral["status"] == "incident"
    assert "missing_value" in referral["incident"]["error"]
    assert referral["incident"]["task"] == "decide"


def test_an_incident_in_a_multi_line_script_names_the_line(signpost, gp):
    script = "a = 1\nb = a + 1\nc = b / missing\nd = 4"
    referral = deploy_and_start(signpost, gp, samples.script_then_user_task(script))
    assert referral["incident"]["error"].endswith("(line 3)")
    assert "missing" in referral["incident"]["error"]
