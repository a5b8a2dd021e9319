"""How the CLI package sits in the library: on top, imported by nothing below it."""

from __future__ import annotations

import ast
from pathlib import Path

import personakit
import personakit.cli

SRC = Path(personakit.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_nothing_outside_the_cli_imports_it() -> None:
    """No module of the library imports personakit.cli, so the CLI cannot form an import cycle."""
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "cli" not in path.relative_to(SRC).parts[:1]
        and any(
            m == "personakit.cli" or m.startswith("personakit.cli.")
            for m in _imported_modules(path)
        )
    ]
    assert offenders == []


def test_the_cli_exports_main_and_build_parser() -> None:
    """personakit.cli's public names are main (the console script) and build_parser."""
    assert personakit.cli.__all__ == ["build_parser", "main"]
