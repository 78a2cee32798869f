"""Parse untrusted XML (BPMN and DMN uploads) without ever expanding entities or touching the network.

A DOCTYPE has no legitimate use in BPMN or DMN, and it is the door for external-entity (XXE) and
entity-expansion ("billion laughs") attacks, so any document declaring one is refused before the parser
sees it. The parser itself is also configured with entities, DTD loading and network access off, and
libxml2's default limits on depth and text size stay on.
"""

from __future__ import annotations

import re

from lxml import etree

from engine.errors import DefinitionInvalid, Problem

DOCTYPE_OR_ENTITY = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_untrusted_xml(filename: str, content: bytes, max_bytes: int) -> etree._Element:
    """Return the root element of ``content``, or raise ``DefinitionInvalid`` with the one problem found,
    naming the file and the line."""
    if len(content) > max_bytes:
        raise _refused(Problem(filename, f"file is {len(content)} bytes; the limit is {max_bytes} bytes"))
    if not content.strip():
        raise _refused(Problem(filename, "file is empty"))
    declaration = DOCTYPE_OR_ENTITY.search(content)
    if declaration:
        line = content.count(b"\n", 0, declaration.start()) + 1
        kind = declaration.group(1).decode().upper()
        raise _refused(
            Problem(
                filename,
                f"{kind} declarations are not allowed (external entities and entity expansion are refused)",
                line=line,
            )
        )
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno else None
        raise _refused(Problem(filename, f"not well-formed XML: {error.msg}", line=line)) from None
    if root.getroottree().docinfo.doctype:
        raise _refused(Problem(filename, "DOCTYPE declarations are not allowed"))
    return root


def _refused(problem: Problem) -> DefinitionInvalid:
    return DefinitionInvalid([problem])
