"""The operator's worklist (``GET /api/v1/tasks``): open tasks soonest due first, a page at a time (keyset),
filtered by pathway, priority, age and risk; claimed and released. A user task's due date and priority come
from its ``camunda:dueDate`` and ``camunda:priority`` (engine/bpmn/user_tasks.py)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine

from tests import bpmn_samples as samples
from tests.conftest import START
from tests.support.personas import Persona

SECOND_OPERATOR = Persona("second practice operator", "city-gp-practice", ("operator",))


def reviewed(due: str = "PT2H", priority: str = "${priority}", process_id: str = "sample") -> str:
    """start -> user task 'review' (due ``due`` after it is ready, of priority ``priority``) -> end."""
    return samples.process(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review" camunda:dueDate="{due}" camunda:priority="{priority}">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>""",
        process_id,
    ).replace(
        "<bpmn:definitions ", '<bpmn:definitions xmlns:camunda="http://camunda.org/schema/1.0/bpmn" ', 1
    )


@pytest.fixture
def started(signpost, gp):
    """Three referrals ten minutes apart, urgent, routine, urgent: their ids, oldest first."""
    signpost.definitions.deploy([samples.source(reviewed())], "tests")
    ids = []
    for minutes, priority in ((0, "urgent"), (10, "routine"), (20, "urgent")):
        with time_machine.travel(START + timedelta(minutes=minutes), tick=False):
            referral, _ = signpost.referrals.start(
                gp, pathway="sample", version=None, referrer="r", subject=None, data={"priority": priority}
            )
        ids.append(referral["id"])
    return ids


def listed(http, headers, at: datetime, **query) -> tuple[list[dict], dict | None]:
    with time_machine.travel(at, tick=False):
        answer = http.get("/api/v1/tasks", query_string=query, headers=headers)
    assert answer.status_code == 200, answer.json
    link = answer.headers.get("Link")
    following = None
    if link is not None:
        following = {k: v[0] for k, v in parse_qs(urlparse(link.split(";")[0].strip("<>")).query).items()}
    return answer.json, following


def test_tasks_come_soonest_due_first_a_page_at_a_time_with_their_due_time_and_priority(
    http, started, practice_operator_headers
):
    at = START + timedelta(minutes=30)
    first, following = listed(http, practice_operator_headers, at, limit=2)
    assert [t["referral_id"] for t in first] == started[:2]
    assert first[0]["due_at"] == (START + timedelta(hours=2)).isoformat()
    assert [t["priority"] for t in first] == ["urgent", "routine"]
    assert first[0]["pathway"] == "sample" and first[0]["reference"].startswith("SP-")
    assert following is not None
    rest, last = listed(http, practice_operator_headers, at, **following)
    assert [t["referral_id"] for t in rest] == started[2:] and last is None


def test_filters_by_pathway_priority_age_and_risk(http, started, practice_operator_headers):
    # The first is due in 25 minutes: in the last quarter of its 2 hours; the others, 35 and 45, are not.
    at = START + timedelta(hours=1, minutes=35)
    ids = lambda tasks: [t["referral_id"] for t in tasks]  # noqa: E731 - a local shorthand
    assert ids(listed(http, practice_operator_headers, at, priority="urgent")[0]) == [started[0], started[2]]
    assert ids(listed(http, practice_operator_headers, at, pathway="sample")[0]) == started
    assert listed(http, practice_operator_headers, at, pathway="elsewhere")[0] == []
    older = (START + timedelta(minutes=15)).isoformat()
    assert ids(listed(http, practice_operator_headers, at, created_before=older)[0]) == started[:2]
    at_risk, _ = listed(http, practice_operator_headers, at, at_risk="true")
    assert ids(at_risk) == [started[0]] and at_risk[0]["at_risk"] is True


def test_a_task_is_claimed_released_and_only_by_whoever_claimed_it(
    http, started, practice_operator_headers, enrolled
):
    with time_machine.travel(START + timedelta(minutes=30), tick=False):
        [task, *_] = http.get("/api/v1/tasks", headers=practice_operator_headers).json
        claimed = http.post(f"/api/v1/tasks/{task['id']}/claim", headers=practice_operator_headers)
        assert claimed.status_code == 200 and claimed.json["claimed_by_you"] is True
        other = enrolled(SECOND_OPERATOR).headers
        seen_by_other = http.get(f"/api/v1/tasks/{task['id']}", headers=other).json
        assert seen_by_other["status"] == "claimed" and seen_by_other["claimed_by_you"] is False
        refused = http.post(f"/api/v1/tasks/{task['id']}/release", headers=other)
        assert refused.status_code == 409 and "claimed by" in refused.json["detail"]
        released = http.post(f"/api/v1/tasks/{task['id']}/release", headers=practice_operator_headers)
        assert released.status_code == 200 and released.json["status"] == "ready"
        assert released.json["claimed_by"] is None
        again = http.post(f"/api/v1/tasks/{task['id']}/release", headers=practice_operator_headers)
        assert again.status_code == 409 and "not claimed" in again.json["detail"]


@pytest.mark.parametrize(
    ("due", "priority", "message"),
    [
        ("2 hours", "urgent", "is not an ISO 8601 duration"),
        ("P1M", "urgent", "is not an ISO 8601 duration"),
        ("PT2H", "${not a name", "must be written as it is"),
        ("PT2H", "x" * 41, "longer than 40 characters"),
    ],
)
def test_a_due_date_or_priority_the_engine_cannot_read_is_refused_at_deployment(
    http, designer_headers, signpost, due, priority, message
):
    files = {"files": [(io.BytesIO(reviewed(due, priority).encode()), "sample.bpmn")]}
    answer = http.post("/api/v1/definitions/validate", data=files, headers=designer_headers)
    assert answer.status_code == 200, answer.json
    assert answer.json["valid"] is False
    [problem] = answer.json["problems"]
    assert message in problem["message"] and problem["element_id"] == "review"


def test_bad_filters_are_refused(http, started, practice_operator_headers):
    for query in ({"after": "not-a-cursor"}, {"created_before": "yesterday"}, {"limit": 0}):
        answer = http.get("/api/v1/tasks", query_string=query, headers=practice_operator_headers)
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json", query
