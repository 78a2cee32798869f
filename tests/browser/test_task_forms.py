"""User tasks, forms, messages and code in the studio's modeler, in Debian's Chromium against a real
`signpost serve`: a designer puts a user task in a new lane for a point of access from the service
directory, creates its form in form-js's editor and deploys, and the server holds the form and the lane; a
condition with a syntax error is refused as it is typed (line and column, the field marked invalid) and the
refusal clears when it is fixed; a receive task's message is picked from the hand-off messages. axe-core finds
no serious or critical violation. The README's screenshots form-editor.png, user-task-properties.png and
condition-error.png are taken here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests
from lxml import etree
from playwright.sync_api import Page, expect

from tests.browser.test_studio import assert_accessible, canvas_point, select, shape, sign_in, type_label

pytestmark = pytest.mark.wall_clock

BPMN = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
CAMUNDA_FORM_REF = "{http://camunda.org/schema/1.0/bpmn}formRef"
POINT_OF_ACCESS = "City Single Point of Contact"  # sops/services.toml, loaded by the studio fixture
CHECKED = 15_000  # ms: the server's check of the whole diagram


def draw_start_task_end(page: Page, task: str, replace_with: str) -> None:
    """A new pathway: a start event, a task named ``task`` replaced by ``replace_with``, an end event."""
    page.get_by_role("link", name="New pathway").first.click()
    expect(page.get_by_role("heading", name="New pathway")).to_be_visible()
    page.click('.djs-palette [data-action="create.start-event"]')
    page.mouse.click(*canvas_point(page, 220, 220))
    type_label(page, "Referral received")
    select(page, "Event_")
    page.click('.djs-context-pad [data-action="append.append-task"]')
    type_label(page, task)
    select(page, "Activity_")
    page.click('.djs-context-pad [data-action="replace"]')
    page.click(f'.djs-popup [data-id="{replace_with}"]')
    page.click('.djs-context-pad [data-action="append.end-event"]')
    type_label(page, "Done")


def name_the_process(page: Page, key: str, name: str) -> None:
    """Gives the process (the pathway's key and name) with nothing selected."""
    page.mouse.click(*canvas_point(page, 700, 40))
    panel = page.locator("#bpmn-workbench .properties")
    general = panel.locator(".bio-properties-panel-group-header", has_text="General")
    if "open" not in (general.get_attribute("class") or ""):
        general.click()
    panel.locator("#bio-properties-panel-id").fill(key)
    panel.locator("#bio-properties-panel-name").fill(name)


def deploy(page: Page, key: str) -> None:
    button = page.get_by_role("button", name="Deploy", exact=True)
    expect(button).to_be_enabled(timeout=CHECKED)
    button.click()
    expect(page.locator(".deploy-status")).to_contain_text(f"Deployed version 1 of {key}", timeout=CHECKED)


def stored_files(studio, token: str, key: str) -> dict[str, str]:
    version = requests.get(
        f"{studio.base}/api/v1/definitions/{key}/versions/1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert version.status_code == 200, version.text
    return {file["filename"]: file["content"] for file in version.json()["files"]}


def test_a_designer_gives_a_user_task_a_lane_and_a_new_form_and_the_server_holds_both(
    page: Page, studio, designer_token, shots
):
    sign_in(page, designer_token)
    draw_start_task_end(page, "Check the referral", "replace-with-user-task")
    name_the_process(page, "referral_visit", "Referral visit")
    shape(page, "Activity_").click()
    expect(page.locator(".bio-properties-panel-group-header", has_text="Who works on it")).to_be_visible()

    # a new lane for a point of access of the service directory: a pool is made around the process
    lane = page.locator("#bio-properties-panel-signpost-lane")
    lane.select_option(label=f"New lane: {POINT_OF_ACCESS} (point of access)")
    expect(page.locator('.djs-shape[data-element-id^="Lane_"]', has_text=POINT_OF_ACCESS)).to_be_visible()
    expect(lane.locator("option:checked")).to_have_text(POINT_OF_ACCESS)

    # a new form for the task, opened in form-js's editor
    page.locator("#bio-properties-panel-signpost-form").select_option(
        label="Create a new form for this task…"
    )
    form_tab = page.get_by_role("tab", name="check_the_referral.form.json")
    expect(form_tab).to_have_attribute("aria-selected", "true")
    editor = page.locator("#form-workbench .fjs-editor-container")
    expect(editor).to_be_visible()
    editor.locator('.fjs-palette-field[data-field-type="textfield"]').focus()
    page.keyboard.press("Enter")  # form-js adds the field at the end of the form
    field = editor.locator(".fjs-form-field-textfield")
    expect(field).to_have_count(1)
    field.click()
    general = editor.locator(
        ".fjs-properties-container .bio-properties-panel-group-header", has_text="General"
    )
    if "open" not in (general.get_attribute("class") or ""):
        general.click()
    key = editor.locator(".fjs-properties-container #bio-properties-panel-key")
    key.fill("visit_notes")
    label = editor.locator(".fjs-properties-container #bio-properties-panel-label")
    label.fill("Visit notes")
    expect(field).to_contain_text("Visit notes")
    expect(page.locator(".checks-summary")).to_contain_text(
        "The server accepts these files.", timeout=CHECKED
    )
    assert_accessible(page, "form editor")
    shots(page, "form-editor")
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download check_the_referral.form.json").click()
    downloaded = json.loads(Path(downloading.value.path()).read_text())
    assert [c["key"] for c in downloaded["components"] if c["type"] == "textfield"] == ["visit_notes"]

    # back on the diagram, the task names its form
    page.get_by_role("tab", name=re.compile(r"\.bpmn")).click()
    shape(page, "Activity_").click()
    expect(page.locator("#bio-properties-panel-signpost-form")).to_have_value("check_the_referral")
    expect(page.get_by_role("button", name="Edit the form check_the_referral.form.json")).to_be_visible()
    assert_accessible(page, "a user task's properties")
    shots(page, "user-task-properties")

    deploy(page, "referral_visit")
    files = stored_files(studio, designer_token, "referral_visit")
    form = json.loads(files["check_the_referral.form.json"])
    [stored_field] = [c for c in form["components"] if c["type"] == "textfield"]
    assert (stored_field["key"], stored_field["label"]) == ("visit_notes", "Visit notes")
    diagram = etree.fromstring(files["referral_visit.bpmn"].encode())
    [task] = diagram.iterfind(".//bpmn:userTask", BPMN)
    assert task.get(CAMUNDA_FORM_REF) == "check_the_referral"
    [holding] = [
        each
        for each in diagram.iterfind(".//bpmn:lane", BPMN)
        if task.get("id") in [ref.text for ref in each.iterfind("bpmn:flowNodeRef", BPMN)]
    ]
    assert holding.get("name") == POINT_OF_ACCESS


def test_a_condition_with_a_syntax_error_is_refused_as_it_is_typed(page: Page, studio, designer_token, shots):
    sign_in(page, designer_token)
    page.get_by_role("link", name="version 1 of Community nursing referral").click()
    expect(page.locator(".checks-summary")).to_contain_text(
        "The server accepts these files.", timeout=CHECKED
    )
    # the "No" flow, straight up from the gateway: its middle is on the line
    page.locator('.djs-element[data-element-id="Flow_missing_information"] .djs-hit').click(force=True)
    condition = page.locator("#bio-properties-panel-signpost-condition")
    expect(condition).to_have_value("len(missing_fields) > 0")
    problem = page.locator("#signpost-condition-problem")
    expect(problem).to_have_attribute("aria-live", "polite")
    expect(problem).to_be_empty()

    condition.press("End")
    condition.press_sequentially(" and (", delay=30)
    expect(problem).to_have_text("Line 1, column 29: syntax error: '(' was never closed")
    expect(condition).to_have_attribute("aria-invalid", "true")
    assert "signpost-condition-problem" in condition.get_attribute("aria-describedby")
    assert_accessible(page, "a condition refused as it is typed")
    shots(page, "condition-error")

    condition.press_sequentially("priority)", delay=30)
    expect(problem).to_be_empty()
    expect(condition).to_have_attribute("aria-invalid", "false")
    expect(condition).to_have_value("len(missing_fields) > 0 and (priority)")


def test_a_message_name_is_picked_from_the_hand_off_messages(page: Page, studio, designer_token):
    sign_in(page, designer_token)
    draw_start_task_end(page, "Await acceptance", "replace-with-receive-task")
    name_the_process(page, "await_acceptance", "Await acceptance")
    shape(page, "Activity_").click()
    choice = page.locator("#bio-properties-panel-signpost-message-choice")
    expect(choice).to_have_value("")
    choice.select_option(label="handoff.accepted — The service accepted the hand-off")
    expect(page.locator("#bio-properties-panel-signpost-message-name")).to_have_value("handoff.accepted")
    correlation = page.locator("#bio-properties-panel-signpost-correlation")
    correlation.fill("handoff_id")
    assert_accessible(page, "a receive task's message")

    deploy(page, "await_acceptance")
    diagram = etree.fromstring(
        stored_files(studio, designer_token, "await_acceptance")["await_acceptance.bpmn"].encode()
    )
    [task] = diagram.iterfind(".//bpmn:receiveTask", BPMN)
    [message] = [m for m in diagram.iterfind("bpmn:message", BPMN) if m.get("id") == task.get("messageRef")]
    assert message.get("name") == "handoff.accepted"
    [retrieval] = diagram.iterfind(".//bpmn:correlationPropertyRetrievalExpression", BPMN)
    assert retrieval.get("messageRef") == message.get("id")
    assert "".join(retrieval.itertext()).strip() == "handoff_id"
