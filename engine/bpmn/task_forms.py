"""The form a user task names, in either of the ways modelers write it::

    <bpmn:userTask id="triage" camunda:formRef="triage"/>                     (Camunda Modeler, bpmn-js)

    <bpmn:userTask id="triage">                                               (SpiffWorkflow's modeler)
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="triage.form.json"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>

Which file a name means is the deployment's business (``engine/pathways/forms.py``); this module only reads
the name: from the XML when a deployment is checked (every user task naming a form is handed to the
deployment's check, so a missing form is refused on its element), and from the parsed spec at run time
(``camunda:formRef`` is kept with the task's extensions, which the spec stores).
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from engine.bpmn.problems import problem_on
from engine.errors import Problem

CAMUNDA_FORM_REF = "{http://camunda.org/schema/1.0/bpmn}formRef"
SPIFF_FORM_PROPERTY = "formJsonSchemaFilename"
# The key a task spec's extensions keep ``camunda:formRef`` under (SpiffWorkflow's own keys are the local
# names of ``spiffworkflow:`` elements, which never hold a colon).
FORM_REF_EXTENSION = "camunda:formRef"
_NAMESPACES = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
_USER_TASK = f"{{{_NAMESPACES['bpmn']}}}userTask"

# Says what is wrong with a form name in a deployment (None when the deployment holds that form).
FormCheck = Callable[[str], str | None]


def form_named_by(user_task: etree._Element) -> str | None:
    """The form a ``bpmn:userTask`` element names, as written (None when it names none)."""
    reference = user_task.get(CAMUNDA_FORM_REF)
    if reference is not None:
        return reference.strip()
    for prop in user_task.iterfind(
        "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", _NAMESPACES
    ):
        if prop.get("name") == SPIFF_FORM_PROPERTY:
            return (prop.get("value") or "").strip()
    return None


def form_reference_problems(filename: str, root: etree._Element, check: FormCheck) -> list[Problem]:
    """A problem on every user task of a BPMN document whose form ``check`` refuses."""
    problems = []
    for user_task in root.iter(_USER_TASK):
        reference = form_named_by(user_task)
        if reference is None:
            continue
        message = (
            "the user task names an empty form: give the id of a form deployed with the pathway"
            if not reference
            else check(reference)
        )
        if message:
            problems.append(problem_on(filename, user_task, message))
    return problems


def form_of_spec(task_spec) -> str | None:
    """The form a parsed user task spec names (None when it names none)."""
    extensions = getattr(task_spec, "extensions", None) or {}
    reference = extensions.get(FORM_REF_EXTENSION) or (extensions.get("properties") or {}).get(
        SPIFF_FORM_PROPERTY
    )
    return reference.strip() if isinstance(reference, str) and reference.strip() else None


class KeepsCamundaFormRef:
    """Mixed into a user task parser: ``camunda:formRef`` is kept with the task's extensions."""

    def parse_extensions(self, node=None):
        extensions = super().parse_extensions(node)
        if node is None or node is self.node:
            reference = self.node.get(CAMUNDA_FORM_REF)
            if reference is not None:
                extensions = {**extensions, FORM_REF_EXTENSION: reference.strip()}
        return extensions
