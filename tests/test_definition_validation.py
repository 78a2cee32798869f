"""The dry run of a deployment, ``POST /api/v1/definitions/validate``: the very checks of ``POST
/api/v1/definitions``, nothing stored. For uploads that are refused and uploads that deploy (conformance
diagrams, the shipped pathways, small samples and broken variants of them), the dry run says valid exactly
when the deployment succeeds, and lists exactly the problems the refused deployment's 422 lists."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import bpmn_samples as samples
from tests.conftest import NURSING_FILES, PROCESSES

DIAGRAMS = Path(__file__).parent / "conformance" / "diagrams"
MODELER = (DIAGRAMS / "modeler_referral.bpmn").read_text()
FALLS_DMN = (DIAGRAMS / "falls_priority.dmn").read_text()
CAMUNDA_FILE = (DIAGRAMS / "camunda_address_check.bpmn").read_text()
NURSING = tuple((name, (PROCESSES / name).read_bytes()) for name in NURSING_FILES)
FORM = json.dumps(
    {
        "type": "default",
        "components": [{"type": "textfield", "key": "note", "label": "Note", "validate": {"required": True}}],
    }
)
FORMED = samples.script_then_user_task().replace(
    '<bpmn:userTask id="review" name="Review">',
    '<bpmn:userTask id="review" name="Review"><bpmn:extensionElements><spiffworkflow:properties>'
    '<spiffworkflow:property name="formJsonSchemaFilename" value="review.form.json"/>'
    "</spiffworkflow:properties></bpmn:extensionElements>",
)
LATIN_1 = samples.script_then_user_task().replace("UTF-8", "ISO-8859-1").replace("Review", "Révision")

# Each a list of (file name, content): uploads that deploy and uploads that are refused, for each reason.
UPLOADS = {
    "a small sample": [("sample.bpmn", samples.script_then_user_task())],
    "a Camunda Modeler file and its DMN": [
        ("modeler_referral.bpmn", MODELER),
        ("falls_priority.dmn", FALLS_DMN),
    ],
    "a Camunda file with external tasks": [
        ("camunda_address_check.bpmn", CAMUNDA_FILE),
        ("falls_priority.dmn", FALLS_DMN),
    ],
    "the community nursing pathway": list(NURSING),
    "a task with its form": [("sample.bpmn", FORMED), ("review.form.json", FORM)],
    "a forbidden script": [("sample.bpmn", samples.script_then_user_task("import os"))],
    "a schema violation": [
        (
            "sample.bpmn",
            samples.script_then_user_task().replace(
                '<bpmn:endEvent id="end">', '<bpmn:endEvent id="end" bogus="1">'
            ),
        )
    ],
    "a decision table missing": [("modeler_referral.bpmn", MODELER)],
    "a broken DMN beside its diagram": [
        ("modeler_referral.bpmn", MODELER),
        ("falls_priority.dmn", FALLS_DMN[:-40]),
    ],
    "two top-level processes": [
        ("one.bpmn", samples.script_then_user_task(process_id="one")),
        ("two.bpmn", samples.script_then_user_task(process_id="two")),
    ],
    "the same name twice": [("sample.bpmn", samples.script_then_user_task())] * 2,
    "a file that is not UTF-8": [("sample.bpmn", LATIN_1.encode("latin-1"))],
    "not XML at all": [("notes.bpmn", "just some notes")],
    "another XML vocabulary": [("page.bpmn", '<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>')],
    "an entity declaration": [
        (
            "sample.bpmn",
            '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]>' + samples.script_then_user_task()[38:],
        )
    ],
    "a task naming a form not deployed": [("sample.bpmn", FORMED)],
    "a form Signpost cannot check": [
        ("sample.bpmn", FORMED),
        (
            "review.form.json",
            json.dumps({"type": "default", "components": [{"type": "filepicker", "key": "scan"}]}),
        ),
    ],
    "a broken scenario file beside a good diagram": [
        ("sample.bpmn", samples.script_then_user_task()),
        ("sample.scenarios.yaml", "a: &x [1]\nb: *x\n"),
    ],
    "a file over the upload limit": [
        (
            "big.bpmn",
            samples.script_then_user_task().replace(
                "</bpmn:process>", "<!--" + "A" * 2_100_000 + "--></bpmn:process>"
            ),
        )
    ],
}

ACCEPTED = {
    "a small sample",
    "a Camunda Modeler file and its DMN",
    "a Camunda file with external tasks",
    "the community nursing pathway",
    "a task with its form",
}


def multipart(files, key: str | None = None) -> dict:
    form = {"files": [(io.BytesIO(c if isinstance(c, bytes) else c.encode()), n) for n, c in files]}
    if key is not None:
        form["key"] = key
    return form


def stored_versions(signpost) -> int:
    with signpost.database.read() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM definition_versions")).scalar()


@pytest.mark.parametrize("upload", list(UPLOADS), ids=list(UPLOADS))
def test_the_dry_run_says_valid_exactly_when_the_deployment_succeeds_with_the_same_problems(
    http, signpost, designer_headers, directory, upload
):
    files = UPLOADS[upload]
    before = stored_versions(signpost)
    dry_run = http.post(
        "/api/v1/definitions/validate",
        data=multipart(files),
        headers=designer_headers,
        content_type="multipart/form-data",
    )
    assert dry_run.status_code == 200, dry_run.get_data()[:500]
    assert dry_run.content_type == "application/json"
    assert stored_versions(signpost) == before, "a dry run stores nothing"

    deployed = http.post(
        "/api/v1/definitions",
        data=multipart(files),
        headers=designer_headers,
        content_type="multipart/form-data",
    )
    assert deployed.status_code == (201 if upload in ACCEPTED else 422), deployed.get_data()[:500]
    if deployed.status_code == 201:
        assert dry_run.json == {"valid": True, "problems": []}
    else:
        assert deployed.content_type == "application/problem+json"
        assert dry_run.json == {"valid": False, "problems": deployed.json["problems"]}
        assert all(
            set(p) == {"file", "message", "element_id", "line", "element_name"}
            for p in dry_run.json["problems"]
        )


def test_the_key_field_picks_the_process_as_it_does_for_a_deployment(http, designer_headers):
    files = UPLOADS["two top-level processes"]
    refused = http.post(
        "/api/v1/definitions/validate",
        data=multipart(files),
        headers=designer_headers,
        content_type="multipart/form-data",
    ).json
    assert (
        refused["valid"] is False
        and "name the one to deploy with the 'key' field" in refused["problems"][0]["message"]
    )
    chosen = http.post(
        "/api/v1/definitions/validate",
        data=multipart(files, key="two"),
        headers=designer_headers,
        content_type="multipart/form-data",
    )
    assert chosen.json == {"valid": True, "problems": []}
    unknown = http.post(
        "/api/v1/definitions/validate",
        data=multipart(files, key="three"),
        headers=designer_headers,
        content_type="multipart/form-data",
    ).json
    assert (
        unknown["valid"] is False
        and "no executable process with id 'three'" in unknown["problems"][0]["message"]
    )


def test_a_request_that_is_no_upload_is_a_problem_as_for_a_deployment(http, app, signpost, designer_headers):
    for path in ("/api/v1/definitions/validate", "/api/v1/definitions"):
        empty = http.post(path, data={}, headers=designer_headers, content_type="multipart/form-data")
        assert (empty.status_code, empty.content_type) == (422, "application/problem+json"), path
        assert empty.json["problems"][0]["message"] == "no files were uploaded (use the form field 'files')"
        as_json = http.post(path, json={"files": ["sample.bpmn"]}, headers=designer_headers)
        assert (as_json.status_code, as_json.content_type) == (422, "application/problem+json"), path
        too_big = http.post(
            path,
            data=multipart([("huge.bpmn", b" " * (app.config["MAX_CONTENT_LENGTH"] + 1))]),
            headers=designer_headers,
            content_type="multipart/form-data",
        )
        assert (too_big.status_code, too_big.content_type) == (413, "application/problem+json"), path
    assert stored_versions(signpost) == 0


def test_only_designers_may_run_the_dry_run(http, token_for):
    for role in ("operator", "clinical-approver", "admin"):
        response = http.post(
            "/api/v1/definitions/validate",
            data=multipart(UPLOADS["a small sample"]),
            headers=token_for(role),
            content_type="multipart/form-data",
        )
        assert (response.status_code, response.content_type) == (403, "application/problem+json"), role
    anonymous = http.post("/api/v1/definitions/validate", data=multipart(UPLOADS["a small sample"]))
    assert anonymous.status_code == 401
