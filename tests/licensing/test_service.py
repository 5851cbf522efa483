"""`api.licensing.service` is the domain's public face: other packages reach licensing through
it (its data, `models` and `states`, and its `errors` are public too), never its rule modules."""

from __future__ import annotations

import ast
from pathlib import Path

import api
from api.licensing import errors, service

PUBLIC = {"api.licensing.service", "api.licensing.models", "api.licensing.states", "api.licensing.errors"}
# The two modules that wire every domain into the app and the worker list its routes and jobs by name.
WIRING = {"app.py": {"api.licensing.routes"}, "jobs.py": {"api.licensing.jobs"}}
ROOT = Path(api.__file__).resolve().parent


def _licensing_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "api.licensing":
            found += [f"api.licensing.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("api.licensing."):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("api.licensing")]
    return found


def test_other_packages_use_licensing_through_its_service() -> None:
    reaching_in = {}
    for path in ROOT.rglob("*.py"):
        if path.is_relative_to(ROOT / "licensing"):
            continue
        wiring = WIRING.get(str(path.relative_to(ROOT)), set())
        internal = [m for m in _licensing_imports(path) if m not in PUBLIC | wiring]
        if internal:
            reaching_in[str(path.relative_to(ROOT))] = internal
    assert reaching_in == {}


def test_the_service_exports_what_it_lists() -> None:
    missing = [name for name in service.__all__ if not hasattr(service, name)]
    assert missing == []
    assert service.LicenceNotFound is errors.LicenceNotFound and service.errors is errors


def test_licensing_errors_are_all_in_errors_py() -> None:
    """Every problem type licensing raises is declared in one module."""
    stray = {}
    for path in (ROOT / "licensing").glob("*.py"):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and b.id in {"NotFound", "Conflict", "Invalid", "Forbidden",
                                                         "ServiceUnavailable", "SyndicateError"} for b in node.bases):
                stray.setdefault(path.name, []).append(node.name)
    assert stray == {}
