"""Task forms through the HTTP API: a user task names a form-js form deployed with the version (as Camunda
Modeler writes it, ``camunda:formRef``, or as SpiffWorkflow's modeler does, ``formJsonSchemaFilename``); the
task is read with its form; data completing it is checked against the form on the server, and data that does
not fit is refused field by field with nothing changed. Forms Signpost cannot check, and tasks naming forms
that are not there, are refused at deployment with a sentence on the file or the element."""

from __future__ import annotations

import copy
import io
import json
from datetime import date

import pytest
import sqlalchemy as sa

from api import create_app
from engine.bpmn import SourceFile
from engine.errors import FormDataInvalid
from engine.pathways.forms import read_form
from engine.system import build

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

TRIAGE_FORM = {
    "type": "default",
    "id": "Form_triage",
    "schemaVersion": 16,
    "exporter": {"name": "form-js (https://demo.bpmn.io)", "version": "1.7.0"},
    "components": [
        {"type": "text", "id": "Field_intro", "text": "# Triage\nAsk the referrer what is missing."},
        {
            "type": "select",
            "id": "Field_need",
            "key": "clinical_need",
            "label": "Clinical need",
            "values": [
                {"label": "Wound care", "value": "wound_care"},
                {"label": "Medication", "value": "medication"},
            ],
            "validate": {"required": True},
        },
        {
            "type": "number",
            "id": "Field_news2",
            "key": "news2_score",
            "label": "NEWS2 score",
            "decimalDigits": 0,
            "validate": {"required": True, "min": 0, "max": 20},
        },
        {
            "type": "textfield",
            "id": "Field_postcode",
            "key": "postcode",
            "label": "Postcode",
            "validate": {"pattern": "^[A-Z]{1,2}[0-9][0-9A-Z]? ?[0-9][A-Z]{2}$", "maxLength": 8},
        },
        {"type": "checkbox", "id": "Field_consent", "key": "consent", "label": "Consent given"},
        {
            "type": "checklist",
            "id": "Field_risks",
            "key": "risks",
            "label": "Risks",
            "values": [{"label": "Falls", "value": "falls"}, {"label": "Lives alone", "value": "alone"}],
        },
        {"type": "datetime", "id": "Field_seen", "key": "seen_on", "subtype": "date", "dateLabel": "Seen on"},
        {"type": "textarea", "id": "Field_notes", "key": "notes", "validate": {"minLength": 5}},
        {"type": "textfield", "id": "Field_ref", "key": "system_reference", "disabled": True},
        {
            "type": "group",
            "id": "Field_group",
            "label": "Contact",
            "components": [
                {
                    "type": "textfield",
                    "id": "Field_email",
                    "key": "email",
                    "validate": {"validationType": "email"},
                }
            ],
        },
        {"type": "button", "id": "Field_submit", "action": "submit", "label": "Submit"},
    ],
}
GOOD_ANSWER = {
    "clinical_need": "wound_care",
    "news2_score": 3,
    "postcode": "LE1 5WW",
    "consent": True,
    "risks": ["falls"],
    "seen_on": "2026-11-23",
    "notes": "Leg ulcer, dressing twice a week",
    "email": "carer@example.org",
}


def pathway(user_task_attributes: str = "", extension: str = "", process_id: str = "formed") -> str:
    """start -> user task 'triage' (naming its form as given) -> end."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:camunda="{CAMUNDA_NS}" xmlns:spiffworkflow="{SPIFF_NS}"
    id="defs" targetNamespace="http://signpost.example/forms">
  <bpmn:process id="{process_id}" name="Formed" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="triage" name="Triage the referral"{user_task_attributes}>{extension}
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="triage"/>
    <bpmn:sequenceFlow id="f2" sourceRef="triage" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def spiff_property(value: str) -> str:
    return f"""
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="{value}"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>"""


FORM_REF = ' camunda:formRef="triage"'


def form_file(schema: dict, name: str = "triage.form.json") -> tuple[str, bytes]:
    return name, json.dumps(schema, indent=2).encode()


@pytest.fixture
def post_files(http, designer_headers):
    def post(*files: tuple[str, str | bytes], path: str = "/api/v1/definitions"):
        form = {"files": [(io.BytesIO(c if isinstance(c, bytes) else c.encode()), n) for n, c in files]}
        return http.post(path, data=form, headers=designer_headers, content_type="multipart/form-data")

    return post


@pytest.fixture
def refused(post_files):
    """The problems of a refused deployment, checked to be what a dry run reports too."""

    def refused(*files: tuple[str, str | bytes]) -> list[dict]:
        dry_run = post_files(*files, path="/api/v1/definitions/validate")
        response = post_files(*files)
        assert response.status_code == 422, response.json
        assert response.content_type == "application/problem+json"
        assert dry_run.json == {"valid": False, "problems": response.json["problems"]}
        return response.json["problems"]

    return refused


@pytest.fixture
def waiting_task(post_files, http, gp_headers, practice_operator_headers):
    """Deploy ``files``, start a referral on them and return it with its one open task."""

    def start(*files: tuple[str, str | bytes]) -> tuple[dict, dict]:
        deployed = post_files(*files)
        assert deployed.status_code == 201, deployed.json
        started = http.post(
            "/api/v1/referrals",
            json={"pathway": deployed.json["key"], "referrer": "C81001", "data": {}},
            headers=gp_headers,
        )
        assert started.status_code == 201, started.json
        [task] = started.json["waiting_for"]["tasks"]
        return started.json, task

    return start


def test_a_task_shows_its_form_and_data_that_does_not_fit_is_refused_field_by_field_changing_nothing(
    waiting_task, http, signpost, practice_operator_headers
):
    referral, task = waiting_task(("formed.bpmn", pathway(FORM_REF)), form_file(TRIAGE_FORM))
    read = http.get(f"/api/v1/tasks/{task['id']}", headers=practice_operator_headers)
    assert read.status_code == 200, read.json
    assert read.json["element_id"] == "triage" and read.json["status"] == "ready"
    assert read.json["form"] == {"id": "Form_triage", "filename": "triage.form.json", "schema": TRIAGE_FORM}

    events_before = len(
        http.get(f"/api/v1/referrals/{referral['id']}/events", headers=practice_operator_headers).json
    )
    bad = {
        "clinical_need": "physiotherapy",  # not an option
        "news2_score": 21.5,  # above max, and not whole
        "postcode": "LE1 XX",
        "consent": "yes",
        "risks": ["falls", "smoker"],
        "seen_on": "23/11/2026",
        "notes": "  ok  ",
        "email": "carer at example.org",
        "system_reference": "set by hand",  # disabled: shown, never sent
        "priority": "urgent",  # not on the form
    }
    answer = http.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"data": bad}, headers=practice_operator_headers
    )
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert answer.json["type"].endswith("/form-data-invalid")
    errors = {e["field"]: e["message"] for e in answer.json["errors"]}
    assert errors == {
        "clinical_need": "must be one of: wound_care, medication",
        "news2_score": "must be at most 20",
        "postcode": "must match the pattern ^[A-Z]{1,2}[0-9][0-9A-Z]? ?[0-9][A-Z]{2}$",
        "consent": "must be true or false",
        "risks": "may hold only these options: falls, alone",
        "seen_on": "must be a date (YYYY-MM-DD)",
        "notes": "must be at least 5 characters long",
        "email": "must be an email address",
        "system_reference": "is disabled on the form: it is shown, never sent",
        "priority": "is not a field of the form",
    }
    assert "clinical_need: must be one of" in answer.json["detail"]

    missing = http.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}, headers=practice_operator_headers
    )
    assert missing.status_code == 422
    assert missing.json["errors"] == [
        {"field": "clinical_need", "message": "is required"},
        {"field": "news2_score", "message": "is required"},
    ]

    # Nothing changed: the task still waits, the referral's data and event log are as they were.
    again = http.get(f"/api/v1/tasks/{task['id']}", headers=practice_operator_headers).json
    assert again["status"] == "ready"
    now = http.get(f"/api/v1/referrals/{referral['id']}", headers=practice_operator_headers).json
    assert now["status"] == "waiting" and "clinical_need" not in now["data"]
    events = http.get(f"/api/v1/referrals/{referral['id']}/events", headers=practice_operator_headers).json
    assert len(events) == events_before

    done = http.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"data": GOOD_ANSWER}, headers=practice_operator_headers
    )
    assert done.status_code == 200, done.json
    assert done.json["status"] == "completed"
    assert {k: done.json["data"][k] for k in GOOD_ANSWER} == GOOD_ANSWER


def test_the_spiffworkflow_property_and_the_form_js_id_name_the_form_too_and_survive_a_restart(
    waiting_task, http, settings, practice_operator_headers
):
    by_property = pathway(extension=spiff_property("triage.form.json"), process_id="by_property")
    by_form_id = pathway(' camunda:formRef="Form_triage"', process_id="by_form_id")
    for diagram, process_id in ((by_property, "by_property"), (by_form_id, "by_form_id")):
        _referral, task = waiting_task((f"{process_id}.bpmn", diagram), form_file(TRIAGE_FORM))
        # A second engine on the same database reads the version's stored spec, not the deployment's.
        other = build(settings)
        try:
            fresh = create_app(other).test_client()
            read = fresh.get(f"/api/v1/tasks/{task['id']}", headers=practice_operator_headers).json
            assert read["form"]["filename"] == "triage.form.json", process_id
            refused = fresh.post(
                f"/api/v1/tasks/{task['id']}/complete",
                json={"data": {"clinical_need": "wound_care"}},
                headers=practice_operator_headers,
            )
            assert refused.status_code == 422 and refused.json["errors"] == [
                {"field": "news2_score", "message": "is required"}
            ]
        finally:
            other.close()


def test_a_task_without_a_form_reads_with_none_and_takes_any_data(
    waiting_task, http, practice_operator_headers
):
    _referral, task = waiting_task(("plain.bpmn", pathway(process_id="plain")))
    assert http.get(f"/api/v1/tasks/{task['id']}", headers=practice_operator_headers).json["form"] is None
    done = http.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": {"anything": 1}},
        headers=practice_operator_headers,
    )
    assert done.status_code == 200, done.json


def test_a_task_of_another_point_of_access_is_not_found(waiting_task, http, operator_headers):
    _referral, task = waiting_task(("formed.bpmn", pathway(FORM_REF)), form_file(TRIAGE_FORM))
    assert http.get(f"/api/v1/tasks/{task['id']}", headers=operator_headers).status_code == 404
    assert http.get("/api/v1/tasks/no-such-task", headers=operator_headers).status_code == 404


def test_a_user_task_naming_a_form_not_deployed_is_refused_on_that_element(refused, signpost):
    diagram = pathway(FORM_REF)
    [problem] = refused(("formed.bpmn", diagram))
    assert problem["file"] == "formed.bpmn"
    assert (problem["element_id"], problem["element_name"]) == ("triage", "Triage the referral")
    assert problem["line"] == diagram[: diagram.index('id="triage"')].count("\n") + 1
    assert problem["message"] == (
        "the user task's form 'triage' is not among the deployed files: deploy triage.form.json with the "
        "pathway, or name one of the forms deployed (forms deployed: none)"
    )
    [other] = refused(
        ("formed.bpmn", pathway(extension=spiff_property("intake.form.json"))), form_file(TRIAGE_FORM)
    )
    assert "'intake.form.json' is not among the deployed files" in other["message"]
    assert "forms deployed: triage.form.json" in other["message"]
    [empty] = refused(("formed.bpmn", pathway(' camunda:formRef=" "')))
    assert "names an empty form" in empty["message"]
    two = copy.deepcopy(TRIAGE_FORM)
    [ambiguous] = refused(
        ("formed.bpmn", pathway(' camunda:formRef="Form_triage"')),
        form_file(TRIAGE_FORM),
        form_file(two, "b.form.json"),
    )
    assert "several forms have the id 'Form_triage' (b.form.json, triage.form.json)" in ambiguous["message"]
    with signpost.database.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM definition_versions")).scalar() == 0


def test_a_broken_form_and_the_diagrams_problems_are_reported_together(refused):
    diagram = pathway(FORM_REF).replace('<bpmn:endEvent id="end">', '<bpmn:endEvent id="end" bogus="1">')
    problems = refused(("formed.bpmn", diagram), ("triage.form.json", b"{not json"))
    assert problems[0]["file"] == "triage.form.json" and "JSON form-js schema" in problems[0]["message"]
    # The task names a file that is there (its own problem is reported): no second problem about it.
    assert [p["file"] for p in problems[1:]] == ["formed.bpmn"] and "bogus" in problems[1]["message"]


def component(**fields) -> dict:
    return {"type": "textfield", "key": "answer", **fields}


def with_components(*components: dict) -> dict:
    return {"type": "default", "components": list(components)}


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ([], 'a form-js schema is a JSON object with a "components" list'),
        ({"type": "default", "components": [], "theme": "dark"}, "the property 'theme', which form-js forms"),
        (with_components({"type": "filepicker", "key": "scan"}), "of type 'filepicker' (a file upload)"),
        (
            with_components({"type": "rating", "key": "stars"}),
            "of type 'rating', which Signpost's forms do not",
        ),
        (
            with_components(component(conditional={"hide": "=age < 18"})),
            "field 'answer' hides it on a condition (a FEEL expression)",
        ),
        (
            with_components({"type": "select", "key": "team", "valuesKey": "teams"}),
            "field 'team' takes its options from the process data",
        ),
        (
            with_components({"type": "select", "key": "team"}),
            "field 'team' needs its options listed as 'values'",
        ),
        (with_components(component(key="2nd")), "needs a 'key' that is a plain identifier"),
        (with_components(component(key="class")), "needs a 'key' that is a plain identifier"),
        (with_components(component(), component()), "two fields have the key 'answer'"),
        (with_components(component(prefill="x")), "the property 'prefill', which Signpost does not support"),
        (
            with_components({"type": "number", "key": "age", "validate": {"min": 10, "max": 5}}),
            "'min' (10) is more than 'max' (5)",
        ),
        (
            with_components({"type": "number", "key": "age", "validate": {"min": "=lowest"}}),
            "'min' must be a number (FEEL expressions are not supported)",
        ),
        (with_components(component(validate={"pattern": "(unclosed"})), "is not a regular expression"),
        (
            with_components(component(validate={"pattern": "^([A-Za-z]+ ?)+$"})),
            "repeats a part that itself repeats (as in (a+)+)",
        ),
        (with_components(component(validate={"minLength": -1})), "'minLength' must be a whole number"),
        (with_components(component(validate={"required": "yes"})), "'required' must be true or false"),
        (
            with_components({"type": "checkbox", "key": "ok", "validate": {"pattern": "x"}}),
            "the check 'pattern'",
        ),
        (
            with_components({"type": "group", "path": "address", "components": [component()]}),
            "nests its fields' data under the path 'address'",
        ),
        (
            with_components({"type": "datetime", "key": "when", "subtype": "week"}),
            "'subtype' is one of date, time, datetime",
        ),
        (with_components(component(defaultValue=3)), "field 'answer': its defaultValue must be text"),
        (
            with_components(
                {
                    "type": "radio",
                    "key": "pick",
                    "values": [{"label": "A", "value": "a"}],
                    "defaultValue": "b",
                }
            ),
            "its defaultValue must be one of: a",
        ),
        (with_components(component(disabled="=locked")), "'disabled' must be true or false"),
    ],
)
def test_forms_signpost_cannot_check_are_refused_with_a_sentence(refused, schema, fragment):
    problems = refused(("formed.bpmn", pathway(FORM_REF)), form_file(schema))
    assert any(p["file"] == "triage.form.json" and fragment in p["message"] for p in problems), problems


def test_the_form_js_components_a_form_may_hold_are_accepted(post_files):
    response = post_files(("formed.bpmn", pathway(FORM_REF)), form_file(TRIAGE_FORM))
    assert response.status_code == 201, response.json


def check(components: list[dict], data: dict, today: date = date(2026, 11, 23)) -> list[dict]:
    form, problems = read_form(SourceFile("t.form.json", json.dumps(with_components(*components)).encode()))
    assert form is not None, problems
    try:
        form.check(data, today)
    except FormDataInvalid as refused:
        return refused.errors
    return []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ({"type": "number", "key": "n", "decimalDigits": 1}, 1.25, "must have at most 1 decimal digits"),
        ({"type": "number", "key": "n", "increment": 0.5}, 1.25, "must be a multiple of 0.5"),
        ({"type": "number", "key": "n", "increment": 0.5}, 1.5, None),
        ({"type": "number", "key": "n"}, True, "must be a number"),
        ({"type": "number", "key": "n"}, "3", "must be a number"),
        ({"type": "number", "key": "n", "serializeToString": True}, "3.5", None),
        ({"type": "number", "key": "n", "validate": {"min": 0}}, 0, None),
        ({"type": "checkbox", "key": "c", "validate": {"required": True}}, False, "is required"),
        ({"type": "checkbox", "key": "c"}, False, None),
        (
            {"type": "taglist", "key": "t", "values": [{"label": "A", "value": "a"}]},
            ["a", "a"],
            "lists an option twice",
        ),
        (
            {
                "type": "taglist",
                "key": "t",
                "values": [{"label": "A", "value": "a"}],
                "validate": {"required": True},
            },
            [],
            "is required",
        ),
        ({"type": "radio", "key": "r", "values": [{"label": "One", "value": 1}]}, True, "must be one of: 1"),
        ({"type": "radio", "key": "r", "values": [{"label": "One", "value": 1}]}, 1, None),
        ({"type": "datetime", "key": "d", "subtype": "time"}, "14:30", None),
        ({"type": "datetime", "key": "d", "subtype": "time"}, "25:00", "must be a time"),
        ({"type": "datetime", "key": "d", "subtype": "datetime"}, "2026-11-23T09:00:00Z", None),
        ({"type": "datetime", "key": "d", "subtype": "datetime"}, "2026-11-23", "must be a date and time"),
        (
            {"type": "datetime", "key": "d", "subtype": "date"},
            "2026-02-30",
            "must be a valid date in ISO 8601",
        ),
        (
            {"type": "datetime", "key": "d", "disallowPassedDates": True},
            "2026-11-22",
            "must not be in the past",
        ),
        ({"type": "datetime", "key": "d", "disallowPassedDates": True}, "2026-11-23", None),
        (component(validate={"required": True}), "   ", None),  # as form-js: only "" is empty
        (component(validate={"maxLength": 3}), " abc ", None),
        (component(validate={"pattern": "[0-9]"}), "a1b", None),
        (
            component(validate={"pattern": "^[0-9]+$", "patternErrorMessage": "digits only"}),
            "a1",
            "digits only",
        ),
        (component(validate={"validationType": "phone"}), "+44 116 295 1234", None),
        (component(validate={"validationType": "phone"}), "0116 295 1234", "must be an international phone"),
        (component(), 12, "must be text"),
    ],
)
def test_each_kind_of_field_checks_its_answer_as_form_js_does(field, value, message):
    errors = check([field], {field["key"]: value})
    if message is None:
        assert errors == []
    else:
        [error] = errors
        assert error["field"] == field["key"] and error["message"].startswith(message), error


def test_a_pattern_that_takes_too_long_to_check_refuses_the_answer_instead_of_holding_the_server(monkeypatch):
    from engine.pathways import form_data

    monkeypatch.setattr(form_data, "PATTERN_TIME_LIMIT_SECONDS", 1e-6)
    errors = check([component(validate={"pattern": "x+x+y"})], {"answer": "x" * 5000})
    [error] = errors
    assert (
        error["message"]
        == "took too long to check against its pattern: the pathway's designer should simplify it"
    )
    errors = check([component(validate={"pattern": "^[0-9]+$"})], {"answer": "1" * 10_001})
    assert errors[0]["message"].startswith("is longer than the 10,000 characters checked against a pattern")
