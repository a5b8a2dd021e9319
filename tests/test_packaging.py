"""Packaging: one version, the licence as an SPDX expression, and the full licence text shipped."""

from __future__ import annotations

import hashlib
import importlib.metadata
import tomllib
from pathlib import Path

import personakit

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# SHA-256 of https://www.apache.org/licenses/LICENSE-2.0.txt, the canonical text.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_the_version_is_written_once() -> None:
    """pyproject.toml takes the version from personakit.__version__; it states none itself."""
    project = PYPROJECT["project"]
    assert "version" not in project
    assert "version" in project["dynamic"]
    source = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert source == {"attr": "personakit.__version__"}


def test_the_installed_metadata_has_the_module_version() -> None:
    """What pip installed says the same version as the module (reinstall after changing it)."""
    assert importlib.metadata.version("personakit") == personakit.__version__


def test_the_licence_is_an_spdx_expression_with_its_file() -> None:
    """license = "Apache-2.0" (PEP 639) and license-files names LICENSE, not a {text = …} table."""
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))
    metadata = importlib.metadata.metadata("personakit")
    assert metadata["License-Expression"] == "Apache-2.0"


def test_the_licence_file_is_the_full_apache_2_text() -> None:
    """LICENSE is the canonical Apache License 2.0, byte for byte, not a summary."""
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256
