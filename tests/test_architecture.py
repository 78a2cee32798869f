"""The rules of the code's shape, checked over the source tree: what may import what, who reads the clock,
where errors live, how large a module may grow. Each rule names the place that owns the thing it guards."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.store.db import Database
from engine.store.tables import metadata
from tests.conftest import ROOT

# The engine's packages from the top down: a module imports from its own package or from those below it
# (and from the base modules), never from one above. `system` and `settings` compose the rest; `scenarios`
# builds whole Signposts of its own to run scenario files in, and `simulation` to simulate pathways in.
LAYERS = (
    ("system", "settings", "scenarios", "simulation"),
    ("referrals",),
    ("routing",),
    ("olas",),
    ("pathways",),
    ("notifications",),
    ("governance",),
    ("bpmn",),
    ("sandbox",),
    ("store",),
    ("clock", "errors", "metrics", "key_files"),
)
LAYER_OF = {part: depth for depth, parts in enumerate(LAYERS) for part in parts}
MODULE_LINE_LIMIT = 400


def modules(*folders: str) -> dict[str, Path]:
    """Dotted module name -> file, for every Python file under ``folders``."""
    found = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports at run time (not those imported only for type checking)."""
    tree = ast.parse(path.read_text())
    typing_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for n in ast.walk(node))
    names = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


ENGINE = modules("engine")
API = modules("api")


def engine_imports(name: str) -> set[str]:
    """The engine modules that module ``name`` imports."""
    return {target for target in imports_of(ENGINE[name]) if target in ENGINE and target != name}


def importers_of(pattern: str, folders=("engine", "api")) -> set[str]:
    regex = re.compile(pattern)
    return {
        name
        for name, path in modules(*folders).items()
        if any(regex.match(target) for target in imports_of(path))
    }


def layer(name: str) -> int:
    return LAYER_OF[name.split(".")[1]]


def test_the_engine_never_imports_the_web_layer():
    assert importers_of(r"^(flask|flask_smorest|werkzeug|api)(\.|$)", ("engine",)) == set()


def test_only_engine_bpmn_imports_spiffworkflow():
    importing = importers_of(r"^SpiffWorkflow(\.|$)")
    assert importing, "the check found no importer at all: it is looking in the wrong place"
    assert {name for name in importing if not name.startswith("engine.bpmn.")} == set()


def test_only_engine_store_imports_sqlalchemy():
    importing = importers_of(r"^(sqlalchemy|alembic)(\.|$)", ("engine",))
    assert importing, "the check found no importer at all: it is looking in the wrong place"
    assert {name for name in importing if not name.startswith("engine.store")} == set()


def test_only_the_clock_reads_the_wall_clock():
    """``engine/clock.py`` is the one place that asks what time it is, so that tests and simulations can
    move it. Durations measured with a monotonic counter (``time.monotonic``, ``time.perf_counter``) are
    not the time of day and may be read anywhere."""
    wall_clock = re.compile(
        r"\b(datetime\.(now|utcnow|today)|date\.today|time\.(time|time_ns|localtime|gmtime)|"
        r"calendar\.timegm)\("
    )
    reading = {
        str(path.relative_to(ROOT))
        for path in [*ENGINE.values(), *API.values()]
        if wall_clock.search(path.read_text())
    }
    assert reading == {"engine/clock.py"}


def test_each_package_imports_only_downwards():
    upward = sorted(
        f"{name} imports {target}"
        for name in ENGINE
        if name.count(".") >= 1
        for target in engine_imports(name)
        if target.count(".") >= 1 and layer(target) < layer(name)
    )
    assert upward == []


def test_every_engine_module_belongs_to_a_declared_layer():
    assert {name.split(".")[1] for name in ENGINE if "." in name} <= set(LAYER_OF)


def test_the_engine_has_no_import_cycle():
    graph = {name: engine_imports(name) - {"engine"} for name in ENGINE}
    cycles = _cycles(graph)
    assert cycles == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_api_reaches_the_database_only_through_the_engine():
    """Views parse, make one engine call and serialize: no SQL in api/."""
    assert importers_of(r"^(sqlalchemy|engine\.store)(\.|$)", ("api",)) == set()


def test_every_engine_exception_is_in_the_error_tree():
    """Engine exceptions live in engine/errors.py, whose docstring draws all of them."""
    errors = ENGINE["engine.errors"]
    tree = ast.parse(errors.read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.ClassDef) and node.name != "Problem"}
    drawing = ast.get_docstring(tree)
    assert {name for name in defined if not re.search(rf"\b{name}\b", drawing)} == set()
    elsewhere = sorted(
        f"{name}.{node.name}"
        for name, path in ENGINE.items()
        if name != "engine.errors"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
        and not node.name.startswith("_")
        and any(
            re.search(r"(Error|Exception|Failed|Busy|Unavailable|Unreadable)$", ast.unparse(base))
            for base in node.bases
        )
    )
    assert elsewhere == []


def test_modules_stay_small_or_say_why():
    """A module past ~400 lines wants splitting; one that should not be split says so in its docstring."""
    long = sorted(
        f"{name} ({lines} lines)"
        for name, path in ENGINE.items()
        if (lines := len(path.read_text().splitlines())) > MODULE_LINE_LIMIT
        and "Longer than 400 lines" not in (ast.get_docstring(ast.parse(path.read_text())) or "")
    )
    assert long == []


def test_every_package_says_what_it_owns():
    packages = {name: path for name, path in ENGINE.items() if path.name == "__init__.py"}
    assert len(packages) >= 9
    assert {
        name for name, path in packages.items() if not ast.get_docstring(ast.parse(path.read_text()))
    } == set()


def test_the_migrations_create_exactly_the_declared_schema(database_url):
    database = Database(database_url)
    try:
        with database.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        database.dispose()
    assert differences == []
