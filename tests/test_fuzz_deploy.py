"""Hostile BPMN, DMN and XML thrown at deployment, over HTTP and straight at the engine.

Entity expansion, external and parameter entities, deep nesting, huge attributes and text, broken
encodings, truncated documents, random mutations of the real community nursing pathway and hostile
expressions inside otherwise valid files: each must be answered with a clean problem (422 for an invalid
definition, 413 for a request that is too big) naming what is wrong, within a bounded time, and must leave
nothing stored. Nothing may ever be a server error or expand an entity.
"""

from __future__ import annotations

import io
import re
import socket
import threading
import time
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from engine.bpmn import SourceFile
from engine.errors import DefinitionInvalid
from engine.store.tables import definition_files, definition_versions, definitions
from tests import bpmn_samples as samples
from tests.conftest import PROCESSES

NURSING_BPMN = (PROCESSES / "community_nursing_referral.bpmn").read_bytes()
NURSING_DMN = (PROCESSES / "community_nursing_triage.dmn").read_bytes()
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
PROBLEM_JSON = "application/problem+json"
# Generous for a slow CI machine: the evaluator's limit is 0.5 s in tests and parsing never expands.
SECONDS_PER_DEPLOY = 10
# A detail names what is wrong; it never reproduces a hostile file.
LONGEST_DETAIL = 20_000
SECRET = "signpost-fuzz-secret-5e1c"
SECRETS = (SECRET.encode(), b"root:x:0:0", b"PATH=")

FUZZ = settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture
def listener():
    """An HTTP port on this machine that records every connection: an external entity, DTD or XInclude that
    were fetched would show up here."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    connections: list[bytes] = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connection, _address = server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(1)
                connections.append(connection.recv(1024))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", connections
    stop.set()
    thread.join()
    server.close()


@pytest.fixture
def secret_file(tmp_path):
    """A local file an external entity names: its content must never appear anywhere."""
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def stored(signpost) -> tuple[int, int, int]:
    with signpost.database.read() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            for table in (definitions, definition_versions, definition_files)
        )


def post(http, headers, files: list[tuple[str, bytes]], key: str | None = None):
    form = {"files": [(io.BytesIO(content), name) for name, content in files]}
    if key is not None:
        form["key"] = key
    started = time.monotonic()
    response = http.post(
        "/api/v1/definitions", data=form, headers=headers, content_type="multipart/form-data"
    )
    assert time.monotonic() - started < SECONDS_PER_DEPLOY, "deploying must not hang"
    return response


def assert_clean_problem(response, statuses=(422,)) -> dict:
    assert response.status_code in statuses, (response.status_code, response.get_data()[:500])
    assert response.content_type == PROBLEM_JSON
    body = response.get_json()
    assert body["status"] == response.status_code
    assert isinstance(body["detail"], str) and 0 < len(body["detail"]) <= LONGEST_DETAIL, body["detail"][:500]
    assert not any(secret in response.get_data() for secret in SECRETS), "nothing may be read from elsewhere"
    if response.status_code == 422 and body.get("type", "").endswith("/definition-invalid"):
        assert body["problems"] and all(p["file"] is not None and p["message"] for p in body["problems"])
        for problem in body["problems"]:
            assert_a_sentence(problem["message"])
    return body


UNREADABLE = re.compile(
    r" at 0x[0-9a-f]+|<Element |b'<|b\"<|id \"None\"|tasks of type\s*$|^\w+(Error|Exception)\b"
)


def assert_a_sentence(message: str) -> None:
    """A problem names what to change: never an object's repr, raw XML or a bare exception name."""
    assert not UNREADABLE.search(message), message


def assert_refused_everywhere(signpost, http, designer_headers, files: list[tuple[str, bytes]]) -> None:
    """Refused by the engine and over HTTP, with nothing stored by either."""
    before = stored(signpost)
    started = time.monotonic()
    with pytest.raises(DefinitionInvalid) as refused:
        signpost.definitions.deploy([SourceFile(name, content) for name, content in files], "tests")
    assert time.monotonic() - started < SECONDS_PER_DEPLOY, "deploying must not hang"
    assert refused.value.problems and refused.value.message
    assert stored(signpost) == before
    assert_clean_problem(post(http, designer_headers, files))
    assert stored(signpost) == before


def assert_deployed_or_refused(signpost, http, designer_headers, files: list[tuple[str, bytes]]) -> None:
    """Mutants may still be valid: then they are stored whole, otherwise not at all."""
    before = stored(signpost)
    response = post(http, designer_headers, files)
    if response.status_code == 201:
        assert stored(signpost)[1:] == (before[1] + 1, before[2] + len(files))
        assert response.get_json()["created"] is True
    elif response.status_code == 200:
        assert stored(signpost) == before
    else:
        assert_clean_problem(response)
        assert stored(signpost) == before


# ---- Hostile XML ------------------------------------------------------------------------------------------


def bpmn_root(body: str = "", extra: str = "") -> str:
    """A BPMN document with no executable process: whatever else is in it, it cannot be deployed."""
    return f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" id="d"{extra}>{body}</bpmn:definitions>'


@dataclass(frozen=True)
class Document:
    """A hostile file: its text names LISTENER and SECRET_FILE, filled in by the test that sends it."""

    text: str | bytes
    encoding: str = "utf-8"

    def content(self, listener: str, secret_file) -> bytes:
        if isinstance(self.text, bytes):
            return self.text
        text = self.text.replace("LISTENER", listener).replace("SECRET_FILE", str(secret_file))
        return text.encode(self.encoding, errors="replace")


def encoded(draw, text: str) -> Document:
    """``text`` in an encoding the parser understands, sometimes with a BOM or a declaration that lies: a
    check that reads only UTF-8 bytes must not be the only defence."""
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1"]))
    declared = draw(st.sampled_from(["UTF-8", "UTF-16", "ISO-8859-1", None]))
    declaration = f'<?xml version="1.0" encoding="{declared}"?>\n' if declared else ""
    return Document(declaration + text, encoding)


EXTERNAL_URLS = [
    "LISTENER/evil.dtd",
    "file://SECRET_FILE",
    "SECRET_FILE",
    "file:///etc/passwd",
    "file:///proc/self/environ",
    "http://127.0.0.1:9/evil.dtd",
    "http://169.254.169.254/latest/meta-data/ami-id",
    "https://127.0.0.1:9/evil.dtd",
    "ftp://127.0.0.1:9/evil",
    "jar:file:///tmp/x.jar!/evil",
    "php://filter/resource=/etc/passwd",
    "/etc/passwd",
    "../../../../etc/passwd",
]


@st.composite
def entity_expansion(draw) -> Document:
    width, depth = draw(st.integers(2, 16)), draw(st.integers(2, 12))
    entities = ['<!ENTITY e0 "lol">'] + [
        f'<!ENTITY e{level} "{f"&e{level - 1};" * width}">' for level in range(1, depth)
    ]
    keyword = draw(st.sampled_from(["DOCTYPE", "doctype", "DocType"]))
    document = f"<!{keyword} d [{''.join(entities)}]>\n" + bpmn_root(f"&e{depth - 1};")
    return encoded(draw, document)


@st.composite
def external_entity(draw) -> Document:
    url = draw(st.sampled_from(EXTERNAL_URLS))
    form = draw(st.sampled_from(["general", "parameter", "system-doctype", "public-doctype", "attribute"]))
    documentation = "<bpmn:process id='p' isExecutable='true'><bpmn:documentation>&x;</bpmn:documentation>"
    documents = {
        "general": f'<!DOCTYPE d [<!ENTITY x SYSTEM "{url}">]>'
        + bpmn_root(documentation + "</bpmn:process>"),
        "parameter": f'<!DOCTYPE d [<!ENTITY % p SYSTEM "{url}"> %p;]>' + bpmn_root(),
        "system-doctype": f'<!DOCTYPE d SYSTEM "{url}">' + bpmn_root(),
        "public-doctype": f'<!DOCTYPE d PUBLIC "-//E//DTD E//EN" "{url}">' + bpmn_root(),
        "attribute": f'<!DOCTYPE d [<!ENTITY x SYSTEM "{url}">]>' + bpmn_root(extra=' name="&x;"'),
    }
    return encoded(draw, documents[form])


@st.composite
def xinclude(draw) -> Document:
    url = draw(st.sampled_from(EXTERNAL_URLS))
    parse = draw(st.sampled_from(["text", "xml"]))
    include = f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{url}" parse="{parse}"/>'
    return encoded(draw, bpmn_root(include))


@st.composite
def deep_nesting(draw) -> Document:
    depth = draw(st.integers(100, 50_000))
    tag = draw(st.sampled_from(["bpmn:documentation", "x", "bpmn:extensionElements"]))
    return Document(bpmn_root(f"<{tag}>" * depth + f"</{tag}>" * depth))


@st.composite
def huge_attribute_or_text(draw) -> Document:
    size = draw(st.sampled_from([100_000, 1_000_000, 1_900_000, 2_500_000]))
    filler = draw(st.sampled_from(["A", "&amp;", "\u00e9", "&#x10FFFF;", " "]))
    text = filler * (size // len(filler))
    where = draw(st.sampled_from(["attribute", "text", "comment", "cdata", "attributes"]))
    if where == "attribute":
        return Document(bpmn_root(extra=f' name="{text}"'))
    if where == "attributes":
        attributes = "".join(f' a{n}="{n}"' for n in range(size // 20))
        return Document(bpmn_root(extra=attributes))
    wrapped = {
        "text": f"<bpmn:documentation>{text}</bpmn:documentation>",
        "comment": f"<!--{text.replace('-', 'x')}-->",
        "cdata": f"<bpmn:documentation><![CDATA[{text}]]></bpmn:documentation>",
    }[where]
    return Document(bpmn_root(wrapped))


@st.composite
def broken_bytes(draw) -> Document:
    """The real pathway with bytes no XML parser accepts: invalid UTF-8, a BOM that lies, NUL, a cut."""
    trick = draw(
        st.sampled_from(["invalid-utf8", "lying-bom", "nul", "truncated", "junk-before-declaration"])
    )
    at = draw(st.integers(60, len(NURSING_BPMN) - 40))
    if trick == "invalid-utf8":
        bad = draw(
            st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xc0\xaf"])
        )
        return Document(NURSING_BPMN[:at] + bad + NURSING_BPMN[at:])
    if trick == "lying-bom":
        bom = draw(st.sampled_from([b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00"]))
        return Document(bom + NURSING_BPMN)
    if trick == "nul":
        return Document(NURSING_BPMN[:at] + b"\x00" + NURSING_BPMN[at:])
    if trick == "truncated":
        return Document(NURSING_BPMN[:at])
    return Document(b"  \n" + NURSING_BPMN)


hostile_xml = st.one_of(
    entity_expansion(),
    external_entity(),
    xinclude(),
    deep_nesting(),
    huge_attribute_or_text(),
    broken_bytes(),
)


@FUZZ
@given(
    document=hostile_xml, alongside_dmn=st.booleans(), filename=st.sampled_from(["x.bpmn", "x.dmn", "x.xml"])
)
def test_hostile_xml_is_refused_cleanly_and_stores_nothing(
    signpost, http, designer_headers, listener, secret_file, document, alongside_dmn, filename
):
    listener_url, connections = listener
    files = [(filename, document.content(listener_url, secret_file))]
    if alongside_dmn:
        files.append(("community_nursing_triage.dmn", NURSING_DMN))
    assert_refused_everywhere(signpost, http, designer_headers, files)
    assert connections == [], "nothing may be fetched while parsing"


def test_the_real_pathway_in_utf16_is_refused_naming_the_encoding(signpost, http, designer_headers):
    text = NURSING_BPMN.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    files = [("nursing.bpmn", text.encode("utf-16")), ("triage.dmn", NURSING_DMN)]
    assert_refused_everywhere(signpost, http, designer_headers, files)
    assert "UTF-8" in post(http, designer_headers, files).get_json()["detail"]


# ---- Mutations of the real pathway ------------------------------------------------------------------------

HOSTILE_VALUES = [
    "",
    " ",
    "x" * 250,
    "<>&\"'",
    "\u202etxt.exe",
    "\U0001f9a0" * 60,
    "referral_received",
    "Flow_start",
    "().__class__.__base__.__subclasses__()",
    "__import__('os').system('id')",
    "9**9**9**9",
    "'%0999999999d' % 1",
    "f'{1:>{10**9}}'",
    "[x for x in range(10**6) for y in range(10**6)]",
    "while True:\n    pass",
    "getattr(handoff, '__class__')",
    "P1D",
    "'P1D'",
    "-1",
    "None",
]
MUTATIONS = [
    "delete",
    "duplicate",
    "swap",
    "drop-attribute",
    "set-attribute",
    "set-text",
    "set-expression",
    "retarget",
]
# Where the two files keep Python: replacing these keeps the file schema-valid, so the evaluator is reached.
EXPRESSION_TAGS = {"script", "conditionExpression", "timeDuration", "timeDate", "timeCycle", "text"}
REFERENCES = ("sourceRef", "targetRef", "default", "attachedToRef", "messageRef", "processRef", "decisionRef")


def mutate(original: bytes, steps: list[tuple[str, int, int, str]]) -> bytes:
    root = etree.fromstring(original)
    for operation, first, second, value in steps:
        elements = [e for e in root.iter(etree.Element) if e is not root]
        if not elements:
            break
        element, other = elements[first % len(elements)], elements[second % len(elements)]
        if operation == "delete" and element.getparent() is not None:
            element.getparent().remove(element)
        elif operation == "duplicate" and element.getparent() is not None:
            element.addnext(etree.fromstring(etree.tostring(element)))
        elif operation == "swap" and element is not other and other not in element.iterancestors():
            if element not in other.iterancestors():
                placeholder = etree.Element("placeholder")
                element.addprevious(placeholder)
                other.addprevious(element)
                placeholder.addprevious(other)
                placeholder.getparent().remove(placeholder)
        elif operation == "drop-attribute" and element.attrib:
            names = sorted(element.attrib)
            del element.attrib[names[second % len(names)]]
        elif operation == "set-attribute":
            names = sorted(element.attrib) or ["id"]
            element.set(names[second % len(names)], value)
        elif operation == "set-text":
            element.text = value
        elif operation == "set-expression":
            sources = [e for e in elements if etree.QName(e).localname in EXPRESSION_TAGS]
            parameters = [e for e in elements if etree.QName(e).localname == "parameter" and e.get("value")]
            if not sources + parameters:
                continue
            target = (sources + parameters)[first % len(sources + parameters)]
            if target in parameters:
                target.set("value", value)
            else:
                target.text = value
        elif operation == "retarget":
            referring = [(e, name) for e in elements for name in REFERENCES if e.get(name)]
            if referring:
                referrer, name = referring[first % len(referring)]
                referrer.set(name, other.get("id") or value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


mutation_steps = st.lists(
    st.tuples(
        st.sampled_from(MUTATIONS),
        st.integers(0, 10_000),
        st.integers(0, 10_000),
        st.sampled_from(HOSTILE_VALUES),
    ),
    min_size=1,
    max_size=4,
)


@settings(FUZZ, max_examples=60)
@given(steps=mutation_steps, mutate_dmn=st.booleans())
def test_mutants_of_the_real_pathway_are_deployed_whole_or_refused_cleanly(
    signpost, http, designer_headers, steps, mutate_dmn
):
    bpmn, dmn = (
        (NURSING_BPMN, mutate(NURSING_DMN, steps))
        if mutate_dmn
        else (mutate(NURSING_BPMN, steps), NURSING_DMN)
    )
    assert_deployed_or_refused(
        signpost, http, designer_headers, [("nursing.bpmn", bpmn), ("triage.dmn", dmn)]
    )


# ---- Hostile expressions in otherwise valid files ---------------------------------------------------------

# Refused wherever they stand: the evaluator checks every expression and script at deploy.
REFUSED_ANYWHERE = [
    "().__class__.__base__.__subclasses__()",
    "().__class__.__bases__[0].__subclasses__()[0]",
    "__import__('os').system('id')",
    "__builtins__['open']('/etc/passwd').read()",
    "getattr(1, '__class__')",
    "getattr(getattr, '__self__')",
    "vars()",
    "globals()['__builtins__']",
    "type(1).mro()",
    "(1).__class__",
    "[].__class__.__mro__[1].__subclasses__()",
    "open('/etc/passwd').read()",
    "eval('1 + 1')",
    "exec('import os')",
    "compile('1', 'x', 'eval')",
    "'{0.__class__}'.format(1)",
    "'{x.__class__.__mro__}'.format_map({'x': 1})",
    "f'{1:>1000000000}'",
    "f'{1:>{10**9}}'",
    "'%01000000000d' % 1",
    "'%*d' % (1000000000, 1)",
    "'a'.ljust(10**10)",
    "'a'.center(2**40)",
    "'1'.zfill(10**10)",
    "(lambda: 1).__globals__",
    "(x for x in []).gi_frame.f_globals",
    "_secret",
    "dir()",
    "breakpoint()",
    "help()",
    "memoryview(b'')",
    "object()",
    "super()",
    "setattr(1, 'x', 2)",
    "(" * 400 + "1" + ")" * 400,
    "-" * 100_000 + "1",
    "not " * 50_000 + "1",
    "[" * 5_000 + "]" * 5_000,
    "1 +",
    "lambda",
]
# Only a script can spell these; each is refused before anything runs.
REFUSED_SCRIPTS = [
    "import os",
    "from os import system",
    "def f():\n    return 1",
    "class A:\n    pass",
    "try:\n    x = 1\nexcept Exception:\n    pass",
    "with open('/etc/passwd') as f:\n    x = f.read()",
    "global x",
    "raise ValueError()",
    "x.attribute = 1",
    "y = ().__class__",
]
# Evaluated at deploy when they stand where a timer's value is read, and refused then, quickly.
REFUSED_AS_TIMERS = [
    "9**9**9**9",
    "10**10**10",
    "2 << 10**10",
    "'a' * 10**10",
    "[0] * 10**10",
    "[x for x in range(10**6) for y in range(10**6)]",
    "max(range(10**6), key=lambda x: [y for y in range(10**6)])",
    "('%' + '9' * 9 + 'd') % 1",
    "sum([[0] * 1000] * 100_000, [])",
    "(10**999_999) // (7**590_000)",
    "divmod(10**999_999, 7**500_000)",
    "(10**999_999) % (3**1_000_000)",
    " + ".join(["10**999_999"] * 200),
    "10**5000",
    "str(10**999_999)",
    "(lambda f: f(f))(lambda f: f(f))",
    "datetime.max + timedelta(days=1)",
    "[0] * 9_000_000",
    "'P' + '9' * 9_000_000 + 'D'",
]


def routing_task_with(expression: str) -> str:
    return samples.process(
        '<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>'
        + samples.routing_task("community-nursing-city", "community-nursing").replace(
            "value=\"'community-nursing-city'\"", f"value={quoteattr(expression)}"
        )
        + '<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="route"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="route" targetRef="end"/>'
    )


def escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def in_decision_table(expression: str, where: str) -> list[tuple[str, bytes]]:
    cells = {
        "input-entry": b'<text>? in ["LE15"]</text>',
        "output-entry": b'<text>"urgent"</text>',
        "input-expression": b"<text>housebound</text>",
    }
    dmn = NURSING_DMN.replace(cells[where], f"<text>{escaped(expression)}</text>".encode(), 1)
    return [("nursing.bpmn", NURSING_BPMN), ("triage.dmn", dmn)]


def in_valid_bpmn(expression: str, where: str) -> list[tuple[str, bytes]]:
    if where.startswith(("input-", "output-")):
        return in_decision_table(expression, where)
    text = {
        "script": lambda: samples.script_then_user_task(escaped(expression)),
        "gateway": lambda: samples.gateway(escaped(expression)),
        "timer": lambda: samples.timer_wait(escaped(expression)),
        "service-parameter": lambda: routing_task_with(expression),
    }[where]()
    return [("hostile.bpmn", text.encode())]


@FUZZ
@given(
    expression=st.sampled_from(REFUSED_ANYWHERE),
    where=st.sampled_from(["script", "gateway", "timer", "service-parameter", "input-entry", "output-entry"]),
    wrapper=st.sampled_from(["{}", "1 if {} else 2", "[{} for _ in range(3)]", "({})", "str({})"]),
)
def test_hostile_expressions_are_refused_wherever_they_stand(
    signpost, http, designer_headers, expression, where, wrapper
):
    hostile = expression if where == "script" and "\n" in expression else wrapper.replace("{}", expression)
    if where == "script":
        hostile = f"x = {hostile}"
    assert_refused_everywhere(signpost, http, designer_headers, in_valid_bpmn(hostile, where))


@FUZZ
@given(script=st.sampled_from(REFUSED_SCRIPTS))
def test_hostile_scripts_are_refused(signpost, http, designer_headers, script):
    assert_refused_everywhere(signpost, http, designer_headers, in_valid_bpmn(script, "script"))


@FUZZ
@given(expression=st.sampled_from(REFUSED_AS_TIMERS))
def test_expensive_timer_expressions_are_refused_within_the_time_limit(
    signpost, http, designer_headers, expression
):
    files = in_valid_bpmn(expression, "timer")
    assert_refused_everywhere(signpost, http, designer_headers, files)
    detail = post(http, designer_headers, files).get_json()["detail"]
    assert "wait" in detail, "the problem names the timer's element"


@pytest.mark.parametrize(
    "script",
    [
        "while True:\n    pass",
        "x = 9**9**9**9",
        "x = [0] * 10**10",
        "x = ('%' + '9' * 9 + 'd') % 1",
        "x = sum([[0] * 1000] * 100_000, [])",
        "x = " + " + ".join(["10**999_999"] * 200),
        "x = (10**999_999) // (7**590_000)",
    ],
    ids=["while-true", "power", "repeat", "computed-width", "quadratic-sum", "straight-line", "division"],
)
def test_scripts_that_only_fail_when_run_stop_the_referral_within_the_time_limit(signpost, gp, script):
    """A script is checked, not run, at deploy; run, it must fail fast into an incident, not hang."""
    signpost.definitions.deploy([samples.source(samples.script_then_user_task(script))], "tests")
    started = time.monotonic()
    referral, _ = signpost.referrals.start(
        gp, pathway="sample", version=None, referrer="C81001", subject=None, data={}
    )
    assert time.monotonic() - started < SECONDS_PER_DEPLOY
    assert referral["status"] == "incident"
    assert "Compute" in referral["incident"]["error"]


# ---- Size limits and names --------------------------------------------------------------------------------


def test_a_file_over_the_upload_limit_is_refused_and_a_request_over_the_body_limit_is_413(
    signpost, http, app, designer_headers
):
    limit = signpost.settings.max_upload_bytes
    too_big_file = bpmn_root(f"<bpmn:documentation>{'A' * limit}</bpmn:documentation>").encode()
    assert_refused_everywhere(signpost, http, designer_headers, [("big.bpmn", too_big_file)])
    assert "limit" in post(http, designer_headers, [("big.bpmn", too_big_file)]).get_json()["detail"]

    before = stored(signpost)
    body_limit = app.config["MAX_CONTENT_LENGTH"]
    response = post(http, designer_headers, [("huge.bpmn", b" " * (body_limit + 1))])
    assert_clean_problem(response, statuses=(413,))
    assert stored(signpost) == before


@FUZZ
@given(
    filename=st.one_of(
        # Letters and digits around the NUL: quotes and line breaks do not survive multipart encoding.
        st.text(st.characters(categories=("L", "N")), min_size=301, max_size=2_000),
        st.text(st.characters(categories=("L", "N")), max_size=40).map(lambda name: name + "\x00.bpmn"),
    )
)
def test_file_names_that_cannot_be_stored_are_refused(signpost, http, designer_headers, filename):
    files = [(filename, samples.script_then_user_task().encode())]
    before = stored(signpost)
    with pytest.raises(DefinitionInvalid, match="file name"):
        signpost.definitions.deploy([SourceFile(name, content) for name, content in files], "tests")
    assert stored(signpost) == before
    # Over HTTP a NUL is refused with the rest of the request's values (400); a long name like any other.
    assert_clean_problem(post(http, designer_headers, files), statuses=(400, 422))
    assert stored(signpost) == before


@FUZZ
@given(
    attribute=st.sampled_from(["id", "name"]),
    length=st.integers(201, 5_000),
    element=st.sampled_from(["process", "userTask", "lane", "message"]),
)
def test_ids_and_names_too_long_to_store_are_refused_at_deploy(
    signpost, http, designer_headers, attribute, length, element
):
    """A name that deploys but does not fit the run-time tables would fail every referral reaching it."""
    root = etree.fromstring(NURSING_BPMN)
    target = root.find(f".//{{{BPMN_NS}}}{element}")
    target.set(attribute, "n" * length)
    bpmn = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    assert_refused_everywhere(
        signpost, http, designer_headers, [("nursing.bpmn", bpmn), ("triage.dmn", NURSING_DMN)]
    )


@FUZZ
@given(key=st.text(min_size=1, max_size=500).filter(lambda key: key != "community_nursing_referral"))
def test_a_key_naming_no_process_in_the_files_is_refused(signpost, http, designer_headers, key):
    files = [("nursing.bpmn", NURSING_BPMN), ("triage.dmn", NURSING_DMN)]
    before = stored(signpost)
    with pytest.raises(DefinitionInvalid, match="no executable process"):
        signpost.definitions.deploy([SourceFile(name, content) for name, content in files], "tests", key=key)
    # Over HTTP a NUL is refused with the rest of the request's values (400).
    assert_clean_problem(post(http, designer_headers, files, key=key), statuses=(400, 422))
    assert stored(signpost) == before
