"""Link events, which SpiffWorkflow does not run: each pair becomes the sequence flow it stands for.

A link throw event (an intermediate throw event with a link event definition) continues at the link catch
event of the same name in the same process or subprocess — the "off-page connector" of a large diagram.
Before the file reaches SpiffWorkflow, each pair is joined by a sequence flow and both events become plain
intermediate events, which pass straight through; a throw with no catch of its name, or a name caught twice,
is a problem at deployment.
"""

from __future__ import annotations

from lxml import etree

from engine.errors import Problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SCOPES = (f"{{{BPMN}}}process", f"{{{BPMN}}}subProcess", f"{{{BPMN}}}transaction")


def join_link_events(filename: str, root: etree._Element) -> list[Problem]:
    """Replace every link throw/catch pair of ``root`` by a sequence flow (in place); the problems found."""
    problems = []
    for scope in root.iter(*SCOPES):
        problems.extend(_join_in(filename, scope))
    return problems


def _join_in(filename: str, scope: etree._Element) -> list[Problem]:
    throws = _link_events(scope, "intermediateThrowEvent")
    catches = _link_events(scope, "intermediateCatchEvent")
    problems = []
    by_name: dict[str, etree._Element] = {}
    for name, event in catches:
        if name in by_name:
            problems.append(
                _problem(
                    filename,
                    event,
                    f"link '{name}' is caught twice in this process; give each catch its own name",
                )
            )
        by_name[name] = event
    for name, event in throws:
        target = by_name.get(name)
        if target is None:
            problems.append(
                _problem(
                    filename,
                    event,
                    f"link throw event goes to link '{name}', which no link catch event of this process has",
                )
            )
            continue
        _connect(scope, event, target)
    if not problems:
        for _name, event in [*throws, *catches]:
            _make_plain(event)
    return problems


def _link_events(scope: etree._Element, tag: str) -> list[tuple[str, etree._Element]]:
    """(link name, event) for the link events directly in ``scope`` (not in its subprocesses)."""
    found = []
    for event in scope.findall(f"{{{BPMN}}}{tag}"):
        definition = event.find(f"{{{BPMN}}}linkEventDefinition")
        if definition is not None:
            found.append((definition.get("name") or event.get("name") or "", event))
    return found


def _connect(scope: etree._Element, source: etree._Element, target: etree._Element) -> None:
    flow_id = f"link_{source.get('id')}_{target.get('id')}"
    flow = etree.SubElement(scope, f"{{{BPMN}}}sequenceFlow")
    flow.set("id", flow_id)
    flow.set("sourceRef", source.get("id"))
    flow.set("targetRef", target.get("id"))
    _insert_reference(source, "outgoing", flow_id)
    _insert_reference(target, "incoming", flow_id)


def _insert_reference(event: etree._Element, kind: str, flow_id: str) -> None:
    # The schema's order: documentation, extension elements, incoming, outgoing, then the definitions.
    before = ("documentation", "extensionElements", "incoming") + (
        ("outgoing",) if kind == "outgoing" else ()
    )
    reference = etree.Element(f"{{{BPMN}}}{kind}")
    reference.text = flow_id
    position = 0
    for index, child in enumerate(event):
        if etree.QName(child).localname in before:
            position = index + 1
    event.insert(position, reference)


def _make_plain(event: etree._Element) -> None:
    """Drop the link definition; a catch becomes a plain throw event, which SpiffWorkflow passes through."""
    for definition in event.findall(f"{{{BPMN}}}linkEventDefinition"):
        event.remove(definition)
    if etree.QName(event).localname == "intermediateCatchEvent":
        event.tag = f"{{{BPMN}}}intermediateThrowEvent"


def _problem(filename: str, event: etree._Element, message: str) -> Problem:
    return Problem(filename, message, element_id=event.get("id"), line=event.sourceline)
