"""Layering and packaging rules that keep the core small, fast and framework-free."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import personakit
from personakit import exceptions

SRC = Path(personakit.__file__).parent
FRAMEWORKS = {"django", "flask", "starlette", "fastapi", "werkzeug"}
HEAVY = FRAMEWORKS | {"opendp", "numpy", "scipy", "psycopg", "polars", "pandas"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_core_never_imports_a_web_framework() -> None:
    """No module under src/personakit imports django, flask, starlette or fastapi."""
    offenders = {str(p.relative_to(SRC)): _imports(p) & FRAMEWORKS for p in SRC.rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_pickle_or_eval_in_the_core() -> None:
    """The core never imports pickle/marshal/shelve nor calls eval/exec."""
    for path in SRC.rglob("*.py"):
        assert not _imports(path) & {"pickle", "marshal", "shelve", "dill", "cloudpickle"}, path
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert not calls & {"eval", "exec", "compile", "__import__"}, path


def test_import_personakit_loads_no_heavy_dependency() -> None:
    """`import personakit` in a fresh interpreter loads no OpenDP, numpy, web framework, or
    diskcache (whose package __init__ imports Django whenever Django is installed)."""
    code = "import json, sys, personakit; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert loaded & (HEAVY | {"diskcache"}) == set()


def test_capability_packages_are_imported_by_the_first_kit_not_by_import_personakit() -> None:
    """`import personakit` leaves the capabilities out (import time); building a kit loads them."""
    capabilities = {"rights", "personalization", "predictive", "recommendations", "journeys"}
    code = (
        "import json, sys, personakit as p; before = sorted(sys.modules); "
        'p.Personakit.open("memory:", keys=p.LocalKeyProvider(p.generate_master_key())).close(); '
        "print(json.dumps([before, sorted(sys.modules)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = [
        {n.split(".")[1] for n in ms if n.startswith("personakit.")}
        for ms in json.loads(out.stdout)
    ]
    before, after = loaded
    assert before & capabilities == set()
    assert capabilities <= after


def test_diskcache_is_imported_when_the_first_disk_store_opens(tmp_path: Path) -> None:
    """The deferred import still gives DiskStore the whole of diskcache, Django cache included."""
    code = (
        "import json, sys; from personakit.storage import DiskStore; "
        "DiskStore(sys.argv[1]).close(); import diskcache; "
        "print(json.dumps([sorted(sys.modules), diskcache.core.DBNAME]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    modules, db_name = json.loads(out.stdout)
    assert "diskcache.core" in modules
    assert db_name == "cache.db"


@pytest.mark.parametrize(
    "module",
    [
        "personakit",
        "personakit.storage",
        "personakit.audit",
        "personakit.profiles",
        "personakit.exceptions",
        "personakit.crypto",
        "personakit.consent",
        "personakit.events",
        "personakit.rights",
    ],
)
def test_all_is_sorted_and_complete(module: str) -> None:
    """Each public module's __all__ is sorted and every name in it exists."""
    mod = importlib.import_module(module)
    names = list(mod.__all__)
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical.
    assert names == sorted(
        names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n)
    )
    assert all(hasattr(mod, name) for name in names)


def _builtin_bases(cls: type) -> set[type]:
    return {
        base
        for base in cls.__mro__
        if base.__module__ == "builtins" and base not in {Exception, BaseException, object}
    }


def test_every_exception_has_a_builtin_base_or_is_the_root() -> None:
    """Every exception is a PersonakitError and, but for the root, also a builtin (STYLE.md)."""
    defined = [
        obj
        for obj in vars(exceptions).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseException)
        and obj.__module__ == exceptions.__name__
    ]
    assert len(defined) > 1
    for cls in defined:
        assert issubclass(cls, exceptions.PersonakitError), cls.__name__
        if cls is not exceptions.PersonakitError:
            assert _builtin_bases(cls), f"{cls.__name__} has no builtin exception base"
    assert _builtin_bases(exceptions.PersonakitError) == set()
    assert issubclass(exceptions.InvalidInput, ValueError)
    assert issubclass(exceptions.SubjectNotFound, LookupError)
    assert issubclass(exceptions.ConsentRequired, PermissionError)


def test_py_typed_ships() -> None:
    """The package is marked typed."""
    assert (SRC / "py.typed").exists()
