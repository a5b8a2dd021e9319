"""Sample lines and harness code that several test packages share (tests/ is on the path)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_spec = importlib.util.spec_from_file_location(
    "hostile_lines", Path(__file__).with_name("events") / "hostile_lines.py"
)
assert _spec is not None
assert _spec.loader is not None
hostile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hostile)

# The privacy notice a web grant cites: ``kit.consent.grant(subject, purpose, **PRIVACY)``.
PRIVACY: dict[str, str] = {"notice": "privacy_notice", "notice_version": "2026-01", "source": "web"}

# One valid line of each kind that the hostile-input tests mutate field by field.
WEB_EVENT: dict[str, Any] = {
    "kind": "event",
    "subject": "customer:c1",
    "name": "purchase",
    "channel": "web",
    "at": "2026-01-05T10:00:00Z",
    "properties": {"item": "a"},
}
CONSENT_GIVEN: dict[str, Any] = {
    "kind": "consent",
    "subject": "customer:c1",
    "purpose": "personalization",
    "status": "given",
    "notice": "privacy_notice",
    "notice_version": "2026-01",
    "source": "web",
    "at": "2026-01-05T08:00:00Z",
}


def purchase_line(marker: int, customers: int) -> dict[str, Any]:
    """An in-store purchase by one of ``customers`` customers, tagged with ``marker``."""
    return {
        "kind": "event",
        "subject": f"customer:c{marker % customers}",
        "name": "purchase",
        "channel": "store",
        "at": "2026-01-05T10:00:00Z",
        "properties": {"item": "bread", "marker": marker},
    }


def kill_when_ready(script: Path, store_dir: Path, master_key: str, pause: float) -> None:
    """Start ``script`` on the store, wait for its "ready", let it work ``pause`` s, SIGKILL it."""
    writer = subprocess.Popen(
        [sys.executable, str(script), str(store_dir), master_key],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    line = writer.stdout.readline()
    assert line.strip() == "ready", writer.stderr.read() if writer.stderr else line
    time.sleep(pause)
    writer.kill()
    writer.communicate()
