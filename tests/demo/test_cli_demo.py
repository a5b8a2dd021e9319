"""``personakit demo``: the tour passes against a fresh shop; without Flask, one line says why."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("flask")

from personakit.cli import main


def test_demo_check_tours_a_fresh_shop_and_exits_0(tmp_path, capsys):
    assert main(["demo", "--check", "--dir", str(tmp_path / "shop")]) == 0
    out = capsys.readouterr().out
    assert "demo check: OK" in out
    assert "FAIL" not in out
    assert (tmp_path / "shop" / "master.key").stat().st_mode & 0o077 == 0


def test_demo_check_against_nothing_listening_exits_1(capsys):
    # A port nobody listens on (1 is privileged and unused here): the tour fails, no traceback.
    assert main(["demo", "--check", "--port", "1"]) == 1
    assert "FAIL the banner asks on the first visit" in capsys.readouterr().out


def test_demo_without_flask_names_the_extra():
    code = (
        "import sys; sys.modules['flask'] = None\n"
        "from personakit.cli import main\n"
        "raise SystemExit(main(['demo']))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip() == "personakit demo needs Flask: pip install 'personakit[demo]'"
