"""Which code may import which (README, "package | job"), checked on every import statement.

models at the bottom (pure, no I/O); simulators, collectors and store above
it, side by side; api above them; cli on top. The benchmarks use all of
them; the tests use everything, and nothing uses the tests: what bench or
the installed package needs from a test helper belongs in one of them.
Imports inside functions count too (they are how a heavy dependency is
deferred, not how a layer is skipped).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# package -> the shopfloor packages it may import (itself included)
ALLOWED: dict[str, frozenset[str]] = {
    "models": frozenset({"models"}),
    "simulators": frozenset({"models", "simulators"}),
    "collectors": frozenset({"models", "collectors"}),
    "store": frozenset({"models", "store"}),
    "api": frozenset({"models", "simulators", "collectors", "store", "api"}),
    "cli": frozenset({"models", "simulators", "collectors", "store", "api", "cli"}),
}
# `python -m shopfloor.<package>` is a program, not a module anyone imports: it stands where cli stands.
ENTRY_POINT = "__main__.py"


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports, at any depth of the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def sources(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def top(name: str) -> str:
    return name.split(".", 1)[0]


@pytest.mark.parametrize("folder", ["bench", *ALLOWED])
def test_nothing_imports_the_tests(folder: str) -> None:
    wrong = [
        f"{path.relative_to(REPO)}: {name}"
        for path in sources(folder)
        for name in sorted(imported_modules(path))
        if top(name) == "tests"
    ]
    assert wrong == []


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_the_installed_package_does_not_import_the_benchmarks(package: str) -> None:
    wrong = [
        f"{path.relative_to(REPO)}: {name}"
        for path in sources(package)
        for name in sorted(imported_modules(path))
        if top(name) == "bench"
    ]
    assert wrong == []


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_import_runs_up_the_layers(package: str) -> None:
    wrong = []
    for path in sources(package):
        allowed = ALLOWED["cli"] if path.name == ENTRY_POINT else ALLOWED[package]
        for name in sorted(imported_modules(path)):
            parts = name.split(".")
            if parts[0] == "shopfloor" and len(parts) > 1 and parts[1] not in allowed:
                wrong.append(f"{path.relative_to(REPO)}: {name}")
    assert wrong == []


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    source = tmp_path / "deferred.py"
    source.write_text("def f() -> None:\n    from tests.fixtures import waiting\n    import bench.kpi\n")
    assert imported_modules(source) == {"tests.fixtures", "bench.kpi"}
