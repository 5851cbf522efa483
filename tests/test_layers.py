"""The layers of `api/` point one way. Parses every module's imports (function-local ones too,
since a local import is how a cycle hides) and checks them against the order below.

A module may import modules of its own layer or of any layer below it. Within a domain package,
the HTTP edge (routes, pages, views, FastAPI dependencies) sits above every domain's services: a
route may call any service, a service never reaches for the HTTP layer. Command-line modules
(`cli`) are entry points, like the app and the worker.
"""

from __future__ import annotations

import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "api"

# Bottom first: (layer, packages or modules in it). The order is the architecture; change it here,
# with the README's diagram, when the architecture changes.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("api.core",)),
    ("audit", ("api.audit",)),
    ("platform", ("api.outbox", "api.web")),
    ("staff", ("api.staff",)),
    ("partners", ("api.partners",)),
    ("catalogue", ("api.catalogue",)),
    ("licensing", ("api.licensing",)),
    ("tracking", ("api.tracking",)),
    ("delivery", ("api.delivery",)),
    ("invoicing", ("api.invoicing",)),
    ("reports", ("api.reports",)),
    ("front ends", ("api.portal", "api.console")),
    ("http", ("api.deps", "api.health")),  # and every domain's HTTP edge (EDGE below)
    ("entry", ("api.app", "api.openapi_doc", "api.contract", "api.worker", "api.jobs", "api.cli", "api.main",
               "api.demo", "api.models", "api.migrations")),  # and every domain's `cli`
]
# Modules of a domain that belong to the HTTP layer, whatever their package.
EDGE = re.compile(r"(^|_)(routes|pages|views|deps)$|^fastpath$")
HTTP_LIBRARIES = ("fastapi", "starlette")
# Below the HTTP edge only core may speak HTTP (the problem renderer, middleware, limits).
HTTP_ALLOWED = ("api.core", "api.web")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def api_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(API.rglob("*.py")) if "versions" not in p.parts}


MODULES = api_modules()


def imported_names(name: str, path: Path) -> set[str]:
    """Every module `name` imports, anywhere in it (top level, functions, TYPE_CHECKING blocks)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from api.x import y` imports the module api.x.y when there is one.
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return found


def own_module(name: str) -> str | None:
    """The api module an imported name refers to (a name inside a module counts as the module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = {own_module(t) for t in imported_names(name, path) if t == "api" or t.startswith("api.")}
        graph[name] = {t for t in targets if t and t != name and not name.startswith(f"{t}.")}
    return graph


GRAPH = import_graph()


def layer_of(name: str) -> int:
    last = name.rpartition(".")[2]
    if name.count(".") >= 2 and last == "cli":
        return len(LAYERS) - 1
    if name.count(".") >= 2 and EDGE.search(last):
        return next(i for i, (layer, _) in enumerate(LAYERS) if layer == "http")
    for index, (_layer, members) in enumerate(LAYERS):
        if any(name == m or name.startswith(f"{m}.") for m in members):
            return index
    raise AssertionError(f"{name} is in no layer: add it to LAYERS in tests/test_layers.py")


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        if name != "api":
            layer_of(name)


def test_no_import_cycles() -> None:
    try:
        tuple(TopologicalSorter(GRAPH).static_order())
    except CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{source} ({LAYERS[layer_of(source)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for source, targets in sorted(GRAPH.items()) if source != "api"
        for target in sorted(targets) if target != "api" and layer_of(target) > layer_of(source)
    ]
    assert upward == []


def test_core_imports_no_domain() -> None:
    leaks = [f"{source} imports {target}" for source, targets in sorted(GRAPH.items()) if source.startswith("api.core")
             for target in sorted(targets) if not target.startswith("api.core")]
    assert leaks == []


def test_api_never_imports_stripe() -> None:
    """Stripe stays in billing/, behind the billing backend interface."""
    offenders = [name for name, path in MODULES.items()
                 if any(t == "stripe" or t.startswith("stripe.") for t in imported_names(name, path))]
    assert offenders == []


def test_services_do_not_import_fastapi() -> None:
    """Below the HTTP edge, domains know nothing of HTTP: routes parse and shape, services decide."""
    http = next(i for i, (layer, _) in enumerate(LAYERS) if layer == "http")
    offenders = [
        name for name, path in MODULES.items()
        if name != "api" and layer_of(name) < http and not name.startswith(HTTP_ALLOWED)
        and any(t.split(".")[0] in HTTP_LIBRARIES for t in imported_names(name, path))
    ]
    assert offenders == []


def test_the_checks_see_local_imports(tmp_path: Path) -> None:
    """The parser finds an import inside a function, relative or absolute (how cycles used to hide)."""
    path = tmp_path / "sample.py"
    path.write_text("def f():\n    from api.licensing import autoapproval\n    from . import quotes\n")
    assert {"api.licensing.autoapproval", "api.licensing.quotes"} <= imported_names("api.licensing.sample", path)


def test_every_problem_type_is_declared_in_its_domains_errors_module() -> None:
    """Each domain's errors live in its `errors.py` (core's in api.core.errors), where the problem
    renderer and the next engineer look for them."""
    import api.app  # noqa: F401 - imports every domain
    import api.cli  # noqa: F401
    import api.jobs  # noqa: F401
    from api.core.errors import SyndicateError

    def subclasses(cls: type) -> list[type]:
        return [cls, *(sub for direct in cls.__subclasses__() for sub in subclasses(direct))]

    stray = sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in subclasses(SyndicateError)
                   if cls.__module__.startswith("api.") and not cls.__module__.endswith(".errors"))
    assert stray == []


def test_no_module_imports_another_modules_private_names() -> None:
    """A name starting with `_` is its module's own: another module needing it means it is public."""
    found = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("api") and not node.level:
                found += [f"{name} imports {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []
