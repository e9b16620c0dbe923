"""Importers depend on nothing of the demo: the demo uses `ingest`, never the other way round."""

from __future__ import annotations

import ast
from pathlib import Path

import urbantwin.ingest

INGEST = Path(urbantwin.ingest.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at its top or inside a function."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def test_no_importer_imports_the_demo() -> None:
    offenders = {
        path.name: sorted(m for m in imported_modules(path) if m.startswith("urbantwin.demo"))
        for path in sorted(INGEST.glob("*.py"))
    }
    assert {name: found for name, found in offenders.items() if found} == {}
