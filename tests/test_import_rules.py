"""Who may import whom, one public surface, and module size: the structure the docs describe.

The layers, bottom to top (docs/architecture.md draws them):

* **foundation**: storage, crypto, audit, exceptions, schema and the shared private helpers
  (``_args``, ``_clock``, ``_codec``, ``_ids``, ``_vault``, ``_fastschema``);
* **base features**: consent, profiles, events, which never import one another;
* **workflows**: what combines the base features (ingest, link, retention, the withdrawal
  cascade) and the registries capabilities plug into;
* **capabilities**: rights today; personalization, recommendations, journeys, analytics,
  predictive analytics and reporting next. They never import one another: they meet in the
  registries;
* **facade and front ends**: the kit (``_kit``), the CLI, the web adapters, ``testing``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import typing
from collections.abc import Mapping
from pathlib import Path

import pytest

import personakit

SRC = Path(personakit.__file__).parent

FOUNDATION = frozenset(
    {
        "_args",
        "_clock",
        "_codec",
        "_fastschema",
        "_ids",
        "_vault",
        "audit",
        "crypto",
        "exceptions",
        "schema",
        "storage",
    }
)
BASE = frozenset({"consent", "events", "profiles"})
WORKFLOWS = frozenset({"workflows"})
CAPABILITIES = frozenset(
    {
        "rights",
        "personalization",
        "recommendations",
        "journeys",
        "analytics",
        "predictive",
        "reporting",
    }
)
FRONT = frozenset({"_kit", "cli", "adapters", "testing", "__init__", "demo", "web"})

#: What each layer may import (besides itself).
MAY_IMPORT: Mapping[frozenset[str], frozenset[str]] = {
    FOUNDATION: FOUNDATION,
    BASE: FOUNDATION,
    WORKFLOWS: FOUNDATION | BASE,
    CAPABILITIES: FOUNDATION | BASE | WORKFLOWS,
    FRONT: FOUNDATION | BASE | WORKFLOWS | CAPABILITIES | FRONT,
}

#: Imports of another package's private module that are allowed, and why. Keep it short.
PRIVATE_IMPORTS_ALLOWED: Mapping[tuple[str, str], str] = {}


def _unit(path: Path) -> str:
    """The package (or top-level module) a source file belongs to."""
    parts = path.relative_to(SRC).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _personakit_imports(path: Path) -> set[str]:
    """Every ``personakit.…`` module a file imports (absolute, relative resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(("personakit", *path.relative_to(SRC).parts[:-1]))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("personakit")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module == "personakit":
                # ``from personakit import X``: a submodule, or a name of the package itself.
                found |= {
                    f"personakit.{a.name}"
                    if (SRC / a.name).is_dir() or (SRC / f"{a.name}.py").is_file()
                    else "personakit.__init__"
                    for a in node.names
                }
            elif module.startswith("personakit."):
                found.add(module)
    return found


def _layer(unit: str) -> frozenset[str] | None:
    return next((layer for layer in MAY_IMPORT if unit in layer), None)


def layering_violations(imports: Mapping[str, set[str]]) -> list[str]:
    """``importer -> imported`` pairs (units) that break the rule; unknown units are errors."""
    problems = []
    for importer, imported in sorted(imports.items()):
        layer = _layer(importer)
        if layer is None:
            problems.append(f"{importer}: not in any layer (add it to tests/test_import_rules.py)")
            continue
        allowed = MAY_IMPORT[layer] | {importer}
        problems.extend(
            f"{importer} -> {other}"
            for other in sorted(imported - {importer})
            if other not in allowed or (layer in (BASE, CAPABILITIES) and other in layer)
        )
    return problems


def _unit_imports() -> dict[str, set[str]]:
    imports: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        unit = _unit(path)
        imports.setdefault(unit, set()).update(
            module.split(".")[1] for module in _personakit_imports(path) if "." in module
        )
    return imports


def test_each_package_imports_only_what_its_layer_may() -> None:
    """Base features never import each other or anything above; workflows no capability."""
    assert layering_violations(_unit_imports()) == []


@pytest.mark.parametrize(
    ("imports", "expected"),
    [
        ({"events": {"profiles"}}, ["events -> profiles"]),
        ({"consent": {"workflows"}}, ["consent -> workflows"]),
        ({"workflows": {"rights"}}, ["workflows -> rights"]),
        ({"journeys": {"personalization"}}, ["journeys -> personalization"]),
        ({"storage": {"consent"}}, ["storage -> consent"]),
        (
            {"newthing": set()},
            ["newthing: not in any layer (add it to tests/test_import_rules.py)"],
        ),
        ({"rights": {"workflows", "consent", "_vault"}, "cli": {"rights", "_kit"}}, []),
    ],
)
def test_the_layering_rule_catches_what_it_should(
    imports: dict[str, set[str]], expected: list[str]
) -> None:
    """The checker itself: each forbidden direction is reported, allowed ones are not."""
    assert layering_violations(imports) == expected


def test_no_private_imports_across_packages() -> None:
    """A package's private modules are its own; the shared top-level helpers are for all."""
    found = []
    for path in SRC.rglob("*.py"):
        unit = _unit(path)
        for module in _personakit_imports(path):
            parts = module.split(".")
            if len(parts) < 3 or parts[1] == unit:
                continue  # a top-level module (private helpers included), or its own package
            private = any(part.startswith("_") for part in parts[2:])
            if private and (unit, module) not in PRIVATE_IMPORTS_ALLOWED:
                found.append(f"{path.relative_to(SRC)} imports {module}")
    assert found == []


def _public_modules() -> list[str]:
    names = ["personakit"]
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if any(part.startswith("_") and part != "__init__" for part in parts):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            names.append(".".join(("personakit", *parts)))
    return names


def _public_names(name: str) -> set[str]:
    """Public names a module defines at top level; a package's __init__ also re-exports."""
    module = importlib.import_module(name)
    path = Path(module.__file__ or "")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            found.add(node.name)
        elif isinstance(node, ast.Assign):
            found |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found.add(node.target.id)
        elif (
            isinstance(node, ast.ImportFrom)
            and path.name == "__init__.py"
            and (node.module or "").startswith("personakit")
        ):
            found |= {alias.asname or alias.name for alias in node.names}
    return {n for n in found if not n.startswith("_")}


@pytest.mark.parametrize("name", _public_modules())
def test_all_is_exactly_the_public_names(name: str) -> None:
    """httpx-style: ``__all__`` is exactly the public names the module defines or re-exports."""
    module = importlib.import_module(name)
    assert set(module.__all__) == _public_names(name)
    assert all(hasattr(module, n) for n in module.__all__)


def _exported_types() -> set[type]:
    found: set[type] = set()
    for name in _public_modules():
        module = importlib.import_module(name)
        found |= {v for k in module.__all__ if isinstance(v := getattr(module, k), type)}
    return found


def _classes_in(annotation: object) -> set[type]:
    if isinstance(annotation, type):
        return {annotation}
    found: set[type] = set()
    for arg in typing.get_args(annotation):
        found |= _classes_in(arg)
    return found


def _returned_classes(function: typing.Any) -> set[type]:
    try:
        return _classes_in(typing.get_type_hints(function).get("return"))
    except NameError:
        # A name imported only under TYPE_CHECKING: resolve the names that can be resolved.
        text = str(function.__annotations__.get("return", ""))
        names = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)
        return {v for n in names if isinstance(v := function.__globals__.get(n), type)}


def test_every_type_a_public_method_returns_is_exported() -> None:
    """What a public function or method returns can be imported from a public module."""
    exported = _exported_types()
    missing = set()
    for cls_or_fn in list(exported) + [
        v
        for name in _public_modules()
        for k in importlib.import_module(name).__all__
        if inspect.isfunction(v := getattr(importlib.import_module(name), k))
    ]:
        members = (
            [m for n, m in vars(cls_or_fn).items() if not n.startswith("_") and callable(m)]
            if isinstance(cls_or_fn, type)
            else [cls_or_fn]
        )
        for member in members:
            function = (
                member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
            )
            if not inspect.isfunction(function):
                continue
            for returned in _returned_classes(function):
                if returned.__module__.startswith("personakit") and returned not in exported:
                    missing.add(f"{function.__qualname__} -> {returned.__qualname__}")
    assert missing == set()


#: Modules allowed over the size limit, and the one concept that needs the length.
LONG_MODULES_ALLOWED: Mapping[str, str] = {
    "consent/_manager.py": "the consent API itself: every public method of ConsentManager with "
    "its signature and docstring (about 330 of its lines); the work is in the modules it uses",
}
MAX_LINES = 620


def test_no_module_is_longer_than_one_concept_needs() -> None:
    """No module over about 600 lines unless listed above with its reason."""
    long = {
        str(path.relative_to(SRC)): n
        for path in SRC.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert {k: v for k, v in long.items() if k not in LONG_MODULES_ALLOWED} == {}
